//! Alerts: when a tenant crosses 80% or 100% of a limit, one alert per metric, threshold and
//! period is recorded (a unique key makes it once, whatever the number of requests), and, when
//! the tenant has configured the `webhook` integration, delivered as an HMAC-signed POST with
//! retries and exponential backoff, each attempt recorded.
//!
//! The webhook integration: settings `{"url": "https://..."}`, secret = the signing key.
//! Each POST carries `X-Hub-Timestamp` (unix seconds) and
//! `X-Hub-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.

use std::{sync::Arc, time::Duration};

use chrono::{Datelike, NaiveDate, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::domain::Action;
use crate::{
    db::{
        Db, ScopedFutureExt, TenantTx,
        models::{AlertRow, IntegrationRow, WebhookDeliveryRow},
    },
    error::{AppError, AppResult},
    secrets::SecretBox,
};

/// The alerts service: what raising and delivering alerts needs (the database, the sealed
/// integration secrets, the outgoing HTTP client and the webhook settings), and its own
/// memory of the API-rate alerts already raised. Cheap to clone.
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<AlertsInner>,
}

struct AlertsInner {
    db: Db,
    secrets: Arc<SecretBox>,
    http: reqwest::Client,
    /// HUB_WEBHOOK_ATTEMPTS, HUB_WEBHOOK_BACKOFF_MS, HUB_WEBHOOK_ALLOW_PRIVATE.
    attempts: u32,
    backoff_ms: u64,
    allow_private: bool,
    /// API-rate alerts already raised: (tenant, threshold, day).
    api_alerted: dashmap::DashSet<(Uuid, i32, NaiveDate)>,
}

impl Alerts {
    pub fn new(
        db: Db,
        secrets: Arc<SecretBox>,
        http: reqwest::Client,
        settings: &crate::config::Settings,
    ) -> Alerts {
        Alerts {
            inner: Arc::new(AlertsInner {
                db,
                secrets,
                http,
                attempts: settings.webhook_attempts,
                backoff_ms: settings.webhook_backoff_ms,
                allow_private: settings.webhook_allow_private,
                api_alerted: dashmap::DashSet::new(),
            }),
        }
    }
}

/// The integration that receives alerts.
pub const WEBHOOK_INTEGRATION: &str = "webhook";

/// The first day of the current month: the period of user and storage alerts.
pub fn month_start() -> NaiveDate {
    let today = Utc::now().date_naive();
    today.with_day(1).unwrap_or(today)
}

/// Records the alerts `used` of `quota` has crossed, in the caller's transaction; returns the
/// ones that are new (to deliver once the transaction has committed).
pub async fn check(
    conn: &mut TenantTx,
    tenant_id: Uuid,
    metric: &str,
    used: f64,
    quota: f64,
    period_start: NaiveDate,
) -> AppResult<Vec<AlertRow>> {
    let mut created = Vec::new();
    if quota <= 0.0 {
        return Ok(created);
    }
    for threshold in [80, 100] {
        if used * 100.0 >= quota * threshold as f64 {
            let row = AlertRow {
                tenant_id,
                id: Uuid::now_v7(),
                metric: metric.to_owned(),
                threshold,
                period_start,
                used,
                quota,
                created_at: Utc::now(),
                delivered_at: None,
            };
            if let Some(new) = AlertRow::insert_once(conn, &row).await? {
                tracing::info!(%tenant_id, metric, threshold, "usage alert");
                created.push(new);
            }
        }
    }
    Ok(created)
}

/// The API-rate alerts of a limiter decision: 80% when a fifth of the burst is left, 100%
/// when a request is refused; once per tenant, threshold and day. An in-memory set keeps this
/// off the database on every request; the unique key keeps it once across replicas.
///
/// The alert's limit is the tenant's `api_calls_per_minute` (what its owner configured and
/// reads in `usage`), not the limiter's burst; `used` is the spent share of the burst applied
/// to that limit (the rate the tenant is calling at, in calls a minute).
pub fn api_rate(
    service: &Alerts,
    tenant_id: Uuid,
    tenant_per_minute: u32,
    d: &crate::ratelimit::Decision,
) {
    let threshold = if !d.allowed {
        100
    } else if d.remaining * 5 <= d.burst {
        80
    } else {
        return;
    };
    let today = Utc::now().date_naive();
    let state = service.inner.clone();
    if !state.api_alerted.insert((tenant_id, threshold, today)) {
        return;
    }
    if state.api_alerted.len() > 100_000 {
        state.api_alerted.retain(|(_, _, day)| *day == today);
    }
    let quota = f64::from(tenant_per_minute);
    let spent = f64::from(d.burst.saturating_sub(d.remaining)) / f64::from(d.burst.max(1));
    let used = (quota * spent).round();
    tokio::spawn(async move {
        let created = state
            .db
            .tenant_tx(tenant_id, |conn| {
                async move {
                    // Record exactly this threshold (an 80% crossing must not also claim 100%).
                    let mut out = Vec::new();
                    let row = AlertRow {
                        tenant_id,
                        id: Uuid::now_v7(),
                        metric: "api_rate".to_owned(),
                        threshold,
                        period_start: today,
                        used: if threshold == 100 { quota } else { used },
                        quota,
                        created_at: Utc::now(),
                        delivered_at: None,
                    };
                    if let Some(new) = AlertRow::insert_once(conn, &row).await? {
                        out.push(new);
                    }
                    Ok(out)
                }
                .scope_boxed()
            })
            .await;
        match created {
            Ok(alerts) => deliver_later(&Alerts { inner: state }, alerts),
            Err(e) => e.log_cause(),
        }
    });
}

/// Delivers new alerts in the background.
pub fn deliver_later(service: &Alerts, alerts: Vec<AlertRow>) {
    if alerts.is_empty() {
        return;
    }
    let state = service.inner.clone();
    tokio::spawn(async move {
        for alert in alerts {
            if let Err(e) = deliver(&state, &alert).await {
                e.log_cause();
            }
        }
    });
}

/// Checks an integration's settings as they are saved: the `webhook` integration needs
/// `settings.url`, an https URL of a public address (see [`crate::outbound`]; any http(s) URL
/// where `HUB_WEBHOOK_ALLOW_PRIVATE` allows private targets). Other integrations are not the
/// hub's to call.
pub async fn validate_integration(
    name: &str,
    settings: Option<&serde_json::Value>,
    allow_private: bool,
) -> AppResult<()> {
    if name != WEBHOOK_INTEGRATION {
        return Ok(());
    }
    const FIELD: &str = "integrations.settings.url";
    let Some(raw) = settings.and_then(|s| s.get("url")).and_then(|u| u.as_str()) else {
        return Err(AppError::bad_input(
            FIELD,
            "the webhook integration needs settings {\"url\": \"https://...\"}",
        ));
    };
    let url = url::Url::parse(raw)
        .map_err(|_| AppError::bad_input(FIELD, "the webhook URL is not a valid URL"))?;
    crate::outbound::check(&url, allow_private)
        .await
        .map_err(|refusal| AppError::bad_input(FIELD, format!("webhook URL refused: {refusal}")))
}

/// Refuses to save the `webhook` integration without a signing secret: none given now
/// (`secret_given`) and none stored. Runs in the saving transaction.
pub async fn ensure_webhook_secret(
    conn: &mut TenantTx,
    name: &str,
    secret_given: bool,
) -> AppResult<()> {
    if name != WEBHOOK_INTEGRATION || secret_given {
        return Ok(());
    }
    let stored = IntegrationRow::all(conn)
        .await?
        .into_iter()
        .any(|i| i.name == WEBHOOK_INTEGRATION && i.secret_ciphertext.is_some());
    if stored {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "integrations.secret",
            "the webhook integration needs a signing secret (alerts are signed with it)",
        ))
    }
}

/// HMAC-SHA256 of `<timestamp>.<body>` under `secret`, as lower-case hex.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    hex::encode(ctx.sign().as_ref())
}

async fn deliver(state: &AlertsInner, alert: &AlertRow) -> AppResult<()> {
    let tenant_id = alert.tenant_id;
    let integration = state
        .db
        .tenant_tx(tenant_id, |conn| {
            async move {
                Ok(IntegrationRow::all(conn)
                    .await?
                    .into_iter()
                    .find(|i| i.name == WEBHOOK_INTEGRATION))
            }
            .scope_boxed()
        })
        .await?;
    let Some(integration) = integration else {
        return Ok(());
    };
    let Some(url) = integration
        .settings
        .get("url")
        .and_then(|u| u.as_str())
        .and_then(|u| url::Url::parse(u).ok())
    else {
        return Ok(());
    };
    // Never sign with an empty key (saving refuses one; a row written by hand may lack it).
    let secret = match &integration.secret_ciphertext {
        Some(sealed) => state.secrets.open(tenant_id, WEBHOOK_INTEGRATION, sealed)?,
        None => String::new(),
    };
    let unsigned = secret.is_empty();
    let body = serde_json::to_vec(&json!({
        "type": Action::UsageAlert.as_str(),
        "tenant_id": tenant_id,
        "alert": {
            "id": alert.id, "metric": alert.metric, "threshold": alert.threshold,
            "used": alert.used, "limit": alert.quota, "period_start": alert.period_start,
            "created_at": alert.created_at,
        },
    }))
    .map_err(anyhow::Error::from)?;
    let attempts = state.attempts.max(1);
    let mut backoff = Duration::from_millis(state.backoff_ms);
    for attempt in 1..=attempts {
        // A host name is resolved and checked by the client's resolver (crate::outbound).
        let allowed = crate::outbound::check_static(&url, state.allow_private);
        let (status, error) = if unsigned {
            (
                None,
                Some("webhook not sent: the integration has no signing secret".to_owned()),
            )
        } else if allowed.is_ok() {
            let timestamp = Utc::now().timestamp();
            let result = state
                .http
                .post(url.clone())
                .header("content-type", "application/json")
                .header("x-hub-timestamp", timestamp.to_string())
                .header(
                    "x-hub-signature",
                    format!("sha256={}", signature(&secret, timestamp, &body)),
                )
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(resp) => (Some(resp.status().as_u16() as i32), None),
                Err(e) => (None, Some(error_chain(&e))),
            }
        } else {
            let refusal = allowed.err().map(|r| r.to_string()).unwrap_or_default();
            (None, Some(format!("webhook URL refused: {refusal}")))
        };
        let success = status.is_some_and(|s| (200..300).contains(&s));
        let alert_id = alert.id;
        state
            .db
            .tenant_tx(tenant_id, |conn| {
                async move {
                    WebhookDeliveryRow::record(
                        conn,
                        tenant_id,
                        alert_id,
                        attempt as i32,
                        status,
                        error,
                    )
                    .await?;
                    if success {
                        AlertRow::mark_delivered(conn, alert_id).await?;
                    }
                    Ok(())
                }
                .scope_boxed()
            })
            .await?;
        // Without a secret, retrying changes nothing: one recorded refusal is enough.
        if success || unsigned {
            return Ok(());
        }
        if attempt < attempts {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Ok(())
}

/// A send error with its causes (the resolver's refusal is a cause of reqwest's error).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    /// A receiver checks the signature with its own HMAC library: the value here was computed
    /// independently (Python's hmac module), not by this code.
    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body_in_hex() {
        assert_eq!(
            super::signature("whsec-test-key", 1_700_000_000, br#"{"a":1}"#),
            "9a214c6d63b230a79e500518445176f01ae5eb75b3e0769f80d7adc4943415f3"
        );
    }
}

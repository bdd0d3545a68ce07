//! The hook for an external billing system: billing events (plan changed, period closed with
//! its usage) wait in the `billing_events` outbox, written in the same transaction as the change,
//! and are POSTed to `HUB_BILLING_WEBHOOK_URL` with an HMAC signature (as alert webhooks). A
//! housekeeping tick claims the due events in batches (a lease on `next_attempt_at`, taken with
//! SKIP LOCKED, so each is sent by one replica at a time), sends them outside any transaction,
//! and records each attempt; a failed one is retried after a growing delay, up to
//! [`MAX_ATTEMPTS`]. Delivery is at least once: receivers dedupe by the event's `id`.

use std::time::Duration;

use chrono::{Months, Utc};
use serde_json::json;

use crate::db::SystemReason;
use crate::{
    alerts,
    config::Settings,
    db::{
        Db, ScopedFutureExt,
        models::{BillingEventRow, SubscriptionRow, TenantRow, UserRow, usage},
    },
    error::AppResult,
};

/// Attempts per event before it is left for an operator.
pub const MAX_ATTEMPTS: i32 = 20;

/// Events claimed and sent per batch.
const BATCH: i64 = 10;

/// How long a claim keeps other replicas off a batch: every send of it timing out (the HTTP
/// client's 10 s), and a margin.
const LEASE: Duration = Duration::from_secs(BATCH as u64 * 10 + 30);

/// Checks the billing webhook settings at start: a URL that is not a URL, or is refused by the
/// outbound guard, or comes without a signing secret (an empty HMAC key would sign with
/// nothing, so any sender could forge events), stops the hub with a clear error.
pub fn check_settings(settings: &crate::config::Settings) -> anyhow::Result<()> {
    let Some(raw) = &settings.billing_webhook_url else {
        return Ok(());
    };
    let url = url::Url::parse(raw)
        .map_err(|e| anyhow::anyhow!("HUB_BILLING_WEBHOOK_URL is not a URL: {e}"))?;
    crate::outbound::check_static(&url, settings.webhook_allow_private)
        .map_err(|refusal| anyhow::anyhow!("HUB_BILLING_WEBHOOK_URL refused: {refusal}"))?;
    if settings.billing_webhook_secret.trim().is_empty() {
        anyhow::bail!(
            "HUB_BILLING_WEBHOOK_URL is set but HUB_BILLING_WEBHOOK_SECRET is empty: billing \
             events are signed with it, so it is required"
        );
    }
    Ok(())
}

/// The wait after a failed attempt: 30 s, doubling, at most an hour.
pub fn retry_delay(attempts: i32) -> Duration {
    let doublings = attempts.clamp(1, 8) as u32 - 1;
    Duration::from_secs((30u64 << doublings).min(3600))
}

/// Delivers the events that are due, in batches, never inside a transaction: each batch is
/// claimed (a lease), sent, and each attempt recorded on its own. Returns how many were
/// delivered.
pub async fn deliver_pending(
    db: &Db,
    http: &reqwest::Client,
    settings: &Settings,
) -> AppResult<usize> {
    let Some(url) = settings.billing_webhook_url.clone() else {
        return Ok(0);
    };
    let Ok(url) = url::Url::parse(&url) else {
        return Ok(0);
    };
    // A host name is resolved and checked by the client's resolver (crate::outbound).
    if let Err(refusal) = crate::outbound::check_static(&url, settings.webhook_allow_private) {
        tracing::warn!(%refusal, "HUB_BILLING_WEBHOOK_URL refused");
        return Ok(0);
    }
    let secret = settings.billing_webhook_secret.clone();
    if secret.trim().is_empty() {
        // Refused at start already (check_settings); never sign with an empty key.
        tracing::warn!("HUB_BILLING_WEBHOOK_SECRET is empty: billing events are not sent");
        return Ok(0);
    }
    let mut delivered = 0;
    loop {
        let events = db
            .system_tx(SystemReason::Housekeeping, |conn| {
                BillingEventRow::claim_due(conn, MAX_ATTEMPTS, BATCH, LEASE).scope_boxed()
            })
            .await?;
        let claimed = events.len();
        for event in events {
            let outcome = send(http, &url, &secret, &event).await;
            delivered += usize::from(outcome.is_ok());
            let outcome = outcome.map_err(|e| (e, retry_delay(event.attempts + 1)));
            let (tenant_id, id) = (event.tenant_id, event.id);
            db.system_tx(SystemReason::Housekeeping, move |conn| {
                BillingEventRow::record_attempt(conn, tenant_id, id, outcome).scope_boxed()
            })
            .await?;
        }
        if claimed < BATCH as usize {
            return Ok(delivered);
        }
    }
}

/// One signed POST of one event; the error says what went wrong.
async fn send(
    http: &reqwest::Client,
    url: &url::Url,
    secret: &str,
    event: &BillingEventRow,
) -> Result<(), String> {
    let body = serde_json::to_vec(&json!({
        "id": event.id, "type": event.kind, "tenant_id": event.tenant_id,
        "created_at": event.created_at, "data": event.payload,
    }))
    .map_err(|e| e.to_string())?;
    let timestamp = Utc::now().timestamp();
    let result = http
        .post(url.clone())
        .header("content-type", "application/json")
        .header("x-hub-timestamp", timestamp.to_string())
        .header(
            "x-hub-signature",
            format!("sha256={}", alerts::signature(secret, timestamp, &body)),
        )
        .body(body)
        .send()
        .await;
    match result {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Err(e.to_string()),
    }
}

/// Closes every subscription period that has ended: a `period_closed` event with the period's
/// usage, and the next period. One transaction per tenant; returns how many were closed.
pub async fn close_periods(db: &Db) -> AppResult<usize> {
    let today = Utc::now().date_naive();
    let due = db
        .system_tx(SystemReason::Housekeeping, |conn| {
            SubscriptionRow::ended(conn, today).scope_boxed()
        })
        .await?;
    let mut closed = 0;
    for tenant_id in due {
        db.tenant_tx(tenant_id, |conn| {
            async move {
                let sub = SubscriptionRow::current(conn).await?;
                if sub.current_period_end > today {
                    return Ok(());
                }
                let tenant = TenantRow::current(conn, tenant_id).await?;
                let calls = usage::api_calls_since(conn, sub.current_period_start).await?;
                let seats = UserRow::count_seats(conn).await? as i32;
                let storage = usage::latest_storage(conn).await?.unwrap_or(0);
                BillingEventRow::enqueue(
                    conn,
                    tenant_id,
                    "period_closed",
                    json!({
                        "plan": sub.plan_id, "period_start": sub.current_period_start, "period_end": sub.current_period_end,
                        "seats": seats, "api_calls": calls, "storage_bytes": storage, "limits": tenant.limits,
                    }),
                )
                .await?;
                let start = sub.current_period_end;
                SubscriptionRow::advance_period(conn, start, start + Months::new(1), seats).await
            }
            .scope_boxed()
        })
        .await?;
        closed += 1;
    }
    Ok(closed)
}

//! The hook for an external billing system: billing events (plan changed, period closed with
//! its usage) wait in the `billing_events` outbox, written in the same transaction as the change,
//! and are POSTed to `HUB_BILLING_WEBHOOK_URL` with an HMAC signature (as alert webhooks), retried
//! on every housekeeping tick until delivered. Replicas claim events with SKIP LOCKED, so each is
//! sent by one of them at a time.

use chrono::{Months, Utc};
use serde_json::json;

use crate::{
    alerts,
    app::AppState,
    db::{
        Db, ScopedFutureExt,
        models::{BillingEventRow, SubscriptionRow, TenantRow, UserRow, usage},
    },
    error::AppResult,
};

/// Attempts per event before it is left for an operator.
pub const MAX_ATTEMPTS: i32 = 20;

/// Delivers pending events; returns how many were delivered.
pub async fn deliver_pending(state: &AppState) -> AppResult<usize> {
    let Some(url) = state.settings.billing_webhook_url.clone() else {
        return Ok(0);
    };
    let Ok(url) = url::Url::parse(&url) else {
        return Ok(0);
    };
    if !alerts::url_allowed(&url, state.settings.webhook_allow_private).await {
        tracing::warn!("HUB_BILLING_WEBHOOK_URL refused: https to a public address only");
        return Ok(0);
    }
    let secret = state.settings.billing_webhook_secret.clone();
    let http = state.http.clone();
    state
        .db
        .system_tx(|conn| {
            async move {
                let events = BillingEventRow::claim_pending(conn, MAX_ATTEMPTS, 50).await?;
                let mut delivered = 0;
                for event in events {
                    let body = serde_json::to_vec(&json!({
                        "id": event.id, "type": event.kind, "tenant_id": event.tenant_id,
                        "created_at": event.created_at, "data": event.payload,
                    }))
                    .map_err(anyhow::Error::from)?;
                    let timestamp = Utc::now().timestamp();
                    let result = http
                        .post(url.clone())
                        .header("content-type", "application/json")
                        .header("x-hub-timestamp", timestamp.to_string())
                        .header(
                            "x-hub-signature",
                            format!("sha256={}", alerts::signature(&secret, timestamp, &body)),
                        )
                        .body(body)
                        .send()
                        .await;
                    let error = match result {
                        Ok(r) if r.status().is_success() => None,
                        Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
                        Err(e) => Some(e.to_string()),
                    };
                    delivered += usize::from(error.is_none());
                    BillingEventRow::record_attempt(conn, event.tenant_id, event.id, error).await?;
                }
                Ok(delivered)
            }
            .scope_boxed()
        })
        .await
}

/// Closes every subscription period that has ended: a `period_closed` event with the period's
/// usage, and the next period. One transaction per tenant; returns how many were closed.
pub async fn close_periods(db: &Db) -> AppResult<usize> {
    let today = Utc::now().date_naive();
    let due = db
        .system_tx(|conn| SubscriptionRow::ended(conn, today).scope_boxed())
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

//! Usage: a product app's storage report for its tenant (recorded with the alerts it raises),
//! and a platform admin's flush of the API-call counts held in memory.

use chrono::Utc;
use serde_json::json;

use crate::{
    alerts,
    db::{SystemTx, TenantTx, audit::AuditEvent, models::TenantRow, models::usage},
    domain::Action,
    error::AppResult,
    invalidation::Invalidation,
    ops::{Done, Effect, rules},
    usage::PendingCalls,
};

pub const BYTES_PER_GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The storage a product app reports for the tenant in scope (checked: finite, non-negative).
pub struct StorageReport {
    pub product_id: String,
    pub storage_gb: f64,
}

/// The tenant's storage across its products after a report, and its limit (GB).
pub struct StorageUsed {
    pub used: f64,
    pub limit: f64,
}

/// Records a storage report and the alerts it raises (delivered after the commit). The report
/// is recorded even past the limit: the caller tells the product so (`used > limit`).
pub async fn report_storage(
    tx: &mut TenantTx,
    report: StorageReport,
) -> AppResult<Done<StorageUsed>> {
    let tenant_id = tx.tenant_id();
    let tenant = TenantRow::current(tx, tenant_id).await?;
    rules::ensure_feature(&tenant, rules::Feature::ApiAccess)?;
    let bytes = (report.storage_gb * BYTES_PER_GB).round() as i64;
    let total = usage::set_storage(
        tx,
        tenant_id,
        &report.product_id,
        Utc::now().date_naive(),
        bytes,
    )
    .await?;
    let used = total as f64 / BYTES_PER_GB;
    let limit = tenant.limits().storage_gb as f64;
    let created = alerts::check(
        tx,
        tenant_id,
        "storage_gb",
        used,
        limit,
        alerts::month_start(),
    )
    .await?;
    let event = AuditEvent::new(Action::UsageReported)
        .target("tenant", tenant_id)
        .details(json!({
            "product_id": report.product_id,
            "storage_gb": report.storage_gb,
            "tenant_storage_gb": used,
        }));
    Ok(Done::audited(StorageUsed { used, limit }, event).and_effect(Effect::Alerts(created)))
}

/// Writes the API-call counts taken from this replica's meter, recorded in the platform log in
/// the same transaction, and asks the other replicas to flush theirs once it has committed.
/// Returns the calls written. On an error the caller puts the counts back in the meter.
pub async fn flush_calls(tx: &mut SystemTx, calls: &PendingCalls) -> AppResult<Done<i64>> {
    let written = calls.write(tx).await?;
    let event = AuditEvent::new(Action::PlatformUsageFlushed).details(json!({ "calls": written }));
    Ok(Done::audited(written, event).and_effect(Effect::Invalidate(Invalidation::FlushUsage)))
}

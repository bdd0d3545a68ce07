//! A platform admin's reads across tenants, each recorded in the same transaction: the tenant
//! list and the platform report in the platform log, a tenant's own data (one tenant's view,
//! its audit log, the tenants an admin's nested fields read) in that tenant's log.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::{
    db::{
        SystemTx, TenantTx,
        audit::{AuditEvent, AuditRow, LogFilter},
        models::{
            Listed, PageRequest, TenantRow, UserRow, report::PlatformTotals, tenant::TenantFilter,
            usage,
        },
    },
    domain::Action,
    error::AppResult,
    ops::Done,
};

/// One page of the platform audit log (newest first), with the filtered count when asked.
/// Reading the log is not itself recorded in it.
pub async fn platform_audit_page(
    tx: &mut SystemTx,
    filter: &LogFilter,
    page: PageRequest,
) -> AppResult<Done<Listed<crate::db::audit::PlatformAuditRow>>> {
    Ok(Done::unaudited(
        crate::db::audit::PlatformAuditRow::page(tx, filter, page).await?,
    ))
}

/// One page of tenants (oldest first), with the filtered count when asked; recorded in the platform log.
pub async fn list_tenants(
    tx: &mut SystemTx,
    filter: TenantFilter,
    page: PageRequest,
) -> AppResult<Done<Listed<TenantRow>>> {
    let listed = TenantRow::admin_page(tx, &filter, page).await?;
    Ok(Done::audited(
        listed,
        AuditEvent::new(Action::PlatformTenantsListed),
    ))
}

/// What an admin sees of one tenant: its row, seats and usage of the period.
pub struct TenantView {
    pub tenant: TenantRow,
    pub users: i64,
    pub api_calls: i64,
    pub storage_bytes: Option<i64>,
}

fn tenant_read(action: Action, tenant_id: Uuid) -> AuditEvent {
    AuditEvent::new(action).target("tenant", tenant_id)
}

/// One tenant's view (in that tenant's transaction), recorded in its log.
pub async fn tenant_view(tx: &mut TenantTx, period: NaiveDate) -> AppResult<Done<TenantView>> {
    let tenant_id = tx.tenant_id();
    let view = TenantView {
        tenant: TenantRow::current(tx, tenant_id).await?,
        users: UserRow::count_seats(tx).await?,
        api_calls: usage::api_calls_since(tx, period).await?,
        storage_bytes: usage::latest_storage(tx).await?,
    };
    Ok(Done::audited(
        view,
        tenant_read(Action::PlatformTenantRead, tenant_id),
    ))
}

/// One page of a tenant's audit log (in that tenant's transaction), the read itself recorded
/// in the same log.
pub async fn audit_log(
    tx: &mut TenantTx,
    filter: LogFilter,
    page: PageRequest,
) -> AppResult<Done<Listed<AuditRow>>> {
    let tenant_id = tx.tenant_id();
    let rows = AuditRow::page(tx, &filter, page).await?;
    Ok(Done::audited(
        rows,
        tenant_read(Action::PlatformAuditRead, tenant_id),
    ))
}

/// The platform figures for [from, to): API calls count per UTC day, so the days the period
/// touches count whole. Recorded in the platform log.
pub async fn report(
    tx: &mut SystemTx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Done<PlatformTotals>> {
    let (from_day, to_day) = (
        from.date_naive(),
        (to - chrono::TimeDelta::nanoseconds(1)).date_naive(),
    );
    let totals = PlatformTotals::read(tx, from_day, to_day).await?;
    let event =
        AuditEvent::new(Action::PlatformReportRead).details(json!({ "from": from, "to": to }));
    Ok(Done::audited(totals, event))
}

/// The tenants whose data an admin's request read through nested fields (and that no
/// operation recorded already): one record in each tenant's log, naming the GraphQL
/// operation. Changes nothing else.
pub fn tenants_read(tenants: Vec<Uuid>, operation: &str) -> Done<()> {
    let details = json!({ "operation": operation });
    Done {
        value: (),
        events: tenants
            .into_iter()
            .map(|t| {
                tenant_read(Action::PlatformTenantRead, t)
                    .details(details.clone())
                    .in_log_of(t)
            })
            .collect(),
        effects: Vec::new(),
    }
}

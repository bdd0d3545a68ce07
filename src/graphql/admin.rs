//! Platform administration across tenants: listing and inspecting tenants (every read of a
//! tenant's data audited with the admin as actor), the platform report (a few aggregate queries,
//! never a loop over tenants), and maintenance.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::Action;
use crate::{
    db::{
        ScopedFutureExt,
        audit::{self, AuditEvent},
        models::{TenantRow, UserRow, report::PlatformTotals, tenant::TenantFilter, usage},
    },
    error::AppError,
    graphql::{
        connection::{self, Page},
        context, ids,
        tenant::{Tenant, TenantStatus},
        usage::{BYTES_PER_GB, UsageItem},
    },
};

#[derive(SimpleObject)]
pub struct AdminTenantView {
    pub tenant: Tenant,
    pub users: i64,
    pub usage: Vec<UsageItem>,
}

#[derive(SimpleObject)]
pub struct CountBy {
    pub key: String,
    pub count: i64,
}

#[derive(SimpleObject)]
pub struct TenantUsage {
    pub tenant_id: ID,
    pub name: String,
    pub api_calls: i64,
}

#[derive(SimpleObject)]
pub struct PlatformReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub tenants_by_status: Vec<CountBy>,
    pub tenants_by_plan: Vec<CountBy>,
    pub users: i64,
    pub api_calls: i64,
    /// The ten tenants with the most API calls in the period.
    pub top_tenants: Vec<TenantUsage>,
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Tenants, oldest first, filtered by status, plan and a text found in name, slug or domain.
    #[graphql(complexity = "crate::graphql::connection::complexity(first, child_complexity)")]
    async fn admin_tenants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<TenantStatus>,
        plan: Option<String>,
        search: Option<String>,
    ) -> Result<Page<Tenant>, AppError> {
        let page = connection::page_request(first, after.as_deref())?;
        let admin = context::platform_admin(ctx).await?;
        let audit_ctx = admin.audit();
        let (rows, total) = admin
            .system_tx(|conn| {
                async move {
                    let filter = TenantFilter {
                        status: status.map(|s| crate::domain::TenantStatus::from(s).as_str()),
                        plan,
                        search,
                    };
                    let (rows, total) = TenantRow::admin_page(conn, &filter, page).await?;
                    audit::record_platform(
                        conn,
                        &audit_ctx,
                        AuditEvent::new(Action::PlatformTenantsListed),
                    )
                    .await?;
                    Ok((rows, total))
                }
                .scope_boxed()
            })
            .await?;
        Ok(connection::build(
            rows,
            page,
            total,
            |r| (r.created_at, r.id),
            Tenant,
        ))
    }

    /// One tenant with its users and usage; written to that tenant's audit log.
    async fn admin_tenant(&self, ctx: &Context<'_>, id: ID) -> Result<AdminTenantView, AppError> {
        let tenant_id = ids::decode("Tenant", "id", &id)?;
        let admin = context::platform_admin(ctx).await?;
        let period = crate::alerts::month_start();
        let (tenant, users, calls, storage) = admin
            .tenant_tx(tenant_id, Action::PlatformTenantRead, |conn| {
                async move {
                    Ok((
                        TenantRow::current(conn, tenant_id).await?,
                        UserRow::count_seats(conn).await?,
                        usage::api_calls_since(conn, period).await?,
                        usage::latest_storage(conn).await?,
                    ))
                }
                .scope_boxed()
            })
            .await?;
        let limits = tenant.limits();
        Ok(AdminTenantView {
            users,
            usage: vec![
                UsageItem {
                    metric: "api_calls".into(),
                    used: calls as f64,
                    limit: None,
                    period_start: period,
                },
                UsageItem {
                    metric: "users".into(),
                    used: users as f64,
                    limit: Some(limits.users as f64),
                    period_start: period,
                },
                UsageItem {
                    metric: "storage_gb".into(),
                    used: storage.unwrap_or(0) as f64 / BYTES_PER_GB,
                    limit: Some(limits.storage_gb as f64),
                    period_start: period,
                },
            ],
            tenant: Tenant(tenant),
        })
    }

    /// Tenants by status and plan, users, API calls in [from, to) and the top tenants: four
    /// aggregate statements in one transaction. Default period: the current month. API calls
    /// are counted per UTC day: the days [from, to) touches count whole, so a `to` at midnight
    /// ends before that day.
    async fn platform_report(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<PlatformReport, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let from = from.unwrap_or_else(|| {
            crate::alerts::month_start()
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
        });
        let to = to.unwrap_or_else(Utc::now);
        if to <= from {
            return Err(AppError::bad_input("to", "to must be after from"));
        }
        let audit_ctx = admin.audit();
        let totals = admin
            .system_tx(|conn| {
                async move {
                    let (from_day, to_day) = (
                        from.date_naive(),
                        (to - chrono::TimeDelta::nanoseconds(1)).date_naive(),
                    );
                    let totals = PlatformTotals::read(conn, from_day, to_day).await?;
                    audit::record_platform(
                        conn,
                        &audit_ctx,
                        AuditEvent::new(Action::PlatformReportRead)
                            .details(json!({ "from": from, "to": to })),
                    )
                    .await?;
                    Ok(totals)
                }
                .scope_boxed()
            })
            .await?;
        let pairs = |rows: Vec<(String, i64)>| {
            rows.into_iter()
                .map(|(key, count)| CountBy { key, count })
                .collect()
        };
        Ok(PlatformReport {
            from,
            to,
            tenants_by_status: pairs(totals.tenants_by_status),
            tenants_by_plan: pairs(totals.tenants_by_plan),
            users: totals.users,
            api_calls: totals.api_calls,
            top_tenants: totals
                .top_tenants
                .into_iter()
                .map(|(tenant_id, name, api_calls)| TenantUsage {
                    tenant_id: ids::encode("Tenant", tenant_id),
                    name,
                    api_calls,
                })
                .collect(),
        })
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Writes this replica's API-call counts now and asks the other replicas to do the same
    /// (they flush every HUB_USAGE_FLUSH_SECS anyway); returns the calls this replica wrote.
    /// Recorded in the platform audit log.
    async fn admin_flush_usage(&self, ctx: &Context<'_>) -> Result<i64, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let calls = admin.state.usage.flush(&admin.state.db).await?;
        // The other replicas flush theirs when they hear of it.
        crate::invalidation::announce(admin.state, crate::invalidation::Invalidation::FlushUsage)
            .await;
        let audit_ctx = admin.audit();
        admin
            .system_tx(move |conn| {
                async move {
                    let event = AuditEvent::new(Action::PlatformUsageFlushed)
                        .details(json!({ "calls": calls }));
                    audit::record_platform(conn, &audit_ctx, event).await
                }
                .scope_boxed()
            })
            .await?;
        Ok(calls)
    }
}

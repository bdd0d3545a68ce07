//! Platform administration across tenants: listing and inspecting tenants (every read of a
//! tenant's data audited with the admin as actor), the platform report (a few aggregate queries,
//! never a loop over tenants), and maintenance.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    db::{ScopedFutureExt, models::tenant::TenantFilter},
    error::AppError,
    graphql::{
        connection::{self, Page},
        context, ids,
        tenant::{Tenant, TenantStatus},
        usage::{BYTES_PER_GB, UsageItem},
    },
    ops::{platform, usage as usage_ops},
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
        let page = connection::list_request(ctx, first, after.as_deref())?;
        let admin = context::platform_admin(ctx).await?;
        let filter = TenantFilter {
            status: status.map(|s| crate::domain::TenantStatus::from(s).as_str()),
            plan,
            search,
        };
        let listed = admin
            .run_system(|tx| platform::list_tenants(tx, filter, page).scope_boxed())
            .await?;
        Ok(connection::connection(listed, page, Tenant))
    }

    /// One tenant with its users and usage; written to that tenant's audit log.
    async fn admin_tenant(&self, ctx: &Context<'_>, id: ID) -> Result<AdminTenantView, AppError> {
        let tenant_id = ids::decode("Tenant", "id", &id)?;
        let admin = context::platform_admin(ctx).await?;
        let period = crate::alerts::month_start();
        let platform::TenantView {
            tenant,
            users,
            api_calls: calls,
            storage_bytes: storage,
        } = admin
            .run_in_tenant(tenant_id, |tx| {
                platform::tenant_view(tx, period).scope_boxed()
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
        let totals = admin
            .run_system(|tx| platform::report(tx, from, to).scope_boxed())
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
    /// Recorded in the platform audit log, in the transaction that writes the counts.
    async fn admin_flush_usage(&self, ctx: &Context<'_>) -> Result<i64, AppError> {
        let admin = context::platform_admin(ctx).await?;
        // Taken from the meter, written and audited in one transaction; back if it fails.
        let pending = admin.services.usage.take();
        match admin
            .run_system(|tx| usage_ops::flush_calls(tx, &pending).scope_boxed())
            .await
        {
            Ok(calls) => Ok(calls),
            Err(e) => {
                admin.services.usage.restore(pending);
                Err(e)
            }
        }
    }
}

//! Quotas and usage: the `usage` of the current period, daily history, alerts, product API keys
//! and `reportUsage` (product apps report a tenant's storage), and `adminSetTenantLimits`.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::graphql::api_key_scope::ApiKeyScope;
use crate::{
    alerts,
    db::{
        ScopedFutureExt,
        models::{
            AlertRow, ApiKeyRow, TenantRow, UserRow,
            usage::{self, API_CALLS, STORAGE_BYTES},
        },
    },
    domain::Permission,
    domain::PlanOverrides,
    error::AppError,
    graphql::{
        connection::{self, Page},
        context, ids,
        loaders::DeliveriesOfAlert,
        tenant::{Tenant, TenantFeaturesInput, TenantLimitsInput, TenantPayload},
    },
    ops::{api_keys, plans, usage as usage_ops},
};

pub use crate::ops::usage::BYTES_PER_GB;

/// One metric of the current period against its limit.
#[derive(SimpleObject)]
pub struct UsageItem {
    /// api_calls, users or storage_gb.
    pub metric: String,
    pub used: f64,
    /// Null where the plan sets no limit for the period (API calls are limited per minute).
    pub limit: Option<f64>,
    pub period_start: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum UsageMetric {
    ApiCalls,
    StorageGb,
}

#[derive(SimpleObject)]
pub struct UsagePoint {
    pub day: NaiveDate,
    pub value: f64,
}

pub struct Alert(AlertRow);

/// A tenant crossed 80% or 100% of a limit.
#[Object]
impl Alert {
    async fn id(&self) -> ID {
        ids::encode("Alert", self.0.id)
    }
    /// users, storage_gb or api_rate.
    async fn metric(&self) -> &str {
        &self.0.metric
    }
    async fn threshold(&self) -> i32 {
        self.0.threshold
    }
    async fn used(&self) -> f64 {
        self.0.used
    }
    async fn limit(&self) -> f64 {
        self.0.quota
    }
    async fn period_start(&self) -> NaiveDate {
        self.0.period_start
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
    /// Each attempt to deliver it to the tenant's webhook.
    async fn deliveries(&self, ctx: &Context<'_>) -> Result<Vec<WebhookDelivery>, AppError> {
        let loaders = context::loaders(ctx, self.0.tenant_id)?;
        let rows = loaders
            .load_one(DeliveriesOfAlert(self.0.id))
            .await
            .map_err(AppError::from)?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|r| WebhookDelivery {
                attempt: r.attempt,
                status_code: r.status_code,
                error: r.error,
                at: r.at,
            })
            .collect())
    }
}

#[derive(SimpleObject)]
pub struct WebhookDelivery {
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

pub struct ApiKey(ApiKeyRow);

/// A product app's key for this tenant (the key itself is shown once, at creation).
#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        ids::encode("ApiKey", self.0.id)
    }
    async fn product_id(&self) -> ID {
        ID(self.0.product_id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    /// The reads the key may make besides reporting usage.
    async fn scopes(&self) -> Vec<ApiKeyScope> {
        self.0
            .scopes
            .iter()
            .flatten()
            .filter_map(|s| crate::domain::ApiKeyScope::parse(s))
            .map(ApiKeyScope::from)
            .collect()
    }
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub product_id: ID,
    pub name: String,
    /// Reads the key may make besides reporting usage; none by default.
    pub scopes: Option<Vec<ApiKeyScope>>,
}

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub api_key: ApiKey,
    /// Shown once; send it as `Authorization: ApiKey <key>`.
    pub key: String,
}

#[derive(SimpleObject)]
pub struct ApiKeyPayload {
    pub api_key: ApiKey,
}

#[derive(InputObject)]
pub struct ReportUsageInput {
    /// The tenant's storage in the reporting product, in GB (the product's own share: the
    /// tenant's storage is the sum of its products' last reports).
    pub storage_gb: f64,
}

#[derive(SimpleObject)]
pub struct UsageReport {
    pub metric: String,
    pub used: f64,
    pub limit: Option<f64>,
}

#[derive(InputObject)]
pub struct AdminSetTenantLimitsInput {
    pub tenant_id: ID,
    pub limits: Option<TenantLimitsInput>,
    pub features: Option<TenantFeaturesInput>,
}

#[derive(Default)]
pub struct UsageQuery;

#[Object]
impl UsageQuery {
    /// The current period's usage (the calendar month, UTC) against the tenant's limits.
    pub async fn usage(&self, ctx: &Context<'_>) -> Result<Vec<UsageItem>, AppError> {
        let scope = context::require(ctx, Permission::TenantRead).await?;
        let tenant_id = scope.tenant_id();
        let period = alerts::month_start();
        let (tenant, calls, seats, storage) = scope
            .tx(|conn| {
                async move {
                    Ok((
                        TenantRow::current(conn, tenant_id).await?,
                        usage::api_calls_since(conn, period).await?,
                        UserRow::count_seats(conn).await?,
                        usage::latest_storage(conn).await?,
                    ))
                }
                .scope_boxed()
            })
            .await?;
        let limits = tenant.limits();
        let calls = calls + scope.services.usage.pending(tenant_id);
        Ok(vec![
            UsageItem {
                metric: "api_calls".into(),
                used: calls as f64,
                limit: None,
                period_start: period,
            },
            UsageItem {
                metric: "users".into(),
                used: seats as f64,
                limit: Some(limits.users as f64),
                period_start: period,
            },
            UsageItem {
                metric: "storage_gb".into(),
                used: storage.unwrap_or(0) as f64 / BYTES_PER_GB,
                limit: Some(limits.storage_gb as f64),
                period_start: period,
            },
        ])
    }

    /// Daily values of a metric over the last `days` days (at most 366).
    async fn usage_history(
        &self,
        ctx: &Context<'_>,
        metric: UsageMetric,
        #[graphql(default = 30)] days: i32,
    ) -> Result<Vec<UsagePoint>, AppError> {
        if !(1..=366).contains(&days) {
            return Err(AppError::bad_input(
                "days",
                "days must be between 1 and 366",
            ));
        }
        let scope = context::require(ctx, Permission::TenantRead).await?;
        let from = Utc::now().date_naive() - Duration::days(days as i64 - 1);
        let name = match metric {
            UsageMetric::ApiCalls => API_CALLS,
            UsageMetric::StorageGb => STORAGE_BYTES,
        };
        let rows = scope
            .tx(|conn| usage::history(conn, name, from).scope_boxed())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(day, v)| UsagePoint {
                day,
                value: if metric == UsageMetric::StorageGb {
                    v as f64 / BYTES_PER_GB
                } else {
                    v as f64
                },
            })
            .collect())
    }

    /// Alerts raised for the tenant, oldest first.
    #[graphql(complexity = "crate::graphql::connection::complexity(first, child_complexity)")]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<Alert>, AppError> {
        let page = connection::list_request(ctx, first, after.as_deref())?;
        let scope = context::require(ctx, Permission::TenantRead).await?;
        let listed = scope
            .tx(|tx| async move { AlertRow::list(tx, page).await }.scope_boxed())
            .await?;
        Ok(connection::connection(listed, page, Alert))
    }

    /// The tenant's product API keys.
    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>, AppError> {
        let scope = context::require(ctx, Permission::ApiKeysManage).await?;
        Ok(scope
            .tx(|conn| ApiKeyRow::all(conn).scope_boxed())
            .await?
            .into_iter()
            .map(ApiKey)
            .collect())
    }
}

#[derive(Default)]
pub struct UsageMutation;

#[Object]
impl UsageMutation {
    /// A key for a product app to report usage; needs the apiAccess feature.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> Result<CreateApiKeyPayload, AppError> {
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::bad_input(
                "name",
                "name must have 1 to 100 characters",
            ));
        }
        let scope = context::require(ctx, Permission::ApiKeysManage).await?;
        let mut scopes: Vec<Option<String>> = input
            .scopes
            .unwrap_or_default()
            .into_iter()
            .map(|s| Some(crate::domain::ApiKeyScope::from(s).as_str().to_owned()))
            .collect();
        scopes.sort();
        scopes.dedup();
        let new = api_keys::NewApiKey {
            product_id: input.product_id.0,
            name,
            created_by: scope.user_id(),
            scopes,
        };
        let api_keys::CreatedKey { row, key } = scope
            .run(|tx| api_keys::create(tx, new).scope_boxed())
            .await?;
        Ok(CreateApiKeyPayload {
            api_key: ApiKey(row),
            key,
        })
    }

    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<ApiKeyPayload, AppError> {
        let scope = context::require(ctx, Permission::ApiKeysManage).await?;
        let uuid = ids::decode("ApiKey", "id", &id)?;
        let row = scope
            .run(|tx| api_keys::revoke(tx, uuid).scope_boxed())
            .await?;
        Ok(ApiKeyPayload {
            api_key: ApiKey(row),
        })
    }

    /// A product app reports the storage the tenant uses in it (with `Authorization: ApiKey
    /// <key>`); the answer is the tenant's storage across its products. A report that takes
    /// the tenant past its storage limit is recorded and answered with QUOTA_EXCEEDED.
    async fn report_usage(
        &self,
        ctx: &Context<'_>,
        input: ReportUsageInput,
    ) -> Result<UsageReport, AppError> {
        if !input.storage_gb.is_finite() || input.storage_gb < 0.0 || input.storage_gb > 1.0e9 {
            return Err(AppError::bad_input(
                "storageGb",
                "storageGb must be a non-negative number",
            ));
        }
        let scope = context::api_key(ctx).await?;
        let product_id = match &context::request(ctx)?.principal {
            crate::auth::Principal::ApiKey(key) => key.product_id.clone(),
            _ => return Err(AppError::unauthenticated("this needs a product API key")),
        };
        let report = usage_ops::StorageReport {
            product_id,
            storage_gb: input.storage_gb,
        };
        let usage_ops::StorageUsed { used, limit } = scope
            .run(|tx| usage_ops::report_storage(tx, report).scope_boxed())
            .await?;
        if used > limit {
            return Err(AppError::quota_exceeded(format!(
                "the tenant's storage of {used} GB is over the limit of {limit} GB"
            ))
            .with_reason(crate::error::Reason::StorageGb));
        }
        Ok(UsageReport {
            metric: "storage_gb".into(),
            used,
            limit: Some(limit),
        })
    }

    /// Platform admins: sets a tenant's features and limits; takes effect at once, the rate
    /// limiter included.
    async fn admin_set_tenant_limits(
        &self,
        ctx: &Context<'_>,
        input: AdminSetTenantLimitsInput,
    ) -> Result<TenantPayload, AppError> {
        let tenant_id = ids::decode("Tenant", "tenantId", &input.tenant_id)?;
        let admin = context::platform_admin(ctx).await?;
        let patch = overrides_of(input.limits, input.features);
        let tenant = admin
            .tenant(tenant_id)
            .run(|tx| plans::set_overrides(tx, patch).scope_boxed())
            .await?;
        admin.services.sign_in.rate_limits.forget(tenant_id);
        Ok(TenantPayload {
            tenant: Tenant(tenant),
        })
    }
}

/// The overrides an admin's input sets (absent fields stay as they are).
fn overrides_of(
    limits: Option<TenantLimitsInput>,
    features: Option<TenantFeaturesInput>,
) -> PlanOverrides {
    let (l, f) = (limits, features);
    PlanOverrides {
        users: l.as_ref().and_then(|l| l.users),
        storage_gb: l.as_ref().and_then(|l| l.storage_gb),
        api_calls_per_minute: l.as_ref().and_then(|l| l.api_calls_per_minute),
        sso: f.as_ref().and_then(|f| f.sso),
        api_access: f.as_ref().and_then(|f| f.api_access),
        custom_domain: f.as_ref().and_then(|f| f.custom_domain),
        custom: f.and_then(|f| f.custom).map(|c| c.0).unwrap_or_default(),
    }
}

//! Billing: the plan catalog, `changePlan` (applies the plan's features and limits at once, the
//! rate limiter included) and `billingSummary`.

use async_graphql::{Context, Json, Object, SimpleObject};
use chrono::NaiveDate;
use serde_json::json;

use crate::{
    db::{
        ScopedFutureExt,
        models::{PlanRow, SubscriptionRow, TenantRow, UserRow},
    },
    domain::Permission,
    error::AppError,
    graphql::{
        context,
        tenant::{Features, Limits, Tenant, TenantPayload},
    },
    ops::plans,
};

pub struct Plan(PlanRow);

/// What a plan grants.
#[Object]
impl Plan {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn features(&self) -> Features {
        self.0.features().into()
    }
    async fn limits(&self) -> Limits {
        self.0.limits().into()
    }
    async fn price_cents_per_seat(&self) -> i32 {
        self.0.price_cents_per_seat
    }
}

#[derive(SimpleObject)]
pub struct BillingSummary {
    pub plan: String,
    /// active | past_due | canceled.
    pub status: String,
    /// Seats taken now (active and invited users).
    pub seats_used: i64,
    pub seat_limit: i32,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// This period's usage against the limits.
    pub usage: Vec<crate::graphql::usage::UsageItem>,
    pub tenant: Tenant,
    pub plan_details: Json<serde_json::Value>,
}

#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    async fn plans(&self, ctx: &Context<'_>) -> Result<Vec<Plan>, AppError> {
        let scope = context::member(ctx)?;
        Ok(scope
            .tx(|conn| PlanRow::all(conn).scope_boxed())
            .await?
            .into_iter()
            .map(Plan)
            .collect())
    }

    /// The plan, seats and this period's usage against the limits (billing:manage).
    async fn billing_summary(&self, ctx: &Context<'_>) -> Result<BillingSummary, AppError> {
        let scope = context::require(ctx, Permission::BillingManage).await?;
        let tenant_id = scope.tenant_id();
        let (tenant, sub, seats, plan) = scope
            .tx(|conn| {
                async move {
                    let sub = SubscriptionRow::current(conn).await?;
                    let plan = PlanRow::get(conn, &sub.plan_id, "plan").await?;
                    Ok((
                        TenantRow::current(conn, tenant_id).await?,
                        sub,
                        UserRow::count_seats(conn).await?,
                        plan,
                    ))
                }
                .scope_boxed()
            })
            .await?;
        let usage = crate::graphql::usage::UsageQuery.usage(ctx).await?;
        Ok(BillingSummary {
            plan: sub.plan_id,
            status: sub.status,
            seats_used: seats,
            seat_limit: tenant.limits().users,
            period_start: sub.current_period_start,
            period_end: sub.current_period_end,
            usage,
            plan_details: Json(
                json!({ "name": plan.name, "price_cents_per_seat": plan.price_cents_per_seat }),
            ),
            tenant: Tenant(tenant),
        })
    }
}

#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Moves the tenant to another plan; its features and limits apply at once (the rate
    /// limiter included), and a `plan_changed` event goes to the billing outbox.
    async fn change_plan(
        &self,
        ctx: &Context<'_>,
        plan: String,
    ) -> Result<TenantPayload, AppError> {
        let scope = context::require(ctx, Permission::BillingManage).await?;
        let self_service = scope.services.sign_in.settings.self_service_upgrades;
        let tenant = scope
            .run(|tx| plans::change(tx, &plan, self_service).scope_boxed())
            .await?;
        scope.services.sign_in.rate_limits.forget(scope.tenant_id());
        Ok(TenantPayload {
            tenant: Tenant(tenant),
        })
    }
}

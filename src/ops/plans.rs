//! A tenant's plan and the platform's overrides of it. The effective features and limits are
//! the plan's values with the overrides laid over them (`domain::PlanOverrides`), so an owner's
//! plan change keeps what the platform set, and an owner cannot move to a paid plan by
//! themselves unless the platform allows self-service upgrades.

use serde_json::json;

use crate::{
    db::{
        TenantTx,
        audit::AuditEvent,
        models::{
            BillingEventRow, PlanRow, SubscriptionRow, TenantRow, UserRow, tenant::PlanValues,
        },
    },
    domain::{Action, PlanOverrides},
    error::{AppError, AppResult, Reason},
    invalidation::Invalidation,
    ops::{Done, Effect},
};

/// The owner moves the tenant of `tx` to `plan`. A paid plan needs `self_service_upgrades`
/// (the platform's setting): otherwise it is the platform's (or billing's) decision.
pub async fn change(
    tx: &mut TenantTx,
    plan: &str,
    self_service_upgrades: bool,
) -> AppResult<Done<TenantRow>> {
    let tenant_id = tx.tenant_id();
    let target = PlanRow::get(tx, plan, "plan").await?;
    let current = TenantRow::current(tx, tenant_id).await?;
    if target.price_cents_per_seat > 0 && target.id != current.plan && !self_service_upgrades {
        return Err(AppError::forbidden(format!(
            "moving to the paid plan {} is done by the platform; ask your account manager",
            target.id
        ))
        .with_reason(Reason::PaidPlanNeedsPlatform));
    }
    let overrides = current.overrides();
    let (features, limits) = overrides.apply((target.features(), target.limits()))?;
    let seats = UserRow::count_seats(tx).await?;
    if seats > limits.users as i64 {
        return Err(AppError::quota_exceeded(format!(
            "the tenant has {seats} users; the {} plan allows {}",
            target.id, limits.users
        ))
        .with_reason(Reason::Users));
    }
    let updated = TenantRow::set_plan_values(
        tx,
        tenant_id,
        PlanValues {
            plan: &target.id,
            overrides: &overrides,
            features: &features,
            limits: &limits,
        },
    )
    .await?;
    SubscriptionRow::set_plan(tx, &target.id, seats as i32).await?;
    BillingEventRow::enqueue(
        tx,
        tenant_id,
        "plan_changed",
        json!({ "from": current.plan, "to": target.id, "seats": seats }),
    )
    .await?;
    let event = AuditEvent::new(Action::BillingPlanChanged)
        .target("tenant", tenant_id)
        .details(json!({ "from": current.plan, "to": target.id }));
    Ok(Done::audited(updated, event).and_effect(Effect::Invalidate(Invalidation::All)))
}

/// A platform admin sets overrides of the tenant's plan values (what `patch` sets; the rest
/// stays). Recorded with the old and new effective values.
pub async fn set_overrides(tx: &mut TenantTx, patch: PlanOverrides) -> AppResult<Done<TenantRow>> {
    let tenant_id = tx.tenant_id();
    let current = TenantRow::current(tx, tenant_id).await?;
    let plan = PlanRow::get(tx, &current.plan, "plan").await?;
    let overrides = current.overrides().merged(patch);
    let (features, limits) = overrides.apply((plan.features(), plan.limits()))?;
    let updated = TenantRow::set_plan_values(
        tx,
        tenant_id,
        PlanValues {
            plan: &current.plan,
            overrides: &overrides,
            features: &features,
            limits: &limits,
        },
    )
    .await?;
    let event = AuditEvent::new(Action::PlatformTenantLimitsSet)
        .target("tenant", tenant_id)
        .details(json!({
            "old": { "features": current.features, "limits": current.limits },
            "new": { "features": updated.features, "limits": updated.limits },
            "overrides": overrides,
        }));
    Ok(Done::audited(updated, event).and_effect(Effect::Invalidate(Invalidation::All)))
}

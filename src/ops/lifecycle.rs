//! The tenant lifecycle (`domain::tenant_status`): transitions by the owner or the platform,
//! the purge, and the data export. Who put a tenant in its state is recorded with it, so an
//! owner cannot undo what the platform decided.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    db::{
        SystemTx, TenantTx,
        audit::AuditEvent,
        models::{TenantRow, tenant::StatusChange},
    },
    domain::{Action, StatusChanger, TenantStatus, tenant_status::check_transition},
    error::{AppError, AppResult, Reason},
    export,
    invalidation::Invalidation,
    ops::{Done, Effect},
};

/// Whether `user_id` may sign in (log in, refresh a session) to the tenant of `tx` although it
/// is not active: only to a tenant its own owner deactivated (not one the platform suspended or
/// deactivated), and only a member holding `tenant:delete`. Such a session is restricted by
/// the guards, not by a flag: while the tenant is inactive every resolver refuses it
/// (TENANT_INACTIVE) except those that work in any status: the export (`exportTenantData`,
/// `/export/*.ndjson`), `reactivateTenant` and `logout`.
pub async fn may_sign_in_while_inactive(tx: &mut TenantTx, user_id: Uuid) -> AppResult<bool> {
    let tenant_id = tx.tenant_id();
    let tenant = TenantRow::current(tx, tenant_id).await?;
    let by_owner =
        StatusChanger::parse(tenant.status_changed_by.as_deref()) == Some(StatusChanger::Owner);
    if TenantStatus::parse(&tenant.status) != TenantStatus::Deactivated || !by_owner {
        return Ok(false);
    }
    let held = crate::db::models::RoleRow::tenant_permissions_of(tx, user_id).await?;
    Ok(held
        .iter()
        .any(|p| p == crate::domain::Permission::TenantDelete.as_str()))
}

/// A requested move of the tenant in scope.
pub struct Transition {
    pub to: TenantStatus,
    pub by: StatusChanger,
    /// Kept with a deactivation or suspension (at most 500 characters are kept).
    pub reason: Option<String>,
    /// The grace period of a deactivation when the tenant has no retention of its own.
    pub grace_days: i32,
}

/// Moves the tenant of `tx` as `t` asks, if `t.by` may (see `domain::tenant_status`). Every
/// cached session state and TenantContext is dropped after the commit: they carry the status.
pub async fn transition(tx: &mut TenantTx, t: Transition) -> AppResult<Done<TenantRow>> {
    let tenant_id = tx.tenant_id();
    let current = TenantRow::current(tx, tenant_id).await?;
    let from = TenantStatus::parse(&current.status);
    let current_by = StatusChanger::parse(current.status_changed_by.as_deref());
    check_transition(from, current_by, t.to, t.by).map_err(|refused| {
        let code = match refused {
            crate::domain::tenant_status::TransitionRefused::NotFrom(..) => {
                AppError::conflict(refused.to_string())
            }
            _ => AppError::forbidden(refused.to_string()),
        };
        code.with_reason(Reason::LifecycleTransitionRefused)
    })?;
    let reason = t.reason.map(|r| r.chars().take(500).collect::<String>());
    let (deactivated_at, purge_after) = match t.to {
        TenantStatus::Deactivated => {
            let days = current.retention_days.unwrap_or(t.grace_days) as i64;
            (Some(Utc::now()), Some(Utc::now() + Duration::days(days)))
        }
        _ => (None, None),
    };
    let updated = TenantRow::set_status(
        tx,
        tenant_id,
        StatusChange {
            status: t.to,
            by: t.by,
            deactivated_at,
            purge_after,
            reason: reason.as_deref(),
        },
    )
    .await?;
    let action = match (from, t.to) {
        (_, TenantStatus::Deactivated) => Action::TenantDeactivated,
        (TenantStatus::Suspended, TenantStatus::Active) => Action::TenantResumed,
        (_, TenantStatus::Active) => Action::TenantReactivated,
        _ => Action::TenantSuspended,
    };
    let event = AuditEvent::new(action)
        .target("tenant", tenant_id)
        .details(json!({
            "from": from.as_str(), "to": t.to.as_str(), "by": t.by.as_str(),
            "reason": reason, "purge_after": purge_after,
        }));
    Ok(Done::audited(updated, event).and_effect(Effect::Invalidate(Invalidation::All)))
}

/// Purges one tenant (a deactivated one; with `force` also an active or suspended one,
/// deactivated in the same transaction, so a purge that fails leaves the tenant as it was).
/// Recorded in the platform audit log. Returns the rows deleted.
pub async fn purge(tx: &mut SystemTx, tenant_id: Uuid, force: bool) -> AppResult<Done<i64>> {
    if force {
        let tenant = TenantRow::find_any(tx, tenant_id).await?;
        if matches!(
            TenantStatus::parse(&tenant.status),
            TenantStatus::Active | TenantStatus::Suspended
        ) {
            let now = Utc::now();
            TenantRow::set_status(
                tx,
                tenant_id,
                StatusChange {
                    status: TenantStatus::Deactivated,
                    by: StatusChanger::Platform,
                    deactivated_at: Some(now),
                    purge_after: Some(now),
                    reason: Some("forced purge"),
                },
            )
            .await?;
        }
    }
    let deleted = TenantRow::purge(tx, tenant_id).await?;
    let event = AuditEvent::new(Action::PlatformTenantPurged)
        .target("tenant", tenant_id)
        .details(json!({ "rows_deleted": deleted, "forced": force }));
    Ok(Done::audited(deleted, event).and_effect(Effect::Invalidate(Invalidation::All)))
}

/// A platform admin's purge (`adminPurgeTenant`): reads the tenant, checks that it may be
/// purged now ([`check_purge`]), then [`purge`]s it, all in one system transaction.
pub async fn purge_checked(
    tx: &mut SystemTx,
    tenant_id: Uuid,
    force: bool,
    confirm_domain: Option<&str>,
) -> AppResult<Done<i64>> {
    let tenant = TenantRow::find_any(tx, tenant_id).await?;
    check_purge(&tenant, force, confirm_domain)?;
    purge(tx, tenant_id, force).await
}

/// Checks that `tenant` may be purged now: deactivated with its grace period over, or forced
/// with its domain typed as confirmation.
pub fn check_purge(tenant: &TenantRow, force: bool, confirm_domain: Option<&str>) -> AppResult<()> {
    if force {
        if tenant.domain.is_none() || confirm_domain.map(str::to_lowercase) != tenant.domain.clone()
        {
            return Err(AppError::bad_input(
                "confirmDomain",
                "type the tenant's domain to confirm a forced purge",
            ));
        }
        return Ok(());
    }
    if TenantStatus::parse(&tenant.status) != TenantStatus::Deactivated
        || tenant.purge_after.is_none_or(|p| p > Utc::now())
    {
        return Err(AppError::conflict(
            "the tenant is not deactivated or its grace period has not passed",
        ));
    }
    Ok(())
}

/// Everything the tenant of `tx` owns as one JSON document (no password hashes, token hashes
/// or secrets), recorded in its audit log.
pub async fn export(tx: &mut TenantTx) -> AppResult<Done<Value>> {
    let tenant_id = tx.tenant_id();
    let doc = export::document(tx, tenant_id).await?;
    Ok(Done::audited(
        doc,
        AuditEvent::new(Action::TenantExported).target("tenant", tenant_id),
    ))
}

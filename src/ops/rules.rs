//! Rules several mutations share: the seat quota, the last owner, and that nobody grants a
//! permission they do not hold. Each runs inside the mutation's transaction.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        audit::Actor,
        models::{RoleRow, TenantRow, UserRow},
        schema::tenants,
    },
    error::{AppError, AppResult, Reason},
};

/// Locks the tenant row for the rest of the transaction: concurrent seat-taking mutations of
/// one tenant then run one after the other, so two cannot both take the last seat.
pub async fn lock_tenant(conn: &mut TenantTx, tenant_id: Uuid) -> AppResult<TenantRow> {
    Ok(tenants::table
        .find(tenant_id)
        .select(TenantRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

/// Refuses a new seat (a created or invited user) past the tenant's user limit.
pub async fn ensure_seat_available(conn: &mut TenantTx, tenant_id: Uuid) -> AppResult<TenantRow> {
    let tenant = lock_tenant(conn, tenant_id).await?;
    let limit = tenant.limits().users as i64;
    let used = UserRow::count_seats(conn).await?;
    if used >= limit {
        return Err(AppError::quota_exceeded(format!(
            "the tenant's user limit of {limit} is reached; deactivate a user or change the plan"
        ))
        .with_reason(Reason::Users));
    }
    Ok(tenant)
}

/// Raises the user-limit alerts the current seat count has crossed (after a seat was taken).
pub async fn seat_alerts(
    conn: &mut TenantTx,
    tenant: &TenantRow,
) -> AppResult<Vec<crate::db::models::AlertRow>> {
    let used = UserRow::count_seats(conn).await? as f64;
    crate::alerts::check(
        conn,
        tenant.id,
        "users",
        used,
        tenant.limits().users as f64,
        crate::alerts::month_start(),
    )
    .await
}

/// Refuses a change that would leave the tenant without an active owner. The tenant row is
/// locked first, so two owners removing each other at once run one after the other and the
/// second sees that it would remove the last owner.
pub async fn ensure_other_owner_remains(conn: &mut TenantTx, losing: Uuid) -> AppResult<()> {
    let tenant_id = conn.tenant_id();
    lock_tenant(conn, tenant_id).await?;
    let owners = RoleRow::active_owners(conn).await?;
    if owners.contains(&losing) && owners.len() == 1 {
        return Err(AppError::conflict(
            "the tenant's last owner cannot lose the owner role",
        ));
    }
    Ok(())
}

/// Refuses to grant (by role assignment or role definition) a permission the actor lacks.
/// Platform admins may grant anything.
pub fn ensure_can_grant(
    actor: Actor,
    actor_permissions: &[String],
    granted: &[String],
) -> AppResult<()> {
    if let Actor::PlatformAdmin(_) = actor {
        return Ok(());
    }
    let missing: Vec<&String> = granted
        .iter()
        .filter(|p| !actor_permissions.contains(p))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "you cannot grant permissions you do not hold: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// The features an operation can depend on.
#[derive(Debug, Clone, Copy)]
pub enum Feature {
    ApiAccess,
    Sso,
    CustomDomain,
}

/// Refuses an operation whose feature the tenant's plan does not include:
/// FORBIDDEN with `extensions.reason = "feature_disabled"`.
pub fn ensure_feature(tenant: &TenantRow, feature: Feature) -> AppResult<()> {
    let f = tenant.features();
    let (on, name) = match feature {
        Feature::ApiAccess => (f.api_access, "apiAccess"),
        Feature::Sso => (f.sso, "sso"),
        Feature::CustomDomain => (f.custom_domain, "customDomain"),
    };
    if on {
        Ok(())
    } else {
        Err(
            AppError::forbidden(format!("the tenant's plan does not include {name}"))
                .with_reason(Reason::FeatureDisabled),
        )
    }
}

/// Refuses to manage (change, deactivate, delete, reset the password of, override the product
/// access of, change the workspace membership of) a user who holds permissions the actor
/// lacks, in any scope (tenant-wide or workspace roles): otherwise an admin could take over an
/// owner's account, or a member with `workspaces:write` rearrange an admin's workspaces.
pub async fn ensure_can_manage(
    conn: &mut TenantTx,
    actor: Actor,
    actor_permissions: &[String],
    target: Uuid,
) -> AppResult<()> {
    if actor == Actor::User(target) {
        return Ok(());
    }
    let held = RoleRow::all_permissions_of(conn, target).await?;
    ensure_can_grant(actor, actor_permissions, &held).map_err(|_| {
        AppError::forbidden("you cannot manage a user who holds permissions you do not")
    })
}

//! Custom roles and role assignments (tenant-wide or in one workspace). Only permissions the
//! actor holds can be put in a role, given or taken away (`rules::ensure_can_grant`); system
//! roles cannot be changed or deleted, and the last owner keeps the owner role.

use serde_json::json;
use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        audit::AuditEvent,
        models::{RoleRow, UserRoleRow, UserRow, WorkspaceRow},
    },
    domain::{Action, SystemRole},
    error::{AppError, AppResult},
    ops::{Acting, Done, rules},
};

/// A custom role to create: a checked name and catalog permission strings.
pub struct NewRole {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
}

/// What to change in a custom role (absent: kept).
pub struct RoleChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
}

/// A role given to (or taken from) a user, tenant-wide when `workspace_id` is absent.
#[derive(Debug, Clone, Copy)]
pub struct Assignment {
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub workspace_id: Option<Uuid>,
}

/// Creates a custom role holding only permissions the actor may grant.
pub async fn create(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    new: NewRole,
) -> AppResult<Done<RoleRow>> {
    rules::ensure_can_grant(acting.actor, acting.permissions, &new.permissions)?;
    let tenant_id = tx.tenant_id();
    let role =
        RoleRow::insert_custom(tx, tenant_id, &new.name, &new.description, new.permissions).await?;
    let event = AuditEvent::new(Action::RoleCreated)
        .target("role", role.id)
        .details(json!({ "name": role.name, "permissions": role.permission_strings() }));
    Ok(Done::audited(role, event))
}

/// Changes a custom role; a system role is FORBIDDEN.
pub async fn update(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    id: Uuid,
    change: RoleChange,
) -> AppResult<Done<RoleRow>> {
    if let Some(p) = &change.permissions {
        rules::ensure_can_grant(acting.actor, acting.permissions, p)?;
    }
    let role = RoleRow::get(tx, id).await?;
    if role.is_system {
        return Err(AppError::forbidden("system roles cannot be changed"));
    }
    let updated = RoleRow::update(
        tx,
        id,
        change.name.as_deref().unwrap_or(&role.name),
        change.description.as_deref().unwrap_or(&role.description),
        change
            .permissions
            .unwrap_or_else(|| role.permission_strings()),
    )
    .await?;
    let event = AuditEvent::new(Action::RoleUpdated)
        .target("role", id)
        .details(json!({ "name": updated.name, "permissions": updated.permission_strings() }));
    Ok(Done::audited(updated, event))
}

/// Deletes a custom role and its assignments; a system role is FORBIDDEN.
pub async fn delete(tx: &mut TenantTx, acting: Acting<'_>, id: Uuid) -> AppResult<Done<Uuid>> {
    let role = RoleRow::get(tx, id).await?;
    if role.is_system {
        return Err(AppError::forbidden("system roles cannot be deleted"));
    }
    // Deleting a role takes its permissions from everyone holding it: only who could grant
    // them may do that.
    rules::ensure_can_grant(acting.actor, acting.permissions, &role.permission_strings())?;
    RoleRow::delete(tx, id).await?;
    let event = AuditEvent::new(Action::RoleDeleted)
        .target("role", id)
        .details(json!({ "name": role.name }));
    Ok(Done::audited(id, event))
}

/// The user, role (and workspace) of an assignment, checked to exist in the tenant, and the
/// actor's right to grant the role.
async fn checked(
    tx: &mut TenantTx,
    acting: &Acting<'_>,
    a: Assignment,
) -> AppResult<(UserRow, RoleRow)> {
    let user = UserRow::get(tx, a.user_id).await?;
    let role = RoleRow::get(tx, a.role_id).await?;
    if let Some(w) = a.workspace_id {
        WorkspaceRow::get(tx, w).await?;
    }
    rules::ensure_can_grant(acting.actor, acting.permissions, &role.permission_strings())?;
    Ok((user, role))
}

fn assignment_event(action: Action, a: Assignment, role: &RoleRow) -> AuditEvent {
    AuditEvent::new(action)
        .target("user", a.user_id)
        .details(json!({
            "role_id": a.role_id, "role": role.name, "workspace_id": a.workspace_id,
        }))
}

/// Gives a user a role; idempotent (a role already held is no change and no audit row).
pub async fn assign(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    a: Assignment,
) -> AppResult<Done<UserRow>> {
    let (user, role) = checked(tx, &acting, a).await?;
    if UserRoleRow::exists(tx, a.user_id, a.role_id, a.workspace_id).await? {
        return Ok(Done::unaudited(user));
    }
    let tenant_id = tx.tenant_id();
    UserRoleRow::assign(tx, tenant_id, a.user_id, a.role_id, a.workspace_id).await?;
    Ok(Done::audited(
        user,
        assignment_event(Action::RoleAssigned, a, &role),
    ))
}

/// Takes a role away (taking is as strong as giving); the last owner keeps the owner role
/// (CONFLICT). A role not held is no change and no audit row.
pub async fn unassign(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    a: Assignment,
) -> AppResult<Done<UserRow>> {
    let (user, role) = checked(tx, &acting, a).await?;
    if role.is_system && role.name == SystemRole::Owner.name() && a.workspace_id.is_none() {
        rules::ensure_other_owner_remains(tx, a.user_id).await?;
    }
    match UserRoleRow::unassign(tx, a.user_id, a.role_id, a.workspace_id).await? {
        true => Ok(Done::audited(
            user,
            assignment_event(Action::RoleUnassigned, a, &role),
        )),
        false => Ok(Done::unaudited(user)),
    }
}

//! Workspaces of a tenant: creating, changing and archiving them (the default workspace stays),
//! and their membership, with a workspace role the actor may grant.

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        audit::AuditEvent,
        models::{RoleRow, UserRow, WorkspaceMemberRow, WorkspaceRow, workspace::NewWorkspace},
    },
    domain::{Action, Slug},
    error::{AppError, AppResult},
    ops::{Acting, Done, rules},
};

/// What to change in a workspace (absent: kept).
pub struct WorkspaceChange {
    pub name: Option<String>,
    pub slug: Option<Slug>,
}

/// A user to add to a workspace, with their workspace role (absent: none).
pub struct NewMember {
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub role_id: Option<Uuid>,
}

fn slug_taken() -> AppError {
    let mut e = AppError::conflict("a workspace with this slug exists already");
    e.field = Some("slug".into());
    e
}

fn named_event(action: Action, w: &WorkspaceRow) -> AuditEvent {
    AuditEvent::new(action)
        .target("workspace", w.id)
        .details(json!({ "name": w.name, "slug": w.slug }))
}

/// Creates a workspace; a slug in use is CONFLICT on `slug`.
pub async fn create(tx: &mut TenantTx, name: String, slug: Slug) -> AppResult<Done<WorkspaceRow>> {
    if WorkspaceRow::slug_taken(tx, slug.as_str(), None).await? {
        return Err(slug_taken());
    }
    let tenant_id = tx.tenant_id();
    let w = WorkspaceRow::insert(
        tx,
        NewWorkspace {
            tenant_id,
            id: Uuid::now_v7(),
            name: &name,
            slug: slug.as_str(),
            is_default: false,
        },
    )
    .await?;
    let event = named_event(Action::WorkspaceCreated, &w);
    Ok(Done::audited(w, event))
}

/// Renames a workspace or changes its slug.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    change: WorkspaceChange,
) -> AppResult<Done<WorkspaceRow>> {
    let current = WorkspaceRow::get(tx, id).await?;
    if let Some(s) = &change.slug
        && WorkspaceRow::slug_taken(tx, s.as_str(), Some(id)).await?
    {
        return Err(slug_taken());
    }
    let name = change.name.unwrap_or(current.name);
    let slug = change
        .slug
        .map(|s| s.as_str().to_owned())
        .unwrap_or(current.slug);
    let w = WorkspaceRow::update(tx, id, &name, &slug).await?;
    let event = named_event(Action::WorkspaceUpdated, &w);
    Ok(Done::audited(w, event))
}

/// Archives a workspace (idempotent); the default workspace cannot be archived (CONFLICT).
pub async fn archive(tx: &mut TenantTx, id: Uuid) -> AppResult<Done<WorkspaceRow>> {
    let current = WorkspaceRow::get(tx, id).await?;
    if current.is_default {
        return Err(AppError::conflict(
            "the default workspace cannot be archived",
        ));
    }
    if current.archived_at.is_some() {
        return Ok(Done::unaudited(current));
    }
    let w = WorkspaceRow::archive(tx, id).await?;
    Ok(Done::audited(
        w,
        AuditEvent::new(Action::WorkspaceArchived).target("workspace", id),
    ))
}

/// Adds a user to a workspace, or changes their workspace role.
pub async fn add_member(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    new: NewMember,
) -> AppResult<Done<WorkspaceRow>> {
    let w = WorkspaceRow::get(tx, new.workspace_id).await?;
    if w.archived_at.is_some() {
        return Err(AppError::conflict("the workspace is archived"));
    }
    UserRow::get(tx, new.user_id).await?;
    rules::ensure_can_manage(tx, acting.actor, acting.permissions, new.user_id).await?;
    if let Some(r) = new.role_id {
        let role = RoleRow::get(tx, r).await?;
        rules::ensure_can_grant(acting.actor, acting.permissions, &role.permission_strings())?;
    }
    let tenant_id = tx.tenant_id();
    WorkspaceMemberRow::upsert(
        tx,
        &WorkspaceMemberRow {
            tenant_id,
            workspace_id: new.workspace_id,
            user_id: new.user_id,
            role_id: new.role_id,
            created_at: Utc::now(),
        },
    )
    .await?;
    let event = AuditEvent::new(Action::WorkspaceMemberAdded)
        .target("workspace", new.workspace_id)
        .details(json!({ "user_id": new.user_id, "role_id": new.role_id }));
    Ok(Done::audited(w, event))
}

/// Removes a user from a workspace; one who is not a member is NOT_FOUND. The caller must be
/// able to manage that user (every role they hold counts, workspace roles too).
pub async fn remove_member(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    workspace_id: Uuid,
    user_id: Uuid,
) -> AppResult<Done<WorkspaceRow>> {
    let w = WorkspaceRow::get(tx, workspace_id).await?;
    rules::ensure_can_manage(tx, acting.actor, acting.permissions, user_id).await?;
    if !WorkspaceMemberRow::remove(tx, workspace_id, user_id).await? {
        return Err(AppError::not_found("workspace member"));
    }
    let event = AuditEvent::new(Action::WorkspaceMemberRemoved)
        .target("workspace", workspace_id)
        .details(json!({ "user_id": user_id }));
    Ok(Done::audited(w, event))
}

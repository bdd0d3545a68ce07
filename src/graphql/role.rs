//! Roles and permissions: the `Role` object, the permission catalog, custom roles, and role
//! assignments (tenant-wide or per workspace).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use serde_json::json;
use uuid::Uuid;

use crate::domain::Action;
use crate::{
    db::{
        ScopedFutureExt,
        audit::{self, AuditEvent},
        models::{RoleRow, UserRoleRow, UserRow, WorkspaceRow},
    },
    domain::{Permission, SystemRole},
    error::{AppError, AppResult},
    graphql::{
        connection::{self, Page},
        context, ids,
        user::User,
    },
    ops::rules,
};

pub struct Role(pub RoleRow);

/// A named set of permissions.
#[Object]
impl Role {
    pub async fn id(&self) -> ID {
        ids::encode("Role", self.0.id)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Permission strings from the catalog, e.g. `users:read`.
    async fn permissions(&self) -> Vec<String> {
        self.0.permission_strings()
    }

    /// System roles come with every tenant and cannot be changed or deleted.
    async fn is_system(&self) -> bool {
        self.0.is_system
    }
}

/// One entry of the permission catalog.
#[derive(SimpleObject)]
pub struct PermissionInfo {
    /// The string used everywhere, e.g. `users:read`.
    pub name: String,
    pub description: String,
}

#[derive(InputObject)]
pub struct CreateRoleInput {
    pub name: String,
    /// Catalog strings such as "users:read".
    pub permissions: Vec<String>,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateRoleInput {
    pub id: ID,
    pub name: Option<String>,
    pub permissions: Option<Vec<String>>,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct AssignRoleInput {
    pub user_id: ID,
    pub role_id: ID,
    /// Absent: the role applies tenant-wide.
    pub workspace_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct RolePayload {
    pub role: Role,
}

#[derive(SimpleObject)]
pub struct DeleteRolePayload {
    pub deleted_role_id: ID,
}

#[derive(SimpleObject)]
pub struct AssignRolePayload {
    pub user: User,
}

fn parse_permissions(raw: &[String]) -> AppResult<Vec<String>> {
    let mut parsed: Vec<Permission> = raw
        .iter()
        .map(|p| Permission::parse("permissions", p))
        .collect::<AppResult<_>>()?;
    parsed.sort();
    parsed.dedup();
    Ok(parsed.into_iter().map(|p| p.as_str().to_owned()).collect())
}

fn parse_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::bad_input(
            "name",
            "name must have 1 to 64 characters",
        ));
    }
    if SystemRole::from_name(name).is_some() {
        return Err(AppError::conflict(format!("{name} is a system role")));
    }
    Ok(name.to_owned())
}

#[derive(Default)]
pub struct RoleQuery;

#[Object]
impl RoleQuery {
    /// The permission catalog, for any caller with a token or API key.
    async fn permissions(&self, ctx: &Context<'_>) -> Result<Vec<PermissionInfo>, AppError> {
        if matches!(
            context::request(ctx)?.principal,
            crate::auth::Principal::Anonymous
        ) {
            return Err(AppError::unauthenticated("log in first"));
        }
        Ok(Permission::ALL
            .iter()
            .map(|p| PermissionInfo {
                name: p.as_str().to_owned(),
                description: p.description().to_owned(),
            })
            .collect())
    }

    /// The tenant's roles, system roles first.
    #[graphql(complexity = "crate::graphql::connection::complexity(first, child_complexity)")]
    async fn roles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<Role>, AppError> {
        let page = connection::page_request(first, after.as_deref())?;
        let scope = context::require(ctx, Permission::UsersRead).await?;
        let (rows, total) = scope
            .tx(|conn| {
                async move {
                    Ok((
                        RoleRow::page(conn, page).await?,
                        RoleRow::count(conn).await?,
                    ))
                }
                .scope_boxed()
            })
            .await?;
        Ok(connection::build(
            rows,
            page,
            total,
            |r| (r.created_at, r.id),
            Role,
        ))
    }

    async fn role(&self, ctx: &Context<'_>, id: ID) -> Result<Role, AppError> {
        let scope = context::require(ctx, Permission::UsersRead).await?;
        let id = ids::decode("Role", "id", &id)?;
        Ok(Role(
            scope
                .tx(|conn| RoleRow::get(conn, id).scope_boxed())
                .await?,
        ))
    }
}

#[derive(Default)]
pub struct RoleMutation;

#[Object]
impl RoleMutation {
    /// A custom role; only permissions the caller holds can be put in it.
    async fn create_role(
        &self,
        ctx: &Context<'_>,
        input: CreateRoleInput,
    ) -> Result<RolePayload, AppError> {
        let name = parse_name(&input.name)?;
        let permissions = parse_permissions(&input.permissions)?;
        let description = input.description.unwrap_or_default();
        let scope = context::require(ctx, Permission::RolesManage).await?;
        rules::ensure_can_grant(
            scope.actor(),
            &context::permissions_of_actor(ctx).await?,
            &permissions,
        )?;
        let (tenant_id, audit_ctx) = (scope.tenant_id(), scope.audit());
        let role = scope
            .tx(|conn| {
                async move {
                    let role = RoleRow::insert_custom(conn, tenant_id, &name, &description, permissions).await?;
                    audit::record(
                        conn,
                        tenant_id,
                        &audit_ctx,
                        AuditEvent::new(Action::RoleCreated)
                            .target("role", role.id)
                            .details(json!({ "name": role.name, "permissions": role.permission_strings() })),
                    )
                    .await?;
                    Ok(role)
                }
                .scope_boxed()
            })
            .await?;
        Ok(RolePayload { role: Role(role) })
    }

    /// Changes a custom role; system roles are FORBIDDEN.
    async fn update_role(
        &self,
        ctx: &Context<'_>,
        input: UpdateRoleInput,
    ) -> Result<RolePayload, AppError> {
        let id = ids::decode("Role", "id", &input.id)?;
        let name = input.name.as_deref().map(parse_name).transpose()?;
        let permissions = input
            .permissions
            .as_deref()
            .map(parse_permissions)
            .transpose()?;
        let scope = context::require(ctx, Permission::RolesManage).await?;
        if let Some(p) = &permissions {
            rules::ensure_can_grant(scope.actor(), &context::permissions_of_actor(ctx).await?, p)?;
        }
        let (tenant_id, audit_ctx) = (scope.tenant_id(), scope.audit());
        let role =
            scope
                .tx(|conn| {
                    async move {
                        let role = RoleRow::get(conn, id).await?;
                        if role.is_system {
                            return Err(AppError::forbidden("system roles cannot be changed"));
                        }
                        let updated = RoleRow::update(
                            conn,
                            id,
                            name.as_deref().unwrap_or(&role.name),
                            input.description.as_deref().unwrap_or(&role.description),
                            permissions.unwrap_or_else(|| role.permission_strings()),
                        )
                        .await?;
                        audit::record(
                        conn,
                        tenant_id,
                        &audit_ctx,
                        AuditEvent::new(Action::RoleUpdated).target("role", id).details(json!({
                            "name": updated.name, "permissions": updated.permission_strings(),
                        })),
                    )
                    .await?;
                        Ok(updated)
                    }
                    .scope_boxed()
                })
                .await?;
        Ok(RolePayload { role: Role(role) })
    }

    /// Deletes a custom role and its assignments; system roles are FORBIDDEN.
    async fn delete_role(&self, ctx: &Context<'_>, id: ID) -> Result<DeleteRolePayload, AppError> {
        let scope = context::require(ctx, Permission::RolesManage).await?;
        let uuid = ids::decode("Role", "id", &id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let (tenant_id, audit_ctx, actor) = (scope.tenant_id(), scope.audit(), scope.actor());
        scope
            .tx(|conn| {
                async move {
                    let role = RoleRow::get(conn, uuid).await?;
                    if role.is_system {
                        return Err(AppError::forbidden("system roles cannot be deleted"));
                    }
                    // Deleting a role takes its permissions from everyone holding it: only who
                    // could grant them may do that.
                    rules::ensure_can_grant(actor, &perms, &role.permission_strings())?;
                    RoleRow::delete(conn, uuid).await?;
                    audit::record(
                        conn,
                        tenant_id,
                        &audit_ctx,
                        AuditEvent::new(Action::RoleDeleted)
                            .target("role", uuid)
                            .details(json!({ "name": role.name })),
                    )
                    .await
                }
                .scope_boxed()
            })
            .await?;
        Ok(DeleteRolePayload {
            deleted_role_id: ids::encode("Role", uuid),
        })
    }

    /// Gives a user a role, tenant-wide (no workspaceId) or in one workspace. Idempotent. Only
    /// roles whose permissions the caller holds can be given.
    async fn assign_role(
        &self,
        ctx: &Context<'_>,
        input: AssignRoleInput,
    ) -> Result<AssignRolePayload, AppError> {
        let (user_id, role_id, workspace_id) = decode_assignment(&input)?;
        let scope = context::require(ctx, Permission::RolesManage).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let (tenant_id, audit_ctx, actor) = (scope.tenant_id(), scope.audit(), scope.actor());
        let user = scope
            .tx(|conn| {
                async move {
                    let user = UserRow::get(conn, user_id).await?;
                    let role = RoleRow::get(conn, role_id).await?;
                    if let Some(w) = workspace_id {
                        WorkspaceRow::get(conn, w).await?;
                    }
                    rules::ensure_can_grant(actor, &perms, &role.permission_strings())?;
                    if !UserRoleRow::exists(conn, user_id, role_id, workspace_id).await? {
                        UserRoleRow::assign(conn, tenant_id, user_id, role_id, workspace_id)
                            .await?;
                        audit::record(
                            conn,
                            tenant_id,
                            &audit_ctx,
                            AuditEvent::new(Action::RoleAssigned).target("user", user_id).details(json!({
                                "role_id": role_id, "role": role.name, "workspace_id": workspace_id,
                            })),
                        )
                        .await?;
                    }
                    Ok(user)
                }
                .scope_boxed()
            })
            .await?;
        Ok(AssignRolePayload {
            user: User::from(user),
        })
    }

    /// Takes a role away; the last owner keeps the owner role (CONFLICT).
    async fn unassign_role(
        &self,
        ctx: &Context<'_>,
        input: AssignRoleInput,
    ) -> Result<AssignRolePayload, AppError> {
        let (user_id, role_id, workspace_id) = decode_assignment(&input)?;
        let scope = context::require(ctx, Permission::RolesManage).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let (tenant_id, audit_ctx, actor) = (scope.tenant_id(), scope.audit(), scope.actor());
        let user = scope
            .tx(|conn| {
                async move {
                    let user = UserRow::get(conn, user_id).await?;
                    let role = RoleRow::get(conn, role_id).await?;
                    if let Some(w) = workspace_id {
                        WorkspaceRow::get(conn, w).await?;
                    }
                    // Taking away a role is as strong as giving it.
                    rules::ensure_can_grant(actor, &perms, &role.permission_strings())?;
                    if role.is_system && role.name == SystemRole::Owner.name() && workspace_id.is_none() {
                        rules::ensure_other_owner_remains(conn, user_id).await?;
                    }
                    if UserRoleRow::unassign(conn, user_id, role_id, workspace_id).await? {
                        audit::record(
                            conn,
                            tenant_id,
                            &audit_ctx,
                            AuditEvent::new(Action::RoleUnassigned).target("user", user_id).details(json!({
                                "role_id": role_id, "role": role.name, "workspace_id": workspace_id,
                            })),
                        )
                        .await?;
                    }
                    Ok(user)
                }
                .scope_boxed()
            })
            .await?;
        Ok(AssignRolePayload {
            user: User::from(user),
        })
    }
}

fn decode_assignment(input: &AssignRoleInput) -> AppResult<(Uuid, Uuid, Option<Uuid>)> {
    Ok((
        ids::decode("User", "userId", &input.user_id)?,
        ids::decode("Role", "roleId", &input.role_id)?,
        input
            .workspace_id
            .as_ref()
            .map(|w| ids::decode("Workspace", "workspaceId", w))
            .transpose()?,
    ))
}

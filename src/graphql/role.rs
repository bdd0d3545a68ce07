//! Roles and permissions: the `Role` object, the permission catalog, custom roles, and role
//! assignments (tenant-wide or per workspace).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::{
    db::{ScopedFutureExt, models::RoleRow},
    domain::{Permission, SystemRole},
    error::{AppError, AppResult},
    graphql::{
        connection::{self, Page},
        context, ids,
        user::User,
    },
    ops::{Acting, roles},
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
        .collect::<Result<_, crate::domain::DomainError>>()?;
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
        let page = connection::list_request(ctx, first, after.as_deref())?;
        let scope = context::require(ctx, Permission::UsersRead).await?;
        let listed = scope
            .tx(|tx| async move { RoleRow::list(tx, page).await }.scope_boxed())
            .await?;
        Ok(connection::connection(listed, page, Role))
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
        let new = roles::NewRole {
            name: parse_name(&input.name)?,
            permissions: parse_permissions(&input.permissions)?,
            description: input.description.unwrap_or_default(),
        };
        let scope = context::require(ctx, Permission::RolesManage).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let role = scope
            .run(|tx| roles::create(tx, acting, new).scope_boxed())
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
        let change = roles::RoleChange {
            name: input.name.as_deref().map(parse_name).transpose()?,
            permissions: input
                .permissions
                .as_deref()
                .map(parse_permissions)
                .transpose()?,
            description: input.description,
        };
        let scope = context::require(ctx, Permission::RolesManage).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let role = scope
            .run(|tx| roles::update(tx, acting, id, change).scope_boxed())
            .await?;
        Ok(RolePayload { role: Role(role) })
    }

    /// Deletes a custom role and its assignments; system roles are FORBIDDEN.
    async fn delete_role(&self, ctx: &Context<'_>, id: ID) -> Result<DeleteRolePayload, AppError> {
        let scope = context::require(ctx, Permission::RolesManage).await?;
        let uuid = ids::decode("Role", "id", &id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let deleted = scope
            .run(|tx| roles::delete(tx, acting, uuid).scope_boxed())
            .await?;
        Ok(DeleteRolePayload {
            deleted_role_id: ids::encode("Role", deleted),
        })
    }

    /// Gives a user a role, tenant-wide (no workspaceId) or in one workspace. Idempotent. Only
    /// roles whose permissions the caller holds can be given.
    async fn assign_role(
        &self,
        ctx: &Context<'_>,
        input: AssignRoleInput,
    ) -> Result<AssignRolePayload, AppError> {
        let assignment = decode_assignment(&input)?;
        let scope = context::require(ctx, Permission::RolesManage).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let user = scope
            .run(|tx| roles::assign(tx, acting, assignment).scope_boxed())
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
        let assignment = decode_assignment(&input)?;
        let scope = context::require(ctx, Permission::RolesManage).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let user = scope
            .run(|tx| roles::unassign(tx, acting, assignment).scope_boxed())
            .await?;
        Ok(AssignRolePayload {
            user: User::from(user),
        })
    }
}

fn decode_assignment(input: &AssignRoleInput) -> AppResult<roles::Assignment> {
    Ok(roles::Assignment {
        user_id: ids::decode("User", "userId", &input.user_id)?,
        role_id: ids::decode("Role", "roleId", &input.role_id)?,
        workspace_id: input
            .workspace_id
            .as_ref()
            .map(|w| ids::decode("Workspace", "workspaceId", w))
            .transpose()?,
    })
}

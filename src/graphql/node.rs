//! Relay global object identification: `node(id:)` over the tenant-scoped types. Lookups run
//! in the caller's tenant, so another tenant's id is NOT_FOUND like an id that never existed.

use async_graphql::{Context, ID, Interface, Object};

use crate::{
    auth::Principal,
    db::{
        ScopedFutureExt,
        models::{RoleRow, TenantRow, UserRow, WorkspaceRow},
    },
    domain::Permission,
    error::AppError,
    graphql::{context, ids, role::Role, tenant::Tenant, user::User, workspace::Workspace},
};

#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "An opaque global id."))]
pub enum Node {
    Tenant(Tenant),
    User(User),
    Role(Role),
    Workspace(Workspace),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object of the caller's tenant by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>, AppError> {
        let Some((kind, uuid)) = ids::decode_any(id.as_str()) else {
            return Err(AppError::bad_input("id", "id is not a global id"));
        };
        if let Principal::PlatformAdmin { .. } = context::request(ctx)?.principal {
            return Err(AppError::forbidden(
                "platform admins look tenants up with adminTenant",
            ));
        }
        let node = match kind.as_str() {
            "Tenant" => {
                let scope = context::require(ctx, Permission::TenantRead).await?;
                if uuid != scope.tenant_id() {
                    return Err(AppError::not_found("tenant"));
                }
                Node::Tenant(Tenant(
                    scope
                        .tx(|conn| TenantRow::current(conn, uuid).scope_boxed())
                        .await?,
                ))
            }
            "User" => {
                let scope = context::require(ctx, Permission::UsersRead).await?;
                Node::User(User::from(
                    scope
                        .tx(|conn| UserRow::get(conn, uuid).scope_boxed())
                        .await?,
                ))
            }
            "Role" => {
                let scope = context::require(ctx, Permission::UsersRead).await?;
                Node::Role(Role(
                    scope
                        .tx(|conn| RoleRow::get(conn, uuid).scope_boxed())
                        .await?,
                ))
            }
            "Workspace" => {
                let scope = context::require(ctx, Permission::WorkspacesRead).await?;
                Node::Workspace(Workspace(
                    scope
                        .tx(|conn| WorkspaceRow::get(conn, uuid).scope_boxed())
                        .await?,
                ))
            }
            _ => return Err(AppError::not_found("node")),
        };
        Ok(Some(node))
    }
}

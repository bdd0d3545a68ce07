//! The `User` and `Role` objects.

use crate::db::ScopedFutureExt;
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        models::{RoleRow, TenantRow, UserRow},
        schema::{roles, user_roles},
    },
    error::{AppError, AppResult},
    graphql::{context, ids, tenant::Tenant},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum UserStatus {
    Active,
    Deactivated,
}

pub struct User(pub UserRow);

/// A member of a tenant.
#[Object]
impl User {
    async fn id(&self) -> ID {
        ids::encode("User", self.0.id)
    }

    /// The raw UUID, as in the `sub` claim of access tokens.
    async fn uuid(&self) -> String {
        self.0.id.to_string()
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn display_name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }

    async fn status(&self) -> UserStatus {
        if self.0.is_active() {
            UserStatus::Active
        } else {
            UserStatus::Deactivated
        }
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn tenant(&self, ctx: &Context<'_>) -> Result<Tenant, AppError> {
        let scope = context::reader_for(ctx, self.0.tenant_id)?;
        let id = self.0.tenant_id;
        Ok(Tenant(
            scope
                .tx(move |conn| TenantRow::current(conn, id).scope_boxed())
                .await?,
        ))
    }

    /// The roles the user holds, tenant-wide or in any workspace.
    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<Role>, AppError> {
        let scope = context::reader_for(ctx, self.0.tenant_id)?;
        let user_id = self.0.id;
        let rows = scope
            .tx(move |conn| roles_of_user(conn, user_id).scope_boxed())
            .await?;
        Ok(rows.into_iter().map(Role).collect())
    }
}

async fn roles_of_user(conn: &mut crate::db::Conn, user_id: uuid::Uuid) -> AppResult<Vec<RoleRow>> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    Ok(roles::table
        .filter(
            roles::id.eq_any(
                user_roles::table
                    .filter(user_roles::user_id.eq(user_id))
                    .select(user_roles::role_id),
            ),
        )
        .order(roles::name)
        .select(RoleRow::as_select())
        .load(conn)
        .await?)
}

pub struct Role(pub RoleRow);

/// A named set of permissions.
#[Object]
impl Role {
    async fn id(&self) -> ID {
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

    /// System roles come with every tenant and cannot be changed.
    async fn is_system(&self) -> bool {
        self.0.is_system
    }
}

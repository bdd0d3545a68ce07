//! `roles` and `user_roles`: named permission sets and who holds them, tenant-wide or per
//! workspace.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        Conn,
        schema::{roles, user_roles},
    },
    domain::SystemRole,
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = roles, check_for_backend(diesel::pg::Pg))]
pub struct RoleRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub permissions: Vec<Option<String>>,
    pub is_system: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = roles)]
pub struct NewRole<'a> {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: &'a str,
    pub description: &'a str,
    pub permissions: Vec<String>,
    pub is_system: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_roles, check_for_backend(diesel::pg::Pg))]
pub struct UserRoleRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl RoleRow {
    pub fn permission_strings(&self) -> Vec<String> {
        self.permissions.iter().flatten().cloned().collect()
    }

    /// Creates the system roles of a new tenant; returns them in [`SystemRole::ALL`] order.
    pub async fn insert_system_roles(conn: &mut Conn, tenant_id: Uuid) -> AppResult<Vec<RoleRow>> {
        let new: Vec<NewRole> = SystemRole::ALL
            .iter()
            .map(|r| NewRole {
                tenant_id,
                id: Uuid::now_v7(),
                name: r.name(),
                description: r.description(),
                permissions: r
                    .permissions()
                    .iter()
                    .map(|p| p.as_str().to_owned())
                    .collect(),
                is_system: true,
            })
            .collect();
        let mut rows: Vec<RoleRow> = diesel::insert_into(roles::table)
            .values(&new)
            .returning(RoleRow::as_returning())
            .get_results(conn)
            .await?;
        rows.sort_by_key(|r| SystemRole::ALL.iter().position(|s| s.name() == r.name));
        Ok(rows)
    }

    pub async fn find_by_name(conn: &mut Conn, name: &str) -> AppResult<Option<RoleRow>> {
        Ok(roles::table
            .filter(roles::name.eq(name))
            .select(RoleRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    /// The union of the permissions of the user's tenant-wide roles, sorted.
    pub async fn tenant_permissions_of(conn: &mut Conn, user_id: Uuid) -> AppResult<Vec<String>> {
        let lists: Vec<Vec<Option<String>>> = user_roles::table
            .inner_join(
                roles::table.on(roles::tenant_id
                    .eq(user_roles::tenant_id)
                    .and(roles::id.eq(user_roles::role_id))),
            )
            .filter(user_roles::user_id.eq(user_id))
            .filter(user_roles::workspace_id.is_null())
            .select(roles::permissions)
            .load(conn)
            .await?;
        let mut all: Vec<String> = lists.into_iter().flatten().flatten().collect();
        all.sort();
        all.dedup();
        Ok(all)
    }
}

impl UserRoleRow {
    pub async fn assign(
        conn: &mut Conn,
        tenant_id: Uuid,
        user_id: Uuid,
        role_id: Uuid,
        workspace_id: Option<Uuid>,
    ) -> AppResult<UserRoleRow> {
        let row = UserRoleRow {
            tenant_id,
            id: Uuid::now_v7(),
            user_id,
            role_id,
            workspace_id,
            created_at: Utc::now(),
        };
        Ok(diesel::insert_into(user_roles::table)
            .values(&row)
            .returning(UserRoleRow::as_returning())
            .get_result(conn)
            .await?)
    }
}

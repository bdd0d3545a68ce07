//! `roles` and `user_roles`: named permission sets and who holds them, tenant-wide or per
//! workspace.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    after_key,
    db::models::page::{Keyset, Listed, PageRequest},
    db::{
        InTenant, TenantTx,
        schema::{roles, user_roles, users, workspace_members},
    },
    domain::SystemRole,
    error::{AppError, AppResult},
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
    pub async fn insert_system_roles(
        conn: &mut TenantTx,
        tenant_id: Uuid,
    ) -> AppResult<Vec<RoleRow>> {
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

    pub async fn find_by_name(conn: &mut TenantTx, name: &str) -> AppResult<Option<RoleRow>> {
        Ok(roles::table
            .filter(roles::name.eq(name))
            .select(RoleRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    /// The union of the permissions of the user's tenant-wide roles, sorted.
    pub async fn tenant_permissions_of(
        conn: &mut TenantTx,
        user_id: Uuid,
    ) -> AppResult<Vec<String>> {
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

    /// The union of the permissions of every role the user holds, in any scope: tenant-wide,
    /// assigned in a workspace, or as a workspace member's role; sorted. What managing the
    /// user must not exceed (a workspace role is still a grant the manager must be able to make).
    pub async fn all_permissions_of(conn: &mut TenantTx, user_id: Uuid) -> AppResult<Vec<String>> {
        use crate::db::schema::workspace_members;
        let assigned: Vec<Vec<Option<String>>> = user_roles::table
            .inner_join(
                roles::table.on(roles::tenant_id
                    .eq(user_roles::tenant_id)
                    .and(roles::id.eq(user_roles::role_id))),
            )
            .filter(user_roles::user_id.eq(user_id))
            .select(roles::permissions)
            .load(conn)
            .await?;
        let as_member: Vec<Vec<Option<String>>> = workspace_members::table
            .inner_join(
                roles::table.on(roles::tenant_id
                    .eq(workspace_members::tenant_id)
                    .and(workspace_members::role_id.eq(roles::id.nullable()))),
            )
            .filter(workspace_members::user_id.eq(user_id))
            .select(roles::permissions)
            .load(conn)
            .await?;
        let mut all: Vec<String> = assigned
            .into_iter()
            .chain(as_member)
            .flatten()
            .flatten()
            .collect();
        all.sort();
        all.dedup();
        Ok(all)
    }
}

impl Keyset for RoleRow {
    fn keyset(&self) -> (DateTime<Utc>, Uuid) {
        (self.created_at, self.id)
    }
}

impl RoleRow {
    /// One page in creation order (system roles first: they come with the tenant).
    pub async fn page(conn: &mut impl InTenant, page: PageRequest) -> AppResult<Vec<RoleRow>> {
        let query = roles::table.select(RoleRow::as_select()).into_boxed();
        let query = after_key!(query, roles::created_at, roles::id, page.after);
        Ok(query
            .order((roles::created_at, roles::id))
            .limit(page.fetch())
            .load(conn)
            .await?)
    }

    pub async fn count(conn: &mut impl InTenant) -> AppResult<i64> {
        Ok(roles::table.count().get_result(conn).await?)
    }

    /// One page, counted when asked (pipelined with the page).
    pub async fn list(tx: &TenantTx, page: PageRequest) -> AppResult<Listed<RoleRow>> {
        let (mut rows, mut count) = (tx.read(), tx.read());
        Listed::read(page, Self::page(&mut rows, page), Self::count(&mut count)).await
    }

    pub async fn find(conn: &mut TenantTx, id: Uuid) -> AppResult<Option<RoleRow>> {
        Ok(roles::table
            .filter(roles::id.eq(id))
            .select(RoleRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn get(conn: &mut TenantTx, id: Uuid) -> AppResult<RoleRow> {
        RoleRow::find(conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("role"))
    }

    pub async fn load_many(conn: &mut impl InTenant, ids: &[Uuid]) -> AppResult<Vec<RoleRow>> {
        Ok(roles::table
            .filter(roles::id.eq_any(ids))
            .select(RoleRow::as_select())
            .load(conn)
            .await?)
    }

    /// Inserts a custom role; a taken name is a CONFLICT.
    pub async fn insert_custom(
        conn: &mut TenantTx,
        tenant_id: Uuid,
        name: &str,
        description: &str,
        permissions: Vec<String>,
    ) -> AppResult<RoleRow> {
        if RoleRow::find_by_name(conn, name).await?.is_some() {
            let mut e = AppError::conflict("a role with this name exists already");
            e.field = Some("name".into());
            return Err(e);
        }
        Ok(diesel::insert_into(roles::table)
            .values(NewRole {
                tenant_id,
                id: Uuid::now_v7(),
                name,
                description,
                permissions,
                is_system: false,
            })
            .returning(RoleRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn update(
        conn: &mut TenantTx,
        id: Uuid,
        name: &str,
        description: &str,
        permissions: Vec<String>,
    ) -> AppResult<RoleRow> {
        if let Some(other) = RoleRow::find_by_name(conn, name).await?
            && other.id != id
        {
            let mut e = AppError::conflict("a role with this name exists already");
            e.field = Some("name".into());
            return Err(e);
        }
        Ok(diesel::update(roles::table.filter(roles::id.eq(id)))
            .set((
                roles::name.eq(name),
                roles::description.eq(description),
                roles::permissions.eq(permissions),
                roles::updated_at.eq(diesel::dsl::now),
            ))
            .returning(RoleRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn delete(conn: &mut TenantTx, id: Uuid) -> AppResult<()> {
        diesel::update(workspace_members::table.filter(workspace_members::role_id.eq(id)))
            .set(workspace_members::role_id.eq(None::<Uuid>))
            .execute(conn)
            .await?;
        diesel::delete(roles::table.filter(roles::id.eq(id)))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Active users holding the owner role tenant-wide.
    pub async fn active_owners(conn: &mut TenantTx) -> AppResult<Vec<Uuid>> {
        Ok(user_roles::table
            .inner_join(
                roles::table.on(roles::tenant_id
                    .eq(user_roles::tenant_id)
                    .and(roles::id.eq(user_roles::role_id))),
            )
            .inner_join(
                users::table.on(users::tenant_id
                    .eq(user_roles::tenant_id)
                    .and(users::id.eq(user_roles::user_id))),
            )
            .filter(roles::name.eq(SystemRole::Owner.name()))
            .filter(roles::is_system.eq(true))
            .filter(user_roles::workspace_id.is_null())
            .filter(users::status.eq("active"))
            .select(user_roles::user_id)
            .distinct()
            .load(conn)
            .await?)
    }
}

/// Role assignments joined to the roles they give (the composite key, tenant first).
#[diesel::dsl::auto_type]
fn held_roles() -> _ {
    user_roles::table.inner_join(
        roles::table.on(roles::tenant_id
            .eq(user_roles::tenant_id)
            .and(roles::id.eq(user_roles::role_id))),
    )
}

impl UserRoleRow {
    /// The roles held by the users of one users page (`UserRow::page` with the same request),
    /// as `roles_of_users` gives them. The page is a subquery here, so this read need not wait
    /// for the page's rows: it can be pipelined with it. It is `= ANY(ARRAY(page))`, run once,
    /// with the tenant named (see `InTenant::tenant_id`): as `IN (page)` the planner, misled by
    /// RLS's range estimates, read every assignment of the tenant per role (517 buffers for a
    /// page of 50 against 259, BENCHMARKS.md).
    pub async fn roles_of_page(
        conn: &mut impl InTenant,
        page: PageRequest,
    ) -> AppResult<Vec<(Uuid, RoleRow)>> {
        let tenant = conn.tenant_id();
        let ids = users::table
            .filter(users::tenant_id.eq(tenant))
            .select(users::id)
            .into_boxed();
        let ids = after_key!(ids, users::created_at, users::id, page.after)
            .order((users::created_at, users::id))
            .limit(page.fetch());
        Ok(held_roles()
            .filter(user_roles::tenant_id.eq(tenant))
            .filter(
                user_roles::user_id.eq_any(diesel::dsl::array::<diesel::sql_types::Uuid, _>(ids)),
            )
            .order(user_roles::created_at)
            .select((user_roles::user_id, RoleRow::as_select()))
            .load(conn)
            .await?)
    }

    /// The roles these users hold (any scope), as (user, role) pairs in one statement; a role
    /// held in several scopes comes once per assignment.
    pub async fn roles_of_users(
        conn: &mut impl InTenant,
        user_ids: &[Uuid],
    ) -> AppResult<Vec<(Uuid, RoleRow)>> {
        Ok(held_roles()
            .filter(user_roles::user_id.eq_any(user_ids))
            .order(user_roles::created_at)
            .select((user_roles::user_id, RoleRow::as_select()))
            .load(conn)
            .await?)
    }

    /// The assignments of these users: (user, workspace or `None` for tenant-wide, role), in
    /// assignment order, one statement.
    pub async fn assignments_of_users(
        conn: &mut impl InTenant,
        user_ids: &[Uuid],
    ) -> AppResult<Vec<(Uuid, Option<Uuid>, RoleRow)>> {
        Ok(held_roles()
            .filter(user_roles::user_id.eq_any(user_ids))
            .order(user_roles::created_at)
            .select((
                user_roles::user_id,
                user_roles::workspace_id,
                RoleRow::as_select(),
            ))
            .load(conn)
            .await?)
    }

    /// Removes an assignment; returns whether there was one.
    pub async fn unassign(
        conn: &mut TenantTx,
        user_id: Uuid,
        role_id: Uuid,
        workspace_id: Option<Uuid>,
    ) -> AppResult<bool> {
        let query = user_roles::table
            .filter(user_roles::user_id.eq(user_id))
            .filter(user_roles::role_id.eq(role_id))
            .into_boxed();
        let query = match workspace_id {
            Some(w) => query.filter(user_roles::workspace_id.eq(w)),
            None => query.filter(user_roles::workspace_id.is_null()),
        };
        let ids: Vec<Uuid> = query.select(user_roles::id).load(conn).await?;
        let n = diesel::delete(user_roles::table.filter(user_roles::id.eq_any(ids)))
            .execute(conn)
            .await?;
        Ok(n > 0)
    }

    pub async fn exists(
        conn: &mut TenantTx,
        user_id: Uuid,
        role_id: Uuid,
        workspace_id: Option<Uuid>,
    ) -> AppResult<bool> {
        let query = user_roles::table
            .filter(user_roles::user_id.eq(user_id))
            .filter(user_roles::role_id.eq(role_id))
            .into_boxed();
        let query = match workspace_id {
            Some(w) => query.filter(user_roles::workspace_id.eq(w)),
            None => query.filter(user_roles::workspace_id.is_null()),
        };
        Ok(query.count().get_result::<i64>(conn).await? > 0)
    }

    pub async fn assign(
        conn: &mut TenantTx,
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

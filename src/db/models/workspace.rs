//! `workspaces` and `workspace_members`.

use chrono::{DateTime, Utc};
use diesel::{
    pg::Pg,
    prelude::*,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    after_key,
    db::models::page::{Keyset, Listed, PageRequest},
    db::{
        InTenant, TenantTx,
        schema::{workspace_members, workspaces},
    },
    error::{AppError, AppResult},
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = workspaces, check_for_backend(diesel::pg::Pg))]
pub struct WorkspaceRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub is_default: bool,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = workspaces)]
pub struct NewWorkspace<'a> {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: &'a str,
    pub slug: &'a str,
    pub is_default: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = workspace_members, check_for_backend(diesel::pg::Pg))]
pub struct WorkspaceMemberRow {
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub role_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl Keyset for WorkspaceRow {
    fn keyset(&self) -> (DateTime<Utc>, Uuid) {
        (self.created_at, self.id)
    }
}

impl WorkspaceRow {
    pub async fn insert(conn: &mut TenantTx, new: NewWorkspace<'_>) -> AppResult<WorkspaceRow> {
        Ok(diesel::insert_into(workspaces::table)
            .values(&new)
            .returning(WorkspaceRow::as_returning())
            .get_result(conn)
            .await?)
    }
}

impl WorkspaceRow {
    pub async fn find(conn: &mut TenantTx, id: Uuid) -> AppResult<Option<WorkspaceRow>> {
        Ok(workspaces::table
            .filter(workspaces::id.eq(id))
            .select(WorkspaceRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn get(conn: &mut TenantTx, id: Uuid) -> AppResult<WorkspaceRow> {
        WorkspaceRow::find(conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("workspace"))
    }

    pub async fn slug_taken(
        conn: &mut TenantTx,
        slug: &str,
        except: Option<Uuid>,
    ) -> AppResult<bool> {
        let mut query = workspaces::table
            .filter(workspaces::slug.eq(slug))
            .into_boxed();
        if let Some(id) = except {
            query = query.filter(workspaces::id.ne(id));
        }
        Ok(query.count().get_result::<i64>(conn).await? > 0)
    }

    /// One page of the workspaces (archived ones only when asked), `limit + 1` rows at most;
    /// the tenant named for an ordered index walk (see `InTenant::tenant_id`).
    pub async fn page(
        conn: &mut impl InTenant,
        page: PageRequest,
        include_archived: bool,
    ) -> AppResult<Vec<WorkspaceRow>> {
        let mut query = workspaces::table
            .filter(workspaces::tenant_id.eq(conn.tenant_id()))
            .select(WorkspaceRow::as_select())
            .into_boxed();
        if !include_archived {
            query = query.filter(workspaces::archived_at.is_null());
        }
        let query = after_key!(query, workspaces::created_at, workspaces::id, page.after);
        Ok(query
            .order((workspaces::created_at, workspaces::id))
            .limit(page.fetch())
            .load(conn)
            .await?)
    }

    pub async fn count(conn: &mut impl InTenant, include_archived: bool) -> AppResult<i64> {
        let mut query = workspaces::table.into_boxed();
        if !include_archived {
            query = query.filter(workspaces::archived_at.is_null());
        }
        Ok(query.count().get_result(conn).await?)
    }

    /// One page, counted when asked (pipelined with the page).
    pub async fn list(
        tx: &TenantTx,
        page: PageRequest,
        include_archived: bool,
    ) -> AppResult<Listed<WorkspaceRow>> {
        let (mut rows, mut count) = (tx.read(), tx.read());
        Listed::read(
            page,
            Self::page(&mut rows, page, include_archived),
            Self::count(&mut count, include_archived),
        )
        .await
    }

    pub async fn update(
        conn: &mut TenantTx,
        id: Uuid,
        name: &str,
        slug: &str,
    ) -> AppResult<WorkspaceRow> {
        Ok(
            diesel::update(workspaces::table.filter(workspaces::id.eq(id)))
                .set((
                    workspaces::name.eq(name),
                    workspaces::slug.eq(slug),
                    workspaces::updated_at.eq(diesel::dsl::now),
                ))
                .returning(WorkspaceRow::as_returning())
                .get_result(conn)
                .await?,
        )
    }

    pub async fn archive(conn: &mut TenantTx, id: Uuid) -> AppResult<WorkspaceRow> {
        Ok(
            diesel::update(workspaces::table.filter(workspaces::id.eq(id)))
                .set((
                    workspaces::archived_at.eq(diesel::dsl::now),
                    workspaces::updated_at.eq(diesel::dsl::now),
                ))
                .returning(WorkspaceRow::as_returning())
                .get_result(conn)
                .await?,
        )
    }
}

/// One row of a members page, with its workspace's member count.
#[derive(Debug, Clone, QueryableByName)]
pub struct MemberPageRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub workspace_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub user_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    pub role_id: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub total: i64,
}

impl WorkspaceMemberRow {
    /// A page of members for each of several workspaces, with each one's total, in one
    /// statement: the workspaces' members are numbered per workspace and cut at `limit + 1`.
    pub async fn pages(
        conn: &mut TenantTx,
        workspace_ids: &[Uuid],
        page: PageRequest,
    ) -> AppResult<Vec<MemberPageRow>> {
        let (after_at, after_id) = match page.after {
            Some((at, id)) => (Some(at), Some(id)),
            None => (None, None),
        };
        Ok(MemberPages {
            workspace_ids: workspace_ids.to_vec(),
            after_at,
            after_id,
            limit: page.fetch(),
        }
        .load(conn)
        .await?)
    }

    pub async fn remove(conn: &mut TenantTx, workspace_id: Uuid, user_id: Uuid) -> AppResult<bool> {
        Ok(diesel::delete(
            workspace_members::table
                .filter(workspace_members::workspace_id.eq(workspace_id))
                .filter(workspace_members::user_id.eq(user_id)),
        )
        .execute(conn)
        .await?
            > 0)
    }

    /// Adds a member, or changes the member's workspace role.
    pub async fn upsert(conn: &mut TenantTx, row: &WorkspaceMemberRow) -> AppResult<()> {
        diesel::insert_into(workspace_members::table)
            .values(row)
            .on_conflict((
                workspace_members::tenant_id,
                workspace_members::workspace_id,
                workspace_members::user_id,
            ))
            .do_update()
            .set(workspace_members::role_id.eq(row.role_id))
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// The statement of [`WorkspaceMemberRow::pages`]. Written out as a query with a static id
/// rather than with `diesel::sql_query`, which diesel never caches: each connection prepares it
/// once, instead of PostgreSQL parsing and planning it, in a round trip of its own, on every
/// request.
struct MemberPages {
    workspace_ids: Vec<Uuid>,
    after_at: Option<DateTime<Utc>>,
    after_id: Option<Uuid>,
    limit: i64,
}

impl QueryId for MemberPages {
    type QueryId = MemberPages;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for MemberPages {
    type SqlType = diesel::sql_types::Untyped;
}

impl QueryFragment<Pg> for MemberPages {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Nullable, Timestamptz, Uuid as SqlUuid};
        out.push_sql(
            "WITH m AS (SELECT workspace_id, user_id, role_id, created_at FROM workspace_members \
                        WHERE workspace_id = ANY(",
        );
        out.push_bind_param::<Array<SqlUuid>, _>(&self.workspace_ids)?;
        out.push_sql(
            ")), totals AS (SELECT workspace_id, count(*) AS total FROM m GROUP BY workspace_id), \
             page AS (SELECT m.*, row_number() OVER \
                        (PARTITION BY workspace_id ORDER BY created_at, user_id) AS rn \
                      FROM m WHERE ",
        );
        out.push_bind_param::<Nullable<Timestamptz>, _>(&self.after_at)?;
        out.push_sql("::timestamptz IS NULL OR (created_at, user_id) > (");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&self.after_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&self.after_id)?;
        out.push_sql(
            ")) SELECT page.workspace_id, page.user_id, page.role_id, page.created_at, totals.total \
             FROM page JOIN totals USING (workspace_id) WHERE rn <= ",
        );
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(" ORDER BY page.workspace_id, page.created_at, page.user_id");
        Ok(())
    }
}

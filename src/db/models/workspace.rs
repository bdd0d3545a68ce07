//! `workspaces` and `workspace_members`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        Conn,
        schema::{workspace_members, workspaces},
    },
    error::AppResult,
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

impl WorkspaceRow {
    pub async fn insert(conn: &mut Conn, new: NewWorkspace<'_>) -> AppResult<WorkspaceRow> {
        Ok(diesel::insert_into(workspaces::table)
            .values(&new)
            .returning(WorkspaceRow::as_returning())
            .get_result(conn)
            .await?)
    }
}

impl WorkspaceMemberRow {
    /// Adds a member, or changes the member's workspace role.
    pub async fn upsert(conn: &mut Conn, row: &WorkspaceMemberRow) -> AppResult<()> {
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

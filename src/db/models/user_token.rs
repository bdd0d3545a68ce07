//! `user_tokens`: one-time tokens for invitations and password resets, stored as SHA-256.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{TenantTx, schema::user_tokens},
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_tokens, check_for_backend(diesel::pg::Pg))]
pub struct UserTokenRow {
    pub tenant_id: Uuid,
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    pub purpose: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl UserTokenRow {
    pub async fn insert(conn: &mut TenantTx, row: &UserTokenRow) -> AppResult<()> {
        // A new token of a purpose replaces the user's unused ones.
        diesel::delete(
            user_tokens::table
                .filter(user_tokens::user_id.eq(row.user_id))
                .filter(user_tokens::purpose.eq(&row.purpose))
                .filter(user_tokens::used_at.is_null()),
        )
        .execute(conn)
        .await?;
        diesel::insert_into(user_tokens::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Marks an unused, unexpired token of `purpose` as used and returns it (locked).
    pub async fn consume(
        conn: &mut TenantTx,
        hash: &[u8],
        purpose: &str,
    ) -> AppResult<Option<UserTokenRow>> {
        Ok(diesel::update(
            user_tokens::table
                .filter(user_tokens::token_hash.eq(hash))
                .filter(user_tokens::purpose.eq(purpose))
                .filter(user_tokens::used_at.is_null())
                .filter(user_tokens::expires_at.gt(diesel::dsl::now)),
        )
        .set(user_tokens::used_at.eq(diesel::dsl::now))
        .returning(UserTokenRow::as_returning())
        .get_result(conn)
        .await
        .optional()?)
    }
}

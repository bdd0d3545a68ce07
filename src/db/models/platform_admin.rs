//! `platform_admins`: the hub's super admins (system scope only).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{SystemTx, models::user::lower, schema::platform_admins},
    error::{AppError, AppResult},
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = platform_admins, check_for_backend(diesel::pg::Pg))]
pub struct PlatformAdminRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl PlatformAdminRow {
    pub async fn find_by_email(
        conn: &mut SystemTx,
        email: &str,
    ) -> AppResult<Option<PlatformAdminRow>> {
        Ok(platform_admins::table
            .filter(lower(platform_admins::email).eq(email.to_lowercase()))
            .select(PlatformAdminRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn find(conn: &mut SystemTx, id: Uuid) -> AppResult<Option<PlatformAdminRow>> {
        Ok(platform_admins::table
            .find(id)
            .select(PlatformAdminRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    /// Creates an admin, or sets the password of an existing one with that email.
    pub async fn upsert(
        conn: &mut SystemTx,
        email: &str,
        password_hash: &str,
    ) -> AppResult<(PlatformAdminRow, bool)> {
        if let Some(existing) = PlatformAdminRow::find_by_email(conn, email).await? {
            let row = diesel::update(platform_admins::table.find(existing.id))
                .set(platform_admins::password_hash.eq(password_hash))
                .returning(PlatformAdminRow::as_returning())
                .get_result(conn)
                .await?;
            return Ok((row, false));
        }
        let row = diesel::insert_into(platform_admins::table)
            .values((
                platform_admins::id.eq(Uuid::now_v7()),
                platform_admins::email.eq(email),
                platform_admins::password_hash.eq(password_hash),
            ))
            .returning(PlatformAdminRow::as_returning())
            .get_result(conn)
            .await
            .map_err(AppError::from)?;
        Ok((row, true))
    }
}

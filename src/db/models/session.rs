//! `sessions` and `refresh_tokens`: a sign-in (from the API or a browser) and the single-use
//! refresh tokens it was given.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        models::BackchannelLogoutRow,
        schema::{refresh_tokens, sessions, tenants, users},
    },
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct SessionRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// When the user proved who they are (OpenID Connect `auth_time`).
    pub auth_time: DateTime<Utc>,
    /// How: RFC 8176 values (`pwd`, `otp`, `hwk`, `fed`), space-separated.
    pub amr: String,
    /// A browser session's cookie, hashed; None for API sessions.
    pub browser_token_hash: Option<Vec<u8>>,
    /// When the browser last used the session (its idle lifetime).
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::pg::Pg))]
pub struct RefreshTokenRow {
    pub tenant_id: Uuid,
    pub token_hash: Vec<u8>,
    pub session_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// The OAuth client the token was given to; it works for that client only.
    pub client_id: Option<Uuid>,
}

/// What an access token's bearer is worth right now: read on every request (cached briefly).
#[derive(Debug, Clone, Queryable)]
pub struct SessionState {
    pub tenant_status: String,
    /// The tenant's limits (jsonb), for the rate limiter.
    pub tenant_limits: serde_json::Value,
    pub user_status: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

impl SessionState {
    pub fn api_calls_per_minute(&self) -> u32 {
        serde_json::from_value::<crate::domain::Limits>(self.tenant_limits.clone())
            .unwrap_or_default()
            .api_calls_per_minute
            .max(1) as u32
    }

    pub fn session_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && self.user_status == "active"
    }
}

impl SessionRow {
    pub async fn insert(conn: &mut TenantTx, row: &SessionRow) -> AppResult<()> {
        diesel::insert_into(sessions::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn find(conn: &mut TenantTx, id: Uuid) -> AppResult<Option<SessionRow>> {
        Ok(sessions::table
            .filter(sessions::id.eq(id))
            .select(SessionRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    /// The session with its user's and tenant's status, in one statement.
    pub async fn state(
        conn: &mut TenantTx,
        id: Uuid,
        user_id: Uuid,
    ) -> AppResult<Option<SessionState>> {
        Ok(sessions::table
            .inner_join(tenants::table)
            .inner_join(
                users::table.on(users::tenant_id
                    .eq(sessions::tenant_id)
                    .and(users::id.eq(sessions::user_id))),
            )
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user_id))
            .select((
                tenants::status,
                tenants::limits,
                users::status,
                sessions::revoked_at,
                sessions::expires_at,
            ))
            .first(conn)
            .await
            .optional()?)
    }

    /// Revokes one session (no-op when already revoked); returns whether it changed anything.
    /// A revoked session queues its back-channel logout notices in the same transaction.
    pub async fn revoke(conn: &mut TenantTx, id: Uuid, reason: &str) -> AppResult<bool> {
        let n = diesel::update(
            sessions::table
                .filter(sessions::id.eq(id))
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::revoked_at.eq(diesel::dsl::now),
            sessions::revoked_reason.eq(reason),
        ))
        .execute(conn)
        .await?;
        if n > 0 {
            BackchannelLogoutRow::queue_for_sessions(conn, &[id]).await?;
        }
        Ok(n > 0)
    }

    /// Revokes every open session of a user; returns their ids.
    pub async fn revoke_all_of_user(
        conn: &mut TenantTx,
        user_id: Uuid,
        reason: &str,
    ) -> AppResult<Vec<Uuid>> {
        SessionRow::revoke_all_of_user_but(conn, user_id, None, reason).await
    }

    /// Revokes every open session of a user but `keep` (the one making a change); returns
    /// their ids. A session revoked already stays revoked, `keep` included. The revoked
    /// sessions queue their back-channel logout notices in the same transaction.
    pub async fn revoke_all_of_user_but(
        conn: &mut TenantTx,
        user_id: Uuid,
        keep: Option<Uuid>,
        reason: &str,
    ) -> AppResult<Vec<Uuid>> {
        let revoked: Vec<Uuid> = diesel::update(
            sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::id.ne(keep.unwrap_or(Uuid::nil()))),
        )
        .set((
            sessions::revoked_at.eq(diesel::dsl::now),
            sessions::revoked_reason.eq(reason),
        ))
        .returning(sessions::id)
        .get_results(conn)
        .await?;
        BackchannelLogoutRow::queue_for_sessions(conn, &revoked).await?;
        Ok(revoked)
    }

    /// The open browser session whose cookie hashes to `hash`, with its user's email and
    /// name and its tenant's name, if the session, its user and its tenant are all usable
    /// and it was used within `idle` (and its user and tenant are active).
    pub async fn find_browser(
        conn: &mut TenantTx,
        hash: &[u8],
        idle: chrono::Duration,
    ) -> AppResult<Option<(SessionRow, String, Option<String>)>> {
        let now = Utc::now();
        Ok(sessions::table
            .inner_join(tenants::table)
            .inner_join(
                users::table.on(users::tenant_id
                    .eq(sessions::tenant_id)
                    .and(users::id.eq(sessions::user_id))),
            )
            .filter(sessions::browser_token_hash.eq(hash))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::last_seen_at.gt(now - idle))
            .filter(users::status.eq("active"))
            .filter(tenants::status.eq("active"))
            .select((SessionRow::as_select(), users::email, users::display_name))
            .first(conn)
            .await
            .optional()?)
    }

    /// Records that the browser used its session now (the idle lifetime starts again).
    pub async fn touch_seen(conn: &mut TenantTx, id: Uuid) -> AppResult<()> {
        diesel::update(sessions::table.filter(sessions::id.eq(id)))
            .set(sessions::last_seen_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn touch_refreshed(conn: &mut TenantTx, id: Uuid) -> AppResult<()> {
        diesel::update(sessions::table.filter(sessions::id.eq(id)))
            .set(sessions::last_refreshed_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
        Ok(())
    }
}

impl RefreshTokenRow {
    pub async fn insert(
        conn: &mut TenantTx,
        tenant_id: Uuid,
        session_id: Uuid,
        token_hash: Vec<u8>,
        client_id: Option<Uuid>,
    ) -> AppResult<()> {
        let row = RefreshTokenRow {
            tenant_id,
            token_hash,
            session_id,
            created_at: Utc::now(),
            used_at: None,
            client_id,
        };
        diesel::insert_into(refresh_tokens::table)
            .values(&row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Finds the token and locks it, so two concurrent refreshes with one token cannot both win.
    pub async fn find_for_update(
        conn: &mut TenantTx,
        token_hash: &[u8],
    ) -> AppResult<Option<RefreshTokenRow>> {
        Ok(refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .select(RefreshTokenRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn mark_used(conn: &mut TenantTx, token_hash: &[u8]) -> AppResult<()> {
        diesel::update(refresh_tokens::table.filter(refresh_tokens::token_hash.eq(token_hash)))
            .set(refresh_tokens::used_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
        Ok(())
    }
}

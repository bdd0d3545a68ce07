//! `oauth_codes` (authorization codes, hashed, single use) and `oauth_session_clients` (which
//! clients signed in on a session, for back-channel logout).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        schema::{oauth_codes, oauth_session_clients, refresh_tokens, sessions},
    },
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_codes, check_for_backend(diesel::pg::Pg))]
pub struct OAuthCodeRow {
    pub tenant_id: Uuid,
    pub code_hash: Vec<u8>,
    pub client_id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub redirect_uri: String,
    /// The PKCE S256 challenge: base64url(SHA-256(verifier)).
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl OAuthCodeRow {
    pub async fn insert(conn: &mut TenantTx, row: &OAuthCodeRow) -> AppResult<()> {
        diesel::insert_into(oauth_codes::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Finds the code and locks it, so two concurrent exchanges of one code cannot both win.
    pub async fn find_for_update(
        conn: &mut TenantTx,
        code_hash: &[u8],
    ) -> AppResult<Option<OAuthCodeRow>> {
        Ok(oauth_codes::table
            .filter(oauth_codes::code_hash.eq(code_hash))
            .select(OAuthCodeRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?)
    }

    /// The scope of the latest code exchanged by `client_id` in `session_id`: what the user
    /// granted that client in that session (userinfo answers with its claims only).
    pub async fn granted_scope(
        conn: &mut TenantTx,
        session_id: Uuid,
        client_id: Uuid,
    ) -> AppResult<Option<String>> {
        Ok(oauth_codes::table
            .filter(oauth_codes::session_id.eq(session_id))
            .filter(oauth_codes::client_id.eq(client_id))
            .filter(oauth_codes::used_at.is_not_null())
            .order(oauth_codes::created_at.desc())
            .select(oauth_codes::scope)
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn mark_used(conn: &mut TenantTx, code_hash: &[u8]) -> AppResult<()> {
        diesel::update(oauth_codes::table.filter(oauth_codes::code_hash.eq(code_hash)))
            .set(oauth_codes::used_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// Which clients signed in on a session.
pub struct OAuthSessionClients;

impl OAuthSessionClients {
    /// Records that `client_id` signed in on `session_id` (once per pair).
    pub async fn record(
        conn: &mut TenantTx,
        tenant_id: Uuid,
        session_id: Uuid,
        client_id: Uuid,
    ) -> AppResult<()> {
        diesel::insert_into(oauth_session_clients::table)
            .values((
                oauth_session_clients::tenant_id.eq(tenant_id),
                oauth_session_clients::session_id.eq(session_id),
                oauth_session_clients::client_id.eq(client_id),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The clients that signed in on the session.
    pub async fn of_session(conn: &mut TenantTx, session_id: Uuid) -> AppResult<Vec<Uuid>> {
        Ok(oauth_session_clients::table
            .filter(oauth_session_clients::session_id.eq(session_id))
            .select(oauth_session_clients::client_id)
            .order(oauth_session_clients::signed_in_at)
            .load(conn)
            .await?)
    }
}

/// The refresh tokens given to OAuth clients (`refresh_tokens.client_id`).
pub struct ClientRefreshTokens;

/// What introspection tells of a refresh token.
#[derive(Debug, Clone, Queryable)]
pub struct RefreshTokenInfo {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub used_at: Option<DateTime<Utc>>,
    pub client_id: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

impl ClientRefreshTokens {
    /// Deletes the unused refresh token `token_hash` if it was given to `client_id`; returns
    /// its session.
    pub async fn revoke(
        conn: &mut TenantTx,
        token_hash: &[u8],
        client_id: Uuid,
    ) -> AppResult<Option<Uuid>> {
        Ok(diesel::delete(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(token_hash))
                .filter(refresh_tokens::client_id.eq(client_id))
                .filter(refresh_tokens::used_at.is_null()),
        )
        .returning(refresh_tokens::session_id)
        .get_result(conn)
        .await
        .optional()?)
    }

    /// A refresh token with its session's state.
    pub async fn info(
        conn: &mut TenantTx,
        token_hash: &[u8],
    ) -> AppResult<Option<RefreshTokenInfo>> {
        Ok(refresh_tokens::table
            .inner_join(
                sessions::table.on(sessions::tenant_id
                    .eq(refresh_tokens::tenant_id)
                    .and(sessions::id.eq(refresh_tokens::session_id))),
            )
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .select((
                refresh_tokens::session_id,
                sessions::user_id,
                refresh_tokens::used_at,
                refresh_tokens::client_id,
                sessions::revoked_at,
                sessions::expires_at,
            ))
            .first(conn)
            .await
            .optional()?)
    }
}

//! `backchannel_logouts` and `backchannel_logout_attempts`: the outbox of OpenID Connect
//! Back-Channel Logout 1.0 tokens. [`BackchannelLogoutRow::queue_for_sessions`] runs in the
//! tenant transaction that ends the sessions (called by `SessionRow::revoke*`, so every way a
//! session ends queues its notices); the housekeeping loop claims and records them in short
//! system transactions (`oauth::backchannel`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        InTenant, TenantTx,
        schema::{
            backchannel_logout_attempts, backchannel_logouts, oauth_clients, oauth_session_clients,
            sessions,
        },
    },
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = backchannel_logouts, check_for_backend(diesel::pg::Pg))]
pub struct BackchannelLogoutRow {
    pub tenant_id: Uuid,
    /// The logout token's `jti`.
    pub id: Uuid,
    /// The ended session (`sid`).
    pub session_id: Uuid,
    /// Its user (`sub`).
    pub user_id: Uuid,
    /// The client told (`aud`).
    pub client_id: Uuid,
    /// Where the token is POSTed.
    pub uri: String,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub attempts: i32,
    pub delivered_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl BackchannelLogoutRow {
    /// Queues one logout token per client that signed in on one of `session_ids` and has a
    /// back-channel logout URI (once per session and client), in the caller's transaction.
    /// Returns how many were queued.
    pub async fn queue_for_sessions(conn: &mut TenantTx, session_ids: &[Uuid]) -> AppResult<usize> {
        if session_ids.is_empty() {
            return Ok(0);
        }
        let source = oauth_session_clients::table
            .inner_join(
                oauth_clients::table.on(oauth_clients::id.eq(oauth_session_clients::client_id)),
            )
            .inner_join(
                sessions::table.on(sessions::tenant_id
                    .eq(oauth_session_clients::tenant_id)
                    .and(sessions::id.eq(oauth_session_clients::session_id))),
            )
            .filter(oauth_session_clients::session_id.eq_any(session_ids))
            .filter(oauth_clients::backchannel_logout_uri.is_not_null())
            .select((
                oauth_session_clients::tenant_id,
                oauth_session_clients::session_id,
                sessions::user_id,
                oauth_session_clients::client_id,
                oauth_clients::backchannel_logout_uri.assume_not_null(),
            ));
        Ok(diesel::insert_into(backchannel_logouts::table)
            .values(source)
            .into_columns((
                backchannel_logouts::tenant_id,
                backchannel_logouts::session_id,
                backchannel_logouts::user_id,
                backchannel_logouts::client_id,
                backchannel_logouts::uri,
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?)
    }

    /// The notices queued for a session of the tenant of `conn`, oldest first.
    pub async fn of_session(
        conn: &mut impl InTenant,
        session_id: Uuid,
    ) -> AppResult<Vec<BackchannelLogoutRow>> {
        Ok(backchannel_logouts::table
            .filter(backchannel_logouts::session_id.eq(session_id))
            .order(backchannel_logouts::created_at)
            .select(BackchannelLogoutRow::as_select())
            .load(conn)
            .await?)
    }
}

crate::outbox_delivery! {
    row: BackchannelLogoutRow,
    outbox: backchannel_logouts,
    delivered: delivered_at as "delivered",
    attempts: backchannel_logout_attempts (logout_id),
    spent: (),
}

//! Logging out of the hub through a product (OpenID Connect RP-Initiated Logout 1.0): the hub
//! session ends like any other (`sessions::end`: its refresh tokens stop working, its access
//! tokens are refused, and its back-channel logout notices are queued in the same
//! transaction), and the client that asked is recorded as `oauth.logout`.

use serde_json::json;
use uuid::Uuid;

use crate::{
    db::{TenantTx, audit::AuditEvent},
    domain::Action,
    error::AppResult,
    ops::{Done, sessions},
};

/// Ends `session_id` at the request of `client_id` (None: a logout at the hub's endpoint
/// without a client). Returns whether the session was still open.
pub async fn end_for_client(
    tx: &mut TenantTx,
    session_id: Uuid,
    client_id: Option<Uuid>,
) -> AppResult<Done<bool>> {
    let mut done = sessions::end(tx, session_id, "rp_logout").await?;
    done.events.push(
        AuditEvent::new(Action::OAuthLogout)
            .target("session", session_id)
            .details(json!({ "client_id": client_id, "session_was_open": done.value })),
    );
    Ok(done)
}

//! OpenID Connect Back-Channel Logout 1.0: telling each product a hub session signed in to that
//! the session has ended. The notices are queued in the transaction that ends the session
//! (`db::models::BackchannelLogoutRow`, called by every session revocation); the housekeeping
//! loop calls [`deliver_pending`], which claims due notices in batches (a lease, SKIP LOCKED),
//! signs a logout token for each ([`logout_token`]: `typ: logout+jwt`, `iss`, `aud` = the client
//! id, `iat`, a short `exp`, `jti` = the notice's id, `sub`, `sid`, the back-channel logout
//! event, never a `nonce`) and POSTs it as `logout_token=<JWT>` through the SSRF-guarded
//! client (`outbound`), outside any transaction. Each attempt is recorded; a refused or failed
//! one is retried after a growing delay (HUB_BACKCHANNEL_RETRY_SECS, doubling, at most an
//! hour) up to [`MAX_ATTEMPTS`]. At least once: the `jti` stays the same across retries, so a
//! product can tell a repeat.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    auth::{TokenIssuer, keys::now_unix},
    config::Settings,
    db::{Db, ScopedFutureExt, SystemReason, models::BackchannelLogoutRow},
    error::AppResult,
    mail::delivery::retry_delay,
};

/// The `typ` header of logout tokens (Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// The event a logout token carries.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid (§2.4 recommends a short lifetime).
pub const LOGOUT_TOKEN_TTL_SECS: i64 = 120;

/// Attempts per notice before it is failed.
pub const MAX_ATTEMPTS: i32 = 12;

/// Notices claimed and sent per batch.
const BATCH: i64 = 20;

/// How long a claim keeps other replicas off a batch: every POST timing out (the outbound
/// client's 10 s), and a margin.
const LEASE: Duration = Duration::from_secs(BATCH as u64 * 10 + 30);

/// The claims of a logout token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogoutClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sub: String,
    pub sid: String,
    pub events: Value,
}

/// Signs the logout token of a notice, valid for [`LOGOUT_TOKEN_TTL_SECS`] from now.
pub fn logout_token(tokens: &TokenIssuer, notice: &BackchannelLogoutRow) -> AppResult<String> {
    let now = now_unix();
    let claims = LogoutClaims {
        iss: tokens.issuer().to_owned(),
        aud: notice.client_id.to_string(),
        iat: now,
        exp: now + LOGOUT_TOKEN_TTL_SECS,
        jti: notice.id.to_string(),
        sub: notice.user_id.to_string(),
        sid: notice.session_id.to_string(),
        events: json!({ LOGOUT_EVENT: {} }),
    };
    tokens.sign(LOGOUT_TOKEN_TYP, &claims)
}

/// Delivers the notices that are due, in batches, never inside a transaction. Returns how many
/// were delivered.
pub async fn deliver_pending(
    db: &Db,
    http: &reqwest::Client,
    tokens: &TokenIssuer,
    settings: &Settings,
) -> AppResult<usize> {
    let mut delivered = 0;
    loop {
        let claimed = db
            .system_tx(SystemReason::Housekeeping, |conn| {
                BackchannelLogoutRow::claim_due_rows(conn, BATCH, LEASE).scope_boxed()
            })
            .await?;
        let count = claimed.len();
        for notice in claimed {
            let outcome = send(http, tokens, settings, &notice).await;
            delivered += usize::from(outcome.is_ok());
            let attempt = notice.attempts + 1;
            let outcome = outcome.map_err(|e| {
                tracing::warn!(
                    notice = %notice.id, client = %notice.client_id, attempt, error = %e,
                    "back-channel logout not delivered"
                );
                let retry = (attempt < MAX_ATTEMPTS)
                    .then(|| retry_delay(settings.backchannel_retry_secs, attempt));
                (e, retry)
            });
            db.system_tx(SystemReason::Housekeeping, move |conn| {
                async move { BackchannelLogoutRow::record_attempt(conn, &notice, outcome).await }
                    .scope_boxed()
            })
            .await?;
        }
        if count < BATCH as usize {
            return Ok(delivered);
        }
    }
}

/// One POST of one notice (§2.5: `application/x-www-form-urlencoded`, `logout_token`); the
/// error says what went wrong. A product answers 200 (or another 2xx) when it accepted it.
async fn send(
    http: &reqwest::Client,
    tokens: &TokenIssuer,
    settings: &Settings,
    notice: &BackchannelLogoutRow,
) -> Result<(), String> {
    let url = url::Url::parse(&notice.uri).map_err(|e| format!("the URI is not a URL: {e}"))?;
    // A host name is resolved and checked by the client's resolver (crate::outbound).
    crate::outbound::check_static(&url, settings.webhook_allow_private)
        .map_err(|refusal| refusal.to_string())?;
    let token = logout_token(tokens, notice).map_err(|_| "cannot sign".to_owned())?;
    let result = http
        .post(url)
        .header("cache-control", "no-store")
        .form(&[("logout_token", token.as_str())])
        .send()
        .await;
    match result {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Err(error_chain(&e)),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(1000).collect()
}

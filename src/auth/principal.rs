//! Who is calling: the Principal of a request, from its Bearer token, verified and checked
//! against the session, user and tenant rows (cached briefly, see `session_cache`).

use std::sync::Arc;

use uuid::Uuid;

use crate::db::ScopedFutureExt;
use crate::db::SystemReason;

use crate::{
    auth::{
        TokenIssuer, admin_sessions,
        login_limiter::LoginLimiter,
        opaque,
        session_cache::{SessionCache, SessionKey},
    },
    db::Db,
    db::models::ApiKeyRow,
    db::models::SessionRow,
    error::{AppError, AppResult},
};

/// A tenant member, as proven by an access token of a live session.
#[derive(Debug, Clone)]
pub struct MemberPrincipal {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// active | suspended | deactivated: guards refuse inactive tenants (TENANT_INACTIVE),
    /// except where the owner may still act (export).
    pub tenant_status: String,
    /// The tenant's limit, for the rate limiter.
    pub api_calls_per_minute: u32,
    /// How the session was signed in, as the token says (`amr`; empty for tokens without it).
    pub amr: Vec<String>,
}

/// A product app acting for a tenant with an API key (reportUsage).
#[derive(Debug, Clone)]
pub struct ApiKeyPrincipal {
    pub tenant_id: Uuid,
    pub key_id: Uuid,
    pub product_id: String,
    pub tenant_status: String,
    pub api_calls_per_minute: u32,
    /// The reads the key may make besides reporting usage.
    pub scopes: Vec<crate::domain::ApiKeyScope>,
}

impl ApiKeyPrincipal {
    pub fn may(&self, scope: crate::domain::ApiKeyScope) -> bool {
        self.scopes.contains(&scope)
    }
}

impl MemberPrincipal {
    pub fn tenant_active(&self) -> bool {
        self.tenant_status == "active"
    }
}

#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    Member(MemberPrincipal),
    /// A platform admin with a live admin session (revoked by `logout`).
    PlatformAdmin {
        admin_id: Uuid,
        session_id: Uuid,
    },
    ApiKey(ApiKeyPrincipal),
}

impl Principal {
    pub fn tenant_id(&self) -> Option<Uuid> {
        match self {
            Principal::Member(m) => Some(m.tenant_id),
            Principal::ApiKey(k) => Some(k.tenant_id),
            _ => None,
        }
    }

    /// The tenant whose quota this request counts against, with its per-minute limit.
    pub fn rate_limited_tenant(&self) -> Option<(Uuid, u32)> {
        match self {
            Principal::Member(m) => Some((m.tenant_id, m.api_calls_per_minute)),
            Principal::ApiKey(k) => Some((k.tenant_id, k.api_calls_per_minute)),
            _ => None,
        }
    }
}

/// What resolving a Principal needs: the token keys, this replica's session cache, the login
/// limiter (API-key guesses count there) and the database. Built once by the wiring.
#[derive(Clone)]
pub struct Authenticator {
    pub db: Db,
    pub tokens: Arc<TokenIssuer>,
    pub sessions: Arc<SessionCache>,
    pub login_limiter: Arc<LoginLimiter>,
}

/// Resolves the `Authorization` header. No header: Anonymous. A header that is not a valid
/// Bearer token of a live session: UNAUTHENTICATED (never silently anonymous).
///
/// API keys are secrets a client could guess at: a wrong key counts as a failed attempt of the
/// client's network in the login limiter (HUB_LOGIN_FAILURES_PER_IP_PER_MINUTE and the
/// account delays), and a client held back there is refused before any database lookup.
pub async fn authenticate(
    state: &Authenticator,
    authorization: Option<&str>,
    ip: &str,
) -> AppResult<Principal> {
    let Some(header) = authorization else {
        return Ok(Principal::Anonymous);
    };
    if let Some(key) = header.strip_prefix("ApiKey ") {
        // Counted per client IP (never per key or tenant: guesses from elsewhere must not
        // lock a product app out).
        let account = format!("api-key@{ip}");
        state.login_limiter.check(ip, &account)?;
        let found = authenticate_api_key(state, key.trim()).await;
        if let Err(e) = &found
            && e.code == crate::error::ErrorCode::Unauthenticated
        {
            state.login_limiter.failed(ip, &account);
        }
        return found;
    }
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AppError::unauthenticated(
                "the Authorization header must be `Bearer <access token>` or `ApiKey <key>`",
            )
            .with_reason(crate::error::Reason::AuthorizationMalformed)
        })?;
    let claims = state.tokens.verify(token)?;
    match (claims.tid, claims.sid) {
        (Some(tenant_id), Some(session_id)) => {
            let user_id = claims.sub;
            let key = SessionKey {
                tenant_id,
                user_id,
                session_id,
            };
            let cached = state.sessions.get(key);
            let session = match cached {
                Some(s) => Some(s),
                None => {
                    let s = state
                        .db
                        .tenant_tx(tenant_id, move |conn| {
                            SessionRow::state(conn, session_id, user_id).scope_boxed()
                        })
                        .await?;
                    if let Some(s) = &s {
                        state.sessions.put(key, s.clone());
                    }
                    s
                }
            };
            let session = session.ok_or_else(|| {
                AppError::unauthenticated("session not found")
                    .with_reason(crate::error::Reason::TokenInvalid)
            })?;
            if !session.session_usable(chrono::Utc::now()) {
                return Err(
                    AppError::unauthenticated("this session has ended; log in again")
                        .with_reason(crate::error::Reason::TokenInvalid),
                );
            }
            if session.tenant_status == "purged" {
                return Err(AppError::unauthenticated("session not found")
                    .with_reason(crate::error::Reason::TokenInvalid));
            }
            Ok(Principal::Member(MemberPrincipal {
                tenant_id,
                user_id,
                session_id,
                api_calls_per_minute: session.api_calls_per_minute(),
                tenant_status: session.tenant_status,
                amr: claims.amr.clone().unwrap_or_default(),
            }))
        }
        (None, Some(session_id)) => {
            // Few requests, and revocation must hold at once on every replica: read the
            // session each time (one indexed row with its admin).
            let admin_id = claims.sub;
            let live = state
                .db
                .system_tx(SystemReason::Authentication, move |conn| {
                    admin_sessions::is_live(conn, session_id, admin_id).scope_boxed()
                })
                .await?;
            if !live {
                return Err(AppError::unauthenticated(
                    "this session has ended; log in again",
                ));
            }
            Ok(Principal::PlatformAdmin {
                admin_id,
                session_id,
            })
        }
        // verify() accepts no other shape.
        _ => Err(AppError::unauthenticated("invalid or expired access token")),
    }
}

/// `Authorization: ApiKey <key>`: a product app's key, looked up by its hash in its tenant.
async fn authenticate_api_key(state: &Authenticator, key: &str) -> AppResult<Principal> {
    let invalid = || {
        AppError::unauthenticated("invalid API key")
            .with_reason(crate::error::Reason::ApiKeyInvalid)
    };
    let tenant_id = opaque::tenant_of(key).ok_or_else(invalid)?;
    let hash = opaque::hash(key);
    let found = state
        .db
        .tenant_tx(tenant_id, |conn| {
            async move {
                let found = ApiKeyRow::state(conn, &hash).await?;
                // At most one write a minute per key, not one per request.
                let stale = |at: chrono::DateTime<chrono::Utc>| {
                    chrono::Utc::now() - at
                        > chrono::Duration::seconds(crate::db::models::api_key::TOUCH_INTERVAL_SECS)
                };
                if let Some(k) = found.as_ref().filter(|k| k.last_used_at.is_none_or(stale)) {
                    ApiKeyRow::touch(conn, k.id).await?;
                }
                Ok(found)
            }
            .scope_boxed()
        })
        .await?
        .ok_or_else(invalid)?;
    if found.tenant_status == "purged" {
        return Err(invalid());
    }
    let limits: crate::domain::Limits =
        serde_json::from_value(found.tenant_limits).unwrap_or_default();
    Ok(Principal::ApiKey(ApiKeyPrincipal {
        tenant_id,
        key_id: found.id,
        product_id: found.product_id,
        tenant_status: found.tenant_status,
        api_calls_per_minute: limits.api_calls_per_minute.max(1) as u32,
        scopes: found
            .scopes
            .iter()
            .flatten()
            .filter_map(|s| crate::domain::ApiKeyScope::parse(s))
            .collect(),
    }))
}

//! The browser session of the hosted pages: what makes single sign-on across the products. A
//! sign-in on the hub's login page opens a session row (`sessions`, with the hash of the cookie's
//! value) and sets the `__Host-hub_session` cookie (HttpOnly, Secure, SameSite=Lax, Path=/,
//! host-only); a product that later sends the browser to `/oauth/authorize` finds it here and
//! gets its code without a prompt. The session is revocable like any other, ends after
//! HUB_BROWSER_SESSION_IDLE_SECS without use and HUB_BROWSER_SESSION_MAX_SECS after its
//! sign-in, and ends with its user or tenant.
//!
//! The cookie's value is an opaque tenant-scoped token (`auth::opaque`), so the lookup runs in
//! that tenant's scope; only its SHA-256 is stored.

use actix_web::{
    HttpRequest,
    cookie::{Cookie, SameSite},
};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::{
    auth::opaque,
    db::{ScopedFutureExt, audit::Actor, models::SessionRow},
    error::AppResult,
    ops::sign_in::SignIn,
    ops::{
        self,
        sessions::{self, AuthMethod, Authenticated, SessionStart},
    },
    request::RequestMeta,
    web::cookies,
};

pub const COOKIE: &str = "__Host-hub_session";

/// How often at most a session's `last_seen_at` is written (its idle lifetime is measured in
/// hours; a write per page view would be waste).
const SEEN_GRANULARITY_SECS: i64 = 60;

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    pub session_id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    /// When the user signed in (OpenID Connect `auth_time`).
    pub auth_time: DateTime<Utc>,
    /// How (RFC 8176 values).
    pub amr: Vec<String>,
}

impl BrowserSession {
    fn from_row(row: SessionRow, email: String, display_name: Option<String>) -> BrowserSession {
        BrowserSession {
            session_id: row.id,
            tenant_id: row.tenant_id,
            user_id: row.user_id,
            email,
            display_name,
            auth_time: row.auth_time,
            amr: row.amr.split_whitespace().map(str::to_owned).collect(),
        }
    }

    /// The name to greet the user by.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.email)
    }
}

/// The browser's session, if its cookie names one that is still usable (not revoked, not
/// expired, used within the idle lifetime, its user and tenant active).
pub async fn current(req: &HttpRequest, state: &SignIn) -> AppResult<Option<BrowserSession>> {
    let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    let Some(tenant_id) = opaque::tenant_of(&token) else {
        return Ok(None);
    };
    let hash = opaque::hash(&token);
    let idle = Duration::seconds(state.settings.tokens.browser_session_idle_secs as i64);
    state
        .db
        .tenant_tx(tenant_id, move |tx| {
            async move {
                let Some((row, email, name)) = SessionRow::find_browser(tx, &hash, idle).await?
                else {
                    return Ok(None);
                };
                if (Utc::now() - row.last_seen_at).num_seconds() >= SEEN_GRANULARITY_SECS {
                    SessionRow::touch_seen(tx, row.id).await?;
                }
                Ok(Some(BrowserSession::from_row(row, email, name)))
            }
            .scope_boxed()
        })
        .await
}

/// Opens a browser session for a member who has just proved who they are; returns the cookie
/// that carries it.
pub async fn start(
    state: &SignIn,
    meta: &RequestMeta,
    who: &Authenticated,
    methods: Vec<AuthMethod>,
) -> AppResult<Cookie<'static>> {
    let (token, hash) = opaque::generate(who.tenant.id);
    let start = SessionStart {
        tenant_id: who.tenant.id,
        user_id: who.user.id,
        methods,
        browser_token_hash: Some(hash),
    };
    ops::in_tenant(
        &state.db,
        who.tenant.id,
        meta.audit(Actor::User(who.user.id)),
        |tx| sessions::open(tx, state, meta, start).scope_boxed(),
    )
    .await?;
    Ok(cookie(token))
}

/// Ends a browser session (signing out, or replaced by another sign-in in the same browser).
pub async fn end(
    state: &SignIn,
    meta: &RequestMeta,
    session: &BrowserSession,
    reason: &'static str,
) -> AppResult<()> {
    let audit = meta.audit(Actor::User(session.user_id));
    let session_id = session.session_id;
    let committed = ops::in_tenant(&state.db, session.tenant_id, audit.clone(), move |tx| {
        sessions::end(tx, session_id, reason).scope_boxed()
    })
    .await?;
    state.effects.run(&audit, committed.effects).await;
    Ok(())
}

/// The session cookie: for this browser session only (no Max-Age; the server ends the session
/// after its idle and absolute lifetimes). `web::sso` opens its session inside its own
/// transaction and sets this cookie itself.
pub fn cookie(token: String) -> Cookie<'static> {
    cookies::cookie(
        COOKIE,
        token,
        SameSite::Lax,
        cookies::Lifetime::BrowserSession,
    )
}

/// A cookie that removes the session cookie.
pub fn removal() -> Cookie<'static> {
    cookies::removal(COOKIE, SameSite::Lax)
}

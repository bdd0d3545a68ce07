//! Members' sessions as operations: the password check, opening a session, refresh-token
//! rotation, logout. The GraphQL mutations (login, refreshSession, logout), the hosted login
//! page and the OAuth endpoints all call these, so the limiter, the audit records and the
//! session rules hold whichever door a sign-in came through. Platform admins' sessions are in
//! `ops::admin_sessions`.
//!
//! A password sign-in has two steps: [`authenticate_password`] (the limiter and the hash check,
//! outside any transaction, so a slow hash never holds a connection) and [`open`] (the session
//! row and its first refresh token, in the caller's tenant transaction). `ops::login` is both,
//! with the second-factor decision between them, for the API.

use crate::db::ScopedFutureExt;
use crate::db::SystemReason;
use crate::domain::Action;
use chrono::{Duration as ChronoDuration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::ops::sign_in::SignIn;
use crate::{
    auth::{jwt::IssuedToken, opaque, password, principal::MemberPrincipal},
    db::{
        TenantTx,
        audit::{self, Actor, AuditEvent},
        models::{RefreshTokenRow, SessionRow, TenantRow, UserRow},
    },
    error::{AppError, AppResult},
    ops::Done,
    request::RequestMeta,
};

/// The one message for every kind of wrong credentials.
pub const BAD_CREDENTIALS: &str = "wrong tenant, email or password";

pub struct LoginOutcome {
    pub access: IssuedToken,
    pub refresh_token: String,
    pub user: UserRow,
    pub tenant: TenantRow,
}

pub struct RefreshOutcome {
    pub access: IssuedToken,
    pub refresh_token: String,
}

/// How a sign-in was made, as the session remembers it (and ID tokens tell as `amr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A password (`pwd`).
    Password,
    /// A one-time code (`otp`): TOTP or a recovery code.
    OneTimeCode,
    /// A hardware-bound key (`hwk`): a passkey.
    HardwareKey,
    /// The tenant's own identity provider (`fed`).
    Federated,
}

impl AuthMethod {
    /// The RFC 8176 `amr` value.
    pub fn amr(self) -> &'static str {
        match self {
            AuthMethod::Password => "pwd",
            AuthMethod::OneTimeCode => "otp",
            AuthMethod::HardwareKey => "hwk",
            AuthMethod::Federated => "fed",
        }
    }
}

/// What a new session is opened for.
#[derive(Debug, Clone)]
pub struct SessionStart {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// How the user proved who they are, in order.
    pub methods: Vec<AuthMethod>,
    /// A browser session of the hosted pages: the hash of its cookie's value.
    pub browser_token_hash: Option<Vec<u8>>,
}

/// A session just opened: its id and its first refresh token.
pub struct OpenedSession {
    pub session_id: Uuid,
    pub refresh_token: String,
}

/// Opens a session for a verified user: the session row and its first refresh token, in the
/// caller's transaction, recorded as `auth.login`.
pub async fn open(
    tx: &mut TenantTx,
    state: &SignIn,
    meta: &RequestMeta,
    start: SessionStart,
) -> AppResult<Done<OpenedSession>> {
    let now = Utc::now();
    // A browser session (single sign-on) lives as long as HUB_BROWSER_SESSION_MAX_SECS, and the
    // product tokens issued in it with it; an API session as long as HUB_SESSION_TTL_SECS.
    let lifetime = match start.browser_token_hash {
        Some(_) => state.settings.tokens.browser_session_max_secs,
        None => state.settings.tokens.session_ttl_secs,
    };
    let session = SessionRow {
        tenant_id: start.tenant_id,
        id: Uuid::now_v7(),
        user_id: start.user_id,
        created_at: now,
        last_refreshed_at: now,
        expires_at: now + ChronoDuration::seconds(lifetime as i64),
        revoked_at: None,
        revoked_reason: None,
        ip: Some(meta.ip.clone()),
        user_agent: meta.user_agent.clone(),
        auth_time: now,
        amr: start
            .methods
            .iter()
            .map(|m| m.amr())
            .collect::<Vec<_>>()
            .join(" "),
        browser_token_hash: start.browser_token_hash,
        last_seen_at: now,
    };
    SessionRow::insert(tx, &session).await?;
    let (token, hash) = opaque::generate(start.tenant_id);
    RefreshTokenRow::insert(tx, start.tenant_id, session.id, hash, None).await?;
    let amr = session.amr.clone();
    Ok(Done::audited(
        OpenedSession {
            session_id: session.id,
            refresh_token: token,
        },
        AuditEvent::new(Action::AuthLogin)
            .target("session", session.id)
            .details(json!({ "amr": amr })),
    ))
}

/// The tenant a sign-in names (by id, domain or slug), whatever its status; None when no
/// tenant has that key. The hosted pages use it to brand the page before the password.
pub async fn tenant_for_sign_in(state: &SignIn, key: &str) -> AppResult<Option<TenantRow>> {
    let key = crate::domain::TenantKey::parse(key);
    state
        .db
        .system_tx(SystemReason::Authentication, |conn| {
            TenantRow::find_by_key(conn, &key).scope_boxed()
        })
        .await
}

/// Ends one session of a user (a browser session signing out, or a session replaced by a new
/// sign-in in the same browser): its refresh tokens stop working and its access tokens are
/// refused from now on. Recorded as `auth.logout` with the reason.
pub async fn end(
    tx: &mut TenantTx,
    session_id: Uuid,
    reason: &'static str,
) -> AppResult<Done<bool>> {
    let revoked = SessionRow::revoke(tx, session_id, reason).await?;
    Ok(Done::audited(
        revoked,
        AuditEvent::new(Action::AuthLogout)
            .target("session", session_id)
            .details(json!({ "reason": reason })),
    )
    .and_sessions_revoked([session_id]))
}

/// A member whose password was right, in an active tenant.
pub struct Authenticated {
    pub user: UserRow,
    pub tenant: TenantRow,
}

/// Checks a member's tenant, email and password, with the login limiter: one argon2
/// verification whatever is wrong, one message for every kind of wrong credentials, failures
/// recorded as `auth.login_failed` in the tenant's log when the tenant exists. Opens nothing.
pub async fn authenticate_password(
    state: &SignIn,
    meta: &RequestMeta,
    tenant_key: &str,
    email: &str,
    password: &str,
) -> AppResult<Authenticated> {
    let email_key = email.trim().to_lowercase();
    let typed = format!("{}/{email_key}", tenant_key.trim().to_lowercase());
    state.login_limiter.check(&meta.ip, &typed)?;

    let key = crate::domain::TenantKey::parse(tenant_key);
    let tenant = state
        .db
        .system_tx(SystemReason::Authentication, |conn| {
            TenantRow::find_by_key(conn, &key).scope_boxed()
        })
        .await?;
    // An account is counted by its tenant's id, however the tenant was named (domain, slug or
    // one of the id's spellings): naming it differently gives no new allowance of guesses.
    let account = match &tenant {
        Some(t) => {
            let account = format!("{}/{email_key}", t.id);
            state.login_limiter.check(&meta.ip, &account)?;
            account
        }
        None => typed,
    };
    let user = match &tenant {
        Some(t) => {
            let email = email.trim().to_owned();
            state
                .db
                .tenant_tx(t.id, |conn| {
                    UserRow::find_by_email(conn, &email).scope_boxed()
                })
                .await?
        }
        None => None,
    };
    let hash = user
        .as_ref()
        .filter(|u| u.is_active())
        .and_then(|u| u.password_hash.as_deref());
    let verified = password::verify(password, hash).await?;

    let (Some(tenant), Some(user), true) = (tenant.clone(), user.clone(), verified) else {
        if let Some(t) = &tenant {
            let (tenant_id, ctx) = (t.id, meta.audit(Actor::Anonymous));
            let details = json!({ "email": email.trim().to_lowercase() });
            let target = user.as_ref().map(|u| u.id);
            state
                .db
                .tenant_tx(tenant_id, move |conn| {
                    async move {
                        let mut event = AuditEvent::new(Action::AuthLoginFailed).details(details);
                        if let Some(id) = target {
                            event = event.target("user", id);
                        }
                        audit::record(conn, tenant_id, &ctx, event).await
                    }
                    .scope_boxed()
                })
                .await?;
        }
        state.login_limiter.failed(&meta.ip, &account);
        return Err(AppError::unauthenticated(BAD_CREDENTIALS));
    };
    state.login_limiter.succeeded(&meta.ip, &account);
    // The owner of a tenant they deactivated may still sign in, to a session the guards
    // restrict to the export and reactivateTenant (issue 15 item 6).
    if !tenant.is_active() {
        let user_id = user.id;
        let allowed = state
            .db
            .tenant_tx(tenant.id, |conn| {
                crate::ops::lifecycle::may_sign_in_while_inactive(conn, user_id).scope_boxed()
            })
            .await?;
        if !allowed {
            return Err(AppError::tenant_inactive());
        }
    }
    // After the password check: only the account's owner learns that the address is unverified.
    if tenant.require_verified_email && user.email_verified_at.is_none() {
        return Err(AppError::unauthenticated(
            "confirm your email address first: follow the link in the verification mail",
        )
        .with_reason(crate::error::Reason::EmailUnverified));
    }
    crate::ops::identity_providers::ensure_password_sign_in(&state.db, tenant.id, &user).await?;
    Ok(Authenticated { user, tenant })
}

/// Exchanges a refresh token for a new pair. A token presented twice revokes its session.
pub async fn refresh_session(
    state: &SignIn,
    meta: &RequestMeta,
    token: &str,
) -> AppResult<RefreshOutcome> {
    let rotated = rotate_refresh_token(state, meta, token, None).await?;
    let access = state.tokens.issue_member_with_amr(
        rotated.tenant_id,
        rotated.user_id,
        rotated.session_id,
        &rotated.amr,
    )?;
    Ok(RefreshOutcome {
        access,
        refresh_token: rotated.refresh_token,
    })
}

/// A refresh token exchanged: the session it belongs to and the next token.
pub struct RotatedRefresh {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub refresh_token: String,
    /// How the session was signed in (space-separated RFC 8176 values).
    pub amr: String,
}

/// The rotation and reuse detection of refresh tokens. `client`: the OAuth client presenting
/// the token (None: the API's refreshSession); a token works only for the client it was given
/// to, and the next one is bound to the same client.
pub async fn rotate_refresh_token(
    state: &SignIn,
    meta: &RequestMeta,
    token: &str,
    client: Option<Uuid>,
) -> AppResult<RotatedRefresh> {
    let invalid = || AppError::unauthenticated("invalid refresh token");
    let tenant_id = opaque::tenant_of(token).ok_or_else(invalid)?;
    let presented = opaque::hash(token);
    enum Outcome {
        Rotated {
            user_id: Uuid,
            session_id: Uuid,
            token: String,
            amr: String,
        },
        Reused {
            session_id: Uuid,
        },
        Invalid,
        Inactive,
    }
    let ttl_ok = chrono::Utc::now();
    let outcome = state
        .db
        .tenant_tx(tenant_id, move |conn| {
            async move {
                let Some(row) = RefreshTokenRow::find_for_update(conn, &presented).await? else {
                    return Ok(Outcome::Invalid);
                };
                if row.client_id != client {
                    return Ok(Outcome::Invalid);
                }
                let Some(session) = SessionRow::find(conn, row.session_id).await? else {
                    return Ok(Outcome::Invalid);
                };
                if row.used_at.is_some() {
                    if SessionRow::revoke(conn, session.id, "refresh_token_reuse").await? {
                        audit::record(
                            conn,
                            tenant_id,
                            &meta.audit(Actor::Anonymous),
                            AuditEvent::new(Action::AuthRefreshTokenReused)
                                .target("session", session.id)
                                .details(json!({ "user_id": session.user_id })),
                        )
                        .await?;
                    }
                    return Ok(Outcome::Reused {
                        session_id: session.id,
                    });
                }
                let Some(state_row) = SessionRow::state(conn, session.id, session.user_id).await?
                else {
                    return Ok(Outcome::Invalid);
                };
                if !state_row.session_usable(ttl_ok) {
                    return Ok(Outcome::Invalid);
                }
                if state_row.tenant_status != "active"
                    && !crate::ops::lifecycle::may_sign_in_while_inactive(conn, session.user_id)
                        .await?
                {
                    return Ok(Outcome::Inactive);
                }
                RefreshTokenRow::mark_used(conn, &presented).await?;
                let (token, hash) = opaque::generate(tenant_id);
                RefreshTokenRow::insert(conn, tenant_id, session.id, hash, client).await?;
                SessionRow::touch_refreshed(conn, session.id).await?;
                audit::record(
                    conn,
                    tenant_id,
                    &meta.audit(Actor::User(session.user_id)),
                    AuditEvent::new(Action::AuthSessionRefreshed).target("session", session.id),
                )
                .await?;
                Ok(Outcome::Rotated {
                    user_id: session.user_id,
                    session_id: session.id,
                    token,
                    amr: session.amr,
                })
            }
            .scope_boxed()
        })
        .await?;
    match outcome {
        Outcome::Rotated {
            user_id,
            session_id,
            token,
            amr,
        } => Ok(RotatedRefresh {
            tenant_id,
            user_id,
            session_id,
            refresh_token: token,
            amr,
        }),
        Outcome::Reused { session_id } => {
            crate::invalidation::announce(
                &state.invalidator,
                crate::invalidation::Invalidation::Session { id: session_id },
            )
            .await;
            Err(AppError::unauthenticated(
                "this refresh token was already used; the session is revoked",
            ))
        }
        Outcome::Invalid => Err(invalid()),
        Outcome::Inactive => Err(AppError::tenant_inactive()),
    }
}

/// Revokes the caller's session: its refresh tokens stop working and its access tokens are
/// refused from now on (at once on this replica).
pub async fn logout(
    state: &SignIn,
    meta: &RequestMeta,
    member: &MemberPrincipal,
) -> AppResult<bool> {
    let (tenant_id, session_id, user_id) = (member.tenant_id, member.session_id, member.user_id);
    let revoked = state
        .db
        .tenant_tx(tenant_id, move |conn| {
            async move {
                let revoked = SessionRow::revoke(conn, session_id, "logout").await?;
                audit::record(
                    conn,
                    tenant_id,
                    &meta.audit(Actor::User(user_id)),
                    AuditEvent::new(Action::AuthLogout).target("session", session_id),
                )
                .await?;
                Ok(revoked)
            }
            .scope_boxed()
        })
        .await?;
    crate::invalidation::announce(
        &state.invalidator,
        crate::invalidation::Invalidation::Session { id: session_id },
    )
    .await;
    Ok(revoked)
}

//! Sessions as operations: password sign-in, opening a session, refresh-token rotation, logout,
//! and the platform admins' sessions. The GraphQL mutations (login, refreshSession, logout,
//! adminLogin), the hosted login page and the OAuth endpoints all call these, so the limiter,
//! the audit records and the session rules hold whichever door a sign-in came through.
//!
//! A password sign-in has two steps: [`authenticate_password`] (the limiter and the hash check,
//! outside any transaction, so a slow hash never holds a connection) and [`open`] (the session
//! row and its first refresh token, in the caller's tenant transaction). [`login`] is both, plus
//! the access token, for the API.

use crate::db::ScopedFutureExt;
use crate::db::SystemReason;
use crate::domain::Action;
use chrono::{Duration as ChronoDuration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::{
    app::AppState,
    auth::{admin_sessions, jwt::IssuedToken, opaque, password, principal::MemberPrincipal},
    db::{
        TenantTx,
        audit::{self, Actor, AuditEvent},
        models::{PlatformAdminRow, RefreshTokenRow, SessionRow, TenantRow, UserRow},
    },
    error::{AppError, AppResult},
    ops::{self, Done},
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
    state: &AppState,
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
pub async fn tenant_for_sign_in(state: &AppState, key: &str) -> AppResult<Option<TenantRow>> {
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

/// What a password sign-in of the API gives: a session, or, when a second factor is due
/// (the user has one, or the tenant's `requireMfa` wants one), a challenge that
/// `ops::mfa::complete_login` completes.
pub enum SignIn {
    Session(Box<LoginOutcome>),
    MfaRequired(MfaPending),
}

/// A password sign-in held for its second factor.
pub struct MfaPending {
    pub challenge: crate::ops::mfa::Challenge,
}

/// Logs a member in by tenant (domain, slug or id), email and password: the API's sign-in.
/// A user with a second factor (or whom the tenant requires to enrol one) gets a challenge
/// instead of a session.
pub async fn login(
    state: &AppState,
    meta: &RequestMeta,
    tenant_key: &str,
    email: &str,
    password: &str,
) -> AppResult<SignIn> {
    use crate::ops::mfa::{self, SecondFactor};
    let Authenticated { user, tenant } =
        authenticate_password(state, meta, tenant_key, email, password).await?;
    let start = SessionStart {
        tenant_id: tenant.id,
        user_id: user.id,
        methods: vec![AuthMethod::Password],
        browser_token_hash: None,
    };
    enum Next {
        Opened(OpenedSession),
        Challenged(mfa::Challenge),
    }
    let (tenant_id, user_id) = (tenant.id, user.id);
    let next = ops::in_tenant(
        &state.db,
        tenant.id,
        meta.audit(Actor::User(user.id)),
        |tx| {
            async move {
                match mfa::requirement(tx, user_id).await? {
                    SecondFactor::NotNeeded => {
                        let done = open(tx, state, meta, start).await?;
                        Ok(Done {
                            value: Next::Opened(done.value),
                            events: done.events,
                            effects: done.effects,
                        })
                    }
                    need => {
                        let done =
                            mfa::challenge(tx, tenant_id, user_id, need, &start.methods).await?;
                        Ok(Done {
                            value: Next::Challenged(done.value),
                            events: done.events,
                            effects: done.effects,
                        })
                    }
                }
            }
            .scope_boxed()
        },
    )
    .await?
    .value;
    let opened = match next {
        Next::Opened(opened) => opened,
        Next::Challenged(challenge) => return Ok(SignIn::MfaRequired(MfaPending { challenge })),
    };
    let access =
        state
            .tokens
            .issue_member_with_amr(tenant.id, user.id, opened.session_id, "pwd")?;
    Ok(SignIn::Session(Box::new(LoginOutcome {
        access,
        refresh_token: opened.refresh_token,
        user,
        tenant,
    })))
}

/// Checks a member's tenant, email and password, with the login limiter: one argon2
/// verification whatever is wrong, one message for every kind of wrong credentials, failures
/// recorded as `auth.login_failed` in the tenant's log when the tenant exists. Opens nothing.
pub async fn authenticate_password(
    state: &AppState,
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
    state: &AppState,
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
    state: &AppState,
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
    state: &AppState,
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

/// Logs a platform admin in. Recorded in the platform audit log, failures too. An admin with
/// an authenticator gives its current `code` too; with HUB_PLATFORM_ADMIN_REQUIRE_MFA an admin
/// without one is refused (`ops::mfa::check_platform_admin_code`).
pub async fn admin_login(
    state: &AppState,
    meta: &RequestMeta,
    email: &str,
    password: &str,
    code: Option<&str>,
) -> AppResult<IssuedToken> {
    use crate::ops::mfa::{AdminFactor, check_platform_admin_code};
    let account = format!("platform/{}", email.trim().to_lowercase());
    state.login_limiter.check(&meta.ip, &account)?;
    let lookup = email.trim().to_owned();
    let admin = state
        .db
        .system_tx(SystemReason::Authentication, |conn| {
            PlatformAdminRow::find_by_email(conn, &lookup).scope_boxed()
        })
        .await?;
    let hash = admin
        .as_ref()
        .filter(|a| a.disabled_at.is_none())
        .map(|a| a.password_hash.as_str());
    let verified = password::verify(password, hash).await?;
    let details = json!({ "email": email.trim().to_lowercase() });
    // The session lasts as long as the token it is opened for (and its leeway).
    let expires_at = Utc::now()
        + ChronoDuration::seconds(
            state.tokens.ttl_secs() + state.settings.tokens.leeway_secs as i64,
        );
    let verified_admin = admin.as_ref().filter(|_| verified).map(|a| a.id);
    let required = state.settings.platform_admin_require_mfa;
    let (session, factor) = state
        .db
        .system_tx(SystemReason::Authentication, |conn| {
            async move {
                let factor = match verified_admin {
                    Some(admin_id) => {
                        check_platform_admin_code(conn, &state.secrets, admin_id, code, required)
                            .await?
                    }
                    None => AdminFactor::Passed,
                };
                let opened = verified_admin.filter(|_| factor == AdminFactor::Passed);
                let session = match opened {
                    Some(admin_id) => Some(admin_sessions::open(conn, admin_id, expires_at).await?),
                    None => None,
                };
                let ctx = meta.audit(opened.map_or(Actor::Anonymous, Actor::PlatformAdmin));
                let (action, mut details) = match (session, factor) {
                    (Some(_), _) => (Action::PlatformAdminLogin, details),
                    (None, AdminFactor::Passed) => (Action::PlatformAdminLoginFailed, details),
                    (None, refused) => {
                        let mut details = details;
                        details["second_factor"] = json!(match refused {
                            AdminFactor::NotEnrolled => "not_enrolled",
                            _ => "code_refused",
                        });
                        (Action::PlatformAdminLoginFailed, details)
                    }
                };
                if session.is_some() && code.is_some() {
                    details["amr"] = json!("pwd otp");
                }
                let mut event = AuditEvent::new(action).details(details);
                if let Some(id) = session {
                    event = event.target("session", id);
                }
                audit::record_platform(conn, &ctx, event).await?;
                Ok((session, factor))
            }
            .scope_boxed()
        })
        .await?;
    match (admin, session, factor) {
        (Some(admin), Some(session), _) => {
            state.login_limiter.succeeded(&meta.ip, &account);
            state.tokens.issue_platform_admin(admin.id, session)
        }
        (_, _, AdminFactor::NotEnrolled) => Err(AppError::forbidden(
            "platform admins must use a second factor: an operator enrols one with \
             `tenant-hub admin totp`",
        )
        .with_reason(crate::error::Reason::MfaNotEnrolled)),
        (_, _, AdminFactor::CodeRefused) => {
            state.login_limiter.failed(&meta.ip, &account);
            Err(AppError::unauthenticated(
                "a current code of your authenticator app is needed (code)",
            )
            .with_reason(crate::error::Reason::MfaCodeInvalid))
        }
        _ => {
            state.login_limiter.failed(&meta.ip, &account);
            Err(AppError::unauthenticated("wrong email or password"))
        }
    }
}

/// Ends a platform admin's session: its access tokens are refused from now on. Recorded in
/// the platform audit log.
pub async fn admin_logout(
    state: &AppState,
    meta: &RequestMeta,
    admin_id: Uuid,
    session_id: Uuid,
) -> AppResult<bool> {
    let ctx = meta.audit(Actor::PlatformAdmin(admin_id));
    state
        .db
        .system_tx(SystemReason::Authentication, |conn| {
            async move {
                let revoked = admin_sessions::revoke(conn, session_id, admin_id).await?;
                audit::record_platform(
                    conn,
                    &ctx,
                    AuditEvent::new(Action::PlatformAdminLogout).target("session", session_id),
                )
                .await?;
                Ok(revoked)
            }
            .scope_boxed()
        })
        .await
}

//! Platform admins' sign-in: [`admin_login`] (password, then the admin's authenticator code
//! when it has one or HUB_PLATFORM_ADMIN_REQUIRE_MFA wants one) and [`admin_logout`], both in
//! the platform audit log, and the authenticator an operator enrols
//! ([`enrol_platform_admin_totp`], `tenant-hub admin totp`). Admins have no tenant: their
//! sessions live in `platform_admin_sessions` (`auth::admin_sessions`).

use chrono::{Duration as ChronoDuration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::{admin_sessions, jwt::IssuedToken, password},
    db::{
        Db, ScopedFutureExt, SystemReason, SystemTx,
        audit::{self, Actor, AuditContext, AuditEvent},
        models::{PlatformAdminRow, PlatformAdminTotpRow},
    },
    domain::Action,
    error::{AppError, AppResult},
    mfa::totp,
    ops::sign_in::SignIn,
    request::RequestMeta,
};

/// Logs a platform admin in. Recorded in the platform audit log, failures too. An admin with
/// an authenticator gives its current `code` too; with HUB_PLATFORM_ADMIN_REQUIRE_MFA an admin
/// without one is refused ([`check_platform_admin_code`]).
pub async fn admin_login(
    state: &SignIn,
    meta: &RequestMeta,
    email: &str,
    password: &str,
    code: Option<&str>,
) -> AppResult<IssuedToken> {
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
    state: &SignIn,
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

/// A platform admin's authenticator, set by an operator (`tenant-hub admin totp`).
pub struct AdminTotp {
    pub admin_id: Uuid,
    pub secret_base32: String,
    pub otpauth_uri: String,
}

/// Enrols (or replaces) the TOTP authenticator of the platform admin with this email
/// (`platform.admin_totp_enrolled`); from then on adminLogin asks for its code.
pub async fn enrol_platform_admin_totp(
    db: &Db,
    secrets: &crate::secrets::SecretBox,
    email: &str,
) -> AppResult<AdminTotp> {
    let email = email.trim().to_owned();
    let secret = totp::new_secret();
    let hex_secret = hex::encode(&secret);
    let sealed_for = |admin_id: Uuid| {
        secrets
            .seal(
                Uuid::nil(),
                &PlatformAdminTotpRow::secret_name(admin_id),
                &hex_secret,
            )
            .map_err(AppError::internal)
    };
    let admin = db
        .system_tx(SystemReason::Operator, move |conn| {
            async move {
                let admin = PlatformAdminRow::find_by_email(conn, &email)
                    .await?
                    .filter(|a| a.disabled_at.is_none())
                    .ok_or_else(|| AppError::not_found("platform admin"))?;
                let sealed = sealed_for(admin.id)?;
                PlatformAdminTotpRow::replace(conn, admin.id, &sealed).await?;
                audit::record_platform(
                    conn,
                    &AuditContext::system(),
                    AuditEvent::new(Action::PlatformAdminTotpEnrolled)
                        .target("platform_admin", admin.id),
                )
                .await?;
                Ok(admin)
            }
            .scope_boxed()
        })
        .await?;
    Ok(AdminTotp {
        admin_id: admin.id,
        secret_base32: totp::secret_base32(&secret),
        otpauth_uri: totp::otpauth_uri(&secret, "tenant-hub platform", &admin.email)?,
    })
}

/// Why a platform admin's second factor did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminFactor {
    /// The code is right (or none is needed).
    Passed,
    /// A code is needed and none was given, or it is wrong or replayed.
    CodeRefused,
    /// The hub requires a second factor and the admin has none.
    NotEnrolled,
}

/// Checks the second factor of a platform admin whose password was right, in the login's
/// system transaction: an admin with an authenticator must give a current code (once), an
/// admin without one passes unless `required` (HUB_PLATFORM_ADMIN_REQUIRE_MFA).
pub async fn check_platform_admin_code(
    conn: &mut SystemTx,
    secrets: &crate::secrets::SecretBox,
    admin_id: Uuid,
    code: Option<&str>,
    required: bool,
) -> AppResult<AdminFactor> {
    let Some(row) = PlatformAdminTotpRow::for_update(conn, admin_id).await? else {
        return Ok(if required {
            AdminFactor::NotEnrolled
        } else {
            AdminFactor::Passed
        });
    };
    let Some(code) = code else {
        return Ok(AdminFactor::CodeRefused);
    };
    let secret = secrets
        .open(
            Uuid::nil(),
            &PlatformAdminTotpRow::secret_name(admin_id),
            &row.secret_ciphertext,
        )
        .map_err(AppError::internal)
        .and_then(|h| hex::decode(h).map_err(AppError::internal))?;
    let now = Utc::now().timestamp().max(0) as u64;
    let last = row.last_used_step.map(|s| s.max(0) as u64);
    match totp::accept(&secret, code, now, last) {
        Some(step) => {
            PlatformAdminTotpRow::mark_used(conn, admin_id, step as i64).await?;
            Ok(AdminFactor::Passed)
        }
        None => Ok(AdminFactor::CodeRefused),
    }
}

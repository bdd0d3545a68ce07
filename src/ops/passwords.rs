//! Passwords: a user changes their own (knowing the current one), an admin starts a reset for
//! someone else, and a reset token sets a new one. Each revokes the sessions it must: a changed
//! password ends the user's other sessions, a reset ends all of them.

use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        audit::{Actor, AuditEvent},
        models::{SessionRow, UserRow, UserTokenRow},
    },
    domain::Action,
    error::{AppError, AppResult, Reason},
    ops::{
        Done,
        invitations::{self, IssuedToken, Purpose},
        rules,
        users::Acting,
    },
};

/// The login limiter's key of a member account (the same as login's, in `ops::sessions`): a
/// wrong current password in changePassword counts as a failed login of that account.
pub fn limiter_account(tenant_id: Uuid, email: &str) -> String {
    format!("{tenant_id}/{}", email.trim().to_lowercase())
}

/// Checks the current password a signed-in user gives to change it, under the login limiter:
/// while the account (as seen from the caller's network) must wait, or the network is over
/// its limit, the attempt is RATE_LIMITED before any hashing; a wrong password is counted as a
/// failed login, so a stolen access token is no guessing oracle outside the limiter.
pub async fn verify_current(
    limiter: &crate::auth::login_limiter::LoginLimiter,
    meta: &crate::request::RequestMeta,
    user: &UserRow,
    current_password: &str,
) -> AppResult<()> {
    let account = limiter_account(user.tenant_id, &user.email);
    limiter.check(&meta.ip, &account)?;
    if crate::auth::password::verify(current_password, user.password_hash.as_deref()).await? {
        limiter.succeeded(&meta.ip, &account);
        Ok(())
    } else {
        limiter.failed(&meta.ip, &account);
        Err(AppError::unauthenticated("the current password is wrong"))
    }
}

/// Sets the new password (hashed by the caller, after checking the current one) of the user
/// of `session_id` and revokes their other sessions. The session making the change stays as it
/// is: open if it was open, revoked if reuse detection revoked it meanwhile.
pub async fn change(
    tx: &mut TenantTx,
    user_id: Uuid,
    session_id: Uuid,
    new_hash: &str,
) -> AppResult<Done<()>> {
    UserRow::set_password(tx, user_id, new_hash).await?;
    let revoked =
        SessionRow::revoke_all_of_user_but(tx, user_id, Some(session_id), "password_changed")
            .await?;
    Ok(Done::audited(
        (),
        AuditEvent::new(Action::UserPasswordChanged).target("user", user_id),
    )
    .and_sessions_revoked(revoked))
}

/// An admin starts a password reset for another user: a one-time token the user redeems with
/// [`reset`]. For oneself, changing the password (which needs the current one) is the way:
/// otherwise a stolen access token alone could set a new password.
pub async fn issue_reset(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    user_id: Uuid,
) -> AppResult<Done<IssuedToken>> {
    if acting.actor == Actor::User(user_id) {
        return Err(AppError::forbidden(
            "change your own password with changePassword (it needs the current one)",
        )
        .with_reason(Reason::OwnPassword));
    }
    UserRow::get(tx, user_id).await?;
    rules::ensure_can_manage(tx, acting.actor, acting.permissions, user_id).await?;
    let by = match acting.actor {
        Actor::User(id) => Some(id),
        _ => None,
    };
    let issued = invitations::issue(tx, user_id, Purpose::PasswordReset, by).await?;
    Ok(Done::audited(
        issued,
        AuditEvent::new(Action::UserPasswordResetIssued).target("user", user_id),
    ))
}

/// Uses up a reset token and sets the new password (hashed by the caller after
/// [`invitations::pending_user`] found the token usable); every session of the user ends.
pub async fn reset(tx: &mut TenantTx, token_hash: &[u8], new_hash: &str) -> AppResult<Done<()>> {
    let used = UserTokenRow::consume(tx, token_hash, Purpose::PasswordReset.as_str())
        .await?
        .ok_or_else(|| AppError::unauthenticated("invalid or expired reset token"))?;
    UserRow::set_password(tx, used.user_id, new_hash).await?;
    let revoked = SessionRow::revoke_all_of_user(tx, used.user_id, "password_reset").await?;
    let event = AuditEvent::new(Action::UserPasswordReset)
        .target("user", used.user_id)
        .by(Actor::User(used.user_id));
    Ok(Done::audited((), event).and_sessions_revoked(revoked))
}

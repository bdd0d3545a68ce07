//! Passwords: a user changes their own (knowing the current one), an admin starts a reset for
//! someone else, a user who forgot theirs asks for a reset link, and a reset token sets a new
//! one. Each revokes the sessions it must: a changed password ends the user's other sessions,
//! a reset ends all of them. Reset links and the "password changed" notice go by mail, written
//! to the outbox in the same transaction.

use uuid::Uuid;

use crate::{
    db::{
        Db, ScopedFutureExt, SystemReason, TenantTx,
        audit::{Actor, AuditEvent},
        models::{SessionRow, TenantRow, UserRow, UserTokenRow},
    },
    domain::{Action, Email},
    error::{AppError, AppResult, Reason},
    mail::reset_limits::ResetLimits,
    mail::{self, MailData, MailKind, Outgoing, notices},
    ops::effects::Effects,
    ops::{
        Acting, Done,
        invitations::{self, IssuedToken, Purpose},
        rules,
    },
    request::RequestMeta,
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
    let user = UserRow::get(tx, user_id).await?;
    notices::password_changed(tx, &user).await?;
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
    let user = UserRow::get(tx, user_id).await?;
    mail_reset_link(tx, &user, &issued, None).await?;
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
    let user = UserRow::get(tx, used.user_id).await?;
    // The link reached this address: it is verified now.
    if user.email_verified_at.is_none() {
        UserRow::set_email_verified(tx, user.id, Some(chrono::Utc::now())).await?;
    }
    notices::password_changed(tx, &user).await?;
    let event = AuditEvent::new(Action::UserPasswordReset)
        .target("user", used.user_id)
        .by(Actor::User(used.user_id));
    Ok(Done::audited((), event).and_sessions_revoked(revoked))
}

/// Writes the reset mail (link `<public_url>/password-reset?token=…`) of `user`.
async fn mail_reset_link(
    tx: &mut TenantTx,
    user: &UserRow,
    token: &IssuedToken,
    product: Option<String>,
) -> AppResult<()> {
    mail::enqueue(
        tx,
        Outgoing {
            kind: MailKind::PasswordReset,
            user_id: Some(user.id),
            recipient: user.email.clone(),
            data: MailData {
                name: user.display_name.clone(),
                product,
                expires_at: Some(token.expires_at),
                ..MailData::default()
            },
            link_token: Some(token.token.clone()),
        },
    )
    .await?;
    Ok(())
}

/// Someone asks for a reset link for `email` (forgot password). The same work whatever the
/// answer: the lookup always runs, and only an active user gets a token and a mail, valid
/// [`invitations::RESET_LINK_TTL_MINUTES`]. The caller answers the same in every case, so
/// nothing tells whether the account exists. `send` false (the per-account limit was reached)
/// does the lookup and sends nothing.
pub async fn request_reset(
    tx: &mut TenantTx,
    email: &Email,
    product: Option<String>,
    send: bool,
) -> AppResult<Done<()>> {
    let user = UserRow::find_by_email(tx, email.as_str())
        .await?
        .filter(|u| u.is_active() && send);
    let Some(user) = user else {
        return Ok(Done::unaudited(()));
    };
    let issued = invitations::issue_for(
        tx,
        user.id,
        Purpose::PasswordReset,
        None,
        chrono::Duration::minutes(invitations::RESET_LINK_TTL_MINUTES),
    )
    .await?;
    mail_reset_link(tx, &user, &issued, product).await?;
    // Recorded under the account (as resetPassword is): whoever asked only reaches its mailbox.
    let event = AuditEvent::new(Action::UserPasswordResetRequested)
        .target("user", user.id)
        .by(Actor::User(user.id));
    Ok(Done::audited((), event))
}

/// The whole forgot-password request, for GraphQL and the hosted page alike: the per-IP limit
/// (RATE_LIMITED), the email's shape (BAD_USER_INPUT), then the same work for every account:
/// the tenant looked up like a login, one tenant transaction (on no tenant's rows when the
/// tenant is unknown or inactive) with the user's lookup and, for an active user within the
/// per-account limit, a reset link by mail. The caller answers the same whatever happened.
pub async fn forgot(
    db: &Db,
    limits: &ResetLimits,
    effects: &Effects,
    meta: &RequestMeta,
    tenant_key: &str,
    email: &str,
) -> AppResult<()> {
    limits.check_ip(&meta.ip)?;
    let email = Email::parse("email", email)?;
    let key = crate::domain::TenantKey::parse(tenant_key);
    let tenant = db
        .system_tx(SystemReason::Authentication, |conn| {
            TenantRow::find_by_key(conn, &key).scope_boxed()
        })
        .await?
        .filter(|t| t.is_active());
    let account = match &tenant {
        Some(t) => format!("{}/{}", t.id, email.as_str().to_lowercase()),
        None => format!(
            "{}/{}",
            tenant_key.trim().to_lowercase(),
            email.as_str().to_lowercase()
        ),
    };
    let send = limits.allow_account(&account) && tenant.is_some();
    // No tenant: the same transaction on no tenant's rows (RLS shows none), so the answer
    // takes the same path.
    let tenant_id = tenant.map(|t| t.id).unwrap_or_else(Uuid::nil);
    let done = crate::ops::in_tenant(db, tenant_id, meta.audit(Actor::Anonymous), move |tx| {
        async move { request_reset(tx, &email, None, send).await }.scope_boxed()
    })
    .await?;
    effects
        .run(&meta.audit(Actor::Anonymous), done.effects)
        .await;
    Ok(())
}

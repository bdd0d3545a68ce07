//! One-time user tokens (invitations, password resets, email verifications, reports of an
//! email change), and invitations: their mail, re-sending one (a new link replaces the old),
//! and accepting one. A token is opaque, names its tenant, is stored hashed and works once
//! before it expires.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    auth::opaque,
    db::{
        TenantTx,
        audit::{Actor, AuditEvent},
        models::{UserRow, UserTokenRow},
        schema::{user_tokens, users},
    },
    domain::Action,
    error::{AppError, AppResult, Reason},
    mail::{self, MailData, MailKind, Outgoing},
    ops::{Acting, Done, rules},
};

/// A user created by invitation with the one-time token to hand over.
pub struct Invited {
    pub user: UserRow,
    pub token: IssuedToken,
}

/// How long an invitation, an admin's password reset or an email verification stays valid.
pub const USER_TOKEN_TTL_HOURS: i64 = 72;

/// How long the link of a password reset the user asked for (forgot password) stays valid.
pub const RESET_LINK_TTL_MINUTES: i64 = 60;

/// How long the "this was not me" link of an email-change notice stays valid.
pub const REPORT_LINK_TTL_DAYS: i64 = 14;

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invitation,
    PasswordReset,
    EmailVerification,
    EmailChangeReport,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invitation => "invitation",
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailVerification => "email_verification",
            Purpose::EmailChangeReport => "email_change_report",
        }
    }
}

/// A token just issued: shown once to whoever hands it over.
pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Issues a one-time token of `purpose` for a user of the tenant of `tx`, valid
/// [`USER_TOKEN_TTL_HOURS`]; it replaces the user's unused tokens of that purpose.
pub async fn issue(
    tx: &mut TenantTx,
    user_id: Uuid,
    purpose: Purpose,
    created_by: Option<Uuid>,
) -> AppResult<IssuedToken> {
    issue_for(
        tx,
        user_id,
        purpose,
        created_by,
        Duration::hours(USER_TOKEN_TTL_HOURS),
    )
    .await
}

/// [`issue`] with its own lifetime.
pub async fn issue_for(
    tx: &mut TenantTx,
    user_id: Uuid,
    purpose: Purpose,
    created_by: Option<Uuid>,
    ttl: Duration,
) -> AppResult<IssuedToken> {
    let tenant_id = tx.tenant_id();
    let (token, hash) = opaque::generate(tenant_id);
    let now = Utc::now();
    let expires_at = now + ttl;
    UserTokenRow::insert(
        tx,
        &UserTokenRow {
            tenant_id,
            token_hash: hash,
            user_id,
            purpose: purpose.as_str().to_owned(),
            created_by,
            created_at: now,
            expires_at,
            used_at: None,
        },
    )
    .await?;
    Ok(IssuedToken { token, expires_at })
}

/// The user a still-usable token of `purpose` belongs to, without using it up: checked before
/// a password is hashed, so a bad token costs no hashing.
pub async fn pending_user(
    tx: &mut TenantTx,
    token_hash: &[u8],
    purpose: Purpose,
) -> AppResult<Option<UserRow>> {
    let user_id = user_tokens::table
        .filter(user_tokens::token_hash.eq(token_hash))
        .filter(user_tokens::purpose.eq(purpose.as_str()))
        .filter(user_tokens::used_at.is_null())
        .filter(user_tokens::expires_at.gt(diesel::dsl::now))
        .select(user_tokens::user_id)
        .first::<Uuid>(tx)
        .await
        .optional()?;
    match user_id {
        Some(id) => UserRow::find(tx, id).await,
        None => Ok(None),
    }
}

/// The invitee sets a password (hashed by the caller) and becomes active. The token is used
/// up in the same transaction; a user limit lowered since the invitation is still enforced.
pub async fn accept(
    tx: &mut TenantTx,
    token_hash: &[u8],
    password_hash: &str,
    display_name: Option<&str>,
) -> AppResult<Done<UserRow>> {
    let invalid = || AppError::unauthenticated("invalid or expired invitation");
    let tenant_id = tx.tenant_id();
    let used = UserTokenRow::consume(tx, token_hash, Purpose::Invitation.as_str())
        .await?
        .ok_or_else(invalid)?;
    let tenant = rules::lock_tenant(tx, tenant_id).await?;
    let user = UserRow::get(tx, used.user_id).await?;
    if user.status != "invited" {
        return Err(invalid());
    }
    // Invited users hold a seat already; this counts the active ones against the limit.
    let active: i64 = users::table
        .filter(users::status.eq("active"))
        .count()
        .get_result(tx)
        .await?;
    if active >= tenant.limits().users as i64 {
        return Err(
            AppError::quota_exceeded("the tenant's user limit is reached")
                .with_reason(Reason::Users),
        );
    }
    UserRow::set_password(tx, user.id, password_hash).await?;
    if let Some(name) = display_name {
        UserRow::set_display_name(tx, user.id, Some(name)).await?;
    }
    // The link came by mail to this address: that proves it.
    UserRow::set_email_verified(tx, user.id, Some(Utc::now())).await?;
    let user = UserRow::set_status(tx, user.id, "active").await?;
    let event = AuditEvent::new(Action::UserInvitationAccepted)
        .target("user", user.id)
        .by(Actor::User(user.id));
    Ok(Done::audited(user, event))
}

/// Writes the invitation mail of `user` (link `<public_url>/invitation?token=…`) to the
/// outbox, in the transaction that issued `token`; `inviter` is the name shown as its sender.
pub async fn mail_invitation(
    tx: &mut TenantTx,
    user: &UserRow,
    token: &IssuedToken,
    inviter: Option<String>,
) -> AppResult<()> {
    mail::enqueue(
        tx,
        Outgoing {
            kind: MailKind::Invitation,
            user_id: Some(user.id),
            recipient: user.email.clone(),
            data: MailData {
                name: user.display_name.clone(),
                inviter,
                expires_at: Some(token.expires_at),
                ..MailData::default()
            },
            link_token: Some(token.token.clone()),
        },
    )
    .await?;
    Ok(())
}

/// The name an invitation shows as its sender: the inviting member's name or email (none for
/// a platform admin or an API key).
pub async fn inviter_name(tx: &mut TenantTx, actor: Actor) -> AppResult<Option<String>> {
    Ok(match actor {
        Actor::User(id) => UserRow::find(tx, id)
            .await?
            .map(|u| u.display_name.unwrap_or(u.email)),
        _ => None,
    })
}

/// Sends an invited user a new invitation: a new token replaces the old one (whose link stops
/// working) and a new mail goes out. Only for users still invited.
pub async fn resend(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    user_id: Uuid,
) -> AppResult<Done<Invited>> {
    let user = UserRow::get(tx, user_id).await?;
    rules::ensure_can_manage(tx, acting.actor, acting.permissions, user_id).await?;
    if user.status != "invited" {
        return Err(AppError::conflict(
            "the user is not invited (any more): only invited users get an invitation",
        )
        .with_reason(Reason::NotInvited));
    }
    let by = match acting.actor {
        Actor::User(id) => Some(id),
        _ => None,
    };
    let token = issue(tx, user.id, Purpose::Invitation, by).await?;
    let inviter = inviter_name(tx, acting.actor).await?;
    mail_invitation(tx, &user, &token, inviter).await?;
    let event = AuditEvent::new(Action::UserInvitationResent).target("user", user.id);
    Ok(Done::audited(Invited { user, token }, event))
}

//! One-time user tokens (invitations, password resets) and accepting an invitation. A token is
//! opaque, names its tenant, is stored hashed and works once before it expires.

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
    ops::{Done, rules},
};

/// How long an invitation or a password-reset token stays valid.
pub const USER_TOKEN_TTL_HOURS: i64 = 72;

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invitation,
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invitation => "invitation",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

/// A token just issued: shown once to whoever hands it over.
pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Issues a one-time token of `purpose` for a user of the tenant of `tx`.
pub async fn issue(
    tx: &mut TenantTx,
    user_id: Uuid,
    purpose: Purpose,
    created_by: Option<Uuid>,
) -> AppResult<IssuedToken> {
    let tenant_id = tx.tenant_id();
    let (token, hash) = opaque::generate(tenant_id);
    let now = Utc::now();
    let expires_at = now + Duration::hours(USER_TOKEN_TTL_HOURS);
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
    let user = UserRow::set_status(tx, user.id, "active").await?;
    let event = AuditEvent::new(Action::UserInvitationAccepted)
        .target("user", user.id)
        .by(Actor::User(user.id));
    Ok(Done::audited(user, event))
}

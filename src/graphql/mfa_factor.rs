//! A user's second factors as GraphQL sees them (`User.mfaFactors`, `User.mfaEnrolled`, and
//! the enrolment payloads of `graphql::mfa`), readable by the user and by admins
//! (users:write). Apart from `graphql::mfa` so that `User` can name them without importing the
//! MFA mutations, which hand out a `User`.

use async_graphql::{Context, Enum, ID, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::models::MfaFactorRow,
    domain::Permission,
    error::AppResult,
    graphql::{context, ids},
};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MfaFactorKind {
    /// An authenticator app (TOTP, RFC 6238).
    Totp,
    /// A passkey (WebAuthn credential, user-verified: `amr` `hwk`).
    Passkey,
}

/// A second factor of a user.
#[derive(SimpleObject)]
pub struct MfaFactor {
    pub id: ID,
    pub kind: MfaFactorKind,
    pub label: String,
    /// False until a first code confirms the enrolment; an unconfirmed factor protects nothing.
    pub confirmed: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<MfaFactorRow> for MfaFactor {
    fn from(row: MfaFactorRow) -> Self {
        MfaFactor {
            id: ids::encode("MfaFactor", row.id),
            kind: if row.kind == "passkey" {
                MfaFactorKind::Passkey
            } else {
                MfaFactorKind::Totp
            },
            label: row.label,
            confirmed: row.confirmed_at.is_some(),
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// The factors of a user, for themselves or an admin (users:write).
pub async fn factors_of(ctx: &Context<'_>, user_id: Uuid) -> AppResult<Vec<MfaFactor>> {
    let scope = viewer_of(ctx, user_id).await?;
    let rows = context::loaders(ctx, scope.tenant_id())?
        .load_one(crate::graphql::loaders::FactorsOf(user_id))
        .await
        .map_err(crate::error::AppError::from)?
        .unwrap_or_default();
    Ok(rows.into_iter().map(MfaFactor::from).collect())
}

/// Whether a user has a confirmed second factor, for themselves or an admin (users:write).
pub async fn enrolled(ctx: &Context<'_>, user_id: Uuid) -> AppResult<bool> {
    Ok(factors_of(ctx, user_id).await?.iter().any(|f| f.confirmed))
}

async fn viewer_of<'a>(ctx: &Context<'a>, user_id: Uuid) -> AppResult<context::TenantScope<'a>> {
    let scope = context::member(ctx)?;
    if scope.user_id() == Some(user_id) {
        return Ok(scope);
    }
    context::require(ctx, Permission::UsersWrite).await
}

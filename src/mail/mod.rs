//! Mail to users: invitations, password resets, email verifications and security notices.
//!
//! A mail is a row of the `mail_outbox`, inserted by [`enqueue`] in the tenant transaction of
//! the change that causes it, so a change that rolls back sends nothing and a committed one is
//! never without its mail. The housekeeping loop renders and sends the due mails outside any
//! transaction ([`delivery::deliver_pending`]), with a lease, retries with backoff and every
//! attempt recorded (`mail_attempts`). Without `HUB_SMTP_URL` mails wait (see `tenant-hub mail
//! list`), or go to the log with `HUB_MAIL_LOG` in development.

pub mod delivery;
pub mod locale;
pub mod notices;
pub mod render;
pub mod reset_limits;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    db::{TenantTx, models::mail::MailRow},
    error::AppResult,
};

/// What a mail is for (the outbox's `kind`, a stable string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Invitation,
    PasswordReset,
    EmailVerification,
    PasswordChanged,
    EmailChanged,
    FactorAdded,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitation",
            MailKind::PasswordReset => "password_reset",
            MailKind::EmailVerification => "email_verification",
            MailKind::PasswordChanged => "password_changed",
            MailKind::EmailChanged => "email_changed",
            MailKind::FactorAdded => "factor_added",
        }
    }

    pub fn parse(s: &str) -> Option<MailKind> {
        [
            MailKind::Invitation,
            MailKind::PasswordReset,
            MailKind::EmailVerification,
            MailKind::PasswordChanged,
            MailKind::EmailChanged,
            MailKind::FactorAdded,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// The hosted page a mail's link opens (with `?token=`), for kinds that carry one.
    pub fn link_path(self) -> Option<&'static str> {
        match self {
            MailKind::Invitation => Some("/invitation"),
            MailKind::PasswordReset => Some("/password-reset"),
            MailKind::EmailVerification => Some("/verify-email"),
            MailKind::EmailChanged => Some("/report-email-change"),
            MailKind::PasswordChanged | MailKind::FactorAdded => None,
        }
    }
}

/// The values of a mail's text that are not secret, stored with it (`mail_outbox.data`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MailData {
    /// The recipient's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The product that asked for the mail, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Who sent an invitation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter: Option<String>,
    /// An email change: the new address (in the notice to the old one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    /// A factor added: its kind and name, as the MFA operations describe it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<String>,
    /// When the link stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A mail to write to the outbox.
pub struct Outgoing {
    pub kind: MailKind,
    /// The user the mail is about (its mail goes with the user).
    pub user_id: Option<Uuid>,
    pub recipient: String,
    pub data: MailData,
    /// The one-time token of the link, for kinds with a link; dropped once sent.
    pub link_token: Option<String>,
}

/// Writes a mail to the outbox of the tenant of `tx`, in that transaction. Returns its id (its
/// Message-ID).
pub async fn enqueue(tx: &mut TenantTx, out: Outgoing) -> AppResult<Uuid> {
    let now = Utc::now();
    let row = MailRow {
        tenant_id: tx.tenant_id(),
        id: Uuid::now_v7(),
        kind: out.kind.as_str().to_owned(),
        user_id: out.user_id,
        recipient: out.recipient,
        locale: locale::DEFAULT.to_owned(),
        data: serde_json::to_value(&out.data).unwrap_or_default(),
        link_secret: out.link_token,
        created_at: now,
        next_attempt_at: now,
        attempts: 0,
        sent_at: None,
        failed_at: None,
        last_error: None,
    };
    MailRow::insert(tx, &row).await?;
    Ok(row.id)
}

/// Checks the mail settings at start: an SMTP URL lettre cannot use, or a From that is not an
/// address, stops the hub with a clear error.
pub fn check_settings(settings: &crate::config::Settings) -> anyhow::Result<()> {
    delivery::from_mailbox(&settings.mail_from)
        .map_err(|e| anyhow::anyhow!("HUB_MAIL_FROM is not a mail address: {e}"))?;
    if let Some(url) = &settings.smtp_url {
        delivery::transport(url).map_err(|e| {
            anyhow::anyhow!(
                "HUB_SMTP_URL is not usable (smtp://, smtps:// or smtp://…?tls=required): {e}"
            )
        })?;
    }
    Ok(())
}

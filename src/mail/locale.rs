//! The words of the mails, one function per locale (English now): everything a reader sees
//! except the tenant's own names comes from here, so a new locale is one more function and
//! a match arm in [`content`]. Templates (`templates/mail/`) only lay it out.

use chrono::{DateTime, Utc};

use crate::mail::{MailData, MailKind};

/// The locale of mails that name no other.
pub const DEFAULT: &str = "en";

/// A link button and its label.
#[derive(Debug, Clone)]
pub struct Action {
    pub label: String,
    pub url: String,
}

/// What a mail says, in one locale.
#[derive(Debug, Clone)]
pub struct Content {
    pub lang: &'static str,
    pub subject: String,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub action: Option<Action>,
    /// Smaller print after the action (expiry, "not you?").
    pub notes: Vec<String>,
    pub footer: String,
}

/// What the texts may name.
pub struct Vars<'a> {
    pub tenant: &'a str,
    pub recipient: &'a str,
    pub data: &'a MailData,
    pub link: Option<String>,
}

/// The content of a mail of `kind` in `locale` (unknown locales: English).
pub fn content(locale: &str, kind: MailKind, vars: &Vars<'_>) -> Content {
    // English is the only locale so far; any other falls back to it.
    let _ = locale;
    en(kind, vars)
}

fn when(t: &Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn en(kind: MailKind, v: &Vars<'_>) -> Content {
    let tenant = v.tenant;
    let hello = match &v.data.name {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    };
    let product = v
        .data
        .product
        .as_deref()
        .map(|p| format!(" to use {p}"))
        .unwrap_or_default();
    let expires = when(&v.data.expires_at)
        .map(|t| format!("The link works once, until {t}."))
        .unwrap_or_else(|| "The link works once.".to_owned());
    let action = |label: &str| {
        v.link.clone().map(|url| Action {
            label: label.to_owned(),
            url,
        })
    };
    let (subject, heading, paragraphs, action, notes) = match kind {
        MailKind::Invitation => (
            format!("You are invited to {tenant}"),
            format!("Join {tenant}"),
            vec![
                hello,
                match &v.data.inviter {
                    Some(by) => format!(
                        "{by} invited you to {tenant}{product}. Choose your password to accept."
                    ),
                    None => format!(
                        "You have been invited to {tenant}{product}. Choose your password to accept."
                    ),
                },
            ],
            action("Accept the invitation"),
            vec![
                expires,
                "If you did not expect this invitation, ignore this mail.".to_owned(),
            ],
        ),
        MailKind::PasswordReset => (
            format!("Reset your {tenant} password"),
            "Reset your password".to_owned(),
            vec![
                hello,
                format!(
                    "Someone asked to reset the password of {} at {tenant}{product}.",
                    v.recipient
                ),
            ],
            action("Choose a new password"),
            vec![
                expires,
                "If you did not ask for this, ignore this mail: your password stays as it is."
                    .to_owned(),
            ],
        ),
        MailKind::EmailVerification => (
            format!("Confirm your email address for {tenant}"),
            "Confirm your email address".to_owned(),
            vec![
                hello,
                format!(
                    "Please confirm that {} is your address at {tenant}.",
                    v.recipient
                ),
            ],
            action("Confirm my address"),
            vec![expires],
        ),
        MailKind::PasswordChanged => (
            format!("Your {tenant} password was changed"),
            "Your password was changed".to_owned(),
            vec![
                hello,
                format!(
                    "The password of {} at {tenant} was just changed, and your other sessions were signed out.",
                    v.recipient
                ),
            ],
            None,
            vec![
                "If this was not you, reset your password at once and tell your administrator."
                    .to_owned(),
            ],
        ),
        MailKind::EmailChanged => (
            format!("Your {tenant} email address was changed"),
            "Your email address was changed".to_owned(),
            vec![
                hello,
                format!(
                    "The email address of your account at {tenant} was changed from {} to {}.",
                    v.recipient,
                    v.data.new_email.as_deref().unwrap_or("another address")
                ),
            ],
            action("This was not me"),
            vec![
                "If this was you, there is nothing to do. If not, follow the link: the change is reported to your administrators and every session of the account is signed out."
                    .to_owned(),
            ],
        ),
        MailKind::FactorAdded => (
            format!("A sign-in factor was added to your {tenant} account"),
            "A sign-in factor was added".to_owned(),
            vec![
                hello,
                format!(
                    "{} was added to the account {} at {tenant}.",
                    v.data.factor.as_deref().unwrap_or("A second factor"),
                    v.recipient
                ),
            ],
            None,
            vec![
                "If this was not you, change your password at once and tell your administrator."
                    .to_owned(),
            ],
        ),
    };
    Content {
        lang: "en",
        subject,
        heading,
        paragraphs,
        action,
        notes,
        footer: format!(
            "This mail was sent by {tenant} through tenant-hub to {}.",
            v.recipient
        ),
    }
}

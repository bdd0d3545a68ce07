//! Security notices: mails telling a user that something changed on their account (password
//! changed, email changed, a sign-in factor added). Each is written to the outbox in the
//! transaction of the change, like every mail.

use crate::{
    db::{TenantTx, models::UserRow},
    error::AppResult,
    mail::{self, MailData, MailKind, Outgoing},
};

/// "Your password was changed", to the user.
pub async fn password_changed(tx: &mut TenantTx, user: &UserRow) -> AppResult<()> {
    mail::enqueue(
        tx,
        Outgoing {
            kind: MailKind::PasswordChanged,
            user_id: Some(user.id),
            recipient: user.email.clone(),
            data: MailData {
                name: user.display_name.clone(),
                ..MailData::default()
            },
            link_token: None,
        },
    )
    .await?;
    Ok(())
}

/// "Your email address was changed", to the *old* address, with a link to report it
/// (`report_token`, a one-time token of purpose `email_change_report`).
pub async fn email_changed(
    tx: &mut TenantTx,
    user: &UserRow,
    old_email: &str,
    report_token: String,
) -> AppResult<()> {
    mail::enqueue(
        tx,
        Outgoing {
            kind: MailKind::EmailChanged,
            user_id: Some(user.id),
            recipient: old_email.to_owned(),
            data: MailData {
                name: user.display_name.clone(),
                new_email: Some(user.email.clone()),
                ..MailData::default()
            },
            link_token: Some(report_token),
        },
    )
    .await?;
    Ok(())
}

/// "A sign-in factor was added", to the user; `factor` describes it for a reader ("An
/// authenticator app", "The passkey “YubiKey 5”"). For the MFA operations, in the transaction
/// that adds the factor.
pub async fn factor_added(tx: &mut TenantTx, user: &UserRow, factor: &str) -> AppResult<()> {
    mail::enqueue(
        tx,
        Outgoing {
            kind: MailKind::FactorAdded,
            user_id: Some(user.id),
            recipient: user.email.clone(),
            data: MailData {
                name: user.display_name.clone(),
                factor: Some(factor.to_owned()),
                ..MailData::default()
            },
            link_token: None,
        },
    )
    .await?;
    Ok(())
}

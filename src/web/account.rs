//! The hosted account pages the hub's mails link to: accepting an invitation
//! ([`invitation`]), a forgotten password and its reset link ([`password_reset`]), confirming an
//! email address and reporting an email change one did not make ([`email_links`]).
//!
//! Every link carries a one-time token (`?token=…`). A `GET` only looks the token up, never uses
//! it (mail scanners prefetch links): it shows the page with the token in a hidden field of a
//! form whose `action` has no query, and the `POST` (CSRF-checked) runs the same operation as the
//! GraphQL mutation. So the token is never in a link or an address after it was used, and pages
//! carry `Referrer-Policy: no-referrer` while it is. A used, expired or replaced token gets one
//! clear page that does not say which of the three it was.

pub mod email_links;
pub mod invitation;
pub mod password_reset;

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    auth::opaque,
    db::{
        ScopedFutureExt,
        models::{TenantRow, UserRow},
    },
    domain::NewPassword,
    error::AppResult,
    ops::invitations::{self, Purpose},
    ops::sign_in::SignIn,
    web::{
        branding,
        page::{self, Chrome, TenantChrome},
        redirects::{LoginHints, login_url},
    },
};

type State = web::Data<SignIn>;

/// The query of a mail's link.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
    return_to: Option<String>,
}

/// A form that carries a link's token.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    csrf: Option<String>,
    token: Option<String>,
}

/// A form that sets a new password with a link's token.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: Option<String>,
    token: Option<String>,
    return_to: Option<String>,
    display_name: Option<String>,
    password: String,
    password_again: String,
}

/// The user and tenant of a link whose token is still usable.
pub(crate) struct Pending {
    user: UserRow,
    tenant: TenantRow,
}

impl Pending {
    fn chrome(&self, title: &str) -> Chrome {
        Chrome::new(title, Some(branding::chrome(&self.tenant)))
    }
}

/// Looks up, without using it, the token of a link for `purpose`: `None` when it names no
/// tenant, or is used, expired, replaced or for something else.
async fn pending(
    state: &SignIn,
    token: Option<&str>,
    purpose: Purpose,
) -> AppResult<Option<Pending>> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let Some(tenant_id) = opaque::tenant_of(token) else {
        return Ok(None);
    };
    let hash = opaque::hash(token);
    state
        .db
        .tenant_tx(tenant_id, move |tx| {
            async move {
                let Some(user) = invitations::pending_user(tx, &hash, purpose).await? else {
                    return Ok(None);
                };
                let tenant = TenantRow::current(tx, tenant_id).await?;
                Ok(Some(Pending { user, tenant }))
            }
            .scope_boxed()
        })
        .await
}

/// The tenant a token names (for the branding of its pages), whether or not it is usable.
async fn tenant_of_token(state: &SignIn, token: Option<&str>) -> Option<TenantChrome> {
    let tenant_id = opaque::tenant_of(token?.trim())?;
    let tenant = state
        .db
        .tenant_tx(tenant_id, |tx| {
            TenantRow::current(tx, tenant_id).scope_boxed()
        })
        .await
        .ok()?;
    Some(branding::chrome(&tenant))
}

/// The page for a link whose token is used, expired or replaced (or was never one).
async fn link_not_valid(state: &SignIn, token: Option<&str>, what: &str) -> HttpResponse {
    page::error_page(
        StatusCode::GONE,
        "This link no longer works",
        &format!(
            "This {what} link has expired, was already used, or was replaced by a newer one. \
             Ask for a new one, or sign in if you have already finished."
        ),
        tenant_of_token(state, token).await,
    )
}

/// Checks a new password typed twice against the hub's rules (for the account's `email`):
/// the sentence to show when it is refused.
fn check_new_password(password: &str, again: &str, email: &str) -> Result<NewPassword, String> {
    if password != again {
        return Err("The two passwords are not the same. Type the new password twice.".to_owned());
    }
    NewPassword::parse("The password", password, Some(email)).map_err(|e| format!("{}.", e.message))
}

/// The sign-in page for `tenant`'s account `email`.
fn sign_in_link(tenant: Uuid, email: &str) -> String {
    login_url(
        "/",
        &LoginHints {
            tenant: Some(tenant.to_string()),
            login_hint: Some(email.to_owned()),
            force: false,
        },
    )
}

#[derive(Template)]
#[template(path = "pages/account_done.html")]
struct DonePage {
    chrome: Chrome,
    message: String,
    link: Option<(String, String)>,
}

/// A page that says what was done, with where to go next (text, path).
fn done(
    chrome: Chrome,
    message: impl Into<String>,
    link: Option<(String, String)>,
) -> HttpResponse {
    page::render(
        StatusCode::OK,
        &DonePage {
            chrome,
            message: message.into(),
            link,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_must_be_typed_twice_and_follow_the_rules() {
        let email = "ivy@acme.example.com";
        assert!(
            check_new_password("a fine long passphrase", "a fine long passphrase", email).is_ok()
        );
        let twice = check_new_password("a fine long passphrase", "a fine long passphrase!", email);
        assert!(twice.unwrap_err().contains("not the same"));
        let short = check_new_password("short", "short", email).unwrap_err();
        assert!(
            short.starts_with("The password must have at least"),
            "{short}"
        );
        let own = check_new_password("ivy@acme.example.com!!", "ivy@acme.example.com!!", email)
            .unwrap_err();
        assert!(own.contains("email address"), "{own}");
    }

    #[test]
    fn the_sign_in_link_names_the_account() {
        let tenant = Uuid::nil();
        assert_eq!(
            sign_in_link(tenant, "a+b@x.example"),
            "/login?return_to=%2F&tenant=00000000-0000-0000-0000-000000000000&login_hint=a%2Bb%40x.example"
        );
    }
}

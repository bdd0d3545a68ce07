//! The links that only confirm something: `/verify-email?token=…` (a verification mail: the
//! address is the user's) and `/report-email-change?token=…` (the notice of a changed email,
//! sent to the old address: "this was not me"). Mail scanners and link previews fetch links
//! before anyone reads the mail, so the `GET` only shows a button; the `POST` does it, through
//! the same operations as `verifyEmail` and `reportEmailChange`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;

use super::{State, TokenForm, TokenQuery, done, link_not_valid, pending, sign_in_link};
use crate::{
    auth::opaque,
    db::{ScopedFutureExt, audit::Actor},
    error::ErrorCode,
    ops::{self, invitations::Purpose, users},
    request::RequestMeta,
    web::{branding, csrf, page},
};

#[derive(Template)]
#[template(path = "pages/account_confirm.html")]
struct ConfirmPage {
    chrome: page::Chrome,
    csrf: String,
    token: String,
    action: &'static str,
    message: String,
    button: &'static str,
}

/// One of the two links.
#[derive(Clone, Copy)]
enum Link {
    VerifyEmail,
    ReportEmailChange,
}

impl Link {
    fn purpose(self) -> Purpose {
        match self {
            Link::VerifyEmail => Purpose::EmailVerification,
            Link::ReportEmailChange => Purpose::EmailChangeReport,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Link::VerifyEmail => "email confirmation",
            Link::ReportEmailChange => "report",
        }
    }
}

async fn show(req: HttpRequest, state: State, token: Option<&str>, link: Link) -> HttpResponse {
    let pending = match pending(&state, token, link.purpose()).await {
        Ok(Some(p)) => p,
        Ok(None) => return link_not_valid(&state, token, link.what()).await,
        Err(e) => return page::for_error(&e, None),
    };
    let issued = csrf::issue(&req);
    let tenant = &pending.tenant.name;
    let page = match link {
        Link::VerifyEmail => ConfirmPage {
            chrome: pending.chrome("Confirm your email address"),
            csrf: issued.token.clone(),
            token: token.unwrap_or_default().trim().to_owned(),
            action: "/verify-email",
            message: format!(
                "Confirm that {} is your email address for your {tenant} account.",
                pending.user.email
            ),
            button: "Confirm my email address",
        },
        Link::ReportEmailChange => ConfirmPage {
            chrome: pending.chrome("Report an email change"),
            csrf: issued.token.clone(),
            token: token.unwrap_or_default().trim().to_owned(),
            action: "/report-email-change",
            message: format!(
                "The email address of your {tenant} account was changed. If you did not make \
                 this change, report it: every device signed in to the account is signed out \
                 and {tenant}'s administrators see your report."
            ),
            button: "I did not make this change",
        },
    };
    crate::web::csrf::render_issued(StatusCode::OK, issued, &page)
}

/// `GET /verify-email?token=…`: the button that confirms the address. Verifies nothing.
pub async fn show_verify(
    req: HttpRequest,
    state: State,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    show(req, state, query.token.as_deref(), Link::VerifyEmail).await
}

/// `GET /report-email-change?token=…`: the button that reports the change. Reports nothing.
pub async fn show_report(
    req: HttpRequest,
    state: State,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    show(req, state, query.token.as_deref(), Link::ReportEmailChange).await
}

/// `POST /verify-email`: the address is verified.
pub async fn verify(req: HttpRequest, state: State, form: web::Form<TokenForm>) -> HttpResponse {
    confirm(req, state, form, Link::VerifyEmail).await
}

/// `POST /report-email-change`: every session of the account ends, the report is in the
/// tenant's audit log for its admins.
pub async fn report(req: HttpRequest, state: State, form: web::Form<TokenForm>) -> HttpResponse {
    confirm(req, state, form, Link::ReportEmailChange).await
}

async fn confirm(
    req: HttpRequest,
    state: State,
    form: web::Form<TokenForm>,
    link: Link,
) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return crate::web::csrf::refused_page(reason);
    }
    let token = form.token.as_deref().map(str::trim).unwrap_or_default();
    let pending = match pending(&state, Some(token), link.purpose()).await {
        Ok(Some(p)) => p,
        Ok(None) => return link_not_valid(&state, Some(token), link.what()).await,
        Err(e) => return page::for_error(&e, None),
    };
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let audit = meta.audit(Actor::Anonymous);
    let token_hash = opaque::hash(token);
    let ran = ops::in_tenant(&state.db, pending.tenant.id, audit.clone(), move |tx| {
        async move {
            match link {
                Link::VerifyEmail => {
                    let d = users::verify_email(tx, &token_hash).await?;
                    Ok(ops::Done {
                        value: (),
                        events: d.events,
                        effects: d.effects,
                    })
                }
                Link::ReportEmailChange => users::report_email_change(tx, &token_hash).await,
            }
        }
        .scope_boxed()
    })
    .await;
    let chrome = || Some(branding::chrome(&pending.tenant));
    match ran {
        Ok(done) => state.effects.run(&audit, done.effects).await,
        Err(e) if e.code == ErrorCode::Unauthenticated => {
            return link_not_valid(&state, Some(token), link.what()).await;
        }
        Err(e) => return page::for_error(&e, chrome()),
    }
    let tenant = &pending.tenant.name;
    match link {
        Link::VerifyEmail => done(
            page::Chrome::new("Your email address is confirmed", chrome()),
            format!(
                "Thank you: {} is confirmed as the email address of your {tenant} account.",
                pending.user.email
            ),
            Some((
                "Sign in".to_owned(),
                sign_in_link(pending.tenant.id, &pending.user.email),
            )),
        ),
        Link::ReportEmailChange => done(
            page::Chrome::new("Thank you for your report", chrome()),
            format!(
                "Every device signed in to the account was signed out, and {tenant}'s \
                 administrators can see your report. Contact them to get the account back."
            ),
            None,
        ),
    }
}

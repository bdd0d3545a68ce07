//! A forgotten password on the hosted pages. `GET /forgot-password?tenant=…&email=…` (the
//! login page's "Forgot your password?") asks for the email (and the organisation when the link
//! names none); `POST /forgot-password` runs `ops::passwords::forgot` (the same request as
//! `requestPasswordReset`, with its per-IP and per-account limits) and always shows the same
//! page, whether the account exists, the request was limited or a mail went out: nothing tells
//! who has an account. `GET /password-reset?token=…` (the link of the mail, or of an admin's
//! reset) shows the new-password form; `POST /password-reset` sets it through
//! `ops::passwords::reset`, which ends every session of the account, and links to sign-in.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

use super::{
    PasswordForm, Pending, State, TokenQuery, check_new_password, done, link_not_valid, pending,
    sign_in_link,
};
use crate::{
    auth::{opaque, password},
    db::{ScopedFutureExt, audit::Actor},
    domain::password::MIN_LENGTH,
    error::ErrorCode,
    ops::{self, invitations::Purpose, passwords, sessions},
    request::RequestMeta,
    web::{
        branding, csrf,
        page::{self, Chrome, TenantChrome},
    },
};

#[derive(Debug, Deserialize)]
pub struct ForgotQuery {
    tenant: Option<String>,
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    csrf: Option<String>,
    tenant: Option<String>,
    email: String,
}

#[derive(Template)]
#[template(path = "pages/account_forgot.html")]
struct ForgotPage {
    chrome: Chrome,
    csrf: String,
    ask_tenant: bool,
    tenant: String,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/account_forgot_sent.html")]
struct SentPage {
    chrome: Chrome,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "pages/account_password_reset.html")]
struct ResetPage {
    chrome: Chrome,
    csrf: String,
    token: String,
    email: String,
    error: Option<String>,
    min_length: usize,
}

/// The tenant named by a form or link (domain, slug or id), for its branding; `None` when it
/// names none that exists.
async fn named_tenant(state: &State, key: Option<&str>) -> Option<(String, TenantChrome)> {
    let key = key.map(str::trim).filter(|k| !k.is_empty())?;
    let tenant = sessions::tenant_for_sign_in(state, key)
        .await
        .ok()
        .flatten()?;
    Some((tenant.id.to_string(), branding::chrome(&tenant)))
}

/// `GET /forgot-password`: the form, prefilled from the login page's link.
pub async fn show(req: HttpRequest, state: State, query: web::Query<ForgotQuery>) -> HttpResponse {
    let issued = csrf::issue(&req);
    let found = named_tenant(&state, query.tenant.as_deref()).await;
    let page = ForgotPage {
        chrome: Chrome::new(
            "Reset your password",
            found.as_ref().map(|(_, c)| c.clone()),
        ),
        csrf: issued.token.clone(),
        ask_tenant: found.is_none(),
        tenant: found
            .as_ref()
            .map(|(id, _)| id.clone())
            .or_else(|| query.tenant.clone())
            .unwrap_or_default(),
        email: query.email.clone().unwrap_or_default(),
        error: None,
    };
    crate::web::csrf::render_issued(StatusCode::OK, issued, &page)
}

/// `POST /forgot-password`: asks for a reset link; the same page whatever happened.
pub async fn request(req: HttpRequest, state: State, form: web::Form<ForgotForm>) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return crate::web::csrf::refused_page(reason);
    }
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let email = form.email.trim().to_owned();
    let named = form
        .tenant
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    // No organisation given: the email's domain names it, as on the login page.
    let tenant_key = match named {
        Some(key) => key.to_owned(),
        None => email
            .rsplit_once('@')
            .map(|(_, domain)| domain.to_lowercase())
            .unwrap_or_default(),
    };
    let chrome = named_tenant(&state, named).await.map(|(_, c)| c);
    match passwords::forgot(
        &state.db,
        &state.reset_limits,
        &state.effects,
        &meta,
        &tenant_key,
        &email,
    )
    .await
    {
        // A request over the per-IP limit is answered like any other (it sent nothing).
        Ok(()) => {}
        Err(e) if e.code == ErrorCode::RateLimited => {}
        Err(e) if e.code == ErrorCode::BadUserInput => {
            let issued = csrf::issue(&req);
            let page = ForgotPage {
                chrome: Chrome::new("Reset your password", chrome.clone()),
                csrf: issued.token.clone(),
                ask_tenant: named.is_none() || chrome.is_none(),
                tenant: named.unwrap_or_default().to_owned(),
                email,
                error: Some("Enter your email address, like name@example.com.".to_owned()),
            };
            return crate::web::csrf::render_issued(StatusCode::BAD_REQUEST, issued, &page);
        }
        Err(e) => return page::for_error(&e, chrome),
    }
    page::render(
        StatusCode::OK,
        &SentPage {
            chrome: Chrome::new("Check your mail", chrome),
            minutes: ops::invitations::RESET_LINK_TTL_MINUTES,
        },
    )
}

fn reset_page(
    req: &HttpRequest,
    pending: &Pending,
    token: &str,
    error: Option<String>,
) -> HttpResponse {
    let issued = csrf::issue(req);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ResetPage {
        chrome: pending.chrome("Choose a new password"),
        csrf: issued.token.clone(),
        token: token.to_owned(),
        email: pending.user.email.clone(),
        error,
        min_length: MIN_LENGTH,
    };
    crate::web::csrf::render_issued(status, issued, &page)
}

/// `GET /password-reset?token=…`: the new-password form. Uses nothing up.
pub async fn show_reset(
    req: HttpRequest,
    state: State,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    let token = query.token.as_deref();
    match pending(&state, token, Purpose::PasswordReset).await {
        Ok(Some(p)) => reset_page(&req, &p, token.unwrap_or_default().trim(), None),
        Ok(None) => link_not_valid(&state, token, "password reset").await,
        Err(e) => page::for_error(&e, None),
    }
}

/// `POST /password-reset`: sets the new password; every session of the account ends.
pub async fn reset(req: HttpRequest, state: State, form: web::Form<PasswordForm>) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return crate::web::csrf::refused_page(reason);
    }
    let token = form.token.as_deref().map(str::trim).unwrap_or_default();
    // The token first: a bad one costs no hashing.
    let pending = match pending(&state, Some(token), Purpose::PasswordReset).await {
        Ok(Some(p)) => p,
        Ok(None) => return link_not_valid(&state, Some(token), "password reset").await,
        Err(e) => return page::for_error(&e, None),
    };
    let new = match check_new_password(&form.password, &form.password_again, &pending.user.email) {
        Ok(new) => new,
        Err(message) => return reset_page(&req, &pending, token, Some(message)),
    };
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let chrome = || Some(branding::chrome(&pending.tenant));
    if let Err(e) = state.rate_limits.check_anonymous_hashing(&meta.ip) {
        return page::for_error(&e, chrome());
    }
    let hash = match password::hash(&new).await {
        Ok(hash) => hash,
        Err(e) => return page::for_error(&e, chrome()),
    };
    let token_hash = opaque::hash(token);
    let audit = meta.audit(Actor::Anonymous);
    let reset = ops::in_tenant(&state.db, pending.tenant.id, audit.clone(), move |tx| {
        async move { passwords::reset(tx, &token_hash, &hash).await }.scope_boxed()
    })
    .await;
    match reset {
        Ok(done) => state.effects.run(&audit, done.effects).await,
        Err(e) if e.code == ErrorCode::Unauthenticated => {
            return link_not_valid(&state, Some(token), "password reset").await;
        }
        Err(e) => return page::for_error(&e, chrome()),
    }
    done(
        Chrome::new("Your password was changed", chrome()),
        "Your new password is set, and every device signed in to your account was signed out. \
         Sign in with the new password.",
        Some((
            "Sign in".to_owned(),
            sign_in_link(pending.tenant.id, &pending.user.email),
        )),
    )
}

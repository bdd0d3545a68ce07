//! The hosted sign-in: `GET /login` (the email, and the organisation when it cannot be told),
//! `POST /login/identify` (finds the tenant: the `tenant` given, else the email's domain, else
//! the browser's last tenant), `POST /login/password` (the password, through the same
//! `ops::sessions` sign-in as the API: limiter, audit, one hash check), then the browser
//! session and a redirect to `return_to`. A browser already signed in sees "signed in as … /
//! use another account". `POST /logout` signs the browser out, `GET /` is the signed-in home.
//!
//! `return_to` is only ever a path on this hub (`redirects::safe_return_to`): no open redirect.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    db::{ScopedFutureExt, models::TenantRow},
    error::{AppError, ErrorCode},
    ops::sessions::{self, AuthMethod, BAD_CREDENTIALS},
    ops::sign_in::SignIn,
    request::RequestMeta,
    web::{
        branding,
        browser_session::{self, BrowserSession},
        csrf,
        page::{self, Chrome},
        redirects::{
            LAST_TENANT_COOKIE, LoginHints, login_url, safe_return_to, signed_in_redirect,
        },
    },
};

type State = web::Data<SignIn>;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
    tenant: Option<String>,
    login_hint: Option<String>,
    force: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/login_identify.html")]
struct IdentifyPage {
    chrome: Chrome,
    csrf: String,
    return_to: String,
    ask_tenant: bool,
    tenant: String,
    /// The id of the tenant this page is known to be for: only then can a passkey sign in
    /// (its ceremony is the tenant's).
    passkey_tenant: Option<String>,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/login_password.html")]
struct PasswordPage {
    chrome: Chrome,
    csrf: String,
    return_to: String,
    tenant: String,
    email: String,
    error: Option<String>,
    other_account: String,
    forgot_password: String,
}

#[derive(Template)]
#[template(path = "pages/signed_in.html")]
struct SignedInPage {
    chrome: Chrome,
    csrf: String,
    return_to: String,
    name: String,
    email: String,
    continue_to: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/signed_out.html")]
struct SignedOutPage {
    chrome: Chrome,
}

async fn tenant_chrome(
    state: &SignIn,
    key: Option<&str>,
) -> Option<(TenantRow, page::TenantChrome)> {
    let key = key.map(str::trim).filter(|k| !k.is_empty())?;
    let tenant = sessions::tenant_for_sign_in(state, key)
        .await
        .ok()
        .flatten()?;
    let chrome = branding::chrome(&tenant);
    Some((tenant, chrome))
}

fn last_tenant(req: &HttpRequest) -> Option<String> {
    req.cookie(LAST_TENANT_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| Uuid::try_parse(v).is_ok())
}

/// `GET /login`.
pub async fn show(req: HttpRequest, state: State, query: web::Query<LoginQuery>) -> HttpResponse {
    let return_to = safe_return_to(query.return_to.as_deref());
    let force = query.force.as_deref() == Some("1");
    let issued = csrf::issue(&req);
    if !force {
        match browser_session::current(&req, &state).await {
            Ok(Some(session)) => {
                return signed_in(&state, issued, session, return_to, true).await;
            }
            Ok(None) => {}
            Err(e) => return page::for_error(&e, None),
        }
    }
    let named = query.tenant.clone().or_else(|| last_tenant(&req));
    let found = tenant_chrome(&state, named.as_deref()).await;
    let mut chrome = Chrome::new("Sign in", found.as_ref().map(|(_, c)| c.clone()));
    chrome.product = crate::oauth::product::name_of_return_to(&state.db, &return_to).await;
    let page = IdentifyPage {
        chrome,
        csrf: issued.token.clone(),
        return_to,
        ask_tenant: query.tenant.is_none(),
        tenant: found
            .as_ref()
            .map(|(t, _)| t.id.to_string())
            .or(query.tenant.clone())
            .unwrap_or_default(),
        passkey_tenant: found.as_ref().map(|(t, _)| t.id.to_string()),
        email: query.login_hint.clone().unwrap_or_default(),
        error: None,
    };
    csrf::render_issued(StatusCode::OK, issued, &page)
}

async fn signed_in(
    state: &SignIn,
    issued: csrf::Issued,
    session: BrowserSession,
    return_to: String,
    offer_continue: bool,
) -> HttpResponse {
    let tenant = state
        .db
        .tenant_tx(session.tenant_id, |tx| {
            TenantRow::current(tx, session.tenant_id).scope_boxed()
        })
        .await
        .ok();
    let page = SignedInPage {
        chrome: Chrome::new("You are signed in", tenant.as_ref().map(branding::chrome)),
        csrf: issued.token.clone(),
        continue_to: offer_continue.then(|| return_to.clone()),
        return_to,
        name: session.name().to_owned(),
        email: session.email.clone(),
    };
    csrf::render_issued(StatusCode::OK, issued, &page)
}

#[derive(Debug, Deserialize)]
pub struct IdentifyForm {
    csrf: Option<String>,
    return_to: Option<String>,
    tenant: Option<String>,
    email: String,
}

/// The domain of an email address, lower-cased.
fn email_domain(email: &str) -> Option<String> {
    let (_, domain) = email.trim().rsplit_once('@')?;
    (!domain.is_empty()).then(|| domain.to_lowercase())
}

/// `POST /login/identify`: finds the tenant and asks for the password.
pub async fn identify(
    req: HttpRequest,
    state: State,
    form: web::Form<IdentifyForm>,
) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return csrf::refused_page(reason);
    }
    let return_to = safe_return_to(form.return_to.as_deref());
    let issued = csrf::issue(&req);
    let email = form.email.trim().to_owned();
    let named = form
        .tenant
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    // Home-realm discovery: a domain served by a tenant's identity provider signs in there.
    let (realm_tenant, notice) =
        match crate::web::sso::home_realm(&req, &state, &email, named, &return_to).await {
            crate::web::sso::HomeRealm::Answer(res) => return res,
            crate::web::sso::HomeRealm::PasswordWithNotice { tenant_id, notice } => {
                (Some(tenant_id.to_string()), Some(notice))
            }
            crate::web::sso::HomeRealm::Password => (None, None),
        };
    let mut found = match named.or(realm_tenant.as_deref()) {
        Some(key) => tenant_chrome(&state, Some(key)).await,
        None => tenant_chrome(&state, email_domain(&email).as_deref()).await,
    };
    if found.is_none() && named.is_none() {
        found = tenant_chrome(&state, last_tenant(&req).as_deref()).await;
    }
    let Some((tenant, chrome)) = found else {
        let page = IdentifyPage {
            chrome: Chrome::new("Sign in", None),
            csrf: issued.token.clone(),
            return_to,
            ask_tenant: true,
            tenant: named.unwrap_or_default().to_owned(),
            passkey_tenant: None,
            email,
            error: Some(
                "We could not tell which organisation you belong to. Enter its domain or name."
                    .to_owned(),
            ),
        };
        return csrf::render_issued(StatusCode::OK, issued, &page);
    };
    let product = crate::oauth::product::name_of_return_to(&state.db, &return_to).await;
    let mut page = password_page(
        issued.token.clone(),
        return_to,
        &tenant,
        chrome,
        email,
        notice,
    );
    page.chrome.product = product;
    csrf::render_issued(StatusCode::OK, issued, &page)
}

fn password_page(
    csrf: String,
    return_to: String,
    tenant: &TenantRow,
    chrome: page::TenantChrome,
    email: String,
    error: Option<String>,
) -> PasswordPage {
    let other_account = login_url(
        &return_to,
        &LoginHints {
            force: true,
            ..LoginHints::default()
        },
    );
    let mut forgot = url::Url::parse("http://hub/forgot-password").expect("static URL");
    forgot
        .query_pairs_mut()
        .append_pair("tenant", &tenant.id.to_string())
        .append_pair("email", &email);
    PasswordPage {
        chrome: Chrome::new("Enter your password", Some(chrome)),
        csrf,
        return_to,
        tenant: tenant.id.to_string(),
        email,
        error,
        other_account,
        forgot_password: format!("/forgot-password?{}", forgot.query().unwrap_or_default()),
    }
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: Option<String>,
    return_to: Option<String>,
    tenant: String,
    email: String,
    password: String,
}

/// `POST /login/password`: signs the browser in and sends it on to `return_to`.
pub async fn password(
    req: HttpRequest,
    state: State,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return csrf::refused_page(reason);
    }
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let return_to = safe_return_to(form.return_to.as_deref());
    let who = match sessions::authenticate_password(
        &state,
        &meta,
        &form.tenant,
        &form.email,
        &form.password,
    )
    .await
    {
        Ok(who) => who,
        Err(e) if e.code == ErrorCode::Unauthenticated => {
            let issued = csrf::issue(&req);
            let Some((tenant, chrome)) = tenant_chrome(&state, Some(&form.tenant)).await else {
                return page::error_page(
                    StatusCode::UNAUTHORIZED,
                    "Sign-in failed",
                    BAD_CREDENTIALS,
                    None,
                );
            };
            let page = password_page(
                issued.token.clone(),
                return_to,
                &tenant,
                chrome,
                form.email.trim().to_owned(),
                Some(format!("{}.", capitalised(BAD_CREDENTIALS))),
            );
            return csrf::render_issued(StatusCode::UNAUTHORIZED, issued, &page);
        }
        Err(e) => {
            let chrome = tenant_chrome(&state, Some(&form.tenant))
                .await
                .map(|(_, c)| c);
            return page::for_error(&e, chrome);
        }
    };
    // A second factor due: the browser is not signed in on the password alone; the pending
    // sign-in goes on at /login/mfa (web::mfa).
    let user_id = who.user.id;
    let need = state
        .db
        .tenant_tx(who.tenant.id, move |tx| {
            crate::ops::mfa::requirement(tx, user_id).scope_boxed()
        })
        .await;
    match need {
        Ok(crate::ops::mfa::SecondFactor::NotNeeded) => {}
        Ok(need) => {
            return crate::web::mfa::begin(
                &state,
                &meta,
                &who,
                need,
                vec![AuthMethod::Password],
                &return_to,
            )
            .await;
        }
        Err(e) => return page::for_error(&e, None),
    }
    signed_in_redirect(
        &req,
        &state,
        &meta,
        &who,
        vec![AuthMethod::Password],
        &return_to,
    )
    .await
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
    return_to: Option<String>,
}

async fn end_current(req: &HttpRequest, state: &SignIn) -> Result<(), AppError> {
    let meta = RequestMeta::from_request(req, &state.settings.trusted_proxies);
    if let Some(session) = browser_session::current(req, state).await? {
        browser_session::end(state, &meta, &session, "logout").await?;
    }
    Ok(())
}

/// `POST /login/switch`: "use another account": signs the browser out, then the login form.
pub async fn switch(req: HttpRequest, state: State, form: web::Form<CsrfForm>) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return csrf::refused_page(reason);
    }
    if let Err(e) = end_current(&req, &state).await {
        return page::for_error(&e, None);
    }
    let to = login_url(
        &safe_return_to(form.return_to.as_deref()),
        &LoginHints {
            force: true,
            ..LoginHints::default()
        },
    );
    page::with_headers(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, to))
        .cookie(browser_session::removal())
        .finish()
}

/// `POST /logout`: signs the browser out of the hub (and so of every product's session of it).
pub async fn logout(req: HttpRequest, state: State, form: web::Form<CsrfForm>) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return csrf::refused_page(reason);
    }
    if let Err(e) = end_current(&req, &state).await {
        return page::for_error(&e, None);
    }
    let mut res = page::render(
        StatusCode::OK,
        &SignedOutPage {
            chrome: Chrome::new("You are signed out", None),
        },
    );
    let _ = res.add_cookie(&browser_session::removal());
    res
}

/// `GET /`: who the browser is signed in as, or the login page.
pub async fn home(req: HttpRequest, state: State) -> HttpResponse {
    match browser_session::current(&req, &state).await {
        Ok(Some(session)) => {
            let issued = csrf::issue(&req);
            signed_in(&state, issued, session, "/".to_owned(), false).await
        }
        Ok(None) => page::with_headers(HttpResponse::SeeOther())
            .insert_header((header::LOCATION, "/login"))
            .finish(),
        Err(e) => page::for_error(&e, None),
    }
}

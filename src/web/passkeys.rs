//! Passkeys on the hosted pages: registering one on the account's security page
//! (`/account/mfa`, which also lists and removes factors), passwordless sign-in on the login
//! page (a discoverable credential of the page's tenant; the session's `amr` is `hwk`), and
//! the options behind the "Use a passkey" / "Set up a passkey" buttons of `/login/mfa` (the
//! credential is then posted with the MFA form and checked by `ops::mfa`).
//!
//! The pages work without JavaScript (the buttons stay hidden); with it, `/assets/passkeys.js`
//! fetches the options from an `…/options` endpoint (a form POST with the page's CSRF token),
//! calls `navigator.credentials.create/get`, puts the JSON result in the form and submits it.
//! A ceremony started here is bound to this browser: to the `__Host-hub_passkey` cookie, or on
//! `/login/mfa` to the pending sign-in's cookie.

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite},
    http::{StatusCode, header},
    web,
};
use askama::Template;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    auth::opaque,
    db::{ScopedFutureExt, audit::Actor, models::MfaFactorRow},
    error::AppError,
    mfa::passkey::CEREMONY_TTL_SECS,
    ops::sign_in::SignIn,
    ops::{self, passkeys, sessions::AuthMethod},
    request::RequestMeta,
    web::{
        branding, browser_session, cookies, csrf, mfa as mfa_page,
        page::{self, Chrome},
        redirects::{self, LoginHints, safe_return_to},
    },
};

type State = web::Data<SignIn>;

/// The browser's passkey ceremony (passwordless sign-in, registration on the account page).
pub const COOKIE: &str = "__Host-hub_passkey";

/// `GET /assets/passkeys.js`: the pages' WebAuthn script (compiled in).
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(include_str!("../../templates/pages/passkeys.js"))
}

fn binding_hash(token: &str) -> Vec<u8> {
    Sha256::digest(format!("passkey-ceremony/{token}").as_bytes()).to_vec()
}

/// The browser's ceremony token, or a new one with its cookie.
fn ceremony_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(c) = req.cookie(COOKIE)
        && c.value().len() == 43
    {
        return (c.value().to_owned(), None);
    }
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let cookie = cookies::cookie(
        COOKIE,
        token.clone(),
        SameSite::Strict,
        cookies::Lifetime::Seconds(CEREMONY_TTL_SECS),
    );
    (token, Some(cookie))
}

fn json_answer(
    result: Result<serde_json::Value, AppError>,
    cookie: Option<Cookie<'static>>,
) -> HttpResponse {
    match result {
        Ok(options) => {
            let mut res = page::with_headers(HttpResponse::Ok()).json(options);
            if let Some(c) = cookie {
                let _ = res.add_cookie(&c);
            }
            res
        }
        Err(e) => {
            if e.code == crate::error::ErrorCode::Internal {
                e.log_cause();
            }
            let status = StatusCode::from_u16(e.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut res = page::with_headers(HttpResponse::build(status));
            if let Some(secs) = e.retry_after_secs {
                res.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
            }
            res.json(serde_json::json!({
                "error": e.reason.map(|r| r.as_str()).unwrap_or(e.code.as_str()),
            }))
        }
    }
}

fn refused_json() -> HttpResponse {
    page::with_headers(HttpResponse::Forbidden()).json(serde_json::json!({ "error": "csrf" }))
}

#[derive(Debug, Deserialize)]
pub struct OptionsForm {
    csrf: Option<String>,
    tenant: Option<String>,
    label: Option<String>,
}

/// `POST /login/passkey/options`: a passwordless sign-in's options for the page's tenant.
pub async fn passwordless_options(
    req: HttpRequest,
    state: State,
    form: web::Form<OptionsForm>,
) -> HttpResponse {
    if csrf::verify(&req, form.csrf.as_deref(), state.public_url()).is_err() {
        return refused_json();
    }
    let Ok(tenant_id) = Uuid::try_parse(form.tenant.as_deref().unwrap_or_default().trim()) else {
        return json_answer(Err(AppError::not_found("organisation")), None);
    };
    let (token, cookie) = ceremony_token(&req);
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    // Anyone may start one (a ceremony row each): starts count in the IP's anonymous allowance.
    let allowance = state.rate_limits.check_anonymous(&meta.ip);
    if !allowance.allowed {
        return json_answer(Err(AppError::rate_limited(allowance.reset_secs)), None);
    }
    let st: &SignIn = &state;
    let hash = binding_hash(&token);
    let started = ops::in_tenant(&st.db, tenant_id, meta.audit(Actor::Anonymous), move |tx| {
        async move { passkeys::begin_passwordless(tx, st, tenant_id, hash).await }.scope_boxed()
    })
    .await
    .map(|c| c.value);
    json_answer(started, cookie)
}

#[derive(Debug, Deserialize)]
pub struct PasswordlessForm {
    csrf: Option<String>,
    tenant: Option<String>,
    return_to: Option<String>,
    credential: Option<String>,
}

fn not_accepted(tenant: Option<page::TenantChrome>) -> HttpResponse {
    page::error_page(
        StatusCode::UNAUTHORIZED,
        "Passkey not accepted",
        "That passkey was not accepted. Go back and try again, or sign in with your password.",
        tenant,
    )
}

/// `POST /login/passkey`: signs the browser in with a passkey alone (`amr` `hwk`).
pub async fn passwordless(
    req: HttpRequest,
    state: State,
    form: web::Form<PasswordlessForm>,
) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return csrf::refused_page(reason);
    }
    let return_to = safe_return_to(form.return_to.as_deref());
    let (Ok(tenant_id), Some(credential)) = (
        Uuid::try_parse(form.tenant.as_deref().unwrap_or_default().trim()),
        form.credential.as_deref(),
    ) else {
        return not_accepted(None);
    };
    // Without this browser's ceremony cookie no ceremony matches: refused and audited.
    let token = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let who = match passkeys::passwordless_sign_in(
        &state,
        &meta,
        tenant_id,
        binding_hash(&token),
        credential,
    )
    .await
    {
        Ok(who) => who,
        Err(e)
            if e.code == crate::error::ErrorCode::Unauthenticated
                && e.reason == Some(crate::error::Reason::PasskeyInvalid) =>
        {
            return not_accepted(None);
        }
        Err(e) => return page::for_error(&e, None),
    };
    let mut res = redirects::signed_in_redirect(
        &req,
        &state,
        &meta,
        &who,
        vec![AuthMethod::HardwareKey],
        &return_to,
    )
    .await;
    let _ = res.add_cookie(&removal());
    res
}

fn removal() -> Cookie<'static> {
    cookies::removal(COOKIE, SameSite::Strict)
}

/// `POST /login/mfa/passkey/options`: the options for the pending sign-in of this browser: a
/// passkey check, or, when the sign-in enrols a first factor, a passkey registration.
pub async fn mfa_options(
    req: HttpRequest,
    state: State,
    form: web::Form<OptionsForm>,
) -> HttpResponse {
    if csrf::verify(&req, form.csrf.as_deref(), state.public_url()).is_err() {
        return refused_json();
    }
    let Some(token) = req.cookie(mfa_page::COOKIE).map(|c| c.value().to_owned()) else {
        return json_answer(Err(ops::passkeys::refused()), None);
    };
    let pending = match ops::mfa::pending(&state, &token).await {
        Ok(Some(p)) => p,
        Ok(None) => return json_answer(Err(ops::passkeys::refused()), None),
        Err(e) => return json_answer(Err(e), None),
    };
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let st: &SignIn = &state;
    let (tenant_id, user_id, enrolling) = (pending.tenant_id, pending.user_id, pending.enrolling);
    let hash = opaque::hash(&token);
    let label = form.label.clone();
    let started = ops::in_tenant(
        &st.db,
        tenant_id,
        meta.audit(Actor::User(user_id)),
        move |tx| {
            async move {
                if enrolling {
                    passkeys::begin_registration(tx, st, tenant_id, user_id, label.as_deref(), hash)
                        .await
                } else {
                    passkeys::begin_verification(tx, st, tenant_id, user_id, hash).await
                }
            }
            .scope_boxed()
        },
    )
    .await
    .map(|c| c.value);
    json_answer(started, None)
}

// The account's security page.

struct FactorLine {
    id: String,
    kind: &'static str,
    label: String,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "pages/account_mfa.html")]
struct AccountMfaPage {
    chrome: Chrome,
    csrf: String,
    email: String,
    factors: Vec<FactorLine>,
    notice: Option<String>,
    error: Option<String>,
}

async fn signed_in_or_login(
    req: &HttpRequest,
    state: &SignIn,
) -> Result<browser_session::BrowserSession, HttpResponse> {
    match browser_session::current(req, state).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(page::with_headers(HttpResponse::SeeOther())
            .insert_header((
                header::LOCATION,
                redirects::login_url("/account/mfa", &LoginHints::default()),
            ))
            .finish()),
        Err(e) => Err(page::for_error(&e, None)),
    }
}

async fn render_account(
    req: &HttpRequest,
    state: &SignIn,
    session: &browser_session::BrowserSession,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> HttpResponse {
    let (tenant_id, user_id) = (session.tenant_id, session.user_id);
    let loaded = state
        .db
        .tenant_tx(tenant_id, move |tx| {
            async move {
                let tenant = crate::db::models::TenantRow::current(tx, tenant_id).await?;
                let factors = MfaFactorRow::of_user(tx, user_id).await?;
                Ok((tenant, factors))
            }
            .scope_boxed()
        })
        .await;
    let (tenant, factors) = match loaded {
        Ok(v) => v,
        Err(e) => return page::for_error(&e, None),
    };
    let issued = csrf::issue(req);
    let page = AccountMfaPage {
        chrome: Chrome::new("Sign-in security", Some(branding::chrome(&tenant))),
        csrf: issued.token.clone(),
        email: session.email.clone(),
        factors: factors
            .into_iter()
            .filter(|f| f.confirmed_at.is_some())
            .map(|f| FactorLine {
                id: f.id.to_string(),
                kind: if f.kind == "passkey" {
                    "Passkey"
                } else {
                    "Authenticator app"
                },
                label: f.label,
                created: f.created_at.format("%Y-%m-%d").to_string(),
                last_used: f
                    .last_used_at
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| "never".to_owned()),
            })
            .collect(),
        notice,
        error,
    };
    csrf::render_issued(status, issued, &page)
}

/// `GET /account/mfa`: the signed-in user's second factors, with "Add a passkey".
pub async fn account(req: HttpRequest, state: State) -> HttpResponse {
    let session = match signed_in_or_login(&req, &state).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    render_account(&req, &state, &session, StatusCode::OK, None, None).await
}

/// `POST /account/mfa/passkeys/options`: the options to register a passkey named `label`.
pub async fn registration_options(
    req: HttpRequest,
    state: State,
    form: web::Form<OptionsForm>,
) -> HttpResponse {
    if csrf::verify(&req, form.csrf.as_deref(), state.public_url()).is_err() {
        return refused_json();
    }
    let session = match browser_session::current(&req, &state).await {
        Ok(Some(s)) => s,
        _ => return json_answer(Err(AppError::unauthenticated("sign in first")), None),
    };
    let (token, cookie) = ceremony_token(&req);
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let st: &SignIn = &state;
    let (tenant_id, user_id) = (session.tenant_id, session.user_id);
    let hash = binding_hash(&token);
    let label = form.label.clone();
    let started = ops::in_tenant(
        &st.db,
        tenant_id,
        meta.audit(Actor::User(user_id)),
        move |tx| {
            async move {
                passkeys::begin_registration(tx, st, tenant_id, user_id, label.as_deref(), hash)
                    .await
            }
            .scope_boxed()
        },
    )
    .await
    .map(|c| c.value);
    json_answer(started, cookie)
}

#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    csrf: Option<String>,
    credential: Option<String>,
}

/// `POST /account/mfa/passkeys`: finishes the registration with the browser's credential.
pub async fn register(
    req: HttpRequest,
    state: State,
    form: web::Form<RegisterForm>,
) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return csrf::refused_page(reason);
    }
    let session = match signed_in_or_login(&req, &state).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let token = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let st: &SignIn = &state;
    let (tenant_id, user_id) = (session.tenant_id, session.user_id);
    let hash = binding_hash(&token);
    let credential = form.credential.clone().unwrap_or_default();
    let done = ops::in_tenant(
        &st.db,
        tenant_id,
        meta.audit(Actor::User(user_id)),
        move |tx| {
            async move {
                passkeys::finish_registration(tx, st, tenant_id, user_id, &hash, &credential).await
            }
            .scope_boxed()
        },
    )
    .await;
    let checked = match done {
        Ok(c) => c.value,
        Err(e) => return page::for_error(&e, None),
    };
    let mut res = match passkeys::settle(&state, &meta, tenant_id, user_id, checked) {
        Ok(confirmed) => match confirmed.recovery_codes {
            Some(codes) => page::render(
                StatusCode::OK,
                &mfa_page::RecoveryCodesPage {
                    chrome: Chrome::new("Save your recovery codes", None),
                    factor: "passkey",
                    codes,
                    continue_to: "/account/mfa".to_owned(),
                },
            ),
            None => {
                render_account(
                    &req,
                    &state,
                    &session,
                    StatusCode::OK,
                    Some(format!(
                        "Passkey \u{201c}{}\u{201d} added.",
                        confirmed.factor.label
                    )),
                    None,
                )
                .await
            }
        },
        Err(_) => {
            render_account(
                &req,
                &state,
                &session,
                StatusCode::UNAUTHORIZED,
                None,
                Some("The passkey could not be added. Try again.".to_owned()),
            )
            .await
        }
    };
    let _ = res.add_cookie(&removal());
    res
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    csrf: Option<String>,
    factor: String,
}

/// `POST /account/mfa/remove`: removes one of the user's factors (not the last one while the
/// tenant requires a second factor).
pub async fn remove(req: HttpRequest, state: State, form: web::Form<RemoveForm>) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return csrf::refused_page(reason);
    }
    let session = match signed_in_or_login(&req, &state).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let Ok(factor_id) = Uuid::try_parse(form.factor.trim()) else {
        return page::for_error(&AppError::not_found("factor"), None);
    };
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let (tenant_id, user_id) = (session.tenant_id, session.user_id);
    let done = ops::in_tenant(
        &state.db,
        tenant_id,
        meta.audit(Actor::User(user_id)),
        move |tx| ops::mfa::remove_factor(tx, user_id, factor_id).scope_boxed(),
    )
    .await;
    match done {
        Ok(_) => {
            render_account(
                &req,
                &state,
                &session,
                StatusCode::OK,
                Some("Removed.".to_owned()),
                None,
            )
            .await
        }
        Err(e) if e.code == crate::error::ErrorCode::Forbidden => {
            render_account(
                &req,
                &state,
                &session,
                StatusCode::FORBIDDEN,
                None,
                Some(e.message),
            )
            .await
        }
        Err(e) => page::for_error(&e, None),
    }
}

//! The hosted second-factor step, `/login/mfa`. A correct password of a user who owes a second
//! factor does not sign the browser in: it leaves a pending sign-in (an `mfa_challenges` row,
//! short-lived, single use, its failures counted) whose token only this browser holds, in the
//! `__Host-hub_mfa` cookie. The page asks for a code of the authenticator app
//! (`autocomplete=one-time-code`) or a recovery code; a user whom the tenant requires to enrol
//! and who has no factor yet sets up an authenticator here (QR code as inline SVG, the key as
//! text, confirmed by a first code) and sees the recovery codes once. Success opens the browser
//! session with `pwd otp` through `redirects::opened_redirect`.
//!
//! Step-up: a product's `acr_values` asking for a second factor of a signed-in browser whose
//! session has none sends it to `/login/mfa?step_up=1`, which opens a challenge for the
//! session's user; success replaces the session by one with the fresh factor.
//!
//! The checks, the login limiter and the audit records are `ops::mfa`'s, shared with the API's
//! `completeMfaLogin`.

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite},
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;

use crate::{
    db::{ScopedFutureExt, audit::Actor, models::UserRow},
    error::{ErrorCode, Reason},
    mfa::CHALLENGE_TTL_SECS,
    ops::sign_in::SignIn,
    ops::{
        self,
        mfa::{self, Proof, SecondFactor},
        sessions::{self, AuthMethod, Authenticated},
    },
    request::RequestMeta,
    web::{
        branding, browser_session, cookies, csrf,
        page::{self, Chrome},
        redirects::{self, LoginHints, safe_return_to},
    },
};

type State = web::Data<SignIn>;

/// The pending sign-in of this browser (the challenge token).
pub const COOKIE: &str = "__Host-hub_mfa";

/// Where a signed-in browser is sent for a fresh second factor before `return_to`.
pub fn step_up_url(return_to: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("step_up", "1")
        .append_pair("return_to", &safe_return_to(Some(return_to)))
        .finish();
    format!("/login/mfa?{q}")
}

fn page_url(return_to: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", &safe_return_to(Some(return_to)))
        .finish();
    format!("/login/mfa?{q}")
}

fn pending_cookie(token: String) -> Cookie<'static> {
    cookies::cookie(
        COOKIE,
        token,
        SameSite::Lax,
        cookies::Lifetime::Seconds(CHALLENGE_TTL_SECS),
    )
}

fn removal() -> Cookie<'static> {
    cookies::removal(COOKIE, SameSite::Lax)
}

/// After a correct password of a user who owes a second factor (`need` is not
/// `NotNeeded`): the pending sign-in, and on to `/login/mfa`.
pub async fn begin(
    state: &SignIn,
    meta: &RequestMeta,
    who: &Authenticated,
    need: SecondFactor,
    methods: Vec<AuthMethod>,
    return_to: &str,
) -> HttpResponse {
    let (tenant_id, user_id) = (who.tenant.id, who.user.id);
    let opened = ops::in_tenant(
        &state.db,
        tenant_id,
        meta.audit(Actor::User(user_id)),
        move |tx| {
            async move { mfa::challenge(tx, tenant_id, user_id, need, &methods).await }
                .scope_boxed()
        },
    )
    .await;
    match opened {
        Ok(done) => page::with_headers(HttpResponse::SeeOther())
            .insert_header((header::LOCATION, page_url(return_to)))
            .cookie(pending_cookie(done.value.token))
            .finish(),
        Err(e) => page::for_error(&e, Some(branding::chrome(&who.tenant))),
    }
}

#[derive(Template)]
#[template(path = "pages/mfa_verify.html")]
struct VerifyPage {
    chrome: Chrome,
    csrf: String,
    return_to: String,
    email: String,
    error: Option<String>,
    other_account: String,
}

#[derive(Template)]
#[template(path = "pages/mfa_enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    csrf: String,
    return_to: String,
    email: String,
    qr_svg: String,
    secret: String,
    error: Option<String>,
    other_account: String,
}

#[derive(Template)]
#[template(path = "pages/mfa_recovery_codes.html")]
pub(crate) struct RecoveryCodesPage {
    pub chrome: Chrome,
    /// What was set up: "authenticator app" or "passkey".
    pub factor: &'static str,
    pub codes: Vec<String>,
    pub continue_to: String,
}

#[derive(Debug, Deserialize)]
pub struct MfaQuery {
    return_to: Option<String>,
    step_up: Option<String>,
}

fn other_account(return_to: &str) -> String {
    redirects::login_url(
        return_to,
        &LoginHints {
            force: true,
            ..LoginHints::default()
        },
    )
}

fn expired() -> HttpResponse {
    let mut res = page::error_page(
        StatusCode::UNAUTHORIZED,
        "Sign-in expired",
        "This sign-in has expired or was already used. Sign in again.",
        None,
    );
    let _ = res.add_cookie(&removal());
    res
}

/// The page of a pending sign-in: the code (or recovery code), or the enrolment.
async fn render_step(
    req: &HttpRequest,
    state: &SignIn,
    pending: &mfa::Pending,
    return_to: String,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let issued = csrf::issue(req);
    let (tenant_id, user_id, enrolling) = (pending.tenant_id, pending.user_id, pending.enrolling);
    let meta = RequestMeta::from_request(req, &state.settings.trusted_proxies);
    let loaded = ops::in_tenant(
        &state.db,
        tenant_id,
        meta.audit(Actor::User(user_id)),
        move |tx| {
            async move {
                let user = UserRow::get(tx, user_id).await?;
                let tenant = crate::db::models::TenantRow::current(tx, tenant_id).await?;
                let enrolment = if enrolling {
                    let done = mfa::enrolment_in_progress(tx, state, tenant_id, user_id).await?;
                    Some(done)
                } else {
                    None
                };
                let (enrolment, events) = match enrolment {
                    Some(d) => (Some(d.value), d.events),
                    None => (None, Vec::new()),
                };
                Ok(ops::Done {
                    value: (user, tenant, enrolment),
                    events,
                    effects: Vec::new(),
                })
            }
            .scope_boxed()
        },
    )
    .await;
    let (user, tenant, enrolment) = match loaded {
        Ok(done) => done.value,
        Err(e) => return page::for_error(&e, None),
    };
    let chrome = branding::chrome(&tenant);
    let mut res = match enrolment {
        Some(e) => page::render(
            status,
            &EnrolPage {
                chrome: Chrome::new("Set up your authenticator app", Some(chrome)),
                csrf: issued.token.clone(),
                other_account: other_account(&return_to),
                return_to,
                email: user.email,
                qr_svg: e.qr_svg,
                secret: e.secret_base32,
                error,
            },
        ),
        None => page::render(
            status,
            &VerifyPage {
                chrome: Chrome::new("Two-step verification", Some(chrome)),
                csrf: issued.token.clone(),
                other_account: other_account(&return_to),
                return_to,
                email: user.email,
                error,
            },
        ),
    };
    if let Some(cookie) = issued.cookie {
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// `GET /login/mfa`: the second step of this browser's pending sign-in; with `step_up=1` and a
/// browser session, a fresh second factor for that session first.
pub async fn show(req: HttpRequest, state: State, query: web::Query<MfaQuery>) -> HttpResponse {
    let return_to = safe_return_to(query.return_to.as_deref());
    if query.step_up.as_deref() == Some("1") {
        return step_up(&req, &state, return_to).await;
    }
    let token = req.cookie(COOKIE).map(|c| c.value().to_owned());
    let pending = match token {
        Some(t) => mfa::pending(&state, &t).await,
        None => Ok(None),
    };
    match pending {
        Ok(Some(p)) => render_step(&req, &state, &p, return_to, None, StatusCode::OK).await,
        Ok(None) => {
            let mut res = page::with_headers(HttpResponse::SeeOther())
                .insert_header((
                    header::LOCATION,
                    redirects::login_url(&return_to, &LoginHints::default()),
                ))
                .finish();
            let _ = res.add_cookie(&removal());
            res
        }
        Err(e) => page::for_error(&e, None),
    }
}

async fn step_up(req: &HttpRequest, state: &SignIn, return_to: String) -> HttpResponse {
    let session = match browser_session::current(req, state).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return page::with_headers(HttpResponse::SeeOther())
                .insert_header((
                    header::LOCATION,
                    redirects::login_url(&return_to, &LoginHints::default()),
                ))
                .finish();
        }
        Err(e) => return page::for_error(&e, None),
    };
    let meta = RequestMeta::from_request(req, &state.settings.trusted_proxies);
    let (tenant_id, user_id, amr) = (session.tenant_id, session.user_id, session.amr.clone());
    // A reload (or a second product asking) reuses this browser's live challenge for the
    // same user rather than leaving one row per page load.
    if let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_owned())
        && let Ok(Some(pending)) = mfa::pending(state, &token).await
        && pending.tenant_id == tenant_id
        && pending.user_id == user_id
    {
        return render_step(req, state, &pending, return_to, None, StatusCode::OK).await;
    }
    let opened = ops::in_tenant(
        &state.db,
        tenant_id,
        meta.audit(Actor::User(user_id)),
        move |tx| async move { mfa::step_up(tx, tenant_id, user_id, &amr).await }.scope_boxed(),
    )
    .await;
    let done = match opened {
        Ok(done) => done,
        Err(e) => return page::for_error(&e, None),
    };
    let pending = mfa::Pending {
        tenant_id,
        user_id,
        enrolling: done.value.enrolment_required,
    };
    let mut res = render_step(req, state, &pending, return_to, None, StatusCode::OK).await;
    let _ = res.add_cookie(&pending_cookie(done.value.token));
    res
}

#[derive(Debug, Deserialize)]
pub struct MfaForm {
    csrf: Option<String>,
    return_to: Option<String>,
    code: Option<String>,
    recovery_code: Option<String>,
    /// A passkey's assertion (JSON), from `/assets/passkeys.js`.
    passkey: Option<String>,
    /// An enrolment's new passkey (JSON), from `/assets/passkeys.js`.
    passkey_registration: Option<String>,
}

/// `POST /login/mfa`: checks the code (or recovery code, or the first code of the
/// authenticator being enrolled) and signs the browser in.
pub async fn submit(req: HttpRequest, state: State, form: web::Form<MfaForm>) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return csrf::refused_page(reason);
    }
    let return_to = safe_return_to(form.return_to.as_deref());
    let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_owned()) else {
        return expired();
    };
    let filled = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let proof = match (
        filled(&form.code),
        filled(&form.recovery_code),
        filled(&form.passkey),
        filled(&form.passkey_registration),
    ) {
        (Some(code), ..) => Proof::Code(code),
        (None, Some(code), ..) => Proof::RecoveryCode(code),
        (None, None, Some(json), _) | (None, None, None, Some(json)) => Proof::Passkey(json),
        (None, None, None, None) => {
            return match mfa::pending(&state, &token).await {
                Ok(Some(p)) => {
                    render_step(
                        &req,
                        &state,
                        &p,
                        return_to,
                        Some("Enter a code.".to_owned()),
                        StatusCode::BAD_REQUEST,
                    )
                    .await
                }
                Ok(None) => expired(),
                Err(e) => page::for_error(&e, None),
            };
        }
    };
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let by_passkey = matches!(proof, Proof::Passkey(_));
    // The browser session is opened in the transaction that accepts the code.
    let Some(tenant_id) = crate::auth::opaque::tenant_of(&token) else {
        return expired();
    };
    let (session_token, session_hash) = crate::auth::opaque::generate(tenant_id);
    let proven =
        match mfa::complete_browser_sign_in(&state, &meta, &token, proof, session_hash).await {
            Ok(p) => p,
            Err(e)
                if matches!(
                    e.reason,
                    Some(Reason::MfaCodeInvalid | Reason::PasskeyInvalid)
                ) =>
            {
                return match mfa::pending(&state, &token).await {
                    Ok(Some(p)) => {
                        render_step(
                            &req,
                            &state,
                            &p,
                            return_to,
                            Some(if by_passkey {
                                "That passkey was not accepted. Try again.".to_owned()
                            } else {
                                "That code is wrong, expired or already used. Try again.".to_owned()
                            }),
                            StatusCode::UNAUTHORIZED,
                        )
                        .await
                    }
                    Ok(None) => expired(),
                    Err(e) => page::for_error(&e, None),
                };
            }
            Err(e) if e.code == ErrorCode::Unauthenticated => return expired(),
            Err(e) => return page::for_error(&e, None),
        };
    finish(&req, &state, &meta, proven, session_token, &return_to).await
}

async fn finish(
    req: &HttpRequest,
    state: &SignIn,
    meta: &RequestMeta,
    proven: mfa::Proven,
    session_token: String,
    return_to: &str,
) -> HttpResponse {
    let mfa::Proven {
        user,
        tenant,
        methods,
        recovery_codes,
    } = proven;
    let factor = match methods.last() {
        Some(AuthMethod::HardwareKey) => "passkey",
        _ => "authenticator app",
    };
    let chrome = branding::chrome(&tenant);
    let who = sessions::Authenticated { user, tenant };
    let mut res = redirects::opened_redirect(
        req,
        state,
        meta,
        &who,
        browser_session::cookie(session_token),
        return_to,
    )
    .await;
    if res.status() != StatusCode::SEE_OTHER {
        return res;
    }
    if let Some(codes) = recovery_codes {
        // The first factor's recovery codes are shown once, then the user continues: the same
        // cookies as the redirect, on a page instead.
        let cookies: Vec<Cookie<'static>> = res.cookies().map(|c| c.into_owned()).collect();
        res = page::render(
            StatusCode::OK,
            &RecoveryCodesPage {
                chrome: Chrome::new("Save your recovery codes", Some(chrome)),
                factor,
                codes,
                continue_to: safe_return_to(Some(return_to)),
            },
        );
        for c in cookies {
            let _ = res.add_cookie(&c);
        }
    }
    let _ = res.add_cookie(&removal());
    res
}

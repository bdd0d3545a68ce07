//! `GET|POST /oauth/logout`: OpenID Connect RP-Initiated Logout 1.0, the discovery document's
//! `end_session_endpoint`. A product sends the browser here to end the hub session (and so
//! every product's session of it: back-channel logout notices are queued with the revocation).
//!
//! * `id_token_hint`: an ID token the hub issued (its signature checked with the hub's keys;
//!   an expired one is accepted, a forged one refused). It names the session to end, which
//!   ends without asking.
//! * `client_id`: must agree with the hint's `aud`; the client must be registered.
//! * `post_logout_redirect_uri`: only when the client is known (from the hint or `client_id`)
//!   and only a URI registered for that client, compared exactly; `state` is added to it.
//!   Anything else gets a hub page saying why, and no redirect (no open redirect).
//! * `logout_hint`, `ui_locales`: accepted (bounded) and not needed.
//!
//! Without a hint the hub asks the signed-in user on a confirmation page whose form
//! (`POST /oauth/logout/confirm`, CSRF-protected) ends the session. After the logout the
//! browser goes to the post-logout URI, or sees the hub's signed-out page; the session cookie
//! is removed.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    db::{
        ScopedFutureExt,
        audit::Actor,
        models::{OAuthClientRow, TenantRow},
    },
    oauth::{
        authorize_request::{RawParams, redirect_with},
        client_auth,
        id_token::{self, Hint},
        product,
    },
    ops,
    ops::sign_in::SignIn,
    request::RequestMeta,
    web::{
        branding,
        browser_session::{self, BrowserSession},
        csrf,
        page::{self, Chrome},
    },
};

type State = web::Data<SignIn>;

/// Longest accepted `id_token_hint`.
const MAX_HINT: usize = 16_384;
/// Longest accepted value of the other parameters.
const MAX_VALUE: usize = 4_096;

#[derive(Template)]
#[template(path = "pages/logout_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    csrf: String,
    name: Option<String>,
    client_id: String,
    post_logout_redirect_uri: String,
    state: String,
}

#[derive(Template)]
#[template(path = "pages/signed_out.html")]
struct SignedOutPage {
    chrome: Chrome,
}

/// A checked logout request.
struct LogoutRequest {
    /// The client that asks, when it is known (from the hint or `client_id`).
    client: Option<OAuthClientRow>,
    /// Where to send the browser afterwards: a URI registered for `client`.
    redirect: Option<String>,
    state: Option<String>,
    /// The session the hint names.
    hint: Option<Hint>,
}

/// A request the hub refuses on its own page: nothing changes, nothing is redirected.
fn refuse(status: StatusCode, message: &str) -> HttpResponse {
    page::error_page(status, "This sign-out cannot continue", message, None)
}

const UNAVAILABLE: &str = "The sign-in service is unavailable; try again in a moment.";

fn unavailable() -> HttpResponse {
    refuse(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
}

/// A refused request, rendered with [`refuse`].
struct Refusal(StatusCode, String);

impl Refusal {
    fn bad(message: &str) -> Refusal {
        Refusal(StatusCode::BAD_REQUEST, message.to_owned())
    }

    fn page(&self) -> HttpResponse {
        refuse(self.0, &self.1)
    }
}

fn parse_pairs(bytes: &[u8]) -> Result<RawParams, Refusal> {
    let mut params = RawParams::new();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        if params.insert(k.to_string(), v.to_string()).is_some() {
            return Err(Refusal::bad(&format!(
                "The request repeats the parameter {k}."
            )));
        }
    }
    Ok(params)
}

fn value<'a>(params: &'a RawParams, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Checks the parameters; a refusal is the page to show.
async fn check(state: &SignIn, params: &RawParams) -> Result<LogoutRequest, Refusal> {
    let bad = |m: &str| Err(Refusal::bad(m));
    for (name, v) in params {
        let limit = if name == "id_token_hint" {
            MAX_HINT
        } else {
            MAX_VALUE
        };
        if v.len() > limit {
            return bad(&format!("The parameter {name} is too long."));
        }
    }
    let hint = match value(params, "id_token_hint") {
        None => None,
        Some(token) => match id_token::verify_hint(&state.tokens, token) {
            Some(h) => Some(h),
            None => {
                return bad(
                    "The application sent an ID token that this hub did not issue. \
                     Nothing was changed.",
                );
            }
        },
    };
    let client_id = match value(params, "client_id") {
        None => None,
        Some(raw) => match Uuid::try_parse(raw) {
            Ok(id) => Some(id),
            Err(_) => return bad("The application that sent you here is not registered."),
        },
    };
    if let (Some(h), Some(c)) = (&hint, client_id)
        && h.client_id != c
    {
        return bad(
            "The ID token was issued to another application than the one that sent you here. \
             Nothing was changed.",
        );
    }
    let client = match client_id.or(hint.as_ref().map(|h| h.client_id)) {
        None => None,
        Some(id) => match client_auth::find(&state.db, &state.oauth_clients, id).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => return bad("The application that sent you here is not registered."),
            Err(_) => {
                return Err(Refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    UNAVAILABLE.to_owned(),
                ));
            }
        },
    };
    let redirect = match (value(params, "post_logout_redirect_uri"), &client) {
        (None, _) => None,
        (Some(_), None) => {
            return bad(
                "The request asks to return to an address without saying which application \
                 asks (no id_token_hint or client_id), so the hub does not send you there. \
                 Nothing was changed.",
            );
        }
        (Some(uri), Some(c)) if c.has_post_logout_redirect_uri(uri) => Some(uri.to_owned()),
        (Some(_), Some(_)) => {
            return bad(
                "The application asks to return to an address it has not registered, so the \
                 hub does not send you there. Nothing was changed.",
            );
        }
    };
    Ok(LogoutRequest {
        client,
        redirect,
        state: value(params, "state").map(str::to_owned),
        hint,
    })
}

/// Ends one session at the request of `client` (audited with the client id and the caller's
/// address), then drops it from the caches.
async fn end_session(
    state: &SignIn,
    meta: &RequestMeta,
    tenant_id: Uuid,
    session_id: Uuid,
    user_id: Uuid,
    client: Option<Uuid>,
) -> crate::error::AppResult<()> {
    let audit = meta.audit(Actor::User(user_id));
    let committed = ops::in_tenant(&state.db, tenant_id, audit.clone(), move |tx| {
        ops::logout::end_for_client(tx, session_id, client).scope_boxed()
    })
    .await?;
    state.effects.run(&audit, committed.effects).await;
    Ok(())
}

/// After the logout: to the registered post-logout URI with `state`, or the signed-out page;
/// the session cookie removed when `clear_cookie`.
async fn finish(state: &SignIn, request: &LogoutRequest, clear_cookie: bool) -> HttpResponse {
    let mut res = match &request.redirect {
        Some(uri) => {
            // Exactly the registered URI when there is no state (no stray `?`).
            let to = match request.state.as_deref() {
                Some(s) => redirect_with(uri, &[("state", s)]),
                None => uri.clone(),
            };
            page::with_headers(HttpResponse::SeeOther())
                .insert_header((header::LOCATION, to))
                .finish()
        }
        None => {
            let mut chrome = Chrome::new("You are signed out", None);
            if let Some(c) = &request.client {
                chrome.product = product::name_of_client(&state.db, c.id).await;
            }
            page::render(StatusCode::OK, &SignedOutPage { chrome })
        }
    };
    if clear_cookie {
        let _ = res.add_cookie(&browser_session::removal());
    }
    res
}

/// The logout request itself (GET query or POST form).
async fn handle(req: HttpRequest, params: RawParams, state: &SignIn) -> HttpResponse {
    let request = match check(state, &params).await {
        Ok(r) => r,
        Err(refusal) => return refusal.page(),
    };
    let browser = match browser_session::current(&req, state).await {
        Ok(b) => b,
        Err(_) => return unavailable(),
    };
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let client = request.client.as_ref().map(|c| c.id);
    match (&request.hint, browser) {
        (Some(hint), browser) => {
            // The hint's session ends; so does the browser's, when it is the same user's
            // (signed in again since the hint was issued). Another user's stays.
            if let Err(e) = end_session(
                state,
                &meta,
                hint.tenant_id,
                hint.session_id,
                hint.user_id,
                client,
            )
            .await
            {
                return page::for_error(&e, None);
            }
            let mut clear = false;
            if let Some(b) = browser
                && b.tenant_id == hint.tenant_id
                && b.user_id == hint.user_id
            {
                clear = true;
                if b.session_id != hint.session_id
                    && let Err(e) =
                        end_session(state, &meta, b.tenant_id, b.session_id, b.user_id, client)
                            .await
                {
                    return page::for_error(&e, None);
                }
            }
            finish(state, &request, clear).await
        }
        (None, Some(session)) => confirm_page(&req, state, &request, &session).await,
        // Signed out already: nothing to ask.
        (None, None) => finish(state, &request, true).await,
    }
}

/// Asks the signed-in user before ending the session (a request without `id_token_hint`
/// could come from any site).
async fn confirm_page(
    req: &HttpRequest,
    state: &SignIn,
    request: &LogoutRequest,
    session: &BrowserSession,
) -> HttpResponse {
    let issued = csrf::issue(req);
    let tenant_id = session.tenant_id;
    let tenant = state
        .db
        .tenant_tx(tenant_id, move |tx| {
            TenantRow::current(tx, tenant_id).scope_boxed()
        })
        .await
        .ok();
    let mut chrome = Chrome::new("Sign out?", tenant.as_ref().map(branding::chrome));
    if let Some(c) = &request.client {
        chrome.product = product::name_of_client(&state.db, c.id).await;
    }
    let page = ConfirmPage {
        chrome,
        csrf: issued.token.clone(),
        name: Some(session.name().to_owned()),
        client_id: request
            .client
            .as_ref()
            .map(|c| c.client_id())
            .unwrap_or_default(),
        post_logout_redirect_uri: request.redirect.clone().unwrap_or_default(),
        state: request.state.clone().unwrap_or_default(),
    };
    let mut res = page::render(StatusCode::OK, &page);
    if let Some(cookie) = issued.cookie {
        let _ = res.add_cookie(&cookie);
    }
    res
}

pub async fn get(req: HttpRequest, state: State) -> HttpResponse {
    let query = req.query_string().to_owned();
    match parse_pairs(query.as_bytes()) {
        Ok(params) => handle(req, params, &state).await,
        Err(refusal) => refusal.page(),
    }
}

pub async fn post(req: HttpRequest, body: web::Bytes, state: State) -> HttpResponse {
    match parse_pairs(&body) {
        Ok(params) => handle(req, params, &state).await,
        Err(refusal) => refusal.page(),
    }
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    csrf: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `POST /oauth/logout/confirm`: the confirmation page's form. The client and post-logout URI
/// are checked again (a form's fields are the browser's to change).
pub async fn confirm(req: HttpRequest, state: State, form: web::Form<ConfirmForm>) -> HttpResponse {
    if let Err(reason) = csrf::verify(&req, form.csrf.as_deref(), state.public_url()) {
        return crate::web::csrf::refused_page(reason);
    }
    let form = form.into_inner();
    let params: RawParams = [
        ("client_id", form.client_id),
        ("post_logout_redirect_uri", form.post_logout_redirect_uri),
        ("state", form.state),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k.to_owned(), v)))
    .collect();
    let request = match check(&state, &params).await {
        Ok(r) => r,
        Err(refusal) => return refusal.page(),
    };
    let session = match browser_session::current(&req, &state).await {
        Ok(s) => s,
        Err(_) => return unavailable(),
    };
    if let Some(s) = session {
        let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
        let client = request.client.as_ref().map(|c| c.id);
        if let Err(e) =
            end_session(&state, &meta, s.tenant_id, s.session_id, s.user_id, client).await
        {
            return page::for_error(&e, None);
        }
    }
    finish(&state, &request, true).await
}

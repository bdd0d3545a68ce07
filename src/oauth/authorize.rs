//! `GET|POST /oauth/authorize`: the authorization endpoint. The client and its redirect URI
//! are checked first: when either is wrong the hub answers with its own error page and never
//! redirects (no open redirect). Other errors go back to the redirect URI with `state` and
//! `iss` (RFC 9207). Without a browser session, `prompt=none` answers `login_required`, any
//! other request goes to the hosted login page with this request as `return_to`.
//!
//! A browser signed in at the hub (`web::browser_session`) gets its code at once: single sign-on
//! across the products. `prompt=login`/`select_account`, an expired `max_age` or another
//! `tenant` send it to the login page again. The product access gateway: a user whose access to
//! the client's product is `none` gets a hub page saying so, whose link returns `access_denied`
//! to the client (directly with `prompt=none`). `acr_values` naming the MFA level sends a
//! browser whose session has no second factor through the step-up at `/login/mfa` first.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use chrono::Utc;

use crate::{
    db::{ScopedFutureExt, audit::Actor},
    mfa,
    oauth::{
        authorize_request::{self, AuthorizeRequest, PageRefusal, RawParams, RedirectRefusal},
        client_auth,
    },
    ops::sign_in::SignIn,
    ops::{
        self,
        oauth_tokens::{self, CodeRequest},
        sessions,
    },
    request::RequestMeta,
    web::{
        browser_session::{self, BrowserSession},
        page::{self, Chrome},
        redirects::{self, LoginHints},
    },
};

/// The hub's own error page for a request that cannot be sent back to a client (the hosted
/// pages' error page: escaped text, their security headers, no link to the client).
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    page::error_page(status, "This sign-in cannot continue", message, None)
}

fn redirect(to: String) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", to))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

fn refuse_to_client(
    state: &SignIn,
    redirect_uri: &str,
    client_state: Option<&str>,
    refusal: RedirectRefusal,
) -> HttpResponse {
    let mut pairs = vec![
        ("error", refusal.error),
        ("error_description", refusal.description.as_str()),
    ];
    if let Some(s) = client_state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", state.public_url()));
    redirect(authorize_request::redirect_with(redirect_uri, &pairs))
}

/// This request again, as the login page's `return_to`, without `prompt` and `max_age` (the
/// login page has asked for them already: coming back with `prompt=login` would ask again for
/// ever).
fn return_to(params: &RawParams) -> String {
    // The browser comes back right after signing in (or stepping up): `prompt` and `max_age`
    // are met then, and kept they would send a sign-in slower than `max_age` round again.
    let mut names: Vec<&String> = params
        .keys()
        .filter(|k| !matches!(k.as_str(), "prompt" | "max_age"))
        .collect();
    names.sort();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for name in names {
        query.append_pair(name, &params[name]);
    }
    format!("/oauth/authorize?{}", query.finish())
}

/// To the hosted login page, which comes back here once the browser is signed in.
fn login_redirect(request: &AuthorizeRequest, params: &RawParams, force: bool) -> HttpResponse {
    let hints = LoginHints {
        tenant: request.tenant.clone(),
        login_hint: request.login_hint.clone(),
        force,
    };
    redirect(redirects::login_url(&return_to(params), &hints))
}

/// Whether the browser's sign-in is not good enough for this request: `prompt=login` or
/// `select_account` (the user is to sign in again / choose), `max_age` passed since the
/// sign-in, or a `tenant` other than the session's.
async fn needs_new_sign_in(
    state: &SignIn,
    request: &AuthorizeRequest,
    session: &BrowserSession,
) -> bool {
    if request.prompt.login || request.prompt.select_account {
        return true;
    }
    if let Some(max_age) = request.max_age
        && (Utc::now() - session.auth_time).num_seconds() > max_age
    {
        return true;
    }
    if let Some(key) = &request.tenant {
        return !matches!(
            sessions::tenant_for_sign_in(state, key).await,
            Ok(Some(t)) if t.id == session.tenant_id
        );
    }
    false
}

/// Whether the request asks for a second factor (`acr_values` naming the MFA level) that the
/// browser's session has not proven: the browser then takes the step-up at `/login/mfa`.
fn needs_step_up(request: &AuthorizeRequest, session: &BrowserSession) -> bool {
    let wanted = request
        .acr_values
        .as_deref()
        .is_some_and(|v| v.split_whitespace().any(|a| a == mfa::claims::ACR_MFA));
    wanted && mfa::claims::acr_of(&session.amr) != mfa::claims::ACR_MFA
}

#[derive(Template)]
#[template(path = "pages/access_denied.html")]
struct AccessDeniedPage {
    chrome: Chrome,
    name: String,
    back: String,
}

async fn handle(req: HttpRequest, params: RawParams, state: &SignIn) -> HttpResponse {
    let (client_id, redirect_uri) = match authorize_request::client_and_redirect(&params) {
        Ok(v) => v,
        Err(PageRefusal(m)) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    let client = match client_auth::find(&state.db, &state.oauth_clients, client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The application that sent you here is not registered.",
            );
        }
        Err(_) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The sign-in service is unavailable; try again in a moment.",
            );
        }
    };
    if let Err(PageRefusal(m)) = authorize_request::trusted_redirect(&client, &redirect_uri) {
        return error_page(StatusCode::BAD_REQUEST, &m);
    }
    let client_state = params.get("state").map(String::as_str);
    let request = match authorize_request::validate(&params, &client, redirect_uri.clone()) {
        Ok(r) => r,
        Err(refusal) => return refuse_to_client(state, &redirect_uri, client_state, refusal),
    };
    let to_client = |error: &'static str, description: &str| {
        refuse_to_client(
            state,
            &request.redirect_uri,
            request.state.as_deref(),
            RedirectRefusal {
                error,
                description: description.into(),
            },
        )
    };
    let session = match browser_session::current(&req, state).await {
        Ok(s) => s,
        Err(_) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The sign-in service is unavailable; try again in a moment.",
            );
        }
    };
    let session = match session {
        Some(s) if !needs_new_sign_in(state, &request, &s).await => s,
        Some(_) if request.prompt.none => {
            return to_client("login_required", "a new sign-in at the hub is needed");
        }
        Some(_) => return login_redirect(&request, &params, true),
        None if request.prompt.none => {
            return to_client("login_required", "the user is not signed in at the hub");
        }
        None => return login_redirect(&request, &params, false),
    };
    if needs_step_up(&request, &session) {
        if request.prompt.none {
            return to_client(
                "interaction_required",
                "a second factor is needed at the hub",
            );
        }
        return redirect(crate::web::mfa::step_up_url(&return_to(&params)));
    }

    // The product access gateway: `none` means no way in.
    let (tenant_id, user_id, product) = (
        session.tenant_id,
        session.user_id,
        client.product_id.clone(),
    );
    let access = state
        .db
        .tenant_tx(tenant_id, move |tx| {
            async move { oauth_tokens::product_access(tx, user_id, &product).await }.scope_boxed()
        })
        .await;
    match access {
        Ok(Some(_)) => {}
        Ok(None) => {
            let back = authorize_request::redirect_with(
                &request.redirect_uri,
                &[
                    ("error", "access_denied"),
                    ("error_description", "no access to this product"),
                    ("state", request.state.as_deref().unwrap_or_default()),
                    ("iss", state.public_url()),
                ],
            );
            if request.prompt.none {
                return redirect(back);
            }
            return page::render(
                StatusCode::FORBIDDEN,
                &AccessDeniedPage {
                    chrome: Chrome::new("No access to this product", None),
                    name: session.name().to_owned(),
                    back,
                },
            );
        }
        Err(_) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The sign-in service is unavailable; try again in a moment.",
            );
        }
    }

    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let code_request = CodeRequest {
        client_id: client.id,
        tenant_id,
        session_id: session.session_id,
        user_id,
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        scope: request.scope.clone(),
    };
    let code = ops::in_tenant(
        &state.db,
        tenant_id,
        meta.audit(Actor::User(user_id)),
        move |tx| oauth_tokens::issue_code(tx, code_request).scope_boxed(),
    )
    .await;
    match code {
        Ok(committed) => {
            let mut pairs = vec![("code", committed.value.as_str())];
            if let Some(s) = request.state.as_deref() {
                pairs.push(("state", s));
            }
            pairs.push(("iss", state.public_url()));
            redirect(authorize_request::redirect_with(
                &request.redirect_uri,
                &pairs,
            ))
        }
        Err(e) => {
            e.log_cause();
            to_client("server_error", "the hub could not issue a code; try again")
        }
    }
}

pub async fn get(req: HttpRequest, state: web::Data<SignIn>) -> HttpResponse {
    let query = req.query_string().to_owned();
    let mut params = RawParams::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if params.insert(k.to_string(), v.to_string()).is_some() {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("The request repeats the parameter {k}."),
            );
        }
    }
    handle(req, params, &state).await
}

pub async fn post(req: HttpRequest, body: web::Bytes, state: web::Data<SignIn>) -> HttpResponse {
    let mut params = RawParams::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        if params.insert(k.to_string(), v.to_string()).is_some() {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("The request repeats the parameter {k}."),
            );
        }
    }
    handle(req, params, &state).await
}

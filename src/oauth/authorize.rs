//! `GET|POST /oauth/authorize`: the authorization endpoint. The client and its redirect URI
//! are checked first: when either is wrong the hub answers with its own error page and never
//! redirects (no open redirect). Other errors go back to the redirect URI with `state` and
//! `iss` (RFC 9207). Without a browser session, `prompt=none` answers `login_required`, any
//! other request goes to the hosted login page with this request as `return_to`.
//!
//! The browser session (`web::browser_session`) and the login page (`web::login`) are the
//! hosted pages' (being built on main); until they are merged here no browser is ever signed
//! in, so every request ends at the login page or `login_required`. The code issuance for a
//! signed-in session is `ops::oauth_tokens::issue_code`.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};

use crate::{
    app::AppState,
    oauth::{
        authorize_request::{self, AuthorizeRequest, PageRefusal, RawParams, RedirectRefusal},
        client_auth,
    },
};

/// The hub's own error page for a request that cannot be sent back to a client: plain, escaped
/// text, the hosted pages' security headers, no link to follow.
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'; form-action 'self'",
        ))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in \
             error</title></head><body><main><h1>This sign-in cannot continue</h1><p>{escaped}</p>\
             <p>Go back to the application and try again, or ask its administrator.</p></main>\
             </body></html>"
        ))
}

fn redirect(to: String) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", to))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

fn refuse_to_client(
    state: &AppState,
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

/// The login page's link back to this request (a same-origin path).
fn login_redirect(request: &AuthorizeRequest, query: &str) -> HttpResponse {
    let return_to = format!("/oauth/authorize?{query}");
    let mut to = url::Url::parse("http://hub.invalid/login").expect("a URL");
    {
        let mut q = to.query_pairs_mut();
        q.append_pair("return_to", &return_to);
        if let Some(t) = &request.tenant {
            q.append_pair("tenant", t);
        }
        if let Some(h) = &request.login_hint {
            q.append_pair("login_hint", h);
        }
        if request.prompt.login || request.prompt.select_account {
            q.append_pair("force", "1");
        }
    }
    redirect(format!("/login?{}", to.query().unwrap_or_default()))
}

async fn handle(
    req: HttpRequest,
    params: RawParams,
    query: String,
    state: &AppState,
) -> HttpResponse {
    let (client_id, redirect_uri) = match authorize_request::client_and_redirect(&params) {
        Ok(v) => v,
        Err(PageRefusal(m)) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    let client = match client_auth::find(state, client_id).await {
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
    let _ = req;
    // No browser session yet (see the module's documentation).
    if request.prompt.none {
        return refuse_to_client(
            state,
            &request.redirect_uri,
            request.state.as_deref(),
            RedirectRefusal {
                error: "login_required",
                description: "the user is not signed in at the hub".into(),
            },
        );
    }
    login_redirect(&request, &query)
}

pub async fn get(req: HttpRequest, state: web::Data<Arc<AppState>>) -> HttpResponse {
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
    handle(req, params, query, &state).await
}

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<AppState>>,
) -> HttpResponse {
    let query = String::from_utf8_lossy(&body).into_owned();
    let mut params = RawParams::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        if params.insert(k.to_string(), v.to_string()).is_some() {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("The request repeats the parameter {k}."),
            );
        }
    }
    handle(req, params, query, &state).await
}

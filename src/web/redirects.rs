//! Where a hosted sign-in goes next, shared by every way of signing in (password, second
//! factor, passkey, the tenant's identity provider, an invitation): the safe `return_to` (a
//! path on this hub, never an open redirect), the login page's address with its hints, and
//! the redirect that carries a new browser session's cookie.

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite},
    http::header,
};

use crate::{
    ops::{
        sessions::{self, AuthMethod},
        sign_in::SignIn,
    },
    request::RequestMeta,
    web::{browser_session, cookies, page},
};

/// The browser's last tenant (not a secret: it only preselects the organisation).
pub const LAST_TENANT_COOKIE: &str = "__Host-hub_tenant";

/// Where a sign-in may send the browser afterwards: a path on this hub (starting with one `/`,
/// no scheme, no host, no backslash, no control character), else `/`.
pub fn safe_return_to(raw: Option<&str>) -> String {
    match raw {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && path.len() <= 4096
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// What a link to the login page may ask for.
#[derive(Debug, Clone, Default)]
pub struct LoginHints {
    /// The tenant (domain, slug or id), when the product knows it.
    pub tenant: Option<String>,
    /// The email to prefill (OpenID `login_hint`).
    pub login_hint: Option<String>,
    /// Ask for the password even when the browser is signed in (`prompt=login`, `max_age`).
    pub force: bool,
}

/// The login page's address for a sign-in that returns to `return_to` (a path on this hub).
pub fn login_url(return_to: &str, hints: &LoginHints) -> String {
    let mut url = url::Url::parse("http://hub/login").expect("static URL");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("return_to", &safe_return_to(Some(return_to)));
        if let Some(t) = &hints.tenant {
            q.append_pair("tenant", t);
        }
        if let Some(h) = &hints.login_hint {
            q.append_pair("login_hint", h);
        }
        if hints.force {
            q.append_pair("force", "1");
        }
    }
    format!("/login?{}", url.query().unwrap_or_default())
}

/// Opens the browser session of a member who has proved who they are (ending the browser's
/// previous session, if any) and sends the browser on to `return_to`. The step every way of
/// signing in ends with (password, second factor, the tenant's identity provider).
pub async fn signed_in_redirect(
    req: &HttpRequest,
    state: &SignIn,
    meta: &RequestMeta,
    who: &sessions::Authenticated,
    methods: Vec<AuthMethod>,
    return_to: &str,
) -> HttpResponse {
    if let Ok(Some(previous)) = browser_session::current(req, state).await
        && let Err(e) = browser_session::end(state, meta, &previous, "replaced").await
    {
        return page::for_error(&e, None);
    }
    let cookie = match browser_session::start(state, meta, who, methods).await {
        Ok(cookie) => cookie,
        Err(e) => return page::for_error(&e, None),
    };
    redirect_with_session(who, cookie, return_to)
}

/// The end of a sign-in whose browser session was opened in the transaction of its last
/// check (the MFA step, `ops::mfa::complete_browser_sign_in`): ends the browser's previous
/// session, if any, and sends the browser on with the new session's cookie.
pub async fn opened_redirect(
    req: &HttpRequest,
    state: &SignIn,
    meta: &RequestMeta,
    who: &sessions::Authenticated,
    session_cookie: Cookie<'static>,
    return_to: &str,
) -> HttpResponse {
    if let Ok(Some(previous)) = browser_session::current(req, state).await
        && let Err(e) = browser_session::end(state, meta, &previous, "replaced").await
    {
        return page::for_error(&e, None);
    }
    redirect_with_session(who, session_cookie, return_to)
}

fn redirect_with_session(
    who: &sessions::Authenticated,
    cookie: Cookie<'static>,
    return_to: &str,
) -> HttpResponse {
    let last = cookies::cookie(
        LAST_TENANT_COOKIE,
        who.tenant.id.to_string(),
        SameSite::Lax,
        cookies::Lifetime::Seconds(365 * 24 * 3600),
    );
    page::with_headers(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, safe_return_to(Some(return_to))))
        .cookie(cookie)
        .cookie(last)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_is_a_path_on_this_hub_or_nothing() {
        assert_eq!(
            safe_return_to(Some("/oauth/authorize?a=1")),
            "/oauth/authorize?a=1"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "/\nLocation: x",
            "",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_return_to(None), "/");
    }

    #[test]
    fn login_urls_carry_their_hints() {
        let url = login_url(
            "/oauth/authorize?client_id=a&state=x y",
            &LoginHints {
                tenant: Some("acme.example".into()),
                login_hint: None,
                force: true,
            },
        );
        assert_eq!(
            url,
            "/login?return_to=%2Foauth%2Fauthorize%3Fclient_id%3Da%26state%3Dx+y&tenant=acme.example&force=1"
        );
        assert_eq!(
            login_url("https://evil.example", &LoginHints::default()),
            "/login?return_to=%2F"
        );
    }
}

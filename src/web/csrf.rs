//! CSRF protection of the hosted pages' forms: a double-submit token. The browser holds a
//! random value in the `__Host-hub_csrf` cookie (HttpOnly, Secure, SameSite=Lax, host-only: a
//! sibling subdomain cannot plant one), every form carries the same value in a hidden `csrf`
//! field, and a POST is accepted only when the two match. A cross-site form can neither read
//! the cookie nor guess the value, so it cannot sign a browser in to an attacker's account
//! (login CSRF) or sign it out. A POST whose `Origin` is another site is refused as well.

use actix_web::{
    HttpRequest,
    cookie::{Cookie, SameSite},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::web::cookies;

pub const COOKIE: &str = "__Host-hub_csrf";
/// The hidden form field.
pub const FIELD: &str = "csrf";

/// The token for the forms of a page, and the cookie to set when the browser has none yet.
pub struct Issued {
    pub token: String,
    pub cookie: Option<Cookie<'static>>,
}

/// The browser's token, or a new one (with its cookie).
pub fn issue(req: &HttpRequest) -> Issued {
    if let Some(existing) = req.cookie(COOKIE).map(|c| c.value().to_owned())
        && well_formed(&existing)
    {
        return Issued {
            token: existing,
            cookie: None,
        };
    }
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let cookie = cookies::cookie(
        COOKIE,
        token.clone(),
        SameSite::Lax,
        cookies::Lifetime::BrowserSession,
    );
    Issued {
        token,
        cookie: Some(cookie),
    }
}

fn well_formed(token: &str) -> bool {
    token.len() == 43 && URL_SAFE_NO_PAD.decode(token).is_ok()
}

/// Why a form was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No cookie, no field, or the two differ.
    Token,
    /// The form was posted from another site.
    Origin,
}

/// Checks a posted form: the field must equal the cookie, and an `Origin` header, when the
/// browser sends one, must be the hub's own (`public_url`).
pub fn verify(req: &HttpRequest, field: Option<&str>, public_url: &str) -> Result<(), Refused> {
    if let Some(origin) = req.headers().get("origin").and_then(|o| o.to_str().ok())
        && origin != "null"
        && !same_origin(origin, public_url)
    {
        return Err(Refused::Origin);
    }
    let cookie = req.cookie(COOKIE).map(|c| c.value().to_owned());
    match (cookie, field) {
        (Some(cookie), Some(field)) if well_formed(&cookie) && equal(&cookie, field) => Ok(()),
        _ => Err(Refused::Token),
    }
}

fn same_origin(origin: &str, public_url: &str) -> bool {
    match (url::Url::parse(origin), url::Url::parse(public_url)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// Compares in time independent of where the two differ.
fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Renders a page whose form carries `issued`'s token, setting its cookie when it is new.
pub fn render_issued(
    status: actix_web::http::StatusCode,
    issued: Issued,
    page: &impl askama::Template,
) -> actix_web::HttpResponse {
    let mut res = crate::web::page::render(status, page);
    if let Some(cookie) = issued.cookie {
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// The page for a form [`verify`] refused: the same on every hosted form.
pub fn refused_page(reason: Refused) -> actix_web::HttpResponse {
    let message = match reason {
        Refused::Token => {
            "This form has expired or was not sent from this page. Go back, reload the page and try again."
        }
        Refused::Origin => "This form was sent from another site and was refused.",
    };
    crate::web::page::error_page(
        actix_web::http::StatusCode::FORBIDDEN,
        "Form refused",
        message,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_field_must_match_the_cookie_and_the_origin_be_ours() {
        let token = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let public = "http://127.0.0.1:8080";
        let req = TestRequest::default()
            .cookie(Cookie::new(COOKIE, token.clone()))
            .to_http_request();
        assert_eq!(verify(&req, Some(&token), public), Ok(()));
        assert_eq!(verify(&req, Some("x"), public), Err(Refused::Token));
        assert_eq!(verify(&req, None, public), Err(Refused::Token));
        let no_cookie = TestRequest::default().to_http_request();
        assert_eq!(
            verify(&no_cookie, Some(&token), public),
            Err(Refused::Token)
        );
        let elsewhere = TestRequest::default()
            .cookie(Cookie::new(COOKIE, token.clone()))
            .insert_header(("origin", "https://evil.example"))
            .to_http_request();
        assert_eq!(
            verify(&elsewhere, Some(&token), public),
            Err(Refused::Origin)
        );
        let ours = TestRequest::default()
            .cookie(Cookie::new(COOKIE, token.clone()))
            .insert_header(("origin", "http://127.0.0.1:8080"))
            .to_http_request();
        assert_eq!(verify(&ours, Some(&token), public), Ok(()));
    }
}

//! Rendering a hosted page: the chrome every page shares (title, the tenant's name, logo and
//! stylesheet, the product the user is signing in to) and the headers every page carries: a
//! Content-Security-Policy that allows no inline or foreign script (only the hub's own
//! `/assets/passkeys.js`), no inline style and no framing, `no-store`
//! (a sign-in page must not be cached) and `no-referrer` (links may carry one-time tokens).
//! [`error_page`] and [`for_error`] turn a failure into a clear page that shows no internals.

use actix_web::{
    HttpResponse,
    http::{StatusCode, header},
};
use askama::Template;

use crate::error::{AppError, ErrorCode};

/// The Content-Security-Policy of every hosted page. No `form-action`: a sign-in form's answer
/// redirects on to the product's redirect URI, which `form-action` would block in Chromium.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     connect-src 'self'; style-src 'self'; img-src 'self' https: data:; \
     frame-ancestors 'none'; base-uri 'none'";

/// What the layout shows around a page's content.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// The page's title (also its heading).
    pub title: String,
    /// The tenant the page is for, when known: its branding.
    pub tenant: Option<TenantChrome>,
    /// The product the user is signing in to, when known.
    pub product: Option<String>,
}

/// A tenant's branding as the layout uses it (see `web::branding`).
#[derive(Debug, Clone)]
pub struct TenantChrome {
    pub name: String,
    /// An https URL (validated when the configuration was saved and again here).
    pub logo: Option<String>,
    /// The tenant's stylesheet of colours, `/branding/<id>.css?v=<version>`.
    pub stylesheet: String,
}

impl Chrome {
    pub fn new(title: impl Into<String>, tenant: Option<TenantChrome>) -> Chrome {
        Chrome {
            title: title.into(),
            tenant,
            product: None,
        }
    }
}

/// The page with the hosted pages' headers.
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => with_headers(HttpResponse::build(status))
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "a hosted page failed to render");
            with_headers(HttpResponse::InternalServerError())
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong on our side. Please try again.")
        }
    }
}

/// The headers of every hosted page.
pub fn with_headers(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    builder
}

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    message: &'a str,
}

/// A clear page for something that went wrong: a title and a sentence for a person.
pub fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    tenant: Option<TenantChrome>,
) -> HttpResponse {
    render(
        status,
        &ErrorPage {
            chrome: Chrome::new(title, tenant),
            message,
        },
    )
}

/// The page for an [`AppError`]: its client message for the codes meant for people, a generic
/// sentence for internal errors (their cause is logged, never shown).
pub fn for_error(e: &AppError, tenant: Option<TenantChrome>) -> HttpResponse {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (title, message) = match e.code {
        ErrorCode::Internal => {
            e.log_cause();
            (
                "Something went wrong",
                "Something went wrong on our side. Please try again in a moment.",
            )
        }
        ErrorCode::RateLimited => ("Too many attempts", e.message.as_str()),
        ErrorCode::TenantInactive => (
            "Organisation not available",
            "This organisation's account is not active. Contact its administrator.",
        ),
        ErrorCode::Forbidden => ("Not allowed", e.message.as_str()),
        ErrorCode::NotFound => ("Not found", e.message.as_str()),
        _ => ("Something is not right", e.message.as_str()),
    };
    let mut res = error_page(status, title, message, tenant);
    if let Some(secs) = e.retry_after_secs {
        res.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_str(&secs.to_string()).expect("digits"),
        );
    }
    res
}

/// `GET /assets/hub.css`: the pages' stylesheet (compiled in).
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../templates/pages/hub.css"))
}

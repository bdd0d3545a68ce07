//! Whole-request errors toward HTTP: [`HttpError`] (an [`AppError`] with `Display`, `Error`
//! and actix's `ResponseError`, so routes return `Result<_, HttpError>` and use `?`) and
//! [`error_response_as`], the GraphQL error shape with the code's status, `Retry-After` and
//! `WWW-Authenticate` where they apply.

use actix_web::{HttpResponse, http::StatusCode};

use crate::error::AppError;

/// An [`AppError`] answering a whole HTTP request: routes return `Result<_, HttpError>` and
/// use `?` on `AppError`s. The answer is the GraphQL error shape (`{"errors":[…]}`, JSON) with
/// the code's status, `Retry-After` and `WWW-Authenticate` where they apply.
pub struct HttpError(pub AppError);

impl From<AppError> for HttpError {
    fn from(e: AppError) -> Self {
        HttpError(e)
    }
}

impl std::fmt::Debug for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for HttpError {
    /// The client's message (an internal cause is never shown).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.code.as_str(), self.0.message)
    }
}

impl std::error::Error for HttpError {}

impl actix_web::ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        error_response_as(&self.0, "application/json")
    }
}

/// A whole-request error in the GraphQL response shape, with the code's HTTP status, in the
/// media type the client negotiated. Logs an internal cause (once: here).
pub fn error_response_as(err: &AppError, content_type: &str) -> HttpResponse {
    let status =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    if let Some(retry) = err.retry_after_secs {
        builder.insert_header(("Retry-After", retry.to_string()));
    }
    if let Some(challenge) = www_authenticate(err) {
        builder.insert_header((actix_web::http::header::WWW_AUTHENTICATE, challenge));
    }
    builder
        .content_type(content_type)
        .body(serde_json::json!({ "errors": [err.to_server_error()] }).to_string())
}

/// The challenge of a 401 (RFC 6750, section 3): `error="invalid_token"` when a credential was
/// sent and refused, `invalid_request` when the header is malformed, none when none was sent.
fn www_authenticate(err: &AppError) -> Option<String> {
    if err.code != crate::ErrorCode::Unauthenticated {
        return None;
    }
    use crate::error::Reason;
    let error = match err.reason {
        Some(Reason::TokenExpired | Reason::TokenInvalid | Reason::ApiKeyInvalid) => {
            "invalid_token"
        }
        Some(Reason::AuthorizationMalformed) => "invalid_request",
        _ => return Some(r#"Bearer realm="tenant-hub""#.to_owned()),
    };
    // The description is one of the hub's own messages: no quote or backslash to escape.
    let description: String = err
        .message
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect();
    Some(format!(
        r#"Bearer realm="tenant-hub", error="{error}", error_description="{description}""#
    ))
}

//! Errors of the OAuth endpoints as RFC 6749 §5.2 says: a JSON object with `error` and
//! `error_description`, status 400 (401 with a `WWW-Authenticate` challenge for
//! `invalid_client` over HTTP Basic), `Cache-Control: no-store`. Descriptions are the hub's own
//! sentences; an internal cause is logged, never shown.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};

use crate::error::{AppError, ErrorCode};

#[derive(Debug)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
    pub status: StatusCode,
    /// A `WWW-Authenticate` challenge to send (invalid_client over Basic, invalid_token).
    pub challenge: Option<String>,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>, status: StatusCode) -> Self {
        OAuthError {
            error,
            description: description.into(),
            status,
            challenge: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description, StatusCode::BAD_REQUEST)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        let mut e = Self::new("invalid_client", description, StatusCode::UNAUTHORIZED);
        e.challenge = Some(r#"Basic realm="tenant-hub""#.to_owned());
        e
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description, StatusCode::BAD_REQUEST)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new("unauthorized_client", description, StatusCode::BAD_REQUEST)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(
            "unsupported_grant_type",
            description,
            StatusCode::BAD_REQUEST,
        )
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new("invalid_scope", description, StatusCode::BAD_REQUEST)
    }

    pub fn unsupported_token_type(description: impl Into<String>) -> Self {
        Self::new(
            "unsupported_token_type",
            description,
            StatusCode::BAD_REQUEST,
        )
    }

    /// A bearer token refused at userinfo (RFC 6750 §3.1).
    pub fn invalid_token(description: impl Into<String>) -> Self {
        let mut e = Self::new("invalid_token", description, StatusCode::UNAUTHORIZED);
        e.challenge = Some(r#"Bearer realm="tenant-hub", error="invalid_token""#.to_owned());
        e
    }

    pub fn server_error() -> Self {
        Self::new(
            "server_error",
            "the hub could not answer; try again",
            StatusCode::INTERNAL_SERVER_ERROR,
        )
    }

    pub fn temporarily_unavailable(description: impl Into<String>) -> Self {
        Self::new(
            "temporarily_unavailable",
            description,
            StatusCode::SERVICE_UNAVAILABLE,
        )
    }
}

impl From<AppError> for OAuthError {
    /// Errors of the operations below the endpoints: what a client may do about them.
    fn from(e: AppError) -> Self {
        match e.code {
            ErrorCode::RateLimited => {
                let mut o = OAuthError::temporarily_unavailable(e.message.clone());
                o.status = StatusCode::TOO_MANY_REQUESTS;
                o
            }
            ErrorCode::Unauthenticated | ErrorCode::TenantInactive | ErrorCode::Forbidden => {
                OAuthError::invalid_grant(e.message.clone())
            }
            ErrorCode::BadUserInput => OAuthError::invalid_request(e.message.clone()),
            _ => {
                e.log_cause();
                OAuthError::server_error()
            }
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status);
        b.insert_header(("Cache-Control", "no-store"));
        if let Some(c) = &self.challenge {
            b.insert_header(("WWW-Authenticate", c.as_str()));
        }
        b.json(serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        }))
    }
}

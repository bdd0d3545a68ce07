//! One error type for the whole hub, with the stable codes clients see as `extensions.code`.
//!
//! [`AppError`] deliberately does not implement `Display` (nor, therefore, `std::error::Error`):
//! async-graphql has `impl<T: Display> From<T> for async_graphql::Error`, which would both
//! conflict with the `From<AppError>` impl below (E0119) and, without it, turn an `AppError`
//! into an error without extensions. That impl is the one way out to GraphQL, so every error
//! carries its code; internal causes are logged there, once, with their chain, and replaced by
//! a generic message. Toward HTTP, `http::HttpError` wraps it with `Display`, `Error` and
//! actix's `ResponseError`, so routes return `Result<_, HttpError>` and use `?` on `AppError`.

use std::fmt;

use serde::Serialize;

use crate::domain::{DomainError, Rule, error::Fault};

/// The codes listed at the top of `contract/operations.graphql`. Never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    RateLimited,
    QuotaExceeded,
    TenantInactive,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::TenantInactive => "TENANT_INACTIVE",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// The code of its wire string (`"FORBIDDEN"`).
    pub fn parse(code: &str) -> Option<ErrorCode> {
        [
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::BadUserInput,
            ErrorCode::Conflict,
            ErrorCode::RateLimited,
            ErrorCode::QuotaExceeded,
            ErrorCode::TenantInactive,
            ErrorCode::Internal,
        ]
        .into_iter()
        .find(|c| c.as_str() == code)
    }

    /// The HTTP status used when this error answers a whole request (not a GraphQL field).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden | ErrorCode::TenantInactive => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::BadUserInput => 400,
            ErrorCode::Conflict => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::QuotaExceeded => 403,
            ErrorCode::Internal => 500,
        }
    }
}

/// A machine-readable refinement of a code, sent as `extensions.reason`. The strings are part
/// of the contract: never change one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The access token's `exp` has passed: refresh it.
    TokenExpired,
    /// The access token (or its session) is refused for any other cause: log in again.
    TokenInvalid,
    ApiKeyInvalid,
    /// An `Authorization` header of another scheme than `Bearer` or `ApiKey`.
    AuthorizationMalformed,
    DatabaseUnavailable,
    Timeout,
    FeatureDisabled,
    /// A tenant limit: its users.
    Users,
    /// A tenant limit: its storage.
    StorageGb,
    PageSize,
    TooManyTokens,
    NulCharacter,
    MutationOverGet,
    BodyTooLarge,
    PersistedQueryNotFound,
    UnregisteredOperation,
    /// The tenant cannot move to that status now, or not by this caller.
    LifecycleTransitionRefused,
    /// An admin resetting their own password: changePassword (with the current one) is the way.
    OwnPassword,
    /// Rules of new passwords (`domain::password`).
    PasswordCommon,
    PasswordContainsAccountWord,
    PasswordContainsEmail,
    PasswordRepeated,
    PasswordTooLong,
    PasswordTooShort,
    /// An owner moving to a paid plan without the platform's self-service upgrades.
    PaidPlanNeedsPlatform,
    /// The tenant requires a verified email to sign in, and this user has not verified theirs.
    EmailUnverified,
    /// resendInvitation for a user who is not (or no longer) invited.
    NotInvited,
    /// The MFA challenge of a sign-in is unknown, spent or expired: log in again.
    MfaChallengeInvalid,
    /// A wrong, expired or already used one-time or recovery code.
    MfaCodeInvalid,
    /// The tenant requires a second factor: the last one cannot be removed.
    MfaRequiredByPolicy,
    /// An authenticator is enrolled already: remove it first.
    MfaAlreadyEnrolled,
    /// No confirmed second factor (or no enrolment to confirm).
    MfaNotEnrolled,
    /// A passkey ceremony that did not pass: unknown, spent or expired state, or a credential
    /// or assertion that does not verify. Nothing changed.
    PasskeyInvalid,
    /// The hub's relying-party id or origin (HUB_WEBAUTHN_RP_ID / HUB_WEBAUTHN_ORIGIN, or the
    /// public URL) cannot be used for WebAuthn.
    PasskeysUnavailable,
    /// A public email domain (gmail.com, …): no tenant may claim it.
    DomainPublic,
    /// The domain is verified by another tenant.
    DomainVerifiedElsewhere,
    /// An identity provider bound to a domain the tenant has not verified.
    DomainNotVerified,
    /// The identity provider's OpenID discovery document could not be fetched or read.
    ProviderDiscoveryFailed,
    /// The tenant enforces single sign-on for the email's domain: password login is refused.
    SsoRequired,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TokenExpired => "token_expired",
            Reason::TokenInvalid => "token_invalid",
            Reason::ApiKeyInvalid => "api_key_invalid",
            Reason::AuthorizationMalformed => "authorization_malformed",
            Reason::DatabaseUnavailable => "database_unavailable",
            Reason::Timeout => "timeout",
            Reason::FeatureDisabled => "feature_disabled",
            Reason::Users => "users",
            Reason::StorageGb => "storage_gb",
            Reason::PageSize => "page_size",
            Reason::TooManyTokens => "too_many_tokens",
            Reason::NulCharacter => "nul_character",
            Reason::MutationOverGet => "mutation_over_get",
            Reason::BodyTooLarge => "body_too_large",
            Reason::PersistedQueryNotFound => "persisted_query_not_found",
            Reason::UnregisteredOperation => "unregistered_operation",
            Reason::LifecycleTransitionRefused => "lifecycle_transition_refused",
            Reason::OwnPassword => "own_password",
            Reason::PasswordCommon => "password_common",
            Reason::PasswordContainsAccountWord => "password_contains_account_word",
            Reason::PasswordContainsEmail => "password_contains_email",
            Reason::PasswordRepeated => "password_repeated",
            Reason::PasswordTooLong => "password_too_long",
            Reason::PasswordTooShort => "password_too_short",
            Reason::PaidPlanNeedsPlatform => "paid_plan_needs_platform",
            Reason::EmailUnverified => "email_unverified",
            Reason::NotInvited => "not_invited",
            Reason::MfaChallengeInvalid => "mfa_challenge_invalid",
            Reason::MfaCodeInvalid => "mfa_code_invalid",
            Reason::MfaRequiredByPolicy => "mfa_required_by_policy",
            Reason::MfaAlreadyEnrolled => "mfa_already_enrolled",
            Reason::MfaNotEnrolled => "mfa_not_enrolled",
            Reason::PasskeyInvalid => "passkey_invalid",
            Reason::PasskeysUnavailable => "passkeys_unavailable",
            Reason::DomainPublic => "domain_public",
            Reason::DomainVerifiedElsewhere => "domain_verified_elsewhere",
            Reason::DomainNotVerified => "domain_not_verified",
            Reason::ProviderDiscoveryFailed => "provider_discovery_failed",
            Reason::SsoRequired => "sso_required",
        }
    }
}

/// An error on its way to a client: a stable code, a message meant for the client, and for
/// internal errors the cause, which is logged and never sent.
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// The input field at fault (BAD_USER_INPUT), as `extensions.field`.
    pub field: Option<String>,
    /// A machine-readable refinement of the code, as `extensions.reason` (e.g. `feature_disabled`).
    pub reason: Option<Reason>,
    /// Seconds until a retry can succeed (RATE_LIMITED), as `extensions.retryAfter`.
    pub retry_after_secs: Option<u64>,
    source: Option<anyhow::Error>,
}

pub type AppResult<T> = Result<T, AppError>;

/// A refused value, at the edge: BAD_USER_INPUT naming the field, with the rule as
/// `extensions.reason`; a stored value the domain does not know is an internal error (its
/// message logged, never sent).
impl From<DomainError> for AppError {
    fn from(e: DomainError) -> AppError {
        match e.fault {
            Fault::Invalid => {
                let reason = e.rule.map(Reason::from);
                let mut err = AppError::bad_input(&e.field, e.message);
                err.reason = reason;
                err
            }
            Fault::UnknownStored => AppError::internal(e),
        }
    }
}

impl From<Rule> for Reason {
    fn from(rule: Rule) -> Reason {
        match rule {
            Rule::PasswordCommon => Reason::PasswordCommon,
            Rule::PasswordContainsAccountWord => Reason::PasswordContainsAccountWord,
            Rule::PasswordContainsEmail => Reason::PasswordContainsEmail,
            Rule::PasswordRepeated => Reason::PasswordRepeated,
            Rule::PasswordTooLong => Reason::PasswordTooLong,
            Rule::PasswordTooShort => Reason::PasswordTooShort,
        }
    }
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError {
            code,
            message: message.into(),
            field: None,
            reason: None,
            retry_after_secs: None,
            source: None,
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// `what` names the kind of thing, e.g. "user"; ids are not echoed back.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn bad_input(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorCode::BadUserInput, message);
        e.field = Some(field.to_owned());
        e
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn quota_exceeded(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::QuotaExceeded, message)
    }

    pub fn tenant_inactive() -> Self {
        Self::new(ErrorCode::TenantInactive, "this tenant is not active")
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            ErrorCode::RateLimited,
            format!("too many requests; retry in {retry_after_secs} s"),
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    /// An internal failure. The cause is logged when the error reaches the client boundary.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(ErrorCode::Internal, "internal error");
        e.source = Some(cause.into());
        e
    }

    /// For the command line, where the operator may see everything: the message with the
    /// internal cause chain under it (printed `message: cause: …` with `{:#}`).
    pub fn into_anyhow(self) -> anyhow::Error {
        match self.source {
            Some(cause) => cause.context(self.message),
            None => anyhow::anyhow!(self.message),
        }
    }

    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Logs the internal cause, if any, with its whole chain.
    pub fn log_cause(&self) {
        if let Some(cause) = &self.source {
            tracing::error!(
                code = self.code.as_str(),
                error = format!("{cause:#}"),
                "request failed"
            );
        }
    }

    /// The GraphQL error body a client sees.
    pub fn to_graphql(&self) -> async_graphql::Error {
        self.log_cause();
        let mut err = async_graphql::Error::new(self.message.clone());
        let code = self.code.as_str();
        let field = self.field.clone();
        let reason = self.reason;
        let retry = self.retry_after_secs;
        err = async_graphql::ErrorExtensions::extend_with(err, |_, ext| {
            ext.set("code", code);
            if let Some(field) = field {
                ext.set("field", field);
            }
            if let Some(reason) = reason {
                ext.set("reason", reason.as_str());
            }
            if let Some(retry) = retry {
                ext.set("retryAfter", retry);
            }
        });
        err
    }
}

impl AppError {
    /// The error of a whole request (refused before execution): no `path`, and no
    /// `locations`, as it points at no place in the document.
    pub fn to_server_error(&self) -> async_graphql::ServerError {
        let e = self.to_graphql();
        async_graphql::ServerError {
            message: e.message,
            source: e.source,
            locations: Vec::new(),
            path: Vec::new(),
            extensions: e.extensions,
        }
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AppError");
        d.field("code", &self.code).field("message", &self.message);
        if let Some(field) = &self.field {
            d.field("field", field);
        }
        if let Some(cause) = &self.source {
            d.field("cause", &format_args!("{cause:#}"));
        }
        d.finish()
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        e.to_graphql()
    }
}

impl From<std::sync::Arc<AppError>> for AppError {
    /// A DataLoader's shared error, for each field that waited on it.
    fn from(shared: std::sync::Arc<AppError>) -> Self {
        AppError {
            code: shared.code,
            message: shared.message.clone(),
            field: shared.field.clone(),
            reason: shared.reason,
            retry_after_secs: shared.retry_after_secs,
            source: shared.source.as_ref().map(|s| anyhow::anyhow!("{s:#}")),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &e {
            Error::NotFound => AppError::new(ErrorCode::NotFound, "not found"),
            // A constraint the code did not check first: the row exists already.
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                let mut err = AppError::conflict("already exists");
                err.source = Some(e.into());
                err
            }
            // The server went away under a request (shut down, restarted, network): the
            // connection closed while reading, or before a statement could be sent.
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            )
            | Error::BrokenTransactionManager => AppError::database_unavailable(e.into()),
            Error::DatabaseError(_, info)
                if info.message().contains("terminating connection")
                    || info.message().contains("shutting down") =>
            {
                AppError::database_unavailable(e.into())
            }
            _ => AppError::internal(e),
        }
    }
}

impl AppError {
    /// The database cannot be reached: INTERNAL with a message the client can act on.
    fn database_unavailable(cause: anyhow::Error) -> AppError {
        let mut err = AppError::internal(cause);
        err.message = "the database is unavailable; try again shortly".to_owned();
        err.reason = Some(Reason::DatabaseUnavailable);
        err
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        AppError::database_unavailable(anyhow::Error::new(e).context("database pool"))
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::internal(e)
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> AppError {
        AppError::from(Error::DatabaseError(kind, Box::new(message.to_owned())))
    }

    #[test]
    fn a_server_gone_under_a_request_is_database_unavailable_and_other_causes_stay_hidden() {
        for e in [
            database_error(DatabaseErrorKind::ClosedConnection, "connection closed"),
            database_error(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            database_error(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            AppError::from(Error::BrokenTransactionManager),
        ] {
            assert_eq!(e.code, ErrorCode::Internal);
            assert_eq!(e.reason, Some(Reason::DatabaseUnavailable));
            assert!(
                e.message.contains("database is unavailable"),
                "{}",
                e.message
            );
        }
        let other = database_error(DatabaseErrorKind::Unknown, "relation \"x\" does not exist");
        assert_eq!(other.code, ErrorCode::Internal);
        assert_eq!(other.reason, None);
        assert!(!other.message.contains("relation"), "{}", other.message);
    }
}

//! ID tokens (OpenID Connect Core 1.0 §2): signed with the hub's keys (`typ: JWT`, so one is
//! never taken for an access token, whose `typ` is `at+jwt`), `aud` = the client id.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{auth::TokenIssuer, auth::keys::now_unix, error::AppResult};

/// The `typ` header of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The hub session (what back-channel logout tokens name).
    pub sid: String,
    /// The tenant.
    pub tid: String,
    pub amr: Vec<String>,
    /// The assurance of the sign-in (`mfa::claims`).
    pub acr: String,
    /// With the `email` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// What an ID token is made of.
pub struct IdTokenInput<'a> {
    pub client_id: &'a str,
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    pub auth_time: i64,
    /// Space-separated RFC 8176 values, as the session stores them.
    pub amr: &'a str,
    pub nonce: Option<String>,
    pub email: Option<String>,
}

/// Signs an ID token valid as long as an access token.
pub fn issue(tokens: &TokenIssuer, input: IdTokenInput<'_>) -> AppResult<String> {
    let now = now_unix();
    let claims = IdTokenClaims {
        iss: tokens.issuer().to_owned(),
        sub: input.user_id.to_string(),
        aud: input.client_id.to_owned(),
        exp: now + tokens.ttl_secs(),
        iat: now,
        auth_time: input.auth_time,
        nonce: input.nonce,
        sid: input.session_id.to_string(),
        tid: input.tenant_id.to_string(),
        acr: crate::mfa::claims::acr_of(&crate::mfa::claims::amr_list(input.amr)).to_owned(),
        amr: crate::mfa::claims::amr_list(input.amr),
        email: input.email,
    };
    tokens.sign(ID_TOKEN_TYP, &claims)
}

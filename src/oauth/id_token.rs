//! ID tokens (OpenID Connect Core 1.0 §2): signed with the hub's keys (`typ: JWT`, so one is
//! never taken for an access token, whose `typ` is `at+jwt`), `aud` = the client id. With the
//! `email` scope they carry `email` and `email_verified` (from `users.email_verified_at`).
//! [`verify_hint`] checks an ID token a client sends back as `id_token_hint` (RP-initiated
//! logout): the hub's signature and issuer, its expiry deliberately not.

use jsonwebtoken::{Validation, decode, decode_header};
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
    /// With the `email` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// With the `email` scope: whether the user proved the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// The email claims of a user, given with the `email` scope.
#[derive(Debug, Clone)]
pub struct EmailClaims {
    pub email: String,
    pub verified: bool,
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
    /// With the `email` scope.
    pub email: Option<EmailClaims>,
}

/// Signs an ID token valid as long as an access token.
pub fn issue(tokens: &TokenIssuer, input: IdTokenInput<'_>) -> AppResult<String> {
    let now = now_unix();
    let (email, email_verified) = match input.email {
        Some(e) => (Some(e.email), Some(e.verified)),
        None => (None, None),
    };
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
        amr: input.amr.split_whitespace().map(str::to_owned).collect(),
        email,
        email_verified,
    };
    tokens.sign(ID_TOKEN_TYP, &claims)
}

/// What an `id_token_hint` names, once its signature is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The client it was issued to (`aud`).
    pub client_id: Uuid,
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
}

/// Verifies an ID token the hub issued, as `id_token_hint` (RP-Initiated Logout 1.0 §2): the
/// `typ`, a key of the hub's key set, the algorithm of that key, the signature and an issuer
/// the hub accepts. An expired one is accepted (the spec says the OP should: a user logs out
/// long after the token's `exp`). None for anything else (forged, altered, another issuer's,
/// an access token).
pub fn verify_hint(tokens: &TokenIssuer, token: &str) -> Option<Hint> {
    let header = decode_header(token).ok()?;
    if header.typ.as_deref() != Some(ID_TOKEN_TYP) {
        return None;
    }
    let key = tokens
        .keys()
        .keys()
        .find(header.kid.as_deref()?, now_unix())?;
    if header.alg != key.alg {
        return None;
    }
    let mut validation = Validation::new(key.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.set_issuer(tokens.accepted_issuers());
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    let claims = decode::<IdTokenClaims>(token, &key.decoding, &validation)
        .ok()?
        .claims;
    Some(Hint {
        client_id: claims.aud.parse().ok()?,
        user_id: claims.sub.parse().ok()?,
        tenant_id: claims.tid.parse().ok()?,
        session_id: claims.sid.parse().ok()?,
    })
}

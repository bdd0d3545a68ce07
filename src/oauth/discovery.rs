//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0): the issuer is the
//! hub's public URL (HUB_PUBLIC_URL) and every endpoint is under it, `end_session_endpoint`
//! (RP-Initiated Logout 1.0) and back-channel logout with `sid` (Back-Channel Logout 1.0)
//! included.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::{config::Settings, ops::oauth_clients::KNOWN_SCOPES};

/// The discovery document of an issuer.
pub fn document(issuer: &str, alg: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "end_session_endpoint": format!("{issuer}/oauth/logout"),
        "scopes_supported": KNOWN_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "select_account"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid",
            "tid", "amr", "acr", "email", "email_verified"],
        "acr_values_supported": [crate::mfa::claims::ACR_SINGLE, crate::mfa::claims::ACR_MFA],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}

pub async fn get(settings: web::Data<Settings>) -> HttpResponse {
    let alg = match settings.tokens.jwt_alg {
        crate::config::SigningAlg::EdDsa => "EdDSA",
        crate::config::SigningAlg::Rs256 => "RS256",
    };
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(document(settings.public_url(), alg))
}

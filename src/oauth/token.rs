//! `POST /oauth/token` (RFC 6749 §3.2): the `authorization_code` (PKCE S256 required),
//! `refresh_token` and `client_credentials` grants, after client authentication. Answers
//! carry `Cache-Control: no-store`; errors are RFC 6749 §5.2 JSON.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::{
    oauth::{client_auth, error::OAuthError, form::Params},
    ops::oauth_tokens::{self, TokenSet},
    ops::sign_in::SignIn,
    request::RequestMeta,
};

fn answer(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body)
}

fn token_set(set: TokenSet) -> HttpResponse {
    let mut body = json!({
        "access_token": set.access.token,
        "token_type": "Bearer",
        "expires_in": set.access.expires_in,
        "scope": set.scope,
    });
    if let Some(r) = set.refresh_token {
        body["refresh_token"] = r.into();
    }
    if let Some(i) = set.id_token {
        body["id_token"] = i.into();
    }
    answer(body)
}

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SignIn>,
) -> Result<HttpResponse, OAuthError> {
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let params = Params::parse(&body)?;
    let grant_type = params.require("grant_type")?;
    let client = client_auth::authenticate(&state.db, &state.oauth_clients, &req, &params).await?;
    match grant_type {
        "authorization_code" => {
            let code = params.require("code")?;
            let redirect_uri = params.require("redirect_uri")?;
            let verifier = params.get("code_verifier").ok_or_else(|| {
                OAuthError::invalid_request("code_verifier is missing: PKCE is required")
            })?;
            let set =
                oauth_tokens::exchange_code(&state, &meta, &client, code, redirect_uri, verifier)
                    .await?;
            Ok(token_set(set))
        }
        "refresh_token" => {
            let token = params.require("refresh_token")?;
            let set = oauth_tokens::refresh(&state, &meta, &client, token).await?;
            Ok(token_set(set))
        }
        "client_credentials" => {
            if client.public {
                return Err(OAuthError::unauthorized_client(
                    "a public client cannot use client_credentials",
                ));
            }
            if let Some(scope) = params.get("scope")
                && scope.split_whitespace().any(|s| s != "service")
            {
                return Err(OAuthError::invalid_scope(
                    "client_credentials grants the scope `service` only",
                ));
            }
            let access = oauth_tokens::client_credentials(&state, &meta, &client).await?;
            Ok(answer(json!({
                "access_token": access.token,
                "token_type": "Bearer",
                "expires_in": access.expires_in,
                "scope": "service",
            })))
        }
        other => Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {other} is not supported (authorization_code, refresh_token, client_credentials)"
        ))),
    }
}

//! `POST /oauth/revoke` (RFC 7009): a client revokes a refresh token it was given. An unknown
//! token, or one of another client, answers 200 like a revoked one (§2.2). Access tokens are
//! JWTs that end with their `exp` (or their session): `token_type_hint=access_token` answers
//! `unsupported_token_type`; revoking the refresh token (or logging out) ends the grant.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::{
    oauth::{client_auth, error::OAuthError, form::Params},
    ops::oauth_tokens,
    ops::sign_in::SignIn,
    request::RequestMeta,
};

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SignIn>,
) -> Result<HttpResponse, OAuthError> {
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let params = Params::parse(&body)?;
    let client = client_auth::authenticate(&state.db, &state.oauth_clients, &req, &params).await?;
    let token = params.require("token")?;
    if params.get("token_type_hint") == Some("access_token") && state.tokens.verify(token).is_ok() {
        return Err(OAuthError::unsupported_token_type(
            "access tokens end with their exp; revoke the refresh token instead",
        ));
    }
    oauth_tokens::revoke_refresh_token(&state, &meta, &client, token).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

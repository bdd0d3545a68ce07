//! `GET|POST /oauth/userinfo` (OpenID Connect Core 1.0 §5.3): the signed-in user's claims for
//! a member's access token whose session is still live. A token issued to an OAuth client gets
//! `email` and `email_verified` only when the user granted that client the `email` scope (the
//! scope of its latest code in the session); a token of the API's own login gets them always.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::{
    auth::{
        Principal,
        principal::{Authenticator, authenticate},
    },
    db::{
        ScopedFutureExt,
        models::{OAuthCodeRow, UserRow},
    },
    oauth::error::OAuthError,
    ops::sign_in::SignIn,
    request::RequestMeta,
};

pub async fn handle(
    req: HttpRequest,
    _body: web::Bytes,
    state: web::Data<SignIn>,
    authenticator: web::Data<Authenticator>,
) -> Result<HttpResponse, OAuthError> {
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .filter(|h| h.starts_with("Bearer ") || h.starts_with("bearer "))
        .ok_or_else(|| OAuthError::invalid_token("send `Authorization: Bearer <access token>`"))?;
    let member = match authenticate(&authenticator, Some(authorization), &meta.ip).await {
        Ok(Principal::Member(m)) => m,
        _ => {
            return Err(OAuthError::invalid_token(
                "the access token is invalid, expired or its session has ended",
            ));
        }
    };
    // Verified already by `authenticate` (and remembered): which client it was issued to.
    let client_id = state
        .tokens
        .verify(&authorization[7..])
        .ok()
        .and_then(|c| c.client_id)
        .and_then(|c| c.parse::<uuid::Uuid>().ok());
    let (user_id, session_id) = (member.user_id, member.session_id);
    let (user, email_granted) = state
        .db
        .tenant_tx(member.tenant_id, move |tx| {
            async move {
                let user = UserRow::find(tx, user_id).await?;
                let granted = match client_id {
                    None => true,
                    Some(client) => OAuthCodeRow::granted_scope(tx, session_id, client)
                        .await?
                        .is_some_and(|s| s.split_whitespace().any(|s| s == "email")),
                };
                Ok((user, granted))
            }
            .scope_boxed()
        })
        .await?;
    let user = user.ok_or_else(|| OAuthError::invalid_token("the user no longer exists"))?;
    let mut body = json!({
        "sub": user.id.to_string(),
        "tid": member.tenant_id.to_string(),
    });
    if email_granted {
        body["email"] = user.email.into();
        body["email_verified"] = user.email_verified_at.is_some().into();
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

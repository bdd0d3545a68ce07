//! `GET|POST /oauth/userinfo` (OpenID Connect Core 1.0 §5.3): the signed-in user's claims for
//! a member's access token whose session is still live.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::{
    app::AppState,
    auth::{Principal, principal::authenticate},
    db::{ScopedFutureExt, models::UserRow},
    oauth::error::OAuthError,
    request::RequestMeta,
};

pub async fn handle(
    req: HttpRequest,
    _body: web::Bytes,
    state: web::Data<Arc<AppState>>,
) -> Result<HttpResponse, OAuthError> {
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .filter(|h| h.starts_with("Bearer ") || h.starts_with("bearer "))
        .ok_or_else(|| OAuthError::invalid_token("send `Authorization: Bearer <access token>`"))?;
    let member = match authenticate(&state, Some(authorization), &meta.ip).await {
        Ok(Principal::Member(m)) => m,
        _ => {
            return Err(OAuthError::invalid_token(
                "the access token is invalid, expired or its session has ended",
            ));
        }
    };
    let user_id = member.user_id;
    let user = state
        .db
        .tenant_tx(member.tenant_id, move |tx| {
            UserRow::find(tx, user_id).scope_boxed()
        })
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the user no longer exists"))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "sub": user.id.to_string(),
            "tid": member.tenant_id.to_string(),
            "email": user.email,
        })))
}

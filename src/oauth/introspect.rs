//! `POST /oauth/introspect` (RFC 7662), for confidential clients: is this token active now?
//! Access tokens: the signature (remembered per token, `auth::jwt`), then the session's state
//! from this replica's session cache (`auth::session_cache`; a revocation drops it here at once
//! and on the other replicas through `invalidation`), so a revoked session answers
//! `active: false` without waiting for `exp`. Refresh tokens: their row and session. A client
//! sees only tokens of its own product (or the products' plain member tokens); anything else
//! is `active: false`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::{
    auth::{
        AccessClaims,
        jwt::SERVICE_SCOPE,
        opaque,
        session_cache::{SessionCache, SessionKey},
    },
    db::{
        ScopedFutureExt,
        models::{SessionRow, oauth_code::ClientRefreshTokens},
    },
    error::AppResult,
    oauth::{client_auth, error::OAuthError, form::Params},
    ops::sign_in::SignIn,
};

fn inactive() -> Value {
    json!({ "active": false })
}

fn answer(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SignIn>,
    sessions: web::Data<SessionCache>,
) -> Result<HttpResponse, OAuthError> {
    let params = Params::parse(&body)?;
    let client = client_auth::authenticate(&state.db, &state.oauth_clients, &req, &params).await?;
    if client.public {
        return Err(OAuthError::unauthorized_client(
            "introspection is for confidential clients",
        ));
    }
    let token = params.require("token")?;
    if let Ok(claims) = state.tokens.verify(token) {
        let own = match &claims.product {
            Some(p) => *p == client.product_id,
            None => claims.client_id.is_none(),
        };
        if !own {
            return Ok(answer(inactive()));
        }
        return Ok(answer(access_token(&state, &sessions, claims).await?));
    }
    Ok(answer(refresh_token(&state, &client, token).await?))
}

async fn access_token(
    state: &SignIn,
    sessions: &SessionCache,
    claims: AccessClaims,
) -> AppResult<Value> {
    let mut body = json!({
        "active": true,
        "token_type": "access_token",
        "iss": claims.iss,
        "aud": claims.aud,
        "sub": claims.sub.to_string(),
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.nbf,
        "jti": claims.jti.to_string(),
    });
    if let Some(c) = &claims.client_id {
        body["client_id"] = c.clone().into();
    }
    if let Some(p) = &claims.product {
        body["product"] = p.clone().into();
    }
    if let Some(a) = &claims.product_access {
        body["product_access"] = a.clone().into();
    }
    if claims.scope.as_deref() == Some(SERVICE_SCOPE) {
        body["scope"] = SERVICE_SCOPE.into();
        return Ok(body);
    }
    let (Some(tenant_id), Some(session_id)) = (claims.tid, claims.sid) else {
        // A platform admin's token: not a product's business.
        return Ok(inactive());
    };
    let user_id = claims.sub;
    let key = SessionKey {
        tenant_id,
        user_id,
        session_id,
    };
    let session = match sessions.get(key) {
        Some(s) => Some(s),
        None => {
            let s = state
                .db
                .tenant_tx(tenant_id, move |tx| {
                    SessionRow::state(tx, session_id, user_id).scope_boxed()
                })
                .await?;
            if let Some(s) = &s {
                sessions.put(key, s.clone());
            }
            s
        }
    };
    let live = session
        .is_some_and(|s| s.session_usable(chrono::Utc::now()) && s.tenant_status == "active");
    if !live {
        return Ok(inactive());
    }
    body["tid"] = tenant_id.to_string().into();
    body["sid"] = session_id.to_string().into();
    Ok(body)
}

async fn refresh_token(
    state: &SignIn,
    client: &crate::db::models::OAuthClientRow,
    token: &str,
) -> AppResult<Value> {
    let Some(tenant_id) = opaque::tenant_of(token) else {
        return Ok(inactive());
    };
    let hash = opaque::hash(token);
    let info = state
        .db
        .tenant_tx(tenant_id, move |tx| {
            async move { ClientRefreshTokens::info(tx, &hash).await }.scope_boxed()
        })
        .await?;
    let Some(info) = info else {
        return Ok(inactive());
    };
    let now = chrono::Utc::now();
    if info.client_id != Some(client.id)
        || info.used_at.is_some()
        || info.revoked_at.is_some()
        || info.expires_at <= now
    {
        return Ok(inactive());
    }
    Ok(json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": client.client_id(),
        "sub": info.user_id.to_string(),
        "tid": tenant_id.to_string(),
        "sid": info.session_id.to_string(),
        "exp": info.expires_at.timestamp(),
    }))
}

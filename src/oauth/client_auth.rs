//! Client authentication at the token, revocation and introspection endpoints (RFC 6749
//! §2.3.1): `client_secret_basic` (HTTP Basic, both parts form-urlencoded), `client_secret_post`
//! (`client_id` and `client_secret` in the body), or `none` for public clients, which only
//! name themselves with `client_id` (PKCE then proves the code exchange). A client must use the
//! method it was registered with; one method per request.

use actix_web::HttpRequest;
use base64::{Engine, engine::general_purpose::STANDARD};
use uuid::Uuid;

use crate::{
    auth::opaque,
    db::{Db, ScopedFutureExt, SystemReason, models::OAuthClientRow},
    oauth::{client_cache::ClientCache, error::OAuthError, form::Params},
};

/// The credentials a request presented.
#[derive(Debug, PartialEq, Eq)]
enum Presented {
    Basic { id: String, secret: String },
    Post { id: String, secret: String },
    IdOnly { id: String },
}

fn form_decode(part: &str) -> String {
    url::form_urlencoded::parse(format!("x={part}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn presented(req: &HttpRequest, params: &Params) -> Result<Presented, OAuthError> {
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        });
    let form_secret = params.get("client_secret");
    if let Some(encoded) = basic {
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: HTTP Basic or client_secret in the body",
            ));
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| OAuthError::invalid_client("malformed HTTP Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client("malformed HTTP Basic credentials"))?;
        let (id, secret) = (form_decode(id), form_decode(secret));
        if let Some(body_id) = params.get("client_id")
            && body_id != id
        {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the authenticated client",
            ));
        }
        return Ok(Presented::Basic { id, secret });
    }
    let id = params
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_client("client authentication is missing"))?
        .to_owned();
    Ok(match form_secret {
        Some(secret) => Presented::Post {
            id,
            secret: secret.to_owned(),
        },
        None => Presented::IdOnly { id },
    })
}

/// The client a request authenticated as; every failure is `invalid_client`.
pub async fn authenticate(
    db: &Db,
    clients: &ClientCache,
    req: &HttpRequest,
    params: &Params,
) -> Result<OAuthClientRow, OAuthError> {
    let presented = presented(req, params)?;
    let id = match &presented {
        Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::IdOnly { id } => id,
    };
    let unknown = || OAuthError::invalid_client("unknown client or wrong secret");
    let uuid = Uuid::try_parse(id).map_err(|_| unknown())?;
    let client = find(db, clients, uuid).await?.ok_or_else(unknown)?;
    let ok = match (&presented, client.token_endpoint_auth_method.as_str()) {
        (Presented::Basic { secret, .. }, "client_secret_basic")
        | (Presented::Post { secret, .. }, "client_secret_post") => client
            .secret_hash
            .as_deref()
            .is_some_and(|h| h == opaque::hash(secret).as_slice()),
        (Presented::IdOnly { .. }, "none") => client.public,
        _ => false,
    };
    if !ok {
        return Err(unknown());
    }
    Ok(client)
}

/// A client by its id (the catalog, read in the authentication scope).
/// Served from this replica's [`ClientCache`].
pub async fn find(
    db: &Db,
    clients: &ClientCache,
    id: Uuid,
) -> Result<Option<OAuthClientRow>, OAuthError> {
    if let Some(cached) = clients.get(id) {
        return Ok(Some((*cached).clone()));
    }
    let found = db
        .system_tx(SystemReason::Authentication, move |tx| {
            OAuthClientRow::find(tx, id).scope_boxed()
        })
        .await?;
    Ok(found.map(|row| (*clients.put(row)).clone()))
}

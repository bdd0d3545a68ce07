//! The products' OAuth clients, managed by platform admins (GraphQL) and operators (the CLI):
//! create (the secret shown once), update, rotate the secret, delete. Every change is in the
//! platform audit log, in the same system transaction.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::opaque,
    db::{
        SystemTx,
        audit::AuditEvent,
        models::{OAuthClientRow, ProductRow},
    },
    domain::{Action, RedirectUri},
    error::{AppError, AppResult},
    invalidation::Invalidation,
    ops::{Done, Effect},
};

/// The OAuth clients, every product's or one product's (a platform admin's read of the
/// catalog; not audited, like the other catalog reads).
pub async fn list(
    tx: &mut SystemTx,
    product_id: Option<&str>,
) -> AppResult<Done<Vec<OAuthClientRow>>> {
    Ok(Done::unaudited(OAuthClientRow::list(tx, product_id).await?))
}

/// The scopes the hub knows; a client may be allowed any of them.
pub const KNOWN_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// How a client authenticates at the token endpoint (RFC 7591 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// Public clients: no secret, PKCE only.
    None,
}

impl TokenAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenAuthMethod::ClientSecretPost => "client_secret_post",
            TokenAuthMethod::None => "none",
        }
    }

    pub fn from_db(s: &str) -> AppResult<TokenAuthMethod> {
        match s {
            "client_secret_basic" => Ok(TokenAuthMethod::ClientSecretBasic),
            "client_secret_post" => Ok(TokenAuthMethod::ClientSecretPost),
            "none" => Ok(TokenAuthMethod::None),
            other => Err(AppError::internal(anyhow::anyhow!(
                "unknown token_endpoint_auth_method {other}"
            ))),
        }
    }
}

/// A new client, validated.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub product_id: String,
    pub public: bool,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub backchannel_logout_uri: Option<RedirectUri>,
    pub allowed_scopes: Vec<String>,
    /// For confidential clients: basic (the default) or post. Public clients: none.
    pub auth_method: TokenAuthMethod,
}

/// Checks raw input into a [`NewClient`]; the errors name the GraphQL input fields.
pub fn parse_new(
    product_id: &str,
    public: bool,
    redirect_uris: &[String],
    post_logout_redirect_uris: &[String],
    backchannel_logout_uri: Option<&str>,
    allowed_scopes: Option<&[String]>,
    auth_method: Option<TokenAuthMethod>,
) -> AppResult<NewClient> {
    let auth_method = match (public, auth_method) {
        (true, None | Some(TokenAuthMethod::None)) => TokenAuthMethod::None,
        (true, Some(_)) => {
            return Err(AppError::bad_input(
                "tokenEndpointAuthMethod",
                "a public client has no secret: its tokenEndpointAuthMethod is NONE",
            ));
        }
        (false, None) => TokenAuthMethod::ClientSecretBasic,
        (false, Some(TokenAuthMethod::None)) => {
            return Err(AppError::bad_input(
                "tokenEndpointAuthMethod",
                "a confidential client authenticates with its secret: CLIENT_SECRET_BASIC or CLIENT_SECRET_POST",
            ));
        }
        (false, Some(m)) => m,
    };
    Ok(NewClient {
        product_id: product_id.trim().to_owned(),
        public,
        redirect_uris: parse_uris("redirectUris", redirect_uris, true)?,
        post_logout_redirect_uris: parse_uris(
            "postLogoutRedirectUris",
            post_logout_redirect_uris,
            false,
        )?,
        backchannel_logout_uri: backchannel_logout_uri
            .map(|u| RedirectUri::parse("backchannelLogoutUri", u))
            .transpose()?,
        allowed_scopes: parse_scopes(allowed_scopes)?,
        auth_method,
    })
}

/// URIs of one kind: each checked, no duplicates, at least one when `required`.
pub fn parse_uris(field: &str, raw: &[String], required: bool) -> AppResult<Vec<RedirectUri>> {
    if required && raw.is_empty() {
        return Err(AppError::bad_input(
            field,
            format!("{field} needs at least one URI"),
        ));
    }
    if raw.len() > 20 {
        return Err(AppError::bad_input(
            field,
            format!("{field}: at most 20 URIs"),
        ));
    }
    let mut out: Vec<RedirectUri> = Vec::new();
    for r in raw {
        let uri = RedirectUri::parse(field, r)?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

/// Allowed scopes: known ones only; None means all of them. `openid` is always allowed.
pub fn parse_scopes(raw: Option<&[String]>) -> AppResult<Vec<String>> {
    let Some(raw) = raw else {
        return Ok(KNOWN_SCOPES.iter().map(|s| (*s).to_owned()).collect());
    };
    let mut out = vec!["openid".to_owned()];
    for s in raw {
        let s = s.trim();
        if !KNOWN_SCOPES.contains(&s) {
            return Err(AppError::bad_input(
                "allowedScopes",
                format!(
                    "unknown scope {s:?}; the hub knows {}",
                    KNOWN_SCOPES.join(", ")
                ),
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

/// A client and, when it was just created or its secret rotated, its secret (shown once).
pub struct ClientWithSecret {
    pub client: OAuthClientRow,
    pub secret: Option<String>,
}

/// A fresh client secret and its hash.
fn new_secret() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let secret = format!("hubcs_{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = opaque::hash(&secret);
    (secret, hash)
}

fn strings(uris: Vec<RedirectUri>) -> Vec<Option<String>> {
    uris.into_iter().map(|u| Some(u.into_string())).collect()
}

/// Registers a client of an existing product.
pub async fn create(tx: &mut SystemTx, input: NewClient) -> AppResult<Done<ClientWithSecret>> {
    if ProductRow::find(tx, &input.product_id).await?.is_none() {
        return Err(AppError::bad_input(
            "productId",
            "no product with this id in the catalog",
        ));
    }
    let (secret, hash) = if input.public {
        (None, None)
    } else {
        let (s, h) = new_secret();
        (Some(s), Some(h))
    };
    let now = Utc::now();
    let row = OAuthClientRow {
        id: Uuid::new_v4(),
        product_id: input.product_id,
        public: input.public,
        secret_hash: hash,
        redirect_uris: strings(input.redirect_uris),
        post_logout_redirect_uris: strings(input.post_logout_redirect_uris),
        backchannel_logout_uri: input.backchannel_logout_uri.map(RedirectUri::into_string),
        allowed_scopes: input.allowed_scopes.into_iter().map(Some).collect(),
        token_endpoint_auth_method: input.auth_method.as_str().to_owned(),
        created_at: now,
        updated_at: now,
    };
    OAuthClientRow::insert(tx, &row).await?;
    let event = AuditEvent::new(Action::PlatformOAuthClientCreated)
        .target("oauth_client", row.id)
        .details(json!({
            "product_id": row.product_id,
            "public": row.public,
            "redirect_uris": row.redirect_uris().collect::<Vec<_>>(),
        }));
    Ok(Done::audited(
        ClientWithSecret {
            client: row,
            secret,
        },
        event,
    ))
}

/// What an update changes; None leaves a value as it is.
#[derive(Debug, Default)]
pub struct ClientChanges {
    pub redirect_uris: Option<Vec<RedirectUri>>,
    pub post_logout_redirect_uris: Option<Vec<RedirectUri>>,
    /// Some(None) removes the back-channel logout URI.
    pub backchannel_logout_uri: Option<Option<RedirectUri>>,
    pub allowed_scopes: Option<Vec<String>>,
}

async fn existing(tx: &mut SystemTx, id: Uuid) -> AppResult<OAuthClientRow> {
    OAuthClientRow::find(tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("OAuth client"))
}

pub async fn update(
    tx: &mut SystemTx,
    id: Uuid,
    changes: ClientChanges,
) -> AppResult<Done<OAuthClientRow>> {
    let mut row = existing(tx, id).await?;
    if let Some(uris) = changes.redirect_uris {
        row.redirect_uris = strings(uris);
    }
    if let Some(uris) = changes.post_logout_redirect_uris {
        row.post_logout_redirect_uris = strings(uris);
    }
    if let Some(uri) = changes.backchannel_logout_uri {
        row.backchannel_logout_uri = uri.map(RedirectUri::into_string);
    }
    if let Some(scopes) = changes.allowed_scopes {
        row.allowed_scopes = scopes.into_iter().map(Some).collect();
    }
    row.updated_at = Utc::now();
    OAuthClientRow::update(tx, &row).await?;
    let event = AuditEvent::new(Action::PlatformOAuthClientUpdated)
        .target("oauth_client", row.id)
        .details(json!({
            "redirect_uris": row.redirect_uris().collect::<Vec<_>>(),
            "post_logout_redirect_uris": row.post_logout_redirect_uris().collect::<Vec<_>>(),
            "backchannel_logout_uri": row.backchannel_logout_uri,
            "allowed_scopes": row.allowed_scopes().collect::<Vec<_>>(),
        }));
    let forget = forget(row.id);
    Ok(Done::audited(row, event).and_effect(forget))
}

/// A new secret for a confidential client; the old one stops working at once.
pub async fn rotate_secret(tx: &mut SystemTx, id: Uuid) -> AppResult<Done<ClientWithSecret>> {
    let mut row = existing(tx, id).await?;
    if row.public {
        return Err(AppError::bad_input(
            "id",
            "a public client has no secret to rotate",
        ));
    }
    let (secret, hash) = new_secret();
    row.secret_hash = Some(hash);
    row.updated_at = Utc::now();
    OAuthClientRow::update(tx, &row).await?;
    let event =
        AuditEvent::new(Action::PlatformOAuthClientSecretRotated).target("oauth_client", row.id);
    let forget = forget(row.id);
    Ok(Done::audited(
        ClientWithSecret {
            client: row,
            secret: Some(secret),
        },
        event,
    )
    .and_effect(forget))
}

/// Deletes a client: its codes, refresh tokens and session records go with it.
pub async fn delete(tx: &mut SystemTx, id: Uuid) -> AppResult<Done<Uuid>> {
    let row = existing(tx, id).await?;
    OAuthClientRow::delete(tx, id).await?;
    let event = AuditEvent::new(Action::PlatformOAuthClientDeleted)
        .target("oauth_client", id)
        .details(json!({ "product_id": row.product_id }));
    Ok(Done::audited(id, event).and_effect(forget(id)))
}

/// After a change to client `id`: the replicas' client caches drop it (`oauth::client_cache`).
fn forget(id: Uuid) -> Effect {
    Effect::Invalidate(Invalidation::OAuthClient { id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_clients_have_no_secret_method_and_confidential_ones_need_one() {
        let uris = ["https://crm.example.com/cb".to_owned()];
        let public = parse_new("crm", true, &uris, &[], None, None, None).unwrap();
        assert_eq!(public.auth_method, TokenAuthMethod::None);
        let conf = parse_new("crm", false, &uris, &[], None, None, None).unwrap();
        assert_eq!(conf.auth_method, TokenAuthMethod::ClientSecretBasic);
        assert!(
            parse_new(
                "crm",
                true,
                &uris,
                &[],
                None,
                None,
                Some(TokenAuthMethod::ClientSecretPost)
            )
            .is_err()
        );
        assert!(
            parse_new(
                "crm",
                false,
                &uris,
                &[],
                None,
                None,
                Some(TokenAuthMethod::None)
            )
            .is_err()
        );
        assert!(parse_new("crm", false, &[], &[], None, None, None).is_err());
        assert!(
            parse_new(
                "crm",
                false,
                &uris,
                &[],
                None,
                Some(&["admin".to_owned()]),
                None
            )
            .is_err()
        );
    }
}

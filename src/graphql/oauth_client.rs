//! The products' OAuth clients, for platform admins: register one (its secret is in the answer
//! once, never again), list, update, rotate the secret, delete. Thin resolvers over
//! `ops::oauth_clients`.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{ScopedFutureExt, models::OAuthClientRow},
    error::AppError,
    graphql::context,
    ops::oauth_clients::{self, ClientChanges, TokenAuthMethod},
};

/// How a client authenticates at `/oauth/token`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum OAuthTokenAuthMethod {
    /// HTTP Basic with client id and secret (the default of confidential clients).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// Public clients: no secret; PKCE proves the exchange.
    None,
}

impl From<OAuthTokenAuthMethod> for TokenAuthMethod {
    fn from(m: OAuthTokenAuthMethod) -> Self {
        match m {
            OAuthTokenAuthMethod::ClientSecretBasic => TokenAuthMethod::ClientSecretBasic,
            OAuthTokenAuthMethod::ClientSecretPost => TokenAuthMethod::ClientSecretPost,
            OAuthTokenAuthMethod::None => TokenAuthMethod::None,
        }
    }
}

impl From<TokenAuthMethod> for OAuthTokenAuthMethod {
    fn from(m: TokenAuthMethod) -> Self {
        match m {
            TokenAuthMethod::ClientSecretBasic => OAuthTokenAuthMethod::ClientSecretBasic,
            TokenAuthMethod::ClientSecretPost => OAuthTokenAuthMethod::ClientSecretPost,
            TokenAuthMethod::None => OAuthTokenAuthMethod::None,
        }
    }
}

pub struct OAuthClient(pub OAuthClientRow);

/// A product app's OAuth 2.0 / OpenID Connect client registration.
#[Object]
impl OAuthClient {
    /// The `client_id`.
    async fn client_id(&self) -> ID {
        ID(self.0.client_id())
    }

    async fn product_id(&self) -> ID {
        ID(self.0.product_id.clone())
    }

    /// A public client (browser or native app) has no secret and proves exchanges with PKCE.
    async fn public(&self) -> bool {
        self.0.public
    }

    /// Exact redirect URIs.
    async fn redirect_uris(&self) -> Vec<&str> {
        self.0.redirect_uris().collect()
    }

    async fn post_logout_redirect_uris(&self) -> Vec<&str> {
        self.0.post_logout_redirect_uris().collect()
    }

    /// Where the hub POSTs back-channel logout tokens.
    async fn backchannel_logout_uri(&self) -> Option<&str> {
        self.0.backchannel_logout_uri.as_deref()
    }

    async fn allowed_scopes(&self) -> Vec<&str> {
        self.0.allowed_scopes().collect()
    }

    async fn token_endpoint_auth_method(&self) -> Result<OAuthTokenAuthMethod, AppError> {
        Ok(TokenAuthMethod::from_db(&self.0.token_endpoint_auth_method)?.into())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject)]
pub struct CreateOAuthClientInput {
    /// The product the client signs users in to.
    pub product_id: ID,
    /// True for browser and native apps that cannot keep a secret. Default false.
    pub public: Option<bool>,
    /// Exact redirect URIs: https, or http on 127.0.0.1 / [::1] / localhost only; no fragment,
    /// no wildcard, no user name.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub backchannel_logout_uri: Option<String>,
    /// Of openid, profile, email, offline_access; default all of them.
    pub allowed_scopes: Option<Vec<String>>,
    /// Default CLIENT_SECRET_BASIC for confidential clients, NONE for public ones.
    pub token_endpoint_auth_method: Option<OAuthTokenAuthMethod>,
}

#[derive(InputObject)]
pub struct UpdateOAuthClientInput {
    pub client_id: ID,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// An empty string removes it.
    pub backchannel_logout_uri: Option<String>,
    pub allowed_scopes: Option<Vec<String>>,
}

/// A client with its secret: the only time the secret is shown.
#[derive(SimpleObject)]
pub struct OAuthClientWithSecretPayload {
    pub client: OAuthClient,
    /// The client secret (confidential clients): store it now; the hub keeps only its hash.
    pub client_secret: Option<String>,
}

#[derive(SimpleObject)]
pub struct OAuthClientPayload {
    pub client: OAuthClient,
}

#[derive(SimpleObject)]
pub struct DeleteOAuthClientPayload {
    pub deleted_client_id: ID,
}

fn client_id(id: &ID) -> Result<Uuid, AppError> {
    Uuid::try_parse(id.0.trim()).map_err(|_| AppError::not_found("OAuth client"))
}

#[derive(Default)]
pub struct OAuthClientQuery;

#[Object]
impl OAuthClientQuery {
    /// Platform admins: the OAuth clients, every product's or one product's.
    async fn oauth_clients(
        &self,
        ctx: &Context<'_>,
        product_id: Option<ID>,
    ) -> Result<Vec<OAuthClient>, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let product = product_id.map(|p| p.0);
        let rows = admin
            .run_system(|tx| oauth_clients::list(tx, product.as_deref()).scope_boxed())
            .await?;
        Ok(rows.into_iter().map(OAuthClient).collect())
    }
}

#[derive(Default)]
pub struct OAuthClientMutation;

#[Object]
impl OAuthClientMutation {
    /// Platform admins: registers a product's OAuth client. The answer holds its secret, once.
    async fn create_oauth_client(
        &self,
        ctx: &Context<'_>,
        input: CreateOAuthClientInput,
    ) -> Result<OAuthClientWithSecretPayload, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let new = oauth_clients::parse_new(
            &input.product_id.0,
            input.public.unwrap_or(false),
            &input.redirect_uris,
            input.post_logout_redirect_uris.as_deref().unwrap_or(&[]),
            input.backchannel_logout_uri.as_deref(),
            input.allowed_scopes.as_deref(),
            input.token_endpoint_auth_method.map(Into::into),
        )?;
        let created = admin
            .run_system(|tx| oauth_clients::create(tx, new).scope_boxed())
            .await?;
        Ok(OAuthClientWithSecretPayload {
            client: OAuthClient(created.client),
            client_secret: created.secret,
        })
    }

    /// Platform admins: changes a client's URIs or scopes.
    async fn update_oauth_client(
        &self,
        ctx: &Context<'_>,
        input: UpdateOAuthClientInput,
    ) -> Result<OAuthClientPayload, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let id = client_id(&input.client_id)?;
        let changes = ClientChanges {
            redirect_uris: input
                .redirect_uris
                .as_deref()
                .map(|u| oauth_clients::parse_uris("redirectUris", u, true))
                .transpose()?,
            post_logout_redirect_uris: input
                .post_logout_redirect_uris
                .as_deref()
                .map(|u| oauth_clients::parse_uris("postLogoutRedirectUris", u, false))
                .transpose()?,
            backchannel_logout_uri: input
                .backchannel_logout_uri
                .as_deref()
                .map(|u| match u.trim() {
                    "" => Ok(None),
                    u => crate::domain::RedirectUri::parse("backchannelLogoutUri", u).map(Some),
                })
                .transpose()?,
            allowed_scopes: input
                .allowed_scopes
                .as_deref()
                .map(|s| oauth_clients::parse_scopes(Some(s)))
                .transpose()?,
        };
        let row = admin
            .run_system(|tx| oauth_clients::update(tx, id, changes).scope_boxed())
            .await?;
        Ok(OAuthClientPayload {
            client: OAuthClient(row),
        })
    }

    /// Platform admins: a new secret for a confidential client (in the answer, once); the old
    /// one stops working at once.
    async fn rotate_oauth_client_secret(
        &self,
        ctx: &Context<'_>,
        client_id: ID,
    ) -> Result<OAuthClientWithSecretPayload, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let id = self::client_id(&client_id)?;
        let rotated = admin
            .run_system(|tx| oauth_clients::rotate_secret(tx, id).scope_boxed())
            .await?;
        Ok(OAuthClientWithSecretPayload {
            client: OAuthClient(rotated.client),
            client_secret: rotated.secret,
        })
    }

    /// Platform admins: deletes a client; its codes and refresh tokens stop working.
    async fn delete_oauth_client(
        &self,
        ctx: &Context<'_>,
        client_id: ID,
    ) -> Result<DeleteOAuthClientPayload, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let id = self::client_id(&client_id)?;
        let deleted = admin
            .run_system(|tx| oauth_clients::delete(tx, id).scope_boxed())
            .await?;
        Ok(DeleteOAuthClientPayload {
            deleted_client_id: ID(deleted.to_string()),
        })
    }
}

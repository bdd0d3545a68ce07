//! [`SignIn`]: the services the sign-in operations use, whichever door the sign-in came
//! through (the GraphQL mutations, the hosted pages, the OAuth endpoints), and the account
//! recovery beside them (password resets). Sessions
//! (`ops::sessions`), second factors (`ops::mfa`, `ops::passkeys`), OAuth tokens
//! (`ops::oauth_tokens`) and federated sign-ins (`ops::sso_sign_in`) take it. Built once by the
//! wiring; cloning it clones handles.

use std::sync::Arc;

use crate::{
    auth::{TokenIssuer, login_limiter::LoginLimiter},
    config::Settings,
    db::Db,
    invalidation::Invalidator,
    mail::reset_limits::ResetLimits,
    oauth::client_cache::ClientCache,
    ops::effects::Effects,
    ratelimit::RateLimits,
    secrets::SecretBox,
};

#[derive(Clone)]
pub struct SignIn {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// The signing keys and the token rules (`auth::jwt`).
    pub tokens: Arc<TokenIssuer>,
    /// Failed attempts per network and account (`auth::login_limiter`).
    pub login_limiter: Arc<LoginLimiter>,
    /// Sealing TOTP secrets and SSO client secrets (`secrets`).
    pub secrets: Arc<SecretBox>,
    /// Dropping this replica's cached sessions at once, before the announcement reaches the
    /// others (`invalidation`).
    pub invalidator: Arc<Invalidator>,
    /// What a sign-in leaves for after its commit (`ops::effects`).
    pub effects: Arc<Effects>,
    /// The registered OAuth clients, the products signed in to (`oauth::client_cache`).
    pub oauth_clients: Arc<ClientCache>,
    /// The anonymous allowance per network, which counts the starts anyone may make (passkey
    /// ceremonies, redirects to a tenant's identity provider) (`ratelimit`).
    pub rate_limits: Arc<RateLimits>,
    /// Outgoing HTTP to tenants' identity providers (`sso::oidc::client`).
    pub sso_http: reqwest::Client,
    /// Password-reset requests per network and account (`mail::reset_limits`).
    pub reset_limits: Arc<ResetLimits>,
}

impl SignIn {
    /// The hub's public base URL without a trailing slash (`Settings::public_url`).
    pub fn public_url(&self) -> &str {
        self.settings.public_url()
    }
}

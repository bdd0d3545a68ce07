//! OpenID Connect toward a tenant's identity provider (the `openidconnect` crate): the HTTP
//! client under the outbound rules of `outbound` (timeouts, no redirects, no proxy, public
//! addresses only unless HUB_SSO_ALLOW_PRIVATE or HUB_WEBHOOK_ALLOW_PRIVATE), and discovery.

use std::{sync::Arc, time::Duration};

use openidconnect::{IssuerUrl, core::CoreProviderMetadata};

use crate::{
    config::Settings,
    error::{AppError, AppResult, Reason},
    outbound::{self, GuardedResolver},
};

/// Whether identity providers may live on private addresses and plain http.
pub fn allow_private(settings: &Settings) -> bool {
    settings.sso_allow_private || settings.webhook_allow_private
}

/// The client for identity providers: the guarded resolver, no proxy, no redirects (OpenID
/// Connect forbids following them toward the token endpoint), HUB_SSO_HTTP_TIMEOUT_MS.
pub fn client(settings: &Settings) -> reqwest::Result<reqwest::Client> {
    let timeout = Duration::from_millis(settings.sso_http_timeout_ms.max(1));
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: allow_private(settings),
        }))
        .build()
}

/// The issuer URL, checked against the outbound rules.
pub async fn issuer_url(raw: &str, allow_private: bool) -> AppResult<IssuerUrl> {
    let trimmed = raw.trim();
    let url = url::Url::parse(trimmed)
        .map_err(|_| AppError::bad_input("issuer", "issuer must be an absolute URL"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(AppError::bad_input(
            "issuer",
            "issuer must not have a query or fragment",
        ));
    }
    outbound::check(&url, allow_private)
        .await
        .map_err(|r| AppError::bad_input("issuer", format!("issuer: {r}")))?;
    IssuerUrl::new(trimmed.to_owned())
        .map_err(|_| AppError::bad_input("issuer", "issuer must be an absolute URL"))
}

/// Reads the provider's discovery document (`<issuer>/.well-known/openid-configuration`),
/// checking that it names the same issuer, and its keys.
pub async fn discover(
    http: &reqwest::Client,
    issuer: IssuerUrl,
) -> AppResult<CoreProviderMetadata> {
    CoreProviderMetadata::discover_async(issuer.clone(), http)
        .await
        .map_err(|e| {
            tracing::info!(issuer = %issuer.as_str(), error = %error_chain(&e), "OpenID discovery failed");
            AppError::bad_input(
                "issuer",
                format!(
                    "the provider's OpenID configuration could not be read at {}/.well-known/openid-configuration ({})",
                    issuer.as_str().trim_end_matches('/'),
                    short_reason(&e)
                ),
            )
            .with_reason(Reason::ProviderDiscoveryFailed)
        })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// What to tell the admin, without internal detail.
fn short_reason<E: std::error::Error + 'static>(
    e: &openidconnect::DiscoveryError<E>,
) -> &'static str {
    use openidconnect::DiscoveryError;
    match e {
        DiscoveryError::Request(_) => "no answer in time, or the connection failed",
        DiscoveryError::Response(_, _, _) => "the server answered with an error",
        DiscoveryError::Parse(_) => "the document is not valid OpenID provider metadata",
        DiscoveryError::Validation(_) => "the document names another issuer",
        _ => "unusable answer",
    }
}

/// Why a sign-in through a tenant's provider did not go through: each has a stable code (in the
/// audit log's `sso.sign_in_failed` and the logs) and a page for the person (`web::sso`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoFailure {
    /// The callback's `state` is unknown, used already, expired, or from another browser.
    StateInvalid,
    /// The provider is gone (removed by the tenant's admin meanwhile).
    ProviderRemoved,
    /// No answer from the provider in time (discovery, keys or the token endpoint).
    ProviderUnreachable,
    /// The provider answered the sign-in with an error (`error=access_denied`, …).
    ProviderError(String),
    /// The provider refused the hub's client credentials (a wrong client secret).
    ClientRejected,
    /// The provider's answer was not a usable token response.
    TokenResponseInvalid,
    /// The ID token failed a check: signature, issuer, audience, azp, expiry, iat or nonce.
    IdTokenInvalid(&'static str),
    /// No email in the configured claim.
    EmailMissing,
    /// The provider did not say the email is verified.
    EmailUnverified,
    /// The email's domain is not a verified domain of this tenant served by this provider.
    EmailOutsideDomains,
    /// No user has this identity or email, and just-in-time provisioning is off.
    NoAccount,
    /// The user exists but is not active.
    AccountInactive,
    /// The user is linked to another identity at this provider.
    IdentityConflict,
    /// Just-in-time provisioning would exceed the tenant's user quota.
    TenantFull,
    /// The tenant is not active.
    TenantInactive,
}

impl SsoFailure {
    /// The stable code.
    pub fn code(&self) -> String {
        match self {
            SsoFailure::StateInvalid => "state_invalid".into(),
            SsoFailure::ProviderRemoved => "provider_removed".into(),
            SsoFailure::ProviderUnreachable => "provider_unreachable".into(),
            SsoFailure::ProviderError(e) => format!("provider_error:{e}"),
            SsoFailure::ClientRejected => "client_rejected".into(),
            SsoFailure::TokenResponseInvalid => "token_response_invalid".into(),
            SsoFailure::IdTokenInvalid(what) => format!("id_token_invalid:{what}"),
            SsoFailure::EmailMissing => "email_missing".into(),
            SsoFailure::EmailUnverified => "email_unverified".into(),
            SsoFailure::EmailOutsideDomains => "email_outside_domains".into(),
            SsoFailure::NoAccount => "no_account".into(),
            SsoFailure::AccountInactive => "account_inactive".into(),
            SsoFailure::IdentityConflict => "identity_conflict".into(),
            SsoFailure::TenantFull => "tenant_full".into(),
            SsoFailure::TenantInactive => "tenant_inactive".into(),
        }
    }
}

/// Where to send the browser to sign in at the provider, and what the callback needs to keep.
pub struct AuthorizationStart {
    pub url: url::Url,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The authorization request (code flow, PKCE S256, nonce, the given `state`) toward a
/// provider whose metadata was just discovered.
pub fn authorization_start(
    metadata: CoreProviderMetadata,
    client_id: &str,
    redirect_uri: &str,
    scopes: &str,
    state: String,
    login_hint: Option<&str>,
) -> AppResult<AuthorizationStart> {
    use openidconnect::{
        ClientId, CsrfToken, LoginHint, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
        core::{CoreAuthenticationFlow, CoreClient},
    };
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.into()), None)
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_owned()).map_err(AppError::internal)?,
            );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in scopes.split_whitespace().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.to_owned()));
    }
    if let Some(hint) = login_hint {
        request = request.set_login_hint(LoginHint::new(hint.to_owned()));
    }
    let (url, _, nonce) = request.url();
    Ok(AuthorizationStart {
        url,
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// What a provider said about the person, once its ID token passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    /// The `sub` claim.
    pub subject: String,
    /// Every claim of the ID token (the configured email and groups claims are read from it).
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// A provider's client for one callback.
pub struct Exchange<'a> {
    pub http: &'a reqwest::Client,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: String,
    pub redirect_uri: &'a str,
    pub code: String,
    pub pkce_verifier: String,
    pub nonce: String,
}

/// How far an ID token's `iat` may lie in the past (it was issued for the code just
/// exchanged) or in the future (clock skew).
const IAT_MAX_AGE_SECS: i64 = 600;
const IAT_MAX_SKEW_SECS: i64 = 60;

/// Exchanges the code (with the PKCE verifier and the client secret) and checks the ID token
/// completely: its signature with the provider's current keys (discovered again now, so a
/// rotated key is picked up), `iss`, `aud` (no untrusted extra audience), `azp` (must be this
/// client when present, and present when there are several audiences), `exp`, `iat` and
/// `nonce`.
pub async fn exchange(ex: Exchange<'_>) -> Result<VerifiedIdentity, SsoFailure> {
    use openidconnect::{
        AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, Nonce,
        PkceCodeVerifier, RedirectUrl, RequestTokenError, TokenResponse,
        core::{CoreClient, CoreErrorResponseType, CoreJwsSigningAlgorithm},
    };
    let issuer = IssuerUrl::new(ex.issuer.to_owned()).map_err(|_| SsoFailure::ProviderRemoved)?;
    let metadata = CoreProviderMetadata::discover_async(issuer, ex.http)
        .await
        .map_err(|e| {
            tracing::info!(issuer = ex.issuer, error = %error_chain(&e), "SSO: discovery failed");
            SsoFailure::ProviderUnreachable
        })?;
    let redirect =
        RedirectUrl::new(ex.redirect_uri.to_owned()).map_err(|_| SsoFailure::ProviderRemoved)?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(ex.client_id.to_owned()),
        Some(ClientSecret::new(ex.client_secret)),
    )
    .set_redirect_uri(redirect);
    let response = client
        .exchange_code(AuthorizationCode::new(ex.code))
        .map_err(|_| SsoFailure::TokenResponseInvalid)?
        .set_pkce_verifier(PkceCodeVerifier::new(ex.pkce_verifier))
        .request_async(ex.http)
        .await
        .map_err(|e| {
            tracing::info!(issuer = ex.issuer, error = %error_chain(&e), "SSO: code exchange failed");
            match e {
                RequestTokenError::ServerResponse(r)
                    if *r.error() == CoreErrorResponseType::InvalidClient
                        || *r.error() == CoreErrorResponseType::UnauthorizedClient =>
                {
                    SsoFailure::ClientRejected
                }
                RequestTokenError::ServerResponse(r) => {
                    SsoFailure::ProviderError(r.error().as_ref().to_owned())
                }
                RequestTokenError::Request(_) => SsoFailure::ProviderUnreachable,
                _ => SsoFailure::TokenResponseInvalid,
            }
        })?;
    let id_token = response
        .id_token()
        .ok_or(SsoFailure::TokenResponseInvalid)?;
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
            CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::EcdsaP384Sha384,
            CoreJwsSigningAlgorithm::EdDsa,
        ])
        .set_issue_time_verifier_fn(|iat| {
            let age = (chrono::Utc::now() - iat).num_seconds();
            if age > IAT_MAX_AGE_SECS {
                Err(format!("issued {age} s ago"))
            } else if age < -IAT_MAX_SKEW_SECS {
                Err("issued in the future".to_owned())
            } else {
                Ok(())
            }
        });
    let nonce = Nonce::new(ex.nonce);
    let claims = id_token.claims(&verifier, &nonce).map_err(|e| {
        tracing::info!(issuer = ex.issuer, error = %e, "SSO: ID token refused");
        SsoFailure::IdTokenInvalid(match e {
            ClaimsVerificationError::SignatureVerification(_) => "signature",
            ClaimsVerificationError::InvalidIssuer(_) => "issuer",
            ClaimsVerificationError::InvalidAudience(_) => "audience",
            ClaimsVerificationError::Expired(_) => "expired",
            ClaimsVerificationError::InvalidNonce(_) => "nonce",
            _ => "other",
        })
    })?;
    let several = claims.audiences().len() > 1;
    match claims.authorized_party() {
        Some(azp) if azp.as_str() != ex.client_id => {
            return Err(SsoFailure::IdTokenInvalid("azp"));
        }
        None if several => return Err(SsoFailure::IdTokenInvalid("azp")),
        _ => {}
    }
    let subject = claims.subject().as_str().to_owned();
    // The checked token's own payload, for the configured claims (any name, any shape).
    let raw = id_token.to_string();
    let payload = raw
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| match v {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        })
        .ok_or(SsoFailure::IdTokenInvalid("other"))?;
    Ok(VerifiedIdentity {
        subject,
        claims: payload,
    })
}

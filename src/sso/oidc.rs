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

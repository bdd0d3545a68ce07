//! The hosted pages' side of signing in through a tenant's identity provider: home-realm
//! discovery for `POST /login/identify` ([`home_realm`]: an email of a domain a provider
//! serves is sent there, with state, nonce and PKCE kept server-side and bound to the browser
//! by the `__Host-hub_sso` cookie), and `GET /sso/callback` ([`callback`]: the code exchanged,
//! the ID token checked, then `ops::sso_sign_in::complete` and the browser session). Every
//! failure is a clear page with a stable reference code; nothing leaves the hub's own paths
//! except the redirect to the tenant's provider.

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite},
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    auth::opaque,
    db::{ScopedFutureExt, audit::Actor},
    ops::sign_in::SignIn,
    ops::{
        self, identity_providers,
        sso_sign_in::{self, Pending},
    },
    request::RequestMeta,
    sso::oidc::{self, SsoFailure},
    web::{
        branding,
        browser_session::{self},
        cookies,
        page::{self, Chrome, TenantChrome},
        redirects::{LoginHints, login_url, safe_return_to},
    },
};

type State = web::Data<SignIn>;

/// The cookie that binds a sign-in at the provider to the browser that started it.
pub const BINDING_COOKIE: &str = "__Host-hub_sso";

/// What home-realm discovery decided for an email.
pub enum HomeRealm {
    /// Not a federated domain: the password form as usual.
    Password,
    /// The provider cannot be reached and the tenant does not enforce SSO: the password form of
    /// this tenant, with this notice.
    PasswordWithNotice { tenant_id: Uuid, notice: String },
    /// The answer to send: the redirect to the provider, or a page.
    Answer(HttpResponse),
}

const UNREACHABLE: &str = "Your organisation's identity provider could not be reached just now.";

/// Home-realm discovery: when the email's domain is a verified domain of a tenant whose
/// identity provider serves it (and the sign-in names no other tenant), the browser goes to
/// that provider (authorization code + PKCE + nonce + state).
pub async fn home_realm(
    req: &HttpRequest,
    state: &SignIn,
    email: &str,
    named_tenant: Option<&str>,
    return_to: &str,
) -> HomeRealm {
    let Some(domain) = email
        .trim()
        .rsplit_once('@')
        .map(|(_, d)| d.to_lowercase())
        .filter(|d| !d.is_empty())
    else {
        return HomeRealm::Password;
    };
    let realm = match sso_sign_in::home_realm(&state.db, &domain).await {
        Ok(Some(realm)) => realm,
        Ok(None) => return HomeRealm::Password,
        Err(e) => return HomeRealm::Answer(page::for_error(&e, None)),
    };
    if let Some(key) = named_tenant {
        match ops::sessions::tenant_for_sign_in(state, key).await {
            Ok(Some(t)) if t.id == realm.tenant.id => {}
            _ => return HomeRealm::Password,
        }
    }
    let chrome = branding::chrome(&realm.tenant);
    // Each start reads the provider's metadata and keeps a pending sign-in: an anonymous
    // client's starts count in its IP's allowance (HUB_ANONYMOUS_REQUESTS_PER_MINUTE), so typed
    // emails cannot make the hub flood a tenant's provider or fill the table.
    let ip = RequestMeta::from_request(req, &state.settings.trusted_proxies).ip;
    let allowance = state.rate_limits.check_anonymous(&ip);
    if !allowance.allowed {
        tracing::info!(tenant_id = %realm.tenant.id, "SSO sign-in start refused: anonymous allowance spent");
        let refused = crate::error::AppError::rate_limited(allowance.reset_secs);
        return HomeRealm::Answer(page::for_error(&refused, Some(chrome)));
    }
    match start(state, &realm, email.trim(), return_to).await {
        Ok((location, binding)) => HomeRealm::Answer(
            page::with_headers(HttpResponse::SeeOther())
                .insert_header((header::LOCATION, location))
                .cookie(binding)
                .finish(),
        ),
        Err(failure) => {
            record(
                state,
                req,
                realm.tenant.id,
                Some(realm.provider.id),
                &failure,
                Some(email),
            )
            .await;
            if realm.provider.enforce_sso {
                HomeRealm::Answer(failure_page(&failure, Some(chrome), return_to))
            } else {
                HomeRealm::PasswordWithNotice {
                    tenant_id: realm.tenant.id,
                    notice: format!("{UNREACHABLE} You can sign in with your password instead."),
                }
            }
        }
    }
}

/// Discovers the provider (now, so an unreachable provider is told before the browser leaves)
/// and keeps the sign-in; returns the provider's authorization URL and the binding cookie.
async fn start(
    state: &SignIn,
    realm: &sso_sign_in::Realm,
    email: &str,
    return_to: &str,
) -> Result<(String, Cookie<'static>), SsoFailure> {
    let provider = &realm.provider;
    let issuer = openidconnect::IssuerUrl::new(provider.issuer.clone())
        .map_err(|_| SsoFailure::ProviderUnreachable)?;
    let metadata = oidc::discover(&state.sso_http, issuer)
        .await
        .map_err(|_| SsoFailure::ProviderUnreachable)?;
    let tenant_id = realm.tenant.id;
    let (state_token, state_hash) = opaque::generate(tenant_id);
    let (binding, browser_hash) = opaque::generate(tenant_id);
    let auth = oidc::authorization_start(
        metadata,
        &provider.client_id,
        &redirect_uri(state),
        &provider.scopes,
        state_token,
        Some(email),
    )
    .map_err(|e| {
        e.log_cause();
        SsoFailure::ProviderUnreachable
    })?;
    let pending = Pending {
        provider_id: provider.id,
        state_hash,
        browser_hash,
        nonce: auth.nonce,
        pkce_verifier: auth.pkce_verifier,
        return_to: safe_return_to(Some(return_to)),
    };
    ops::in_tenant(
        &state.db,
        tenant_id,
        crate::db::audit::AuditContext::system(),
        |tx| sso_sign_in::begin(tx, pending).scope_boxed(),
    )
    .await
    .map_err(|e| {
        e.log_cause();
        SsoFailure::ProviderUnreachable
    })?;
    let cookie = cookies::cookie(
        BINDING_COOKIE,
        binding,
        SameSite::Lax,
        cookies::Lifetime::Seconds(sso_sign_in::SIGN_IN_TTL_SECS),
    );
    Ok((auth.url.to_string(), cookie))
}

/// The redirect URI to register at a tenant's provider: `{HUB_PUBLIC_URL}/sso/callback`.
pub fn redirect_uri(state: &SignIn) -> String {
    format!("{}/sso/callback", state.public_url())
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/sso_failed.html")]
struct FailedPage {
    chrome: Chrome,
    message: String,
    code: String,
    again: String,
}

/// The person's page for a failure (never the provider's or the hub's internals).
fn failure_page(
    failure: &SsoFailure,
    tenant: Option<TenantChrome>,
    return_to: &str,
) -> HttpResponse {
    let (status, title, message): (StatusCode, &str, String) = match failure {
        SsoFailure::StateInvalid => (
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "This sign-in has expired, was already used, or was started in another browser. Start again from the sign-in page.".into(),
        ),
        SsoFailure::ProviderRemoved => (
            StatusCode::BAD_REQUEST,
            "Sign-in method removed",
            "Your organisation no longer signs in through this identity provider. Start again from the sign-in page.".into(),
        ),
        SsoFailure::ProviderUnreachable => (
            StatusCode::BAD_GATEWAY,
            "Identity provider unavailable",
            format!("{UNREACHABLE} Try again in a moment; your organisation requires signing in through it."),
        ),
        SsoFailure::ProviderError(e) if e == "access_denied" => (
            StatusCode::FORBIDDEN,
            "Sign-in cancelled",
            "Your organisation's identity provider did not sign you in (access was denied or the sign-in was cancelled).".into(),
        ),
        SsoFailure::ProviderError(_) => (
            StatusCode::BAD_GATEWAY,
            "Sign-in failed",
            "Your organisation's identity provider answered the sign-in with an error. Try again, or contact your administrator.".into(),
        ),
        SsoFailure::ClientRejected => (
            StatusCode::BAD_GATEWAY,
            "Sign-in failed",
            "Your organisation's identity provider refused this hub's client credentials. Your administrator needs to check the provider's client id and secret.".into(),
        ),
        SsoFailure::TokenResponseInvalid | SsoFailure::IdTokenInvalid(_) => (
            StatusCode::BAD_GATEWAY,
            "Sign-in failed",
            "The answer of your organisation's identity provider could not be verified, so you were not signed in. Try again, or contact your administrator.".into(),
        ),
        SsoFailure::EmailMissing => (
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "Your organisation's identity provider did not tell your email address.".into(),
        ),
        SsoFailure::EmailUnverified => (
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "Your organisation's identity provider has not verified your email address.".into(),
        ),
        SsoFailure::EmailOutsideDomains => (
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "Your email address is not of a domain this organisation signs in through this identity provider.".into(),
        ),
        SsoFailure::NoAccount => (
            StatusCode::FORBIDDEN,
            "No account",
            "You have no account in this organisation yet. Ask its administrator to invite you.".into(),
        ),
        SsoFailure::AccountInactive => (
            StatusCode::FORBIDDEN,
            "Account not active",
            "Your account in this organisation is not active. Contact its administrator.".into(),
        ),
        SsoFailure::IdentityConflict => (
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "Your account is linked to another identity at this provider. Contact your administrator.".into(),
        ),
        SsoFailure::TenantFull => (
            StatusCode::FORBIDDEN,
            "Organisation full",
            "Your organisation has reached its user limit, so no account could be created for you. Ask its administrator to free a seat or change the plan.".into(),
        ),
        SsoFailure::TenantInactive => (
            StatusCode::FORBIDDEN,
            "Organisation not available",
            "This organisation's account is not active. Contact its administrator.".into(),
        ),
    };
    let mut res = page::render(
        status,
        &FailedPage {
            chrome: Chrome::new(title, tenant),
            message,
            code: failure.code(),
            again: login_url(return_to, &LoginHints::default()),
        },
    );
    let _ = res.add_cookie(&binding_removal());
    res
}

/// A cookie that removes the binding cookie.
fn binding_removal() -> Cookie<'static> {
    cookies::removal(BINDING_COOKIE, SameSite::Lax)
}

/// Writes `sso.sign_in_failed` in the tenant's log (a failure to write it is logged only: the
/// person still gets the page).
async fn record(
    state: &SignIn,
    req: &HttpRequest,
    tenant_id: Uuid,
    provider_id: Option<Uuid>,
    failure: &SsoFailure,
    email: Option<&str>,
) {
    let meta = RequestMeta::from_request(req, &state.settings.trusted_proxies);
    let failure = failure.clone();
    let email = email.map(str::to_owned);
    tracing::info!(tenant_id = %tenant_id, reason = %failure.code(), "SSO sign-in failed");
    if let Err(e) = ops::in_tenant(
        &state.db,
        tenant_id,
        meta.audit(Actor::Anonymous),
        move |tx| {
            async move {
                    sso_sign_in::record_failure(tx, provider_id, &failure, email.as_deref()).await
                }
                .scope_boxed()
        },
    )
    .await
    {
        e.log_cause();
    }
}

/// `GET /sso/callback`: the provider sends the browser back here with `code` and `state` (or
/// `error`).
pub async fn callback(
    req: HttpRequest,
    state: State,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let Some(state_token) = query.state.as_deref() else {
        return failure_page(&SsoFailure::StateInvalid, None, "/");
    };
    let Some(tenant_id) = opaque::tenant_of(state_token) else {
        return failure_page(&SsoFailure::StateInvalid, None, "/");
    };
    let state_hash = opaque::hash(state_token);
    let browser_hash = req.cookie(BINDING_COOKIE).map(|c| opaque::hash(c.value()));
    let consumed = ops::in_tenant(
        &state.db,
        tenant_id,
        meta.audit(Actor::Anonymous),
        move |tx| {
            async move { sso_sign_in::consume(tx, &state_hash, browser_hash.as_deref()).await }
                .scope_boxed()
        },
    )
    .await;
    let (pending, provider) = match consumed {
        Ok(c) => match c.value {
            Ok(found) => found,
            Err(f) => return failure_page(&f, None, "/"),
        },
        Err(e) => return page::for_error(&e, None),
    };
    let return_to = pending.return_to.clone();
    let tenant = state
        .db
        .tenant_tx(tenant_id, |tx| {
            crate::db::models::TenantRow::current(tx, tenant_id).scope_boxed()
        })
        .await
        .ok();
    let chrome = tenant.as_ref().map(branding::chrome);
    let fail = |failure: SsoFailure, email: Option<String>| {
        let state = state.clone();
        let req = req.clone();
        let chrome = chrome.clone();
        let return_to = return_to.clone();
        async move {
            record(
                &state,
                &req,
                tenant_id,
                Some(provider.id),
                &failure,
                email.as_deref(),
            )
            .await;
            failure_page(&failure, chrome, &return_to)
        }
    };
    if let Some(error) = &query.error {
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return fail(SsoFailure::ProviderError(error), None).await;
    }
    let Some(code) = query.code.clone() else {
        return fail(SsoFailure::TokenResponseInvalid, None).await;
    };
    let secret = match state.secrets.open(
        tenant_id,
        &identity_providers::secret_name(provider.id),
        &provider.client_secret_ciphertext,
    ) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "SSO: the provider's client secret cannot be opened");
            return fail(SsoFailure::ClientRejected, None).await;
        }
    };
    let redirect = redirect_uri(&state);
    let identity = match oidc::exchange(oidc::Exchange {
        http: &state.sso_http,
        issuer: &provider.issuer,
        client_id: &provider.client_id,
        client_secret: secret,
        redirect_uri: &redirect,
        code,
        pkce_verifier: pending.pkce_verifier.clone(),
        nonce: pending.nonce.clone(),
    })
    .await
    {
        Ok(identity) => identity,
        Err(f) => return fail(f, None).await,
    };
    let email = identity
        .claims
        .get(&provider.email_claim)
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    // The browser's previous session (another account) ends with this sign-in.
    if let Ok(Some(previous)) = browser_session::current(&req, &state).await
        && let Err(e) = browser_session::end(&state, &meta, &previous, "replaced").await
    {
        return page::for_error(&e, chrome);
    }
    let (token, token_hash) = opaque::generate(tenant_id);
    let audit = meta.audit(Actor::Anonymous);
    let st: &SignIn = &state;
    let (p, i, m) = (&provider, &identity, &meta);
    let done = ops::in_tenant(&state.db, tenant_id, audit.clone(), move |tx| {
        sso_sign_in::complete(tx, st, m, p, i, token_hash).scope_boxed()
    })
    .await;
    match done {
        Ok(committed) => {
            state.effects.run(&audit, committed.effects).await;
            match committed.value {
                Ok(_) => page::with_headers(HttpResponse::SeeOther())
                    .insert_header((header::LOCATION, safe_return_to(Some(&return_to))))
                    .cookie(browser_session::cookie(token))
                    .cookie(binding_removal())
                    .finish(),
                Err(f) => fail(f, email).await,
            }
        }
        Err(e) => page::for_error(&e, chrome),
    }
}

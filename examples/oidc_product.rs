//! A product app that signs its users in with the hub, written as any product team would: an
//! OpenID Connect relying party on the `openidconnect` crate, knowing nothing of the hub but its
//! issuer URL and a client registration. It shows the whole integration:
//!
//! * discovery from the issuer (`/.well-known/openid-configuration`, the hub's keys);
//! * `GET /login`: the authorization code flow with PKCE (S256), `state` and `nonce`, all kept
//!   on this server for the browser that started the login (a cookie names its `state`);
//! * `GET /callback`: `state` and `iss` (RFC 9207) checked, the code exchanged, the ID token
//!   verified (signature with the hub's keys, `iss`, `aud`, `exp`, `nonce`), then the user's
//!   TenantContext read with the access token (`GET /tenant-context?product=…`);
//! * `GET /`: who is signed in, their tenant and TenantContext; `POST /refresh` uses the
//!   refresh token (rotated by the hub at each use);
//! * `POST /logout`: forgets the local session and sends the browser to the hub's
//!   `end_session_endpoint` with `id_token_hint`, `post_logout_redirect_uri` and `state`
//!   (RP-Initiated Logout 1.0); the hub comes back to `GET /signed-out`;
//! * `POST /backchannel-logout`: the hub's logout token (Back-Channel Logout 1.0) verified
//!   (signature via the JWKS, `typ`, `iss`, `aud`, `iat`/`exp`, the `events` claim, `sid`, no
//!   `nonce`), then every local session of that hub session forgotten, so its refresh token is
//!   never used again (a repeated `jti`, the hub's retry, changes nothing more).
//!
//! Sessions live in memory: one process, fine for an example. Register the client first (the
//! redirect, post-logout and back-channel URIs are this app's own):
//!
//! ```sh
//! tenant-hub oauth-client create --product crm \
//!   --redirect-uri http://127.0.0.1:3000/callback \
//!   --post-logout-redirect-uri http://127.0.0.1:3000/signed-out \
//!   --backchannel-logout-uri http://127.0.0.1:3000/backchannel-logout
//! OIDC_CLIENT_SECRET=<client_secret> cargo run --example oidc_product -- \
//!   --issuer http://127.0.0.1:8080 --client-id <client_id> --product crm --listen 127.0.0.1:3000
//! ```
//!
//! Without `--client-secret` (or `OIDC_CLIENT_SECRET`) it is a public client (PKCE only).

use std::{
    collections::{HashMap, HashSet},
    net::TcpListener,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer,
    cookie::{Cookie, SameSite},
    http::StatusCode,
    web,
};
use anyhow::{Context, anyhow, bail, ensure};
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken,
    IdTokenFields, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, RefreshToken,
    Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
    core::{
        CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
        CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
        CoreTokenIntrospectionResponse, CoreTokenType,
    },
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The claims the hub adds to its ID tokens besides the standard ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HubClaims {
    /// The hub session: what a back-channel logout token names.
    pub sid: String,
    /// The user's tenant.
    pub tid: String,
}
impl AdditionalClaims for HubClaims {}

type HubIdTokenFields = IdTokenFields<
    HubClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type HubTokenResponse = StandardTokenResponse<HubIdTokenFields, CoreTokenType>;
/// An ID token of the hub.
pub type HubIdToken =
    IdToken<HubClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
/// The client as discovery configures it: authorization endpoint set, token and userinfo
/// endpoints as the provider's metadata names them.
type HubClient = openidconnect::Client<
    HubClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    HubTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The back-channel logout event (Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a started login may take before its `state` is forgotten.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);

/// What the app needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The hub's issuer (its public URL), e.g. `https://hub.example.com`.
    pub issuer: String,
    pub client_id: String,
    /// For a confidential client (`client_secret_basic`); `None` for a public one.
    pub client_secret: Option<String>,
    /// Where this app is reached, e.g. `http://127.0.0.1:3000` (no trailing slash).
    pub base_url: String,
    /// The product's id in the hub's catalog (asked for in the TenantContext).
    pub product: String,
}

/// A login in progress: what the callback must find again.
struct PendingLogin {
    nonce: Nonce,
    pkce_verifier: PkceCodeVerifier,
    started: Instant,
}

/// A signed-in user, as this app keeps them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub subject: String,
    pub email: Option<String>,
    pub tenant_id: String,
    /// The hub session (`sid`), which back-channel logout names.
    pub hub_session: String,
    pub id_token: HubIdToken,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// `GET /tenant-context` of the hub for this product.
    pub tenant_context: Value,
}

/// A logout token the app accepted (Back-Channel Logout 1.0 §2.4).
#[derive(Debug, Clone, Deserialize)]
pub struct LogoutClaims {
    pub iss: String,
    pub aud: Value,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub sid: Option<String>,
    pub events: serde_json::Map<String, Value>,
    #[serde(default)]
    nonce: Option<Value>,
}

/// The relying party: the hub's client and this app's sessions.
pub struct ProductApp {
    settings: Settings,
    client: HubClient,
    /// No redirects: following one toward a token endpoint would leak the code (and SSRF).
    http: reqwest::Client,
    end_session: Option<EndSessionUrl>,
    jwks_uri: String,
    pending: Mutex<HashMap<String, PendingLogin>>,
    sessions: Mutex<HashMap<String, SignedIn>>,
    seen_logout_tokens: Mutex<HashSet<String>>,
    logouts: Mutex<Vec<LogoutClaims>>,
}

impl ProductApp {
    /// Reads the hub's discovery document and keys and configures the client.
    pub async fn discover(settings: Settings) -> anyhow::Result<ProductApp> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        let metadata = ProviderMetadataWithLogout::discover_async(
            IssuerUrl::new(settings.issuer.clone())?,
            &http,
        )
        .await
        .context("OpenID discovery of the hub")?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let jwks_uri = metadata.jwks_uri().url().to_string();
        let client = HubClient::from_provider_metadata(
            metadata,
            ClientId::new(settings.client_id.clone()),
            settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(format!("{}/callback", settings.base_url))?);
        Ok(ProductApp {
            settings,
            client,
            http,
            end_session,
            jwks_uri,
            pending: Mutex::default(),
            sessions: Mutex::default(),
            seen_logout_tokens: Mutex::default(),
            logouts: Mutex::default(),
        })
    }

    fn cookie_name(&self, what: &str) -> String {
        // Cookies are per host, not per port: two apps on 127.0.0.1 need their own names.
        format!("{}_{what}", self.settings.product.replace('-', "_"))
    }

    fn cookie(&self, what: &str, value: String) -> Cookie<'static> {
        Cookie::build(self.cookie_name(what), value)
            .path("/")
            .http_only(true)
            .secure(self.settings.base_url.starts_with("https://"))
            .same_site(SameSite::Lax)
            .finish()
    }

    /// Starts a login: the hub's authorization URL, and the `state` to bind to the browser.
    pub fn start_login(&self) -> (url::Url, String) {
        let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(pkce_challenge)
            .url();
        let mut pending = self.pending.lock().unwrap();
        pending.retain(|_, p| p.started.elapsed() < LOGIN_TIMEOUT);
        pending.insert(
            state.secret().clone(),
            PendingLogin {
                nonce,
                pkce_verifier,
                started: Instant::now(),
            },
        );
        (url, state.secret().clone())
    }

    /// Finishes a login from the callback's query: checks `state` (against the browser's
    /// cookie) and `iss`, exchanges the code, verifies the ID token and reads the
    /// TenantContext.
    pub async fn finish_login(
        &self,
        query: &HashMap<String, String>,
        browser_state: Option<&str>,
    ) -> anyhow::Result<SignedIn> {
        let state = query.get("state").context("no state in the callback")?;
        ensure!(
            browser_state == Some(state.as_str()),
            "the state does not belong to this browser's login"
        );
        let pending = self
            .pending
            .lock()
            .unwrap()
            .remove(state)
            .filter(|p| p.started.elapsed() < LOGIN_TIMEOUT)
            .context("unknown or expired state")?;
        // RFC 9207: the answer comes from the issuer this login was sent to.
        if let Some(iss) = query.get("iss") {
            ensure!(
                iss.trim_end_matches('/') == self.settings.issuer.trim_end_matches('/'),
                "the answer names another issuer"
            );
        }
        if let Some(error) = query.get("error") {
            bail!(
                "the hub refused the sign-in: {error} ({})",
                query.get("error_description").map_or("", String::as_str)
            );
        }
        let code = query.get("code").context("no code in the callback")?;
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.clone()))?
            .set_pkce_verifier(pending.pkce_verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| anyhow!("the code exchange failed: {e}"))?;
        let id_token = tokens
            .id_token()
            .context("the hub sent no ID token")?
            .clone();
        let verifier = self.client.id_token_verifier();
        let claims = id_token.claims(&verifier, &pending.nonce)?;
        if let Some(expected) = claims.access_token_hash() {
            let actual = AccessTokenHash::from_token(
                tokens.access_token(),
                id_token.signing_alg()?,
                id_token.signing_key(&verifier)?,
            )?;
            ensure!(
                actual == *expected,
                "the access token does not match at_hash"
            );
        }
        let access_token = tokens.access_token().secret().clone();
        let tenant_context = self.tenant_context(&access_token).await?;
        Ok(SignedIn {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            tenant_id: claims.additional_claims().tid.clone(),
            hub_session: claims.additional_claims().sid.clone(),
            id_token,
            access_token,
            refresh_token: tokens.refresh_token().map(|r| r.secret().clone()),
            tenant_context,
        })
    }

    /// The hub's `GET /tenant-context` for this product, with the user's access token.
    pub async fn tenant_context(&self, access_token: &str) -> anyhow::Result<Value> {
        let res = self
            .http
            .get(format!(
                "{}/tenant-context",
                self.settings.issuer.trim_end_matches('/')
            ))
            .query(&[("product", &self.settings.product)])
            .bearer_auth(access_token)
            .send()
            .await?;
        ensure!(
            res.status().is_success(),
            "tenant-context answered {}",
            res.status()
        );
        Ok(res.json().await?)
    }

    /// Uses the session's refresh token (the hub rotates it: the new one replaces it) and
    /// reads the TenantContext again.
    pub async fn refresh(&self, session: &mut SignedIn) -> anyhow::Result<()> {
        let refresh = session.refresh_token.clone().context("no refresh token")?;
        let tokens = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh))?
            .request_async(&self.http)
            .await
            .map_err(|e| anyhow!("the refresh failed: {e}"))?;
        session.access_token = tokens.access_token().secret().clone();
        if let Some(r) = tokens.refresh_token() {
            session.refresh_token = Some(r.secret().clone());
        }
        session.tenant_context = self.tenant_context(&session.access_token).await?;
        Ok(())
    }

    /// The hub's logout URL for a session (RP-Initiated Logout 1.0).
    pub fn logout_url(&self, session: &SignedIn) -> anyhow::Result<url::Url> {
        let endpoint = self
            .end_session
            .clone()
            .context("the hub names no end_session_endpoint")?;
        Ok(LogoutRequest::from(endpoint)
            .set_id_token_hint(&session.id_token)
            .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(format!(
                "{}/signed-out",
                self.settings.base_url
            ))?)
            .set_state(CsrfToken::new_random())
            .http_get_url())
    }

    /// Verifies a back-channel logout token (Back-Channel Logout 1.0 §2.6) and forgets every
    /// local session of the hub session it names; returns its claims.
    pub async fn backchannel_logout(&self, logout_token: &str) -> anyhow::Result<LogoutClaims> {
        let header = decode_header(logout_token)?;
        ensure!(
            header.typ.as_deref() == Some("logout+jwt"),
            "not a logout token (typ {:?})",
            header.typ
        );
        // The keys are read for each token: logouts are rare, and a rotated key is then known.
        let jwks: JwkSet = self
            .http
            .get(&self.jwks_uri)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let kid = header.kid.context("a logout token without kid")?;
        let jwk = jwks
            .find(&kid)
            .context("a logout token of an unknown key")?;
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse().ok())
            .context("a key without a usable alg")?;
        ensure!(alg == header.alg, "the token's alg is not its key's");
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[self.settings.issuer.trim_end_matches('/')]);
        validation.set_audience(&[&self.settings.client_id]);
        validation.set_required_spec_claims(&["iss", "aud", "iat", "exp"]);
        validation.leeway = 30;
        let claims =
            decode::<LogoutClaims>(logout_token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims;
        ensure!(
            claims
                .events
                .get(BACKCHANNEL_LOGOUT_EVENT)
                .is_some_and(Value::is_object),
            "the events claim has no back-channel logout event"
        );
        ensure!(claims.nonce.is_none(), "a logout token carries no nonce");
        let sid = claims
            .sid
            .clone()
            .context("the logout token names no sid (this app keys sessions by sid)")?;
        // The hub delivers at least once, with the same `jti` on a retry: a repeat is
        // answered like the first (the session is gone already) and does nothing more.
        if !self
            .seen_logout_tokens
            .lock()
            .unwrap()
            .insert(claims.jti.clone())
        {
            return Ok(claims);
        }
        self.sessions
            .lock()
            .unwrap()
            .retain(|_, s| s.hub_session != sid);
        self.logouts.lock().unwrap().push(claims.clone());
        Ok(claims)
    }

    /// The sessions signed in now (for operators and tests).
    pub fn signed_in(&self) -> Vec<SignedIn> {
        self.sessions.lock().unwrap().values().cloned().collect()
    }

    /// The logout tokens acted on so far (a repeated `jti` once).
    pub fn logouts(&self) -> Vec<LogoutClaims> {
        self.logouts.lock().unwrap().clone()
    }

    fn session_of(&self, req: &HttpRequest) -> Option<(String, SignedIn)> {
        let id = req.cookie(&self.cookie_name("session"))?.value().to_owned();
        let session = self.sessions.lock().unwrap().get(&id).cloned()?;
        Some((id, session))
    }
}

// ---- The web app: pages and endpoints -------------------------------------------------------

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, product: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{p}</title>\
             </head><body><h1>{p}</h1>{body}</body></html>",
            p = escape(product)
        ))
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .finish()
}

async fn home(req: HttpRequest, app: web::Data<ProductApp>) -> HttpResponse {
    let product = &app.settings.product;
    let Some((_, s)) = app.session_of(&req) else {
        return page(
            StatusCode::OK,
            product,
            "<p>You are not signed in.</p><p><a id=\"sign-in\" href=\"/login\">Sign in</a></p>",
        );
    };
    let access = s.tenant_context["products"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["productId"] == product.as_str()))
        .and_then(|p| p["access"].as_str())
        .unwrap_or("none");
    let context = serde_json::to_string_pretty(&s.tenant_context).unwrap_or_default();
    page(
        StatusCode::OK,
        product,
        &format!(
            "<p id=\"who\">Signed in as {} (user {}) of tenant {}, access {}.</p>\
             <pre id=\"tenant-context\">{}</pre>\
             <form method=\"post\" action=\"/refresh\"><button id=\"refresh\" type=\"submit\">Refresh</button></form>\
             <form method=\"post\" action=\"/logout\"><button id=\"sign-out\" type=\"submit\">Sign out</button></form>",
            escape(s.email.as_deref().unwrap_or("(no email)")),
            escape(&s.subject),
            escape(&s.tenant_id),
            escape(access),
            escape(&context),
        ),
    )
}

async fn login(app: web::Data<ProductApp>) -> HttpResponse {
    let (url, state) = app.start_login();
    HttpResponse::Found()
        .cookie(app.cookie("login", state))
        .insert_header(("Location", url.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

async fn callback(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    app: web::Data<ProductApp>,
) -> HttpResponse {
    let product = &app.settings.product;
    let browser_state = req
        .cookie(&app.cookie_name("login"))
        .map(|c| c.value().to_owned());
    let mut clear = app.cookie("login", String::new());
    clear.make_removal();
    if query.get("error").map(String::as_str) == Some("access_denied") {
        // The hub's product access gateway said no. The login is over either way: its state
        // is checked and forgotten, and the page says why.
        let _ = app.finish_login(&query, browser_state.as_deref()).await;
        let mut res = page(
            StatusCode::FORBIDDEN,
            product,
            "<p id=\"denied\">Access denied: the hub did not let you in to this product.</p>\
             <p><a href=\"/\">Back</a></p>",
        );
        let _ = res.add_removal_cookie(&clear);
        return res;
    }
    match app.finish_login(&query, browser_state.as_deref()).await {
        Ok(signed_in) => {
            let id = CsrfToken::new_random().secret().clone();
            app.sessions.lock().unwrap().insert(id.clone(), signed_in);
            let mut res = see_other("/");
            let _ = res.add_removal_cookie(&clear);
            let _ = res.add_cookie(&app.cookie("session", id));
            res
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "sign-in failed");
            page(
                StatusCode::BAD_REQUEST,
                product,
                "<p id=\"failed\">The sign-in did not work. <a href=\"/login\">Try again</a>.</p>",
            )
        }
    }
}

async fn refresh(req: HttpRequest, app: web::Data<ProductApp>) -> HttpResponse {
    let Some((id, mut session)) = app.session_of(&req) else {
        return see_other("/");
    };
    match app.refresh(&mut session).await {
        Ok(()) => {
            app.sessions.lock().unwrap().insert(id, session);
        }
        Err(e) => {
            // A refresh token the hub no longer honours ends the local session.
            tracing::info!(error = %format!("{e:#}"), "refresh failed; signing out locally");
            app.sessions.lock().unwrap().remove(&id);
        }
    }
    see_other("/")
}

/// Sign-out is a POST (a link could be followed by a prefetch or another site); the
/// SameSite=Lax session cookie is not sent with another site's POST.
async fn logout(req: HttpRequest, app: web::Data<ProductApp>) -> HttpResponse {
    let Some((id, session)) = app.session_of(&req) else {
        return see_other("/");
    };
    app.sessions.lock().unwrap().remove(&id);
    let mut gone = app.cookie("session", String::new());
    gone.make_removal();
    match app.logout_url(&session) {
        Ok(url) => HttpResponse::SeeOther()
            .cookie(gone)
            .insert_header(("Location", url.to_string()))
            .finish(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "no hub logout");
            see_other("/signed-out")
        }
    }
}

async fn signed_out(app: web::Data<ProductApp>) -> HttpResponse {
    page(
        StatusCode::OK,
        &app.settings.product,
        "<p id=\"signed-out\">You are signed out.</p><p><a href=\"/login\">Sign in again</a></p>",
    )
}

#[derive(Deserialize)]
struct LogoutForm {
    logout_token: String,
}

/// Back-Channel Logout 1.0 §2.8: 200 when the token is valid (and the session forgotten),
/// 400 otherwise; never cached.
async fn backchannel_logout(
    form: web::Form<LogoutForm>,
    app: web::Data<ProductApp>,
) -> HttpResponse {
    match app.backchannel_logout(&form.logout_token).await {
        Ok(_) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "logout token refused");
            HttpResponse::BadRequest()
                .insert_header(("Cache-Control", "no-store"))
                .json(serde_json::json!({ "error": "invalid_request" }))
        }
    }
}

/// The routes of the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/login", web::get().to(login))
        .route("/callback", web::get().to(callback))
        .route("/refresh", web::post().to(refresh))
        .route("/logout", web::post().to(logout))
        .route("/signed-out", web::get().to(signed_out))
        .route("/backchannel-logout", web::post().to(backchannel_logout));
}

/// Serves `app` on `listener` (bound beforehand, so its address can be registered first).
pub fn serve(
    app: Arc<ProductApp>,
    listener: TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::from(app);
    Ok(
        HttpServer::new(move || App::new().app_data(data.clone()).configure(routes))
            .workers(1)
            .listen(listener)?
            .run(),
    )
}

/// `cargo run --example oidc_product -- --issuer … --client-id …`
#[derive(clap::Parser)]
struct Args {
    /// The hub's issuer URL.
    #[arg(long, env = "OIDC_ISSUER", default_value = "http://127.0.0.1:8080")]
    issuer: String,
    #[arg(long, env = "OIDC_CLIENT_ID")]
    client_id: String,
    /// The secret of a confidential client; leave out for a public one.
    #[arg(long, env = "OIDC_CLIENT_SECRET")]
    client_secret: Option<String>,
    /// The product's id in the hub's catalog.
    #[arg(long, default_value = "crm")]
    product: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: String,
    /// The app's public URL, when it is not `http://<listen>`.
    #[arg(long)]
    base_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use clap::Parser;
    tracing_subscriber::fmt::init();
    let args = Args::parse();
    let listener = TcpListener::bind(&args.listen)?;
    let settings = Settings {
        issuer: args.issuer,
        client_id: args.client_id,
        client_secret: args.client_secret,
        base_url: args
            .base_url
            .unwrap_or_else(|| format!("http://{}", listener.local_addr().unwrap())),
        product: args.product,
    };
    println!("{} on {}", settings.product, settings.base_url);
    let app = Arc::new(ProductApp::discover(settings).await?);
    serve(app, listener)?.await?;
    Ok(())
}

//! Builds the hub: prepares the database, opens the pool, loads the signing keys, builds the
//! GraphQL schema and binds the HTTP server. [`Application::port`] tells the bound port, so
//! tests can bind port 0.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{App, HttpMessage, HttpServer, dev::Server, web};
use anyhow::Context;

use crate::{
    auth::{KeyStore, TokenIssuer, login_limiter::LoginLimiter, session_cache::SessionCache},
    config::Settings,
    context_cache::ContextCache,
    db::{Db, bootstrap},
    graphql,
    http::{
        self,
        meta::{REQUEST_ID_HEADER, RequestId, choose_request_id},
    },
    metrics::Metrics,
    ops::sign_in::SignIn,
    ratelimit::RateLimits,
    secrets::SecretBox,
    usage::UsageMeter,
};

/// What every request handler shares.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub tokens: Arc<TokenIssuer>,
    /// Resolving a request's Principal (`auth::principal`).
    pub authenticator: crate::auth::principal::Authenticator,
    pub sessions: Arc<SessionCache>,
    /// Registered OAuth clients read by the OAuth endpoints (`oauth::client_cache`).
    pub oauth_clients: Arc<crate::oauth::client_cache::ClientCache>,
    pub contexts: Arc<ContextCache>,
    /// The caches above as `invalidation` keeps them honest across replicas.
    pub invalidator: Arc<crate::invalidation::Invalidator>,
    /// What operations leave for after their commit (`ops::effects`).
    pub effects: Arc<crate::ops::effects::Effects>,
    pub login_limiter: Arc<LoginLimiter>,
    pub secrets: Arc<SecretBox>,
    pub rate_limits: Arc<RateLimits>,
    pub usage: Arc<UsageMeter>,
    pub metrics: Arc<Metrics>,
    /// Outgoing HTTP (alert and billing webhooks).
    pub http: reqwest::Client,
    /// Raising and delivering usage alerts (`alerts`), with its own memory of those raised.
    pub alerts: crate::alerts::Alerts,
    /// The DNS lookups of tenants' domain challenges (HUB_DNS_RESOLVER).
    pub dns: Arc<crate::sso::dns::DnsChecker>,
    /// Outgoing HTTP to tenants' identity providers (`sso::oidc::client`).
    pub sso_http: reqwest::Client,
    /// What `/graphql` and `GET /tenant-context` use around the schema (`http::graphql_http`).
    pub graphql: Arc<http::graphql_http::Endpoint>,
    /// What the sign-in operations, the hosted pages and the OAuth endpoints use
    /// (`ops::sign_in`).
    pub sign_in: SignIn,
    /// The running NDJSON exports (HUB_EXPORTS_MAX, HUB_EXPORTS_PER_TENANT).
    pub exports: Arc<crate::export_slots::ExportSlots>,
    /// Limits of password-reset requests (`mail::reset_limits`).
    pub reset_limits: Arc<crate::mail::reset_limits::ResetLimits>,
}

pub struct Application {
    port: u16,
    server: Server,
    /// The `/metrics` listener (HUB_METRICS_BIND): its port and its running server.
    metrics: Option<(u16, actix_web::dev::ServerHandle)>,
    state: Arc<AppState>,
}

impl Application {
    /// Prepares the database (create, migrate, app role) and binds the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let summary = bootstrap::prepare(&settings.db).await?;
        tracing::info!(
            database_created = summary.database_created,
            migrations_applied = summary.migrations_applied.len(),
            app_role = summary.app_role,
            system_role = summary.system_role,
            "database ready"
        );
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let mut settings = settings;
        settings.public_url = Some(public_url(&settings, &listener)?);
        let state = Arc::new(AppState::new(settings)?);
        crate::auth::password::warm_up();
        if state.settings.graphiql_enabled() {
            http::graphiql::warn_if_assets_missing(state.settings.graphiql_assets_dir.as_deref());
        }
        spawn_key_reloader(state.clone());
        spawn_housekeeping(state.clone());
        crate::invalidation::spawn_listener(&state.invalidator, &state.settings);

        let schema = graphql::build_schema(&state.settings, state.graphql_services());
        let data = Handlers::of(&state, schema);
        let max_body = state.settings.max_body_bytes;
        let cors_origins = state.settings.cors_origins.clone();
        let graphiql = state
            .settings
            .graphiql_enabled()
            .then(|| state.settings.graphiql_assets_dir.clone());
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(cors(&cors_origins))
                .configure(|cfg| data.register(cfg))
                .app_data(web::PayloadConfig::new(max_body))
                .wrap_fn(|req, srv| {
                    use actix_web::dev::Service;
                    let id = choose_request_id(&req);
                    req.extensions_mut().insert(RequestId(id.clone()));
                    let fut = srv.call(req);
                    async move {
                        let mut res = fut.await?;
                        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id) {
                            res.headers_mut().insert(
                                actix_web::http::header::HeaderName::from_static(REQUEST_ID_HEADER),
                                value,
                            );
                        }
                        res.headers_mut().insert(
                            actix_web::http::header::X_CONTENT_TYPE_OPTIONS,
                            actix_web::http::header::HeaderValue::from_static("nosniff"),
                        );
                        Ok(res)
                    }
                })
                // The playground is off by default in production.
                .configure(|cfg| http::configure(cfg, graphiql.clone()))
        })
        .listen(listener)?
        .shutdown_timeout(10);
        if state.settings.workers > 0 {
            server = server.workers(state.settings.workers);
        }
        let metrics = match &state.settings.metrics_bind {
            Some(bind) => Some(metrics_server(bind, Handlers::of_metrics(&state))?),
            None => None,
        };
        Ok(Application {
            port,
            server: server.run(),
            metrics,
            state,
        })
    }

    /// The port of the `/metrics` listener, when HUB_METRICS_BIND is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight (10 s at most)
    /// and writes the API-call counts not yet flushed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some((_, metrics)) = &self.metrics {
            metrics.stop(true).await;
        }
        // Pooled connections opened on the stopped workers' runtimes are closed now; the
        // pool replaces a broken one on the next checkout, so a retry gets a live one.
        for attempt in 1..=3 {
            match self.state.usage.flush(&self.state.db).await {
                Ok(n) => {
                    tracing::info!(calls = n, "usage flushed at shutdown");
                    break;
                }
                Err(e) if attempt == 3 => e.log_cause(),
                Err(_) => {}
            }
        }
        served
    }

    /// A handle to stop the server from elsewhere (tests).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// The services the handlers take as `web::Data<…>`: each handler names the ones it uses.
#[derive(Clone)]
struct Handlers {
    settings: web::Data<Settings>,
    db: web::Data<Db>,
    schema: web::Data<graphql::HubSchema>,
    graphql: web::Data<http::graphql_http::Endpoint>,
    sign_in: web::Data<SignIn>,
    authenticator: web::Data<crate::auth::principal::Authenticator>,
    sessions: web::Data<SessionCache>,
    tokens: web::Data<TokenIssuer>,
    exports: web::Data<crate::export_slots::ExportSlots>,
}

/// What `/metrics` (on its own listener, HUB_METRICS_BIND) reads: the registry, the limiters' count, the pool.
type MetricsHandlers = (web::Data<Metrics>, web::Data<RateLimits>, web::Data<Db>);

impl Handlers {
    fn of(state: &AppState, schema: graphql::HubSchema) -> Handlers {
        Handlers {
            settings: web::Data::from(state.settings.clone()),
            db: web::Data::new(state.db.clone()),
            schema: web::Data::new(schema),
            graphql: web::Data::from(state.graphql.clone()),
            sign_in: web::Data::new(state.sign_in.clone()),
            authenticator: web::Data::new(state.authenticator.clone()),
            sessions: web::Data::from(state.sessions.clone()),
            tokens: web::Data::from(state.tokens.clone()),
            exports: web::Data::from(state.exports.clone()),
        }
    }

    fn of_metrics(state: &AppState) -> MetricsHandlers {
        (
            web::Data::from(state.metrics.clone()),
            web::Data::from(state.rate_limits.clone()),
            web::Data::new(state.db.clone()),
        )
    }

    fn register(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.settings.clone())
            .app_data(self.db.clone())
            .app_data(self.schema.clone())
            .app_data(self.graphql.clone())
            .app_data(self.sign_in.clone())
            .app_data(self.authenticator.clone())
            .app_data(self.sessions.clone())
            .app_data(self.tokens.clone())
            .app_data(self.exports.clone());
    }
}

/// HUB_PUBLIC_URL without a trailing slash, or `http://` and the bound address.
fn public_url(settings: &Settings, listener: &TcpListener) -> anyhow::Result<String> {
    match &settings.public_url {
        Some(url) => {
            let parsed = url::Url::parse(url).context("HUB_PUBLIC_URL is not a URL")?;
            anyhow::ensure!(
                matches!(parsed.scheme(), "http" | "https")
                    && parsed.query().is_none()
                    && parsed.fragment().is_none(),
                "HUB_PUBLIC_URL must be an http(s) URL without query or fragment"
            );
            Ok(url.trim_end_matches('/').to_string())
        }
        None => Ok(format!("http://{}", listener.local_addr()?)),
    }
}

impl AppState {
    /// The hub's public base URL (HUB_PUBLIC_URL, or the bound address), without a trailing
    /// slash: the OpenID issuer and the base of the links the hub hands out.
    pub fn public_url(&self) -> &str {
        self.settings.public_url()
    }

    /// The schema's data: what the resolvers use (`graphql::context`).
    pub fn graphql_services(&self) -> graphql::context::Services {
        graphql::context::Services {
            sign_in: self.sign_in.clone(),
            contexts: self.contexts.clone(),
            usage: self.usage.clone(),
            dns: self.dns.clone(),
        }
    }

    pub fn new(mut settings: Settings) -> anyhow::Result<AppState> {
        if settings.public_url.is_none() {
            settings.public_url = Some(format!("http://{}", settings.bind));
        }
        crate::billing::check_settings(&settings)?;
        crate::mail::check_settings(&settings)?;
        anyhow::ensure!(
            settings.tokens.admin_audience != settings.tokens.audience,
            "HUB_JWT_ADMIN_AUDIENCE must differ from HUB_JWT_AUDIENCE: products would accept \
             platform admins' tokens"
        );
        let db = Db::connect(&settings.db)?;
        let retention = Duration::from_secs(
            settings.tokens.access_token_ttl_secs + settings.tokens.leeway_secs,
        );
        let keys = Arc::new(KeyStore::open(
            &settings.tokens.keys_dir,
            settings.tokens.jwt_alg,
            retention,
        )?);
        let tokens = Arc::new(TokenIssuer::new(
            keys,
            &settings.tokens,
            settings.public_url.as_deref().unwrap_or_default(),
        ));
        let sessions = Arc::new(SessionCache::new(Duration::from_millis(
            settings.tokens.session_cache_ms,
        )));
        let oauth_clients = Arc::new(crate::oauth::client_cache::ClientCache::new(
            Duration::from_millis(settings.tokens.session_cache_ms),
        ));
        let contexts = Arc::new(ContextCache::new(Duration::from_millis(
            settings.tokens.context_cache_ms,
        )));
        let login_limiter = Arc::new(LoginLimiter::new(
            crate::auth::login_limiter::LimiterConfig {
                per_network_per_minute: settings.login_failures_per_ip,
                free_failures: settings.login_failures_per_account,
                base_delay: Duration::from_millis(settings.login_delay_ms),
                max_delay: Duration::from_secs(settings.login_max_delay_secs),
                capacity: crate::auth::login_limiter::DEFAULT_CAPACITY,
            },
        ));
        let secrets = Arc::new(SecretBox::load(
            settings.tokens.secrets_key.as_deref(),
            &settings.tokens.keys_dir.join("secrets.key"),
        )?);
        let registry = match (&settings.persisted_queries, &settings.registered_operations) {
            (crate::config::PersistedQueries::Registered, Some(path)) => {
                Some(crate::graphql::registry::Registry::load(path)?)
            }
            (crate::config::PersistedQueries::Registered, None) => {
                anyhow::bail!("HUB_PERSISTED_QUERIES=registered needs HUB_REGISTERED_OPERATIONS")
            }
            _ => None,
        };
        let rate_limits = Arc::new(RateLimits::with_hashing(
            settings.rate_limit_burst_secs,
            settings.replicas,
            settings.anonymous_requests_per_minute,
            settings.anonymous_hashes_per_minute,
        ));
        let apq = (settings.persisted_queries == crate::config::PersistedQueries::Auto)
            .then(|| crate::graphql::apq::AutoPersisted::new(4096));
        let metrics = Arc::new(Metrics::new());
        let usage = Arc::new(UsageMeter::new(metrics.clone()));
        let http = crate::outbound::client(settings.webhook_allow_private)?;
        let alerts =
            crate::alerts::Alerts::new(db.clone(), secrets.clone(), http.clone(), &settings);
        let invalidator = Arc::new(crate::invalidation::Invalidator {
            db: db.clone(),
            sessions: sessions.clone(),
            contexts: contexts.clone(),
            oauth_clients: oauth_clients.clone(),
            usage: usage.clone(),
        });
        let effects = Arc::new(crate::ops::effects::Effects::new(
            db.clone(),
            invalidator.clone(),
            alerts.clone(),
        ));
        let authenticator = crate::auth::principal::Authenticator {
            db: db.clone(),
            tokens: tokens.clone(),
            sessions: sessions.clone(),
            login_limiter: login_limiter.clone(),
        };
        let exports = crate::export_slots::ExportSlots::new(
            settings.exports_max,
            settings.exports_per_tenant,
        );
        let reset_limits = Arc::new(crate::mail::reset_limits::ResetLimits::new(
            settings.password_reset_per_ip,
            settings.password_reset_per_account,
        ));
        let sso_http = crate::sso::oidc::client(&settings)?;
        let dns = Arc::new(crate::sso::dns::DnsChecker::new(
            settings.dns_resolver,
            Duration::from_millis(settings.dns_timeout_ms),
        )?);
        let settings = Arc::new(settings);
        let graphql = Arc::new(http::graphql_http::Endpoint {
            settings: settings.clone(),
            db: db.clone(),
            authenticator: authenticator.clone(),
            rate_limits: rate_limits.clone(),
            alerts: alerts.clone(),
            metrics: metrics.clone(),
            usage: usage.clone(),
            contexts: contexts.clone(),
            registry,
            apq,
        });
        let sign_in = SignIn {
            db: db.clone(),
            settings: settings.clone(),
            tokens: tokens.clone(),
            login_limiter: login_limiter.clone(),
            secrets: secrets.clone(),
            invalidator: invalidator.clone(),
            effects: effects.clone(),
            oauth_clients: oauth_clients.clone(),
            rate_limits: rate_limits.clone(),
            sso_http: sso_http.clone(),
            reset_limits: reset_limits.clone(),
        };
        Ok(AppState {
            settings,
            db,
            tokens,
            authenticator,
            sessions,
            oauth_clients,
            contexts,
            invalidator,
            effects,
            login_limiter,
            secrets,
            rate_limits,
            usage,
            metrics,
            http,
            dns,
            sso_http,
            alerts,
            exports,
            reset_limits,
            graphql,
            sign_in,
        })
    }
}

/// The `/metrics` listener: one worker, its own address, stopped with the public server.
fn metrics_server(
    bind: &str,
    data: MetricsHandlers,
) -> anyhow::Result<(u16, actix_web::dev::ServerHandle)> {
    let listener = TcpListener::bind(bind)
        .with_context(|| format!("cannot listen on HUB_METRICS_BIND {bind}"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.0.clone())
            .app_data(data.1.clone())
            .app_data(data.2.clone())
            .configure(http::routes::configure_metrics)
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    tracing::info!(port, "metrics listening");
    Ok((port, handle))
}

fn spawn_key_reloader(state: Arc<AppState>) {
    let every = Duration::from_secs(state.settings.tokens.keys_reload_secs.max(1));
    let weak = Arc::downgrade(&state);
    drop(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { break };
            if let Err(e) = state.tokens.keys().reload() {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "cannot reload signing keys; keeping the current ones"
                );
            }
        }
    });
}

/// Periodic work: flushing usage counts and evicting idle rate limiters. Holds only a weak
/// reference, so it ends with the application.
fn spawn_housekeeping(state: Arc<AppState>) {
    let every = Duration::from_secs(state.settings.usage_flush_secs.max(1));
    let weak = Arc::downgrade(&state);
    drop(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        let mut sweeper = crate::ops::expired::Sweeper::new();
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { break };
            if let Err(e) = state.usage.flush(&state.db).await {
                e.log_cause();
            }
            state.rate_limits.evict_idle();
            state.reset_limits.evict_idle();
            if let Err(e) = crate::billing::close_periods(&state.db).await {
                e.log_cause();
            }
            if let Err(e) =
                crate::billing::deliver_pending(&state.db, &state.http, &state.settings).await
            {
                e.log_cause();
            }
            if let Err(e) = crate::mail::delivery::deliver_pending(&state.db, &state.settings).await
            {
                e.log_cause();
            }
            let (db, http, tokens) = (&state.db, &state.http, &state.tokens);
            if let Err(e) =
                crate::oauth::backchannel::deliver_pending(db, http, tokens, &state.settings).await
            {
                e.log_cause();
            }
            if let Err(e) =
                crate::ops::domains::reverify_due(&state.db, &state.dns, &state.settings).await
            {
                e.log_cause();
            }
            if let Err(e) = sweeper.sweep_if_due(&state.db).await {
                e.log_cause();
            }
            state
                .metrics
                .limiters
                .set(state.rate_limits.tenants_tracked() as i64);
        }
    });
}

/// CORS for the Workspaces frontend and product apps: the configured origins (or any, for `*`,
/// never with credentials: the hub uses Bearer tokens, not cookies), answering preflights.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "OPTIONS"])
        .allowed_headers(["authorization", "content-type", "accept", "x-request-id"])
        .expose_headers([
            "x-request-id",
            "retry-after",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

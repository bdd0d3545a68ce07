//! Typed settings, each from an environment variable or the matching flag of `tenant-hub serve`.
//!
//! Secrets (database passwords, the integration key) never reach a log line: URLs are printed
//! through [`redact_url`], and clap is told not to show the environment's values in `--help`.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};

/// Where the hub runs; production turns off introspection and the playground by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// How persisted queries work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PersistedQueries {
    Off,
    Auto,
    Registered,
}

/// The signing algorithm of newly generated keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SigningAlg {
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "RS256")]
    Rs256,
}

/// The largest page a list field serves (`first`); the configured ceiling
/// (HUB_GQL_PAGE_SIZE_CEILING) is at most this. Re-exported as
/// `graphql::connection::PAGE_SIZE_CEILING`.
pub const PAGE_SIZE_CEILING: i32 = 1000;

/// Database settings, shared by every command that touches the database.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// PostgreSQL URL used to create the database, migrate it and manage the application role.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/tenant_hub"
    )]
    pub database_url: String,

    /// URL the server's pool logs in with, as the application role (not superuser, no
    /// BYPASSRLS, owns nothing). Default: DATABASE_URL with the user `tenant_hub_app`.
    #[arg(long, env = "HUB_APP_DATABASE_URL", hide_env_values = true)]
    pub app_database_url: Option<String>,

    /// URL of the system scope's own small pool (`db::system_tx`: login's tenant lookup,
    /// platform admins, maintenance), as the system role: the only role for which
    /// `app.scope = 'system'` opens every tenant's rows. Not superuser, no BYPASSRLS, owns
    /// nothing. Default: DATABASE_URL with the user `tenant_hub_system`.
    #[arg(long, env = "HUB_SYSTEM_DATABASE_URL", hide_env_values = true)]
    pub system_database_url: Option<String>,

    /// Connections in the server's pool.
    #[arg(long, env = "HUB_DB_POOL_SIZE", default_value_t = 8)]
    pub pool_size: usize,

    /// Connections in the system scope's pool.
    #[arg(long, env = "HUB_DB_SYSTEM_POOL_SIZE", default_value_t = 2)]
    pub system_pool_size: usize,

    /// statement_timeout of every pooled connection, in milliseconds.
    #[arg(long, env = "HUB_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5_000)]
    pub statement_timeout_ms: u64,

    /// diesel-async's prepared-statement cache. Turn it off behind PgBouncer before 1.21
    /// (transaction pooling moves a client between server connections, which do not share
    /// prepared statements).
    #[arg(long, env = "HUB_DB_STATEMENT_CACHE", default_value_t = true, action = clap::ArgAction::Set)]
    pub statement_cache: bool,

    /// Direct connection for the cache-invalidation listener (LISTEN does not work through
    /// transaction pooling). Default: the application URL.
    #[arg(long, env = "HUB_LISTEN_DATABASE_URL", hide_env_values = true)]
    pub listen_database_url: Option<String>,

    /// How long a request waits for a pooled connection (and to open one), in milliseconds.
    #[arg(long, env = "HUB_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3_000)]
    pub acquire_timeout_ms: u64,
}

/// The default application role, used when HUB_APP_DATABASE_URL is not set.
pub const DEFAULT_APP_ROLE: &str = "tenant_hub_app";

/// The default system role, used when HUB_SYSTEM_DATABASE_URL is not set.
pub const DEFAULT_SYSTEM_ROLE: &str = "tenant_hub_system";

impl DatabaseSettings {
    /// The URL of the runtime pool: the explicit one, or DATABASE_URL with the app role as user.
    pub fn app_url(&self) -> anyhow::Result<String> {
        derived_url(
            self.app_database_url.as_deref(),
            &self.database_url,
            DEFAULT_APP_ROLE,
        )
    }

    /// The URL of the system scope's pool: the explicit one, or DATABASE_URL with the system
    /// role as user.
    pub fn system_url(&self) -> anyhow::Result<String> {
        derived_url(
            self.system_database_url.as_deref(),
            &self.database_url,
            DEFAULT_SYSTEM_ROLE,
        )
    }

    pub fn statement_timeout(&self) -> Duration {
        Duration::from_millis(self.statement_timeout_ms)
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }
}

/// `explicit`, or `database_url` with `user` and no password.
fn derived_url(explicit: Option<&str>, database_url: &str, user: &str) -> anyhow::Result<String> {
    if let Some(url) = explicit {
        return Ok(url.to_owned());
    }
    let mut url = url::Url::parse(database_url)?;
    url.set_username(user)
        .map_err(|_| anyhow::anyhow!("DATABASE_URL cannot carry a user name"))?;
    url.set_password(None)
        .map_err(|_| anyhow::anyhow!("DATABASE_URL cannot carry a password"))?;
    Ok(url.to_string())
}

/// Token and key settings.
#[derive(Debug, Clone, Args)]
pub struct TokenSettings {
    /// Folder of the PEM signing keys; one is generated on first start when it holds none.
    #[arg(long, env = "HUB_KEYS_DIR", default_value = "./keys")]
    pub keys_dir: PathBuf,

    /// Algorithm of generated keys (EdDSA = Ed25519, or RS256).
    #[arg(long, env = "HUB_JWT_ALG", value_enum, default_value = "EdDSA")]
    pub jwt_alg: SigningAlg,

    /// Issuers still accepted on tokens besides the current one (HUB_PUBLIC_URL), comma
    /// separated: the former HUB_JWT_ISSUER during a migration window. Nothing is issued with
    /// them. Empty (`""`) to accept only the public URL.
    #[arg(
        long,
        env = "HUB_JWT_LEGACY_ISSUERS",
        value_delimiter = ',',
        default_value = "tenant-hub"
    )]
    pub legacy_issuers: Vec<String>,

    /// `aud` of members' tokens: the audience product apps check.
    #[arg(long, env = "HUB_JWT_AUDIENCE", default_value = "tenant-hub-products")]
    pub audience: String,

    /// `aud` of platform admins' tokens: the hub's own, never the products' (so a product app
    /// refuses them). Must differ from HUB_JWT_AUDIENCE.
    #[arg(
        long,
        env = "HUB_JWT_ADMIN_AUDIENCE",
        default_value = "tenant-hub-admin"
    )]
    pub admin_audience: String,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "HUB_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,

    /// Lifetime of a session (its refresh tokens), in seconds.
    #[arg(long, env = "HUB_SESSION_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub session_ttl_secs: u64,

    /// A browser session of the hosted pages ends after this many seconds without use.
    #[arg(long, env = "HUB_BROWSER_SESSION_IDLE_SECS", default_value_t = 8 * 3600)]
    pub browser_session_idle_secs: u64,

    /// A browser session of the hosted pages ends this many seconds after its sign-in, however
    /// much it is used (and the product tokens of that session with it).
    #[arg(long, env = "HUB_BROWSER_SESSION_MAX_SECS", default_value_t = 7 * 24 * 3600)]
    pub browser_session_max_secs: u64,

    /// Clock skew tolerated on exp and nbf, in seconds.
    #[arg(long, env = "HUB_JWT_LEEWAY_SECS", default_value_t = 30)]
    pub leeway_secs: u64,

    /// How long a verified session state is cached per replica, in milliseconds. A revoked
    /// session is refused on the replica that revoked it at once, on others within this time.
    #[arg(long, env = "HUB_SESSION_CACHE_MS", default_value_t = 5_000)]
    pub session_cache_ms: u64,

    /// How long a replica may cache a member's permissions and product access (TenantContext)
    /// and the tenant's row, in milliseconds; 0 turns the cache off. Changes invalidate it on
    /// commit through PostgreSQL NOTIFY on every replica: this is only a backstop.
    #[arg(long, env = "HUB_CONTEXT_CACHE_MS", default_value_t = 60_000)]
    pub context_cache_ms: u64,

    /// Key of integration secrets at rest: base64 of 32 random bytes. When unset, the key is
    /// read from (or generated into) `secrets.key` in HUB_KEYS_DIR.
    #[arg(long, env = "HUB_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,

    /// How often signing keys are re-read from HUB_KEYS_DIR, in seconds.
    #[arg(long, env = "HUB_KEYS_RELOAD_SECS", default_value_t = 30)]
    pub keys_reload_secs: u64,
}

/// Everything `tenant-hub serve` needs.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub db: DatabaseSettings,

    #[command(flatten)]
    pub tokens: TokenSettings,

    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "HUB_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// The hub's public base URL, as browsers and product apps reach it (e.g.
    /// `https://id.example.com`): the OpenID issuer and the base of every link the hub hands
    /// out (discovery, hosted pages, mails). Unset: `http://<HUB_BIND>` with the bound port.
    #[arg(long, env = "HUB_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The WebAuthn relying-party id passkeys are bound to: a domain, the public URL's host
    /// or a parent of it (e.g. `example.com` for `https://id.example.com`). Unset: the host
    /// of HUB_PUBLIC_URL. Changing it makes every registered passkey unusable.
    #[arg(long, env = "HUB_WEBAUTHN_RP_ID")]
    pub webauthn_rp_id: Option<String>,

    /// The origin browsers run passkey ceremonies from (e.g. `https://id.example.com`).
    /// Unset: the origin of HUB_PUBLIC_URL. Browsers allow WebAuthn only on https origins
    /// (and http://localhost).
    #[arg(long, env = "HUB_WEBAUTHN_ORIGIN")]
    pub webauthn_origin: Option<String>,

    /// Address of the Prometheus `/metrics` listener, apart from the public one (e.g.
    /// `127.0.0.1:9090`; port 0 picks a free port). Unset: no metrics are served (they list
    /// tenant ids and volumes, so they are never on the public listener).
    #[arg(long, env = "HUB_METRICS_BIND")]
    pub metrics_bind: Option<String>,

    /// development | production.
    #[arg(
        long = "env",
        env = "HUB_ENV",
        value_enum,
        default_value = "development"
    )]
    pub environment: Environment,

    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "HUB_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// text | json.
    #[arg(long, env = "HUB_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Platform admins must sign in with a second factor: adminLogin refuses an admin without
    /// an authenticator (enrolled with `tenant-hub admin totp`). An admin who has one is always
    /// asked for its code, whatever this says.
    #[arg(long, env = "HUB_PLATFORM_ADMIN_REQUIRE_MFA", default_value_t = false, action = clap::ArgAction::Set)]
    pub platform_admin_require_mfa: bool,

    /// Anyone may create a tenant with createTenant; when off, only platform admins can.
    #[arg(long, env = "HUB_SIGNUP_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub signup_enabled: bool,

    /// Owners may move their tenant to a paid plan themselves with changePlan; when off (the
    /// default), a paid plan is set by the platform (or billing), and owners may only move to
    /// free plans.
    #[arg(long, env = "HUB_SELF_SERVICE_UPGRADES", default_value_t = false, action = clap::ArgAction::Set)]
    pub self_service_upgrades: bool,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "HUB_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,

    /// Deepest selection accepted (GraphiQL's own introspection query needs 13).
    #[arg(long, env = "HUB_GQL_MAX_DEPTH", default_value_t = 15)]
    pub gql_max_depth: usize,

    /// Highest query complexity accepted (each selected field counts 1, aliases included).
    #[arg(long, env = "HUB_GQL_MAX_COMPLEXITY", default_value_t = 5_000)]
    pub gql_max_complexity: usize,

    /// Most lexical tokens in one document (names, punctuators, numbers, strings; not white
    /// space, commas or comments), counted before it is parsed.
    #[arg(long, env = "HUB_GQL_MAX_TOKENS", default_value_t = 3_000)]
    pub gql_max_tokens: usize,

    /// Most aliases in one document.
    #[arg(long, env = "HUB_GQL_MAX_ALIASES", default_value_t = 30)]
    pub gql_max_aliases: usize,

    /// Largest page a list may be asked for (`first`), 1 to 1000; more is refused before
    /// execution.
    #[arg(long, env = "HUB_GQL_MAX_PAGE_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(i64).range(1..=PAGE_SIZE_CEILING as i64))]
    pub gql_max_page_size: i64,

    /// Most directives on one field.
    #[arg(long, env = "HUB_GQL_MAX_DIRECTIVES", default_value_t = 5)]
    pub gql_max_directives: usize,

    /// Longest a GraphQL request may run, in milliseconds.
    #[arg(long, env = "HUB_GQL_TIMEOUT_MS", default_value_t = 10_000)]
    pub gql_timeout_ms: u64,

    /// Introspection and field suggestions (default: on in development, off in production).
    #[arg(long, env = "HUB_INTROSPECTION", action = clap::ArgAction::Set)]
    pub introspection: Option<bool>,

    /// The /graphiql page (default: on in development, off in production).
    #[arg(long, env = "HUB_GRAPHIQL", action = clap::ArgAction::Set)]
    pub graphiql: Option<bool>,

    /// Origins allowed to call the hub from a browser (comma-separated; `*` for any origin,
    /// never with credentials). Empty: no cross-origin access.
    #[arg(long, env = "HUB_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Persisted queries: `auto` (automatic persisted queries by SHA-256, any query), or
    /// `registered` (only the operations in HUB_REGISTERED_OPERATIONS run), or `off`.
    #[arg(
        long,
        env = "HUB_PERSISTED_QUERIES",
        value_enum,
        default_value = "auto"
    )]
    pub persisted_queries: PersistedQueries,

    /// A .graphql file of the operations allowed in `registered` mode.
    #[arg(long, env = "HUB_REGISTERED_OPERATIONS")]
    pub registered_operations: Option<PathBuf>,

    /// Folder of the self-hosted GraphiQL files (filled by scripts/fetch-graphiql-assets.sh).
    /// While it misses one of them, /graphiql loads GraphiQL from a public CDN instead.
    #[arg(
        long,
        env = "HUB_GRAPHIQL_ASSETS_DIR",
        default_value = "assets/graphiql"
    )]
    pub graphiql_assets_dir: Option<PathBuf>,

    /// Failed logins (and wrong API keys) a client network may have at once, and per minute
    /// after that; past it the network is refused, right password or not. A network is an IPv4
    /// address or an IPv6 /64.
    #[arg(
        long,
        env = "HUB_LOGIN_FAILURES_PER_IP_PER_MINUTE",
        default_value_t = 30
    )]
    pub login_failures_per_ip: u32,

    /// Failed logins of one account before each further attempt must wait
    /// (HUB_LOGIN_DELAY_MS, doubling up to HUB_LOGIN_MAX_DELAY_SECS).
    #[arg(long, env = "HUB_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 5)]
    pub login_failures_per_account: u32,

    /// The first wait of an account past its free failures, in milliseconds; doubles with
    /// each further failure.
    #[arg(long, env = "HUB_LOGIN_DELAY_MS", default_value_t = 1_000)]
    pub login_delay_ms: u64,

    /// The longest wait of an account, in seconds.
    #[arg(long, env = "HUB_LOGIN_MAX_DELAY_SECS", default_value_t = 900)]
    pub login_max_delay_secs: u64,

    /// A tenant's burst, in seconds of its per-minute quota (10: a tenant of 600 calls/minute
    /// may send 100 at once, then 10 a second).
    #[arg(long, env = "HUB_RATE_LIMIT_BURST_SECS", default_value_t = 10)]
    pub rate_limit_burst_secs: u32,

    /// Requests per minute (and burst) of each client IP without a token.
    #[arg(long, env = "HUB_ANONYMOUS_REQUESTS_PER_MINUTE", default_value_t = 300)]
    pub anonymous_requests_per_minute: u32,

    /// Anonymous calls that hash a password (createTenant, resetPassword, acceptInvitation) per
    /// minute (and burst) of each client network (IPv4 address, IPv6 /64).
    #[arg(long, env = "HUB_ANONYMOUS_HASHES_PER_MINUTE", default_value_t = 20)]
    pub anonymous_hashes_per_minute: u32,

    /// NDJSON exports (`/export/*.ndjson`) running at once on this replica; each holds a pooled
    /// connection while it streams. Past it: RATE_LIMITED.
    #[arg(long, env = "HUB_EXPORTS_MAX", default_value_t = 2)]
    pub exports_max: u32,

    /// NDJSON exports of one tenant running at once on this replica. Past it: RATE_LIMITED.
    #[arg(long, env = "HUB_EXPORTS_PER_TENANT", default_value_t = 1)]
    pub exports_per_tenant: u32,

    /// The longest an NDJSON export may stream, in seconds; then it is cut off (a slow reader
    /// must not hold a connection for ever).
    #[arg(long, env = "HUB_EXPORT_MAX_SECS", default_value_t = 300)]
    pub export_max_secs: u64,

    /// Replicas sharing the tenants' quotas: each one enforces quota / replicas.
    #[arg(long, env = "HUB_REPLICAS", default_value_t = 1)]
    pub replicas: u32,

    /// How often API-call counts are written to the database, in seconds.
    #[arg(long, env = "HUB_USAGE_FLUSH_SECS", default_value_t = 10)]
    pub usage_flush_secs: u64,

    /// Attempts to deliver an alert to a tenant's webhook.
    #[arg(long, env = "HUB_WEBHOOK_ATTEMPTS", default_value_t = 4)]
    pub webhook_attempts: u32,

    /// Backoff before the first retry, in milliseconds; doubles each time.
    #[arg(long, env = "HUB_WEBHOOK_BACKOFF_MS", default_value_t = 1_000)]
    pub webhook_backoff_ms: u64,

    /// Allow alert webhooks to plain http and to loopback/private addresses (tests, closed
    /// networks). Off: https to public addresses only.
    #[arg(long, env = "HUB_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// The DNS server (ip:port) that checks tenants' domain challenges (TXT records). Unset:
    /// the system's resolvers (/etc/resolv.conf).
    #[arg(long, env = "HUB_DNS_RESOLVER")]
    pub dns_resolver: Option<std::net::SocketAddr>,

    /// How long one DNS check of a domain challenge may take, in milliseconds.
    #[arg(long, env = "HUB_DNS_TIMEOUT_MS", default_value_t = 3_000)]
    pub dns_timeout_ms: u64,

    /// Seconds between re-verifications of a tenant's domain (its TXT record is looked up
    /// again by the housekeeping loop; a domain whose record is gone becomes failed). 0: never.
    #[arg(long, env = "HUB_DOMAIN_RECHECK_SECS", default_value_t = 86_400)]
    pub domain_recheck_secs: u64,

    /// Allow tenants' identity providers on plain http and loopback/private addresses (tests,
    /// closed networks). Off: https to public addresses only (HUB_WEBHOOK_ALLOW_PRIVATE also
    /// allows them).
    #[arg(long, env = "HUB_SSO_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub sso_allow_private: bool,

    /// How long one request to a tenant's identity provider (discovery, keys, token) may take,
    /// in milliseconds.
    #[arg(long, env = "HUB_SSO_HTTP_TIMEOUT_MS", default_value_t = 5_000)]
    pub sso_http_timeout_ms: u64,

    /// Days between a tenant's deactivation and its purge, unless the tenant set its own
    /// retention within the bounds below.
    #[arg(long, env = "HUB_DEACTIVATION_GRACE_DAYS", default_value_t = 30)]
    pub deactivation_grace_days: i32,

    /// Shortest retention a tenant may choose, in days.
    #[arg(long, env = "HUB_RETENTION_MIN_DAYS", default_value_t = 7)]
    pub retention_min_days: i32,

    /// Longest retention a tenant may choose, in days.
    #[arg(long, env = "HUB_RETENTION_MAX_DAYS", default_value_t = 365)]
    pub retention_max_days: i32,

    /// Where billing events are POSTed (HMAC-signed like alert webhooks). Unset: they wait in
    /// the outbox.
    #[arg(long, env = "HUB_BILLING_WEBHOOK_URL")]
    pub billing_webhook_url: Option<String>,

    /// The billing webhook's signing secret.
    #[arg(
        long,
        env = "HUB_BILLING_WEBHOOK_SECRET",
        hide_env_values = true,
        default_value = ""
    )]
    pub billing_webhook_secret: String,

    /// Where mail goes: `smtp://host:25` (plain, or STARTTLS when the server offers it),
    /// `smtp://host:587?tls=required` (STARTTLS required), `smtps://host:465` (TLS from the
    /// start), with `user:password@` for authentication. Unset: mails wait in the outbox
    /// (`tenant-hub mail list`), or go to the log with HUB_MAIL_LOG.
    #[arg(long, env = "HUB_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The From of the hub's mails (an address, or `Name <address>`).
    #[arg(
        long,
        env = "HUB_MAIL_FROM",
        default_value = "tenant-hub <no-reply@localhost>"
    )]
    pub mail_from: String,

    /// Development: without HUB_SMTP_URL, mails are written to the log (text part, links
    /// included) and count as sent. Never in production: the log then holds one-time links.
    #[arg(long, env = "HUB_MAIL_LOG", default_value_t = false, action = clap::ArgAction::Set)]
    pub mail_log: bool,

    /// Wait before the first retry of a mail that could not be sent, in seconds; doubles with
    /// each attempt, up to an hour.
    #[arg(long, env = "HUB_MAIL_RETRY_SECS", default_value_t = 30)]
    pub mail_retry_secs: u64,

    /// Wait before the first retry of a back-channel logout token a product did not accept,
    /// in seconds; doubles with each attempt, up to an hour (12 attempts in all).
    #[arg(long, env = "HUB_BACKCHANNEL_RETRY_SECS", default_value_t = 30)]
    pub backchannel_retry_secs: u64,

    /// Password-reset requests (requestPasswordReset, the forgot-password page) accepted per
    /// client IP per hour; more are RATE_LIMITED.
    #[arg(long, env = "HUB_PASSWORD_RESET_PER_IP_PER_HOUR", default_value_t = 20)]
    pub password_reset_per_ip: u32,

    /// Reset mails sent per account (tenant and email) per hour; further requests get the
    /// same answer and send nothing.
    #[arg(
        long,
        env = "HUB_PASSWORD_RESET_PER_ACCOUNT_PER_HOUR",
        default_value_t = 3
    )]
    pub password_reset_per_account: u32,

    /// Proxies whose X-Forwarded-For is believed (comma-separated IPs). Empty: the peer address.
    #[arg(long, env = "HUB_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,
}

impl Settings {
    /// The hub's public base URL (HUB_PUBLIC_URL, or the bound address, set at start),
    /// without a trailing slash: the OpenID issuer and the base of the links the hub hands out.
    pub fn public_url(&self) -> &str {
        self.public_url.as_deref().unwrap_or_default()
    }

    pub fn introspection_enabled(&self) -> bool {
        self.introspection
            .unwrap_or(self.environment == Environment::Development)
    }

    pub fn graphiql_enabled(&self) -> bool {
        self.graphiql
            .unwrap_or(self.environment == Environment::Development)
    }
}

/// Prints a database URL without its password.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("*****"));
            }
            url.to_string()
        }
        Err(_) => "<unparseable database URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_the_password_and_keeps_the_rest() {
        let shown = redact_url("postgres://hub:s3cret@db.example:5432/tenant_hub");
        assert!(!shown.contains("s3cret"));
        assert_eq!(shown, "postgres://hub:*****@db.example:5432/tenant_hub");
    }

    #[test]
    fn app_and_system_urls_default_to_their_roles_without_a_password() {
        let db = DatabaseSettings {
            database_url: "postgres://postgres:pw@127.0.0.1:5432/x".into(),
            app_database_url: None,
            system_database_url: None,
            pool_size: 1,
            system_pool_size: 1,
            statement_timeout_ms: 1,
            acquire_timeout_ms: 1,
            statement_cache: true,
            listen_database_url: None,
        };
        assert_eq!(
            db.app_url().unwrap(),
            "postgres://tenant_hub_app@127.0.0.1:5432/x"
        );
        assert_eq!(
            db.system_url().unwrap(),
            "postgres://tenant_hub_system@127.0.0.1:5432/x"
        );
    }
}

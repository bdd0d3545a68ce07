//! The command line: `serve`, `migrate`, `export-schema`, `keys rotate`, `admin create`,
//! `maintenance …`, `mail list` and `dev seed`. Errors are printed with their cause chain (see `main.rs`).
//! Every setting is also an environment variable (see `tenant-hub serve --help`).

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::db::SystemReason;
use crate::domain::Action;
use crate::{
    app::Application,
    auth::{keys, password},
    config::{DatabaseSettings, LogFormat, Settings, SigningAlg, redact_url},
    db::{
        Db, ScopedFutureExt,
        audit::{self, AuditContext, AuditEvent},
        bootstrap,
        models::{PlatformAdminRow, TenantRow},
    },
    domain::{Email, NewPassword, TenantKey},
    error::AppError,
    graphql, telemetry,
};

#[derive(Parser)]
#[command(name = "tenant-hub", version, about = "GraphQL gateway and tenant hub")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create the database if missing, migrate it, then serve HTTP.
    Serve(Box<Settings>),
    /// Create the database if missing, migrate it and set up the application role; then exit.
    Migrate(DatabaseSettings),
    /// Print the GraphQL SDL (what schema.graphql holds).
    ExportSchema {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Platform admin accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Maintenance jobs.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),
    /// Development helpers.
    #[command(subcommand)]
    Dev(DevCommand),
    /// The products' OAuth / OpenID Connect clients.
    #[command(subcommand, name = "oauth-client")]
    OAuthClient(OAuthClientCommand),
    /// The mail outbox.
    #[command(subcommand)]
    Mail(MailCommand),
}

#[derive(Subcommand)]
pub enum OAuthClientCommand {
    /// Register a product's client; prints one JSON line `{"client_id": "…", "client_secret":
    /// "…"}` (no `client_secret` for a public client). The secret is shown only here.
    Create {
        /// The product (its id in the catalog, e.g. `crm`).
        #[arg(long)]
        product: String,
        /// An exact redirect URI (https, or http on loopback); repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (browser or native app): no secret, PKCE only.
        #[arg(long)]
        public: bool,
        /// An exact post-logout redirect URI; repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Where back-channel logout tokens are POSTed.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        #[command(flatten)]
        db: DatabaseSettings,
    },
}

#[derive(Subcommand)]
pub enum MailCommand {
    /// List mails, newest first: when, status, kind, tenant, recipient, attempts, last error.
    List {
        /// One tenant, by its UUID, GraphQL id, slug or domain.
        #[arg(long)]
        tenant: Option<String>,
        /// pending (waiting: for SMTP, or for a retry), sent or failed.
        #[arg(long, value_enum)]
        status: Option<crate::db::models::mail::MailStatus>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        db: DatabaseSettings,
    },
}

#[derive(Subcommand)]
pub enum DevCommand {
    /// Seed tenants (enterprise plan, very high rate limits), users (password
    /// `seed-password-1234`; user1 is the owner) and workspaces with members, for benchmarks.
    Seed {
        #[arg(long, default_value_t = 100)]
        tenants: u32,
        #[arg(long, default_value_t = 100)]
        users_per_tenant: u32,
        #[arg(long, default_value_t = 5)]
        workspaces_per_tenant: u32,
        #[command(flatten)]
        db: DatabaseSettings,
    },
}

#[derive(Subcommand)]
pub enum MaintenanceCommand {
    /// Purge every deactivated tenant whose grace period has passed (one transaction each);
    /// with --tenant only that one (an error if it is not due); with --force --tenant X
    /// --confirm-domain DOMAIN that one at once, whatever its state.
    Purge {
        /// Purge the --tenant now, even before its grace period ends (needs --confirm-domain).
        #[arg(long, requires = "tenant")]
        force: bool,
        /// One tenant, by its UUID, GraphQL id, slug or domain (resolved like a login: id, then
        /// domain, then slug).
        #[arg(long)]
        tenant: Option<String>,
        /// The tenant's domain, typed again as confirmation of --force.
        #[arg(long, requires = "force")]
        confirm_domain: Option<String>,
        #[command(flatten)]
        db: DatabaseSettings,
    },
    /// Close ended billing periods (a period_closed event each) and start the next ones.
    ClosePeriods {
        #[command(flatten)]
        db: DatabaseSettings,
    },
    /// Ask every running replica to write its API-call counts now.
    FlushUsage {
        #[command(flatten)]
        db: DatabaseSettings,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key and delete keys whose last tokens have expired.
    Rotate(RotateArgs),
}

#[derive(Args)]
pub struct RotateArgs {
    #[arg(long, env = "HUB_KEYS_DIR", default_value = "./keys")]
    pub keys_dir: PathBuf,
    #[arg(long, env = "HUB_JWT_ALG", value_enum, default_value = "EdDSA")]
    pub jwt_alg: SigningAlg,
    /// Seconds before the new key starts signing; it is published at once, so replicas and
    /// product apps (which re-read the keys within HUB_KEYS_RELOAD_SECS) know it first.
    #[arg(long, default_value_t = 60)]
    pub activate_in_secs: u64,
    #[arg(long, env = "HUB_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,
    #[arg(long, env = "HUB_JWT_LEEWAY_SECS", default_value_t = 30)]
    pub leeway_secs: u64,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a platform admin, or set the password of an existing one. The password comes
    /// from HUB_ADMIN_PASSWORD or, when unset, from the first line of standard input; never argv.
    Create {
        /// The admin's email address, with which it logs in (`adminLogin`).
        #[arg(long)]
        email: String,
        #[command(flatten)]
        db: DatabaseSettings,
    },
    /// Enrol (or replace) a platform admin's authenticator app: prints one JSON line with the
    /// `otpauth://` URI and the secret, to scan or type into the app. From then on adminLogin
    /// asks for its code (and HUB_PLATFORM_ADMIN_REQUIRE_MFA refuses admins without one).
    Totp {
        /// The admin's email address.
        #[arg(long)]
        email: String,
        /// Where `secrets.key` is, when HUB_SECRETS_KEY is not set (as for `serve`).
        #[arg(long, env = "HUB_KEYS_DIR", default_value = "./keys")]
        keys_dir: PathBuf,
        #[arg(long, env = "HUB_SECRETS_KEY", hide_env_values = true)]
        secrets_key: Option<String>,
        #[command(flatten)]
        db: DatabaseSettings,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(settings) => {
            telemetry::init(settings.log_format);
            let app = Application::build(*settings).await?;
            tracing::info!(port = app.port(), "tenant-hub listening");
            app.run_until_stopped().await?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Migrate(db) => {
            telemetry::init(LogFormat::Text);
            println!("preparing {}", redact_url(&db.database_url));
            let s = bootstrap::prepare(&db).await?;
            for m in &s.migrations_applied {
                println!("  applied {m}");
            }
            println!(
                "done: database {}, {} migration(s) applied, application role {} ({}), \
                 system role {} ({})",
                if s.database_created {
                    "created"
                } else {
                    "existed"
                },
                s.migrations_applied.len(),
                s.app_role,
                if s.app_role_created {
                    "created"
                } else {
                    "existed"
                },
                s.system_role,
                if s.system_role_created {
                    "created"
                } else {
                    "existed"
                },
            );
            Ok(())
        }
        Command::ExportSchema { out } => {
            let sdl = graphql::sdl();
            match out {
                Some(path) => std::fs::write(&path, sdl)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{sdl}"),
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate(args)) => {
            let retention = Duration::from_secs(args.access_token_ttl_secs + args.leeway_secs);
            println!("rotating keys in {}", args.keys_dir.display());
            let s = keys::rotate(
                &args.keys_dir,
                args.jwt_alg,
                Duration::from_secs(args.activate_in_secs),
                retention,
            )?;
            for kid in &s.removed {
                println!("  removed {kid}: retired, and every token it signed has expired");
            }
            for k in &s.kept_keys {
                let why = match k.state {
                    keys::KeptState::Signing => "signs new tokens now".to_owned(),
                    keys::KeptState::Pending if k.kid == s.new_kid => {
                        format!("new: published now, signs from {}", rfc3339(k.activates_at))
                    }
                    keys::KeptState::Pending => {
                        format!("published, signs from {}", rfc3339(k.activates_at))
                    }
                    keys::KeptState::Retired {
                        retired_at,
                        verifies_until,
                    } => format!(
                        "retired at {}, still verifies the tokens it signed until {} (token lifetime + leeway)",
                        rfc3339(retired_at),
                        rfc3339(verifies_until)
                    ),
                };
                println!("  kept {}: {why}", k.kid);
            }
            println!(
                "done: new key {} signs from {}; {} key(s) kept, {} removed",
                s.new_kid,
                rfc3339(s.activates_at),
                s.kept,
                s.removed.len()
            );
            Ok(())
        }
        Command::Maintenance(MaintenanceCommand::Purge {
            force,
            tenant,
            confirm_domain,
            db,
        }) => {
            telemetry::init(LogFormat::Text);
            bootstrap::prepare(&db).await?;
            let pool = Db::connect(&db)?;
            let ctx = AuditContext::system();
            let due: Vec<(uuid::Uuid, Option<String>)> = if let Some(raw) = tenant {
                let key = TenantKey::parse(&raw);
                let row = pool
                    .system_tx(SystemReason::Operator, |conn| TenantRow::find_by_key(conn, &key).scope_boxed())
                    .await
                    .map_err(AppError::into_anyhow)?
                    .ok_or_else(|| {
                        anyhow::anyhow!("no tenant is named {raw:?} (by id, domain or slug), or it is purged already")
                    })?;
                let named = format!(
                    "tenant {} ({})",
                    row.id,
                    row.domain.as_deref().unwrap_or("-")
                );
                if force {
                    if row.domain.is_none()
                        || confirm_domain.map(|d| d.trim().to_lowercase()) != row.domain
                    {
                        bail!("--confirm-domain must be the domain of {named}");
                    }
                } else if row.status != "deactivated" {
                    bail!(
                        "{named} is {}: only a deactivated tenant is purged once its grace period has passed (or use --force --confirm-domain DOMAIN)",
                        row.status
                    );
                } else if let Some(after) = row.purge_after.filter(|t| *t > chrono::Utc::now()) {
                    bail!(
                        "{named} is deactivated, but its grace period ends at {}: purge it then, or now with --force --confirm-domain DOMAIN",
                        after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    );
                }
                vec![(row.id, row.domain)]
            } else {
                pool.system_tx(SystemReason::Operator, |conn| {
                    TenantRow::due_for_purge(conn, chrono::Utc::now()).scope_boxed()
                })
                .await
                .map_err(AppError::into_anyhow)?
                .into_iter()
                .map(|t| (t.id, t.domain))
                .collect()
            };
            println!("purging {} tenant(s)", due.len());
            let (mut purged, mut rows) = (0, 0);
            for (i, (id, domain)) in due.iter().enumerate() {
                match crate::ops::in_system(&pool, SystemReason::Operator, ctx.clone(), |tx| {
                    crate::ops::lifecycle::purge(tx, *id, force).scope_boxed()
                })
                .await
                .map(|done| done.value)
                {
                    Ok(n) => {
                        purged += 1;
                        rows += n;
                        println!(
                            "  [{}/{}] {id} ({}) purged: {n} rows",
                            i + 1,
                            due.len(),
                            domain.as_deref().unwrap_or("-")
                        );
                    }
                    Err(e) => println!("  [{}/{}] {id} failed: {:?}", i + 1, due.len(), e),
                }
            }
            println!(
                "done: {purged} of {} tenant(s) purged, {rows} rows deleted",
                due.len()
            );
            // A failed tenant stays due (its purge rolled back): the next run retries it, and
            // the exit status tells the scheduler.
            if purged < due.len() {
                anyhow::bail!("{} tenant(s) could not be purged", due.len() - purged);
            }
            Ok(())
        }
        Command::Maintenance(MaintenanceCommand::FlushUsage { db }) => {
            telemetry::init(LogFormat::Text);
            bootstrap::prepare(&db).await?;
            let pool = Db::connect(&db)?;
            let listening = pool
                .system_tx(SystemReason::Operator, |conn| {
                    async move {
                        let listening = crate::invalidation::listening_replicas(conn).await?;
                        crate::invalidation::notify(
                            conn,
                            &crate::invalidation::Invalidation::FlushUsage,
                        )
                        .await?;
                        audit::record_platform(
                            conn,
                            &AuditContext::system(),
                            AuditEvent::new(Action::PlatformUsageFlushed)
                                .details(serde_json::json!({ "replicas": listening })),
                        )
                        .await?;
                        Ok(listening)
                    }
                    .scope_boxed()
                })
                .await
                .map_err(AppError::into_anyhow)?;
            println!("done: asked {listening} listening replica(s) to flush their usage counts");
            Ok(())
        }
        Command::Maintenance(MaintenanceCommand::ClosePeriods { db }) => {
            telemetry::init(LogFormat::Text);
            bootstrap::prepare(&db).await?;
            let pool = Db::connect(&db)?;
            println!("closing ended billing periods");
            let closed = crate::billing::close_periods(&pool)
                .await
                .map_err(AppError::into_anyhow)?;
            println!("done: {closed} period(s) closed");
            Ok(())
        }
        Command::Mail(MailCommand::List {
            tenant,
            status,
            limit,
            db,
        }) => {
            telemetry::init(LogFormat::Text);
            bootstrap::prepare(&db).await?;
            let pool = Db::connect(&db)?;
            let tenant_id = match tenant {
                Some(raw) => {
                    let key = TenantKey::parse(&raw);
                    let row = pool
                        .system_tx(SystemReason::Operator, |conn| {
                            TenantRow::find_by_key(conn, &key).scope_boxed()
                        })
                        .await
                        .map_err(AppError::into_anyhow)?
                        .ok_or_else(|| anyhow::anyhow!("no tenant is named {raw:?}"))?;
                    Some(row.id)
                }
                None => None,
            };
            let mails = pool
                .system_tx(SystemReason::Operator, move |conn| {
                    crate::db::models::mail::MailRow::list(conn, tenant_id, status, limit.max(1))
                        .scope_boxed()
                })
                .await
                .map_err(AppError::into_anyhow)?;
            for m in &mails {
                println!(
                    "{}  {:<7}  {:<18}  {}  {}  attempts={}{}",
                    m.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    m.status().as_str(),
                    m.kind,
                    m.tenant_id,
                    m.recipient,
                    m.attempts,
                    m.last_error
                        .as_deref()
                        .map(|e| format!("  last_error={e}"))
                        .unwrap_or_default()
                );
            }
            println!("{} mail(s)", mails.len());
            Ok(())
        }
        Command::Dev(DevCommand::Seed {
            tenants,
            users_per_tenant,
            workspaces_per_tenant,
            db,
        }) => {
            telemetry::init(LogFormat::Text);
            println!(
                "seeding {tenants} tenants x {users_per_tenant} users, {workspaces_per_tenant} workspaces each"
            );
            let plan = crate::seed::SeedPlan {
                tenants,
                users_per_tenant,
                workspaces_per_tenant,
            };
            let done = crate::seed::run(&db, &plan).await?;
            println!(
                "done: {} tenant(s) created, {} already there; {} users added in {:.1} s (password {})",
                done.created,
                done.existing,
                done.created * u64::from(users_per_tenant.max(1)),
                done.secs,
                crate::seed::SEED_PASSWORD
            );
            Ok(())
        }
        Command::OAuthClient(OAuthClientCommand::Create {
            product,
            redirect_uris,
            public,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            db,
        }) => {
            telemetry::init(LogFormat::Text);
            let new = crate::ops::oauth_clients::parse_new(
                &product,
                public,
                &redirect_uris,
                &post_logout_redirect_uris,
                backchannel_logout_uri.as_deref(),
                None,
                None,
            )
            .map_err(AppError::into_anyhow)?;
            bootstrap::prepare(&db).await?;
            let pool = Db::connect(&db)?;
            let created = crate::ops::in_system(
                &pool,
                SystemReason::Operator,
                AuditContext::system(),
                |tx| crate::ops::oauth_clients::create(tx, new).scope_boxed(),
            )
            .await
            .map_err(AppError::into_anyhow)?
            .value;
            let mut line = serde_json::json!({ "client_id": created.client.client_id() });
            if let Some(secret) = created.secret {
                line["client_secret"] = serde_json::Value::String(secret);
            }
            println!("{line}");
            Ok(())
        }
        Command::Admin(AdminCommand::Totp {
            email,
            keys_dir,
            secrets_key,
            db,
        }) => {
            telemetry::init(LogFormat::Text);
            bootstrap::prepare(&db).await?;
            let secrets = crate::secrets::SecretBox::load(
                secrets_key.as_deref(),
                &keys_dir.join("secrets.key"),
            )?;
            let db = Db::connect(&db)?;
            let enrolled =
                crate::ops::admin_sessions::enrol_platform_admin_totp(&db, &secrets, &email)
                    .await
                    .map_err(AppError::into_anyhow)?;
            println!(
                "{}",
                serde_json::json!({
                    "admin_id": enrolled.admin_id,
                    "otpauth_uri": enrolled.otpauth_uri,
                    "secret": enrolled.secret_base32,
                })
            );
            Ok(())
        }
        Command::Admin(AdminCommand::Create { email, db }) => {
            telemetry::init(LogFormat::Text);
            let email = Email::parse("email", &email)?;
            let raw = match std::env::var("HUB_ADMIN_PASSWORD") {
                Ok(p) => p,
                Err(_) => read_password_line()?,
            };
            let password = NewPassword::parse("password", &raw, Some(email.as_str()))?;
            bootstrap::prepare(&db).await?;
            let hash = password::hash(&password)
                .await
                .map_err(AppError::into_anyhow)?;
            let db = Db::connect(&db)?;
            let (row, created) = db
                .system_tx(SystemReason::Operator, move |conn| {
                    async move {
                        let (row, created) =
                            PlatformAdminRow::upsert(conn, email.as_str(), &hash).await?;
                        let action = if created {
                            Action::PlatformAdminCreated
                        } else {
                            Action::PlatformAdminPasswordSet
                        };
                        audit::record_platform(
                            conn,
                            &AuditContext::system(),
                            AuditEvent::new(action).target("platform_admin", row.id),
                        )
                        .await?;
                        Ok((row, created))
                    }
                    .scope_boxed()
                })
                .await
                .map_err(AppError::into_anyhow)?;
            if row.disabled_at.is_some() {
                bail!("admin {} exists but is disabled", row.email);
            }
            println!(
                "done: platform admin {} {} (id {})",
                row.email,
                if created { "created" } else { "updated" },
                row.id
            );
            Ok(())
        }
    }
}

/// The password of `admin create` when HUB_ADMIN_PASSWORD is not set: typed without echo on a
/// terminal, else the first line of standard input (the line is read, not the whole stream).
fn read_password_line() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password("password: ")?);
    }
    eprintln!("password (one line on standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// A unix time as RFC 3339 in UTC (`2026-12-01T10:47:40Z`).
fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
}

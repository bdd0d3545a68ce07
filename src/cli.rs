//! The command line: `serve`, `migrate`, `export-schema`, `keys rotate`, `admin create`.
//! Every setting is also an environment variable (see `tenant-hub serve --help`).

use std::{io::Read, path::PathBuf, time::Duration};

use crate::db::ScopedFutureExt;
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::{
    app::Application,
    auth::{keys, password},
    config::{DatabaseSettings, LogFormat, Settings, SigningAlg, redact_url},
    db::{
        Db,
        audit::{self, AuditContext, AuditEvent},
        bootstrap,
        models::PlatformAdminRow,
    },
    domain::{Email, NewPassword},
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
        #[arg(long)]
        email: String,
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
                "done: database {}, {} migration(s) applied, application role {} ({})",
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
                println!("  removed expired key {kid}");
            }
            println!(
                "done: new key {} (signs from unix time {}), {} key(s) kept, {} removed",
                s.new_kid,
                s.activates_at,
                s.kept,
                s.removed.len()
            );
            Ok(())
        }
        Command::Admin(AdminCommand::Create { email, db }) => {
            telemetry::init(LogFormat::Text);
            let email = Email::parse("email", &email).map_err(|e| anyhow::anyhow!(e.message))?;
            let raw = match std::env::var("HUB_ADMIN_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    eprintln!("password (one line on standard input):");
                    let mut line = String::new();
                    std::io::stdin().read_to_string(&mut line)?;
                    line.lines().next().unwrap_or_default().to_owned()
                }
            };
            let password = NewPassword::parse("password", &raw, Some(email.as_str()))
                .map_err(|e| anyhow::anyhow!(e.message))?;
            bootstrap::prepare(&db).await?;
            let hash = password::hash(&password)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let db = Db::connect(&db)?;
            let (row, created) = db
                .system_tx(move |conn| {
                    async move {
                        let (row, created) =
                            PlatformAdminRow::upsert(conn, email.as_str(), &hash).await?;
                        let action = if created {
                            "platform.admin_created"
                        } else {
                            "platform.admin_password_set"
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
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
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

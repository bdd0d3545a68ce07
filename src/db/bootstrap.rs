//! Making a database ready: create it when missing, run the embedded migrations, and make sure
//! the hub's roles exist with exactly their grants. Used by `serve` and `migrate`, and by the
//! test harness to build its template database.
//!
//! Everything here connects with `DATABASE_URL` (an owner or superuser), never as the app role.
//!
//! Roles are cluster-wide while grants are per database, and many databases of one server (test
//! databases, replicas starting together) are prepared at once: roles are created and checked
//! under an advisory lock taken in the server's maintenance database `postgres`, which every
//! database's preparation shares (an advisory lock of one database does not exclude another's).

use anyhow::{Context, anyhow, bail};
use diesel::{
    QueryableByName,
    sql_types::{Bool, Text},
};
use diesel_async::{
    AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    async_connection_wrapper::AsyncConnectionWrapper,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::{DatabaseSettings, redact_url};

/// The migrations under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The roles' privileges in one database; `{role}`, `{purge_role}` and `{database}` stand for
/// quoted identifiers.
pub const GRANTS_SQL: &str = include_str!("grants.sql");

/// The NOLOGIN role that owns `hub_purge_tenant` (SECURITY DEFINER): not a superuser, no
/// BYPASSRLS, allowed only what the purge does (`grants.sql`).
pub const PURGE_ROLE: &str = "tenant_hub_purge";

/// Serialises concurrent migration runs (several replicas starting at once).
const MIGRATION_LOCK_KEY: i64 = 0x7465_6e61_6e74_6875; // "tenanthu"

/// Serialises the creation and checks of the cluster-wide roles (taken in the maintenance
/// database, so it spans every database of the server).
const ROLES_LOCK_KEY: i64 = 0x7465_6e61_6e74_726c; // "tenantrl"

/// What [`prepare`] did, for the command's summary line.
#[derive(Debug, Default)]
pub struct PrepareSummary {
    pub database_created: bool,
    pub migrations_applied: Vec<String>,
    pub app_role: String,
    pub app_role_created: bool,
}

/// Creates the database if needed, migrates it and sets up the application role.
pub async fn prepare(settings: &DatabaseSettings) -> anyhow::Result<PrepareSummary> {
    let mut summary = PrepareSummary {
        database_created: ensure_database(&settings.database_url).await?,
        ..Default::default()
    };
    summary.migrations_applied = migrate(&settings.database_url).await?;
    let app_url = url::Url::parse(&settings.app_url()?).context("HUB_APP_DATABASE_URL")?;
    let role = app_url.username().to_owned();
    if role.is_empty() {
        bail!("HUB_APP_DATABASE_URL names no user: the application role is required");
    }
    {
        let mut cluster = connect(&maintenance_url(&settings.database_url)?).await?;
        let mut created = false;
        cluster
            .transaction(async |conn| {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({ROLES_LOCK_KEY})"))
                    .execute(conn)
                    .await?;
                created = ensure_app_role(conn, &role, app_url.password()).await?;
                ensure_nologin_role(conn, PURGE_ROLE).await?;
                Ok::<_, anyhow::Error>(())
            })
            .await?;
        summary.app_role_created = created;
    }
    let mut conn = connect(&settings.database_url).await?;
    apply_grants(&mut conn, &database_name(&settings.database_url)?, &role).await?;
    summary.app_role = role;
    Ok(summary)
}

/// `url` with the server's maintenance database `postgres` in place of its own.
fn maintenance_url(url: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url).context("DATABASE_URL is not a URL")?;
    parsed.set_path("/postgres");
    Ok(parsed.to_string())
}

fn database_name(url: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(url).context("DATABASE_URL is not a URL")?;
    let name = percent_decode(parsed.path().trim_start_matches('/'));
    if name.is_empty() {
        bail!("DATABASE_URL names no database: {}", redact_url(url));
    }
    Ok(name)
}

/// Opens one connection, with an error that names the server (without password) and the cause.
pub async fn connect(url: &str) -> anyhow::Result<AsyncPgConnection> {
    AsyncPgConnection::establish(url)
        .await
        .map_err(|e| anyhow!("cannot connect to PostgreSQL at {}: {e}", redact_url(url)))
}

/// Creates the database named by `url` if it does not exist. Returns whether it created it.
pub async fn ensure_database(url: &str) -> anyhow::Result<bool> {
    let parsed = url::Url::parse(url).context("DATABASE_URL is not a URL")?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    if name.is_empty() {
        bail!("DATABASE_URL names no database: {}", redact_url(url));
    }
    let mut maintenance = parsed.clone();
    maintenance.set_path("/postgres");
    // The error names the database asked for (its server is the maintenance one's).
    let mut conn = AsyncPgConnection::establish(maintenance.as_str())
        .await
        .map_err(|e| {
            anyhow!(
                "cannot connect to PostgreSQL at {} (through its maintenance database \
                 postgres): {e}",
                redact_url(url)
            )
        })?;

    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = Bool)]
        exists: bool,
    }
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(&name)
            .get_result(&mut conn)
            .await?;
    if found.exists {
        return Ok(false);
    }
    match conn
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
        .await
    {
        Ok(()) => Ok(true),
        // Another process created it in the meantime.
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("already exists") =>
        {
            Ok(false)
        }
        Err(e) => Err(anyhow!("cannot create database {name}: {e}")),
    }
}

/// Runs the pending embedded migrations under an advisory lock; returns their names.
pub async fn migrate(url: &str) -> anyhow::Result<Vec<String>> {
    // Fails early, with the clear message, when the server is unreachable.
    drop(connect(url).await?);
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)
                .map_err(|e| {
                    anyhow!("cannot connect to PostgreSQL at {}: {e}", redact_url(&url))
                })?;
        diesel::RunQueryDsl::execute(
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")),
            &mut conn,
        )?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow!("migration failed: {e}"))
            .map(|versions| versions.iter().map(|v| v.to_string()).collect());
        diesel::RunQueryDsl::execute(
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")),
            &mut conn,
        )?;
        applied
    })
    .await?
}

#[derive(QueryableByName)]
struct RoleAttrs {
    #[diesel(sql_type = Bool)]
    rolsuper: bool,
    #[diesel(sql_type = Bool)]
    rolbypassrls: bool,
    #[diesel(sql_type = Bool)]
    rolcanlogin: bool,
}

/// Makes sure the application role exists as a plain LOGIN role. Refuses to go on when the
/// configured role is a superuser or may bypass RLS: isolation would silently be off. Callers
/// hold the roles lock of [`prepare`]; a concurrent creator without it is tolerated.
pub async fn ensure_app_role(
    conn: &mut AsyncPgConnection,
    role: &str,
    password: Option<&str>,
) -> anyhow::Result<bool> {
    let existing = role_attrs(conn, role).await?;
    let created = if existing.is_none() {
        let password_clause = match password {
            Some(p) => format!(" PASSWORD {}", quote_literal(&percent_decode(p))),
            None => String::new(),
        };
        let sql = format!(
            "CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT{password_clause}",
            quote_ident(role)
        );
        match conn.batch_execute(&sql).await {
            Ok(()) => true,
            // Roles are cluster-wide: a concurrent creator (another test database, another
            // replica) may have won the race; the checks below hold for its role too.
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("already exists")
                    || info.message().contains("duplicate key") =>
            {
                false
            }
            Err(e) => return Err(anyhow!("cannot create role {role}: {e}")),
        }
    } else {
        false
    };
    let attrs = role_attrs(conn, role)
        .await?
        .ok_or_else(|| anyhow!("role {role} vanished"))?;
    if attrs.rolsuper || attrs.rolbypassrls {
        bail!(
            "the application role {role} is a superuser or has BYPASSRLS: row-level security \
             would not apply to it; use a plain role"
        );
    }
    if !attrs.rolcanlogin {
        bail!("the application role {role} cannot log in (ALTER ROLE {role} LOGIN)");
    }
    Ok(created)
}

/// Makes sure `role` exists as a NOLOGIN role that is not a superuser and cannot bypass RLS
/// (created so when missing; refused when someone gave it more).
pub async fn ensure_nologin_role(conn: &mut AsyncPgConnection, role: &str) -> anyhow::Result<()> {
    if role_attrs(conn, role).await?.is_none() {
        conn.batch_execute(&format!(
            "CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT",
            quote_ident(role)
        ))
        .await
        .with_context(|| format!("cannot create role {role}"))?;
    }
    let attrs = role_attrs(conn, role)
        .await?
        .ok_or_else(|| anyhow!("role {role} vanished"))?;
    if attrs.rolsuper || attrs.rolbypassrls || attrs.rolcanlogin {
        bail!(
            "the role {role} must be NOLOGIN, not a superuser and without BYPASSRLS \
             (ALTER ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS)"
        );
    }
    Ok(())
}

async fn role_attrs(conn: &mut AsyncPgConnection, role: &str) -> anyhow::Result<Option<RoleAttrs>> {
    let rows: Vec<RoleAttrs> = diesel::sql_query(
        "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1",
    )
    .bind::<Text, _>(role)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next())
}

/// Applies `grants.sql` in `database` (the one `conn` is connected to) for the application role
/// `role` and the purge function's owner.
pub async fn apply_grants(
    conn: &mut AsyncPgConnection,
    database: &str,
    role: &str,
) -> anyhow::Result<()> {
    let sql = GRANTS_SQL
        .replace("{role}", &quote_ident(role))
        .replace("{purge_role}", &quote_ident(PURGE_ROLE))
        .replace("{database}", &quote_ident(database));
    conn.transaction(async |conn| conn.batch_execute(&sql).await)
        .await
        .with_context(|| format!("cannot grant privileges to {role}"))
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

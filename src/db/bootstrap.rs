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

/// The roles' privileges in one database, applied once per login role; `{role}`,
/// `{system_role}`, `{purge_role}` and `{database}` stand for quoted identifiers.
pub const GRANTS_SQL: &str = include_str!("grants.sql");

/// The NOLOGIN role that owns `hub_purge_tenant` (SECURITY DEFINER): not a superuser, no
/// BYPASSRLS, allowed only what the purge does (`grants.sql`).
pub const PURGE_ROLE: &str = "tenant_hub_purge";

/// The NOLOGIN group whose members' `app.scope = 'system'` opens every tenant's rows (the scope
/// functions of migration 2026-12-01-000002 test membership): the system login role and
/// [`PURGE_ROLE`], never the application role. It holds no privileges itself.
pub const SYSTEM_SCOPE_ROLE: &str = "tenant_hub_system_scope";

/// Serialises concurrent migration runs (several replicas starting at once).
const MIGRATION_LOCK_KEY: i64 = 0x7465_6e61_6e74_6875; // "tenanthu"

/// Serialises the creation and checks of the cluster-wide roles (taken in the maintenance
/// database, so it spans every database of the server).
const ROLES_LOCK_KEY: i64 = 0x7465_6e61_6e74_726c; // "tenantrl"
/// Held (in the prepared database, for one transaction) while its grants are applied: two
/// replicas starting together would otherwise update the same catalog rows at once, and one
/// of them fail with "tuple concurrently updated".
const GRANTS_LOCK_KEY: i64 = 0x7465_6e61_6e74_6772; // "tenantgr"

/// What [`prepare`] did, for the command's summary line.
#[derive(Debug, Default)]
pub struct PrepareSummary {
    pub database_created: bool,
    pub migrations_applied: Vec<String>,
    pub app_role: String,
    pub app_role_created: bool,
    pub system_role: String,
    pub system_role_created: bool,
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
    let system_url = url::Url::parse(&settings.system_url()?).context("HUB_SYSTEM_DATABASE_URL")?;
    let system_role = system_url.username().to_owned();
    if system_role.is_empty() {
        bail!("HUB_SYSTEM_DATABASE_URL names no user: the system role is required");
    }
    if system_role == role {
        bail!(
            "HUB_SYSTEM_DATABASE_URL and HUB_APP_DATABASE_URL name the same role {role}: the \
             system scope needs a role of its own, or the tenant role's credentials could read \
             every tenant"
        );
    }
    {
        let mut cluster = connect(&maintenance_url(&settings.database_url)?).await?;
        let (app_created, system_created) = cluster
            .transaction(async |conn| {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({ROLES_LOCK_KEY})"))
                    .execute(conn)
                    .await?;
                let app = ensure_app_role(conn, &role, app_url.password()).await?;
                let system = ensure_app_role(conn, &system_role, system_url.password()).await?;
                ensure_nologin_role(conn, PURGE_ROLE).await?;
                ensure_nologin_role(conn, SYSTEM_SCOPE_ROLE).await?;
                ensure_member(conn, SYSTEM_SCOPE_ROLE, &system_role).await?;
                ensure_member(conn, SYSTEM_SCOPE_ROLE, PURGE_ROLE).await?;
                if is_member(conn, SYSTEM_SCOPE_ROLE, &role).await? {
                    bail!(
                        "the application role {role} is a member of {SYSTEM_SCOPE_ROLE}: it \
                         could enter the system scope and read every tenant \
                         (REVOKE {SYSTEM_SCOPE_ROLE} FROM {role})"
                    );
                }
                Ok::<_, anyhow::Error>((app, system))
            })
            .await?;
        summary.app_role_created = app_created;
        summary.system_role_created = system_created;
    }
    let mut conn = connect(&settings.database_url).await?;
    let database = database_name(&settings.database_url)?;
    for login in [&role, &system_role] {
        apply_grants(&mut conn, &database, login, &system_role).await?;
        ensure_owns_nothing(&mut conn, login).await?;
    }
    summary.app_role = role;
    summary.system_role = system_role;
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

/// Makes sure a login role (the application role, the system role) exists as a plain LOGIN
/// role. Refuses to go on when the configured role is a superuser or may bypass RLS: isolation
/// would silently be off. Callers hold the roles lock of [`prepare`]; a concurrent creator
/// without it is tolerated.
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
            "the role {role} is a superuser or has BYPASSRLS: row-level security would not \
             apply to it; use a plain role"
        );
    }
    if !attrs.rolcanlogin {
        bail!("the role {role} cannot log in (ALTER ROLE {role} LOGIN)");
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

/// Makes `member` a member of `group` when it is not yet one (no privileges flow: the login
/// roles are NOINHERIT and the group holds none).
async fn ensure_member(
    conn: &mut AsyncPgConnection,
    group: &str,
    member: &str,
) -> anyhow::Result<()> {
    if !is_member(conn, group, member).await? {
        conn.batch_execute(&format!(
            "GRANT {} TO {}",
            quote_ident(group),
            quote_ident(member)
        ))
        .await
        .with_context(|| format!("cannot make {member} a member of {group}"))?;
    }
    Ok(())
}

/// Whether `member` is a member of `group`, directly or through other roles.
async fn is_member(
    conn: &mut AsyncPgConnection,
    group: &str,
    member: &str,
) -> anyhow::Result<bool> {
    #[derive(QueryableByName)]
    struct Member {
        #[diesel(sql_type = Bool)]
        member: bool,
    }
    let found: Member = diesel::sql_query("SELECT pg_has_role($2, $1, 'MEMBER') AS member")
        .bind::<Text, _>(group)
        .bind::<Text, _>(member)
        .get_result(conn)
        .await?;
    Ok(found.member)
}

/// Refuses a login role that owns anything in this database (the database itself, a schema,
/// a table, a function, a type): an owner is not held by RLS and can change the rules.
pub async fn ensure_owns_nothing(conn: &mut AsyncPgConnection, role: &str) -> anyhow::Result<()> {
    #[derive(QueryableByName)]
    struct Owned {
        #[diesel(sql_type = Text)]
        object: String,
    }
    let owned: Vec<Owned> = diesel::sql_query(
        "SELECT 'database ' || datname AS object FROM pg_database
           WHERE datname = current_database() AND datdba = $1::regrole
         UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspowner = $1::regrole
         UNION ALL SELECT 'relation ' || relname FROM pg_class WHERE relowner = $1::regrole
         UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proowner = $1::regrole
         UNION ALL SELECT 'type ' || typname FROM pg_type WHERE typowner = $1::regrole
         LIMIT 5",
    )
    .bind::<Text, _>(quote_ident(role))
    .load(conn)
    .await?;
    if !owned.is_empty() {
        let list: Vec<_> = owned.into_iter().map(|o| o.object).collect();
        bail!(
            "the role {role} owns {}: an owner is not held by row-level security; give them \
             to the migrating role (REASSIGN OWNED BY {role} TO ...)",
            list.join(", ")
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

/// Applies `grants.sql` in `database` (the one `conn` is connected to) for the login role
/// `role` (the application or the system role), the system role and the purge function's
/// owner.
pub async fn apply_grants(
    conn: &mut AsyncPgConnection,
    database: &str,
    role: &str,
    system_role: &str,
) -> anyhow::Result<()> {
    let sql = GRANTS_SQL
        .replace("{role}", &quote_ident(role))
        .replace("{system_role}", &quote_ident(system_role))
        .replace("{purge_role}", &quote_ident(PURGE_ROLE))
        .replace("{database}", &quote_ident(database));
    conn.transaction(async |conn| {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({GRANTS_LOCK_KEY})"))
            .execute(conn)
            .await?;
        conn.batch_execute(&sql).await
    })
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

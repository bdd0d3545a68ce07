//! The test harness: every test gets its own database, cloned from a template that is migrated
//! once (per migration set), and the real HTTP server on 127.0.0.1:0, whose pool logs in as the
//! application role. The database is dropped when the test's [`TestApp`] goes out of scope.
//!
//! `HUB_TEST_PG` names the server (default `postgres://postgres@127.0.0.1:5432`, a superuser).

#![allow(dead_code)]

use std::{path::PathBuf, sync::Arc, time::Duration};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tenant_hub::{Application, Settings, app::AppState, config::DatabaseSettings, db::bootstrap};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub mod browser;
mod documents;
pub mod pages;
pub mod smtp;
mod webhook;
pub use documents::{
    all_operations, committed_schema, document_files, mutation_fields, operation, root_field,
};
pub use webhook::{Received, Receiver};

pub const PASSWORD: &str = "correct horse battery staple";

pub fn pg_base() -> String {
    std::env::var("HUB_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

pub fn db_url(name: &str) -> String {
    format!("{}/{name}", pg_base())
}

/// A connection as the superuser to `database`.
pub async fn superuser(database: &str) -> tokio_postgres::Client {
    connect(&db_url(database)).await
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(conn);
    client
}

/// The template's name changes with the migrations and grants, so a stale template is never used.
fn template_name() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = walk(&root.join("migrations"));
    files.push(root.join("src/db/grants.sql"));
    files.sort();
    let mut hasher = Sha256::new();
    for f in files {
        hasher.update(f.strip_prefix(&root).unwrap().to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&f).unwrap());
    }
    let digest = hasher.finalize();
    format!(
        "tenant_hub_tpl_{}",
        digest
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// Builds the template database once; other processes wait on an advisory lock.
async fn template() -> String {
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let admin = superuser("postgres").await;
            admin.execute("SELECT pg_advisory_lock(747)", &[]).await.unwrap();
            let exists = admin
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await
                .unwrap()
                .is_some();
            // Templates of older migration sets are of no further use, unless several checkouts
            // share this server (HUB_TEST_KEEP_TEMPLATES=1), each with its own migrations.
            let drop_stale = std::env::var("HUB_TEST_KEEP_TEMPLATES").as_deref() != Ok("1");
            if !exists && drop_stale {
                let stale = admin
                    .query("SELECT datname::text FROM pg_database WHERE datname LIKE 'tenant_hub_tpl_%' AND datname <> $1", &[&name])
                    .await
                    .unwrap();
                for row in stale {
                    let old: String = row.get(0);
                    let _ = admin
                        .batch_execute(&format!("ALTER DATABASE {old} IS_TEMPLATE false; DROP DATABASE IF EXISTS {old}"))
                        .await;
                }
            }
            if !exists {
                let building = format!("{name}_build");
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await.unwrap();
                let settings = db_settings(&building);
                bootstrap::prepare(&settings).await.expect("template migrates");
                // Autovacuum or a closing build connection may still be on it: retry.
                for sql in [
                    format!("ALTER DATABASE {building} RENAME TO {name}"),
                    format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"),
                ] {
                    for attempt in 1.. {
                        match admin.batch_execute(&sql).await {
                            Ok(()) => break,
                            Err(_) if attempt < 50 => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                            Err(e) => panic!("cannot finish the template ({sql}): {e:?}"),
                        }
                    }
                }
            }
            admin.execute("SELECT pg_advisory_unlock(747)", &[]).await.unwrap();
            name
        })
        .await
        .clone()
}

pub fn db_settings(database: &str) -> DatabaseSettings {
    DatabaseSettings {
        database_url: db_url(database),
        app_database_url: None,
        system_database_url: None,
        system_pool_size: 2,
        pool_size: 4,
        statement_timeout_ms: 5_000,
        acquire_timeout_ms: 3_000,
        statement_cache: true,
        listen_database_url: None,
    }
}

/// A fresh database cloned from the template; dropped by the returned guard.
pub async fn fresh_database() -> TestDb {
    let template = template().await;
    let name = format!("tenant_hub_test_{}", Uuid::new_v4().simple());
    let admin = superuser("postgres").await;
    // A clone fails while another session (e.g. autovacuum, or a build connection still
    // closing) is connected to the template: retry a few times.
    for attempt in 1.. {
        match admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
        {
            Ok(()) => break,
            Err(e)
                if attempt < 20 && format!("{e:?}").contains("being accessed by other users") =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot clone the template: {e:?}"),
        }
    }
    TestDb { name }
}

/// Drops its database (terminating connections) when dropped, also when the test panics.
pub struct TestDb {
    pub name: String,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let admin = superuser("postgres").await;
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

/// Settings for a test server on `database`.
pub fn test_settings(database: &str, keys_dir: &std::path::Path) -> Settings {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        settings: Settings,
    }
    let mut s = Wrapper::parse_from(["test"]).settings;
    s.db = db_settings(database);
    s.tokens.keys_dir = keys_dir.to_owned();
    s.bind = "127.0.0.1:0".to_owned();
    s.metrics_bind = Some("127.0.0.1:0".to_owned());
    s.workers = 1;
    s
}

pub struct TestApp {
    pub address: String,
    /// The metrics listener's base URL (HUB_METRICS_BIND), when it is on.
    pub metrics_address: Option<String>,
    pub port: u16,
    pub client: reqwest::Client,
    pub state: Arc<AppState>,
    pub keys_dir: PathBuf,
    handle: actix_web::dev::ServerHandle,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    // Dropped last: the database outlives the server.
    pub db: TestDb,
}

impl TestApp {
    pub fn db_name(&self) -> &str {
        &self.db.name
    }

    /// The text of `/metrics`, from the metrics listener.
    pub async fn metrics(&self) -> String {
        let address = self
            .metrics_address
            .as_deref()
            .expect("the metrics listener is on (test_settings sets HUB_METRICS_BIND)");
        self.client
            .get(format!("{address}/metrics"))
            .send()
            .await
            .expect("/metrics answers")
            .text()
            .await
            .expect("a text body")
    }

    /// POSTs a GraphQL request, with a Bearer token when given; returns the JSON body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.gql_response(token, query, variables)
            .await
            .json()
            .await
            .expect("JSON body")
    }

    pub async fn gql_response(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    /// Creates a tenant through createTenant and logs its owner in.
    pub async fn signup(&self, slug: &str) -> TenantFixture {
        let domain = format!("{slug}.example.com");
        let email = format!("owner@{domain}");
        let body = self
            .gql(
                None,
                operation("SignUp"),
                json!({ "input": { "name": slug, "domain": domain, "ownerEmail": email, "ownerPassword": PASSWORD } }),
            )
            .await;
        let created = &body["data"]["createTenant"];
        assert!(created.is_object(), "createTenant failed: {body}");
        let login = self.login(&domain, &email, PASSWORD).await;
        TenantFixture {
            id: created["tenant"]["id"].as_str().unwrap().to_owned(),
            uuid: created["tenant"]["uuid"].as_str().unwrap().parse().unwrap(),
            owner_id: created["owner"]["id"].as_str().unwrap().to_owned(),
            owner_uuid: created["owner"]["uuid"].as_str().unwrap().parse().unwrap(),
            default_workspace_id: created["defaultWorkspace"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            domain,
            owner_email: email,
            token: login["accessToken"].as_str().unwrap().to_owned(),
            refresh_token: login["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    /// Stops the server as SIGTERM would (graceful) and waits until it has shut down.
    pub async fn stop(&mut self) {
        self.handle.stop(true).await;
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran");
        }
    }

    /// The id of the role called `name` in the token's tenant.
    pub async fn role_id(&self, token: &str, name: &str) -> String {
        let body = self
            .gql(Some(token), operation("RoleNames"), json!({}))
            .await;
        body["data"]["roles"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("roles failed: {body}"))
            .iter()
            .find(|e| e["node"]["name"] == name)
            .unwrap_or_else(|| panic!("no role {name}: {body}"))["node"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates an active user with the named tenant-wide roles (password [`PASSWORD`]) and
    /// logs it in; returns its id and access token.
    pub async fn add_user(
        &self,
        tenant: &TenantFixture,
        email: &str,
        roles: &[&str],
    ) -> (String, String) {
        let mut role_ids = Vec::new();
        for r in roles {
            role_ids.push(self.role_id(&tenant.token, r).await);
        }
        let body = self
            .gql(
                Some(&tenant.token),
                operation("CreateUser"),
                json!({ "i": { "email": email, "password": PASSWORD, "roleIds": role_ids } }),
            )
            .await;
        let id = body["data"]["createUser"]["user"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("createUser failed: {body}"))
            .to_owned();
        let login = self.login(&tenant.domain, email, PASSWORD).await;
        (id, login["accessToken"].as_str().unwrap().to_owned())
    }

    /// Logs in; panics with the body when it fails.
    pub async fn login(&self, tenant: &str, email: &str, password: &str) -> Value {
        let body = self.try_login(tenant, email, password).await;
        assert!(body["data"]["login"].is_object(), "login failed: {body}");
        body["data"]["login"].clone()
    }

    pub async fn try_login(&self, tenant: &str, email: &str, password: &str) -> Value {
        self.gql(
            None,
            operation("LogIn"),
            json!({ "input": { "tenant": tenant, "email": email, "password": password } }),
        )
        .await
    }

    /// A superuser connection to this test's database (bypasses RLS: for fixtures and checks).
    pub async fn superuser(&self) -> tokio_postgres::Client {
        superuser(&self.db.name).await
    }

    /// A connection as the application role (RLS applies).
    pub async fn app_role(&self) -> tokio_postgres::Client {
        connect(&self.state.settings.db.app_url().unwrap()).await
    }

    /// Creates a platform admin directly and logs it in; returns its token.
    pub async fn platform_admin(&self, email: &str) -> String {
        let hash = tenant_hub::auth::password::hash(
            &tenant_hub::domain::NewPassword::parse("p", PASSWORD, None).unwrap(),
        )
        .await
        .unwrap();
        self.superuser()
            .await
            .execute(
                "INSERT INTO platform_admins (email, password_hash) VALUES ($1, $2)",
                &[&email, &hash],
            )
            .await
            .unwrap();
        let body = self
            .gql(
                None,
                operation("AdminLogIn"),
                json!({ "e": email, "p": PASSWORD }),
            )
            .await;
        body["data"]["adminLogin"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("adminLogin failed: {body}"))
            .to_owned()
    }
}

pub struct TenantFixture {
    /// The opaque GraphQL id.
    pub id: String,
    pub uuid: Uuid,
    pub owner_id: String,
    pub owner_uuid: Uuid,
    pub default_workspace_id: String,
    pub domain: String,
    pub owner_email: String,
    pub token: String,
    pub refresh_token: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        drop(handle.stop(false));
        let _ = std::fs::remove_dir_all(&self.keys_dir);
    }
}

pub fn temp_keys_dir() -> PathBuf {
    std::env::temp_dir().join(format!("tenant-hub-keys-{}", Uuid::new_v4().simple()))
}

/// The real server on a fresh database, with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The real server on a fresh database; `configure` adjusts the settings first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = fresh_database().await;
    let keys_dir = temp_keys_dir();
    let mut settings = test_settings(&db.name, &keys_dir);
    configure(&mut settings);
    start(settings, db, keys_dir).await
}

/// Starts the server with `settings` on the database that `db` owns.
pub async fn start(settings: Settings, db: TestDb, keys_dir: PathBuf) -> TestApp {
    let app = Application::build(settings).await.expect("the hub starts");
    let port = app.port();
    let metrics_address = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
    let state = app.state();
    let handle = app.server_handle();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        metrics_address,
        port,
        client: reqwest::Client::new(),
        state,
        keys_dir,
        handle,
        server: Some(server),
        db,
    }
}

/// The first error's `extensions.code` of a GraphQL body, if it has one (for polls, where a
/// successful answer means "not yet").
#[allow(dead_code)]
pub fn maybe_error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// The first error's `extensions.code` of a GraphQL body.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// The first column of the first row of `sql` (a `count(*)`), run as the superuser on the test's
/// database, so past RLS.
pub async fn count(app: &TestApp, sql: &str) -> i64 {
    app.superuser()
        .await
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// Polls (bounded, 5 s) until `check` holds; returns whether it did.
pub async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

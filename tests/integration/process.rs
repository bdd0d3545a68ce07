//! The `tenant-hub` binary as operators run it: `serve` on a database that does not exist yet
//! (created and migrated), JSON logs whose request lines carry the request id, a graceful stop
//! on SIGTERM, one clear line for an unreachable database, and two hub processes on one
//! database telling each other of changes (PostgreSQL LISTEN/NOTIFY).

use crate::common;

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    thread::JoinHandle,
    time::Duration,
};

use common::{PASSWORD, TestDb, db_url, eventually, operation, superuser, temp_keys_dir};
use serde_json::{Value, json};
use uuid::Uuid;

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `tenant-hub serve` process with JSON logs, killed when dropped.
struct Hub {
    child: Child,
    base: String,
    logs: Option<JoinHandle<Vec<String>>>,
    client: reqwest::Client,
}

impl Hub {
    /// Starts the hub on `database` and waits (bounded) until it is ready.
    async fn start(database: &str, keys: &Path, env: &[(&str, &str)]) -> Hub {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tenant-hub"));
        command
            .arg("serve")
            .env("DATABASE_URL", db_url(database))
            .env_remove("HUB_APP_DATABASE_URL")
            .env_remove("HUB_SYSTEM_DATABASE_URL")
            .env("HUB_BIND", format!("127.0.0.1:{port}"))
            // Replicas share one public URL: the issuer of every token they sign.
            .env("HUB_PUBLIC_URL", "http://hub.process.test")
            .env("HUB_LOG_FORMAT", "json")
            .env("HUB_KEYS_DIR", keys)
            .env("HUB_WORKERS", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        let mut hub = Hub {
            child,
            base: format!("http://127.0.0.1:{port}"),
            logs: Some(logs),
            client: reqwest::Client::new(),
        };
        for _ in 0..600 {
            if let Ok(r) = hub.client.get(format!("{}/readyz", hub.base)).send().await
                && r.status() == 200
            {
                return hub;
            }
            if hub.child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = hub.child.kill();
        panic!("the hub did not become ready: {:?}", hub.logs());
    }

    async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns whether it exited cleanly.
    async fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// The log lines so far (after the process ended: all of them).
    fn logs(&mut self) -> Vec<String> {
        let _ = self.child.kill();
        self.logs
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_creates_its_database_logs_json_with_request_ids_and_stops_on_sigterm() {
    let db = TestDb {
        name: format!("tenant_hub_test_{}", Uuid::new_v4().simple()),
    };
    let keys = temp_keys_dir();
    let no_assets = keys.join("no-graphiql-assets");
    let mut hub = Hub::start(
        &db.name,
        &keys,
        &[("HUB_GRAPHIQL_ASSETS_DIR", no_assets.to_str().unwrap())],
    )
    .await;

    // The database was created and migrated by `serve`.
    let su = superuser(&db.name).await;
    let tables: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'tenants'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 1);
    drop(su);

    let answer: Value = hub
        .client
        .post(format!("{}/graphql", hub.base))
        .header("x-request-id", "process-test-request-1")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["data"]["__typename"], "Query");

    let clean = hub.terminate().await;
    let lines = hub.logs();
    assert!(clean, "SIGTERM must stop the hub cleanly: {lines:?}");

    // Every log line is one JSON object; the request's line carries its id.
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request = events
        .iter()
        .find(|e| e["message"] == "graphql request")
        .unwrap_or_else(|| panic!("no request line: {lines:?}"));
    assert_eq!(request["request_id"], "process-test-request-1", "{request}");
    assert_eq!(request["outcome"], "ok", "{request}");
    assert_eq!(request["operation"], "__typename", "{request}");
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "usage flushed at shutdown"),
        "{lines:?}"
    );
    // The missing playground files are reported at start, though /graphiql was never asked.
    assert!(
        events.iter().any(|e| e["level"] == "WARN"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("GraphiQL assets missing"))),
        "{lines:?}"
    );
    let _ = std::fs::remove_dir_all(&keys);
}

/// Two hub processes on one database, each caching sessions and TenantContexts for a minute:
/// a change made through one is seen by the other within a second or so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hub_processes_tell_each_other_of_revoked_sessions_and_changed_access() {
    let db = TestDb {
        name: format!("tenant_hub_test_{}", Uuid::new_v4().simple()),
    };
    let keys = temp_keys_dir();
    let env = [
        ("HUB_SESSION_CACHE_MS", "60000"),
        ("HUB_CONTEXT_CACHE_MS", "60000"),
        ("HUB_REPLICAS", "2"),
    ];
    let a = Hub::start(&db.name, &keys, &env).await;
    let b = Hub::start(&db.name, &keys, &env).await;

    let signup = a
        .gql(
            None,
            common::operation("SignUp"),
            json!({ "input": { "name": "Acme", "domain": "acme.example.com",
                "ownerEmail": "owner@acme.example.com", "ownerPassword": PASSWORD } }),
        )
        .await;
    assert!(signup["data"]["createTenant"].is_object(), "{signup}");
    let body = a
        .gql(
            None,
            common::operation("LogIn"),
            json!({ "input": { "tenant": "acme.example.com",
                "email": "owner@acme.example.com", "password": PASSWORD } }),
        )
        .await;
    let token = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();

    // (a) B caches the TenantContext; a change made through A reaches B.
    let crm = operation("CrmAccess");
    let access = async |hub: &Hub| {
        hub.gql(Some(&token), crm, json!({})).await["data"]["tenantContext"]["products"][0]
            ["access"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(access(&b).await.as_deref(), Some("NONE"));
    let set = a
        .gql(Some(&token), operation("GrantCrmFull"), json!({}))
        .await;
    assert_eq!(set["data"]["setProductAccess"]["access"], "FULL", "{set}");
    assert!(
        eventually(async || access(&b).await.as_deref() == Some("FULL")).await,
        "process B serves the new product access"
    );

    // (b) B caches the session as valid; a logout through A is refused by B.
    let me = b.gql(Some(&token), operation("MeId"), json!({})).await;
    assert!(me["data"]["me"]["id"].is_string(), "{me}");
    let out = a.gql(Some(&token), operation("LogOut"), json!({})).await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    assert!(
        eventually(async || {
            error_code(&b.gql(Some(&token), operation("MeId"), json!({})).await)
                == Some("UNAUTHENTICATED")
        })
        .await,
        "process B refuses the revoked session"
    );
    drop((a, b));
    let _ = std::fs::remove_dir_all(&keys);
}

#[test]
fn an_unreachable_database_gives_one_line_without_the_password() {
    let output = Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
        .args([
            "migrate",
            "--database-url",
            "postgres://postgres:s3cret-pw@127.0.0.1:1/tenant_hub",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = lines[0];
    assert!(
        line.contains("127.0.0.1:1") && line.contains("tenant_hub"),
        "names the server and the database: {line}"
    );
    assert!(!line.contains("s3cret-pw"), "{line}");
    assert!(!line.contains("panicked"), "{line}");
}

//! When PostgreSQL stops under load, requests fail fast with a clear error (never hang),
//! /readyz reports not ready, no request is half-applied, and the hub recovers by itself when
//! the database is back. The test starts its own PostgreSQL server (initdb as the `postgres`
//! user, in a temporary folder, on a free port) so that it can stop and restart it.

use crate::common;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use common::{TestDb, start, temp_keys_dir, test_settings};
use serde_json::json;

/// The server binaries of the newest installed PostgreSQL.
fn pg_bin(tool: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .map(|e| e.unwrap().path())
        .collect();
    versions.sort();
    versions
        .last()
        .expect("a PostgreSQL version")
        .join("bin")
        .join(tool)
}

/// Runs a server binary as the `postgres` user (they refuse to run as root).
fn as_postgres(tool: &str, args: &[&str]) -> std::process::Output {
    let bin = pg_bin(tool);
    let output = if nix_is_root() {
        Command::new("runuser")
            .arg("-u")
            .arg("postgres")
            .arg("--")
            .arg(&bin)
            .args(args)
            .output()
    } else {
        Command::new(&bin).args(args).output()
    };
    output.unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

struct OwnServer {
    dir: PathBuf,
    port: u16,
}

impl OwnServer {
    fn init() -> OwnServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("hub-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if nix_is_root() {
            Command::new("chown")
                .args(["postgres:postgres", dir.to_str().unwrap()])
                .status()
                .unwrap();
        }
        let data = dir.join("data");
        let out = as_postgres(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let server = OwnServer { dir, port };
        server.start();
        server
    }

    fn data(&self) -> String {
        self.dir.join("data").to_str().unwrap().to_owned()
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").to_str().unwrap().to_owned();
        let out = as_postgres(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&self) {
        let out = as_postgres("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn exists(path: &Path) -> bool {
    path.exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_fails_fast_while_postgres_is_down_and_recovers_when_it_is_back() {
    assert!(
        exists(&pg_bin("initdb")),
        "PostgreSQL server binaries are needed (apt-get install postgresql)"
    );
    let pg = OwnServer::init();
    let name = "tenant_hub_fault";
    let keys = temp_keys_dir();
    let mut settings = test_settings(name, &keys);
    settings.db.database_url = format!("postgres://postgres@127.0.0.1:{}/{name}", pg.port);
    settings.db.acquire_timeout_ms = 1_000;
    settings.db.statement_timeout_ms = 2_000;
    settings.tokens.session_cache_ms = 0;
    // The database lives and dies with this test's own server.
    let app = start(
        settings,
        TestDb {
            name: "tenant_hub_fault_not_on_main_server".into(),
        },
        keys,
    )
    .await;
    let t = app.signup("acme").await;

    // Load: a stream of reads and writes keeps going while the server stops.
    let load = {
        let (client, address, token) = (app.client.clone(), app.address.clone(), t.token.clone());
        tokio::spawn(async move {
            let mut answered = 0;
            let mut messages = std::collections::BTreeSet::new();
            for i in 0..400 {
                let resp = client
                    .post(format!("{address}/graphql"))
                    .bearer_auth(&token)
                    .json(&json!({ "query": format!("mutation {{ createWorkspace(input: {{ name: \"Load {i}\" }}) {{ workspace {{ id }} }} }}") }))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                answered += usize::from(resp.is_ok());
                if let Ok(resp) = resp
                    && let Ok(body) = resp.json::<serde_json::Value>().await
                    && body["errors"][0]["extensions"]["code"] == "INTERNAL"
                    && let Some(message) = body["errors"][0]["message"].as_str()
                {
                    messages.insert(message.to_owned());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (answered, messages)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    pg.stop();

    let started = Instant::now();
    let body = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    let took = started.elapsed();
    assert_eq!(common::error_code(&body), "INTERNAL", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("database is unavailable"),
        "a clear error: {message}"
    );
    assert!(
        took < Duration::from_secs(8),
        "failed fast ({took:?}), within the acquire timeout"
    );
    let ready = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    pg.start();
    let mut recovered = false;
    for _ in 0..100 {
        let ready = app
            .client
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap();
        if ready.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        recovered,
        "the hub is ready again once the database is back"
    );
    let me = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert!(me["data"]["me"]["id"].is_string(), "{me}");
    let (answered, messages) = load.await.unwrap();
    assert_eq!(answered, 400, "every request got an answer: none hung");
    // Also the requests that were running when the server went away say what happened
    // (the load also meets the tenant's rate limit: those answers are RATE_LIMITED).
    assert!(
        messages
            .iter()
            .all(|m| m.contains("database is unavailable")),
        "{messages:?}"
    );

    // Nothing half-applied: every workspace the API reported created has its audit record, and
    // every audit record its workspace.
    let su = common::connect(&format!("postgres://postgres@127.0.0.1:{}/{name}", pg.port)).await;
    let orphans: i64 = su
        .query_one(
            "SELECT count(*) FROM workspaces w FULL JOIN (SELECT target_id FROM audit_log WHERE action = 'workspace.created') a
             ON a.target_id = w.id::text WHERE (w.id IS NULL OR a.target_id IS NULL) AND NOT w.is_default IS TRUE",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(orphans, 0);
}

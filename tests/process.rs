//! The `tenant-hub` binary as operators run it: `serve` on a database that does not exist yet
//! (created and migrated), JSON logs whose request lines and errors carry the request id, a
//! graceful stop on SIGTERM, and one clear line for an unreachable database.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use common::{TestDb, db_url, superuser, temp_keys_dir};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_creates_its_database_logs_json_with_request_ids_and_stops_on_sigterm() {
    let db = TestDb {
        name: format!("tenant_hub_test_{}", Uuid::new_v4().simple()),
    };
    let keys = temp_keys_dir();
    let port = free_port();
    let mut hub = Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
        .arg("serve")
        .env("DATABASE_URL", db_url(&db.name))
        .env_remove("HUB_APP_DATABASE_URL")
        .env("HUB_BIND", format!("127.0.0.1:{port}"))
        .env("HUB_LOG_FORMAT", "json")
        .env("HUB_KEYS_DIR", &keys)
        .env("HUB_WORKERS", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = hub.stderr.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            up = true;
            break;
        }
        if hub.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        let _ = hub.kill();
        panic!("the hub did not become ready: {:?}", lines.join().unwrap());
    }

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

    let answer: Value = client
        .post(format!("{base}/graphql"))
        .header("x-request-id", "process-test-request-1")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["data"]["__typename"], "Query");

    let pid = hub.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut status = None;
    for _ in 0..300 {
        if let Some(s) = hub.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if status.is_none() {
        let _ = hub.kill();
    }
    let lines = lines.join().unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM must stop the hub cleanly: {status:?} {lines:?}"
    );

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
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "usage flushed at shutdown"),
        "{lines:?}"
    );
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

//! The load benchmark: seeds a database (`tenant-hub dev seed`), starts the release hub as its
//! own process, logs in users of many tenants, and drives each operation at 16 and 64
//! connections for a few seconds, reporting requests/s, p50/p99 latency, SQL statements per
//! request (from /metrics) and the hub's peak RSS. `cargo bench --bench load` (needs PostgreSQL
//! on 127.0.0.1:5432). LOAD_SECS sets the seconds per run (default 5); LOAD_ONLY=<text> runs
//! only the operations whose name contains it (e.g. while profiling the hub, whose pid is
//! printed). The load generator shares the machine with the hub: compare the operations as
//! ratios of `{ __typename }`.

use std::{
    process::{Child, Command},
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tenant_hub::{config::DatabaseSettings, seed};

const TENANTS: u32 = 100;
const USERS: u32 = 100;
const WORKSPACES: u32 = 5;

struct Hub(Child);

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The hub's peak RSS since the last [`reset_peak_rss`].
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Starts a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

async fn statements(client: &reqwest::Client, base: &str) -> f64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with("hub_db_statements "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Request bodies with the token each is sent with.
type Requests = Arc<Vec<(Option<String>, Value)>>;

struct Run {
    rps: f64,
    p50: f64,
    p99: f64,
    errors: usize,
    requests: usize,
}

/// Drives `bodies` (round robin, with the matching token) over `conns` connections for `secs`.
async fn drive(base: &str, requests: Requests, conns: usize, secs: u64) -> Run {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let requests = requests.clone();
        let url = format!("{base}/graphql");
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut i = c;
            while Instant::now() < deadline {
                let (token, body) = &requests[i % requests.len()];
                i += conns;
                let mut req = client.post(&url).json(body);
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let started = Instant::now();
                match req.send().await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let body = resp.bytes().await.unwrap_or_default();
                        if !ok || body.windows(9).any(|w| w == b"\"errors\":") {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort_by(|a, b| a.total_cmp(b));
    let n = all.len().max(1);
    Run {
        rps: all.len() as f64 / secs as f64,
        p50: all[n / 2],
        p99: all[(n * 99 / 100).min(n - 1)],
        errors,
        requests: all.len(),
    }
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let base_pg = std::env::var("HUB_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let url = format!("{base_pg}/tenant_hub_bench_load");
    let db = DatabaseSettings {
        database_url: url.clone(),
        app_database_url: None,
        system_database_url: None,
        system_pool_size: 2,
        pool_size: 8,
        statement_timeout_ms: 5_000,
        acquire_timeout_ms: 3_000,
        statement_cache: true,
        listen_database_url: None,
    };
    eprintln!("seeding {TENANTS} tenants x {USERS} users …");
    seed::run(
        &db,
        &seed::SeedPlan {
            tenants: TENANTS,
            users_per_tenant: USERS,
            workspaces_per_tenant: WORKSPACES,
        },
    )
    .await
    .expect("seeding");

    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, metrics_port) = (free_port(), free_port());
    let keys = std::env::temp_dir().join("tenant-hub-load-keys");
    let hub = Hub(Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
        .args([
            "serve",
            "--database-url",
            &url,
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--keys-dir",
            keys.to_str().unwrap(),
        ])
        .env("HUB_ENV", "production")
        .env("HUB_METRICS_BIND", format!("127.0.0.1:{metrics_port}"))
        .env("RUST_LOG", "warn")
        .env("HUB_ANONYMOUS_REQUESTS_PER_MINUTE", "100000000")
        .env("HUB_LOGIN_FAILURES_PER_IP_PER_MINUTE", "100000")
        .spawn()
        .expect("the hub starts"));
    let base = format!("http://127.0.0.1:{port}");
    let metrics = format!("http://127.0.0.1:{metrics_port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Tokens of 64 users over 64 tenants (user1, the owner, may list users).
    let login_query = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
    let mut tokens = Vec::new();
    let mut logins = Vec::new();
    for t in 1..=64u32 {
        let input = json!({ "tenant": format!("seed-{t}.example.com"), "email": format!("user1@seed-{t}.example.com"), "password": seed::SEED_PASSWORD });
        let body: Value = client
            .post(format!("{base}/graphql"))
            .json(&json!({ "query": login_query, "variables": { "i": input } }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(
            body["data"]["login"]["accessToken"]
                .as_str()
                .unwrap_or_else(|| panic!("login: {body}"))
                .to_owned(),
        );
        let other = json!({ "tenant": format!("seed-{t}.example.com"), "email": format!("user{}@seed-{t}.example.com", 2 + t % 50), "password": seed::SEED_PASSWORD });
        logins.push((
            None,
            json!({ "query": login_query, "variables": { "i": other } }),
        ));
    }
    let with_tokens = |query: &str| -> Requests {
        Arc::new(
            tokens
                .iter()
                .map(|t| (Some(t.clone()), json!({ "query": query })))
                .collect(),
        )
    };
    let operations: Vec<(&str, Requests)> = vec![
        ("{ __typename }", with_tokens("{ __typename }")),
        (
            "tenantContext",
            with_tokens(
                "{ tenantContext { tenantId userId permissions products { productId access } } }",
            ),
        ),
        (
            "me",
            with_tokens("{ me { id email displayName tenant { id name } roles { name } } }"),
        ),
        (
            "tenant with its workspaces",
            with_tokens(
                "{ tenant { id name } workspaces(first: 5) { edges { node { id name slug } } } }",
            ),
        ),
        (
            "users(first: 50) with roles",
            with_tokens(
                "{ users(first: 50) { totalCount edges { node { id email roles { name } } } } }",
            ),
        ),
        (
            "workspaces with members(first: 20)",
            with_tokens(
                "{ workspaces(first: 5) { edges { node { id members(first: 20) { totalCount edges { node { user { email } role { name } } } } } } } }",
            ),
        ),
        ("login", Arc::new(logins)),
    ];
    // What bounds login: one argon2id verification, as the hub runs it (blocking pool, one
    // permit per core), timed sequentially in this process.
    let hash = tenant_hub::auth::password::hash(
        &tenant_hub::domain::NewPassword::parse("password", seed::SEED_PASSWORD, None)
            .expect("the seed password is valid"),
    )
    .await
    .expect("hashing");
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(
            tenant_hub::auth::password::verify(seed::SEED_PASSWORD, Some(&hash))
                .await
                .unwrap()
        );
    }
    let hash_ms = started.elapsed().as_secs_f64() * 1000.0 / rounds as f64;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "argon2id verification: {hash_ms:.1} ms; {cores} cores bound login at {:.0}/s\n",
        cores as f64 * 1000.0 / hash_ms
    );
    println!(
        "| operation | conns | requests/s | p50 ms | p99 ms | statements/request | errors | peak RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut peak: f64 = 0.0;
    // LOAD_ONLY=<part of a name> runs the matching operations only (e.g. while profiling).
    let only = std::env::var("LOAD_ONLY").unwrap_or_default();
    eprintln!("hub pid {}", hub.0.id());
    for (name, requests) in operations {
        if !name.contains(only.as_str()) {
            continue;
        }
        for conns in [16, 64] {
            peak = peak.max(peak_rss_mb(hub.0.id()));
            reset_peak_rss(hub.0.id());
            let before = statements(&client, &metrics).await;
            let run = drive(&base, requests.clone(), conns, secs).await;
            let after = statements(&client, &metrics).await;
            println!(
                "| {name} | {conns} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {:.0} |",
                run.rps,
                run.p50,
                run.p99,
                (after - before) / run.requests.max(1) as f64,
                run.errors,
                peak_rss_mb(hub.0.id()),
            );
        }
    }
    peak = peak.max(peak_rss_mb(hub.0.id()));
    println!("\npeak RSS of the hub: {peak:.0} MB");
}

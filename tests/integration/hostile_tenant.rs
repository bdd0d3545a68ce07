//! One tenant trying to take the shared pool from the others: list fields weighted by their
//! page size in the complexity limit, every `Tenant.integrations` of a request read in one
//! statement, NDJSON exports capped per tenant and per replica and bounded in time. Meanwhile
//! another tenant's requests are served.

use crate::common;

use std::time::{Duration, Instant};

use common::{TenantFixture, TestApp, error_code, spawn_app_with};
use serde_json::{Value, json};

/// `n` more users for `t`, in SQL.
async fn seed_users(app: &TestApp, t: &TenantFixture, n: i64) {
    app.superuser()
        .await
        .execute(
            "INSERT INTO users (tenant_id, email, created_at)
             SELECT $1, 'user' || g || '@seed.example.com', now() + g * interval '1 ms'
             FROM generate_series(1, $2::bigint) g",
            &[&t.uuid, &n],
        )
        .await
        .unwrap();
}

/// `users(first: $first)` with `aliases` aliased `tenant { integrations { name } }` per user.
fn integrations_per_user(aliases: usize) -> String {
    let fields: String = (0..aliases)
        .map(|i| format!(" t{i}: tenant {{ integrations {{ name }} }}"))
        .collect();
    format!("query($first: Int) {{ users(first: $first) {{ edges {{ node {{ id{fields} }} }} }} }}")
}

async fn export(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/export/audit.ndjson", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_query_is_refused_by_its_weighted_cost_and_nested_integrations_are_batched() {
    let app = spawn_app_with(|s| s.db.pool_size = 8).await;
    let t = app.signup("alpha").await;
    seed_users(&app, &t, 99).await;
    // 100 users × 29 aliased tenants: refused before anything runs (it would be 2,900
    // `Tenant` objects).
    let hostile = integrations_per_user(29);
    let refused = app
        .gql(Some(&t.token), &hostile, json!({ "first": 100 }))
        .await;
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.to_lowercase().contains("complex") && refused["data"].is_null(),
        "refused by complexity, before execution: {refused}"
    );
    // The same shape at a page size the limit lets through: every `integrations` of the
    // request is one statement, not one transaction per `Tenant` object.
    app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    let before = app.state.db.statements_executed();
    let allowed = app
        .gql(
            Some(&t.token),
            &integrations_per_user(5),
            json!({ "first": 40 }),
        )
        .await;
    let spent = app.state.db.statements_executed() - before;
    let edges = allowed["data"]["users"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{allowed}"));
    assert_eq!(edges.len(), 40, "{allowed}");
    // One transaction per `Tenant` object would be 200 transactions (600+ statements).
    assert!(
        spent < 150,
        "{spent} statements for 200 `integrations` fields"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_capped_and_bounded_in_time_while_another_tenant_is_served() {
    let app = spawn_app_with(|s| {
        s.db.pool_size = 8;
        s.exports_max = 2;
        s.exports_per_tenant = 1;
        s.export_max_secs = 2;
    })
    .await;
    let a = app.signup("alpha").await;
    let b = app.signup("bravo").await;
    let c = app.signup("charlie").await;
    // About 40 MB of audit log: far more than socket buffers hold, so an export whose body
    // is not read keeps streaming (and holding its connection) until it is cut off.
    app.superuser()
        .await
        .execute(
            "INSERT INTO audit_log (tenant_id, id, at, actor_type, action, details)
             SELECT $1, gen_random_uuid(), now(), 'system', 'test.padding',
                    jsonb_build_object('pad', repeat('x', 2000))
             FROM generate_series(1, 20000)",
            &[&a.uuid],
        )
        .await
        .unwrap();
    let slow = export(&app, &a.token).await;
    assert_eq!(slow.status(), 200);
    let again = export(&app, &a.token).await;
    assert_eq!(again.status(), 429, "one export per tenant at a time");
    let body: Value = again.json().await.unwrap();
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    // Another tenant's export and queries are served meanwhile.
    let other = export(&app, &b.token).await;
    assert_eq!(other.status(), 200);
    let held = export(&app, &c.token).await;
    assert!(
        held.status() == 200 || held.status() == 429,
        "{}",
        held.status()
    );
    let served_from = Instant::now();
    for _ in 0..5 {
        let body = app.gql(Some(&b.token), "{ me { id } }", json!({})).await;
        assert!(body["data"]["me"]["id"].is_string(), "{body}");
    }
    assert!(served_from.elapsed() < Duration::from_secs(3));
    drop((other, held));
    // The unread export is cut off after HUB_EXPORT_MAX_SECS: its body ends short and its slot
    // comes back.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let read = tokio::time::timeout(Duration::from_secs(20), slow.bytes()).await;
    let read_len = match read {
        Ok(Ok(bytes)) => bytes.len(),
        Ok(Err(_)) => 0,
        Err(_) => panic!("the unread export was not cut off"),
    };
    assert!(read_len < 40_000_000, "cut short: {read_len} bytes");
    let after = export(&app, &a.token).await;
    assert_eq!(after.status(), 200, "the slot came back");
}

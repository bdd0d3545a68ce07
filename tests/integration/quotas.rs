//! Per-tenant rate limiting, quotas, usage metering and alerts, through HTTP.

use crate::common;

use std::time::Duration;

use common::{Received, Receiver, TenantFixture, TestApp, error_code, spawn_app, spawn_app_with};
use serde_json::{Value, json};

async fn typename(app: &TestApp, token: &str) -> reqwest::Response {
    app.gql_response(Some(token), "{ __typename }", json!({}))
        .await
}

async fn set_limit(app: &TestApp, t: &TenantFixture, field: &str, value: i64) {
    app.superuser()
        .await
        .execute(
            &format!("UPDATE tenants SET limits = jsonb_set(limits, '{{{field}}}', to_jsonb($2::bigint)) WHERE id = $1"),
            &[&t.uuid, &value],
        )
        .await
        .unwrap();
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_gets_its_burst_then_429s_with_retry_after_while_another_tenant_passes() {
    let app = spawn_app().await;
    let a = app.signup("alpha").await;
    let b = app.signup("beta").await;
    // 60 calls a minute with the default 10 s burst: 10 at once, then one a second.
    set_limit(&app, &a, "api_calls_per_minute", 60).await;
    for i in 0..10 {
        let resp = typename(&app, &a.token).await;
        assert_eq!(resp.status(), 200, "request {i}");
        assert_eq!(header(&resp, "ratelimit-limit"), "60");
        assert_eq!(header(&resp, "ratelimit-remaining"), (9 - i).to_string());
    }
    let refused = typename(&app, &a.token).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        header(&refused, "retry-after"),
        "1",
        "one call comes back every second"
    );
    assert_eq!(header(&refused, "ratelimit-remaining"), "0");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(error_code(&body), "RATE_LIMITED");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1);
    assert!(body.get("data").is_none());

    let other = typename(&app, &b.token).await;
    assert_eq!(other.status(), 200, "another tenant is unaffected");
    assert_eq!(header(&other, "ratelimit-limit"), "600");

    // adminSetTenantLimits raises the limit: the very next request passes.
    let admin = app.platform_admin("root@hub.example.com").await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($input: AdminSetTenantLimitsInput!) { adminSetTenantLimits(input: $input) { tenant { id limits { users storageGb apiCallsPerMinute } features { sso apiAccess customDomain } } } }",
            json!({ "input": { "tenantId": a.id, "limits": { "apiCallsPerMinute": 6000 } } }),
        )
        .await;
    assert_eq!(
        body["data"]["adminSetTenantLimits"]["tenant"]["limits"]["apiCallsPerMinute"], 6000,
        "{body}"
    );
    let resp = typename(&app, &a.token).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "ratelimit-limit"), "6000");
    let audited: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'platform.tenant_limits_set' AND actor_type = 'platform_admin' AND tenant_id = $1",
            &[&a.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_are_limited_per_client_ip_believing_only_trusted_proxies() {
    let app = spawn_app_with(|s| {
        s.anonymous_requests_per_minute = 3;
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let send = |ip: &'static str| {
        let req = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("x-forwarded-for", ip)
            .json(&json!({ "query": "{ __typename }" }));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    for _ in 0..3 {
        assert_eq!(send("203.0.113.7").await, 200);
    }
    assert_eq!(send("203.0.113.7").await, 429);
    assert_eq!(
        send("203.0.113.8").await,
        200,
        "another client behind the proxy"
    );

    // Without trusted proxies the header is ignored: everyone is 127.0.0.1.
    let direct = spawn_app_with(|s| s.anonymous_requests_per_minute = 3).await;
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let resp = direct
            .client
            .post(format!("{}/graphql", direct.address))
            .header("x-forwarded-for", ip)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let resp = direct
        .client
        .post(format!("{}/graphql", direct.address))
        .header("x-forwarded-for", "198.51.100.4")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        429,
        "a spoofed X-Forwarded-For does not reset the limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_calls_are_counted_in_memory_and_written_in_batches() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    // Warm up: the session state is cached after the first request.
    typename(&app, &t.token).await;
    let before = app.state.db.statements_executed();
    for _ in 0..9 {
        assert_eq!(typename(&app, &t.token).await.status(), 200);
    }
    assert_eq!(
        app.state.db.statements_executed(),
        before,
        "no database statement per request"
    );
    let written = app.state.usage.flush(&app.state.db).await.unwrap();
    assert_eq!(written, 10);
    let stored: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT value FROM usage_counters WHERE tenant_id = $1 AND metric = 'api_calls'",
            &[&t.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 10);
    let body = app
        .gql(
            Some(&t.token),
            "{ usage { metric used limit periodStart } }",
            json!({}),
        )
        .await;
    let usage = body["data"]["usage"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let calls = usage.iter().find(|u| u["metric"] == "api_calls").unwrap();
    assert_eq!(calls["used"], 11.0, "10 flushed plus this request");
    let users = usage.iter().find(|u| u["metric"] == "users").unwrap();
    assert_eq!(
        (users["used"].as_f64(), users["limit"].as_f64()),
        (Some(1.0), Some(25.0))
    );
    let history = app
        .gql(
            Some(&t.token),
            "{ usageHistory(metric: API_CALLS, days: 7) { day value } }",
            json!({}),
        )
        .await;
    assert_eq!(
        history["data"]["usageHistory"][0]["value"], 10.0,
        "{history}"
    );

    let metrics = app.metrics().await;
    assert!(
        metrics.contains(&format!(
            "hub_tenant_api_calls_total{{tenant=\"{}\"}} 12",
            t.uuid
        )),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_not_yet_flushed_are_written_when_the_server_stops() {
    let mut app = spawn_app_with(|s| s.usage_flush_secs = 3600).await;
    let t = app.signup("acme").await;
    for _ in 0..5 {
        typename(&app, &t.token).await;
    }
    app.stop().await;
    assert_eq!(app.state.usage.pending(t.uuid), 0, "flushed at shutdown");
    let stored: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT value FROM usage_counters WHERE tenant_id = $1 AND metric = 'api_calls'",
            &[&t.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 5);
}

async fn configure_webhook(app: &TestApp, t: &TenantFixture, url: &str) {
    let body = app
        .gql(
            Some(&t.token),
            "mutation($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { tenant { id } } }",
            json!({ "input": { "integrations": [{ "name": "webhook", "settings": { "url": url }, "secret": "whsec-test-secret-123" }] } }),
        )
        .await;
    assert!(body["data"]["updateTenantSettings"].is_object(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_limit_alerts_fire_once_at_80_and_100_percent_and_the_webhook_gets_a_signed_body() {
    let app = spawn_app_with(|s| s.webhook_allow_private = true).await;
    let t = app.signup("acme").await;
    let hook = Receiver::start(vec![]).await;
    configure_webhook(&app, &t, &hook.url).await;
    set_limit(&app, &t, "users", 5).await;
    let create = |email: String| {
        let app = &app;
        let token = t.token.clone();
        async move {
            app.gql(
                Some(&token),
                "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } } }",
                json!({ "input": { "email": email } }),
            )
            .await
        }
    };
    for i in 1..=4 {
        let body = create(format!("u{i}@acme.example.com")).await;
        assert!(body["data"]["createUser"].is_object(), "{body}");
    }
    let over = create("u5@acme.example.com".into()).await;
    assert_eq!(error_code(&over), "QUOTA_EXCEEDED");
    hook.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let received = hook.received();
    assert_eq!(
        received.len(),
        2,
        "one alert per threshold, not one per request"
    );
    let mut thresholds = Vec::new();
    for Received {
        timestamp,
        signature,
        body,
    } in &received
    {
        let expected = tenant_hub::alerts::signature(
            "whsec-test-secret-123",
            timestamp.parse().unwrap(),
            body,
        );
        assert_eq!(signature, &format!("sha256={expected}"));
        let doc: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(doc["tenant_id"], t.uuid.to_string());
        assert_eq!(doc["alert"]["metric"], "users");
        thresholds.push(doc["alert"]["threshold"].as_i64().unwrap());
    }
    thresholds.sort();
    assert_eq!(thresholds, [80, 100]);
    let alerts = app
        .gql(Some(&t.token), "{ alerts { totalCount edges { node { metric threshold deliveredAt deliveries { attempt statusCode } } } } }", json!({}))
        .await;
    assert_eq!(alerts["data"]["alerts"]["totalCount"], 2, "{alerts}");
    for edge in alerts["data"]["alerts"]["edges"].as_array().unwrap() {
        assert_eq!(
            edge["node"]["deliveries"],
            json!([{ "attempt": 1, "statusCode": 200 }])
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_are_retried_with_backoff_and_each_attempt_is_recorded() {
    let app = spawn_app_with(|s| {
        s.webhook_allow_private = true;
        s.webhook_backoff_ms = 20;
    })
    .await;
    let t = app.signup("acme").await;
    let hook = Receiver::start(vec![500, 503]).await;
    configure_webhook(&app, &t, &hook.url).await;
    set_limit(&app, &t, "users", 1).await;
    // The owner alone is 100% of a limit of 1: the next seat-taking mutation raises the alerts.
    let body = app
        .gql(
            Some(&t.token),
            "mutation { createUser(input: { email: \"x@acme.example.com\" }) { user { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "QUOTA_EXCEEDED");
    set_limit(&app, &t, "users", 2).await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation { createUser(input: { email: \"y@acme.example.com\" }) { user { id } } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["createUser"].is_object(), "{body}");
    // 2 of 2 crosses 80% and 100%: two alerts, the first delivery fails twice.
    hook.wait_for(4).await;
    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = app
            .superuser()
            .await
            .query(
                "SELECT attempt, status_code FROM webhook_deliveries ORDER BY at, attempt",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<_, i32>(0), r.get::<_, Option<i32>>(1)))
            .collect::<Vec<_>>();
        if delivered.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        delivered.contains(&(1, Some(500)))
            && delivered.contains(&(2, Some(503)))
            && delivered.contains(&(3, Some(200))),
        "{delivered:?}"
    );
    let undelivered: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT count(*) FROM alerts WHERE delivered_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(undelivered, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_is_reported_with_an_api_key_and_a_report_past_the_limit_is_recorded_and_refused() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let body = app
        .gql(Some(&t.token), "mutation { createApiKey(input: { productId: \"docs\", name: \"docs prod\" }) { key apiKey { id productId } } }", json!({}))
        .await;
    let key = body["data"]["createApiKey"]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let key_id = body["data"]["createApiKey"]["apiKey"]["id"].clone();
    let hashed: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT count(*) FROM api_keys WHERE key_hash = sha256($1::text::bytea)",
            &[&key],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(hashed, 1, "stored hashed");

    let report = |gb: f64| {
        let req = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("authorization", format!("ApiKey {key}"))
            .json(&json!({ "query": "mutation($gb: Float!) { reportUsage(input: { storageGb: $gb }) { metric used limit } }", "variables": { "gb": gb } }));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let ok = report(4.5).await;
    assert_eq!(
        ok["data"]["reportUsage"],
        json!({ "metric": "storage_gb", "used": 4.5, "limit": 5.0 }),
        "{ok}"
    );
    let last_used = || async {
        app.superuser()
            .await
            .query_one("SELECT last_used_at FROM api_keys", &[])
            .await
            .unwrap()
            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(0)
    };
    let first_use = last_used().await;
    assert!(first_use.is_some(), "the key's use is recorded");
    let over = report(6.0).await;
    assert_eq!(
        last_used().await,
        first_use,
        "not a write per request: refreshed at most once a minute"
    );
    assert_eq!(error_code(&over), "QUOTA_EXCEEDED", "{over}");
    let usage = app
        .gql(Some(&t.token), "{ usage { metric used limit } }", json!({}))
        .await;
    let storage = usage["data"]["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["metric"] == "storage_gb")
        .unwrap()
        .clone();
    assert_eq!(
        storage["used"], 6.0,
        "the report past the limit is recorded"
    );
    let alerts: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT count(*) FROM alerts WHERE metric = 'storage_gb'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(alerts, 2, "80% at 4.5 GB, 100% at 6 GB");

    let me = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("authorization", format!("ApiKey {key}"))
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(error_code(&me), "FORBIDDEN", "an API key is not a user");
    let body = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } } }",
            json!({ "id": key_id }),
        )
        .await;
    assert!(
        body["data"]["revokeApiKey"]["apiKey"]["revokedAt"].is_string(),
        "{body}"
    );
    let revoked = report(1.0).await;
    assert_eq!(error_code(&revoked), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_whose_feature_is_off_is_forbidden_as_feature_disabled_and_changes_nothing() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($input: AdminSetTenantLimitsInput!) { adminSetTenantLimits(input: $input) { tenant { features { apiAccess } } } }",
            json!({ "input": { "tenantId": t.id, "features": { "apiAccess": false } } }),
        )
        .await;
    assert_eq!(
        body["data"]["adminSetTenantLimits"]["tenant"]["features"]["apiAccess"], false,
        "{body}"
    );
    let body = app
        .gql(
            Some(&t.token),
            "mutation { createApiKey(input: { productId: \"docs\", name: \"k\" }) { key } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "feature_disabled"
    );
    let keys: i64 = app
        .superuser()
        .await
        .query_one("SELECT count(*) FROM api_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(keys, 0);
}

/// `tenant-hub maintenance flush-usage` (and `adminFlushUsage`) make every running replica
/// write its API-call counts now, through the replicas' invalidation channel; both are audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usage_flush_reaches_every_replica_and_is_audited() {
    let app = spawn_app_with(|s| s.usage_flush_secs = 3600).await;
    let t = app.signup("acme").await;
    for _ in 0..3 {
        app.gql(Some(&t.token), "{ __typename }", json!({})).await;
    }
    let stored = || {
        let app = &app;
        let tenant = t.uuid;
        async move {
            app.superuser()
                .await
                .query_opt(
                    "SELECT value FROM usage_counters WHERE tenant_id = $1 AND metric = 'api_calls'",
                    &[&tenant],
                )
                .await
                .unwrap()
                .map_or(0, |r| r.get::<_, i64>(0))
        }
    };
    assert_eq!(stored().await, 0, "nothing written before the flush");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
        .args([
            "maintenance",
            "flush-usage",
            "--database-url",
            &common::db_url(app.db_name()),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("asked 1 listening replica(s)"), "{stdout}");
    let mut seen = 0;
    for _ in 0..100 {
        seen = stored().await;
        if seen >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen >= 3, "the replica flushed on request: {seen}");

    let admin = app.platform_admin("root@hub.example.com").await;
    let body = app
        .gql(Some(&admin), "mutation { adminFlushUsage }", json!({}))
        .await;
    assert!(body["data"]["adminFlushUsage"].is_i64(), "{body}");
    let audited: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT count(*) FROM platform_audit_log WHERE action = 'platform.usage_flushed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 2, "the command and the mutation");
}

/// Each product reports its own share; the tenant's storage is their sum, and a product's new
/// report replaces its old one only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_reports_of_several_products_add_up() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let mut keys = Vec::new();
    for product in ["docs", "crm"] {
        let body = app
            .gql(
                Some(&t.token),
                "mutation($p: ID!) { createApiKey(input: { productId: $p, name: \"prod\" }) { key } }",
                json!({ "p": product }),
            )
            .await;
        keys.push(
            body["data"]["createApiKey"]["key"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned(),
        );
    }
    let report = |key: String, gb: f64| {
        let req = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("authorization", format!("ApiKey {key}"))
            .json(&json!({ "query": "mutation($gb: Float!) { reportUsage(input: { storageGb: $gb }) { used limit } }", "variables": { "gb": gb } }));
        async move {
            let body = req.send().await.unwrap().json::<Value>().await.unwrap();
            body["data"]["reportUsage"]["used"]
                .as_f64()
                .unwrap_or_else(|| panic!("{body}"))
        }
    };
    assert_eq!(report(keys[0].clone(), 1.5).await, 1.5);
    assert_eq!(
        report(keys[1].clone(), 2.0).await,
        3.5,
        "docs and crm add up"
    );
    assert_eq!(
        report(keys[0].clone(), 0.5).await,
        2.5,
        "docs replaced its own share"
    );
    let usage = app
        .gql(Some(&t.token), "{ usage { metric used } }", json!({}))
        .await;
    let storage = usage["data"]["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["metric"] == "storage_gb")
        .unwrap()["used"]
        .clone();
    assert_eq!(storage, 2.5, "{usage}");
    // Together past the limit (5 GB on the free plan), though each product is under it.
    let body = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("authorization", format!("ApiKey {}", keys[1]))
        .json(&json!({ "query": "mutation { reportUsage(input: { storageGb: 4.9 }) { used } }" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(error_code(&body), "QUOTA_EXCEEDED", "{body}");
}

/// Guessing API keys: a wrong key is a failed attempt of the client's IP; past the allowance
/// the IP is refused before any database lookup, also with a right key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessed_api_keys_lock_the_guessing_address_out_before_the_database() {
    let app = spawn_app_with(|s| s.login_failures_per_account = 3).await;
    let t = app.signup("acme").await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation { createApiKey(input: { productId: \"docs\", name: \"k\" }) { key } }",
            json!({}),
        )
        .await;
    let key = body["data"]["createApiKey"]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    // Same tenant prefix, another secret: looked up, and wrong.
    let (prefix, secret) = key.rsplit_once('.').unwrap();
    let wrong = format!("{prefix}.{}", secret.chars().rev().collect::<String>());
    let send = |k: String| {
        let req = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("authorization", format!("ApiKey {k}"))
            .json(
                &json!({ "query": "mutation { reportUsage(input: { storageGb: 1 }) { used } }" }),
            );
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(send(wrong.clone()).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    let before = app.state.db.statements_executed();
    let (status, body) = send(key.clone()).await;
    assert_eq!(status, 429, "locked out, even with the right key: {body}");
    assert_eq!(error_code(&body), "RATE_LIMITED");
    assert_eq!(
        app.state.db.statements_executed(),
        before,
        "refused without a database lookup"
    );
}

/// Crossing 80% of the API-rate burst, then being refused, records one `api_rate` alert per
/// threshold for the day, however many requests cross it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_rate_alerts_fire_once_at_80_and_100_percent() {
    let app = spawn_app().await;
    let t = app.signup("alpha").await;
    // 60 calls a minute with the default 10 s burst: 10 at once.
    set_limit(&app, &t, "api_calls_per_minute", 60).await;
    let mut refused = 0;
    for _ in 0..15 {
        if typename(&app, &t.token).await.status() == 429 {
            refused += 1;
        }
    }
    assert!(refused >= 4, "the burst is spent: {refused} refused");
    let su = app.superuser().await;
    let mut thresholds: Vec<i32> = Vec::new();
    for _ in 0..100 {
        thresholds = su
            .query(
                "SELECT threshold FROM alerts WHERE tenant_id = $1 AND metric = 'api_rate' ORDER BY threshold",
                &[&t.uuid],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        if thresholds.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Alerts are written in the background: give stragglers a moment to show up, too.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let again: i64 = su
        .query_one(
            "SELECT count(*) FROM alerts WHERE tenant_id = $1 AND metric = 'api_rate'",
            &[&t.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(thresholds, vec![80, 100]);
    assert_eq!(again, 2, "one alert per threshold, not one per request");
    // The alert states the tenant's limit (60 a minute), not the limiter's burst (10).
    let rows = su
        .query(
            "SELECT threshold, used, quota FROM alerts WHERE tenant_id = $1 AND metric = 'api_rate' ORDER BY threshold",
            &[&t.uuid],
        )
        .await
        .unwrap();
    let figures: Vec<(i32, f64, f64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(figures[0].2, 60.0, "the 80% alert's limit: {figures:?}");
    assert!(
        (48.0..60.0).contains(&figures[0].1),
        "the 80% alert's use: {figures:?}"
    );
    assert_eq!(figures[1], (100, 60.0, 60.0), "the 100% alert: {figures:?}");
}

const SAVE_SETTINGS: &str = "mutation($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { tenant { id integrations { name } } } }";

/// Saves the webhook integration with `settings` (and a secret); returns the answer.
async fn save_webhook(app: &TestApp, t: &TenantFixture, settings: Value) -> Value {
    app.gql(
        Some(&t.token),
        SAVE_SETTINGS,
        json!({ "input": { "integrations": [{ "name": "webhook", "settings": settings, "secret": "whsec-test-secret-123" }] } }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_urls_to_private_addresses_or_without_https_are_refused_when_saved() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    for settings in [
        json!({ "url": "http://127.0.0.1:9/hook" }),
        json!({}),
        json!({ "url": "not a url" }),
        json!({ "url": "https://127.0.0.1/hook" }),
        json!({ "url": "https://[::ffff:127.0.0.1]/hook" }),
        json!({ "url": "https://[64:ff9b::a9fe:a9fe]/latest/meta-data" }),
        json!({ "url": "https://169.254.169.254/latest/meta-data" }),
        json!({ "url": "https://100.64.0.1/hook" }),
        json!({ "url": "https://localhost/hook" }),
    ] {
        let body = save_webhook(&app, &t, settings.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{settings}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "integrations.settings.url",
            "{body}"
        );
    }
    let saved: i64 = app
        .superuser()
        .await
        .query_one("SELECT count(*) FROM integrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(saved, 0, "nothing refused was saved");
    // A public address is accepted (an IP literal: no lookup needed here).
    let body = save_webhook(&app, &t, json!({ "url": "https://93.184.215.14/hook" })).await;
    assert_eq!(
        body["data"]["updateTenantSettings"]["tenant"]["integrations"],
        json!([{ "name": "webhook" }]),
        "{body}"
    );
}

/// A URL that passed (or skipped) the check when saved and names a host resolving to a private
/// address at delivery time (DNS rebinding) reaches nothing: the client's resolver checks the
/// addresses it connects to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_host_resolving_to_loopback_at_delivery_is_not_contacted() {
    let app = spawn_app_with(|s| s.webhook_backoff_ms = 10).await;
    let t = app.signup("acme").await;
    let hook = Receiver::start(vec![]).await;
    let port = hook
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    // Saved with a public address (and its secret), then pointed at the name by hand.
    let body = save_webhook(&app, &t, json!({ "url": "https://93.184.215.14/hook" })).await;
    assert!(body["data"]["updateTenantSettings"].is_object(), "{body}");
    let su = app.superuser().await;
    su.execute(
        "UPDATE integrations SET settings = $2 WHERE tenant_id = $1 AND name = 'webhook'",
        &[
            &t.uuid,
            &json!({ "url": format!("https://localhost:{port}/hooks") }),
        ],
    )
    .await
    .unwrap();
    // 2 of 2 seats crosses 80% and 100%: two alerts to deliver.
    set_limit(&app, &t, "users", 2).await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation { createUser(input: { email: \"x@acme.example.com\" }) { user { id } } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["createUser"].is_object(), "{body}");
    let mut errors: Vec<String> = Vec::new();
    for _ in 0..200 {
        errors = su
            .query(
                "SELECT coalesce(error, '') FROM webhook_deliveries WHERE status_code IS NULL",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        if errors.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(errors.len() >= 4, "every attempt recorded: {errors:?}");
    assert!(
        errors.iter().all(|e| e.contains("public internet address")),
        "{errors:?}"
    );
    assert!(hook.received().is_empty(), "the receiver was reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_cannot_be_saved_without_a_signing_secret() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let url = json!({ "url": "https://93.184.215.14/hook" });
    for secret in [None, Some("")] {
        let mut integration = json!({ "name": "webhook", "settings": url });
        if let Some(s) = secret {
            integration["secret"] = json!(s);
        }
        let body = app
            .gql(
                Some(&t.token),
                SAVE_SETTINGS,
                json!({ "input": { "integrations": [integration] } }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{secret:?}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "integrations.secret",
            "{body}"
        );
    }
    let saved: i64 = app
        .superuser()
        .await
        .query_one("SELECT count(*) FROM integrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(saved, 0);
    // With a secret it is saved; later changes of the URL alone keep the stored secret.
    let body = save_webhook(&app, &t, url).await;
    assert!(body["data"]["updateTenantSettings"].is_object(), "{body}");
    let body = app
        .gql(
            Some(&t.token),
            SAVE_SETTINGS,
            json!({ "input": { "integrations": [{ "name": "webhook", "settings": { "url": "https://93.184.215.15/hook" } }] } }),
        )
        .await;
    assert!(body["data"]["updateTenantSettings"].is_object(), "{body}");
    let sealed: bool = app
        .superuser()
        .await
        .query_one(
            "SELECT secret_ciphertext IS NOT NULL FROM integrations WHERE name = 'webhook'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(sealed);
}

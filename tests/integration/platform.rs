//! Platform administration, the audit log and billing, through HTTP.

use crate::common;

use std::sync::{Arc, Mutex};

use common::{Receiver, TestApp, count, error_code, spawn_app, spawn_app_with};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admins_list_filter_and_inspect_tenants_and_every_read_is_audited() {
    let app = spawn_app().await;
    let a = app.signup("alpha").await;
    let b = app.signup("bravo").await;
    let c = app.signup("charlie").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { suspendTenant(tenantId: $id) { tenant { id } } }",
        json!({ "id": b.id }),
    )
    .await;

    let list = "query($first: Int, $after: String, $status: TenantStatus, $search: String) {
        adminTenants(first: $first, after: $after, status: $status, search: $search) {
            totalCount pageInfo { hasNextPage endCursor } edges { node { id name domain status } } } }";
    let all = app.gql(Some(&admin), list, json!({})).await;
    assert_eq!(all["data"]["adminTenants"]["totalCount"], 3, "{all}");
    let suspended = app
        .gql(Some(&admin), list, json!({ "status": "SUSPENDED" }))
        .await;
    assert_eq!(
        suspended["data"]["adminTenants"]["edges"],
        json!([{ "node": { "id": b.id, "name": "bravo", "domain": b.domain, "status": "SUSPENDED" } }])
    );
    let found = app
        .gql(Some(&admin), list, json!({ "search": "CHAR" }))
        .await;
    assert_eq!(
        found["data"]["adminTenants"]["edges"][0]["node"]["id"],
        c.id.as_str()
    );
    let page = app.gql(Some(&admin), list, json!({ "first": 2 })).await;
    assert_eq!(
        page["data"]["adminTenants"]["pageInfo"]["hasNextPage"],
        true
    );
    let next = app
        .gql(
            Some(&admin),
            list,
            json!({ "first": 2, "after": page["data"]["adminTenants"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        next["data"]["adminTenants"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        error_code(&app.gql(Some(&a.token), list, json!({})).await),
        "FORBIDDEN"
    );

    let one = app
        .gql(Some(&admin), "query($id: ID!) { adminTenant(id: $id) { users tenant { domain } usage { metric used limit } } }", json!({ "id": a.id }))
        .await;
    assert_eq!(one["data"]["adminTenant"]["users"], 1, "{one}");
    let read: i64 = app
        .superuser()
        .await
        .query_one("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'platform.tenant_read' AND actor_type = 'platform_admin'", &[&a.uuid])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        read, 1,
        "the tenant sees the admin's read in its own audit log"
    );
    assert!(
        count(
            &app,
            "SELECT count(*) FROM platform_audit_log WHERE action = 'platform.tenants_listed'"
        )
        .await
            >= 4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reading_tenants_nested_data_is_in_each_tenants_audit_log() {
    let app = spawn_app().await;
    let a = app.signup("alpha").await;
    let b = app.signup("bravo").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let reads = |tenant: uuid::Uuid| {
        let app = &app;
        async move {
            app.superuser()
                .await
                .query_one(
                    "SELECT count(*) FROM audit_log WHERE tenant_id = $1
                     AND action = 'platform.tenant_read' AND actor_type = 'platform_admin'
                     AND details->>'operation' = 'Integrations'",
                    &[&tenant],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    // The list alone reads no tenant's own rows: only the platform log has it.
    let body = app
        .gql(
            Some(&admin),
            "query Integrations { adminTenants(first: 10) { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["adminTenants"].is_object(), "{body}");
    assert_eq!((reads(a.uuid).await, reads(b.uuid).await), (0, 0));
    // Integrations are the tenants' own rows: each tenant's log records the read, once.
    let body = app
        .gql(
            Some(&admin),
            "query Integrations { adminTenants(first: 10) { edges { node { name integrations { name } } } } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["adminTenants"].is_object(), "{body}");
    assert_eq!((reads(a.uuid).await, reads(b.uuid).await), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_report_aggregates_tenants_users_and_api_calls() {
    let app = spawn_app().await;
    let a = app.signup("alpha").await;
    let b = app.signup("bravo").await;
    app.add_user(&b, "x@bravo.example.com", &["member"]).await;
    for _ in 0..3 {
        app.gql(Some(&a.token), "{ __typename }", json!({})).await;
    }
    app.gql(Some(&b.token), "{ __typename }", json!({})).await;
    app.state.usage.flush(&app.state.db).await.unwrap();
    let admin = app.platform_admin("root@hub.example.com").await;
    let body = app
        .gql(
            Some(&admin),
            "{ platformReport { tenantsByStatus { key count } tenantsByPlan { key count } users apiCalls topTenants { tenantId name apiCalls } } }",
            json!({}),
        )
        .await;
    let report = &body["data"]["platformReport"];
    assert_eq!(
        report["tenantsByStatus"],
        json!([{ "key": "active", "count": 2 }]),
        "{body}"
    );
    assert_eq!(
        report["tenantsByPlan"],
        json!([{ "key": "free", "count": 2 }])
    );
    assert_eq!(report["users"], 3);
    assert!(report["apiCalls"].as_i64().unwrap() >= 4);
    assert_eq!(report["topTenants"][0]["tenantId"], a.id.as_str());

    // Days are whole and `to` is exclusive: 2026-03-02 00:00 ends before March 2nd.
    let su = app.superuser().await;
    su.execute(
        "INSERT INTO usage_counters (tenant_id, metric, day, value) VALUES
             ($1, 'api_calls', '2026-03-01', 10), ($1, 'api_calls', '2026-03-02', 100)",
        &[&b.uuid],
    )
    .await
    .unwrap();
    let calls = |from: &'static str, to: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let body = app
                .gql(
                    Some(admin),
                    "query($f: DateTime, $t: DateTime) { platformReport(from: $f, to: $t) { apiCalls } }",
                    json!({ "f": from, "t": to }),
                )
                .await;
            body["data"]["platformReport"]["apiCalls"]
                .as_i64()
                .unwrap_or_else(|| panic!("{body}"))
        }
    };
    assert_eq!(
        calls("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z").await,
        10
    );
    assert_eq!(
        calls("2026-03-01T00:00:00Z", "2026-03-02T00:00:01Z").await,
        110
    );
    assert_eq!(
        calls("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z").await,
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_append_only_for_the_application_role() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let client = app.app_role().await;
    client.batch_execute("BEGIN").await.unwrap();
    client
        .execute(
            "SELECT set_config('app.tenant_id', $1, true)",
            &[&t.uuid.to_string()],
        )
        .await
        .unwrap();
    let seen: i64 = client
        .query_one("SELECT count(*) FROM audit_log", &[])
        .await
        .unwrap()
        .get(0);
    assert!(seen >= 2, "it may SELECT");
    client.batch_execute("SAVEPOINT s").await.unwrap();
    let update = client
        .execute("UPDATE audit_log SET action = 'forged'", &[])
        .await
        .unwrap_err();
    assert!(
        format!("{update:?}").contains("permission denied"),
        "{update:?}"
    );
    client
        .batch_execute("ROLLBACK TO SAVEPOINT s")
        .await
        .unwrap();
    let delete = client
        .execute("DELETE FROM audit_log", &[])
        .await
        .unwrap_err();
    assert!(
        format!("{delete:?}").contains("permission denied"),
        "{delete:?}"
    );
    client.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_records_logins_failures_and_changes_and_filters_them() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (_, viewer) = app.add_user(&t, "v@acme.example.com", &["viewer"]).await;
    app.try_login(&t.domain, &t.owner_email, "wrong password!")
        .await;
    app.gql(
        Some(&t.token),
        "mutation { createWorkspace(input: { name: \"Ops\" }) { workspace { id } } }",
        json!({}),
    )
    .await;
    app.gql(Some(&t.token), "mutation { logout }", json!({}))
        .await;
    let t2 = app.login(&t.domain, &t.owner_email, common::PASSWORD).await;
    let token = t2["accessToken"].as_str().unwrap();

    let q = "query($first: Int, $after: String, $filter: AuditFilter) { auditLog(first: $first, after: $after, filter: $filter) {
        pageInfo { hasNextPage endCursor } edges { node { id action actorId targetType targetId ip at } } } }";
    let all = app.gql(Some(token), q, json!({ "first": 100 })).await;
    let actions: Vec<&str> = all["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{all}"))
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    for expected in [
        "tenant.created",
        "auth.login",
        "auth.login_failed",
        "workspace.created",
        "auth.logout",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let only = app
        .gql(
            Some(token),
            q,
            json!({ "filter": { "action": "workspace.created" } }),
        )
        .await;
    let edges = only["data"]["auditLog"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["actorId"], t.owner_uuid.to_string());
    assert_eq!(edges[0]["node"]["ip"], "127.0.0.1");
    let by_actor = app.gql(Some(token), q, json!({ "filter": { "actorId": t.owner_uuid.to_string(), "from": "2000-01-01T00:00:00Z" } })).await;
    assert!(
        by_actor["data"]["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["node"]["actorId"] == t.owner_uuid.to_string())
    );
    let future = app
        .gql(
            Some(token),
            q,
            json!({ "filter": { "from": "2999-01-01T00:00:00Z" } }),
        )
        .await;
    assert_eq!(future["data"]["auditLog"]["edges"], json!([]));

    // A viewer lacks audit:read; a platform admin names the tenant.
    assert_eq!(
        error_code(&app.gql(Some(&viewer), q, json!({})).await),
        "FORBIDDEN"
    );
    let admin = app.platform_admin("root@hub.example.com").await;
    let by_admin = app
        .gql(
            Some(&admin),
            "query($id: ID!) { auditLog(tenantId: $id, first: 5) { edges { node { action } } } }",
            json!({ "id": t.id }),
        )
        .await;
    assert_eq!(
        by_admin["data"]["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        5,
        "{by_admin}"
    );

    let ndjson = app
        .client
        .get(format!("{}/export/audit.ndjson", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(ndjson.status(), 200);
    let text = ndjson.text().await.unwrap();
    assert!(
        text.lines()
            .skip(1)
            .all(|l| serde_json::from_str::<Value>(l).unwrap()["table"] == "audit_log")
    );
    assert!(text.lines().count() > 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_plan_applies_its_limits_at_once_and_billing_events_reach_the_billing_hook() {
    let hook = Receiver::start(vec![]).await;
    let url = hook.url.clone();
    let app = spawn_app_with(move |s| {
        s.webhook_allow_private = true;
        s.billing_webhook_url = Some(url);
        s.billing_webhook_secret = "billing-secret-42".into();
        s.self_service_upgrades = true;
    })
    .await;
    let t = app.signup("acme").await;
    let plans = app
        .gql(
            Some(&t.token),
            "{ plans { id limits { users apiCallsPerMinute } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        plans["data"]["plans"].as_array().unwrap().len(),
        3,
        "{plans}"
    );
    let before = app
        .gql_response(Some(&t.token), "{ __typename }", json!({}))
        .await;
    assert_eq!(before.headers()["ratelimit-limit"], "600");

    let (_, member) = app.add_user(&t, "m@acme.example.com", &["member"]).await;
    let change = "mutation($p: String!) { changePlan(plan: $p) { tenant { plan limits { users apiCallsPerMinute } features { sso } } } }";
    assert_eq!(
        error_code(&app.gql(Some(&member), change, json!({ "p": "pro" })).await),
        "FORBIDDEN"
    );
    assert_eq!(
        error_code(
            &app.gql(Some(&t.token), change, json!({ "p": "gold" }))
                .await
        ),
        "BAD_USER_INPUT"
    );
    let body = app.gql(Some(&t.token), change, json!({ "p": "pro" })).await;
    assert_eq!(
        body["data"]["changePlan"]["tenant"],
        json!({ "plan": "pro", "limits": { "users": 250, "apiCallsPerMinute": 3000 }, "features": { "sso": true } }),
        "{body}"
    );
    let after = app
        .gql_response(Some(&t.token), "{ __typename }", json!({}))
        .await;
    assert_eq!(
        after.headers()["ratelimit-limit"],
        "3000",
        "the rate limiter follows at once"
    );

    let summary = app.gql(Some(&t.token), "{ billingSummary { plan status seatsUsed seatLimit periodStart periodEnd usage { metric used } } }", json!({})).await;
    let s = &summary["data"]["billingSummary"];
    assert_eq!(
        (
            s["plan"].as_str(),
            s["seatsUsed"].as_i64(),
            s["seatLimit"].as_i64()
        ),
        (Some("pro"), Some(2), Some(250)),
        "{summary}"
    );

    // The period ended: closing it queues period_closed; both events are delivered, signed.
    app.superuser()
        .await
        .execute(
            "UPDATE subscriptions SET current_period_end = current_date WHERE tenant_id = $1",
            &[&t.uuid],
        )
        .await
        .unwrap();
    assert_eq!(
        tenant_hub::billing::close_periods(&app.state.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tenant_hub::billing::deliver_pending(&app.state.db, &app.state.http, &app.state.settings)
            .await
            .unwrap(),
        2
    );
    let kinds: Vec<String> = hook
        .received()
        .iter()
        .map(|r| {
            let expected = tenant_hub::alerts::signature(
                "billing-secret-42",
                r.timestamp.parse().unwrap(),
                &r.body,
            );
            assert_eq!(r.signature, format!("sha256={expected}"));
            serde_json::from_slice::<Value>(&r.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["plan_changed", "period_closed"]);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM billing_events WHERE delivered_at IS NULL"
        )
        .await,
        0
    );
    assert_eq!(
        tenant_hub::billing::deliver_pending(&app.state.db, &app.state.http, &app.state.settings)
            .await
            .unwrap(),
        0,
        "delivered once"
    );
}

/// Billing events are sent outside any transaction, and a failed attempt is retried after a
/// delay (not at once, not forever) and recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_events_are_retried_with_backoff_and_sent_with_no_transaction_open() {
    // The receiver refuses the first attempt, and each time notes whether any session of the
    // hub's database sat in an open transaction while it was being called.
    let calls = Arc::new(Mutex::new(Vec::<bool>::new()));
    let database = Arc::new(Mutex::new(String::new()));
    let (c, d) = (calls.clone(), database.clone());
    let hook = Receiver::responding(move |n| {
        let (c, d) = (c.clone(), d.clone());
        async move {
            let name = d.lock().unwrap().clone();
            let su = common::superuser("postgres").await;
            let open: i64 = su
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = $1 AND state LIKE 'idle in transaction%'",
                    &[&name],
                )
                .await
                .unwrap()
                .get(0);
            c.lock().unwrap().push(open > 0);
            if n == 0 { 503 } else { 200 }
        }
    })
    .await;
    let url = hook.url.clone();
    let app = spawn_app_with(move |s| {
        s.webhook_allow_private = true;
        s.billing_webhook_url = Some(url);
        s.billing_webhook_secret = "billing-secret-42".into();
        s.self_service_upgrades = true;
    })
    .await;
    *database.lock().unwrap() = app.db_name().to_owned();
    let t = app.signup("acme").await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation { changePlan(plan: \"pro\") { tenant { plan } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["changePlan"]["tenant"]["plan"], "pro",
        "{body}"
    );

    let deliver = || {
        tenant_hub::billing::deliver_pending(&app.state.db, &app.state.http, &app.state.settings)
    };
    assert_eq!(deliver().await.unwrap(), 0, "the first attempt fails");
    let row = app
        .superuser()
        .await
        .query_one(
            "SELECT attempts, last_error, next_attempt_at > now() + interval '20 seconds'
             FROM billing_events WHERE tenant_id = $1",
            &[&t.uuid],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("HTTP 503"));
    assert!(
        row.get::<_, bool>(2),
        "the retry waits (30 s after the first failure)"
    );
    assert_eq!(deliver().await.unwrap(), 0, "not retried before its time");
    assert_eq!(calls.lock().unwrap().len(), 1);

    // Its time has come.
    app.superuser()
        .await
        .execute(
            "UPDATE billing_events SET next_attempt_at = now() WHERE tenant_id = $1",
            &[&t.uuid],
        )
        .await
        .unwrap();
    assert_eq!(deliver().await.unwrap(), 1);
    assert_eq!(
        *calls.lock().unwrap(),
        [false, false],
        "no transaction was open while the receiver was called"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM billing_events WHERE delivered_at IS NOT NULL AND attempts = 2"
        )
        .await,
        1
    );
    assert_eq!(tenant_hub::billing::retry_delay(1).as_secs(), 30);
    assert_eq!(tenant_hub::billing::retry_delay(3).as_secs(), 120);
    assert_eq!(tenant_hub::billing::retry_delay(20).as_secs(), 3600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_refuses_to_start_with_a_billing_webhook_but_no_signing_secret() {
    let db = common::fresh_database().await;
    let keys = common::temp_keys_dir();
    for secret in ["", "   "] {
        let mut settings = common::test_settings(&db.name, &keys);
        settings.webhook_allow_private = true;
        settings.billing_webhook_url = Some("http://127.0.0.1:9/billing".into());
        settings.billing_webhook_secret = secret.into();
        let err = match tenant_hub::Application::build(settings).await {
            Ok(_) => panic!("the hub started with an empty billing secret"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("HUB_BILLING_WEBHOOK_SECRET"), "{err}");
    }
    // A URL the outbound guard refuses stops it too.
    let mut settings = common::test_settings(&db.name, &keys);
    settings.billing_webhook_url = Some("http://127.0.0.1:9/billing".into());
    settings.billing_webhook_secret = "billing-secret-42".into();
    let err = match tenant_hub::Application::build(settings).await {
        Ok(_) => panic!("the hub started with a private billing URL"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("HUB_BILLING_WEBHOOK_URL refused"), "{err}");
}

/// Decodes `token` as a product app would (the hub's JWKS, iss, exp, nbf) for `audience`.
async fn decode_for(
    app: &TestApp,
    token: &str,
    audience: &str,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&[app.address.as_str()]);
    validation.set_audience(&[audience]);
    validation.validate_nbf = true;
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .map(|d| d.claims)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admin_tokens_carry_the_admin_audience_and_products_refuse_them() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let err = decode_for(&app, &admin, "tenant-hub-products")
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), jsonwebtoken::errors::ErrorKind::InvalidAudience),
        "{err:?}"
    );
    let claims = decode_for(&app, &admin, "tenant-hub-admin").await.unwrap();
    assert_eq!(claims["scope"], "platform");
    assert!(claims["sid"].is_string(), "an admin session: {claims}");
    assert!(claims.get("tid").is_none());
    // Members' tokens keep the products' audience.
    decode_for(&app, &t.token, "tenant-hub-products")
        .await
        .unwrap();
    // The hub takes each for what it is.
    let body = app
        .gql(
            Some(&admin),
            "{ adminTenants(first: 5) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["adminTenants"].is_object(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_admin_who_logged_out_is_refused_with_the_same_token() {
    let app = spawn_app().await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let other = app
        .gql(
            None,
            "mutation($e: String!, $p: String!) { adminLogin(email: $e, password: $p) { accessToken } }",
            json!({ "e": "root@hub.example.com", "p": common::PASSWORD }),
        )
        .await["data"]["adminLogin"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = "{ adminTenants(first: 5) { totalCount } }";
    let body = app.gql(Some(&admin), read, json!({})).await;
    assert!(body["data"]["adminTenants"].is_object(), "{body}");
    let out = app
        .gql(Some(&admin), "mutation { logout }", json!({}))
        .await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    let body = app.gql(Some(&admin), read, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    // The admin's other session is untouched, and the logout is in the platform audit log.
    let body = app.gql(Some(&other), read, json!({})).await;
    assert!(body["data"]["adminTenants"].is_object(), "{body}");
    let logged: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT count(*) FROM platform_audit_log WHERE action = 'platform.admin_logout'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(logged, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_change_keeps_the_platforms_limits_and_owners_cannot_buy_a_paid_plan_alone() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let set = "mutation($i: AdminSetTenantLimitsInput!) { adminSetTenantLimits(input: $i) { tenant { limits { users apiCallsPerMinute } } } }";
    let body = app
        .gql(
            Some(&admin),
            set,
            json!({ "i": { "tenantId": t.id, "limits": { "users": 3 } } }),
        )
        .await;
    assert_eq!(
        body["data"]["adminSetTenantLimits"]["tenant"]["limits"],
        json!({ "users": 3, "apiCallsPerMinute": 600 }),
        "{body}"
    );
    // Changing to the same (free) plan used to reset the limits to the plan's.
    let change =
        "mutation($p: String!) { changePlan(plan: $p) { tenant { plan limits { users } } } }";
    let body = app
        .gql(Some(&t.token), change, json!({ "p": "free" }))
        .await;
    assert_eq!(
        body["data"]["changePlan"]["tenant"]["limits"]["users"], 3,
        "{body}"
    );
    // A paid plan is the platform's to set (no self-service upgrades by default).
    let body = app
        .gql(Some(&t.token), change, json!({ "p": "enterprise" }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"], "paid_plan_needs_platform",
        "{body}"
    );
    let plan: String = app
        .superuser()
        .await
        .query_one("SELECT plan FROM tenants WHERE id = $1", &[&t.uuid])
        .await
        .unwrap()
        .get(0);
    assert_eq!(plan, "free");
    // The audit record of the override says what changed.
    let details: Value = app
        .superuser()
        .await
        .query_one(
            "SELECT details FROM audit_log WHERE tenant_id = $1 AND action = 'platform.tenant_limits_set'",
            &[&t.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(details["old"]["limits"]["users"], 25, "{details}");
    assert_eq!(details["new"]["limits"]["users"], 3, "{details}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_self_service_upgrades_a_paid_plan_keeps_the_platforms_overrides() {
    let app = spawn_app_with(|s| s.self_service_upgrades = true).await;
    let t = app.signup("acme").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let set = "mutation($i: AdminSetTenantLimitsInput!) { adminSetTenantLimits(input: $i) { tenant { id } } }";
    app.gql(
        Some(&admin),
        set,
        json!({ "i": { "tenantId": t.id, "limits": { "apiCallsPerMinute": 42 } } }),
    )
    .await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation { changePlan(plan: \"pro\") { tenant { plan limits { users apiCallsPerMinute } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["changePlan"]["tenant"],
        json!({ "plan": "pro", "limits": { "users": 250, "apiCallsPerMinute": 42 } }),
        "{body}"
    );
}

/// The platform audit log (events of no tenant) is readable through GraphQL by platform admins,
/// paged and filtered like `auditLog`; tenant members are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admins_page_through_the_platform_audit_log() {
    let app = spawn_app().await;
    let owner = app.signup("alpha").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    for slug in ["bravo", "charlie"] {
        let domain = format!("{slug}.example.com");
        let body = app
            .gql(
                Some(&admin),
                common::operation("SignUp"),
                json!({ "input": { "name": slug, "domain": domain,
                        "ownerEmail": format!("owner@{domain}"), "ownerPassword": common::PASSWORD } }),
            )
            .await;
        assert!(body["data"]["createTenant"].is_object(), "{body}");
    }
    let log = common::operation("PlatformAuditLog");
    let filter = json!({ "action": "platform.tenant_created" });
    let mut first = Value::Null;
    let complete = common::eventually(async || {
        first = app
            .gql(Some(&admin), log, json!({ "first": 1, "filter": filter }))
            .await;
        first["data"]["platformAuditLog"]["totalCount"] == 2
    })
    .await;
    assert!(complete, "{first}");
    let page = &first["data"]["platformAuditLog"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true, "{first}");
    let entry = &page["edges"][0]["node"];
    assert_eq!(entry["actorType"], "platform_admin", "{first}");
    assert_eq!(entry["targetType"], "tenant", "{first}");
    let cursor = page["pageInfo"]["endCursor"].as_str().unwrap();
    let second = app
        .gql(
            Some(&admin),
            log,
            json!({ "first": 1, "after": cursor, "filter": filter }),
        )
        .await;
    let page2 = &second["data"]["platformAuditLog"];
    assert_eq!(page2["pageInfo"]["hasNextPage"], false, "{second}");
    assert_ne!(
        page2["edges"][0]["node"]["targetId"], entry["targetId"],
        "the next page holds the other tenant: {second}"
    );
    let refused = app.gql(Some(&owner.token), log, json!({})).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    assert!(refused["data"].is_null() || refused["data"]["platformAuditLog"].is_null());
}

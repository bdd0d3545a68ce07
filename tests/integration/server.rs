//! The server's life: it creates and migrates a database that does not exist yet, answers its
//! health and readiness probes, serves GraphQL, and reports not-ready while the database is
//! unreachable (and ready again once it is back).

use crate::common;

use common::{TestDb, spawn_app, start, temp_keys_dir, test_settings};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_creates_a_missing_database_migrates_it_and_serves() {
    let name = format!("tenant_hub_test_new_{}", uuid::Uuid::new_v4().simple());
    let db = TestDb { name: name.clone() };
    let admin = common::superuser("postgres").await;
    let before = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap();
    assert!(before.is_none());

    let keys = temp_keys_dir();
    let app = start(test_settings(&name, &keys), db, keys).await;

    let after = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap();
    assert!(after.is_some(), "the database was created");
    let migrated: i64 = app
        .superuser()
        .await
        .query_one("SELECT count(*) FROM __diesel_schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert!(migrated >= 1);

    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(body, json!({ "data": { "__typename": "Query" } }));
    let get = app
        .client
        .get(format!("{}/graphql?query=%7B__typename%7D", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    // The keys folder was empty: a signing key was generated and is published.
    let jwks: serde_json::Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_while_the_database_is_unreachable_and_recovers() {
    let app = spawn_app().await;
    let ready = |app: &common::TestApp| {
        let url = format!("{}/readyz", app.address);
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(ready(&app).await, 200);

    // Refuse new connections and cut the existing ones: the database is gone for the hub.
    let admin = common::superuser("postgres").await;
    let name = app.db_name().to_owned();
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    assert_eq!(ready(&app).await, 503);
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        health.status(),
        200,
        "liveness does not depend on the database"
    );

    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let mut recovered = false;
    for _ in 0..50 {
        if ready(&app).await == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "the hub recovers by itself");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_a_stable_code_and_no_internal_detail() {
    let app = spawn_app().await;
    let body = app.gql(None, "{ me { id } }", json!({})).await;
    assert_eq!(common::error_code(&body), "UNAUTHENTICATED");
    let resp = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(common::error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id_taken_from_the_client_or_generated() {
    let app = spawn_app().await;
    let given = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "abc-123");
    assert_eq!(given.headers()["x-content-type-options"], "nosniff");
    let made = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert!(uuid::Uuid::parse_str(made.headers()["x-request-id"].to_str().unwrap()).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_connections_log_in_as_the_app_role_with_a_statement_timeout_and_a_name() {
    use diesel::{QueryableByName, sql_types::Text};
    use diesel_async::RunQueryDsl;

    #[derive(QueryableByName)]
    struct Settings {
        #[diesel(sql_type = Text)]
        who: String,
        #[diesel(sql_type = Text)]
        timeout: String,
        #[diesel(sql_type = Text)]
        idle: String,
        #[diesel(sql_type = Text)]
        name: String,
    }
    let app = spawn_app().await;
    let mut conn = app.state.db.connection().await.unwrap();
    let s: Settings = diesel::sql_query(
        "SELECT current_user::text AS who,
                current_setting('statement_timeout') AS timeout,
                current_setting('idle_in_transaction_session_timeout') AS idle,
                current_setting('application_name') AS name",
    )
    .get_result(&mut *conn)
    .await
    .unwrap();
    assert_eq!(s.who, "tenant_hub_app");
    assert_eq!(s.timeout, "5s", "HUB_DB_STATEMENT_TIMEOUT_MS default");
    assert_eq!(s.idle, "10s", "twice the statement timeout");
    assert_eq!(s.name, "tenant-hub");
}

/// `/metrics` lists tenant ids and volumes: it is served on HUB_METRICS_BIND only, never on
/// the public listener, and not at all while that is unset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_listener_only() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    let public = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    let text = public.text().await.unwrap();
    assert!(!text.contains(&t.uuid.to_string()), "{text}");

    let metrics = app.metrics_address.clone().unwrap();
    assert_ne!(metrics, app.address);
    let private = app
        .client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), 200);
    let text = private.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "hub_tenant_api_calls_total{{tenant=\"{}\"}}",
            t.uuid
        )),
        "{text}"
    );
    // The metrics listener serves nothing else.
    let graphql = app
        .client
        .post(format!("{metrics}/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status(), 404);

    let off = common::spawn_app_with(|s| s.metrics_bind = None).await;
    assert!(off.metrics_address.is_none());
    let public = off
        .client
        .get(format!("{}/metrics", off.address))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
}

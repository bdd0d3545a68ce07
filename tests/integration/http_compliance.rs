//! GraphQL over HTTP, query limits, production defaults, CORS, persisted queries and metrics.

use crate::common;

use common::{error_code, spawn_app, spawn_app_with};
use serde_json::{Value, json};

async fn post(app: &common::TestApp, accept: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&body);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_media_type_follows_the_accept_header() {
    let app = spawn_app().await;
    let q = json!({ "query": "{ __typename }" });
    for (accept, expected) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (
            Some("application/graphql-response+json"),
            "application/graphql-response+json",
        ),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            "application/graphql-response+json",
        ),
    ] {
        let resp = post(&app, accept, q.clone()).await;
        assert_eq!(resp.status(), 200, "{accept:?}");
        assert_eq!(resp.headers()["content-type"], expected, "{accept:?}");
    }
    assert_eq!(post(&app, Some("text/html"), q).await.status(), 406);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parse_and_validation_failures_follow_the_specification_for_each_media_type() {
    let app = spawn_app().await;
    for (query, what) in [("{ __typename", "parse"), ("{ noSuchField }", "validation")] {
        let resp = post(
            &app,
            Some("application/graphql-response+json"),
            json!({ "query": query }),
        )
        .await;
        assert_eq!(resp.status(), 400, "{what}");
        let body: Value = resp.json().await.unwrap();
        assert!(body.get("data").is_none(), "{what}: {body}");
        assert_eq!(error_code(&body), "BAD_USER_INPUT");

        let resp = post(&app, None, json!({ "query": query })).await;
        assert_eq!(resp.status(), 200, "{what} under application/json");
        let body: Value = resp.json().await.unwrap();
        assert!(body.get("data").is_none(), "{what}: {body}");
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
    }
    // A field error during execution keeps `data` and the 200.
    let resp = post(
        &app,
        Some("application/graphql-response+json"),
        json!({ "query": "{ me { id } }" }),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED");

    // A body without a query (or with a misspelt key) is not a GraphQL request: 400.
    for body in [
        json!({}),
        json!({ "qeury": "{ __typename }" }),
        json!({ "query": "  " }),
    ] {
        let resp = post(&app, None, body.clone()).await;
        assert_eq!(resp.status(), 400, "{body}");
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(error_code(&answer), "BAD_USER_INPUT", "{answer}");
        assert_eq!(answer["errors"][0]["extensions"]["field"], "query");
    }
    // Whole-request errors come in the negotiated media type too.
    let resp = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("accept", "application/graphql-response+json")
        .bearer_auth("not-a-token")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["content-type"],
        "application/graphql-response+json"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_json_posts_and_get_queries_are_accepted_and_large_bodies_are_refused() {
    let app = spawn_app_with(|s| s.max_body_bytes = 1024).await;
    let url = format!("{}/graphql", app.address);
    let form = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=%7B__typename%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415, "cross-site form posts are shut out");
    let text = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("{\"query\":\"{ __typename }\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    let mutation = app
        .client
        .get(format!("{url}?query=mutation%20%7B%20logout%20%7D"))
        .send()
        .await
        .unwrap();
    assert_eq!(mutation.status(), 405);
    let query = app
        .client
        .get(format!("{url}?query=%7B__typename%7D"))
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 200);
    let big = json!({ "query": format!("{{ __typename }} #{}", "x".repeat(4096)) });
    assert_eq!(post(&app, None, big).await.status(), 413);
    let batch = app
        .client
        .post(&url)
        .json(&json!([{ "query": "{ __typename }" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 400, "batching is off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_complexity_aliases_directives_and_time_are_limited() {
    let app = spawn_app_with(|s| {
        s.gql_max_depth = 5;
        s.gql_max_complexity = 12;
        s.gql_max_aliases = 2;
        s.gql_max_directives = 1;
    })
    .await;
    let t = app.signup("acme").await;
    let refused = |query: &'static str| {
        let app = &app;
        let token = t.token.clone();
        async move { app.gql(Some(&token), query, json!({})).await }
    };
    let deep =
        refused("{ workspaces { edges { node { members { edges { node { user { id } } } } } } } }")
            .await;
    assert_eq!(error_code(&deep), "BAD_USER_INPUT", "{deep}");
    assert!(
        deep["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too deep"),
        "{deep}"
    );
    let complex = refused("{ me { id email displayName status createdAt uuid } tenant { id name slug domain status plan createdAt } }").await;
    assert!(
        complex["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("complex"),
        "{complex}"
    );
    // Aliases count toward complexity: six aliased `me { id }` cost 12 (sign-up and login
    // need 11).
    let aliased = spawn_app_with(|s| s.gql_max_complexity = 11).await;
    let u = aliased.signup("acme").await;
    let once = aliased
        .gql(Some(&u.token), "{ me { id } }", json!({}))
        .await;
    assert!(once["data"]["me"]["id"].is_string(), "{once}");
    let thrice = aliased
        .gql(
            Some(&u.token),
            "{ a: me { id } b: me { id } c: me { id } d: me { id } e: me { id } f: me { id } }",
            json!({}),
        )
        .await;
    assert!(
        thrice["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("complex"),
        "{thrice}"
    );
    let aliases = refused("{ a: __typename b: __typename c: __typename }").await;
    assert!(
        aliases["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("aliases"),
        "{aliases}"
    );
    let directives = refused("{ __typename @include(if: true) @skip(if: false) }").await;
    assert_eq!(error_code(&directives), "BAD_USER_INPUT", "{directives}");
    let fine = refused("{ a: __typename b: __typename me { id } }").await;
    let _ = &fine;
    assert!(fine["data"]["me"]["id"].is_string(), "{fine}");

    // With no time at all, anything that waits for the database is cancelled.
    let slow = spawn_app_with(|s| s.gql_timeout_ms = 0).await;
    let body = slow
        .try_login("acme.example.com", "a@acme.example.com", common::PASSWORD)
        .await;
    assert_eq!(error_code(&body), "INTERNAL");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "timeout");
    // A valid request that ran out of time is an execution failure, not a bad request: 200
    // with `data: null`, also in the GraphQL response media type.
    let answer = post(
        &slow,
        Some("application/graphql-response+json"),
        json!({ "query": common::operation("LogIn"), "variables": { "input": {
            "tenant": "acme.example.com", "email": "a@acme.example.com", "password": common::PASSWORD
        } } }),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["reason"], "timeout",
        "{body}"
    );
    assert!(
        body.as_object().unwrap().contains_key("data") && body["data"].is_null(),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_turns_off_introspection_suggestions_and_the_playground() {
    let app = spawn_app_with(|s| s.environment = tenant_hub::config::Environment::Production).await;
    let body: Value = post(
        &app,
        None,
        json!({ "query": "{ __schema { types { name } } }" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        body["data"]["__schema"].is_null(),
        "introspection is off: {body}"
    );
    let body: Value = post(
        &app,
        None,
        json!({ "query": "{ tenantContex { tenantId } }" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(!body.to_string().contains("Did you mean"), "{body}");
    let page = app
        .client
        .get(format!("{}/graphiql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);

    let dev = spawn_app().await;
    let body: Value = post(
        &dev,
        None,
        json!({ "query": "{ __schema { queryType { name } } }" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    let body: Value = post(
        &dev,
        None,
        json!({ "query": "{ tenantContex { tenantId } }" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(body.to_string().contains("Did you mean"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_on_allowed_origins_get_cors_answers_and_others_do_not() {
    let app = spawn_app_with(|s| s.cors_origins = vec!["https://app.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        ok.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let evil = preflight("https://evil.example.net").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let resp = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("origin", "https://app.example.com")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
}

fn sha256(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_persisted_queries_run_by_hash_once_registered() {
    let app = spawn_app().await;
    let query = "{ __typename }";
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(query) } });
    let miss: Value = post(&app, None, json!({ "extensions": ext }))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        miss.to_string().contains("PersistedQueryNotFound"),
        "{miss}"
    );
    let register: Value = post(&app, None, json!({ "query": query, "extensions": ext }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(register["data"]["__typename"], "Query");
    let hit: Value = post(&app, None, json!({ "extensions": ext }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hit["data"]["__typename"], "Query", "{hit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_registered_mode_only_the_registered_operations_run() {
    let file = std::env::temp_dir().join(format!("ops-{}.graphql", uuid::Uuid::new_v4()));
    let me = "query Me {\n  me { id email }\n}";
    // The harness's own sign-up and login operations are registered too.
    std::fs::write(
        &file,
        format!(
            "# the only operations\n{me}\n\n{}\n\n{}\n",
            common::operation("SignUp"),
            common::operation("LogIn")
        ),
    )
    .unwrap();
    let path = file.clone();
    let app = spawn_app_with(move |s| {
        s.persisted_queries = tenant_hub::config::PersistedQueries::Registered;
        s.registered_operations = Some(path);
    })
    .await;
    let t = app.signup("acme").await;
    let by_text = app
        .gql(Some(&t.token), "query Me { me { id email } }", json!({}))
        .await;
    assert_eq!(
        by_text["data"]["me"]["email"],
        t.owner_email.as_str(),
        "{by_text}"
    );
    let resp = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&t.token)
        .json(&json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256(me) } } }))
        .send()
        .await
        .unwrap();
    let by_hash: Value = resp.json().await.unwrap();
    assert_eq!(
        by_hash["data"]["me"]["email"],
        t.owner_email.as_str(),
        "{by_hash}"
    );
    let other = app
        .gql(Some(&t.token), "{ me { id } tenantConfig }", json!({}))
        .await;
    assert_eq!(error_code(&other), "FORBIDDEN");
    assert_eq!(
        other["errors"][0]["extensions"]["reason"],
        "unregistered_operation"
    );
    std::fs::remove_file(file).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_operation_errors_by_code_and_the_pool() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    app.gql(Some(&t.token), "query Who { me { id } }", json!({}))
        .await;
    app.gql(None, "query Who { me { id } }", json!({})).await;
    let text = app.metrics().await;
    assert!(
        text.contains(
            "hub_graphql_request_duration_seconds_count{operation=\"Who\",outcome=\"ok\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "hub_graphql_request_duration_seconds_count{operation=\"Who\",outcome=\"error\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("hub_graphql_errors_total{code=\"UNAUTHENTICATED\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("hub_db_pool_connections{state=\"max\"} 4"),
        "{text}"
    );
}

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
    let resp = post(&app, None, big).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "body_too_large");
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
        // One row per list: list fields count their selection once per row (`first`).
        refused("{ workspaces(first: 1) { edges { node { members(first: 1) { edges { node { user { id } } } } } } } }")
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
async fn a_document_of_too_many_tokens_is_refused_before_parsing_with_400() {
    let app = spawn_app().await;
    let many = format!("{{ {} }}", "__typename ".repeat(10_000));
    for accept in [None, Some("application/graphql-response+json")] {
        let resp = post(&app, accept, json!({ "query": many })).await;
        assert_eq!(resp.status(), 400, "{accept:?}");
        let body: Value = resp.json().await.unwrap();
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["reason"], "too_many_tokens");
        assert_eq!(body["errors"][0]["extensions"]["field"], "query");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("3000 tokens"),
            "{body}"
        );
    }
    // Comments and commas are not tokens; a document within the limit runs.
    let fine = format!(
        "{{ {} }} # {}",
        "__typename, ".repeat(2_000),
        "x ".repeat(5_000)
    );
    let body: Value = post(&app, None, json!({ "query": fine }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    // The limit is a setting, and applies to a persisted query's text too.
    let small = spawn_app_with(|s| s.gql_max_tokens = 5).await;
    let query = "{ me { id } __typename }";
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(query) } });
    let body: Value = post(&small, None, json!({ "query": query, "extensions": ext }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["errors"][0]["extensions"]["reason"], "too_many_tokens");
}

/// GET with `extensions={"persistedQuery":…}` and no query text: the document is known only
/// once the hash is resolved.
fn get_by_hash(app: &common::TestApp, hash: &str) -> reqwest::RequestBuilder {
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
    app.client
        .get(format!("{}/graphql", app.address))
        .query(&[("extensions", ext.as_str())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_named_by_an_automatic_persisted_query_hash_is_refused_over_get() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let mutation = "mutation { logout }";
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(mutation) } });
    // Registered by a POST (which may run it: this one fails, anonymous).
    post(&app, None, json!({ "query": mutation, "extensions": ext })).await;
    let resp = get_by_hash(&app, &sha256(mutation))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "mutation_over_get"
    );
    // The session was not logged out.
    let me = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert!(me["data"]["me"]["id"].is_string(), "{me}");
    // A query by hash over GET runs.
    let query = "{ __typename }";
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(query) } });
    post(&app, None, json!({ "query": query, "extensions": ext })).await;
    let resp = get_by_hash(&app, &sha256(query)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_mutation_named_by_its_hash_is_refused_over_get() {
    let file = std::env::temp_dir().join(format!("ops-{}.graphql", uuid::Uuid::new_v4()));
    let logout = "mutation Logout {\n  logout\n}";
    let me = "query Me {\n  me { id }\n}";
    std::fs::write(
        &file,
        format!(
            "{logout}\n\n{me}\n\n{}\n\n{}\n",
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
    let resp = get_by_hash(&app, &sha256(logout))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "mutation_over_get"
    );
    let resp = get_by_hash(&app, &sha256(me))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["data"]["me"]["id"].is_string(),
        "the session is alive: {body}"
    );
    std::fs::remove_file(file).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnamed_operations_are_counted_by_their_root_fields_not_variables_or_aliases() {
    let app = spawn_app().await;
    let created = app
        .gql(
            None,
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }",
            json!({ "i": { "name": "Acme", "domain": "acme.example.com",
                "ownerEmail": "owner@acme.example.com", "ownerPassword": common::PASSWORD } }),
        )
        .await;
    assert!(created["data"]["createTenant"].is_object(), "{created}");
    app.gql(None, "{ a: __typename }", json!({})).await;
    let b = app
        .gql(
            None,
            "query($b: String!) { t: __typename __type(name: $b) { name } }",
            json!({ "b": "Query" }),
        )
        .await;
    assert_eq!(b["data"]["t"], "Query", "{b}");
    let text = app.metrics().await;
    for operation in ["createTenant", "__typename", "__typename+__type"] {
        let series = format!(
            "hub_graphql_request_duration_seconds_count{{operation=\"{operation}\",outcome=\"ok\"}} 1"
        );
        assert!(text.contains(&series), "{series} in {text}");
    }
    for wrong in [
        "operation=\"i\"",
        "operation=\"a\"",
        "operation=\"b\"",
        "operation=\"t\"",
    ] {
        assert!(!text.contains(wrong), "{wrong} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_non_null_field_nulls_its_nearest_nullable_parent_or_data() {
    let app = spawn_app().await;
    // owner.roles ([Role!]!) is refused to an anonymous caller; every field up to the root is
    // non-null, so `data` is null (the tenant was created: mutation fields are not undone).
    let body = app
        .gql(
            None,
            "mutation($input: CreateTenantInput!) { createTenant(input: $input) {
                tenant { id } owner { id roles { name } } } }",
            json!({ "input": { "name": "Acme", "domain": "acme.example.com",
                "ownerEmail": "owner@acme.example.com", "ownerPassword": common::PASSWORD } }),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(
        body["errors"][0]["path"],
        json!(["createTenant", "owner", "roles"]),
        "{body}"
    );
    // The second of two mutation fields fails: its null reaches `data`.
    let login = |password: &str| {
        format!(
            r#"login(input: {{ tenant: "acme.example.com", email: "owner@acme.example.com", password: "{password}" }}) {{ tokenType }}"#
        )
    };
    let body = app
        .gql(
            None,
            &format!(
                "mutation {{ a: {} b: {} }}",
                login(common::PASSWORD),
                login("wrong")
            ),
            json!({}),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["b"]), "{body}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    // Without a failure nothing changes.
    let body = app
        .gql(
            None,
            &format!("mutation {{ a: {} }}", login(common::PASSWORD)),
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["a"]["tokenType"], "Bearer", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_before_execution_carry_no_location() {
    let app = spawn_app_with(|s| s.anonymous_requests_per_minute = 1).await;
    let resp = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth("not-a-token")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(body["errors"][0].get("locations").is_none(), "{body}");
    assert!(body["errors"][0].get("path").is_none(), "{body}");
    post(&app, None, json!({ "query": "{ __typename }" })).await;
    let resp = post(&app, None, json!({ "query": "{ __typename }" })).await;
    assert_eq!(resp.status(), 429);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "RATE_LIMITED");
    assert!(body["errors"][0].get("locations").is_none(), "{body}");
    // Limits refused before execution too.
    let many = format!("{{ {} }}", "__typename ".repeat(4_000));
    let limited = spawn_app().await;
    let body: Value = post(&limited, None, json!({ "query": many }))
        .await
        .json()
        .await
        .unwrap();
    assert!(body["errors"][0].get("locations").is_none(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_sizes_out_of_bounds_either_way_get_the_same_message() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    for first in [-1, 101, 5000] {
        let body = app
            .gql(
                Some(&t.token),
                "query($n: Int) { users(first: $n) { totalCount } }",
                json!({ "n": first }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{first}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "first");
        assert_eq!(
            body["errors"][0]["message"], "first must be between 0 and 100",
            "{first}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_argument_of_the_wrong_shape_names_its_path_as_the_field() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { tenant { id } } }",
            json!({ "input": { "branding": { "colors": ["#fff"] } } }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.branding.colors",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("input.branding.colors: "), "{message}");
}

/// The count of rows of `table` in the test database (superuser: all tenants).
async fn rows(app: &common::TestApp, table: &str) -> i64 {
    app.superuser()
        .await
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

fn assert_nul_refused(body: &Value, field: &str) {
    assert!(
        body.get("data").is_none(),
        "refused before execution: {body}"
    );
    assert_eq!(error_code(body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"], "nul_character",
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_in_any_text_input_is_bad_user_input_naming_its_path() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (tenants, roles, workspaces) = (
        rows(&app, "tenants").await,
        rows(&app, "roles").await,
        rows(&app, "workspaces").await,
    );

    // In a variable, nested in an input object.
    let body = app
        .gql(
            None,
            common::operation("SignUp"),
            json!({ "input": { "name": "Nul\u{0}Corp", "domain": "nul.example.com",
                "ownerEmail": "owner@nul.example.com", "ownerPassword": common::PASSWORD } }),
        )
        .await;
    assert_nul_refused(&body, "createTenant.input.name");

    // In an inline literal (the GraphQL escape \u0000).
    let body = app
        .gql(
            None,
            r#"mutation { login(input: { tenant: "acme.example.com", email: "owner\u0000@acme.example.com", password: "x" }) { accessToken } }"#,
            json!({}),
        )
        .await;
    assert_nul_refused(&body, "login.input.email");

    // In a list inside a variable.
    let body = app
        .gql(
            Some(&t.token),
            "mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }",
            json!({ "input": { "name": "auditor", "permissions": ["audit:read", "users:read\u{0}"] } }),
        )
        .await;
    assert_nul_refused(&body, "createRole.input.permissions.1");

    // In the second of two mutation fields: the first does not run either.
    let body = app
        .gql(
            Some(&t.token),
            r#"mutation { a: createWorkspace(input: { name: "Fine" }) { workspace { id } }
                          b: createWorkspace(input: { name: "Bad\u0000" }) { workspace { id } } }"#,
            json!({}),
        )
        .await;
    assert_nul_refused(&body, "createWorkspace.input.name");

    assert_eq!(rows(&app, "tenants").await, tenants);
    assert_eq!(rows(&app, "roles").await, roles);
    assert_eq!(rows(&app, "workspaces").await, workspaces);
    // The same mutations without the NUL run.
    let body = app
        .gql(
            Some(&t.token),
            r#"mutation { createWorkspace(input: { name: "Fine" }) { workspace { id } } }"#,
            json!({}),
        )
        .await;
    assert!(
        body["data"]["createWorkspace"]["workspace"]["id"].is_string(),
        "{body}"
    );
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

//! `GET /tenant-context`: the TenantContext product teams code against, as plain JSON, with
//! ETag revalidation and the hub's cache lifetime; the same answer as the GraphQL field.

use crate::common;

use common::spawn_app;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_context_answers_the_contract_shape_with_etag_and_cache_control() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let url = format!("{}/tenant-context", app.address);
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "private, max-age=60");
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "acr",
            "amr",
            "permissions",
            "products",
            "tenantId",
            "userId"
        ],
        "{body}"
    );
    assert_eq!(body["tenantId"], t.uuid.to_string());
    assert_eq!(body["userId"], t.owner_uuid.to_string());
    // The GraphQL field's answer, access in lower case.
    let gql = app
        .gql(
            Some(&t.token),
            "{ tenantContext { tenantId userId permissions products { productId access } } }",
            json!({}),
        )
        .await;
    let field = &gql["data"]["tenantContext"];
    assert_eq!(body["permissions"], field["permissions"], "{gql}");
    let products = body["products"].as_array().unwrap();
    assert_eq!(products.len(), field["products"].as_array().unwrap().len());
    for (p, f) in products.iter().zip(field["products"].as_array().unwrap()) {
        assert_eq!(p.as_object().unwrap().len(), 2, "{p}");
        assert_eq!(p["productId"], f["productId"]);
        assert_eq!(
            p["access"],
            f["access"].as_str().unwrap().to_ascii_lowercase()
        );
        assert!(["full", "limited", "none"].contains(&p["access"].as_str().unwrap()));
    }

    // Revalidation: the same ETag is 304 without a body.
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&t.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(resp.headers()["etag"].to_str().unwrap(), etag);
    assert!(resp.bytes().await.unwrap().is_empty());

    // One product, then a change of access: a new ETag and the new value.
    let crm = |token: String| {
        let (client, url) = (app.client.clone(), url.clone());
        async move {
            let resp = client
                .get(&url)
                .query(&[("product", "crm")])
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
            (etag, resp.json::<Value>().await.unwrap())
        }
    };
    let (before, body) = crm(t.token.clone()).await;
    assert_eq!(
        body["products"],
        json!([{ "productId": "crm", "access": "none" }]),
        "{body}"
    );
    let set = app
        .gql(
            Some(&t.token),
            "mutation { setProductAccess(input: { productId: \"crm\", access: FULL }) { access } }",
            json!({}),
        )
        .await;
    assert_eq!(set["data"]["setProductAccess"]["access"], "FULL", "{set}");
    let (after, body) = crm(t.token.clone()).await;
    assert_eq!(
        body["products"],
        json!([{ "productId": "crm", "access": "full" }]),
        "{body}"
    );
    assert_ne!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_context_needs_a_valid_bearer_token() {
    let app = spawn_app().await;
    let url = format!("{}/tenant-context", app.address);
    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"tenant-hub\""
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(common::error_code(&body), "UNAUTHENTICATED");
    let resp = app
        .client
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["reason"], "token_invalid");
}

/// API keys read what the scopes chosen at creation allow: the tenant's config
/// (TENANT_CONFIG_READ) and a named user's TenantContext (TENANT_CONTEXT_READ); a key without
/// them is FORBIDDEN, and members cannot read another user's context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_read_the_tenant_config_and_a_users_context_only_with_their_scopes() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (bob, bob_token) = app.add_user(&t, "bob@acme.example.com", &["member"]).await;
    let create = async |name: &str, scopes: Value| {
        let body = app
            .gql(
                Some(&t.token),
                common::operation("CreateScopedApiKey"),
                json!({ "i": { "productId": "docs", "name": name, "scopes": scopes } }),
            )
            .await;
        let created = &body["data"]["createApiKey"];
        assert!(created.is_object(), "{body}");
        (
            created["key"].as_str().unwrap().to_owned(),
            created["apiKey"]["scopes"].clone(),
        )
    };
    let (plain, none) = create("plain", json!([])).await;
    assert_eq!(none, json!([]));
    let (reader, scopes) = create(
        "reader",
        json!(["TENANT_CONTEXT_READ", "TENANT_CONFIG_READ"]),
    )
    .await;
    assert_eq!(scopes, json!(["TENANT_CONFIG_READ", "TENANT_CONTEXT_READ"]));
    let with_key = async |key: &str, op: &str, vars: Value| -> Value {
        app.client
            .post(format!("{}/graphql", app.address))
            .header("authorization", format!("ApiKey {key}"))
            .json(&json!({ "query": common::operation(op), "variables": vars }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    let refused = with_key(&plain, "ProductTenantConfig", json!({})).await;
    assert_eq!(common::error_code(&refused), "FORBIDDEN", "{refused}");
    let refused = with_key(&plain, "ProductTenantContext", json!({ "userId": bob })).await;
    assert_eq!(common::error_code(&refused), "FORBIDDEN", "{refused}");
    let config = with_key(&reader, "ProductTenantConfig", json!({})).await;
    assert!(
        config["data"]["tenantConfig"]["limits"].is_object(),
        "{config}"
    );
    let context = with_key(
        &reader,
        "ProductTenantContext",
        json!({ "userId": bob, "productId": "workspaces" }),
    )
    .await;
    let own = app
        .gql(
            Some(&bob_token),
            common::operation("ProductTenantContext"),
            json!({ "productId": "workspaces" }),
        )
        .await;
    assert!(
        context["data"]["tenantContext"]["permissions"].is_array(),
        "{context}"
    );
    assert_eq!(
        context["data"]["tenantContext"], own["data"]["tenantContext"],
        "the key reads what bob himself reads"
    );
    let other = app
        .gql(
            Some(&bob_token),
            common::operation("ProductTenantContext"),
            json!({ "userId": t.owner_id }),
        )
        .await;
    assert_eq!(common::error_code(&other), "FORBIDDEN", "{other}");
}

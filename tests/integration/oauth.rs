//! The hub as an OpenID Connect provider, through the real server and database: client
//! registration (GraphQL and the CLI), discovery, the token endpoint's grants and every
//! refusal of the code exchange, refresh tokens bound to their client, service tokens,
//! introspection answering `active:false` at once for a revoked session, revocation and
//! userinfo. Codes are issued by the operation `/oauth/authorize` calls
//! (`ops::oauth_tokens::issue_code`) for a session opened by a real login.

use crate::common;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{PASSWORD, TenantFixture, TestApp, operation, spawn_app};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tenant_hub::{
    db::{ScopedFutureExt, audit::AuditContext},
    ops::oauth_tokens::{CodeRequest, issue_code},
};
use uuid::Uuid;

const REDIRECT: &str = "https://crm.example.com/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-more-entropy";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A tenant whose members have full access to the crm product.
async fn signup_with_crm(app: &TestApp) -> TenantFixture {
    let t = app.signup("acme").await;
    let body = app
        .gql(Some(&t.token), operation("GrantCrmFull"), json!({}))
        .await;
    assert!(body["data"]["setProductAccess"].is_object(), "{body}");
    t
}

struct Client {
    id: String,
    secret: Option<String>,
}

async fn create_client(app: &TestApp, admin: &str, input: Value) -> Value {
    app.gql(
        Some(admin),
        operation("CreateOauthClient"),
        json!({ "i": input }),
    )
    .await
}

async fn crm_client(app: &TestApp, admin: &str, public: bool) -> Client {
    let body = create_client(
        app,
        admin,
        json!({ "productId": "crm", "public": public, "redirectUris": [REDIRECT],
                "backchannelLogoutUri": "https://crm.example.com/backchannel" }),
    )
    .await;
    let created = &body["data"]["createOauthClient"];
    assert!(created.is_object(), "{body}");
    Client {
        id: created["client"]["clientId"].as_str().unwrap().to_owned(),
        secret: created["clientSecret"].as_str().map(str::to_owned),
    }
}

/// A code for the session of a fresh login of the tenant's owner.
async fn code_for(
    app: &TestApp,
    t: &TenantFixture,
    client: &Client,
    nonce: &str,
) -> (String, Value) {
    let login = app.login(&t.domain, &t.owner_email, PASSWORD).await;
    let access = claims(login["accessToken"].as_str().unwrap());
    let session_id: Uuid = access["sid"].as_str().unwrap().parse().unwrap();
    let req = CodeRequest {
        client_id: client.id.parse().unwrap(),
        tenant_id: t.uuid,
        session_id,
        user_id: t.owner_uuid,
        redirect_uri: REDIRECT.to_owned(),
        code_challenge: challenge(VERIFIER),
        nonce: Some(nonce.to_owned()),
        scope: "openid email".to_owned(),
    };
    let code = tenant_hub::ops::in_tenant(&app.state.db, t.uuid, AuditContext::system(), |tx| {
        issue_code(tx, req).scope_boxed()
    })
    .await
    .unwrap()
    .value;
    (code, login)
}

async fn token(app: &TestApp, client: &Client, form: &[(&str, &str)]) -> (u16, Value) {
    let mut req = app.client.post(format!("{}/oauth/token", app.address));
    let mut form: Vec<(&str, &str)> = form.to_vec();
    match &client.secret {
        Some(s) => req = req.basic_auth(&client.id, Some(s)),
        None => form.push(("client_id", &client.id)),
    }
    let res = req.form(&form).send().await.unwrap();
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, res.json().await.unwrap())
}

async fn exchange(app: &TestApp, client: &Client, code: &str, verifier: &str) -> (u16, Value) {
    token(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn post_form(
    app: &TestApp,
    path: &str,
    client: &Client,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = app.client.post(format!("{}{path}", app.address));
    let mut form: Vec<(&str, &str)> = form.to_vec();
    match &client.secret {
        Some(s) => req = req.basic_auth(&client.id, Some(s)),
        None => form.push(("client_id", &client.id)),
    }
    let res = req.form(&form).send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_names_the_public_url_as_issuer_and_every_endpoint_under_it() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(format!("{}/.well-known/openid-configuration", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], app.address.as_str());
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ] {
        assert!(
            doc[key]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}/", app.address)),
            "{key}: {doc}"
        );
    }
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    // The member tokens of the API carry the same issuer.
    let t = signup_with_crm(&app).await;
    assert_eq!(claims(&t.token)["iss"], app.address.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admins_register_clients_and_bad_uris_are_refused() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let conf = crm_client(&app, &admin, false).await;
    assert!(conf.secret.as_deref().unwrap().len() > 40);
    let public = crm_client(&app, &admin, true).await;
    assert!(public.secret.is_none());
    // Only the hash is stored.
    let stored: Vec<u8> = app
        .superuser()
        .await
        .query_one(
            "SELECT secret_hash FROM oauth_clients WHERE id = $1",
            &[&conf.id.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stored,
        Sha256::digest(conf.secret.as_deref().unwrap().as_bytes()).to_vec()
    );

    for (bad, field) in [
        ("http://crm.example.com/cb", "redirectUris"),
        ("https://crm.example.com/cb#x", "redirectUris"),
        ("https://*.example.com/cb", "redirectUris"),
        ("https://user:pw@crm.example.com/cb", "redirectUris"),
    ] {
        let body = create_client(
            &app,
            &admin,
            json!({ "productId": "crm", "redirectUris": [bad] }),
        )
        .await;
        assert_eq!(common::error_code(&body), "BAD_USER_INPUT", "{bad}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let body = create_client(
        &app,
        &admin,
        json!({ "productId": "no-such-product", "redirectUris": [REDIRECT] }),
    )
    .await;
    assert_eq!(common::error_code(&body), "BAD_USER_INPUT", "{body}");
    let loopback = create_client(
        &app,
        &admin,
        json!({ "productId": "crm", "redirectUris": ["http://127.0.0.1:9999/cb"] }),
    )
    .await;
    assert!(
        loopback["data"]["createOauthClient"].is_object(),
        "{loopback}"
    );

    // A tenant's owner is no platform admin.
    let body = create_client(
        &app,
        &t.token,
        json!({ "productId": "crm", "redirectUris": [REDIRECT] }),
    )
    .await;
    assert!(
        body["data"].is_null() || body["data"]["createOauthClient"].is_null(),
        "{body}"
    );

    let list = app
        .gql(
            Some(&admin),
            operation("OauthClients"),
            json!({ "p": "crm" }),
        )
        .await;
    assert_eq!(
        list["data"]["oauthClients"].as_array().unwrap().len(),
        3,
        "{list}"
    );

    let updated = app
        .gql(
            Some(&admin),
            operation("UpdateOauthClient"),
            json!({ "i": { "clientId": conf.id, "redirectUris": [REDIRECT, "https://crm.example.com/cb2"],
                           "postLogoutRedirectUris": ["https://crm.example.com/bye"], "backchannelLogoutUri": "" } }),
        )
        .await;
    let c = &updated["data"]["updateOauthClient"]["client"];
    assert_eq!(c["redirectUris"].as_array().unwrap().len(), 2, "{updated}");
    assert!(c["backchannelLogoutUri"].is_null(), "{updated}");

    // The client is in this replica's cache now; rotating its secret must drop it.
    let (status, body) = token(&app, &conf, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{body}");
    let rotated = app
        .gql(
            Some(&admin),
            operation("RotateOauthClientSecret"),
            json!({ "id": conf.id }),
        )
        .await;
    let new_secret = rotated["data"]["rotateOauthClientSecret"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(Some(&new_secret), conf.secret.as_ref());
    // The old secret stops working at once; the new one works.
    let (status, body) = token(&app, &conf, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let renewed = Client {
        id: conf.id.clone(),
        secret: Some(new_secret),
    };
    let (status, body) = token(&app, &renewed, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{body}");

    let deleted = app
        .gql(
            Some(&admin),
            operation("DeleteOauthClient"),
            json!({ "id": conf.id }),
        )
        .await;
    assert_eq!(
        deleted["data"]["deleteOauthClient"]["deletedClientId"],
        conf.id.as_str(),
        "{deleted}"
    );
    let (status, _) = token(&app, &renewed, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_one_json_line_with_the_secret_only_for_confidential_clients() {
    let app = spawn_app().await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
            .args(["oauth-client", "create", "--product", "crm"])
            .args(args)
            .args(["--database-url", &common::db_url(app.db_name())])
            .output()
            .unwrap()
    };
    let out = run(&[
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        "https://crm.example.com/bye",
        "--backchannel-logout-uri",
        "https://crm.example.com/backchannel",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let line: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(line.as_object().unwrap().len(), 2, "{line}");
    let conf = Client {
        id: line["client_id"].as_str().unwrap().to_owned(),
        secret: Some(line["client_secret"].as_str().unwrap().to_owned()),
    };
    let (status, body) = token(&app, &conf, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{body}");

    let out = run(&["--redirect-uri", "http://127.0.0.1:7000/cb", "--public"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        line.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["client_id"]
    );

    let out = run(&["--redirect-uri", "http://crm.example.com/cb"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("https"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_gives_tokens_once_and_a_reused_code_revokes_what_it_issued() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let client = crm_client(&app, &admin, false).await;
    app.gql(Some(&t.token), operation("LimitCrmAccess"), json!({}))
        .await;
    let (code, _) = code_for(&app, &t, &client, "n-0S6_WzA2Mj").await;
    let (status, body) = exchange(&app, &client, &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(header(body["id_token"].as_str().unwrap())["typ"], "JWT");
    assert_eq!(id["iss"], app.address.as_str());
    assert_eq!(id["aud"], client.id.as_str());
    assert_eq!(id["sub"], t.owner_uuid.to_string());
    assert_eq!(id["tid"], t.uuid.to_string());
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["email"], t.owner_email.as_str());
    assert!(id["auth_time"].is_i64() && id["sid"].is_string());
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["client_id"], client.id.as_str());
    assert_eq!(access["product"], "crm");
    assert_eq!(access["product_access"], "limited");
    assert_eq!(access["sid"], id["sid"]);
    // The access token works with the hub's API like any member's.
    let me = app
        .gql(
            Some(body["access_token"].as_str().unwrap()),
            "{ me { id } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"]["id"], t.owner_id.as_str(), "{me}");

    // The same code again: refused, and the session it issued tokens in is revoked.
    let (status, again) = exchange(&app, &client, &code, VERIFIER).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "{again}"
    );
    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, refused) = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant")),
        "{refused}"
    );
    let me = app
        .gql(
            Some(body["access_token"].as_str().unwrap()),
            "{ me { id } }",
            json!({}),
        )
        .await;
    assert_eq!(common::error_code(&me), "UNAUTHENTICATED", "{me}");
    let actions = common::count(
        &app,
        &format!(
            "SELECT count(*) FROM audit_log WHERE tenant_id = '{}' AND action IN \
             ('oauth.authorized', 'oauth.token_issued', 'oauth.code_reused') \
             AND details->>'client_id' = '{}'",
            t.uuid, client.id
        ),
    )
    .await;
    assert_eq!(actions, 3);
    let with_address = common::count(
        &app,
        &format!(
            "SELECT count(*) FROM audit_log WHERE tenant_id = '{}' AND action = 'oauth.token_issued' \
             AND details->>'client_id' = '{}' AND ip IS NOT NULL",
            t.uuid, client.id
        ),
    )
    .await;
    assert_eq!(with_address, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_exchanges_are_refused_for_every_broken_binding() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let client = crm_client(&app, &admin, false).await;
    let other = crm_client(&app, &admin, false).await;
    let public = crm_client(&app, &admin, true).await;
    let grant = |e: &Value| e["error"].as_str().map(str::to_owned);

    // A wrong verifier, then no verifier: refused (and the code is spent by the first try).
    let (code, _) = code_for(&app, &t, &client, "n").await;
    let (s, e) = exchange(
        &app,
        &client,
        &code,
        "wrong-verifier-wrong-verifier-wrong-verifier-x",
    )
    .await;
    assert_eq!(
        (s, grant(&e).as_deref()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    let (code, _) = code_for(&app, &t, &client, "n").await;
    let (s, e) = token(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (s, grant(&e).as_deref()),
        (400, Some("invalid_request")),
        "{e}"
    );
    // Another client's code.
    let (s, e) = exchange(&app, &other, &code, VERIFIER).await;
    assert_eq!(
        (s, grant(&e).as_deref()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    // Another redirect URI.
    let (s, e) = token(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://crm.example.com/other"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (s, grant(&e).as_deref()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    // Expired (60 s).
    let (expired, _) = code_for(&app, &t, &client, "n").await;
    app.superuser()
        .await
        .execute(
            "UPDATE oauth_codes SET expires_at = now() - interval '1 second' WHERE used_at IS NULL",
            &[],
        )
        .await
        .unwrap();
    let (s, e) = exchange(&app, &client, &expired, VERIFIER).await;
    assert_eq!(
        (s, grant(&e).as_deref()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    // A wrong secret, a secret in the body of a Basic client, no authentication at all.
    let wrong = Client {
        id: client.id.clone(),
        secret: Some("hubcs_wrong".into()),
    };
    let (s, e) = exchange(&app, &wrong, &code, VERIFIER).await;
    assert_eq!(
        (s, grant(&e).as_deref()),
        (401, Some("invalid_client")),
        "{e}"
    );
    let res = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client.id),
            ("client_secret", client.secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        401,
        "client_secret_post for a client_secret_basic client"
    );
    let no_secret = Client {
        id: client.id.clone(),
        secret: None,
    };
    let (s, _) = token(&app, &no_secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(s, 401);
    // A public client: PKCE only, no client_credentials.
    let (s, e) = token(&app, &public, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (s, grant(&e).as_deref()),
        (400, Some("unauthorized_client")),
        "{e}"
    );
    let (code, _) = code_for(&app, &t, &public, "n").await;
    let (s, e) = exchange(&app, &public, &code, VERIFIER).await;
    assert_eq!(s, 200, "{e}");
    // An unknown grant, a repeated parameter.
    let (s, e) = token(&app, &client, &[("grant_type", "password")]).await;
    assert_eq!(
        (s, grant(&e).as_deref()),
        (400, Some("unsupported_grant_type")),
        "{e}"
    );
    let (s, e) = token(
        &app,
        &client,
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(
        (s, grant(&e).as_deref()),
        (400, Some("invalid_request")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_access_gateway_refuses_users_without_access() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let client = crm_client(&app, &admin, false).await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation { setProductAccess(input: { productId: \"crm\", access: NONE }) { access } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["setProductAccess"].is_object(), "{body}");
    let (code, _) = code_for(&app, &t, &client, "n").await;
    let (s, e) = exchange(&app, &client, &code, VERIFIER).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("no access"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_for_their_client_only() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let client = crm_client(&app, &admin, false).await;
    let other = crm_client(&app, &admin, false).await;
    let (code, _) = code_for(&app, &t, &client, "n").await;
    let (_, first) = exchange(&app, &client, &code, VERIFIER).await;
    let r1 = first["refresh_token"].as_str().unwrap();
    // Another client, and the API's refreshSession, cannot use it.
    let (s, e) = token(
        &app,
        &other,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    let api = app
        .gql(None, operation("RefreshSession"), json!({ "t": r1 }))
        .await;
    assert!(api["errors"].is_array(), "{api}");
    let (s, second) = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(s, 200, "{second}");
    assert_eq!(
        claims(second["access_token"].as_str().unwrap())["client_id"],
        client.id.as_str()
    );
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    // r1 again: reuse, the session is revoked, r2 stops working.
    let (s, _) = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", r2)],
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_give_a_service_token_that_the_hub_api_refuses() {
    let app = spawn_app().await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let client = crm_client(&app, &admin, false).await;
    let (s, body) = token(&app, &client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(s, 200, "{body}");
    let service = body["access_token"].as_str().unwrap();
    let c = claims(service);
    assert_eq!(c["scope"], "service");
    assert_eq!(c["client_id"], client.id.as_str());
    assert_eq!(c["product"], "crm");
    assert!(c["tid"].is_null() && c["sid"].is_null());
    let me = app.gql(Some(service), "{ me { id } }", json!({})).await;
    assert_eq!(common::error_code(&me), "UNAUTHENTICATED", "{me}");
    let (s, info) = post_form(&app, "/oauth/introspect", &client, &[("token", service)]).await;
    assert_eq!((s, &info["active"]), (200, &json!(true)), "{info}");
    let (s, e) = token(
        &app,
        &client,
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_scope")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_answers_inactive_at_once_when_the_session_is_revoked() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let client = crm_client(&app, &admin, false).await;
    let public = crm_client(&app, &admin, true).await;
    let (code, _) = code_for(&app, &t, &client, "n").await;
    let (_, tokens) = exchange(&app, &client, &code, VERIFIER).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (s, info) = post_form(&app, "/oauth/introspect", &client, &[("token", access)]).await;
    assert_eq!(s, 200);
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], client.id.as_str());
    assert_eq!(info["sub"], t.owner_uuid.to_string());
    assert_eq!(info["product_access"], "full");
    // Warm, the client and the session come from this replica's caches: no statement (the
    // fewest of three, as the housekeeping loop may add its own to one of them).
    let mut fewest = u64::MAX;
    for _ in 0..3 {
        let before = app.state.db.statements_executed();
        let (_, again) = post_form(&app, "/oauth/introspect", &client, &[("token", access)]).await;
        assert_eq!(again, info);
        fewest = fewest.min(app.state.db.statements_executed() - before);
    }
    assert_eq!(
        fewest, 0,
        "a warm introspection reads nothing from the database"
    );
    let (_, info) = post_form(&app, "/oauth/introspect", &client, &[("token", refresh)]).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["token_type"], "refresh_token");
    // Public clients may not introspect.
    let (s, e) = post_form(&app, "/oauth/introspect", &public, &[("token", access)]).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{e}"
    );
    // Garbage is inactive.
    let (_, info) = post_form(&app, "/oauth/introspect", &client, &[("token", "nonsense")]).await;
    assert_eq!(info, json!({ "active": false }));
    // userinfo while the session lives.
    let info: Value = app
        .client
        .get(format!("{}/oauth/userinfo", app.address))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], t.owner_uuid.to_string());
    assert_eq!(info["email"], t.owner_email.as_str());
    // Logging out (the session of these tokens) turns them inactive at once.
    let out = app.gql(Some(access), operation("LogOut"), json!({})).await;
    assert!(out["errors"].is_null(), "{out}");
    let (_, info) = post_form(&app, "/oauth/introspect", &client, &[("token", access)]).await;
    assert_eq!(info, json!({ "active": false }));
    let (_, info) = post_form(&app, "/oauth/introspect", &client, &[("token", refresh)]).await;
    assert_eq!(info, json!({ "active": false }));
    let res = app
        .client
        .get(format!("{}/oauth/userinfo", app.address))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_ends_a_refresh_token_of_the_client_and_ignores_others() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let client = crm_client(&app, &admin, false).await;
    let other = crm_client(&app, &admin, false).await;
    let (code, _) = code_for(&app, &t, &client, "n").await;
    let (_, tokens) = exchange(&app, &client, &code, VERIFIER).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    // Another client's revocation is answered 200 and changes nothing.
    let (s, _) = post_form(&app, "/oauth/revoke", &other, &[("token", refresh)]).await;
    assert_eq!(s, 200);
    let (s, _) = post_form(&app, "/oauth/revoke", &client, &[("token", "unknown")]).await;
    assert_eq!(s, 200);
    let (s, _) = post_form(
        &app,
        "/oauth/revoke",
        &client,
        &[("token", refresh), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(s, 200);
    let (s, e) = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    let revoked = common::count(
        &app,
        &format!("SELECT count(*) FROM audit_log WHERE tenant_id = '{}' AND action = 'oauth.token_revoked'", t.uuid),
    )
    .await;
    assert_eq!(revoked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_never_redirects_to_an_unregistered_uri_and_answers_login_required_without_a_session()
 {
    let app = spawn_app().await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let client = crm_client(&app, &admin, true).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ch = challenge(VERIFIER);
    let authorize = |extra: Vec<(&'static str, String)>| {
        let mut params: Vec<(&str, String)> = vec![
            ("client_id", client.id.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("response_type", "code".to_owned()),
            ("scope", "openid email".to_owned()),
            ("code_challenge", ch.clone()),
            ("code_challenge_method", "S256".to_owned()),
            ("state", "st-1".to_owned()),
        ];
        for (k, v) in extra {
            params.retain(|(n, _)| *n != k);
            params.push((k, v));
        }
        let url =
            reqwest::Url::parse_with_params(&format!("{}/oauth/authorize", app.address), &params)
                .unwrap();
        no_redirects.get(url).send()
    };
    // An unregistered redirect URI, an unknown client: the hub's page, no Location.
    for extra in [
        vec![("redirect_uri", "https://evil.example.com/steal".to_owned())],
        vec![("redirect_uri", format!("{REDIRECT}/"))],
        vec![("client_id", Uuid::new_v4().to_string())],
        vec![("client_id", "junk".to_owned())],
    ] {
        let res = authorize(extra.clone()).await.unwrap();
        assert_eq!(res.status().as_u16(), 400, "{extra:?}");
        assert!(res.headers().get("location").is_none(), "{extra:?}");
        assert!(
            res.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        let page = res.text().await.unwrap();
        assert!(!page.contains("evil.example.com"), "{page}");
    }
    // A bad request of a trusted client goes back to it with state and iss.
    let res = authorize(vec![("code_challenge_method", "plain".to_owned())])
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let to = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(to.as_str().split('?').next().unwrap(), REDIRECT);
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], app.address);
    // prompt=none without a session: login_required to the client.
    let res = authorize(vec![("prompt", "none".to_owned())])
        .await
        .unwrap();
    let to = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "login_required", "{to}");
    // Otherwise: the hub's login page, coming back to this very request.
    let res = authorize(vec![("tenant", "acme.example.com".to_owned())])
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/login?return_to=%2Foauth%2Fauthorize%3F"),
        "{location}"
    );
    assert!(location.contains("tenant=acme.example.com"), "{location}");
}

/// The browser flow over HTTP: a product sends the browser to /oauth/authorize, the hub's login
/// page signs it in and sends it back to authorize, which redirects to the product with a code
/// the product exchanges; a second product then gets its code without a prompt (single
/// sign-on), `prompt=none` works once signed in, `prompt=login` asks again, and a user without
/// access to a product is stopped at the hub (the product access gateway).
#[tokio::test]
async fn a_browser_signs_in_once_and_every_product_gets_its_code() {
    use crate::common::pages::PageClient;
    let app = spawn_app().await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let t = signup_with_crm(&app).await;
    let crm = crm_client(&app, &admin, true).await;
    let second = crm_client(&app, &admin, false).await;
    let browser = PageClient::new(&app.address);
    let ch = challenge(VERIFIER);
    let authorize_path = |client: &Client, extra: &[(&str, &str)]| {
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", &client.id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
            ("state", "st-1"),
            ("nonce", "n-1"),
        ];
        params.extend_from_slice(extra);
        let url = reqwest::Url::parse_with_params("http://hub/oauth/authorize", &params).unwrap();
        format!("/oauth/authorize?{}", url.query().unwrap())
    };
    let code_of = |location: &str| -> String {
        let to = reqwest::Url::parse(location).unwrap();
        assert_eq!(
            to.as_str().split('?').next().unwrap(),
            REDIRECT,
            "{location}"
        );
        let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
        assert_eq!(q["state"], "st-1", "{location}");
        assert_eq!(q["iss"], app.address, "{location}");
        q.get("code")
            .cloned()
            .unwrap_or_else(|| panic!("no code: {location}"))
    };

    // Not signed in: to the login page, which comes back to this request.
    let first = browser.get(&authorize_path(&crm, &[])).await;
    assert_eq!(first.status, 302);
    let login = first.location().unwrap().to_owned();
    assert!(
        login.starts_with("/login?return_to=%2Foauth%2Fauthorize"),
        "{login}"
    );
    let return_to: String = reqwest::Url::parse(&format!("http://hub{login}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "return_to")
        .unwrap()
        .1
        .into_owned();
    let signed_in = browser
        .sign_in("", &t.owner_email, PASSWORD, &return_to)
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.html);
    assert_eq!(signed_in.location(), Some(return_to.as_str()));
    let back = browser.get(&return_to).await;
    assert_eq!(back.status, 302, "{}", back.html);
    let code = code_of(back.location().unwrap());
    let (status, tokens) = exchange(&app, &crm, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["aud"], crm.id.as_str());
    assert_eq!(id["sub"], t.owner_uuid.to_string());
    let sid = id["sid"].as_str().unwrap().to_owned();

    // The second product: straight back with a code, no login page; the same hub session.
    let sso = browser.get(&authorize_path(&second, &[])).await;
    assert_eq!(sso.status, 302, "{}", sso.html);
    let code = code_of(sso.location().unwrap());
    let (status, tokens) = exchange(&app, &second, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sid"], sid.as_str(), "one hub session for both products");
    assert_eq!(id["aud"], second.id.as_str());

    // prompt=none: a code at once; prompt=login: the login page again, without a loop.
    let silent = browser
        .get(&authorize_path(&crm, &[("prompt", "none")]))
        .await;
    code_of(silent.location().unwrap());
    let again = browser
        .get(&authorize_path(&crm, &[("prompt", "login")]))
        .await;
    let login = again.location().unwrap();
    assert!(login.starts_with("/login?"), "{login}");
    assert!(login.contains("force=1"), "{login}");
    assert!(
        !login.contains("prompt"),
        "the login page comes back without prompt: {login}"
    );
    // max_age=0 also asks again.
    let aged = browser
        .get(&authorize_path(&crm, &[("max_age", "0")]))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let aged_again = browser
        .get(&authorize_path(&crm, &[("max_age", "0")]))
        .await;
    assert!(
        aged.location().unwrap().starts_with("/login?")
            || aged_again.location().unwrap().starts_with("/login?"),
        "max_age=0 sends the browser to the login page"
    );

    // The gateway: a member whose crm access is `none` is stopped at the hub.
    let (member, _) = app
        .add_user(&t, "member@acme.example.com", &["member"])
        .await;
    let body = app
        .gql(
            Some(&t.token),
            operation("SetProductAccess"),
            json!({ "i": { "productId": "crm", "access": "NONE", "userId": member } }),
        )
        .await;
    assert!(body["data"]["setProductAccess"].is_object(), "{body}");
    let other = PageClient::new(&app.address);
    let member_login = other
        .sign_in(&t.domain, "member@acme.example.com", PASSWORD, "/")
        .await;
    assert_eq!(member_login.status, 303, "{}", member_login.html);
    let denied = other.get(&authorize_path(&crm, &[])).await;
    assert_eq!(denied.status, 403, "{}", denied.html);
    assert!(
        denied.html.contains("No access to this product"),
        "{}",
        denied.html
    );
    assert!(
        denied.html.contains("error=access_denied"),
        "{}",
        denied.html
    );
    let none = other
        .get(&authorize_path(&crm, &[("prompt", "none")]))
        .await;
    assert!(
        none.location().unwrap().contains("error=access_denied"),
        "{:?}",
        none.location()
    );
}

//! Logging out of the hub through a product (OpenID Connect RP-Initiated Logout 1.0) and
//! telling the other products (Back-Channel Logout 1.0), through the real server, database and
//! an HTTP receiver standing for a product's back-channel endpoint; also `email_verified` in
//! ID tokens and userinfo, and the product's name on the hosted login page. A browser signs in
//! over HTTP (`common::pages::PageClient`): product → /oauth/authorize → the hub's login page →
//! back with a code, exchanged at /oauth/token.

use crate::common;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{
    PASSWORD, Receiver, TenantFixture, TestApp, operation, pages::PageClient, spawn_app,
    spawn_app_with,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const REDIRECT: &str = "https://crm.example.com/callback";
const AFTER_LOGOUT: &str = "https://crm.example.com/signed-out";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-more-entropy";

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

struct Client {
    id: String,
    secret: String,
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

/// A confidential crm client with a post-logout URI and, when given, a back-channel URI.
async fn crm_client(app: &TestApp, admin: &str, backchannel: Option<&str>) -> Client {
    let body = app
        .gql(
            Some(admin),
            operation("CreateOauthClient"),
            json!({ "i": { "productId": "crm", "public": false, "redirectUris": [REDIRECT],
                    "postLogoutRedirectUris": [AFTER_LOGOUT],
                    "backchannelLogoutUri": backchannel } }),
        )
        .await;
    let created = &body["data"]["createOauthClient"];
    assert!(created.is_object(), "{body}");
    Client {
        id: created["client"]["clientId"].as_str().unwrap().to_owned(),
        secret: created["clientSecret"].as_str().unwrap().to_owned(),
    }
}

fn authorize_path(client: &Client) -> String {
    let ch = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let params: Vec<(&str, &str)> = vec![
        ("client_id", &client.id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("code_challenge", &ch),
        ("code_challenge_method", "S256"),
        ("state", "st-1"),
        ("nonce", "n-1"),
    ];
    let url = reqwest::Url::parse_with_params("http://hub/oauth/authorize", &params).unwrap();
    format!("/oauth/authorize?{}", url.query().unwrap())
}

fn query_of(location: &str) -> HashMap<String, String> {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The product's side of a sign-in: to /oauth/authorize (the browser signs in at the hub when
/// it has no session yet), back with a code, exchanged for tokens.
async fn sign_in(app: &TestApp, browser: &PageClient, t: &TenantFixture, client: &Client) -> Value {
    let path = authorize_path(client);
    let mut answer = browser.get(&path).await;
    if answer.location().is_some_and(|l| l.starts_with("/login?")) {
        let done = browser.sign_in("", &t.owner_email, PASSWORD, &path).await;
        assert_eq!(done.status, 303, "{}", done.html);
        answer = browser.get(&path).await;
    }
    assert_eq!(answer.status, 302, "{}", answer.html);
    let code = query_of(answer.location().unwrap())["code"].clone();
    let res = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.json().await.unwrap()
}

async fn client_post(app: &TestApp, client: &Client, path: &str, form: &[(&str, &str)]) -> Value {
    app.client
        .post(format!("{}{path}", app.address))
        .basic_auth(&client.id, Some(&client.secret))
        .form(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn refresh(app: &TestApp, client: &Client, token: &str) -> Value {
    client_post(
        app,
        client,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

async fn logout_path(params: &[(&str, &str)]) -> String {
    let url = reqwest::Url::parse_with_params("http://hub/oauth/logout", params).unwrap();
    format!("/oauth/logout?{}", url.query().unwrap_or_default())
}

/// Whether the browser still has a hub session (`GET /` greets it instead of redirecting).
async fn signed_in(browser: &PageClient) -> bool {
    browser.get("/").await.status == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_logs_the_user_out_with_its_id_token_and_gets_the_browser_back_with_its_state() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let crm = crm_client(&app, &admin, None).await;
    let doc: Value = app
        .client
        .get(format!("{}/.well-known/openid-configuration", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{}/oauth/logout", app.address)
    );
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(doc["backchannel_logout_session_supported"], true);

    let browser = PageClient::new(&app.address);
    let tokens = sign_in(&app, &browser, &t, &crm).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    assert!(signed_in(&browser).await);

    let out = browser
        .get(
            &logout_path(&[
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
                ("state", "bye-1"),
            ])
            .await,
        )
        .await;
    assert_eq!(out.status, 303, "{}", out.html);
    let to = out.location().unwrap();
    assert!(to.starts_with(AFTER_LOGOUT), "{to}");
    assert_eq!(query_of(to)["state"], "bye-1");
    assert!(
        out.set_cookie("__Host-hub_session")
            .is_some_and(|c| c.to_ascii_lowercase().contains("max-age=0")),
        "the session cookie is removed: {:?}",
        out.set_cookies()
    );
    assert!(!signed_in(&browser).await, "the hub session has ended");

    // The session's tokens: the refresh token fails, introspection says inactive at once.
    let refused = refresh(&app, &crm, refresh_token).await;
    assert_eq!(refused["error"], "invalid_grant", "{refused}");
    for token in [access_token, refresh_token] {
        let info = client_post(&app, &crm, "/oauth/introspect", &[("token", token)]).await;
        assert_eq!(info["active"], false, "{info}");
    }
    // Audited with the client and the caller's address.
    let su = app.superuser().await;
    let row = su
        .query_one(
            "SELECT details->>'client_id', ip FROM audit_log WHERE tenant_id = $1 AND action = 'oauth.logout'",
            &[&t.uuid],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(0).as_deref(),
        Some(crm.id.as_str())
    );
    assert!(
        row.get::<_, Option<String>>(1)
            .is_some_and(|ip| ip.contains("127.0.0.1"))
    );

    // POST works the same, and an expired hint (here one the hub signed with a past exp) is
    // still accepted: the user logs out whenever they like.
    let browser = PageClient::new(&app.address);
    let tokens = sign_in(&app, &browser, &t, &crm).await;
    let mut old = claims(tokens["id_token"].as_str().unwrap());
    old["iat"] = json!(1_000_000_000);
    old["exp"] = json!(1_000_000_600);
    let expired = app.state.tokens.sign("JWT", &old).unwrap();
    let out = browser
        .post_with(
            "/oauth/logout",
            &[
                ("id_token_hint", &expired),
                ("client_id", &crm.id),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
            ],
            &[("origin", "https://crm.example.com")],
        )
        .await;
    assert_eq!(out.status, 303, "{}", out.html);
    assert_eq!(out.location(), Some(AFTER_LOGOUT));
    assert!(!signed_in(&browser).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_never_redirects_to_an_address_that_the_asking_client_did_not_register() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let crm = crm_client(&app, &admin, None).await;
    let other = crm_client(&app, &admin, None).await;
    let browser = PageClient::new(&app.address);
    let tokens = sign_in(&app, &browser, &t, &crm).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let unknown = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "an unregistered post-logout URI",
            vec![
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", "https://evil.example.com/phish"),
            ],
        ),
        (
            "a registered URI with a suffix",
            vec![
                ("id_token_hint", id_token),
                (
                    "post_logout_redirect_uri",
                    "https://crm.example.com/signed-out/x",
                ),
            ],
        ),
        (
            "a hint of another client than client_id",
            vec![
                ("id_token_hint", id_token),
                ("client_id", &other.id),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
            ],
        ),
        (
            "a URI without any client",
            vec![("post_logout_redirect_uri", AFTER_LOGOUT)],
        ),
        (
            "an unknown client",
            vec![
                ("client_id", &unknown),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
            ],
        ),
    ];
    for (what, params) in cases {
        let page = browser.get(&logout_path(&params).await).await;
        assert_eq!(page.status, 400, "{what}: {}", page.html);
        assert!(page.location().is_none(), "{what}: no redirect");
        assert!(!page.html.contains("evil.example.com"), "{what}");
        assert!(
            page.html.contains("This sign-out cannot continue"),
            "{what}: {}",
            page.html
        );
        assert!(signed_in(&browser).await, "{what}: nothing was changed");
    }
    // The refresh token still works: nothing was ended.
    let ok = refresh(&app, &crm, tokens["refresh_token"].as_str().unwrap()).await;
    assert!(ok["access_token"].is_string(), "{ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_or_altered_id_token_hint_is_refused_and_ends_nothing() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let crm = crm_client(&app, &admin, None).await;
    let browser = PageClient::new(&app.address);
    let tokens = sign_in(&app, &browser, &t, &crm).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let parts: Vec<&str> = id_token.split('.').collect();
    let mut payload = claims(id_token);
    payload["sid"] = json!(uuid::Uuid::new_v4().to_string());
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap()),
        parts[2]
    );
    // Signed with a key of its own, under the hub's kid.
    let mut forged_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    forged_header.kid = header(id_token)["kid"].as_str().map(str::to_owned);
    forged_header.typ = Some("JWT".to_owned());
    let forged = jsonwebtoken::encode(
        &forged_header,
        &claims(id_token),
        &jsonwebtoken::EncodingKey::from_secret(b"not the hub's key"),
    )
    .unwrap();
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    let access_token = tokens["access_token"].as_str().unwrap();
    for (what, hint) in [
        ("altered", altered.as_str()),
        ("forged", forged.as_str()),
        ("unsigned", unsigned.as_str()),
        ("an access token", access_token),
        ("junk", "junk"),
    ] {
        let page = browser
            .get(
                &logout_path(&[
                    ("id_token_hint", hint),
                    ("post_logout_redirect_uri", AFTER_LOGOUT),
                ])
                .await,
            )
            .await;
        assert_eq!(page.status, 400, "{what}: {}", page.html);
        assert!(page.location().is_none(), "{what}");
        assert!(signed_in(&browser).await, "{what}: the session lives");
    }
    let ended = common::count(
        &app,
        &format!(
            "SELECT count(*) FROM sessions WHERE tenant_id = '{}' AND revoked_at IS NOT NULL",
            t.uuid
        ),
    )
    .await;
    assert_eq!(ended, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_hint_the_hub_asks_first_and_refuses_the_answer_without_its_csrf_token() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let crm = crm_client(&app, &admin, None).await;
    let browser = PageClient::new(&app.address);
    sign_in(&app, &browser, &t, &crm).await;
    let ask = browser
        .get(
            &logout_path(&[
                ("client_id", &crm.id),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
                ("state", "s-2"),
            ])
            .await,
        )
        .await;
    assert_eq!(ask.status, 200, "{}", ask.html);
    assert!(
        ask.html.contains("action=\"/oauth/logout/confirm\""),
        "{}",
        ask.html
    );
    assert!(
        ask.html.contains("to continue to CRM") || ask.html.contains("CRM"),
        "the product is named: {}",
        ask.html
    );
    assert!(signed_in(&browser).await, "asking ends nothing");
    let form = |csrf: Option<String>| {
        let mut f = vec![
            ("client_id".to_owned(), ask.field("client_id").unwrap()),
            (
                "post_logout_redirect_uri".to_owned(),
                ask.field("post_logout_redirect_uri").unwrap(),
            ),
            ("state".to_owned(), ask.field("state").unwrap()),
        ];
        if let Some(c) = csrf {
            f.push(("csrf".to_owned(), c));
        }
        f
    };
    let as_refs = |f: &Vec<(String, String)>| -> Vec<(String, String)> { f.clone() };
    // Without the token, with a wrong one, or from another site: refused, still signed in.
    for (what, fields, origin) in [
        ("no token", form(None), app.address.clone()),
        (
            "a wrong token",
            form(Some("x".repeat(43))),
            app.address.clone(),
        ),
        (
            "another site",
            form(Some(ask.csrf())),
            "https://evil.example.com".to_owned(),
        ),
    ] {
        let fields = as_refs(&fields);
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let refused = browser
            .post_with("/oauth/logout/confirm", &pairs, &[("origin", &origin)])
            .await;
        assert_eq!(refused.status, 403, "{what}: {}", refused.html);
        assert!(signed_in(&browser).await, "{what}");
    }
    // The form as the page made it: signed out, back to the product with its state.
    let fields = form(Some(ask.csrf()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let done = browser.post("/oauth/logout/confirm", &pairs).await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(query_of(done.location().unwrap())["state"], "s-2");
    assert!(!signed_in(&browser).await);

    // Without any client: the same question, then the hub's signed-out page.
    let browser = PageClient::new(&app.address);
    sign_in(&app, &browser, &t, &crm).await;
    let ask = browser.get("/oauth/logout").await;
    assert_eq!(ask.status, 200, "{}", ask.html);
    let done = browser
        .post(
            "/oauth/logout/confirm",
            &[("csrf", &ask.csrf()), ("client_id", ""), ("state", "")],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(done.html.contains("You are signed out"), "{}", done.html);
    assert!(!signed_in(&browser).await);
}

/// The logout token a receiver got, verified against the hub's JWKS: its claims.
async fn verified_logout_token(app: &TestApp, body: &[u8], client: &Client) -> Value {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let token = form
        .get("logout_token")
        .unwrap_or_else(|| panic!("no logout_token in {:?}", String::from_utf8_lossy(body)));
    let head = header(token);
    assert_eq!(head["typ"], "logout+jwt");
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks
        .find(head["kid"].as_str().unwrap())
        .expect("the token's key is in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[&client.id]);
    validation.set_issuer(&[&app.address]);
    validation.set_required_spec_claims(&["iss", "aud", "iat", "exp", "jti"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("the logout token verifies against the JWKS")
        .claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_product_of_an_ended_session_gets_a_signed_logout_token_by_back_channel() {
    let receiver = Receiver::start(vec![]).await;
    let app = spawn_app_with(|s| {
        s.usage_flush_secs = 1;
        s.webhook_allow_private = true;
    })
    .await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let with_backchannel = crm_client(&app, &admin, Some(&receiver.url)).await;
    let without = crm_client(&app, &admin, None).await;
    let browser = PageClient::new(&app.address);
    let a = sign_in(&app, &browser, &t, &with_backchannel).await;
    let b = sign_in(&app, &browser, &t, &without).await;
    let id_a = claims(a["id_token"].as_str().unwrap());
    let id_b = claims(b["id_token"].as_str().unwrap());
    assert_eq!(id_a["sid"], id_b["sid"], "one hub session (single sign-on)");

    // Logging out in B: A is told.
    let out = browser
        .get(
            &logout_path(&[
                ("id_token_hint", b["id_token"].as_str().unwrap()),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
            ])
            .await,
        )
        .await;
    assert_eq!(out.status, 303, "{}", out.html);
    receiver.wait_for(1).await;
    let got = receiver.received();
    let c = verified_logout_token(&app, &got[0].body, &with_backchannel).await;
    assert_eq!(c["sub"], t.owner_uuid.to_string());
    assert_eq!(c["sid"], id_a["sid"]);
    assert_eq!(c["aud"], with_backchannel.id.as_str());
    assert_eq!(
        c["events"],
        json!({ "http://schemas.openid.net/event/backchannel-logout": {} })
    );
    assert!(c.get("nonce").is_none(), "{c}");
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert!(exp > iat && exp - iat <= 300, "a short-lived token: {c}");
    assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));
    // A's refresh token no longer works either.
    let refused = refresh(
        &app,
        &with_backchannel,
        a["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(refused["error"], "invalid_grant", "{refused}");
    // Recorded: one delivered notice (none for the client without a back-channel URI).
    assert_eq!(
        common::count(
            &app,
            "SELECT count(*) FROM backchannel_logouts WHERE delivered_at IS NOT NULL AND attempts = 1"
        )
        .await,
        1
    );
    assert_eq!(
        common::count(&app, "SELECT count(*) FROM backchannel_logouts").await,
        1
    );

    // The hub's own sign-out page ends a session the same way, and so does a password change
    // (it ends the user's other sessions): each queues its notice in the same transaction.
    let browser = PageClient::new(&app.address);
    sign_in(&app, &browser, &t, &with_backchannel).await;
    let home = browser.get("/").await;
    let out = browser.post("/logout", &[("csrf", &home.csrf())]).await;
    assert_eq!(out.status, 200, "{}", out.html);
    receiver.wait_for(2).await;
    let browser = PageClient::new(&app.address);
    let c = sign_in(&app, &browser, &t, &with_backchannel).await;
    let body = app
        .gql(
            Some(&t.token),
            operation("ChangePassword"),
            json!({ "current": PASSWORD, "new": "another-long-password-42" }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    receiver.wait_for(3).await;
    let last = verified_logout_token(&app, &receiver.received()[2].body, &with_backchannel).await;
    assert_eq!(last["sid"], claims(c["id_token"].as_str().unwrap())["sid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_token_the_product_did_not_take_is_delivered_later_with_the_same_jti() {
    // Down (503) for the first attempt, then up.
    let receiver = Receiver::start(vec![503]).await;
    let app = spawn_app_with(|s| {
        s.usage_flush_secs = 1;
        s.backchannel_retry_secs = 1;
        s.webhook_allow_private = true;
    })
    .await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let client = crm_client(&app, &admin, Some(&receiver.url)).await;
    let browser = PageClient::new(&app.address);
    let tokens = sign_in(&app, &browser, &t, &client).await;
    let out = browser
        .get(&logout_path(&[("id_token_hint", tokens["id_token"].as_str().unwrap())]).await)
        .await;
    assert_eq!(out.status, 200, "the signed-out page: {}", out.html);
    assert!(out.html.contains("You are signed out"), "{}", out.html);
    receiver.wait_for(2).await;
    let got = receiver.received();
    let first = verified_logout_token(&app, &got[0].body, &client).await;
    let second = verified_logout_token(&app, &got[1].body, &client).await;
    assert_eq!(first["jti"], second["jti"], "a repeat the product can tell");
    assert!(
        common::eventually(async || common::count(
            &app,
            "SELECT count(*) FROM backchannel_logouts WHERE delivered_at IS NOT NULL AND attempts = 2"
        )
        .await
            == 1)
        .await
    );
    let su = app.superuser().await;
    let attempts: Vec<(String, Option<String>)> = su
        .query(
            "SELECT outcome, error FROM backchannel_logout_attempts ORDER BY attempt",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        attempts,
        vec![
            ("failed".to_owned(), Some("HTTP 503".to_owned())),
            ("delivered".to_owned(), None)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_and_userinfo_say_whether_the_email_is_verified() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let crm = crm_client(&app, &admin, None).await;
    let su = app.superuser().await;
    su.execute(
        "UPDATE users SET email_verified_at = NULL WHERE tenant_id = $1 AND id = $2",
        &[&t.uuid, &t.owner_uuid],
    )
    .await
    .unwrap();
    let userinfo = async |access: &str| -> Value {
        app.client
            .get(format!("{}/oauth/userinfo", app.address))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    let browser = PageClient::new(&app.address);
    let tokens = sign_in(&app, &browser, &t, &crm).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email"], t.owner_email.as_str());
    assert_eq!(id["email_verified"], false, "{id}");
    let info = userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email_verified"], false, "{info}");
    assert_eq!(info["email"], t.owner_email.as_str());

    su.execute(
        "UPDATE users SET email_verified_at = now() WHERE tenant_id = $1 AND id = $2",
        &[&t.uuid, &t.owner_uuid],
    )
    .await
    .unwrap();
    let tokens = sign_in(&app, &browser, &t, &crm).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email_verified"], true, "{id}");
    let info = userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email_verified"], true, "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_names_the_product_the_user_is_signing_in_to() {
    let app = spawn_app().await;
    let t = signup_with_crm(&app).await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let crm = crm_client(&app, &admin, None).await;
    let browser = PageClient::new(&app.address);
    let to_login = browser.get(&authorize_path(&crm)).await;
    let login = browser.get(to_login.location().unwrap()).await;
    assert_eq!(login.status, 200, "{}", login.html);
    assert!(login.html.contains("to continue to CRM"), "{}", login.html);
    let step = browser
        .post(
            "/login/identify",
            &[
                ("csrf", &login.csrf()),
                ("return_to", &authorize_path(&crm)),
                ("tenant", ""),
                ("email", &t.owner_email),
            ],
        )
        .await;
    assert!(step.html.contains("to continue to CRM"), "{}", step.html);
    // A plain sign-in names no product.
    let plain = PageClient::new(&app.address).get("/login").await;
    assert!(!plain.html.contains("to continue to"), "{}", plain.html);
}

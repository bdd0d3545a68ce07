//! Single sign-on end to end, in headless Chromium: two instances of the example relying party
//! (examples/oidc_product.rs, the `openidconnect` crate) as products A (crm, a confidential
//! client) and B (helpdesk, a public client), each with its own client registration, against
//! the real hub. A signs in through the hub's login page; B is signed in without a prompt (the
//! same hub session); a user without access to B's product gets the access-denied page; signing
//! out in B ends the hub session, A's back-channel endpoint gets a valid logout token and A's
//! refresh token no longer works. The example's back-channel endpoint is also tested alone, with
//! logout tokens signed by the hub's key: every malformed one refused, a valid one acted on once.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::common::{
    self, PASSWORD, TenantFixture, TestApp,
    browser::{ChromeDriver, Session, require_browser},
    operation,
    pages::PageClient,
};

#[path = "../../examples/oidc_product.rs"]
#[allow(dead_code)]
mod oidc_product;

use oidc_product::{ProductApp, Settings, SignedIn};

/// One running instance of the example app.
struct Product {
    base: String,
    client_id: String,
    app: Arc<ProductApp>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Product {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// Binds a port for the app, registers its client at the hub (its own redirect, post-logout
/// and back-channel URIs), then starts it.
async fn start_product(hub: &TestApp, admin: &str, product: &str, public: bool) -> Product {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let body = hub
        .gql(
            Some(admin),
            operation("CreateOauthClient"),
            json!({ "i": {
                "productId": product,
                "public": public,
                "redirectUris": [format!("{base}/callback")],
                "postLogoutRedirectUris": [format!("{base}/signed-out")],
                "backchannelLogoutUri": format!("{base}/backchannel-logout"),
            } }),
        )
        .await;
    let created = &body["data"]["createOauthClient"];
    assert!(created.is_object(), "{body}");
    let client_id = created["client"]["clientId"].as_str().unwrap().to_owned();
    let app = Arc::new(
        ProductApp::discover(Settings {
            issuer: hub.address.clone(),
            client_id: client_id.clone(),
            client_secret: created["clientSecret"].as_str().map(str::to_owned),
            base_url: base.clone(),
            product: product.to_owned(),
        })
        .await
        .expect("the example discovers the hub"),
    );
    let server = oidc_product::serve(app.clone(), listener).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    Product {
        base,
        client_id,
        app,
        handle,
    }
}

/// A hub (back-channel deliveries to loopback allowed, its outbox loop every second), a tenant
/// whose members have full access to crm and helpdesk, and products A (crm, confidential) and
/// B (helpdesk, public).
async fn hub_and_products() -> (TestApp, TenantFixture, Product, Product) {
    let hub = common::spawn_app_with(|s| {
        s.webhook_allow_private = true;
        s.usage_flush_secs = 1;
    })
    .await;
    let t = hub.signup("acme").await;
    for product in ["crm", "helpdesk"] {
        let body = hub
            .gql(
                Some(&t.token),
                operation("SetProductAccess"),
                json!({ "i": { "productId": product, "access": "FULL" } }),
            )
            .await;
        assert!(body["data"]["setProductAccess"].is_object(), "{body}");
    }
    let admin = hub.platform_admin("root@hub.example.com").await;
    let a = start_product(&hub, &admin, "crm", false).await;
    let b = start_product(&hub, &admin, "helpdesk", true).await;
    (hub, t, a, b)
}

/// Signs in on the hub's pages (email step, then password step), wherever the browser is sent
/// to them.
async fn sign_in_at_hub(session: &Session<'_>, hub: &TestApp, email: &str) -> anyhow::Result<()> {
    session
        .wait_for_url("the hub's login page", |u| {
            u.starts_with(&format!("{}/login", hub.address))
        })
        .await?;
    session.enter_email_and_password(email, PASSWORD).await
}

/// A → the hub's login page → back to A signed in; then B → straight back signed in, without
/// the login page (the browser's hub session).
async fn sign_in_to_a_then_b(
    session: &Session<'_>,
    hub: &TestApp,
    t: &TenantFixture,
    a: &Product,
    b: &Product,
) -> anyhow::Result<()> {
    session.goto(&format!("{}/login", a.base)).await?;
    sign_in_at_hub(session, hub, &t.owner_email).await?;
    session
        .wait_for_url("A's home", |u| u == format!("{}/", a.base))
        .await?;
    let text = session.text().await?;
    anyhow::ensure!(
        text.contains(&format!("Signed in as {}", t.owner_email)) && text.contains("access full"),
        "A: {text}"
    );
    anyhow::ensure!(a.app.signed_in().len() == 1, "A keeps one session");

    session.log("performance").await?; // from here on: B's requests only
    session.goto(&format!("{}/login", b.base)).await?;
    session
        .wait_for_url("B's home", |u| u == format!("{}/", b.base))
        .await?;
    let text = session.text().await?;
    anyhow::ensure!(
        text.contains(&format!("Signed in as {}", t.owner_email)) && text.contains("access full"),
        "B: {text}"
    );
    let requests = session.requests().await?;
    anyhow::ensure!(
        requests.iter().any(|r| r
            .url
            .starts_with(&format!("{}/oauth/authorize", hub.address))),
        "B went through the hub: {requests:?}"
    );
    anyhow::ensure!(
        !requests
            .iter()
            .any(|r| r.url.starts_with(&format!("{}/login", hub.address))),
        "B got no login prompt: {requests:?}"
    );
    Ok(())
}

/// Runs `steps` in a fresh Chromium session; panics with the driver's log when they fail.
async fn in_chromium<F>(steps: F)
where
    F: AsyncFnOnce(&Session<'_>) -> anyhow::Result<()>,
{
    require_browser();
    let driver = ChromeDriver::start();
    let session = driver
        .new_session()
        .await
        .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e:#}{}", driver.log_tail()));
    let outcome = steps(&session).await;
    let _ = session.quit().await;
    if let Err(e) = outcome {
        panic!("{e:#}{}", driver.log_tail());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signed_in_to_product_a_is_signed_in_to_product_b_without_a_prompt() {
    let (hub, t, a, b) = hub_and_products().await;
    in_chromium(async |session| {
        sign_in_to_a_then_b(session, &hub, &t, &a, &b).await?;
        // One hub session, seen by both products.
        let (sa, sb) = (&a.app.signed_in()[0], &b.app.signed_in()[0]);
        anyhow::ensure!(sa.hub_session == sb.hub_session, "one hub session");
        anyhow::ensure!(sa.subject == t.owner_uuid.to_string(), "A's subject");
        anyhow::ensure!(sa.tenant_id == t.uuid.to_string(), "A's tenant");
        anyhow::ensure!(
            sb.tenant_context["products"] == json!([{ "productId": "helpdesk", "access": "full" }]),
            "B's TenantContext: {}",
            sb.tenant_context
        );
        // A uses its refresh token (rotated by the hub) and stays signed in.
        let before = sa.refresh_token.clone();
        session.goto(&format!("{}/", a.base)).await?;
        session.click("#refresh").await?;
        let rotated = || {
            let after = a.app.signed_in();
            after.len() == 1 && after[0].refresh_token != before
        };
        let deadline = std::time::Instant::now() + common::browser::UI_TIMEOUT;
        while !rotated() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::ensure!(
            rotated(),
            "A's refresh token was rotated, A still signed in"
        );
        anyhow::Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_access_to_product_b_gets_the_access_denied_page() {
    let (hub, t, _a, b) = hub_and_products().await;
    let (member, _) = hub
        .add_user(&t, "member@acme.example.com", &["member"])
        .await;
    let body = hub
        .gql(
            Some(&t.token),
            operation("SetProductAccess"),
            json!({ "i": { "productId": "helpdesk", "access": "NONE", "userId": member } }),
        )
        .await;
    assert!(body["data"]["setProductAccess"].is_object(), "{body}");
    in_chromium(async |session| {
        session.goto(&format!("{}/login", b.base)).await?;
        sign_in_at_hub(session, &hub, "member@acme.example.com").await?;
        // The hub's page: signed in, but not for this product.
        let deadline = std::time::Instant::now() + common::browser::UI_TIMEOUT;
        let mut text = String::new();
        while std::time::Instant::now() < deadline {
            text = session.text().await?;
            if text.contains("not given you access to this product") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::ensure!(
            text.contains("not given you access to this product"),
            "the hub's access-denied page: {text}"
        );
        anyhow::ensure!(
            session.url().await?.starts_with(&hub.address),
            "the page is the hub's"
        );
        // Its link returns access_denied to B, which says so and signs no one in.
        session.click("a.button").await?;
        session
            .wait_for_url("B's callback", |u| {
                u.starts_with(&format!("{}/callback", b.base)) && u.contains("error=access_denied")
            })
            .await?;
        let text = session.text().await?;
        anyhow::ensure!(text.contains("Access denied"), "B: {text}");
        anyhow::ensure!(b.app.signed_in().is_empty(), "B signed no one in");
        anyhow::Ok(())
    })
    .await;
}

/// A refresh-token grant at the hub's token endpoint as a public client (`client_id` only).
async fn refresh_at_hub(hub: &TestApp, client_id: &str, refresh_token: &str) -> (u16, Value) {
    let res = hub
        .client
        .post(format!("{}/oauth/token", hub.address))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_in_product_b_logs_product_a_out_through_the_back_channel() {
    let (hub, t, a, b) = hub_and_products().await;
    in_chromium(async |session| {
        sign_in_to_a_then_b(session, &hub, &t, &a, &b).await?;
        let a_session = a.app.signed_in().remove(0);
        let b_session = b.app.signed_in().remove(0);

        // Sign out in B: to the hub's end_session_endpoint, back to B's signed-out page.
        session.goto(&format!("{}/", b.base)).await?;
        session.click("#sign-out").await?;
        session
            .wait_for_url("B's signed-out page", |u| {
                u.starts_with(&format!("{}/signed-out", b.base))
            })
            .await?;
        let text = session.text().await?;
        anyhow::ensure!(text.contains("You are signed out"), "B: {text}");
        anyhow::ensure!(b.app.signed_in().is_empty(), "B forgot its session");

        // A's back-channel endpoint gets a valid logout token for that hub session.
        // (Delivered by the hub's outbox loop, which runs every second here.)
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while a.app.logouts().is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::ensure!(!a.app.logouts().is_empty(), "A received no logout token");
        let logout = a.app.logouts().remove(0);
        anyhow::ensure!(
            logout.sid.as_deref() == Some(a_session.hub_session.as_str()),
            "the token names the hub session: {logout:?}"
        );
        anyhow::ensure!(logout.iss == hub.address, "iss: {logout:?}");
        anyhow::ensure!(
            logout.aud == json!(a.client_id) || logout.aud == json!([a.client_id]),
            "aud: {logout:?}"
        );
        anyhow::ensure!(
            logout.sub.as_deref() == Some(t.owner_uuid.to_string().as_str()),
            "sub: {logout:?}"
        );
        anyhow::ensure!(a.app.signed_in().is_empty(), "A forgot its session");

        // A's page says so, and the next sign-in asks for the password again.
        session.goto(&format!("{}/", a.base)).await?;
        let text = session.text().await?;
        anyhow::ensure!(text.contains("You are not signed in"), "A: {text}");
        session.goto(&format!("{}/login", a.base)).await?;
        session
            .wait_for_url("the hub's login page again", |u| {
                u.starts_with(&format!("{}/login", hub.address))
            })
            .await?;

        // Neither product's refresh token works any more.
        let mut a_refresh = a_session;
        let refused = a.app.refresh(&mut a_refresh).await;
        anyhow::ensure!(
            refused
                .as_ref()
                .is_err_and(|e| format!("{e:#}").contains("invalid_grant")),
            "A's refresh token (client_secret_basic) is refused: {refused:?}"
        );
        let (status, body) = refresh_at_hub(
            &hub,
            &b.client_id,
            b_session.refresh_token.as_deref().unwrap(),
        )
        .await;
        anyhow::ensure!(
            status == 400 && body["error"] == "invalid_grant",
            "B's refresh token: {status} {body}"
        );
        anyhow::Ok(())
    })
    .await;
}

/// Signs product A in without a browser (PageClient on the hub's pages, A's own cookies):
/// returns A's session.
async fn sign_in_to_a_over_http(hub: &TestApp, t: &TenantFixture, a: &Product) -> SignedIn {
    let browser = PageClient::new(&hub.address);
    let to_hub = browser.get(&format!("{}/login", a.base)).await;
    assert_eq!(to_hub.status, 302, "{}", to_hub.html);
    let to_login = browser.get(to_hub.location().unwrap()).await;
    let login = to_login.location().unwrap().to_owned();
    let return_to = url::Url::parse(&format!("http://hub{login}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "return_to")
        .unwrap_or_else(|| panic!("to the login page: {login}"))
        .1
        .into_owned();
    let done = browser
        .sign_in("", &t.owner_email, PASSWORD, &return_to)
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let to_a = browser.get(&return_to).await;
    let callback = browser.get(to_a.location().unwrap()).await;
    assert_eq!(callback.status, 303, "{}", callback.html);
    let mut sessions = a.app.signed_in();
    assert_eq!(sessions.len(), 1);
    sessions.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_accepts_only_the_hubs_valid_logout_tokens_and_forgets_their_session() {
    let (hub, t, a, b) = hub_and_products().await;
    let signed_in = sign_in_to_a_over_http(&hub, &t, &a).await;
    let post = |token: String| {
        let url = format!("{}/backchannel-logout", a.base);
        let client = hub.client.clone();
        async move {
            client
                .post(url)
                .form(&[("logout_token", token)])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Logout tokens as Back-Channel Logout 1.0 §2.4 has them, signed with the hub's key.
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": hub.state.tokens.issuer(), "aud": a.client_id, "iat": now, "exp": now + 120,
        "jti": uuid::Uuid::new_v4().to_string(), "sub": signed_in.subject,
        "sid": signed_in.hub_session,
        "events": { oidc_product::BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    let signed = |typ: &str, claims: &Value| hub.state.tokens.sign(typ, claims).unwrap();
    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        if value.is_null() {
            c.as_object_mut().unwrap().remove(key);
        } else {
            c[key] = value;
        }
        c
    };

    // Refused, and the session kept: an access token of the hub (no logout token at all); an
    // ID token's type; no events claim; a nonce; another client's audience; another issuer;
    // expired; no sid; HS256 under the hub's key id (algorithm confusion); not a JWT.
    assert_eq!(post(t.token.clone()).await, 400);
    assert_eq!(post(signed("JWT", &claims)).await, 400);
    for bad in [
        with("events", Value::Null),
        with("events", json!({ "http://example.com/other": {} })),
        with("nonce", json!("n")),
        with("aud", json!(b.client_id)),
        with("iss", json!("https://other.example.com")),
        with("exp", json!(now - 3600)),
        with("sid", Value::Null),
    ] {
        assert_eq!(post(signed("logout+jwt", &bad)).await, 400, "{bad}");
    }
    let jwks: Value = hub
        .client
        .get(format!("{}/.well-known/jwks.json", hub.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            typ: Some("logout+jwt".into()),
            kid: jwks["keys"][0]["kid"].as_str().map(str::to_owned),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"not the hub's key"),
    )
    .unwrap();
    assert_eq!(post(forged).await, 400);
    assert_eq!(post("not-a-jwt".into()).await, 400);
    assert!(a.app.logouts().is_empty());
    assert_eq!(a.app.signed_in().len(), 1, "A is still signed in");

    // The valid one: 200, the session forgotten. The hub's retry of it (same jti) is answered
    // alike and acted on once.
    let valid = signed("logout+jwt", &claims);
    assert_eq!(post(valid.clone()).await, 200);
    assert!(a.app.signed_in().is_empty(), "A forgot the session");
    assert_eq!(a.app.logouts().len(), 1);
    assert_eq!(post(valid).await, 200, "a repeated logout token");
    assert_eq!(a.app.logouts().len(), 1);
}

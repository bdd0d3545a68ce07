//! Signing in through a tenant's identity provider (issue 17, parts 3-6), against a real OpenID
//! Provider (tests/idp, npm `oidc-provider`): home-realm discovery on the hosted login page, the
//! provider's own login and consent pages, `/sso/callback`, the ID token checks (signature with
//! key rotation, iss, exp, nonce, email_verified, the domain), linking, just-in-time users with
//! mapped roles, the quota, a provider down, removed or refusing the client, and every refusal
//! shown as a clear page. The whole flow once in headless Chromium, on to a product's tokens.

use crate::common::pages::{Page, PageClient};
use crate::common::{PASSWORD, TenantFixture, TestApp, count, operation, spawn_app_with};
use crate::sso_domains::TestDns;
use crate::sso_idp::TestIdp;
use crate::sso_providers::{enable_sso, verified_domain};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SECRET: &str = "idp-client-secret-0123456789";
const DOMAIN: &str = "acme-sso.test";

struct Sso {
    app: TestApp,
    t: TenantFixture,
    idp: TestIdp,
    provider_id: String,
    _dns: TestDns,
}

fn users() -> Value {
    json!({
        "alice": { "email": "alice@acme-sso.test", "email_verified": true, "name": "Alice A", "groups": ["admins"] },
        "bob": { "email": "bob@acme-sso.test", "email_verified": true, "groups": [] },
        "unverified": { "email": "carol@acme-sso.test", "email_verified": false },
        "outsider": { "email": "eve@elsewhere.test", "email_verified": true },
        "owner": { "email": "owner@acme-sso.test", "email_verified": true },
    })
}

/// A tenant with the verified domain acme-sso.test served by the test provider, JIT on
/// (admins → admin, else member), the provider's client secret `secret`.
async fn setup_with(provider: Value, client_secret: &str) -> Sso {
    setup_configured(provider, client_secret, |_| {}).await
}

/// [`setup_with`], with `configure` adjusting the hub's settings too.
async fn setup_configured(
    provider: Value,
    client_secret: &str,
    configure: impl FnOnce(&mut tenant_hub::Settings),
) -> Sso {
    let dns = TestDns::start().await;
    let addr = dns.addr;
    let app = spawn_app_with(move |s| {
        s.dns_resolver = Some(addr);
        s.sso_allow_private = true;
        s.sso_http_timeout_ms = 3_000;
        s.usage_flush_secs = 3600;
        configure(s);
    })
    .await;
    let t = app.signup("acme").await;
    enable_sso(&app, &t).await;
    let domain = verified_domain(&app, &dns, &t, DOMAIN).await;
    let idp = TestIdp::start(json!({
        "clients": [{ "client_id": "hub", "client_secret": client_secret,
                      "redirect_uris": [format!("{}/sso/callback", app.address)] }],
        "users": users(),
    }))
    .await;
    let mut input = json!({
        "name": "Acme IdP",
        "issuer": idp.issuer,
        "clientId": "hub",
        "clientSecret": SECRET,
        "domainIds": [domain],
        "scopes": ["openid", "email", "profile", "groups"],
        "groupsClaim": "groups",
        "jitProvisioning": true,
        "defaultRoleId": app.role_id(&t.token, "member").await,
        "groupRoles": [{ "group": "admins", "roleId": app.role_id(&t.token, "admin").await }],
    });
    for (k, v) in provider.as_object().unwrap() {
        input[k] = v.clone();
    }
    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": input }),
        )
        .await;
    let provider_id = body["data"]["addIdentityProvider"]["identityProvider"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    Sso {
        app,
        t,
        idp,
        provider_id,
        _dns: dns,
    }
}

async fn setup() -> Sso {
    setup_with(json!({}), SECRET).await
}

/// The `action` of the page's first form.
fn form_action(html: &str) -> String {
    let at = html.find("action=\"").expect("a form") + 8;
    html[at..at + html[at..].find('"').unwrap()].replace("&amp;", "&")
}

fn absolute(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// Types the email on the hosted login page: the answer to `POST /login/identify`.
async fn identify(browser: &PageClient, email: &str) -> Page {
    let login = browser.get("/login?return_to=%2F").await;
    browser
        .post(
            "/login/identify",
            &[
                ("csrf", &login.csrf()),
                ("return_to", "/"),
                ("tenant", ""),
                ("email", email),
            ],
        )
        .await
}

/// From the hub's redirect to the provider, through the provider's login (as `login`) and
/// consent pages, to the provider's redirect back to the hub: the callback URL.
async fn at_provider(browser: &PageClient, sso: &Sso, start: &Page, login: &str) -> String {
    assert_eq!(start.status, 303, "{}", start.html);
    let mut url = start.location().unwrap().to_owned();
    assert!(url.starts_with(&sso.idp.issuer), "{url}");
    let callback = format!("{}/sso/callback", sso.app.address);
    for _ in 0..20 {
        if url.starts_with(&callback) {
            return url;
        }
        let page = browser.get(&url).await;
        if let Some(next) = page.location() {
            url = absolute(&url, next);
            continue;
        }
        assert_eq!(page.status, 200, "{url}: {}", page.html);
        let action = absolute(&url, &form_action(&page.html));
        let answer = if page.html.contains("name=\"login\"") {
            browser
                .post_with(
                    &action,
                    &[("prompt", "login"), ("login", login), ("password", "any")],
                    &[],
                )
                .await
        } else {
            browser
                .post_with(&action, &[("prompt", "consent")], &[])
                .await
        };
        url = absolute(&action, answer.location().expect("the provider redirects"));
    }
    panic!("the provider never sent the browser back: {url}");
}

/// The whole sign-in over HTTP: the hub's answer to the callback.
async fn sign_in(browser: &PageClient, sso: &Sso, email: &str, login: &str) -> Page {
    let start = identify(browser, email).await;
    let back = at_provider(browser, sso, &start, login).await;
    browser.get(&back).await
}

async fn user_roles(app: &TestApp, email: &str) -> Vec<String> {
    let su = app.superuser().await;
    su.query(
        "SELECT r.name FROM users u JOIN user_roles ur ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id
         JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id WHERE u.email = $1 ORDER BY r.name",
        &[&email],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn failures(app: &TestApp, reason: &str) -> i64 {
    count(
        app,
        &format!(
            "SELECT count(*) FROM audit_log WHERE action = 'sso.sign_in_failed' AND details->>'reason' = '{reason}'"
        ),
    )
    .await
}

async fn sessions_of(app: &TestApp, email: &str) -> i64 {
    count(
        app,
        &format!(
            "SELECT count(*) FROM sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
             WHERE u.email = '{email}' AND s.revoked_at IS NULL"
        ),
    )
    .await
}

/// Expects a refusal page with `code` and no session.
fn refused(page: &Page, status: u16, code: &str, says: &str) {
    assert_eq!(page.status, status, "{}", page.html);
    assert!(page.html.contains(code), "no {code}: {}", page.html);
    assert!(page.html.contains(says), "no {says:?}: {}", page.html);
    assert!(page.set_cookie("__Host-hub_session").is_none());
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_through_the_tenants_provider_in_chromium_and_a_product_gets_federated_tokens()
 {
    use crate::common::browser::{ChromeDriver, require_browser};
    require_browser();
    let sso = setup().await;
    let app = &sso.app;
    let body = app
        .gql(Some(&sso.t.token), operation("GrantCrmFull"), json!({}))
        .await;
    assert!(body["data"]["setProductAccess"].is_object(), "{body}");
    let admin = app.platform_admin("ops@platform.example.com").await;
    let redirect = "https://crm.example.com/callback";
    let body = app
        .gql(
            Some(&admin),
            operation("CreateOauthClient"),
            json!({ "i": { "productId": "crm", "public": false, "redirectUris": [redirect] } }),
        )
        .await;
    let client_id = body["data"]["createOauthClient"]["client"]["clientId"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let client_secret = body["data"]["createOauthClient"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let verifier = "a-product-verifier-with-enough-entropy-0123456789abcdef";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let authorize = format!(
        "{}/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20email&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
        app.address,
        urlencoding(redirect)
    );

    let driver = ChromeDriver::start();
    let session = driver
        .new_session()
        .await
        .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e:#}{}", driver.log_tail()));
    let outcome = async {
        session.goto(&authorize).await?;
        session
            .wait_for_url("the hub's login page", |u| u.contains("/login"))
            .await?;
        session.fill("#email", "alice@acme-sso.test").await?;
        session.click("button[type=submit]").await?;
        session
            .wait_for_url("the provider's login page", |u| {
                u.starts_with(&sso.idp.issuer) && u.contains("/interaction/")
            })
            .await?;
        session.fill("input[name=login]", "alice").await?;
        session.fill("input[name=password]", "any").await?;
        session.click("button[type=submit]").await?;
        session
            .wait_for_url("the provider's consent page", |u| {
                u.contains("/interaction/")
            })
            .await?;
        // The consent page (a new interaction).
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        session.click("button[type=submit]").await?;
        session
            .wait_for_url("the product's redirect URI", |u| u.starts_with(redirect))
            .await
            .ok();
        let requests = session.requests().await?;
        let back = requests
            .iter()
            .map(|r| r.url.clone())
            .find(|u| u.starts_with(redirect))
            .ok_or_else(|| anyhow::anyhow!("no request to the product: {requests:?}"))?;
        anyhow::Ok(back)
    }
    .await;
    let _ = session.quit().await;
    let back = outcome.unwrap_or_else(|e| panic!("{e:#}{}", driver.log_tail()));
    let back = url::Url::parse(&back).unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {back}"));

    // JIT: the user exists, verified, with the role the groups claim maps to.
    assert_eq!(user_roles(app, "alice@acme-sso.test").await, vec!["admin"]);
    assert_eq!(
        count(app, "SELECT count(*) FROM users WHERE email = 'alice@acme-sso.test' AND email_verified_at IS NOT NULL AND password_hash IS NULL AND display_name = 'Alice A'").await,
        1
    );
    assert_eq!(
        count(
            app,
            "SELECT count(*) FROM external_identities WHERE subject = 'alice'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            app,
            "SELECT count(*) FROM sessions WHERE amr = 'fed' AND browser_token_hash IS NOT NULL"
        )
        .await,
        1
    );
    for action in [
        "sso.sign_in",
        "sso.identity_linked",
        "user.created",
        "auth.login",
    ] {
        let sql = format!("SELECT count(*) FROM audit_log WHERE action = '{action}'");
        assert!(count(app, &sql).await >= 1, "{action}");
    }

    // The product's tokens tell that the sign-in was federated.
    let res = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["fed"]), "{id}");
    assert_eq!(id["email"], "alice@acme-sso.test");
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_user_is_linked_by_email_on_first_use_then_by_subject() {
    let sso = setup().await;
    let app = &sso.app;
    app.add_user(&sso.t, "bob@acme-sso.test", &["member"]).await;
    let browser = PageClient::new(&app.address);
    let page = sign_in(&browser, &sso, "bob@acme-sso.test", "bob").await;
    assert_eq!(page.status, 303, "{}", page.html);
    assert_eq!(page.location(), Some("/"));
    assert!(page.set_cookie("__Host-hub_session").is_some());
    assert_eq!(
        count(
            app,
            "SELECT count(*) FROM users WHERE email = 'bob@acme-sso.test'"
        )
        .await,
        1,
        "no second user"
    );
    assert_eq!(
        count(app, "SELECT count(*) FROM audit_log WHERE action = 'sso.identity_linked' AND details->>'by' = 'email'").await,
        1
    );
    let home = browser.get("/").await;
    assert!(home.html.contains("bob@acme-sso.test"), "{}", home.html);
    // The second time, the identity is found by its subject: no new link.
    browser.forget_cookies();
    let again = sign_in(&browser, &sso, "bob@acme-sso.test", "bob").await;
    assert_eq!(again.status, 303, "{}", again.html);
    assert_eq!(
        count(app, "SELECT count(*) FROM external_identities").await,
        1
    );
    assert_eq!(
        count(
            app,
            "SELECT count(*) FROM audit_log WHERE action = 'sso.sign_in'"
        )
        .await,
        2
    );
    assert_eq!(user_roles(app, "bob@acme-sso.test").await, vec!["member"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_state_and_a_callback_from_another_browser_are_refused() {
    let sso = setup().await;
    let app = &sso.app;
    let browser = PageClient::new(&app.address);
    let start = identify(&browser, "bob@acme-sso.test").await;
    let back = at_provider(&browser, &sso, &start, "bob").await;
    // Another browser (without the binding cookie) brings the same callback: refused, and the
    // state is spent.
    let other = PageClient::new(&app.address);
    refused(
        &other.get(&back).await,
        400,
        "state_invalid",
        "Sign-in expired",
    );
    refused(
        &browser.get(&back).await,
        400,
        "state_invalid",
        "Sign-in expired",
    );
    // A fresh sign-in works, and its callback cannot be used twice.
    let ok = sign_in(&browser, &sso, "bob@acme-sso.test", "bob").await;
    assert_eq!(ok.status, 303, "{}", ok.html);
    let start = identify(&browser, "bob@acme-sso.test").await;
    let back = at_provider(&browser, &sso, &start, "bob").await;
    assert_eq!(browser.get(&back).await.status, 303);
    refused(
        &browser.get(&back).await,
        400,
        "state_invalid",
        "Sign-in expired",
    );
    refused(
        &browser.get("/sso/callback?code=x&state=nonsense").await,
        400,
        "state_invalid",
        "Sign-in expired",
    );
}

/// Each tampered ID token is refused with its reason, and nobody is signed in or created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_with_a_wrong_nonce_issuer_audience_expiry_or_key_are_refused() {
    let sso = setup().await;
    let app = &sso.app;
    let now = chrono::Utc::now().timestamp();
    let cases = [
        (
            json!({ "tamper": { "nonce": "not-the-hubs-nonce" } }),
            "id_token_invalid:nonce",
        ),
        (
            json!({ "tamper": { "iss": "http://127.0.0.1:1" } }),
            "id_token_invalid:issuer",
        ),
        (
            json!({ "tamper": { "exp": now - 60, "iat": now - 120 } }),
            "id_token_invalid:expired",
        ),
        (
            json!({ "tamper": { "iat": now - 7200, "exp": now + 3600 } }),
            "id_token_invalid:expired",
        ),
        (
            json!({ "tamper": { "aud": ["hub", "someone-else"], "azp": "someone-else" } }),
            "id_token_invalid:audience",
        ),
        (
            json!({ "signWith": "unpublished" }),
            "id_token_invalid:signature",
        ),
    ];
    for (control, code) in cases {
        sso.idp.control(control.clone()).await;
        let browser = PageClient::new(&app.address);
        let page = sign_in(&browser, &sso, "alice@acme-sso.test", "alice").await;
        refused(&page, 502, code, "could not be verified");
        assert!(failures(app, code).await >= 1, "{control}");
    }
    assert_eq!(
        count(
            app,
            "SELECT count(*) FROM users WHERE email = 'alice@acme-sso.test'"
        )
        .await,
        0
    );
    assert_eq!(
        count(app, "SELECT count(*) FROM external_identities").await,
        0
    );
    assert_eq!(sessions_of(app, "alice@acme-sso.test").await, 0);
    // Several audiences with azp naming the hub pass; so does a rotated key (the hub reads the
    // provider's keys again).
    sso.idp
        .control(json!({ "tamper": { "aud": ["hub"], "azp": "hub" }, "rotate": true }))
        .await;
    let browser = PageClient::new(&app.address);
    let page = sign_in(&browser, &sso, "alice@acme-sso.test", "alice").await;
    assert_eq!(page.status, 303, "{}", page.html);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_email_or_one_outside_the_verified_domains_is_refused() {
    let sso = setup().await;
    let app = &sso.app;
    let browser = PageClient::new(&app.address);
    let page = sign_in(&browser, &sso, "carol@acme-sso.test", "unverified").await;
    refused(
        &page,
        403,
        "email_unverified",
        "has not verified your email address",
    );
    // The provider vouches for an address of another company's domain: refused.
    let browser = PageClient::new(&app.address);
    let page = sign_in(&browser, &sso, "bob@acme-sso.test", "outsider").await;
    refused(&page, 403, "email_outside_domains", "not of a domain");
    // A missing email claim.
    sso.idp
        .control(json!({ "tamper": { "email": null } }))
        .await;
    let browser = PageClient::new(&app.address);
    let page = sign_in(&browser, &sso, "bob@acme-sso.test", "bob").await;
    refused(&page, 403, "email_missing", "did not tell your email");
    assert_eq!(
        count(app, "SELECT count(*) FROM users").await,
        1,
        "only the owner"
    );
    assert_eq!(
        count(app, "SELECT count(*) FROM external_identities").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_tenant_gets_a_clear_page_and_no_user() {
    let sso = setup().await;
    let app = &sso.app;
    app.superuser()
        .await
        .execute(
            "UPDATE tenants SET limits = jsonb_set(limits, '{users}', '1') WHERE id = $1",
            &[&sso.t.uuid],
        )
        .await
        .unwrap();
    let browser = PageClient::new(&app.address);
    let page = sign_in(&browser, &sso, "alice@acme-sso.test", "alice").await;
    refused(&page, 403, "tenant_full", "reached its user limit");
    assert_eq!(count(app, "SELECT count(*) FROM users").await, 1);
    assert_eq!(
        count(app, "SELECT count(*) FROM external_identities").await,
        0
    );
    assert_eq!(
        count(app, "SELECT count(*) FROM sessions WHERE amr = 'fed'").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_just_in_time_provisioning_an_unknown_person_has_no_account() {
    let sso = setup_with(json!({ "jitProvisioning": false }), SECRET).await;
    let browser = PageClient::new(&sso.app.address);
    let page = sign_in(&browser, &sso, "alice@acme-sso.test", "alice").await;
    refused(&page, 403, "no_account", "no account in this organisation");
    assert_eq!(count(&sso.app, "SELECT count(*) FROM users").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_down_shows_a_clear_page_and_the_password_form_stays() {
    let mut sso = setup().await;
    let app = &sso.app;
    app.add_user(&sso.t, "bob@acme-sso.test", &["member"]).await;
    sso.idp.stop();
    let browser = PageClient::new(&app.address);
    let page = identify(&browser, "bob@acme-sso.test").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("could not be reached"), "{}", page.html);
    assert!(page.html.contains("name=\"password\""), "{}", page.html);
    let tenant = page.field("tenant").unwrap();
    let signed = browser
        .post(
            "/login/password",
            &[
                ("csrf", &page.csrf()),
                ("return_to", "/"),
                ("tenant", &tenant),
                ("email", "bob@acme-sso.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(signed.status, 303, "{}", signed.html);
    assert_eq!(failures(app, "provider_unreachable").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_count_in_the_anonymous_allowance_of_the_clients_ip() {
    // 40 a minute: enough for the set-up's own anonymous calls, spent by the starts below.
    let sso = setup_configured(json!({}), SECRET, |s| s.anonymous_requests_per_minute = 40).await;
    let browser = PageClient::new(&sso.app.address);
    let mut started = 0;
    let refused = loop {
        let page = identify(&browser, "bob@acme-sso.test").await;
        if page.status != 303 {
            break page;
        }
        started += 1;
        assert!(
            started < 60,
            "60 starts in a minute from one IP, none refused"
        );
    };
    // Past the allowance: a clear page with its wait, no provider request and no pending
    // sign-in kept.
    assert_eq!(refused.status, 429, "{}", refused.html);
    assert!(
        refused.html.contains("Too many attempts"),
        "{}",
        refused.html
    );
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(
        count(&sso.app, "SELECT count(*) FROM sso_sign_ins").await,
        started
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_provider_times_out_into_the_same_clear_page() {
    let sso = setup().await;
    sso.idp.control(json!({ "slowMs": 8000 })).await;
    let browser = PageClient::new(&sso.app.address);
    let started = std::time::Instant::now();
    let page = identify(&browser, "bob@acme-sso.test").await;
    assert!(started.elapsed() < std::time::Duration::from_millis(7500));
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("could not be reached"), "{}", page.html);
    assert!(page.html.contains("name=\"password\""), "{}", page.html);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_enforced_sso_a_provider_that_is_down_offers_no_password_form() {
    let sso = setup().await;
    let app = &sso.app;
    // Enforce SSO: a second provider is not needed; flip the setting as the admin would.
    app.superuser()
        .await
        .execute(
            "UPDATE identity_providers SET enforce_sso = true, break_glass_user_id = $1",
            &[&sso.t.owner_uuid],
        )
        .await
        .unwrap();
    let mut sso = sso;
    sso.idp.stop();
    let browser = PageClient::new(&sso.app.address);
    let page = identify(&browser, "bob@acme-sso.test").await;
    refused(
        &page,
        502,
        "provider_unreachable",
        "requires signing in through it",
    );
    assert!(!page.html.contains("name=\"password\""), "{}", page.html);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_and_a_denied_sign_in_are_clear_pages() {
    let sso = setup_with(json!({}), "the-provider-knows-another-secret").await;
    let browser = PageClient::new(&sso.app.address);
    let page = sign_in(&browser, &sso, "alice@acme-sso.test", "alice").await;
    refused(&page, 502, "client_rejected", "client id and secret");
    // The person cancels at the provider (a browser not signed in there): access_denied.
    let browser = PageClient::new(&sso.app.address);
    let start = identify(&browser, "alice@acme-sso.test").await;
    let mut url = start.location().unwrap().to_owned();
    let callback = format!("{}/sso/callback", sso.app.address);
    let mut aborted = false;
    for _ in 0..10 {
        if url.starts_with(&callback) {
            break;
        }
        let page = browser.get(&url).await;
        if let Some(next) = page.location() {
            url = absolute(&url, next);
            continue;
        }
        let at = page.html.find("/abort").expect("a cancel link");
        let begin = page.html[..at].rfind('"').unwrap() + 1;
        let href = &page.html[begin..at + 6];
        url = absolute(&url, href);
        aborted = true;
    }
    assert!(aborted);
    let page = browser.get(&url).await;
    refused(
        &page,
        403,
        "provider_error:access_denied",
        "did not sign you in",
    );
    assert_eq!(count(&sso.app, "SELECT count(*) FROM users").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_provider_ends_the_sessions_signed_in_through_it() {
    let sso = setup().await;
    let app = &sso.app;
    let browser = PageClient::new(&app.address);
    let page = sign_in(&browser, &sso, "alice@acme-sso.test", "alice").await;
    assert_eq!(page.status, 303, "{}", page.html);
    assert_eq!(sessions_of(app, "alice@acme-sso.test").await, 1);
    // A sign-in under way when the provider goes.
    let pending = identify(&PageClient::new(&app.address), "bob@acme-sso.test").await;
    assert_eq!(pending.status, 303);
    let body = app
        .gql(
            Some(&sso.t.token),
            operation("RemoveIdentityProvider"),
            json!({ "id": sso.provider_id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(sessions_of(app, "alice@acme-sso.test").await, 0);
    let home = browser.get("/").await;
    assert_eq!(home.status, 303, "signed out: {}", home.html);
    assert_eq!(
        count(app, "SELECT count(*) FROM external_identities").await,
        0
    );
    assert_eq!(count(app, "SELECT count(*) FROM sso_sign_ins").await, 0);
    // The owner's password session is untouched.
    assert!(sessions_of(app, &sso.t.owner_email).await >= 1);
}

//! A tenant's identity providers (issue 17, part 2), registered against a real OpenID Provider
//! (tests/idp, npm `oidc-provider`): discovery at registration, the client secret encrypted at
//! rest and masked on read, bound to verified domains only, gated by the `sso` feature, the
//! provider down, audit.

use crate::common;
use crate::sso_domains::TestDns;
use crate::sso_idp::TestIdp;

use common::{TenantFixture, TestApp, error_code, operation, spawn_app_with};
use serde_json::{Value, json};

const SECRET: &str = "idp-client-secret-0123456789";

async fn spawn(dns: &TestDns) -> TestApp {
    let addr = dns.addr;
    spawn_app_with(move |s| {
        s.dns_resolver = Some(addr);
        s.sso_allow_private = true;
        s.sso_http_timeout_ms = 3_000;
        s.usage_flush_secs = 3600;
    })
    .await
}

/// Turns the tenant's `sso` feature on (a platform admin's adminSetTenantLimits).
pub async fn enable_sso(app: &TestApp, t: &TenantFixture) {
    let admin = app.platform_admin("root@platform.example.com").await;
    let body = app
        .gql(
            Some(&admin),
            operation("SetTenantFeatures"),
            json!({ "i": { "tenantId": t.id, "features": { "sso": true } } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}

/// A verified domain of the tenant, through the test's DNS server.
pub async fn verified_domain(
    app: &TestApp,
    dns: &TestDns,
    t: &TenantFixture,
    domain: &str,
) -> String {
    let body = app
        .gql(
            Some(&t.token),
            operation("AddTenantDomain"),
            json!({ "domain": domain }),
        )
        .await;
    let d = &body["data"]["addTenantDomain"]["domain"];
    dns.set_txt(
        &format!("_tenant-hub-challenge.{domain}"),
        d["challenge"].as_str().unwrap(),
    )
    .await;
    let id = d["id"].as_str().unwrap().to_owned();
    let body = app
        .gql(
            Some(&t.token),
            operation("VerifyTenantDomain"),
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        body["data"]["verifyTenantDomain"]["domain"]["state"], "VERIFIED",
        "{body}"
    );
    id
}

fn provider_input(issuer: &str, domain_id: &str) -> Value {
    json!({
        "name": "Acme Okta",
        "issuer": issuer,
        "clientId": "hub",
        "clientSecret": SECRET,
        "domainIds": [domain_id],
    })
}

async fn idp() -> TestIdp {
    TestIdp::start(json!({
        "clients": [{ "client_id": "hub", "client_secret": SECRET, "redirect_uris": ["http://127.0.0.1:1/sso/callback"] }],
        "users": {},
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openid_provider_is_registered_after_discovery_with_its_secret_sealed_and_masked() {
    let dns = TestDns::start().await;
    let idp = idp().await;
    let app = spawn(&dns).await;
    let t = app.signup("acme").await;
    enable_sso(&app, &t).await;
    let domain = verified_domain(&app, &dns, &t, "acme-sso.test").await;
    let role = app.role_id(&t.token, "member").await;

    let mut input = provider_input(&idp.issuer, &domain);
    input["jitProvisioning"] = json!(true);
    input["defaultRoleId"] = json!(role);
    input["groupsClaim"] = json!("groups");
    input["groupRoles"] =
        json!([{ "group": "admins", "roleId": app.role_id(&t.token, "admin").await }]);
    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": input }),
        )
        .await;
    let p = &body["data"]["addIdentityProvider"]["identityProvider"];
    assert!(p.is_object(), "{body}");
    assert_eq!(p["kind"], "OIDC");
    assert_eq!(p["issuer"], idp.issuer.as_str());
    assert_eq!(p["clientSecret"], "••••6789");
    assert_eq!(p["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(p["emailClaim"], "email");
    assert_eq!(p["domains"], json!(["acme-sso.test"]));
    assert_eq!(p["jitProvisioning"], true);
    assert_eq!(p["defaultRoleId"], role.as_str());
    assert_eq!(p["groupRoles"][0]["group"], "admins");
    assert_eq!(p["redirectUri"], format!("{}/sso/callback", app.address));

    // At rest: sealed, not in clear; the discovered endpoints kept.
    let su = app.superuser().await;
    let row = su
        .query_one(
            "SELECT client_secret_ciphertext, metadata->>'authorization_endpoint' FROM identity_providers WHERE tenant_id = $1",
            &[&t.uuid],
        )
        .await
        .unwrap();
    let sealed: Vec<u8> = row.get(0);
    assert!(!String::from_utf8_lossy(&sealed).contains(SECRET));
    assert_eq!(row.get::<_, String>(1), format!("{}/auth", idp.issuer));
    let listed = app
        .gql(
            Some(&t.token),
            operation("TenantIdentityProviders"),
            json!({}),
        )
        .await;
    assert_eq!(
        listed["data"]["tenant"]["identityProviders"][0]["clientSecret"],
        "••••6789"
    );
    assert!(!listed.to_string().contains(SECRET));

    // A domain serves one provider.
    let mut again = provider_input(&idp.issuer, &domain);
    again["name"] = json!("Second");
    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": again }),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");

    let id = p["id"].as_str().unwrap();
    let body = app
        .gql(
            Some(&t.token),
            operation("RemoveIdentityProvider"),
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        body["data"]["removeIdentityProvider"]["identityProvider"]["name"], "Acme Okta",
        "{body}"
    );
    let actions: Vec<String> = su
        .query(
            "SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'sso.%' ORDER BY at, id",
            &[&t.uuid],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["sso.provider_added", "sso.provider_removed"]);
    let details: Value = su
        .query_one(
            "SELECT details FROM audit_log WHERE tenant_id = $1 AND action = 'sso.provider_added'",
            &[&t.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!details.to_string().contains(SECRET), "{details}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_needs_the_sso_feature_and_verified_domains() {
    let dns = TestDns::start().await;
    let idp = idp().await;
    let app = spawn(&dns).await;
    let t = app.signup("acme").await;
    let domain = verified_domain(&app, &dns, &t, "acme-gate.test").await;

    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": provider_input(&idp.issuer, &domain) }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "feature_disabled"
    );

    enable_sso(&app, &t).await;
    let pending = app
        .gql(
            Some(&t.token),
            operation("AddTenantDomain"),
            json!({ "domain": "acme-pending.test" }),
        )
        .await["data"]["addTenantDomain"]["domain"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": provider_input(&idp.issuer, &pending) }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "domain_not_verified"
    );

    // Enforcing SSO needs a break-glass owner.
    let mut enforced = provider_input(&idp.issuer, &domain);
    enforced["enforceSso"] = json!(true);
    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": enforced }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "breakGlassUserId");
    enforced["breakGlassUserId"] = json!(t.owner_id);
    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": enforced }),
        )
        .await;
    assert_eq!(
        body["data"]["addIdentityProvider"]["identityProvider"]["breakGlassUserId"],
        t.owner_id.as_str(),
        "{body}"
    );
    assert_eq!(
        common::count(&app, "SELECT count(*) FROM identity_providers").await,
        1,
        "the refused registrations left nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_down_or_not_an_openid_provider_is_refused_clearly() {
    let dns = TestDns::start().await;
    let mut idp = idp().await;
    let app = spawn(&dns).await;
    let t = app.signup("acme").await;
    enable_sso(&app, &t).await;
    let domain = verified_domain(&app, &dns, &t, "acme-down.test").await;

    // A server answers at that address, but is no OpenID provider there (the hub is one at its
    // root since it became an OpenID provider itself; under /graphql it has no discovery).
    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": provider_input(&format!("{}/graphql", app.address), &domain) }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "provider_discovery_failed"
    );

    let issuer = idp.issuer.clone();
    idp.stop();
    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": provider_input(&issuer, &domain) }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "provider_discovery_failed"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/.well-known/openid-configuration"),
        "{body}"
    );
    assert_eq!(
        common::count(&app, "SELECT count(*) FROM identity_providers").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_on_a_private_address_is_refused_without_the_setting() {
    let dns = TestDns::start().await;
    let idp = idp().await;
    let addr = dns.addr;
    let app = spawn_app_with(move |s| {
        s.dns_resolver = Some(addr);
        s.usage_flush_secs = 3600;
    })
    .await;
    let t = app.signup("acme").await;
    enable_sso(&app, &t).await;
    let domain = verified_domain(&app, &dns, &t, "acme-private.test").await;
    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": provider_input(&idp.issuer, &domain) }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "issuer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforced_sso_refuses_password_logins_of_its_domain_but_the_break_glass_owner() {
    let dns = TestDns::start().await;
    let idp = idp().await;
    let app = spawn(&dns).await;
    let t = app.signup("acme").await;
    enable_sso(&app, &t).await;
    let domain = verified_domain(&app, &dns, &t, "acme-enforced.test").await;
    let (glass_id, _) = app
        .add_user(&t, "root@acme-enforced.test", &["owner"])
        .await;
    app.add_user(&t, "bob@acme-enforced.test", &["member"])
        .await;

    let mut input = provider_input(&idp.issuer, &domain);
    input["enforceSso"] = json!(true);
    input["breakGlassUserId"] = json!(glass_id);
    let body = app
        .gql(
            Some(&t.token),
            operation("AddIdentityProvider"),
            json!({ "i": input }),
        )
        .await;
    let provider = body["data"]["addIdentityProvider"]["identityProvider"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();

    let refused = app
        .try_login(&t.domain, "bob@acme-enforced.test", common::PASSWORD)
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    assert_eq!(refused["errors"][0]["extensions"]["reason"], "sso_required");
    assert!(refused["data"]["login"].is_null());
    // The break-glass owner, and users of other domains, still sign in with a password.
    app.login(&t.domain, "root@acme-enforced.test", common::PASSWORD)
        .await;
    app.login(&t.domain, &t.owner_email, common::PASSWORD).await;

    // Without the provider, passwords work again.
    let body = app
        .gql(
            Some(&t.token),
            operation("RemoveIdentityProvider"),
            json!({ "id": provider }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    app.login(&t.domain, "bob@acme-enforced.test", common::PASSWORD)
        .await;
}

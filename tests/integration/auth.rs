//! The authentication hub through HTTP: sign-up, login, tokens, refresh sessions, logout,
//! platform admins, `me` and `tenantContext`, and a battery of forged tokens.

use crate::common;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{PASSWORD, TestApp, count, error_code, spawn_app, spawn_app_with};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const CREATE: &str = "mutation($input: CreateTenantInput!) { createTenant(input: $input) {
    tenant { id name slug domain status } owner { id email } defaultWorkspace { id name slug isDefault } } }";

fn signup_input(domain: &str) -> Value {
    json!({ "input": { "name": "Acme Corp", "domain": domain, "ownerEmail": format!("ada@{domain}"), "ownerPassword": PASSWORD } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_tenant_makes_the_tenant_its_roles_default_workspace_owner_and_audit_record() {
    let app = spawn_app().await;
    let body = app
        .gql(None, CREATE, signup_input("Acme.Example.COM"))
        .await;
    let created = &body["data"]["createTenant"];
    assert_eq!(created["tenant"]["domain"], "acme.example.com", "{body}");
    assert_eq!(created["tenant"]["slug"], "acme-corp");
    assert_eq!(created["tenant"]["status"], "ACTIVE");
    assert_eq!(created["owner"]["email"], "ada@acme.example.com");
    assert_eq!(created["defaultWorkspace"]["isDefault"], true);

    let roles: Vec<String> = app
        .superuser()
        .await
        .query("SELECT name FROM roles WHERE is_system ORDER BY name", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(roles, ["admin", "billing", "member", "owner", "viewer"]);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'tenant.created'"
        )
        .await,
        1
    );

    let login = app
        .login("acme.example.com", "ada@acme.example.com", PASSWORD)
        .await;
    let me = app
        .gql(
            login["accessToken"].as_str(),
            "{ me { email roles { name } } tenantContext { permissions } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["data"]["me"]["roles"],
        json!([{ "name": "owner" }]),
        "{me}"
    );
    let perms = me["data"]["tenantContext"]["permissions"]
        .as_array()
        .unwrap();
    assert!(perms.contains(&json!("tenant:delete")) && perms.contains(&json!("users:write")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_domain_or_slug_is_a_conflict_and_nothing_is_created() {
    let app = spawn_app().await;
    app.gql(None, CREATE, signup_input("acme.example.com"))
        .await;
    let tenants = count(&app, "SELECT count(*) FROM tenants").await;
    let users = count(&app, "SELECT count(*) FROM users").await;

    let body = app
        .gql(None, CREATE, signup_input("ACME.example.com"))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "domain");
    // Another domain, but the name derives the same slug.
    let body = app
        .gql(None, CREATE, signup_input("other.example.com"))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "slug");

    assert_eq!(count(&app, "SELECT count(*) FROM tenants").await, tenants);
    assert_eq!(count(&app, "SELECT count(*) FROM users").await, users);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sign_up_input_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            "domain",
            json!({ "name": "X Co", "domain": "not a domain", "ownerEmail": "a@x.io", "ownerPassword": PASSWORD }),
        ),
        (
            "ownerEmail",
            json!({ "name": "X Co", "domain": "x.io", "ownerEmail": "nobody", "ownerPassword": PASSWORD }),
        ),
        (
            "ownerPassword",
            json!({ "name": "X Co", "domain": "x.io", "ownerEmail": "a@x.io", "ownerPassword": "short" }),
        ),
        (
            "slug",
            json!({ "name": "X Co", "domain": "x.io", "slug": "Bad Slug", "ownerEmail": "a@x.io", "ownerPassword": PASSWORD }),
        ),
        (
            "name",
            json!({ "name": "  ", "domain": "x.io", "ownerEmail": "a@x.io", "ownerPassword": PASSWORD }),
        ),
        (
            "plan",
            json!({ "name": "X Co", "domain": "x.io", "ownerEmail": "a@x.io", "ownerPassword": PASSWORD, "plan": "platinum" }),
        ),
    ];
    for (field, input) in cases {
        let body = app.gql(None, CREATE, json!({ "input": input })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{field}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    assert_eq!(count(&app, "SELECT count(*) FROM tenants").await, 0);
    // A paid plan is for platform admins to give.
    let body = app
        .gql(None, CREATE, json!({ "input": { "name": "X Co", "domain": "x.io", "ownerEmail": "a@x.io", "ownerPassword": PASSWORD, "plan": "enterprise" } }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_names_of_any_script_are_accepted_and_get_a_usable_slug() {
    let app = spawn_app().await;
    let create = |name: &str, n: usize| {
        let domain = format!("t{n}.example.com");
        json!({ "input": { "name": name, "domain": domain, "ownerEmail": format!("ada@{domain}"), "ownerPassword": PASSWORD } })
    };
    let mut slugs = Vec::new();
    for (n, name) in [
        "Müller & Söhne GmbH",
        "株式会社テスト",
        "🚀🚀",
        "X",
        "ООО «Ромашка»",
    ]
    .into_iter()
    .enumerate()
    {
        let body = app.gql(None, CREATE, create(name, n)).await;
        let tenant = &body["data"]["createTenant"]["tenant"];
        assert_eq!(tenant["name"], name, "{body}");
        let slug = tenant["slug"].as_str().unwrap().to_owned();
        assert!(
            slug.len() >= 2
                && slug
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}: {slug}"
        );
        slugs.push(slug);
    }
    assert_eq!(slugs[0], "muller-sohne-gmbh");
    assert!(
        !slugs[1].starts_with("tenant-"),
        "transliterated: {}",
        slugs[1]
    );
    assert!(
        slugs[3].starts_with("tenant-"),
        "nothing usable in X: {}",
        slugs[3]
    );
    assert_eq!(slugs[4], "ooo-romashka");
    // The tenant logs in by its derived slug.
    app.login(&slugs[1], "ada@t1.example.com", PASSWORD).await;

    for (name, why) in [
        ("a\u{0000}b", "NUL"),
        ("line\nbreak", "newline"),
        ("", "empty"),
    ] {
        let body = app.gql(None, CREATE, create(name, 9)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{why}: {body}");
        // A NUL is refused before execution, naming the argument's whole path.
        let field = body["errors"][0]["extensions"]["field"]
            .as_str()
            .unwrap_or_default();
        assert!(
            field == "name" || field == "createTenant.input.name",
            "{why}: {body}"
        );
    }
    let long = "é".repeat(201);
    let body = app.gql(None, CREATE, create(&long, 9)).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "name", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_refuses_common_passwords_and_ones_made_of_the_account() {
    let app = spawn_app().await;
    for (password, reason) in [
        ("password12", "password_common"),
        ("Password123", "password_common"),
        ("ada.lovelace!!", "password_contains_email"),
        ("Initech forever", "password_contains_account_word"),
        ("my initech-hq pass", "password_contains_account_word"),
    ] {
        let body = app
            .gql(
                None,
                CREATE,
                json!({ "input": { "name": "Initech", "domain": "initech-hq.example.com", "ownerEmail": "ada.lovelace@initech-hq.example.com", "ownerPassword": password } }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{password}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "ownerPassword");
        assert_eq!(
            body["errors"][0]["extensions"]["reason"], reason,
            "{password}: {body}"
        );
    }
    assert_eq!(count(&app, "SELECT count(*) FROM tenants").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slug_that_looks_like_a_uuid_is_refused() {
    let app = spawn_app().await;
    for slug in [
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().simple().to_string(),
    ] {
        let body = app
            .gql(
                None,
                CREATE,
                json!({ "input": { "name": "Acme", "slug": slug, "domain": "acme.example.com", "ownerEmail": "ada@acme.example.com", "ownerPassword": PASSWORD } }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "slug");
    }
    // A name that is a UUID gets a fallback slug instead.
    let name = uuid::Uuid::new_v4().to_string();
    let body = app
        .gql(
            None,
            CREATE,
            json!({ "input": { "name": name, "domain": "acme.example.com", "ownerEmail": "ada@acme.example.com", "ownerPassword": PASSWORD } }),
        )
        .await;
    let slug = body["data"]["createTenant"]["tenant"]["slug"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    assert!(slug.starts_with("tenant-"), "{slug}");
    assert_eq!(count(&app, "SELECT count(*) FROM tenants").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_by_id_is_not_diverted_by_another_tenants_slug_or_domain() {
    let app = spawn_app().await;
    let victim = app.signup("victim").await;
    let squatter = app.signup("squatter").await;
    let su = app.superuser().await;
    // An old row (from before slugs were checked) whose slug is the victim's id, and one whose
    // domain is the victim's slug. The victim's row is then rewritten, so that it comes after
    // the squatters' rows in the table: an unordered `first()` would pick a squatter.
    su.execute(
        "UPDATE tenants SET slug = $1 WHERE id = $2",
        &[&victim.uuid.to_string(), &squatter.uuid],
    )
    .await
    .unwrap();
    let third = app.signup("third").await;
    su.execute(
        "UPDATE tenants SET domain = 'victim' WHERE id = $1",
        &[&third.uuid],
    )
    .await
    .unwrap();
    su.execute(
        "UPDATE tenants SET name = name || '' WHERE id = $1",
        &[&victim.uuid],
    )
    .await
    .unwrap();

    for key in [
        victim.uuid.to_string(),
        victim.uuid.to_string().to_uppercase(),
        victim.uuid.simple().to_string(),
        victim.id.clone(),
    ] {
        let login = app.login(&key, &victim.owner_email, PASSWORD).await;
        assert_eq!(login["tenant"]["id"], victim.id.as_str(), "{key}");
        let body = app.try_login(&key, &squatter.owner_email, PASSWORD).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{key}: {body}");
    }
    // A domain outranks a slug: `victim` is now the third tenant's domain.
    let login = app.login("victim", &third.owner_email, PASSWORD).await;
    assert_eq!(login["tenant"]["id"], third.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sign_up_off_only_platform_admins_create_tenants() {
    let app = spawn_app_with(|s| s.signup_enabled = false).await;
    let body = app
        .gql(None, CREATE, signup_input("acme.example.com"))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let admin = app.platform_admin("root@hub.example.com").await;
    let mut input = signup_input("acme.example.com");
    input["input"]["plan"] = json!("enterprise");
    let body = app.gql(Some(&admin), CREATE, input).await;
    assert_eq!(
        body["data"]["createTenant"]["tenant"]["domain"], "acme.example.com",
        "{body}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tenants WHERE plan = 'enterprise'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM audit_log WHERE action = 'tenant.created' AND actor_type = 'platform_admin'").await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM platform_audit_log WHERE action = 'platform.tenant_created'"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_gives_one_answer_for_unknown_tenant_unknown_user_and_wrong_password() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let by_slug = app.try_login("acme", &t.owner_email, PASSWORD).await;
    assert!(
        by_slug["data"]["login"]["accessToken"].is_string(),
        "{by_slug}"
    );
    let by_id = app.try_login(&t.id, &t.owner_email, PASSWORD).await;
    assert!(by_id["data"]["login"]["accessToken"].is_string(), "{by_id}");
    assert_eq!(by_id["data"]["login"]["tokenType"], "Bearer");

    let mut messages = Vec::new();
    for (tenant, email, password) in [
        ("nope.example.com", t.owner_email.as_str(), PASSWORD),
        (t.domain.as_str(), "nobody@acme.example.com", PASSWORD),
        (t.domain.as_str(), t.owner_email.as_str(), "wrong password!"),
    ] {
        let body = app.try_login(tenant, email, password).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
        messages.push(body["errors"][0]["message"].as_str().unwrap().to_owned());
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed'"
        )
        .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_free_failures_an_account_waits_and_then_the_right_password_works() {
    let app = spawn_app_with(|s| {
        s.login_failures_per_account = 3;
        s.login_delay_ms = 300;
    })
    .await;
    let t = app.signup("acme").await;
    for _ in 0..3 {
        let body = app
            .try_login(&t.domain, &t.owner_email, "wrong password!")
            .await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    let body = app
        .try_login(&t.domain, &t.owner_email, "wrong password!")
        .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            >= 1
    );
    let body = app.try_login(&t.domain, &t.owner_email, PASSWORD).await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "during the wait: {body}");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    app.login(&t.domain, &t.owner_email, PASSWORD).await;
}

/// A login sent through the trusted proxy 127.0.0.1 for the client `ip`.
async fn login_from(app: &TestApp, ip: &str, tenant: &str, email: &str, password: &str) -> Value {
    app.client
        .post(format!("{}/graphql", app.address))
        .header("x-forwarded-for", ip)
        .json(&json!({ "query": common::operation("LogIn"), "variables": { "input": { "tenant": tenant, "email": email, "password": password } } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attackers_failing_from_many_addresses_do_not_lock_the_owner_out() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.login_failures_per_account = 3;
        s.login_delay_ms = 100;
        s.login_max_delay_secs = 1;
    })
    .await;
    let t = app.signup("acme").await;
    // Forty guesses from twenty addresses: the delay has reached its cap of 1 s.
    let mut limited = 0;
    for i in 0..40 {
        let ip = format!("203.0.113.{}", i % 20);
        let body = login_from(&app, &ip, &t.domain, &t.owner_email, "guess!guess!").await;
        if error_code(&body) == "RATE_LIMITED" {
            limited += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    assert!(limited > 0, "the guessing was slowed down");
    // The owner, from an address of its own, waits for the delay at most, then gets in.
    let owner_ip = "198.51.100.20";
    let body = login_from(&app, owner_ip, &t.domain, &t.owner_email, PASSWORD).await;
    if body["data"]["login"].is_null() {
        assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let body = login_from(&app, owner_ip, &t.domain, &t.owner_email, PASSWORD).await;
        assert!(body["data"]["login"].is_object(), "after the delay: {body}");
    }
    // Its network is now known to the account: the attackers' next failures do not hold it
    // back at all.
    for i in 0..10 {
        let ip = format!("203.0.113.{i}");
        login_from(&app, &ip, &t.domain, &t.owner_email, "guess!guess!").await;
    }
    let body = login_from(
        &app,
        &format!("203.0.113.{}", 11),
        &t.domain,
        &t.owner_email,
        PASSWORD,
    )
    .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "others wait: {body}");
    let body = login_from(&app, owner_ip, &t.domain, &t.owner_email, PASSWORD).await;
    assert!(
        body["data"]["login"].is_object(),
        "the known network: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admins_get_the_same_delay_and_then_log_in() {
    let app = spawn_app_with(|s| {
        s.login_failures_per_account = 2;
        s.login_delay_ms = 300;
    })
    .await;
    let _ = app.platform_admin("root@hub.example.com").await;
    let admin_login = "mutation($e: String!, $p: String!) { adminLogin(email: $e, password: $p) { accessToken } }";
    for expected in ["UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"] {
        let body = app
            .gql(
                None,
                admin_login,
                json!({ "e": "root@hub.example.com", "p": "wrong password!" }),
            )
            .await;
        assert_eq!(error_code(&body), expected, "{body}");
    }
    let body = app
        .gql(
            None,
            admin_login,
            json!({ "e": "root@hub.example.com", "p": PASSWORD }),
        )
        .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "during the wait: {body}");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let body = app
        .gql(
            None,
            admin_login,
            json!({ "e": "root@hub.example.com", "p": PASSWORD }),
        )
        .await;
    assert!(
        body["data"]["adminLogin"]["accessToken"].is_string(),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_of_one_ipv6_64_share_the_network_limit() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.login_failures_per_ip = 3;
        s.login_failures_per_account = 100;
    })
    .await;
    let t = app.signup("acme").await;
    for i in 1..=3 {
        let ip = format!("2001:db8:5:6::{i:x}");
        let body = login_from(
            &app,
            &ip,
            &t.domain,
            &format!("g{i}@acme.example.com"),
            "guess!guess!",
        )
        .await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    }
    let body = login_from(
        &app,
        "2001:db8:5:6:ffff:1:2:3",
        &t.domain,
        &t.owner_email,
        PASSWORD,
    )
    .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "the same /64: {body}");
    let body = login_from(&app, "2001:db8:5:7::1", &t.domain, &t.owner_email, PASSWORD).await;
    assert!(body["data"]["login"].is_object(), "another /64: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trusted_proxies_every_client_behind_the_proxy_shares_one_limit() {
    let app = spawn_app_with(|s| {
        s.login_failures_per_ip = 3;
        s.login_failures_per_account = 100;
    })
    .await;
    let t = app.signup("acme").await;
    for i in 1..=3 {
        let ip = format!("192.0.2.{i}");
        login_from(
            &app,
            &ip,
            &t.domain,
            &format!("g{i}@acme.example.com"),
            "guess!guess!",
        )
        .await;
    }
    // X-Forwarded-For is not believed: these are all the proxy's (127.0.0.1) attempts.
    let body = login_from(&app, "192.0.2.99", &t.domain, &t.owner_email, PASSWORD).await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_the_tenant_differently_gives_no_new_allowance_of_guesses() {
    let app = spawn_app_with(|s| s.login_failures_per_account = 3).await;
    let t = app.signup("acme").await;
    let upper = t.uuid.to_string().to_uppercase();
    let braced = format!("{{{}}}", t.uuid);
    let simple = t.uuid.simple().to_string();
    // Domain, slug, the global id and three spellings of the uuid: one account, one
    // allowance of 3.
    let names = [t.domain.as_str(), "ACME", &t.id, &upper, &braced, &simple];
    let mut codes = Vec::new();
    for name in names {
        let body = app.try_login(name, &t.owner_email, "wrong password!").await;
        codes.push(error_code(&body).to_owned());
    }
    assert_eq!(
        codes,
        [
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "RATE_LIMITED",
            "RATE_LIMITED",
            "RATE_LIMITED"
        ],
        "the fourth failure exceeds the allowance, whatever the tenant was called"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_guessing_many_accounts_is_rate_limited() {
    let app = spawn_app_with(|s| {
        s.login_failures_per_ip = 4;
        s.login_failures_per_account = 100;
    })
    .await;
    let t = app.signup("acme").await;
    let mut codes = Vec::new();
    for i in 0..6 {
        let email = format!("guess{i}@acme.example.com");
        let body = app.try_login(&t.domain, &email, "wrong password!").await;
        codes.push(error_code(&body).to_owned());
    }
    assert_eq!(codes[..4], ["UNAUTHENTICATED"; 4], "{codes:?}");
    assert_eq!(codes[4..], ["RATE_LIMITED"; 2], "{codes:?}");
    // The address is locked out, also for a right password on another account.
    let body = app.try_login(&t.domain, &t.owner_email, PASSWORD).await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_tenants_refuse_logins_and_tokens_and_inactive_users_their_tokens() {
    let app = spawn_app_with(|s| s.tokens.session_cache_ms = 0).await;
    let t = app.signup("acme").await;
    let su = app.superuser().await;

    su.execute(
        "UPDATE tenants SET status = 'suspended' WHERE id = $1",
        &[&t.uuid],
    )
    .await
    .unwrap();
    let body = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&body), "TENANT_INACTIVE", "{body}");
    let body = app
        .gql(Some(&t.token), "{ products { id } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "TENANT_INACTIVE", "{body}");
    su.execute(
        "UPDATE tenants SET status = 'deactivated' WHERE id = $1",
        &[&t.uuid],
    )
    .await
    .unwrap();
    let body = app.try_login(&t.domain, &t.owner_email, PASSWORD).await;
    assert_eq!(error_code(&body), "TENANT_INACTIVE", "{body}");
    let body = app
        .gql(Some(&t.token), "{ tenantContext { tenantId } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "TENANT_INACTIVE", "{body}");
    let body = app
        .gql(
            None,
            "mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }",
            json!({ "r": t.refresh_token }),
        )
        .await;
    assert_eq!(error_code(&body), "TENANT_INACTIVE", "{body}");

    su.execute(
        "UPDATE tenants SET status = 'active' WHERE id = $1",
        &[&t.uuid],
    )
    .await
    .unwrap();
    su.execute(
        "UPDATE users SET status = 'deactivated' WHERE id = $1",
        &[&t.owner_uuid],
    )
    .await
    .unwrap();
    let body = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    let body = app.try_login(&t.domain, &t.owner_email, PASSWORD).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");

    su.execute(
        "UPDATE users SET status = 'active' WHERE id = $1",
        &[&t.owner_uuid],
    )
    .await
    .unwrap();
    su.execute("DELETE FROM users WHERE id = $1", &[&t.owner_uuid])
        .await
        .unwrap();
    let body = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert_eq!(
        error_code(&body),
        "UNAUTHENTICATED",
        "a deleted user's token: {body}"
    );
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_carry_the_documented_header_and_claims() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let header = decode_part(&t.token, 0);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
    let claims = decode_part(&t.token, 1);
    assert_eq!(claims["iss"], app.address.as_str());
    assert_eq!(claims["aud"], "tenant-hub-products");
    assert_eq!(claims["sub"], t.owner_uuid.to_string());
    assert_eq!(claims["tid"], t.uuid.to_string());
    assert!(claims["sid"].is_string() && claims["jti"].is_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["nbf"], claims["iat"]);
    assert!(claims.get("permissions").is_none(), "tokens stay small");
}

const REFRESH: &str = "mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken expiresIn } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_session() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let first = app
        .gql(None, REFRESH, json!({ "r": t.refresh_token }))
        .await;
    let new_refresh = first["data"]["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_access = first["data"]["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_refresh, t.refresh_token);
    let me = app
        .gql(Some(&new_access), "{ me { email } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["email"], t.owner_email.as_str());
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'auth.session_refreshed'
             AND actor_type = 'user' AND request_id IS NOT NULL AND ip IS NOT NULL"
        )
        .await,
        1,
        "a refresh is recorded like any other mutation"
    );

    // The spent token again: refused, and the whole session is revoked.
    let reuse = app
        .gql(None, REFRESH, json!({ "r": t.refresh_token }))
        .await;
    assert_eq!(error_code(&reuse), "UNAUTHENTICATED", "{reuse}");
    let next = app.gql(None, REFRESH, json!({ "r": new_refresh })).await;
    assert_eq!(
        error_code(&next),
        "UNAUTHENTICATED",
        "the rotated token died with its session: {next}"
    );
    let me = app
        .gql(Some(&new_access), "{ me { email } }", json!({}))
        .await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED", "{me}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'auth.refresh_token_reused'"
        )
        .await,
        1
    );

    let garbage = app.gql(None, REFRESH, json!({ "r": "nonsense" })).await;
    assert_eq!(error_code(&garbage), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_the_session_its_refresh_token_and_its_access_tokens() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let other = app.login(&t.domain, &t.owner_email, PASSWORD).await;
    let body = app
        .gql(Some(&t.token), "mutation { logout }", json!({}))
        .await;
    assert_eq!(body["data"]["logout"], true, "{body}");
    let me = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED");
    let refresh = app
        .gql(None, REFRESH, json!({ "r": t.refresh_token }))
        .await;
    assert_eq!(error_code(&refresh), "UNAUTHENTICATED");
    // Another session of the same user is untouched.
    let me = app
        .gql(other["accessToken"].as_str(), "{ me { id } }", json!({}))
        .await;
    assert!(me["data"]["me"]["id"].is_string(), "{me}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'auth.logout'"
        )
        .await,
        1
    );
}

fn signing_key(app: &TestApp) -> (String, EncodingKey) {
    let entry = std::fs::read_dir(&app.keys_dir)
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().extension().is_some_and(|x| x == "pem"))
        .unwrap();
    let kid = entry
        .path()
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let pem = std::fs::read(entry.path()).unwrap();
    (kid, EncodingKey::from_ed_pem(&pem).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_unfit_tokens_are_all_refused() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (kid, key) = signing_key(&app);
    let good = decode_part(&t.token, 1);
    let now = chrono::Utc::now().timestamp();
    let sign = |claims: &Value, kid: &str| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        header.typ = Some("at+jwt".to_owned());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    };
    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        c
    };
    // Sanity: a token we sign with the right claims is accepted, so refusals below are real.
    let resigned = sign(&good, &kid);
    let ok = app.gql(Some(&resigned), "{ me { id } }", json!({})).await;
    assert!(ok["data"]["me"]["id"].is_string(), "{ok}");

    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let parts: Vec<&str> = t.token.split('.').collect();
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public_x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    hs_header.typ = Some("at+jwt".to_owned());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &good,
        &EncodingKey::from_secret(public_x.as_bytes()),
    )
    .unwrap();
    let none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "at+jwt", "kid": kid })),
        parts[1]
    );
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&with("sub", json!(uuid::Uuid::new_v4().to_string()))),
        parts[2]
    );
    let stripped = format!("{}.{}.", parts[0], parts[1]);
    let revoked = {
        let other = app.login(&t.domain, &t.owner_email, PASSWORD).await;
        let token = other["accessToken"].as_str().unwrap().to_owned();
        app.gql(Some(&token), "mutation { logout }", json!({}))
            .await;
        token
    };
    let id_token_typ = {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, &good, &key).unwrap()
    };
    let cases: Vec<(&str, String)> = vec![
        ("alg none", none),
        ("HS256 signed with the public key", hs256),
        ("expired", sign(&with("exp", json!(now - 3600)), &kid)),
        ("not yet valid", sign(&with("nbf", json!(now + 3600)), &kid)),
        ("wrong issuer", sign(&with("iss", json!("evil-hub")), &kid)),
        (
            "wrong audience",
            sign(&with("aud", json!("another-product")), &kid),
        ),
        ("unknown kid", sign(&good, "1-ed25519-deadbeef")),
        ("tampered payload", tampered),
        ("stripped signature", stripped),
        ("access token of a revoked session", revoked),
        (
            "refresh token used as an access token",
            t.refresh_token.clone(),
        ),
        ("typ other than at+jwt", id_token_typ),
        (
            "session of another tenant",
            sign(&with("tid", json!(uuid::Uuid::new_v4().to_string())), &kid),
        ),
        ("garbage", "abc".to_owned()),
    ];
    for (case, token) in cases {
        let resp = app
            .gql_response(Some(&token), "{ me { id } }", json!({}))
            .await;
        assert_eq!(resp.status(), 401, "{case}");
        // RFC 6750: the challenge says the token was refused.
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer realm=\"tenant-hub\", error=\"invalid_token\""),
            "{case}: {challenge}"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{case}: {body}");
        assert!(
            body.get("data").is_none() || body["data"].is_null(),
            "{case}"
        );
        // Refresh, or log in again.
        let reason = if case == "expired" {
            "token_expired"
        } else {
            "token_invalid"
        };
        assert_eq!(
            body["errors"][0]["extensions"]["reason"], reason,
            "{case}: {body}"
        );
    }
    let resp = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("authorization", format!("Basic {}", t.token))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a non-Bearer scheme");
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_request\"")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["reason"],
        "authorization_malformed"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("Bearer") && message.contains("ApiKey"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_are_published_and_old_tokens_keep_working_until_they_expire() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let old_kid = decode_part(&t.token, 0)["kid"].as_str().unwrap().to_owned();
    let ttl = std::time::Duration::from_secs(930);
    let summary = tenant_hub::auth::keys::rotate(
        &app.keys_dir,
        tenant_hub::config::SigningAlg::EdDsa,
        std::time::Duration::ZERO,
        ttl,
    )
    .unwrap();
    assert!(
        summary.removed.is_empty(),
        "the old key still has live tokens"
    );
    app.state.tokens.keys().reload().unwrap();
    // The new key may start signing up to a second from now (strictly after the old one).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&summary.new_kid.as_str()),
        "{kids:?}"
    );

    let fresh = app.login(&t.domain, &t.owner_email, PASSWORD).await;
    let fresh_token = fresh["accessToken"].as_str().unwrap();
    assert_eq!(decode_part(fresh_token, 0)["kid"], summary.new_kid.as_str());
    for token in [t.token.as_str(), fresh_token] {
        let me = app.gql(Some(token), "{ me { id } }", json!({})).await;
        assert!(me["data"]["me"]["id"].is_string(), "{me}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_keys_are_supported() {
    let app = spawn_app_with(|s| s.tokens.jwt_alg = tenant_hub::config::SigningAlg::Rs256).await;
    let t = app.signup("acme").await;
    assert_eq!(decode_part(&t.token, 0)["alg"], "RS256");
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    let me = app.gql(Some(&t.token), "{ me { email } }", json!({})).await;
    assert_eq!(me["data"]["me"]["email"], t.owner_email.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_context_unions_role_permissions_and_applies_product_overrides() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let su = app.superuser().await;
    let other_tenant = app.signup("other").await;
    // A member user with the viewer and billing roles.
    su.execute(
        "INSERT INTO users (tenant_id, id, email, password_hash)
         SELECT tenant_id, gen_random_uuid(), 'bob@acme.example.com', password_hash FROM users WHERE id = $1",
        &[&t.owner_uuid],
    )
    .await
    .unwrap();
    su.batch_execute(&format!(
        "INSERT INTO user_roles (tenant_id, user_id, role_id)
         SELECT r.tenant_id, u.id, r.id FROM roles r JOIN users u ON u.tenant_id = r.tenant_id
         WHERE u.email = 'bob@acme.example.com' AND r.name IN ('viewer', 'billing') AND r.tenant_id = '{}';
         INSERT INTO tenant_products (tenant_id, product_id, access) VALUES ('{0}', 'crm', 'limited'), ('{0}', 'helpdesk', 'full');
         INSERT INTO user_product_access (tenant_id, user_id, product_id, access)
         SELECT tenant_id, id, 'helpdesk', 'none' FROM users WHERE email = 'bob@acme.example.com';
         INSERT INTO tenant_products (tenant_id, product_id, access) VALUES ('{1}', 'analytics', 'full');",
        t.uuid, other_tenant.uuid
    ))
    .await
    .unwrap();
    let bob = app.login(&t.domain, "bob@acme.example.com", PASSWORD).await;
    let token = bob["accessToken"].as_str().unwrap();
    let q = "query($p: ID) { tenantContext(productId: $p) { tenantId userId permissions products { productId access } } }";
    let all = app.gql(Some(token), q, json!({})).await;
    let ctx = &all["data"]["tenantContext"];
    assert_eq!(ctx["tenantId"], t.uuid.to_string(), "{all}");
    assert_eq!(
        ctx["permissions"],
        json!([
            "billing:manage",
            "tenant:read",
            "users:read",
            "workspaces:read"
        ])
    );
    let access = |product: &str| {
        ctx["products"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["productId"] == product)
            .map(|p| p["access"].clone())
    };
    assert_eq!(access("workspaces"), Some(json!("FULL")));
    assert_eq!(access("crm"), Some(json!("LIMITED")));
    assert_eq!(
        access("helpdesk"),
        Some(json!("NONE")),
        "the user's override wins"
    );
    assert_eq!(
        access("analytics"),
        Some(json!("NONE")),
        "another tenant's grant does not leak"
    );

    let one = app.gql(Some(token), q, json!({ "p": "crm" })).await;
    assert_eq!(
        one["data"]["tenantContext"]["products"],
        json!([{ "productId": "crm", "access": "LIMITED" }])
    );
    let unknown = app
        .gql(Some(token), q, json!({ "p": "no-such-product" }))
        .await;
    assert_eq!(
        unknown["data"]["tenantContext"]["products"],
        json!([{ "productId": "no-such-product", "access": "NONE" }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_takes_the_first_line_of_standard_input_without_waiting_for_its_end() {
    use std::io::Write;
    let app = spawn_app().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
        .args([
            "admin",
            "create",
            "--email",
            "ops@hub.example.com",
            "--database-url",
            &common::db_url(app.db_name()),
        ])
        .env_remove("HUB_ADMIN_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The line is typed and Enter pressed; standard input stays open, as on a terminal.
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{PASSWORD}").unwrap();
    stdin.flush().unwrap();
    let mut status = None;
    for _ in 0..600 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if status.is_none() {
        child.kill().unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "admin create waited for the end of standard input: {} {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let body = app
        .gql(None, "mutation($e: String!, $p: String!) { adminLogin(email: $e, password: $p) { accessToken } }", json!({ "e": "ops@hub.example.com", "p": PASSWORD }))
        .await;
    assert!(
        body["data"]["adminLogin"]["accessToken"].is_string(),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_makes_a_platform_admin_who_logs_in_without_a_tenant() {
    let app = spawn_app().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
        .args([
            "admin",
            "create",
            "--email",
            "root@hub.example.com",
            "--database-url",
            &common::db_url(app.db_name()),
        ])
        .env("HUB_ADMIN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("created"), "{stdout}");
    assert!(!stdout.contains(PASSWORD));

    let body = app
        .gql(None, "mutation($e: String!, $p: String!) { adminLogin(email: $e, password: $p) { accessToken expiresIn } }", json!({ "e": "ROOT@hub.example.com", "p": PASSWORD }))
        .await;
    let token = body["data"]["adminLogin"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    let claims = decode_part(token, 1);
    assert!(claims.get("tid").is_none());
    assert_eq!(claims["scope"], "platform");
    let me = app.gql(Some(token), "{ me { id } }", json!({})).await;
    assert_eq!(
        error_code(&me),
        "FORBIDDEN",
        "platform admins are not tenant members"
    );
    let wrong = app
        .gql(None, "mutation($e: String!, $p: String!) { adminLogin(email: $e, password: $p) { accessToken } }", json!({ "e": "root@hub.example.com", "p": "wrong password!" }))
        .await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM platform_audit_log WHERE action = 'platform.admin_login'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM platform_audit_log WHERE action = 'platform.admin_login_failed'"
        )
        .await,
        1
    );
}

/// A token is verified once per replica and then remembered, but never beyond what a full
/// verification would accept: past its expiry it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_token_is_refused_once_it_expires() {
    let app = common::spawn_app_with(|s| {
        s.tokens.access_token_ttl_secs = 1;
        s.tokens.leeway_secs = 0;
    })
    .await;
    let t = app.signup("acme").await;
    let me = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert!(me["data"]["me"]["id"].is_string(), "{me}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let late = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&late), "UNAUTHENTICATED", "{late}");
}

/// ... and once the key that verified it leaves the keys folder, it is refused at the next
/// reload, however recently it was verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_token_is_refused_once_its_key_is_removed() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let me = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert!(me["data"]["me"]["id"].is_string(), "{me}");
    let old_kid = decode_part(&t.token, 0)["kid"].as_str().unwrap().to_owned();
    tenant_hub::auth::keys::rotate(
        &app.keys_dir,
        tenant_hub::config::SigningAlg::EdDsa,
        std::time::Duration::ZERO,
        std::time::Duration::from_secs(930),
    )
    .unwrap();
    // An operator removes the old key (e.g. it leaked) and the replica reloads the folder.
    std::fs::remove_file(app.keys_dir.join(format!("{old_kid}.pem"))).unwrap();
    app.state.tokens.keys().reload().unwrap();
    let refused = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED", "{refused}");
}

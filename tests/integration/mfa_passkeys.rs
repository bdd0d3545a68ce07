//! Passkeys end to end in headless Chromium with a virtual authenticator (the WebDriver
//! WebAuthn extension): registering two on the account page, signing in with password +
//! passkey on /login/mfa and with a passkey alone on the login page (session `amr` `hwk`,
//! acr 2fa), a replayed ceremony refused with nothing changed, and removal. Over the API:
//! beginPasskeyRegistration's options and a refused finish. WebAuthn needs a secure context
//! and a domain as the relying-party id: the hub's public URL is `http://localhost:<port>`.

use serde_json::Value;
use tenant_hub::mfa::claims::{ACR_MFA, acr_of, amr_list};

use crate::common::{
    self, PASSWORD,
    browser::{ChromeDriver, require_browser},
    count,
};

/// The hub on a port chosen here, its public URL `http://localhost:<port>`.
async fn spawn_on_localhost() -> (common::TestApp, String) {
    spawn_on_localhost_with(|_| {}).await
}

/// [`spawn_on_localhost`], with `configure` adjusting the settings too.
async fn spawn_on_localhost_with(
    configure: impl FnOnce(&mut tenant_hub::Settings),
) -> (common::TestApp, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://localhost:{port}");
    let public = base.clone();
    let app = common::spawn_app_with(move |s| {
        s.bind = format!("127.0.0.1:{port}");
        s.public_url = Some(public);
        configure(s);
    })
    .await;
    (app, base)
}

async fn passkeys_of(app: &common::TestApp) -> i64 {
    count(app, "SELECT count(*) FROM mfa_passkeys").await
}

async fn live_browser_amr(app: &common::TestApp) -> Vec<String> {
    let rows = app
        .superuser()
        .await
        .query(
            "SELECT amr FROM sessions WHERE browser_token_hash IS NOT NULL AND revoked_at IS NULL
             ORDER BY created_at DESC",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect()
}

async fn audit_count(app: &common::TestApp, action: &str, detail: &str) -> i64 {
    app.superuser()
        .await
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = $1 AND details::text LIKE $2",
            &[&action, &format!("%{detail}%")],
        )
        .await
        .unwrap()
        .get(0)
}

const VISIBLE: &str = "const b = document.querySelector('button[data-passkey]'); \
                       return !!b && !b.hidden;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_register_sign_in_as_second_factor_and_alone_in_chromium() {
    require_browser();
    let (app, base) = spawn_on_localhost().await;
    let t = app.signup("acme").await;
    let driver = ChromeDriver::start();
    let session = driver
        .new_session()
        .await
        .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e:#}{}", driver.log_tail()));
    let outcome = async {
        let first = session.add_virtual_authenticator().await?;
        let login = format!("{base}/login?tenant={}&return_to=%2Faccount%2Fmfa", t.uuid);
        session.goto(&login).await?;
        session.fill("#email", &t.owner_email).await?;
        session.click("#email ~ button[type=submit]").await?;
        session
            .wait_for_url("the password step", |u| u.ends_with("/login/identify"))
            .await?;
        session.fill("#password", PASSWORD).await?;
        session.click("button[type=submit]").await?;
        session
            .wait_for_url("the security page", |u| u.ends_with("/account/mfa"))
            .await?;

        // The first passkey: registered on the account page, with the recovery codes.
        session
            .wait_for("the passkey button", VISIBLE, |v| v == &Value::Bool(true))
            .await?;
        session.fill("#label", "Laptop").await?;
        session.click("button[data-passkey=create]").await?;
        session
            .wait_for(
                "the recovery codes",
                "return document.body.innerText",
                |v| v.as_str().is_some_and(|s| s.contains("recovery codes")),
            )
            .await?;
        anyhow::ensure!(passkeys_of(&app).await == 1);
        anyhow::ensure!(audit_count(&app, "mfa.enrolled", "passkey").await == 1);

        // A second passkey on another authenticator (the first one holds this account's
        // credential already, which the options exclude).
        session.remove_virtual_authenticator(&first).await?;
        session.add_virtual_authenticator().await?;
        session.goto(&format!("{base}/account/mfa")).await?;
        session
            .wait_for("the passkey button", VISIBLE, |v| v == &Value::Bool(true))
            .await?;
        session.fill("#label", "Phone").await?;
        session.click("button[data-passkey=create]").await?;
        session
            .wait_for(
                "the second passkey listed",
                "return document.body.innerText",
                |v| {
                    v.as_str()
                        .is_some_and(|s| s.contains("Phone") && s.contains("added"))
                },
            )
            .await?;
        anyhow::ensure!(passkeys_of(&app).await == 2);
        let text = session.text().await?;
        anyhow::ensure!(text.contains("Laptop") && text.contains("Phone"), "{text}");

        // Password + passkey: the second factor of /login/mfa.
        session.delete_cookies().await?;
        session
            .goto(&format!("{base}/login?tenant={}&return_to=%2F", t.uuid))
            .await?;
        session.fill("#email", &t.owner_email).await?;
        session.click("#email ~ button[type=submit]").await?;
        session
            .wait_for_url("the password step", |u| u.ends_with("/login/identify"))
            .await?;
        session.fill("#password", PASSWORD).await?;
        session.click("button[type=submit]").await?;
        session
            .wait_for_url("the MFA step", |u| u.contains("/login/mfa"))
            .await?;
        session
            .wait_for("the passkey button", VISIBLE, |v| v == &Value::Bool(true))
            .await?;
        session.click("button[data-passkey=get]").await?;
        session
            .wait_for_url("the signed-in home", |u| u == format!("{base}/"))
            .await?;
        let amr = live_browser_amr(&app).await;
        anyhow::ensure!(
            amr.first().map(String::as_str) == Some("pwd hwk"),
            "{amr:?}"
        );
        anyhow::ensure!(acr_of(&amr_list(&amr[0])) == ACR_MFA);
        anyhow::ensure!(audit_count(&app, "mfa.used", "passkey").await == 1);

        // Passwordless: the login page of the tenant, the passkey alone.
        session.delete_cookies().await?;
        session
            .goto(&format!("{base}/login?tenant={}&return_to=%2F", t.uuid))
            .await?;
        session
            .wait_for("the passkey button", VISIBLE, |v| v == &Value::Bool(true))
            .await?;
        // Keep what the page posts, to replay it afterwards.
        session
            .script(
                "const f = document.getElementById('passkey-sign-in'); \
                 const submit = f.submit.bind(f); \
                 f.submit = () => { sessionStorage.setItem('posted', \
                   new URLSearchParams(new FormData(f)).toString()); submit(); }; return true;",
            )
            .await?;
        let sessions_before = live_browser_amr(&app).await.len();
        session
            .click("#passkey-sign-in button[data-passkey=get]")
            .await?;
        session
            .wait_for_url("the signed-in home", |u| u == format!("{base}/"))
            .await?;
        let amr = live_browser_amr(&app).await;
        anyhow::ensure!(amr.len() == sessions_before + 1, "{amr:?}");
        anyhow::ensure!(amr[0] == "hwk", "{amr:?}");
        anyhow::ensure!(acr_of(&amr_list(&amr[0])) == ACR_MFA);
        anyhow::ensure!(audit_count(&app, "mfa.used", "passwordless").await == 1);

        // The same assertion again: its ceremony is spent; no session, an audited failure.
        let failures = audit_count(&app, "mfa.failed", "passwordless").await;
        let status = session
            .script(
                "const r = new XMLHttpRequest(); r.open('POST', '/login/passkey', false); \
                 r.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded'); \
                 r.send(sessionStorage.getItem('posted')); return r.status;",
            )
            .await?;
        let posted = session
            .script("return sessionStorage.getItem('posted')")
            .await?;
        anyhow::ensure!(
            posted.as_str().is_some_and(|p| p.contains("credential=")),
            "{posted}"
        );
        anyhow::ensure!(status == 401, "replay answered {status}");
        anyhow::ensure!(live_browser_amr(&app).await.len() == amr.len());
        anyhow::ensure!(audit_count(&app, "mfa.failed", "passwordless").await == failures + 1);

        // Removal on the account page.
        session.goto(&format!("{base}/account/mfa")).await?;
        session.click(".factors form button[type=submit]").await?;
        session
            .wait_for("the removal", "return document.body.innerText", |v| {
                v.as_str().is_some_and(|s| s.contains("Removed."))
            })
            .await?;
        anyhow::ensure!(passkeys_of(&app).await == 1);
        anyhow::ensure!(audit_count(&app, "mfa.factor_removed", "passkey").await == 1);
        let errors = session.log("browser").await?;
        let severe: Vec<&Value> = errors
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| {
                let m = e["message"].as_str().unwrap_or("");
                e["level"] == "SEVERE" && !m.contains("401") && !m.contains("favicon.ico")
            })
            .collect();
        anyhow::ensure!(severe.is_empty(), "browser errors: {severe:?}");
        anyhow::Ok(())
    }
    .await;
    let _ = session.quit().await;
    if let Err(e) = outcome {
        panic!("{e:#}{}", driver.log_tail());
    }
}

const BEGIN: &str =
    "mutation($label: String) { beginPasskeyRegistration(label: $label) { ceremony options } }";
const FINISH: &str = "mutation($c: String!, $cred: String!) {
    finishPasskeyRegistration(ceremony: $c, credential: $cred) { factor { id kind } } }";

#[tokio::test]
async fn the_api_begins_a_registration_with_valid_options_and_refuses_a_bad_finish_changing_nothing()
 {
    let (app, _) = spawn_on_localhost().await;
    let t = app.signup("acme").await;
    let begun = app
        .gql(Some(&t.token), BEGIN, serde_json::json!({ "label": "Key" }))
        .await;
    let payload = &begun["data"]["beginPasskeyRegistration"];
    let options: Value =
        serde_json::from_str(payload["options"].as_str().expect("options")).unwrap();
    let pk = &options["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost", "{options}");
    assert!(
        pk["challenge"].as_str().is_some_and(|c| c.len() >= 22),
        "{options}"
    );
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(
        count(&app, "SELECT count(*) FROM mfa_passkey_ceremonies").await,
        1
    );
    let ceremony = payload["ceremony"].as_str().unwrap().to_owned();

    // A credential that is not one: refused, nothing registered, the ceremony spent.
    let bad = serde_json::json!({ "c": ceremony, "cred": "{\"id\":\"x\"}" });
    let refused = app.gql(Some(&t.token), FINISH, bad.clone()).await;
    assert_eq!(common::error_code(&refused), "UNAUTHENTICATED", "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["reason"],
        "passkey_invalid"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM mfa_factors").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM mfa_passkeys").await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM mfa_passkey_ceremonies WHERE used_at IS NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'mfa.failed'"
        )
        .await,
        1
    );
    // Replaying the ceremony, or an expired one: the same refusal.
    let again = app.gql(Some(&t.token), FINISH, bad).await;
    assert_eq!(
        again["errors"][0]["extensions"]["reason"],
        "passkey_invalid"
    );
    let begun = app
        .gql(Some(&t.token), BEGIN, serde_json::json!({ "label": null }))
        .await;
    let ceremony = begun["data"]["beginPasskeyRegistration"]["ceremony"]
        .as_str()
        .unwrap()
        .to_owned();
    app.superuser()
        .await
        .execute(
            "UPDATE mfa_passkey_ceremonies SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let expired = app
        .gql(
            Some(&t.token),
            FINISH,
            serde_json::json!({ "c": ceremony, "cred": "{}" }),
        )
        .await;
    assert_eq!(
        expired["errors"][0]["extensions"]["reason"],
        "passkey_invalid"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM mfa_factors").await, 0);
}

/// On the hub's default `http://127.0.0.1` an IP cannot be a relying-party id: a clear refusal.
#[tokio::test]
async fn passkeys_are_unavailable_without_a_domain() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    let begun = app
        .gql(Some(&t.token), BEGIN, serde_json::json!({ "label": "Key" }))
        .await;
    assert_eq!(
        begun["errors"][0]["extensions"]["reason"], "passkeys_unavailable",
        "{begun}"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM mfa_passkey_ceremonies").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwordless_starts_count_in_the_anonymous_allowance_of_the_clients_ip() {
    // 40 a minute: enough for the set-up's own anonymous calls, spent by the starts below.
    let (app, base) = spawn_on_localhost_with(|s| s.anonymous_requests_per_minute = 40).await;
    let t = app.signup("acme").await;
    let browser = common::pages::PageClient::new(&base);
    let login = browser.get(&format!("/login?tenant={}", t.domain)).await;
    assert_eq!(login.status, 200, "{}", login.html);
    let (csrf, tenant) = (login.csrf(), t.uuid.to_string());
    let mut started = 0;
    let refused = loop {
        let answer = browser
            .post(
                "/login/passkey/options",
                &[("csrf", csrf.as_str()), ("tenant", tenant.as_str())],
            )
            .await;
        if answer.status != 200 {
            break answer;
        }
        started += 1;
        assert!(
            started < 60,
            "60 starts in a minute from one IP, none refused"
        );
    };
    assert_eq!(refused.status, 429, "{}", refused.html);
    assert!(refused.headers.contains_key("retry-after"));
    assert!(refused.html.contains("RATE_LIMITED"), "{}", refused.html);
    assert_eq!(
        count(&app, "SELECT count(*) FROM mfa_passkey_ceremonies").await,
        started
    );
}

//! Passkeys end to end in headless Chromium with a virtual authenticator (the WebDriver
//! WebAuthn extension): registering two on the account page, signing in with password +
//! passkey on /login/mfa and with a passkey alone on the login page (session `amr` `hwk`,
//! acr 2fa), a replayed ceremony refused with nothing changed, and removal. Over the API:
//! beginPasskeyRegistration's options and a refused finish; a passkey as the second factor of
//! the GraphQL login, and enrolled under login's enrolment challenge (what a product's own
//! page does: the options from the API, `navigator.credentials` in the page); and a passkey set
//! up on the hosted step of an OpenID sign-in, whose ID token then says `hwk`. WebAuthn needs
//! a secure context and a domain as the relying-party id: the hub's public URL is
//! `http://localhost:<port>`.

use serde_json::Value;
use tenant_hub::mfa::claims::{ACR_MFA, acr_of, amr_list};

use serde_json::json;

use crate::common::{
    self, PASSWORD,
    browser::{ChromeDriver, Session, require_browser},
    count, operation,
};
use crate::mfa_hosted::jwt_claims;

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
        session
            .enter_email_and_password(&t.owner_email, PASSWORD)
            .await?;
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
        session
            .enter_email_and_password(&t.owner_email, PASSWORD)
            .await?;
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

        // A genuine passkey of a user the tenant may not let in now (it requires a verified
        // email the owner has not): the page says why, and no use is recorded.
        let db = app.superuser().await;
        db.execute(
            "UPDATE tenants SET require_verified_email = true WHERE id = $1",
            &[&t.uuid],
        )
        .await?;
        db.execute(
            "UPDATE users SET email_verified_at = NULL WHERE id = $1",
            &[&t.owner_uuid],
        )
        .await?;
        session.delete_cookies().await?;
        session
            .goto(&format!("{base}/login?tenant={}&return_to=%2F", t.uuid))
            .await?;
        session
            .wait_for("the passkey button", VISIBLE, |v| v == &Value::Bool(true))
            .await?;
        session
            .click("#passkey-sign-in button[data-passkey=get]")
            .await?;
        session
            .wait_for(
                "the unverified-email page",
                "return document.body.innerText",
                |v| {
                    v.as_str()
                        .is_some_and(|s| s.contains("confirm your email address"))
                },
            )
            .await?;
        anyhow::ensure!(live_browser_amr(&app).await.len() == amr.len());
        anyhow::ensure!(audit_count(&app, "mfa.used", "passwordless").await == 1);
        db.execute(
            "UPDATE tenants SET require_verified_email = false WHERE id = $1",
            &[&t.uuid],
        )
        .await?;
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

/// `navigator.credentials.create` (`kind` "create") or `.get` in the current page for `options`
/// as the API gave them; the result as the JSON the API takes (binary fields base64url). What
/// a product's own sign-in page does with the hub's options.
async fn ceremony_in_page(
    session: &Session<'_>,
    kind: &str,
    options: &str,
) -> anyhow::Result<String> {
    let script = format!(
        "const o = {options}; const kind = '{kind}'; \
         const b = s => {{ s = s.replace(/-/g, '+').replace(/_/g, '/'); \
           while (s.length % 4) {{ s += '='; }} \
           return Uint8Array.from(atob(s), c => c.charCodeAt(0)).buffer; }}; \
         const e = x => btoa(String.fromCharCode(...new Uint8Array(x))) \
           .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''); \
         const pk = o.publicKey; pk.challenge = b(pk.challenge); \
         if (kind === 'create') {{ \
           pk.user.id = b(pk.user.id); \
           (pk.excludeCredentials || []).forEach(c => {{ c.id = b(c.id); }}); \
           return navigator.credentials.create({{ publicKey: pk }}).then(c => JSON.stringify({{ \
             id: c.id, rawId: e(c.rawId), type: c.type, extensions: {{}}, response: {{ \
               attestationObject: e(c.response.attestationObject), \
               clientDataJSON: e(c.response.clientDataJSON) }} }})); \
         }} \
         (pk.allowCredentials || []).forEach(c => {{ c.id = b(c.id); }}); \
         return navigator.credentials.get({{ publicKey: pk }}).then(c => JSON.stringify({{ \
           id: c.id, rawId: e(c.rawId), type: c.type, extensions: {{}}, response: {{ \
             authenticatorData: e(c.response.authenticatorData), \
             clientDataJSON: e(c.response.clientDataJSON), \
             signature: e(c.response.signature), \
             userHandle: c.response.userHandle ? e(c.response.userHandle) : null }} }}));"
    );
    let value = session.script(&script).await?;
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("navigator.credentials.{kind} gave {value}"))
}

/// `assertion` with its signature replaced by another one: it cannot verify.
fn tampered(assertion: &str) -> String {
    let mut value: Value = serde_json::from_str(assertion).unwrap();
    value["response"]["signature"] =
        json!("MEUCIQDtampered0000000000000000000000000000000000000000");
    value.to_string()
}

async fn api_login(app: &common::TestApp, t: &common::TenantFixture) -> Value {
    let body = app
        .gql(
            None,
            operation("LogInMfa"),
            json!({ "input": { "tenant": t.domain, "email": t.owner_email, "password": PASSWORD } }),
        )
        .await;
    body["data"]["login"].clone()
}

async fn complete_with_passkey(app: &common::TestApp, challenge: &str, passkey: &str) -> Value {
    app.gql(
        None,
        operation("CompleteMfaLogin"),
        json!({ "i": { "challenge": challenge, "passkey": passkey } }),
    )
    .await
}

async fn open_sessions(app: &common::TestApp) -> i64 {
    count(
        app,
        "SELECT count(*) FROM sessions WHERE revoked_at IS NULL",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_login_takes_a_passkey_as_second_factor_and_enrols_one_under_its_challenge_in_chromium()
 {
    require_browser();
    let (app, base) = spawn_on_localhost().await;
    let acme = app.signup("acme").await;
    let beta = app.signup("beta").await;
    let driver = ChromeDriver::start();
    let session = driver
        .new_session()
        .await
        .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e:#}{}", driver.log_tail()));
    let outcome = async {
        session.add_virtual_authenticator().await?;
        // A page of the relying party's origin (the hub's public URL).
        session.goto(&format!("{base}/login")).await?;

        // Registered over the API by the signed-in owner of acme.
        let begun = app
            .gql(
                Some(&acme.token),
                operation("BeginPasskeyRegistration"),
                json!({ "label": "Laptop" }),
            )
            .await;
        let begun = &begun["data"]["beginPasskeyRegistration"];
        let options = begun["options"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("{begun}"))?;
        let credential = ceremony_in_page(&session, "create", options).await?;
        let finished = app
            .gql(
                Some(&acme.token),
                operation("FinishPasskeyRegistration"),
                json!({ "ceremony": begun["ceremony"], "credential": credential }),
            )
            .await;
        let codes = &finished["data"]["finishPasskeyRegistration"]["recoveryCodes"];
        anyhow::ensure!(codes.as_array().map(Vec::len) == Some(10), "{finished}");

        // The API login now owes the passkey: a challenge, no tokens.
        let login = api_login(&app, &acme).await;
        anyhow::ensure!(
            login["mfaRequired"] == true && login["accessToken"].is_null(),
            "{login}"
        );
        anyhow::ensure!(
            login["mfaChallenge"]["enrolmentRequired"] == false,
            "{login}"
        );
        let challenge = login["mfaChallenge"]["challenge"]
            .as_str()
            .unwrap()
            .to_owned();
        let begin_login = async || -> anyhow::Result<String> {
            let body = app
                .gql(
                    None,
                    operation("BeginPasskeyLogin"),
                    json!({ "challenge": challenge }),
                )
                .await;
            body["data"]["beginPasskeyLogin"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("{body}"))
        };
        let options = begin_login().await?;
        let parsed: Value = serde_json::from_str(&options)?;
        anyhow::ensure!(
            parsed["publicKey"]["allowCredentials"]
                .as_array()
                .map(Vec::len)
                == Some(1),
            "the owner's passkey is allowed: {parsed}"
        );
        let assertion = ceremony_in_page(&session, "get", &options).await?;

        // A tampered assertion: refused, no session, an audited failure; its ceremony is spent.
        let sessions = open_sessions(&app).await;
        let failures = audit_count(&app, "mfa.failed", "passkey").await;
        let refused = complete_with_passkey(&app, &challenge, &tampered(&assertion)).await;
        anyhow::ensure!(
            common::error_code(&refused) == "UNAUTHENTICATED",
            "{refused}"
        );
        anyhow::ensure!(
            refused["errors"][0]["extensions"]["reason"] == "passkey_invalid",
            "{refused}"
        );
        anyhow::ensure!(open_sessions(&app).await == sessions);
        anyhow::ensure!(audit_count(&app, "mfa.failed", "passkey").await == failures + 1);
        let spent = complete_with_passkey(&app, &challenge, &assertion).await;
        anyhow::ensure!(
            spent["errors"][0]["extensions"]["reason"] == "passkey_invalid",
            "the genuine assertion of a spent ceremony: {spent}"
        );

        // A new ceremony for the same challenge, and the passkey completes the login.
        let options = begin_login().await?;
        let assertion = ceremony_in_page(&session, "get", &options).await?;
        let done = complete_with_passkey(&app, &challenge, &assertion).await;
        let done = &done["data"]["completeMfaLogin"];
        let token = done["accessToken"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("{done}"))?;
        let claims = jwt_claims(token);
        anyhow::ensure!(claims["amr"] == json!(["pwd", "hwk"]), "{claims}");
        anyhow::ensure!(claims["acr"] == ACR_MFA, "{claims}");
        let context = app
            .gql(Some(token), operation("TenantContextAmr"), json!({}))
            .await;
        anyhow::ensure!(
            context["data"]["tenantContext"]["amr"] == json!(["pwd", "hwk"]),
            "{context}"
        );
        anyhow::ensure!(audit_count(&app, "mfa.used", "passkey").await == 1);
        // The challenge is spent with its login.
        let again = complete_with_passkey(&app, &challenge, &assertion).await;
        anyhow::ensure!(
            again["errors"][0]["extensions"]["reason"] == "mfa_challenge_invalid",
            "{again}"
        );

        // beta requires everyone to enrol: its owner's login is an enrolment challenge, which a
        // passkey completes (registered by completeMfaLogin, with the recovery codes).
        let set = app
            .gql(
                Some(&beta.token),
                operation("SetMfaPolicy"),
                json!({ "p": "EVERYONE" }),
            )
            .await;
        anyhow::ensure!(set["data"]["setMfaPolicy"] == "EVERYONE", "{set}");
        let login = api_login(&app, &beta).await;
        anyhow::ensure!(
            login["mfaChallenge"]["enrolmentRequired"] == true,
            "{login}"
        );
        let challenge = login["mfaChallenge"]["challenge"]
            .as_str()
            .unwrap()
            .to_owned();
        // No passkey to check yet: beginPasskeyLogin refuses an enrolment challenge.
        let wrong = app
            .gql(
                None,
                operation("BeginPasskeyLogin"),
                json!({ "challenge": challenge }),
            )
            .await;
        anyhow::ensure!(common::error_code(&wrong) == "UNAUTHENTICATED", "{wrong}");
        let begin_enrolment = async || -> anyhow::Result<Value> {
            let body = app
                .gql(
                    None,
                    operation("BeginPasskeyEnrolment"),
                    json!({ "challenge": challenge, "label": "Security key" }),
                )
                .await;
            let payload = body["data"]["beginPasskeyRegistration"].clone();
            anyhow::ensure!(payload.is_object(), "{body}");
            Ok(payload)
        };
        let beta_factors = async || {
            count(
                &app,
                &format!(
                    "SELECT count(*) FROM mfa_factors WHERE tenant_id = '{}'",
                    beta.uuid
                ),
            )
            .await
        };
        // A credential that is not one: refused, nothing enrolled, no session.
        let payload = begin_enrolment().await?;
        anyhow::ensure!(payload["ceremony"] == challenge.as_str(), "{payload}");
        let sessions = open_sessions(&app).await;
        let refused = complete_with_passkey(&app, &challenge, "{\"id\":\"x\"}").await;
        anyhow::ensure!(
            refused["errors"][0]["extensions"]["reason"] == "passkey_invalid",
            "{refused}"
        );
        anyhow::ensure!(beta_factors().await == 0);
        anyhow::ensure!(open_sessions(&app).await == sessions);

        let payload = begin_enrolment().await?;
        let credential =
            ceremony_in_page(&session, "create", payload["options"].as_str().unwrap()).await?;
        let done = complete_with_passkey(&app, &challenge, &credential).await;
        let done = &done["data"]["completeMfaLogin"];
        let token = done["accessToken"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("{done}"))?;
        anyhow::ensure!(
            done["recoveryCodes"].as_array().map(Vec::len) == Some(10),
            "{done}"
        );
        anyhow::ensure!(jwt_claims(token)["amr"] == json!(["pwd", "hwk"]));
        anyhow::ensure!(beta_factors().await == 1);
        let labels = app
            .superuser()
            .await
            .query_one(
                "SELECT f.label FROM mfa_factors f JOIN mfa_passkeys p ON p.factor_id = f.id
                 WHERE f.tenant_id = $1",
                &[&beta.uuid],
            )
            .await?;
        anyhow::ensure!(labels.get::<_, String>(0) == "Security key");

        // The next login of beta's owner asks for that passkey.
        let login = api_login(&app, &beta).await;
        anyhow::ensure!(
            login["mfaChallenge"]["enrolmentRequired"] == false,
            "{login}"
        );
        anyhow::Ok(())
    }
    .await;
    let _ = session.quit().await;
    if let Err(e) = outcome {
        panic!("{e:#}{}", driver.log_tail());
    }
}

/// An OpenID sign-in of a user the tenant requires to enrol: the hosted step's "Set up a
/// passkey instead" registers one, the recovery codes page says so, and the product's ID and
/// access tokens say `pwd hwk`, two factors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_set_up_on_the_hosted_step_of_an_openid_sign_in_shows_in_the_id_token() {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    require_browser();
    let (app, base) = spawn_on_localhost().await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let t = app.signup("acme").await;
    let granted = app
        .gql(Some(&t.token), operation("GrantCrmFull"), json!({}))
        .await;
    assert!(granted["data"]["setProductAccess"].is_object(), "{granted}");
    let set = app
        .gql(
            Some(&t.token),
            operation("SetMfaPolicy"),
            json!({ "p": "EVERYONE" }),
        )
        .await;
    assert_eq!(set["data"]["setMfaPolicy"], "EVERYONE", "{set}");
    // The product's callback: a page of the hub that does not exist (the code is in its URL).
    let redirect = format!("{base}/product-callback");
    let body = app
        .gql(
            Some(&admin),
            operation("CreateOauthClient"),
            json!({ "i": { "productId": "crm", "public": true, "redirectUris": [redirect] } }),
        )
        .await;
    let client_id = body["data"]["createOauthClient"]["client"]["clientId"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let verifier = "a-verifier-of-enough-length-for-pkce-0123456789-passkey";
    let pkce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
    let authorize = reqwest::Url::parse_with_params(
        &format!("{base}/oauth/authorize"),
        &[
            ("client_id", client_id.as_str()),
            ("redirect_uri", &redirect),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &pkce),
            ("code_challenge_method", "S256"),
            ("state", "st"),
        ],
    )
    .unwrap();
    let driver = ChromeDriver::start();
    let session = driver
        .new_session()
        .await
        .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e:#}{}", driver.log_tail()));
    let outcome = async {
        session.add_virtual_authenticator().await?;
        session.goto(authorize.as_str()).await?;
        session
            .wait_for_url("the login page", |u| u.contains("/login"))
            .await?;
        session
            .enter_email_and_password(&t.owner_email, PASSWORD)
            .await?;
        session
            .wait_for_url("the enrolment step", |u| u.contains("/login/mfa"))
            .await?;
        session
            .wait_for("the passkey button", VISIBLE, |v| v == &Value::Bool(true))
            .await?;
        session.click("button[data-passkey=create]").await?;
        session
            .wait_for(
                "the recovery codes",
                "return document.body.innerText",
                |v| {
                    v.as_str()
                        .is_some_and(|s| s.contains("Your passkey is set up"))
                },
            )
            .await?;
        anyhow::ensure!(passkeys_of(&app).await == 1);
        anyhow::ensure!(audit_count(&app, "mfa.enrolled", "passkey").await == 1);
        session.click("a.button").await?;
        session
            .wait_for_url("the product's callback", |u| u.starts_with(&redirect))
            .await?;
        let url = reqwest::Url::parse(&session.url().await?)?;
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        anyhow::ensure!(
            query.get("state").map(String::as_str) == Some("st"),
            "{url}"
        );
        let code = query
            .get("code")
            .ok_or_else(|| anyhow::anyhow!("no code in {url}"))?;
        let tokens: Value = app
            .client
            .post(format!("{}/oauth/token", app.address))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect),
                ("code_verifier", verifier),
                ("client_id", &client_id),
            ])
            .send()
            .await?
            .json()
            .await?;
        let id = jwt_claims(
            tokens["id_token"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("{tokens}"))?,
        );
        anyhow::ensure!(id["amr"] == json!(["pwd", "hwk"]), "{id}");
        anyhow::ensure!(id["acr"] == ACR_MFA, "{id}");
        let access = jwt_claims(tokens["access_token"].as_str().unwrap());
        anyhow::ensure!(access["amr"] == id["amr"], "{access}");
        anyhow::Ok(())
    }
    .await;
    let _ = session.quit().await;
    if let Err(e) = outcome {
        panic!("{e:#}{}", driver.log_tail());
    }
}

/// The login page offers "Sign in with a passkey" only when it knows the tenant (a passkey
/// signs in to one tenant): not for an unknown or a missing one.
#[tokio::test]
async fn the_passkey_button_is_offered_only_when_the_page_knows_its_tenant() {
    let (app, _) = spawn_on_localhost().await;
    let t = app.signup("acme").await;
    let page = |query: String| {
        let app = &app;
        async move {
            let res = app
                .client
                .get(format!("{}/login{query}", app.address))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    let known = page(format!("?tenant={}", t.uuid)).await;
    assert!(known.contains(r#"id="passkey-sign-in""#), "{known}");
    assert!(known.contains(&format!(r#"name="tenant" value="{}""#, t.uuid)));
    let by_domain = page(format!("?tenant={}", t.domain)).await;
    assert!(by_domain.contains(r#"id="passkey-sign-in""#), "{by_domain}");
    for query in ["".to_owned(), "?tenant=nobody.example.org".to_owned()] {
        let unknown = page(query.clone()).await;
        assert!(
            !unknown.contains("passkey-sign-in"),
            "no tenant known for {query:?}: {unknown}"
        );
    }
}

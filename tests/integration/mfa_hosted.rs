//! The hosted second-factor step over HTTP: a password that owes a second factor leaves a
//! pending sign-in (a cookie of this browser only) and `/login/mfa` asks for the code; a user
//! the tenant requires to enrol sets up an authenticator there and sees the recovery codes
//! once; wrong codes sign nothing in and are audited; `acr_values` on `/oauth/authorize` sends a
//! signed-in browser without a fresh second factor through the same step (step-up).

use crate::common::{self, PASSWORD, count, pages::PageClient};
use crate::mfa::{code, safe_step};

fn secret_of(html: &str) -> String {
    let at = html.find(r#"id="secret">"#).expect("the key as text") + r#"id="secret">"#.len();
    html[at..at + html[at..].find('<').unwrap()].to_owned()
}

fn recovery_codes_of(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_owned())
        .collect()
}

async fn require_mfa(app: &common::TestApp, tenant: uuid::Uuid) {
    app.superuser()
        .await
        .execute(
            "INSERT INTO mfa_policies (tenant_id, require_mfa) VALUES ($1, 'everyone')",
            &[&tenant],
        )
        .await
        .unwrap();
}

async fn browser_sessions(app: &common::TestApp) -> i64 {
    count(
        app,
        "SELECT count(*) FROM sessions WHERE browser_token_hash IS NOT NULL AND revoked_at IS NULL",
    )
    .await
}

#[tokio::test]
async fn a_user_the_tenant_requires_to_enrol_sets_up_an_authenticator_on_the_hosted_pages_and_signs_in_with_it()
 {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    require_mfa(&app, t.uuid).await;
    let browser = PageClient::new(&app.address);

    // The password alone signs nothing in: on to /login/mfa with a pending sign-in cookie.
    let after_password = browser
        .sign_in(&t.domain, &t.owner_email, PASSWORD, "/")
        .await;
    assert_eq!(after_password.status, 303, "{}", after_password.html);
    assert_eq!(after_password.location(), Some("/login/mfa?return_to=%2F"));
    assert!(after_password.set_cookie("__Host-hub_session").is_none());
    let pending = after_password
        .set_cookie("__Host-hub_mfa")
        .expect("a pending sign-in cookie");
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age="] {
        assert!(pending.contains(attribute), "{pending}");
    }
    assert_eq!(browser_sessions(&app).await, 0);

    // The enrolment page: a QR code as inline SVG, the key as text, a field for the first code.
    let enrol = browser.get("/login/mfa?return_to=%2F").await;
    assert_eq!(enrol.status, 200, "{}", enrol.html);
    assert!(enrol.html.contains("<svg"), "{}", enrol.html);
    // No inline script: only the hub's own /assets/passkeys.js.
    assert!(!enrol.html.contains("<script>"), "{}", enrol.html);
    assert!(
        enrol.html.contains(r#"autocomplete="one-time-code""#),
        "{}",
        enrol.html
    );
    assert!(
        enrol.html.contains(r#"<label for="code">"#),
        "{}",
        enrol.html
    );
    let secret = secret_of(&enrol.html);
    // Reloading shows the same key (one enrolment in progress, not a new one each time).
    let again = browser.get("/login/mfa?return_to=%2F").await;
    assert_eq!(secret_of(&again.html), secret);

    // A wrong first code: the page again with an error, nothing signed in, the failure audited.
    let step = safe_step().await;
    let wrong = format!(
        "{:06}",
        (code(&secret, step).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let refused = browser
        .post(
            "/login/mfa",
            &[
                ("csrf", &enrol.csrf()),
                ("return_to", "/"),
                ("code", &wrong),
            ],
        )
        .await;
    assert_eq!(refused.status, 401, "{}", refused.html);
    assert!(refused.html.contains("wrong"), "{}", refused.html);
    assert_eq!(secret_of(&refused.html), secret);
    assert!(refused.set_cookie("__Host-hub_session").is_none());
    assert_eq!(browser_sessions(&app).await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'mfa.failed' \
             AND details->>'during' = 'enrolment'"
        )
        .await,
        1
    );

    // The right code: signed in with pwd + otp, and the ten recovery codes shown once.
    let done = browser
        .post(
            "/login/mfa",
            &[
                ("csrf", &enrol.csrf()),
                ("return_to", "/"),
                ("code", &code(&secret, step)),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(done.set_cookie("__Host-hub_session").is_some());
    let codes = recovery_codes_of(&done.html);
    assert_eq!(codes.len(), 10, "{}", done.html);
    assert!(done.html.contains(r#"href="/""#), "{}", done.html);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM sessions WHERE browser_token_hash IS NOT NULL \
             AND revoked_at IS NULL AND amr = 'pwd otp'"
        )
        .await,
        1
    );
    // The pending sign-in is spent: the cookie is removed and its token cannot be used again.
    assert!(browser.cookie("__Host-hub_mfa").is_none());
    let home = browser.get("/").await;
    assert_eq!(home.status, 200, "{}", home.html);
    assert!(home.html.contains("You are signed in"), "{}", home.html);

    // The next sign-in asks for a code of the enrolled authenticator (no new enrolment).
    let next = PageClient::new(&app.address);
    let after_password = next.sign_in(&t.domain, &t.owner_email, PASSWORD, "/").await;
    assert_eq!(after_password.status, 303, "{}", after_password.html);
    let verify = next.get("/login/mfa?return_to=%2F").await;
    assert_eq!(verify.status, 200, "{}", verify.html);
    assert!(!verify.html.contains("<svg"), "{}", verify.html);
    assert!(
        verify.html.contains(r#"<label for="recovery_code">"#),
        "{}",
        verify.html
    );
    // The code just used is refused (replay), a recovery code works once.
    let replayed = next
        .post(
            "/login/mfa",
            &[
                ("csrf", &verify.csrf()),
                ("return_to", "/"),
                ("code", &code(&secret, step)),
            ],
        )
        .await;
    assert_eq!(replayed.status, 401, "{}", replayed.html);
    let recovered = next
        .post(
            "/login/mfa",
            &[
                ("csrf", &verify.csrf()),
                ("return_to", "/"),
                ("recovery_code", &codes[0]),
            ],
        )
        .await;
    assert_eq!(recovered.status, 303, "{}", recovered.html);
    assert_eq!(recovered.location(), Some("/"));
    assert!(recovered.set_cookie("__Host-hub_session").is_some());

    let third = PageClient::new(&app.address);
    third
        .sign_in(&t.domain, &t.owner_email, PASSWORD, "/")
        .await;
    let verify = third.get("/login/mfa?return_to=%2F").await;
    let reused = third
        .post(
            "/login/mfa",
            &[
                ("csrf", &verify.csrf()),
                ("return_to", "/"),
                ("recovery_code", &codes[0]),
            ],
        )
        .await;
    assert_eq!(
        reused.status, 401,
        "a recovery code works once: {}",
        reused.html
    );
    assert!(reused.set_cookie("__Host-hub_session").is_none());
}

#[tokio::test]
async fn the_second_factor_step_refuses_a_browser_without_the_pending_sign_in_and_a_spent_one() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    require_mfa(&app, t.uuid).await;
    let browser = PageClient::new(&app.address);
    browser
        .sign_in(&t.domain, &t.owner_email, PASSWORD, "/")
        .await;
    let page = browser.get("/login/mfa?return_to=%2F").await;
    let csrf = page.csrf();

    // Another browser (the same CSRF cookie, no pending sign-in) gets nowhere.
    let other = PageClient::new(&app.address);
    other.set_cookie(
        "__Host-hub_csrf",
        &browser.cookie("__Host-hub_csrf").unwrap(),
    );
    let refused = other
        .post(
            "/login/mfa",
            &[("csrf", &csrf), ("return_to", "/"), ("code", "123456")],
        )
        .await;
    assert_eq!(refused.status, 401, "{}", refused.html);
    assert!(refused.html.contains("Sign in again"), "{}", refused.html);
    let shown = other.get("/login/mfa?return_to=%2F").await;
    assert_eq!(shown.status, 303);
    assert!(shown.location().unwrap().starts_with("/login?"));

    // Five wrong codes spend the pending sign-in.
    for _ in 0..5 {
        browser
            .post(
                "/login/mfa",
                &[("csrf", &csrf), ("return_to", "/"), ("code", "000000")],
            )
            .await;
    }
    let spent = browser
        .post(
            "/login/mfa",
            &[("csrf", &csrf), ("return_to", "/"), ("code", "000000")],
        )
        .await;
    assert_eq!(spent.status, 401, "{}", spent.html);
    assert!(spent.html.contains("Sign in again"), "{}", spent.html);
    assert_eq!(browser_sessions(&app).await, 0);

    // A form without the CSRF token is refused.
    let forged = browser
        .post("/login/mfa", &[("return_to", "/"), ("code", "000000")])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.html);
}

const REDIRECT: &str = "https://crm.example.com/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-step-up";

pub(crate) fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn acr_values_send_a_browser_signed_in_with_a_password_through_a_fresh_second_factor() {
    use base64::Engine;
    use serde_json::json;
    use sha2::{Digest, Sha256};
    let app = common::spawn_app().await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let t = app.signup("acme").await;
    let body = app
        .gql(Some(&t.token), common::operation("GrantCrmFull"), json!({}))
        .await;
    assert!(body["data"]["setProductAccess"].is_object(), "{body}");
    let body = app
        .gql(
            Some(&admin),
            common::operation("CreateOauthClient"),
            json!({ "i": { "productId": "crm", "public": true, "redirectUris": [REDIRECT] } }),
        )
        .await;
    let client_id = body["data"]["createOauthClient"]["client"]["clientId"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(VERIFIER.as_bytes()));
    let authorize = |extra: &[(&str, &str)]| {
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "st"),
        ];
        params.extend_from_slice(extra);
        let url = reqwest::Url::parse_with_params("http://hub/oauth/authorize", &params).unwrap();
        format!("/oauth/authorize?{}", url.query().unwrap())
    };
    let query_of = |location: &str| -> std::collections::HashMap<String, String> {
        reqwest::Url::parse(location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    };
    // The claims of the ID token and of the access token the code is exchanged for: both say
    // how the session was signed in (a product's API sees it in the access token alone).
    let id_token_of = async |code: &str| -> serde_json::Value {
        let res = app
            .client
            .post(format!("{}/oauth/token", app.address))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &client_id),
            ])
            .send()
            .await
            .unwrap();
        let tokens: serde_json::Value = res.json().await.unwrap();
        let id = jwt_claims(
            tokens["id_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{tokens}")),
        );
        let access = jwt_claims(tokens["access_token"].as_str().unwrap());
        assert_eq!(access["acr"], id["acr"], "access token {access}");
        assert_eq!(access["amr"], id["amr"], "access token {access}");
        // So does the access token of a refresh.
        let refreshed: serde_json::Value = app
            .client
            .post(format!("{}/oauth/token", app.address))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("client_id", &client_id),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = jwt_claims(
            refreshed["access_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{refreshed}")),
        );
        assert_eq!(access["acr"], id["acr"], "refreshed access token {access}");
        assert_eq!(access["amr"], id["amr"], "refreshed access token {access}");
        id
    };

    // A password sign-in (no factor, no policy): products get acr 1fa.
    let browser = PageClient::new(&app.address);
    let signed_in = browser
        .sign_in(&t.domain, &t.owner_email, PASSWORD, "/")
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.html);
    let plain = browser.get(&authorize(&[])).await;
    let id = id_token_of(&query_of(plain.location().unwrap())["code"]).await;
    assert_eq!(id["acr"], "urn:tenant-hub:acr:1fa", "{id}");
    assert_eq!(id["amr"], json!(["pwd"]), "{id}");

    // acr_values asking for two factors: with prompt=none the client hears so, else step-up.
    let acr = [("acr_values", "urn:tenant-hub:acr:2fa")];
    let silent = browser.get(&authorize(&[acr[0], ("prompt", "none")])).await;
    assert_eq!(
        query_of(silent.location().unwrap())["error"],
        "interaction_required"
    );
    let stepped = browser.get(&authorize(&acr)).await;
    assert_eq!(stepped.status, 302, "{}", stepped.html);
    let to = stepped.location().unwrap().to_owned();
    assert!(
        to.starts_with("/login/mfa?step_up=1&return_to=%2Foauth%2Fauthorize"),
        "{to}"
    );
    let return_to = query_of(&format!("http://hub{to}"))["return_to"].clone();
    // The user has no factor yet: the step enrols one.
    let enrol = browser.get(&to).await;
    assert_eq!(enrol.status, 200, "{}", enrol.html);
    // Reloading the step reuses this browser's live challenge: no row per page load.
    for _ in 0..2 {
        let again = browser.get(&to).await;
        assert_eq!(again.status, 200, "{}", again.html);
        assert_eq!(secret_of(&again.html), secret_of(&enrol.html));
    }
    assert_eq!(count(&app, "SELECT count(*) FROM mfa_challenges").await, 1);
    let secret = secret_of(&enrol.html);
    let done = browser
        .post(
            "/login/mfa",
            &[
                ("csrf", &enrol.csrf()),
                ("return_to", &return_to),
                ("code", &code(&secret, safe_step().await)),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert_eq!(recovery_codes_of(&done.html).len(), 10);
    // Back at authorize: a code now, whose ID token says two factors, just now.
    let back = browser.get(&return_to).await;
    assert_eq!(back.status, 302, "{}", back.html);
    let id = id_token_of(&query_of(back.location().unwrap())["code"]).await;
    assert_eq!(id["acr"], "urn:tenant-hub:acr:2fa", "{id}");
    assert_eq!(id["amr"], json!(["pwd", "otp"]), "{id}");
    // The password-only session was replaced, not kept beside the new one.
    assert_eq!(browser_sessions(&app).await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'mfa.challenge_issued'"
        )
        .await,
        1
    );

    // max_age=0: a fresh sign-in, the password and the second factor again (a recovery code
    // here: the authenticator's code of this step is spent), then a code, not another round
    // however long the sign-in took.
    let codes = recovery_codes_of(&done.html);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let aged = browser.get(&authorize(&[("max_age", "0")])).await;
    assert_eq!(aged.status, 302, "{}", aged.html);
    let login = aged.location().unwrap().to_owned();
    assert!(login.starts_with("/login?"), "{login}");
    let return_to = query_of(&format!("http://hub{login}"))["return_to"].clone();
    assert!(!return_to.contains("max_age"), "{return_to}");
    let after_password = browser
        .sign_in(&t.domain, &t.owner_email, PASSWORD, &return_to)
        .await;
    assert_eq!(after_password.status, 303, "{}", after_password.html);
    let step = after_password.location().unwrap().to_owned();
    assert!(
        step.starts_with("/login/mfa?"),
        "the second factor again: {step}"
    );
    let form = browser.get(&step).await;
    assert_eq!(form.status, 200, "{}", form.html);
    let proven = browser
        .post(
            "/login/mfa",
            &[
                ("csrf", &form.csrf()),
                ("return_to", &return_to),
                ("recovery_code", &codes[0]),
            ],
        )
        .await;
    assert_eq!(proven.status, 303, "{}", proven.html);
    // The way back may take longer than max_age (a page of recovery codes read first, say).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let back = browser.get(proven.location().unwrap()).await;
    assert_eq!(back.status, 302, "{}", back.html);
    let fresh = id_token_of(&query_of(back.location().unwrap())["code"]).await;
    assert_eq!(fresh["amr"], json!(["pwd", "otp"]), "{fresh}");
    assert_eq!(fresh["acr"], "urn:tenant-hub:acr:2fa", "{fresh}");
    assert!(
        fresh["auth_time"].as_i64() > id["auth_time"].as_i64(),
        "a new sign-in: {fresh} after {id}"
    );
}

/// The hosted step's check and the browser session are one transaction: when the session
/// cannot be opened, the code is not spent, the challenge stays open and nothing is enrolled;
/// the same code then works.
#[tokio::test]
async fn a_code_is_not_spent_when_the_browser_session_cannot_be_opened() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    require_mfa(&app, t.uuid).await;
    let browser = PageClient::new(&app.address);
    let after_password = browser
        .sign_in(&t.domain, &t.owner_email, PASSWORD, "/")
        .await;
    assert_eq!(after_password.status, 303, "{}", after_password.html);
    let enrol = browser.get("/login/mfa?return_to=%2F").await;
    let secret = secret_of(&enrol.html);
    let su = app.superuser().await;
    su.batch_execute(
        "CREATE FUNCTION test_refuse_sessions() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'no sessions today'; END $$;
         CREATE TRIGGER test_refuse_sessions BEFORE INSERT ON sessions
             FOR EACH ROW EXECUTE FUNCTION test_refuse_sessions();",
    )
    .await
    .unwrap();
    let code = code(&secret, safe_step().await);
    let failed = browser
        .post(
            "/login/mfa",
            &[("csrf", &enrol.csrf()), ("return_to", "/"), ("code", &code)],
        )
        .await;
    assert_eq!(failed.status, 500, "{}", failed.html);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM mfa_challenges WHERE used_at IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM mfa_factors WHERE confirmed_at IS NOT NULL OR last_used_step IS NOT NULL"
        )
        .await,
        0
    );
    su.batch_execute("DROP TRIGGER test_refuse_sessions ON sessions")
        .await
        .unwrap();
    let done = browser
        .post(
            "/login/mfa",
            &[("csrf", &enrol.csrf()), ("return_to", "/"), ("code", &code)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert_eq!(recovery_codes_of(&done.html).len(), 10);
    assert_eq!(browser_sessions(&app).await, 1);
}

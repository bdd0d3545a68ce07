//! The hosted sign-in pages through the real server: the headers and form attributes a sign-in
//! page needs, the browser session cookie and its row, CSRF on every form, no open redirect,
//! the same answer for every wrong credential, sign-out, the idle lifetime, and branding that
//! cannot inject into the page.

use crate::common::{self, PASSWORD, count, pages::PageClient};

use tenant_hub::web::page::CONTENT_SECURITY_POLICY;

#[tokio::test]
async fn the_login_page_is_safe_to_show_and_fit_for_password_managers() {
    let app = common::spawn_app().await;
    let browser = PageClient::new(&app.address);
    let page = browser.get("/login").await;
    assert_eq!(page.status, 200);
    let header = |name: &str| page.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-security-policy"), CONTENT_SECURITY_POLICY);
    assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("referrer-policy"), "no-referrer");
    let csrf = page.set_cookie("__Host-hub_csrf").expect("a CSRF cookie");
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(csrf.contains(attribute), "{csrf}");
    }
    assert!(!csrf.contains("Domain="), "{csrf}");
    assert!(
        page.html.contains(r#"<label for="email">"#),
        "{}",
        page.html
    );
    assert!(
        page.html.contains(r#"autocomplete="username""#),
        "{}",
        page.html
    );
    assert!(!page.html.contains("<script"), "no script: {}", page.html);
    assert!(
        !page.html.contains("style="),
        "no inline style: {}",
        page.html
    );

    let t = app.signup("acme").await;
    let step = browser
        .post(
            "/login/identify",
            &[
                ("csrf", &page.csrf()),
                ("tenant", ""),
                ("email", &t.owner_email),
            ],
        )
        .await;
    assert_eq!(step.status, 200);
    assert_eq!(
        step.field("tenant").as_deref(),
        Some(t.uuid.to_string().as_str())
    );
    assert!(
        step.html.contains(r#"autocomplete="current-password""#),
        "{}",
        step.html
    );
    assert!(
        step.html.contains(r#"<label for="password">"#),
        "{}",
        step.html
    );
    let css = app
        .client
        .get(format!("{}/assets/hub.css", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
}

#[tokio::test]
async fn a_browser_signs_in_once_and_is_remembered() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    let browser = PageClient::new(&app.address);

    let done = browser
        .sign_in("", &t.owner_email, PASSWORD, "/oauth/authorize?client_id=x")
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(done.location(), Some("/oauth/authorize?client_id=x"));
    let cookie = done
        .set_cookie("__Host-hub_session")
        .expect("a session cookie");
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
    assert!(
        !cookie.to_ascii_lowercase().contains("max-age"),
        "a browser-session cookie: {cookie}"
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM sessions WHERE tenant_id = '{}' AND browser_token_hash IS NOT NULL \
                 AND amr = 'pwd' AND revoked_at IS NULL",
                t.uuid
            )
        )
        .await,
        1
    );
    // The cookie's value is not stored, only its hash.
    let value = browser.cookie("__Host-hub_session").unwrap();
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM sessions WHERE encode(browser_token_hash, 'escape') LIKE '%{}%'", &value[33..])
        )
        .await,
        0
    );

    // Signed in: the login page offers to continue, the home page greets.
    let again = browser.get("/login?return_to=%2Fnext").await;
    assert_eq!(again.status, 200);
    assert!(
        again.html.contains("You are signed in as"),
        "{}",
        again.html
    );
    assert!(again.html.contains(r#"href="/next""#), "{}", again.html);
    assert!(again.html.contains(&t.owner_email));
    let home = browser.get("/").await;
    assert!(home.html.contains("You are signed in as"), "{}", home.html);

    // A forced login (prompt=login) asks again.
    let forced = browser.get("/login?force=1").await;
    assert!(forced.html.contains(r#"name="email""#), "{}", forced.html);
    assert!(!forced.html.contains("You are signed in as"));

    // The sign-in is in the tenant's audit log, with the address.
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM audit_log WHERE tenant_id = '{}' AND action = 'auth.login' \
                 AND ip IS NOT NULL AND details->>'amr' = 'pwd' AND target_id IN \
                 (SELECT id::text FROM sessions WHERE browser_token_hash IS NOT NULL)",
                t.uuid
            )
        )
        .await,
        1,
        "the browser sign-in is recorded"
    );

    // Signing in again in the same browser replaces the first session.
    let second = browser
        .sign_in(&t.domain, &t.owner_email, PASSWORD, "/")
        .await;
    assert_eq!(second.status, 303);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM sessions WHERE tenant_id = '{}' AND browser_token_hash IS NOT NULL \
                 AND revoked_at IS NULL",
                t.uuid
            )
        )
        .await,
        1
    );
}

#[tokio::test]
async fn forms_without_their_csrf_token_or_from_another_site_change_nothing() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    let browser = PageClient::new(&app.address);
    let page = browser.get("/login").await;
    let token = page.csrf();
    let sessions = || {
        count(
            &app,
            "SELECT count(*) FROM sessions WHERE browser_token_hash IS NOT NULL",
        )
    };
    let form = |csrf: &'static str| {
        vec![
            ("csrf", csrf),
            ("tenant", "acme.example.com"),
            ("email", "owner@acme.example.com"),
            ("password", PASSWORD),
        ]
    };
    let missing = browser.post("/login/password", &form("")[1..]).await;
    assert_eq!(missing.status, 403, "{}", missing.html);
    assert!(missing.html.contains("Form refused"));
    let wrong = browser
        .post(
            "/login/password",
            &form("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
    assert_eq!(wrong.status, 403);
    // The right token, from another site.
    let mut fields = form("");
    fields[0].1 = &token;
    let foreign = browser
        .post_with(
            "/login/password",
            &fields,
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(foreign.status, 403);
    // Without the cookie (another browser), the field alone is worth nothing.
    let stranger = PageClient::new(&app.address);
    let alone = stranger.post("/login/password", &fields).await;
    assert_eq!(alone.status, 403);
    assert_eq!(sessions().await, 0, "no session opened");
    for path in ["/logout", "/login/switch", "/login/identify"] {
        let res = browser.post(path, &[("email", "x@y.z")]).await;
        assert_eq!(res.status, 403, "{path}");
    }
    // And with it, it works.
    let ok = browser.post("/login/password", &fields).await;
    assert_eq!(ok.status, 303, "{}", ok.html);
    assert_eq!(sessions().await, 1);
    let _ = t;
}

#[tokio::test]
async fn a_sign_in_never_sends_the_browser_off_the_hub() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    for target in [
        "https://evil.example/steal",
        "//evil.example/steal",
        "/\\evil.example",
        "http:evil.example",
        "javascript:alert(1)",
    ] {
        let browser = PageClient::new(&app.address);
        let done = browser
            .sign_in(&t.domain, &t.owner_email, PASSWORD, target)
            .await;
        assert_eq!(done.status, 303, "{target}");
        assert_eq!(done.location(), Some("/"), "{target}");
    }
    // The login page itself never echoes a foreign return_to into its form.
    let browser = PageClient::new(&app.address);
    let page = browser
        .get("/login?return_to=https%3A%2F%2Fevil.example")
        .await;
    assert_eq!(page.field("return_to").as_deref(), Some("/"));
}

#[tokio::test]
async fn a_wrong_password_gets_the_same_message_as_an_unknown_account_and_is_recorded() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    let browser = PageClient::new(&app.address);
    let wrong = browser
        .sign_in(&t.domain, &t.owner_email, "not the password", "/")
        .await;
    let unknown = browser
        .sign_in(&t.domain, "nobody@acme.example.com", PASSWORD, "/")
        .await;
    for page in [&wrong, &unknown] {
        assert_eq!(page.status, 401, "{}", page.html);
        assert!(
            page.html.contains("Wrong tenant, email or password."),
            "{}",
            page.html
        );
        assert!(page.set_cookie("__Host-hub_session").is_none());
    }
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM audit_log WHERE tenant_id = '{}' AND action = 'auth.login_failed'",
                t.uuid
            )
        )
        .await,
        2
    );
    // An organisation nobody has: asked again, nothing else said.
    let page = browser.get("/login").await;
    let step = browser
        .post(
            "/login/identify",
            &[
                ("csrf", &page.csrf()),
                ("tenant", ""),
                ("email", "someone@unknown.example"),
            ],
        )
        .await;
    assert_eq!(step.status, 200);
    assert!(
        step.html.contains("We could not tell which organisation"),
        "{}",
        step.html
    );
    assert!(step.html.contains(r#"name="tenant""#));
}

#[tokio::test]
async fn signing_out_ends_the_session_and_an_idle_session_is_not_honoured() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    let browser = PageClient::new(&app.address);
    assert_eq!(
        browser
            .sign_in(&t.domain, &t.owner_email, PASSWORD, "/")
            .await
            .status,
        303
    );
    let home = browser.get("/").await;
    let out = browser.post("/logout", &[("csrf", &home.csrf())]).await;
    assert_eq!(out.status, 200, "{}", out.html);
    assert!(out.html.contains("You are signed out"));
    let removal = out
        .set_cookie("__Host-hub_session")
        .expect("the cookie is removed");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM sessions WHERE browser_token_hash IS NOT NULL AND revoked_at IS NULL"
        )
        .await,
        0
    );
    assert_eq!(browser.get("/").await.location(), Some("/login"));

    // Idle: a session unused for longer than HUB_BROWSER_SESSION_IDLE_SECS is not honoured, even
    // with its cookie.
    assert_eq!(
        browser
            .sign_in(&t.domain, &t.owner_email, PASSWORD, "/")
            .await
            .status,
        303
    );
    assert!(browser.get("/").await.html.contains("You are signed in as"));
    app.superuser()
        .await
        .execute(
            "UPDATE sessions SET last_seen_at = now() - interval '9 hours' WHERE browser_token_hash IS NOT NULL",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(browser.get("/").await.location(), Some("/login"));
    // A deactivated user's browser session ends with them.
    assert_eq!(
        browser
            .sign_in(&t.domain, &t.owner_email, PASSWORD, "/")
            .await
            .status,
        303
    );
    app.superuser()
        .await
        .execute(
            "UPDATE users SET status = 'deactivated' WHERE email = $1",
            &[&t.owner_email],
        )
        .await
        .unwrap();
    assert_eq!(browser.get("/").await.location(), Some("/login"));
}

#[tokio::test]
async fn branding_from_the_configuration_cannot_inject_into_the_page() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    // Written past the API's validation, as a careless migration or operator might.
    app.superuser()
        .await
        .execute(
            r##"UPDATE tenants SET name = '<script>alert(1)</script> Acme',
                branding = '{"logo": "javascript:alert(1)", "colors": {"primary": "red;} body{display:none", "ok": "#123456"}}'
                WHERE id = $1"##,
            &[&t.uuid],
        )
        .await
        .unwrap();
    let browser = PageClient::new(&app.address);
    let page = browser.get(&format!("/login?tenant={}", t.uuid)).await;
    assert_eq!(page.status, 200);
    assert!(!page.html.contains("<script>alert"), "{}", page.html);
    assert!(
        page.html
            .contains("&#60;script&#62;alert(1)&#60;/script&#62; Acme"),
        "the name is shown, escaped: {}",
        page.html
    );
    assert!(!page.html.contains("javascript:"), "{}", page.html);
    let sheet = format!("/branding/{}.css", t.uuid);
    assert!(page.html.contains(&sheet), "{}", page.html);
    let css = app
        .client
        .get(format!("{}{sheet}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(css.contains("--hub-color-ok: #123456;"), "{css}");
    assert!(!css.contains("display"), "{css}");

    // A valid logo is shown, with the tenant's name as its text.
    app.superuser()
        .await
        .execute(
            r#"UPDATE tenants SET name = 'Acme', branding = '{"logo": "https://cdn.example.com/acme.svg"}' WHERE id = $1"#,
            &[&t.uuid],
        )
        .await
        .unwrap();
    let page = browser.get(&format!("/login?tenant={}", t.uuid)).await;
    assert!(
        page.html
            .contains(r#"<img class="logo" src="https://cdn.example.com/acme.svg" alt="Acme">"#),
        "{}",
        page.html
    );
}

/// In a real browser: Chromium keeps the `__Host-` cookies of the hub on http://127.0.0.1 (a
/// secure context), so the sign-in and the "signed in as" page work as they will over https.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_chromium() {
    use crate::common::browser::{ChromeDriver, require_browser};
    require_browser();
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    let driver = ChromeDriver::start();
    let session = driver
        .new_session()
        .await
        .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e:#}{}", driver.log_tail()));
    let outcome = async {
        session
            .goto(&format!("{}/login?return_to=%2F", app.address))
            .await?;
        session
            .enter_email_and_password(&t.owner_email, PASSWORD)
            .await?;
        session
            .wait_for_url("the signed-in home", |u| u == format!("{}/", app.address))
            .await?;
        let text = session.text().await?;
        anyhow::ensure!(text.contains("You are signed in as"), "{text}");
        // The cookie survives a new page load: single sign-on for the next product.
        session.goto(&format!("{}/login", app.address)).await?;
        let text = session.text().await?;
        anyhow::ensure!(text.contains("You are signed in as"), "{text}");
        anyhow::Ok(())
    }
    .await;
    let _ = session.quit().await;
    if let Err(e) = outcome {
        panic!("{e:#}{}", driver.log_tail());
    }
}

/// A user who owes a second factor is not signed in by the hosted page on the password alone
/// (the page has no second-factor step yet): a clear page, no browser session.
#[tokio::test]
async fn the_hosted_login_never_skips_a_required_second_factor() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    app.superuser()
        .await
        .execute(
            "INSERT INTO mfa_policies (tenant_id, require_mfa) VALUES ($1, 'everyone')",
            &[&t.uuid],
        )
        .await
        .unwrap();
    let browser = PageClient::new(&app.address);
    let page = browser
        .sign_in(&t.domain, &t.owner_email, PASSWORD, "/")
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    assert!(
        page.location().unwrap().starts_with("/login/mfa?"),
        "on to the second-factor step: {:?}",
        page.location()
    );
    assert!(page.set_cookie("__Host-hub_mfa").is_some());
    assert!(page.set_cookie("__Host-hub_session").is_none());
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM sessions WHERE browser_token_hash IS NOT NULL"
        )
        .await,
        0
    );
}

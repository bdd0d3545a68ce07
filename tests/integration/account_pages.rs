//! The account pages the mails link to (`/invitation`, `/forgot-password`, `/password-reset`,
//! `/verify-email`, `/report-email-change`): headless Chromium follows the link of the mail the
//! real SMTP server (aiosmtpd) received and completes the flow; the refusals (used, expired and
//! replaced links, forms without their CSRF token, a GET that must not use the token, the same
//! answer for unknown accounts) go over plain HTTP with the links' tokens read from the outbox.

use std::time::Duration;

use serde_json::json;

use crate::common::{
    self, PASSWORD, TestApp,
    browser::{ChromeDriver, Session, require_browser},
    count, error_code, operation,
    pages::{Page, PageClient},
    smtp::{SmtpSink, app_with_smtp, link_of, to},
};

const NEW_PASSWORD: &str = "a completely new horse battery";

/// Runs `steps` in a fresh headless Chromium; a failure panics with chromedriver's log.
async fn in_chromium(steps: impl AsyncFnOnce(&Session<'_>) -> anyhow::Result<()>) {
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

/// Waits until the page's text contains `wanted`; returns the text.
async fn wait_for_text(session: &Session<'_>, wanted: &str) -> anyhow::Result<String> {
    let found = session
        .wait_for(
            &format!("a page saying {wanted:?}"),
            "return document.body ? document.body.innerText : ''",
            |v| v.as_str().is_some_and(|t| t.contains(wanted)),
        )
        .await?;
    Ok(found.as_str().unwrap_or_default().to_owned())
}

/// The one-time token of the newest pending mail of `kind` to `recipient` (without SMTP the
/// outbox keeps it until the mail is sent).
async fn outbox_token(app: &TestApp, recipient: &str, kind: &str) -> String {
    app.superuser()
        .await
        .query_one(
            "SELECT link_secret FROM mail_outbox WHERE recipient = $1 AND kind = $2 \
             AND link_secret IS NOT NULL ORDER BY created_at DESC LIMIT 1",
            &[&recipient, &kind],
        )
        .await
        .unwrap_or_else(|e| panic!("no pending {kind} mail to {recipient}: {e}"))
        .get(0)
}

fn q(token: &str) -> String {
    url::form_urlencoded::byte_serialize(token.as_bytes()).collect()
}

/// Invites `email` into the tenant of `owner_token`; returns the user's id.
async fn invite(app: &TestApp, owner_token: &str, email: &str) -> String {
    let body = app
        .gql(
            Some(owner_token),
            operation("InviteUser"),
            json!({ "i": { "email": email, "displayName": "Ivy" } }),
        )
        .await;
    body["data"]["inviteUser"]["user"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("inviteUser failed: {body}"))
        .to_owned()
}

async fn user_status(app: &TestApp, email: &str) -> String {
    app.superuser()
        .await
        .query_one("SELECT status FROM users WHERE email = $1", &[&email])
        .await
        .unwrap()
        .get(0)
}

fn assert_link_gone(page: &Page, token: &str) {
    assert_eq!(page.status, 410, "{}", page.html);
    assert!(
        page.html.contains("This link no longer works"),
        "{}",
        page.html
    );
    assert!(!page.html.contains(token), "the token is not shown again");
    assert!(page.set_cookie("__Host-hub_session").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitee_follows_the_mailed_link_in_chromium_sets_a_password_and_is_signed_in() {
    let mut sink = SmtpSink::new();
    sink.start().await;
    let app = app_with_smtp(sink.url(), |_| {}).await;
    let t = app.signup("joinco").await;
    let invitee = "ivy@joinco.example.com";
    invite(&app, &t.token, invitee).await;
    let messages = sink.wait_for(2).await;
    let mail = to(&messages, invitee)[0];
    let link = link_of(mail["html"].as_str().unwrap(), "/invitation");
    assert!(
        link.starts_with(&format!("{}/invitation?token=", app.address)),
        "{link}"
    );

    in_chromium(async |s| {
        s.goto(&link).await?;
        let text = wait_for_text(s, "Join joinco").await?;
        anyhow::ensure!(text.contains("You are invited to join joinco"), "{text}");
        let email = s
            .script("return document.querySelector('#email').value")
            .await?;
        anyhow::ensure!(email == invitee, "the invited email is shown: {email}");
        // A weak password: the form again, with the rule that it breaks.
        s.fill("#password", "short").await?;
        s.fill("#password_again", "short").await?;
        s.click("button[type=submit]").await?;
        wait_for_text(s, "The password must have at least").await?;
        let at = s.url().await?;
        anyhow::ensure!(
            at == format!("{}/invitation", app.address),
            "the token is not in the address after the form: {at}"
        );
        s.fill("#password", NEW_PASSWORD).await?;
        s.fill("#password_again", NEW_PASSWORD).await?;
        s.click("button[type=submit]").await?;
        s.wait_for_url("the signed-in home", |u| u == format!("{}/", app.address))
            .await?;
        let text = wait_for_text(s, "You are signed in as").await?;
        anyhow::ensure!(text.contains("Ivy") && text.contains(invitee), "{text}");
        // The link is spent.
        s.goto(&link).await?;
        wait_for_text(s, "This link no longer works").await?;
        anyhow::Ok(())
    })
    .await;

    assert_eq!(user_status(&app, invitee).await, "active");
    app.login(&t.domain, invitee, NEW_PASSWORD).await;
    let invitee_rows = async |sql: &str| {
        let sql = sql.replace(
            "$USER",
            &format!("(SELECT id FROM users WHERE email = '{invitee}')"),
        );
        count(&app, &sql).await
    };
    assert_eq!(
        invitee_rows(
            "SELECT count(*) FROM audit_log WHERE action = 'user.invitation_accepted' \
             AND target_id = $USER::text"
        )
        .await,
        1,
        "the acceptance is audited"
    );
    assert_eq!(
        invitee_rows(
            "SELECT count(*) FROM sessions WHERE user_id = $USER AND amr = 'pwd' \
             AND browser_token_hash IS NOT NULL"
        )
        .await,
        1,
        "the browser was signed in with the password"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_in_chromium_through_the_mailed_link_and_only_the_new_one_works()
 {
    let mut sink = SmtpSink::new();
    sink.start().await;
    let app = app_with_smtp(sink.url(), |_| {}).await;
    let t = app.signup("forgotco").await;
    sink.wait_for(1).await; // the owner's verification mail

    in_chromium(async |s| {
        s.goto(&format!("{}/login", app.address)).await?;
        s.fill("#email", &t.owner_email).await?;
        s.click("button[type=submit]").await?;
        s.wait_for_url("the password step", |u| u.ends_with("/login/identify"))
            .await?;
        s.click("a[href^='/forgot-password']").await?;
        wait_for_text(s, "Reset your password").await?;
        let email = s
            .script("return document.querySelector('#email').value")
            .await?;
        anyhow::ensure!(email == t.owner_email.as_str(), "prefilled: {email}");
        s.click("button[type=submit]").await?;
        wait_for_text(s, "If an account with this email address exists").await?;
        anyhow::Ok(())
    })
    .await;

    let messages = sink.wait_for(2).await;
    let mail = messages.last().unwrap();
    assert_eq!(mail["headers"]["to"], t.owner_email);
    let link = link_of(mail["text"].as_str().unwrap(), "/password-reset");

    in_chromium(async |s| {
        s.goto(&link).await?;
        wait_for_text(s, "Choose a new password").await?;
        s.fill("#password", NEW_PASSWORD).await?;
        s.fill("#password_again", NEW_PASSWORD).await?;
        s.click("button[type=submit]").await?;
        wait_for_text(s, "Your password was changed").await?;
        s.click("a.button").await?;
        s.wait_for_url("the sign-in page", |u| u.contains("/login?"))
            .await?;
        s.click("button[type=submit]").await?; // the email is prefilled
        s.wait_for_url("the password step", |u| u.ends_with("/login/identify"))
            .await?;
        s.fill("#password", NEW_PASSWORD).await?;
        s.click("button[type=submit]").await?;
        s.wait_for_url("the signed-in home", |u| u == format!("{}/", app.address))
            .await?;
        wait_for_text(s, "You are signed in as").await?;
        anyhow::Ok(())
    })
    .await;

    let old = app.try_login(&t.domain, &t.owner_email, PASSWORD).await;
    assert_eq!(error_code(&old), "UNAUTHENTICATED", "{old}");
    app.login(&t.domain, &t.owner_email, NEW_PASSWORD).await;
    // The sessions open before the reset are ended.
    let me = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED", "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_link_confirms_the_email_in_chromium_only_once_its_button_is_pressed() {
    let mut sink = SmtpSink::new();
    sink.start().await;
    let app = app_with_smtp(sink.url(), |_| {}).await;
    let t = app.signup("confirmco").await;
    let set = app
        .gql(
            Some(&t.token),
            operation("RequireVerifiedEmail"),
            json!({ "required": true }),
        )
        .await;
    assert!(set["data"]["updateTenantSettings"].is_object(), "{set}");
    let refused = app.try_login(&t.domain, &t.owner_email, PASSWORD).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["reason"], "email_unverified",
        "{refused}"
    );
    let mail = sink.wait_for(1).await[0].clone();
    let link = link_of(mail["text"].as_str().unwrap(), "/verify-email");
    let verified = async || {
        count(
            &app,
            &format!(
                "SELECT count(*) FROM users WHERE id = '{}' AND email_verified_at IS NOT NULL",
                t.owner_uuid
            ),
        )
        .await
    };

    in_chromium(async |s| {
        s.goto(&link).await?;
        let text = wait_for_text(s, "Confirm your email address").await?;
        anyhow::ensure!(text.contains(&t.owner_email), "{text}");
        // Opening the link (as a mail scanner would) verifies nothing.
        s.goto(&link).await?;
        wait_for_text(s, "Confirm my email address").await?;
        anyhow::ensure!(verified().await == 0, "a GET verified the address");
        s.click("button[type=submit]").await?;
        wait_for_text(s, "Your email address is confirmed").await?;
        anyhow::ensure!(!s.url().await?.contains("token="));
        anyhow::Ok(())
    })
    .await;

    assert_eq!(verified().await, 1);
    let state = app
        .gql(
            Some(&t.token),
            operation("UserMailState"),
            json!({ "id": t.owner_id }),
        )
        .await;
    assert_eq!(state["data"]["user"]["emailVerified"], true, "{state}");
    app.login(&t.domain, &t.owner_email, PASSWORD).await;
}

#[tokio::test]
async fn the_account_pages_are_hosted_pages_with_labelled_fields_and_the_token_only_in_the_form() {
    let app = common::spawn_app().await;
    let t = app.signup("pageco").await;
    invite(&app, &t.token, "ivy@pageco.example.com").await;
    let token = outbox_token(&app, "ivy@pageco.example.com", "invitation").await;
    let browser = PageClient::new(&app.address);
    let page = browser
        .get(&format!("/invitation?token={}", q(&token)))
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    let header = |name: &str| page.headers[name].to_str().unwrap().to_owned();
    assert_eq!(
        header("content-security-policy"),
        tenant_hub::web::page::CONTENT_SECURITY_POLICY
    );
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert!(page.set_cookie("__Host-hub_csrf").is_some());
    for needed in [
        r#"<form method="post" action="/invitation">"#,
        r#"<label for="password">"#,
        r#"<label for="password_again">"#,
        r#"autocomplete="new-password""#,
        r#"autocomplete="username" value="ivy@pageco.example.com""#,
        "pageco",
    ] {
        assert!(page.html.contains(needed), "{needed}: {}", page.html);
    }
    assert_eq!(page.field("token").as_deref(), Some(token.as_str()));
    assert_eq!(
        page.html.matches(&token).count(),
        1,
        "only in the hidden field"
    );
    assert!(!page.html.contains("<script"));

    let forgot = browser
        .get(&format!(
            "/forgot-password?tenant={}&email=a%40pageco.example.com",
            t.uuid
        ))
        .await;
    assert_eq!(forgot.status, 200);
    assert!(
        forgot.html.contains(r#"autocomplete="email""#),
        "{}",
        forgot.html
    );
    assert!(forgot.html.contains(r#"<label for="email">"#));
    assert_eq!(
        forgot.field("email").as_deref(),
        Some("a@pageco.example.com")
    );
    assert_eq!(
        forgot.field("tenant").as_deref(),
        Some(t.uuid.to_string().as_str())
    );
}

#[tokio::test]
async fn used_expired_and_replaced_links_show_a_clear_page_and_change_nothing() {
    let app = common::spawn_app().await;
    let t = app.signup("staleco").await;
    let invitee = "sam@staleco.example.com";
    let user_id = invite(&app, &t.token, invitee).await;
    let replaced = outbox_token(&app, invitee, "invitation").await;
    let resent = app
        .gql(
            Some(&t.token),
            operation("ResendInvitation"),
            json!({ "id": user_id }),
        )
        .await;
    let current = resent["data"]["resendInvitation"]["invitationToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{resent}"))
        .to_owned();
    let browser = PageClient::new(&app.address);

    // Replaced by the new invitation: neither its page nor its form works.
    let page = browser
        .get(&format!("/invitation?token={}", q(&replaced)))
        .await;
    assert_link_gone(&page, &replaced);
    assert!(
        page.html.contains("staleco"),
        "the tenant's page: {}",
        page.html
    );
    let csrf = browser.get("/forgot-password").await.csrf();
    let accept = |token: String| {
        let csrf = csrf.clone();
        let browser = &browser;
        async move {
            browser
                .post(
                    "/invitation",
                    &[
                        ("csrf", &csrf),
                        ("token", &token),
                        ("password", NEW_PASSWORD),
                        ("password_again", NEW_PASSWORD),
                    ],
                )
                .await
        }
    };
    assert_link_gone(&accept(replaced.clone()).await, &replaced);
    assert_eq!(user_status(&app, invitee).await, "invited");

    // The current one works once.
    let accepted = accept(current.clone()).await;
    assert_eq!(accepted.status, 303, "{}", accepted.html);
    assert_eq!(accepted.location(), Some("/"));
    let page = browser
        .get(&format!("/invitation?token={}", q(&current)))
        .await;
    assert_link_gone(&page, &current);
    browser.forget_cookies();
    let csrf = browser.get("/forgot-password").await.csrf();
    let again = browser
        .post(
            "/invitation",
            &[
                ("csrf", &csrf),
                ("token", &current),
                ("password", "another long passphrase"),
                ("password_again", "another long passphrase"),
            ],
        )
        .await;
    assert_link_gone(&again, &current);
    app.login(&t.domain, invitee, NEW_PASSWORD).await;

    // Expired: an admin's reset link past its time.
    let reset = app
        .gql(
            Some(&t.token),
            operation("ResetUserPassword"),
            json!({ "id": user_id }),
        )
        .await;
    let expired = reset["data"]["resetUserPassword"]["resetToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{reset}"))
        .to_owned();
    app.superuser()
        .await
        .execute(
            "UPDATE user_tokens SET expires_at = now() - interval '1 minute' \
             WHERE purpose = 'password_reset'",
            &[],
        )
        .await
        .unwrap();
    let page = browser
        .get(&format!("/password-reset?token={}", q(&expired)))
        .await;
    assert_link_gone(&page, &expired);
    let posted = browser
        .post(
            "/password-reset",
            &[
                ("csrf", &csrf),
                ("token", &expired),
                ("password", "another long passphrase"),
                ("password_again", "another long passphrase"),
            ],
        )
        .await;
    assert_link_gone(&posted, &expired);
    app.login(&t.domain, invitee, NEW_PASSWORD).await;

    // No token, or not one of ours.
    for path in [
        "/verify-email",
        "/verify-email?token=nonsense",
        "/report-email-change?token=",
        "/password-reset?token=x.y",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 410, "{path}: {}", page.html);
    }
}

#[tokio::test]
async fn account_forms_without_their_csrf_token_or_from_another_site_change_nothing() {
    let app = common::spawn_app().await;
    let t = app.signup("csrfco").await;
    let invitee = "cy@csrfco.example.com";
    invite(&app, &t.token, invitee).await;
    let invitation = outbox_token(&app, invitee, "invitation").await;
    let verification = outbox_token(&app, &t.owner_email, "email_verification").await;
    let browser = PageClient::new(&app.address);
    let csrf = browser
        .get(&format!("/invitation?token={}", q(&invitation)))
        .await
        .csrf();
    let password = [("password", NEW_PASSWORD), ("password_again", NEW_PASSWORD)];
    let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "/invitation",
            [&[("token", invitation.as_str())][..], &password].concat(),
        ),
        ("/verify-email", vec![("token", verification.as_str())]),
        (
            "/forgot-password",
            vec![
                ("tenant", t.domain.as_str()),
                ("email", t.owner_email.as_str()),
            ],
        ),
        (
            "/password-reset",
            [&[("token", invitation.as_str())][..], &password].concat(),
        ),
        (
            "/report-email-change",
            vec![("token", verification.as_str())],
        ),
    ];
    for (path, fields) in &forms {
        let missing = browser.post(path, fields).await;
        assert_eq!(
            missing.status, 403,
            "{path} without a token: {}",
            missing.html
        );
        assert!(missing.html.contains("Form refused"), "{}", missing.html);
        let mut wrong = fields.clone();
        wrong.push(("csrf", "x"));
        assert_eq!(browser.post(path, &wrong).await.status, 403, "{path}");
        let mut with = fields.clone();
        with.push(("csrf", &csrf));
        let elsewhere = browser
            .post_with(path, &with, &[("origin", "https://evil.example")])
            .await;
        assert_eq!(elsewhere.status, 403, "{path} from another site");
    }
    assert_eq!(user_status(&app, invitee).await, "invited");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM users WHERE email_verified_at IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM mail_outbox WHERE kind = 'password_reset'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM user_tokens WHERE used_at IS NOT NULL"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn opening_a_mailed_link_uses_nothing_up_only_its_form_does() {
    let app = common::spawn_app().await;
    let t = app.signup("scanco").await;
    let verification = outbox_token(&app, &t.owner_email, "email_verification").await;
    let browser = PageClient::new(&app.address);
    let path = format!("/verify-email?token={}", q(&verification));
    for _ in 0..3 {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(page.html.contains("Confirm my email address"));
    }
    let unverified = || {
        count(
            &app,
            "SELECT count(*) FROM users WHERE email_verified_at IS NULL",
        )
    };
    assert_eq!(unverified().await, 1, "three GETs verified nothing");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM user_tokens WHERE used_at IS NOT NULL"
        )
        .await,
        0
    );
    let page = browser.get(&path).await;
    let done = browser
        .post(
            "/verify-email",
            &[("csrf", &page.csrf()), ("token", &verification)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(done.html.contains("Your email address is confirmed"));
    assert!(!done.html.contains(&verification));
    assert_eq!(unverified().await, 0);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM audit_log WHERE tenant_id = '{}' AND action = 'user.email_verified'",
                t.uuid
            )
        )
        .await,
        1
    );
}

#[tokio::test]
async fn reporting_an_email_change_on_its_page_signs_every_session_of_the_account_out() {
    let app = common::spawn_app().await;
    let t = app.signup("reportco").await;
    let (member_id, member_token) = app
        .add_user(&t, "mo@reportco.example.com", &["member"])
        .await;
    let changed = app
        .gql(
            Some(&t.token),
            operation("UpdateUserEmail"),
            json!({ "i": { "id": member_id, "email": "mo2@reportco.example.com" } }),
        )
        .await;
    assert!(changed["data"]["updateUser"].is_object(), "{changed}");
    let token = outbox_token(&app, "mo@reportco.example.com", "email_changed").await;
    let browser = PageClient::new(&app.address);
    let page = browser
        .get(&format!("/report-email-change?token={}", q(&token)))
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("I did not make this change"),
        "{}",
        page.html
    );
    let me = app
        .gql(Some(&member_token), "{ me { id } }", json!({}))
        .await;
    assert!(
        me["data"]["me"].is_object(),
        "the page alone ends nothing: {me}"
    );
    let done = browser
        .post(
            "/report-email-change",
            &[("csrf", &page.csrf()), ("token", &token)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(
        done.html.contains("Thank you for your report"),
        "{}",
        done.html
    );
    let me = app
        .gql(Some(&member_token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED", "{me}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'user.email_change_reported'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn forgot_password_answers_every_request_with_the_same_page_and_mails_only_a_real_account() {
    let mut sink = SmtpSink::new();
    sink.start().await;
    let app = app_with_smtp(sink.url(), |s| s.password_reset_per_ip = 4).await;
    let t = app.signup("sameco").await;
    sink.wait_for(1).await; // the owner's verification mail
    let browser = PageClient::new(&app.address);
    let ask = async |tenant: &str, email: &str| {
        let csrf = browser.get("/forgot-password").await.csrf();
        browser
            .post(
                "/forgot-password",
                &[("csrf", &csrf), ("tenant", tenant), ("email", email)],
            )
            .await
    };
    let known = ask("", &t.owner_email).await;
    assert_eq!(known.status, 200, "{}", known.html);
    assert!(
        known
            .html
            .contains("If an account with this email address exists")
    );
    for (tenant, email) in [
        ("", "nobody@sameco.example.com"),
        ("nowhere.example.com", "owner@nowhere.example.com"),
        ("", "ghost@unknown.example.org"),
        // Over the per-IP limit: answered the same, nothing sent.
        ("", &t.owner_email),
    ] {
        let other = ask(tenant, email).await;
        assert_eq!(other.status, known.status, "{email}");
        assert_eq!(other.html, known.html, "{tenant} {email}: the same page");
    }
    sink.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let messages = sink.messages();
    assert_eq!(
        messages.len(),
        2,
        "only the real account got a mail: {messages:?}"
    );
    assert_eq!(to(&messages, &t.owner_email).len(), 2);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM mail_outbox WHERE kind = 'password_reset'"
        )
        .await,
        1
    );
}

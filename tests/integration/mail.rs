//! Mail against a real SMTP server: aiosmtpd (PyPI, installed by scripts/test.sh) run by
//! tests/tools/smtp_sink.py, which stores each accepted message as a JSON file. The hub's
//! housekeeping loop (every second here) delivers the outbox to it.

use crate::common;

use std::time::Duration;

use common::{
    PASSWORD, error_code, operation,
    smtp::{SmtpSink, app_with_smtp, to, token_of},
};
use serde_json::json;

#[tokio::test]
async fn an_invitation_arrives_over_smtp_with_both_parts_and_its_link_accepts_it() {
    let mut sink = SmtpSink::new();
    sink.start().await;
    let app = app_with_smtp(sink.url(), |_| {}).await;
    let t = app.signup("mailco").await;
    let invitee = "ivy@mailco.example.com";
    let body = app
        .gql(
            Some(&t.token),
            operation("InviteUser"),
            json!({ "i": { "email": invitee, "displayName": "Ivy" } }),
        )
        .await;
    let user_id = body["data"]["inviteUser"]["user"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();

    // The owner's verification mail (sign-up) and the invitation.
    let messages = sink.wait_for(2).await;
    let mails = to(&messages, invitee);
    assert_eq!(mails.len(), 1, "{messages:?}");
    let mail = mails[0];
    let h = &mail["headers"];
    assert_eq!(h["to"], invitee);
    let from = h["from"].as_str().unwrap();
    assert!(
        from.contains("Acme Hub") && from.contains("<hub@mail.example.com>"),
        "{from}"
    );
    assert_eq!(h["subject"], "You are invited to mailco");
    assert!(
        h["message-id"]
            .as_str()
            .unwrap()
            .ends_with("@mail.example.com>")
    );
    assert_eq!(mail["content_type"], "multipart/alternative");
    let (text, html) = (
        mail["text"].as_str().unwrap(),
        mail["html"].as_str().unwrap(),
    );
    let link = format!("{}/invitation?token=", app.state.public_url());
    assert!(text.contains(&link), "{text}");
    assert!(html.contains(&link), "{html}");
    assert!(text.contains("Hello Ivy,") && html.contains("mailco"));
    let token = token_of(text, "/invitation");
    assert_eq!(token, token_of(html, "/invitation"));

    // Delivered, as the admin sees it; the outbox no longer holds the link.
    let state = app
        .gql(
            Some(&t.token),
            operation("UserMailState"),
            json!({ "id": user_id }),
        )
        .await;
    let delivery = &state["data"]["user"]["invitationMail"];
    assert_eq!(delivery["status"], "SENT", "{state}");
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(
        common::count(
            &app,
            "SELECT count(*) FROM mail_outbox WHERE link_secret IS NOT NULL AND sent_at IS NOT NULL"
        )
        .await,
        0
    );

    // The link's token accepts the invitation, and that verifies the address.
    let accepted = app
        .gql(
            None,
            operation("AcceptInvitation"),
            json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        accepted["data"]["acceptInvitation"]["user"]["status"], "ACTIVE",
        "{accepted}"
    );
    let state = app
        .gql(
            Some(&t.token),
            operation("UserMailState"),
            json!({ "id": user_id }),
        )
        .await;
    assert_eq!(state["data"]["user"]["emailVerified"], true, "{state}");
    app.login(&t.domain, invitee, PASSWORD).await;
}

#[tokio::test]
async fn a_resent_invitation_replaces_the_old_link() {
    let mut sink = SmtpSink::new();
    sink.start().await;
    let app = app_with_smtp(sink.url(), |_| {}).await;
    let t = app.signup("resendco").await;
    let invitee = "ray@resendco.example.com";
    let body = app
        .gql(
            Some(&t.token),
            operation("InviteUser"),
            json!({ "i": { "email": invitee } }),
        )
        .await;
    let user_id = body["data"]["inviteUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = token_of(
        to(&sink.wait_for(2).await, invitee)[0]["text"]
            .as_str()
            .unwrap(),
        "/invitation",
    );
    let resent = app
        .gql(
            Some(&t.token),
            operation("ResendInvitation"),
            json!({ "id": user_id }),
        )
        .await;
    assert!(
        resent["data"]["resendInvitation"]["invitationToken"].is_string(),
        "{resent}"
    );
    let messages = sink.wait_for(3).await;
    let mails = to(&messages, invitee);
    assert_eq!(mails.len(), 2);
    let second = token_of(mails[1]["text"].as_str().unwrap(), "/invitation");
    assert_ne!(first, second);
    let old = app
        .gql(
            None,
            operation("AcceptInvitation"),
            json!({ "token": first, "password": PASSWORD }),
        )
        .await;
    assert_eq!(error_code(&old), "UNAUTHENTICATED", "{old}");
    let new = app
        .gql(
            None,
            operation("AcceptInvitation"),
            json!({ "token": second, "password": PASSWORD }),
        )
        .await;
    assert_eq!(new["data"]["acceptInvitation"]["user"]["status"], "ACTIVE");
}

#[tokio::test]
async fn while_smtp_is_down_the_mail_waits_and_is_delivered_when_it_is_back() {
    let mut sink = SmtpSink::new();
    let app = app_with_smtp(sink.url(), |_| {}).await;
    let t = app.signup("downco").await;
    app.gql(
        Some(&t.token),
        operation("InviteUser"),
        json!({ "i": { "email": "dora@downco.example.com" } }),
    )
    .await;
    // Attempts fail and are recorded; the mails stay pending.
    assert!(
        common::eventually(async || {
            common::count(
                &app,
                "SELECT count(*) FROM mail_attempts WHERE outcome = 'failed' AND error IS NOT NULL",
            )
            .await
                >= 2
        })
        .await,
        "no failed attempt recorded"
    );
    assert_eq!(
        common::count(
            &app,
            "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL"
        )
        .await,
        2
    );
    sink.start().await;
    let messages = sink.wait_for(2).await;
    assert_eq!(to(&messages, "dora@downco.example.com").len(), 1);
    assert!(
        common::eventually(async || {
            common::count(
                &app,
                "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL",
            )
            .await
                == 0
        })
        .await
    );
    assert!(
        common::count(
            &app,
            "SELECT count(*) FROM mail_attempts WHERE outcome = 'sent'"
        )
        .await
            == 2
    );
}

#[tokio::test]
async fn a_password_reset_answers_the_same_for_unknown_accounts_and_mails_a_working_link() {
    let mut sink = SmtpSink::new();
    sink.start().await;
    let app = app_with_smtp(sink.url(), |_| {}).await;
    let t = app.signup("resetco").await;
    sink.wait_for(1).await; // the owner's verification mail
    let ask = async |tenant: &str, email: &str| {
        app.gql(
            None,
            operation("RequestPasswordReset"),
            json!({ "tenant": tenant, "email": email }),
        )
        .await
    };
    let known = ask(&t.domain, &t.owner_email).await;
    let unknown_user = ask(&t.domain, "nobody@resetco.example.com").await;
    let unknown_tenant = ask("nowhere.example.com", &t.owner_email).await;
    for answer in [&known, &unknown_user, &unknown_tenant] {
        assert_eq!(answer, &json!({ "data": { "requestPasswordReset": true } }));
    }
    let messages = sink.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sink.messages().len(),
        2,
        "only the known account gets a mail"
    );
    let mail = messages.last().unwrap();
    assert_eq!(mail["headers"]["to"], t.owner_email);
    let token = token_of(mail["text"].as_str().unwrap(), "/password-reset");
    let new_password = "a completely new horse battery";
    let reset = app
        .gql(
            None,
            operation("ResetPassword"),
            json!({ "token": token, "new": new_password }),
        )
        .await;
    assert_eq!(reset["data"]["resetPassword"], true, "{reset}");
    app.login(&t.domain, &t.owner_email, new_password).await;
    // And the notice that the password changed.
    let messages = sink.wait_for(3).await;
    assert_eq!(
        messages.last().unwrap()["headers"]["subject"],
        "Your resetco password was changed"
    );
}

#[tokio::test]
async fn password_resets_are_limited_per_account_silently_and_per_ip_with_rate_limited() {
    let mut sink = SmtpSink::new();
    sink.start().await;
    let app = app_with_smtp(sink.url(), |s| {
        s.password_reset_per_account = 2;
        s.password_reset_per_ip = 5;
    })
    .await;
    let t = app.signup("limitco").await;
    sink.wait_for(1).await;
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(
            app.gql(
                None,
                operation("RequestPasswordReset"),
                json!({ "tenant": t.domain, "email": t.owner_email }),
            )
            .await,
        );
    }
    for answer in &answers[..5] {
        assert_eq!(answer["data"]["requestPasswordReset"], true, "{answer}");
    }
    assert_eq!(error_code(&answers[5]), "RATE_LIMITED", "{}", answers[5]);
    sink.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        to(&sink.messages(), &t.owner_email).len(),
        3,
        "the verification mail and two reset mails"
    );
}

#[tokio::test]
async fn a_tenant_requiring_verified_emails_refuses_sign_in_until_the_link_is_followed() {
    let mut sink = SmtpSink::new();
    sink.start().await;
    let app = app_with_smtp(sink.url(), |_| {}).await;
    let t = app.signup("verifyco").await;
    let set = app
        .gql(
            Some(&t.token),
            operation("RequireVerifiedEmail"),
            json!({ "required": true }),
        )
        .await;
    assert_eq!(
        set["data"]["updateTenantSettings"]["tenant"]["requireVerifiedEmail"], true,
        "{set}"
    );
    let refused = app.try_login(&t.domain, &t.owner_email, PASSWORD).await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED", "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["reason"],
        "email_unverified"
    );
    let mail = sink.wait_for(1).await[0].clone();
    assert_eq!(
        mail["headers"]["subject"],
        "Confirm your email address for verifyco"
    );
    let token = token_of(mail["text"].as_str().unwrap(), "/verify-email");
    let verified = app
        .gql(None, operation("VerifyEmail"), json!({ "token": token }))
        .await;
    assert_eq!(
        verified["data"]["verifyEmail"]["user"]["emailVerified"], true,
        "{verified}"
    );
    app.login(&t.domain, &t.owner_email, PASSWORD).await;
}

#[tokio::test]
async fn an_email_change_notifies_the_old_address_whose_report_ends_the_sessions() {
    let mut sink = SmtpSink::new();
    sink.start().await;
    let app = app_with_smtp(sink.url(), |_| {}).await;
    let t = app.signup("changeco").await;
    sink.wait_for(1).await;
    let changed = app
        .gql(
            Some(&t.token),
            operation("UpdateUserEmail"),
            json!({ "i": { "id": t.owner_id, "email": "new-owner@changeco.example.com" } }),
        )
        .await;
    assert!(changed["data"]["updateUser"].is_object(), "{changed}");
    let messages = sink.wait_for(3).await;
    let notice = to(&messages, &t.owner_email)
        .into_iter()
        .find(|m| m["headers"]["subject"] == "Your changeco email address was changed")
        .expect("a notice to the old address");
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .contains("new-owner@changeco.example.com")
    );
    assert_eq!(
        to(&messages, "new-owner@changeco.example.com").len(),
        1,
        "a verification mail to the new address"
    );
    let token = token_of(notice["text"].as_str().unwrap(), "/report-email-change");
    let reported = app
        .gql(
            None,
            operation("ReportEmailChange"),
            json!({ "token": token }),
        )
        .await;
    assert_eq!(reported["data"]["reportEmailChange"], true, "{reported}");
    // The session that made the change is gone.
    let me = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert!(me["data"].is_null() || me["errors"].is_array(), "{me}");
}

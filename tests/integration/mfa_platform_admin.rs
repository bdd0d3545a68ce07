//! Platform admins and second factors: with HUB_PLATFORM_ADMIN_REQUIRE_MFA an admin without an
//! authenticator is refused at adminLogin; an operator enrols one (`tenant-hub admin totp`,
//! the operation it runs), after which adminLogin needs its current code, once.

use crate::common::{self, PASSWORD, count, error_code, operation};
use crate::mfa::{code, safe_step};
use serde_json::json;

const EMAIL: &str = "root@hub.example.com";

async fn admin_login(app: &common::TestApp, code: Option<&str>) -> serde_json::Value {
    app.gql(
        None,
        operation("AdminLogInWithCode"),
        json!({ "e": EMAIL, "p": PASSWORD, "c": code }),
    )
    .await
}

fn reason(body: &serde_json::Value) -> &str {
    body["errors"][0]["extensions"]["reason"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test]
async fn the_hub_can_require_platform_admins_to_sign_in_with_a_second_factor() {
    let app = common::spawn_app_with(|s| s.platform_admin_require_mfa = true).await;
    let hash = tenant_hub::auth::password::hash(
        &tenant_hub::domain::NewPassword::parse("p", PASSWORD, None).unwrap(),
    )
    .await
    .unwrap();
    app.superuser()
        .await
        .execute(
            "INSERT INTO platform_admins (email, password_hash) VALUES ($1, $2)",
            &[&EMAIL, &hash],
        )
        .await
        .unwrap();

    // No authenticator: the right password is not enough.
    let body = admin_login(&app, None).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(reason(&body), "mfa_not_enrolled", "{body}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM platform_audit_log WHERE action = 'platform.admin_login_failed' \
             AND details->>'second_factor' = 'not_enrolled'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM platform_admin_sessions").await,
        0
    );

    // The operator enrols one.
    let enrolled = tenant_hub::ops::admin_sessions::enrol_platform_admin_totp(
        &app.state.db,
        &app.state.secrets,
        EMAIL,
    )
    .await
    .unwrap();
    assert!(enrolled.otpauth_uri.starts_with("otpauth://totp/"));
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM platform_audit_log WHERE action = 'platform.admin_totp_enrolled'"
        )
        .await,
        1
    );
    let secret = enrolled.secret_base32;

    // Without a code, with a wrong one: refused, no session.
    let body = admin_login(&app, None).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    assert_eq!(reason(&body), "mfa_code_invalid", "{body}");
    let step = safe_step().await;
    let right = code(&secret, step);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let body = admin_login(&app, Some(&wrong)).await;
    assert_eq!(reason(&body), "mfa_code_invalid", "{body}");
    assert_eq!(
        count(&app, "SELECT count(*) FROM platform_admin_sessions").await,
        0
    );

    // The current code: signed in; the same code again: refused (replay).
    let body = admin_login(&app, Some(&right)).await;
    assert!(
        body["data"]["adminLogin"]["accessToken"].is_string(),
        "{body}"
    );
    let body = admin_login(&app, Some(&right)).await;
    assert_eq!(reason(&body), "mfa_code_invalid", "replayed: {body}");
    assert_eq!(
        count(&app, "SELECT count(*) FROM platform_admin_sessions").await,
        1
    );
}

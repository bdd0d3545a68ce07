//! Anonymous calls that make the hub hash a password (sign-up, password reset, accepting an
//! invitation) pass their cheap checks first and then count against their client network's own
//! allowance (`HUB_ANONYMOUS_HASHES_PER_MINUTE`), so a flood cannot keep argon2 busy and queue
//! every tenant's logins behind it.

use crate::common;

use common::{PASSWORD, count, error_code, operation, spawn_app_with};
use serde_json::{Value, json};

async fn sign_up(app: &common::TestApp, slug: &str, domain: &str) -> Value {
    app.gql(
        None,
        operation("SignUp"),
        json!({ "input": { "name": slug, "slug": slug, "domain": domain,
                "ownerEmail": format!("owner@{domain}"), "ownerPassword": PASSWORD } }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_domain_costs_no_hashing_and_hashing_calls_have_their_own_allowance() {
    let app = spawn_app_with(|s| s.anonymous_hashes_per_minute = 2).await;
    app.signup("alpha").await;
    // Refused on the domain before any hashing: however many, they spend none of the allowance.
    for i in 0..4 {
        let body = sign_up(&app, &format!("copy-{i}"), "alpha.example.com").await;
        assert_eq!(error_code(&body), "CONFLICT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "domain", "{body}");
    }
    let slug_taken = sign_up(&app, "alpha", "other.example.com").await;
    assert_eq!(error_code(&slug_taken), "CONFLICT", "{slug_taken}");
    assert_eq!(slug_taken["errors"][0]["extensions"]["field"], "slug");
    let second = sign_up(&app, "beta", "beta.example.com").await;
    assert!(
        second["data"]["createTenant"].is_object(),
        "the second hash of the minute: {second}"
    );
    let third = sign_up(&app, "gamma", "gamma.example.com").await;
    assert_eq!(error_code(&third), "RATE_LIMITED", "{third}");
    assert!(third["errors"][0]["extensions"]["retryAfter"].as_u64() >= Some(1));
    assert_eq!(
        count(&app, "SELECT count(*) FROM tenants WHERE slug = 'gamma'").await,
        0
    );
    // A bad reset token is refused as such: the token is checked before the allowance.
    let bad = app
        .gql(
            None,
            "mutation { resetPassword(token: \"nope\", newPassword: \"an unusual sentence 42\") }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad), "UNAUTHENTICATED", "{bad}");
}

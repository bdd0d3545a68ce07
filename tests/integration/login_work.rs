//! Every login attempt that reaches the password check costs one argon2id verification, whatever
//! makes it fail: an unknown tenant or user is checked against a dummy hash, so it cannot be
//! told from a wrong password by timing. (Counted rather than timed. The counter is
//! process-wide and the other modules' tests log in concurrently, which can only add to a
//! count: each attempt is measured a few times and the smallest count is the attempt's own.)

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_login_costs_one_password_verification_whatever_failed() {
    // Repeated failures must not reach the lockout, which would skip the verification.
    let app = common::spawn_app_with(|s| {
        s.login_failures_per_account = 1_000;
        s.login_failures_per_ip = 1_000;
    })
    .await;
    let t = app.signup("acme").await;
    let cost = async |tenant: &str, email: &str, password: &str| {
        let mut fewest = (u64::MAX, false);
        for _ in 0..4 {
            let before = tenant_hub::auth::password::verifications();
            let body = app.try_login(tenant, email, password).await;
            let spent = tenant_hub::auth::password::verifications() - before;
            if spent < fewest.0 {
                fewest = (spent, body["data"]["login"].is_object());
            }
        }
        fewest
    };
    assert_eq!(
        cost(&t.domain, &t.owner_email, common::PASSWORD).await,
        (1, true),
        "the right password"
    );
    assert_eq!(
        cost(&t.domain, &t.owner_email, "not-the-password-1").await,
        (1, false),
        "a wrong password"
    );
    assert_eq!(
        cost(&t.domain, "nobody@acme.example.com", common::PASSWORD).await,
        (1, false),
        "an unknown user"
    );
    assert_eq!(
        cost(
            "no-such-tenant.example.com",
            &t.owner_email,
            common::PASSWORD
        )
        .await,
        (1, false),
        "an unknown tenant"
    );
    app.superuser()
        .await
        .execute(
            "UPDATE users SET status = 'deactivated' WHERE id = $1",
            &[&t.owner_uuid],
        )
        .await
        .unwrap();
    assert_eq!(
        cost(&t.domain, &t.owner_email, common::PASSWORD).await,
        (1, false),
        "a deactivated user with the right password"
    );

    let before = tenant_hub::auth::password::verifications();
    let metrics = app.metrics().await;
    let after = tenant_hub::auth::password::verifications();
    let shown: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hub_password_verifications "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no hub_password_verifications in {metrics}"));
    assert!(
        (before..=after).contains(&shown),
        "{before} <= {shown} <= {after}"
    );
}

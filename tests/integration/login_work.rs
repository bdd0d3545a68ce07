//! Every login attempt that reaches the password check costs one argon2id verification, whatever
//! makes it fail: an unknown tenant or user is checked against a dummy hash, so it cannot be
//! told from a wrong password by timing. (Counted rather than timed. The counter is
//! process-wide and the other tests of this binary log in at the same time, which can only add
//! to it: so each attempt is repeated and the smallest count is taken.)

use crate::common;

use common::{error_code, spawn_app_with};

/// Attempts per measurement; the other tests' logins rarely overlap more than one or two.
const TRIES: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_login_costs_one_password_verification_whatever_failed() {
    // Room for the repeated failures below before the login limiters answer RATE_LIMITED.
    let app = spawn_app_with(|s| {
        s.login_failures_per_ip = 1000;
        s.login_failures_per_account = 1000;
    })
    .await;
    let t = app.signup("acme").await;
    let cost = async |tenant: &str, email: &str, password: &str| {
        let mut least = u64::MAX;
        let mut succeeded = false;
        for _ in 0..TRIES {
            let before = tenant_hub::auth::password::verifications();
            let body = app.try_login(tenant, email, password).await;
            let spent = tenant_hub::auth::password::verifications() - before;
            succeeded = body["data"]["login"].is_object();
            if !succeeded {
                assert_ne!(error_code(&body), "RATE_LIMITED", "{body}");
            }
            least = least.min(spent);
        }
        (least, succeeded)
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

    // The other tests may verify passwords between the reads: the metric lies between them.
    let before = tenant_hub::auth::password::verifications();
    let metrics = app.metrics().await;
    let after = tenant_hub::auth::password::verifications();
    let shown: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hub_password_verifications "))
        .unwrap_or_else(|| panic!("no hub_password_verifications in {metrics}"))
        .trim()
        .parse()
        .unwrap();
    assert!(
        (before..=after).contains(&shown),
        "hub_password_verifications {shown}, expected {before} to {after}"
    );
}

//! Every login attempt that reaches the password check costs one argon2id verification, whatever
//! makes it fail: an unknown tenant or user is checked against a dummy hash, so it cannot be
//! told from a wrong password by timing. (Counted rather than timed. The counter is
//! process-wide and the other tests of this binary log in too, so the test runs itself again
//! in a process of its own.)

use crate::common;

use common::spawn_app;

const ALONE: &str = "HUB_TEST_LOGIN_WORK_ALONE";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_login_costs_one_password_verification_whatever_failed() {
    if std::env::var_os(ALONE).is_none() {
        let name = "login_work::every_failed_login_costs_one_password_verification_whatever_failed";
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--test-threads=1", "--nocapture"])
            .env(ALONE, "1")
            .output()
            .expect("the test binary runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let cost = async |tenant: &str, email: &str, password: &str| {
        let before = tenant_hub::auth::password::verifications();
        let body = app.try_login(tenant, email, password).await;
        (
            tenant_hub::auth::password::verifications() - before,
            body["data"]["login"].is_object(),
        )
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

    let metrics = app.metrics().await;
    let line = format!(
        "hub_password_verifications {}",
        tenant_hub::auth::password::verifications()
    );
    assert!(metrics.contains(&line), "{line} in {metrics}");
}

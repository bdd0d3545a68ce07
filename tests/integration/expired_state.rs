//! The housekeeping sweep of spent sign-in state (`ops::expired`): pending enterprise sign-ins,
//! second-factor challenges, passkey ceremonies and authorization codes are deleted across tenants an hour after
//! they expired, and not before.

use crate::{common, rls_isolation::two_tenants};

use common::spawn_app;

const TABLES: [&str; 4] = [
    "sso_sign_ins",
    "mfa_challenges",
    "mfa_passkey_ceremonies",
    "oauth_codes",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_deletes_every_tenants_state_an_hour_past_its_expiry_and_keeps_the_rest() {
    let app = spawn_app().await;
    // A row in each table for both tenants, expiring now.
    let (old, recent) = two_tenants(&app).await;
    let su = app.superuser().await;
    for table in TABLES {
        su.execute(
            &format!(
                "UPDATE {table} SET expires_at = now() - interval '61 minutes' WHERE tenant_id = $1"
            ),
            &[&old],
        )
        .await
        .unwrap();
        su.execute(
            &format!(
                "UPDATE {table} SET expires_at = now() - interval '59 minutes' WHERE tenant_id = $1"
            ),
            &[&recent],
        )
        .await
        .unwrap();
    }
    let left = async |tenant: uuid::Uuid| -> Vec<i64> {
        let mut counts = Vec::new();
        for table in TABLES {
            let row = su
                .query_one(
                    &format!("SELECT count(*) FROM {table} WHERE tenant_id = $1"),
                    &[&tenant],
                )
                .await
                .unwrap();
            counts.push(row.get(0));
        }
        counts
    };
    assert_eq!(left(old).await, [1, 1, 1, 1]);

    let swept = tenant_hub::ops::expired::sweep(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        (
            swept.sso_sign_ins,
            swept.mfa_challenges,
            swept.passkey_ceremonies,
            swept.oauth_codes
        ),
        (1, 1, 1, 1),
        "{swept:?}"
    );
    assert_eq!(left(old).await, [0, 0, 0, 0], "expired over an hour ago");
    assert_eq!(
        left(recent).await,
        [1, 1, 1, 1],
        "expired less than an hour ago"
    );
    let again = tenant_hub::ops::expired::sweep(&app.state.db)
        .await
        .unwrap();
    assert_eq!(again.total(), 0);

    // The housekeeping loop's pacing: a new sweeper waits before its first sweep.
    let mut sweeper = tenant_hub::ops::expired::Sweeper::new();
    assert!(sweeper.sweep_if_due(&app.state.db).await.unwrap().is_none());
}

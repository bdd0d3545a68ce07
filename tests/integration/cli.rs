//! The `tenant-hub` command line, run as the real binary against a test database: `dev seed`,
//! `maintenance purge`, `keys rotate`, `admin create`, and how errors are printed.

use crate::common;

use common::{PASSWORD, TestApp, spawn_app};

/// Runs the binary with `args`, `--database-url` of the test's database appended when `db`.
fn hub(app: &TestApp, args: &[&str], db: bool) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tenant-hub"));
    command.args(args);
    if db {
        command.args(["--database-url", &common::db_url(app.db_name())]);
    }
    command.output().expect("the binary runs")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.superuser()
        .await
        .query_one(sql, &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_seed_runs_beside_signed_up_tenants_and_twice() {
    let app = spawn_app().await;
    // An ordinary tenant whose users' emails are not `user<n>@…` and whose workspace slugs are
    // not `workspace-<n>`: the seed must not read them.
    let t = app.signup("acme").await;
    app.add_user(&t, "bob.smith@acme.example.com", &["member"])
        .await;
    // A tenant that took the slug the seed would give its fourth tenant.
    let taken = app
        .gql(
            None,
            common::SIGNUP,
            serde_json::json!({ "input": { "name": "Squatter", "slug": "seed-4", "domain": "squat.example.com",
                "ownerEmail": "o@squat.example.com", "ownerPassword": PASSWORD } }),
        )
        .await;
    assert!(taken["data"]["createTenant"].is_object(), "{taken}");
    let seed = |tenants: &str| {
        hub(
            &app,
            &[
                "dev",
                "seed",
                "--tenants",
                tenants,
                "--users-per-tenant",
                "4",
                "--workspaces-per-tenant",
                "2",
            ],
            true,
        )
    };
    let first = seed("3");
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("3 tenant(s) created"),
        "{}",
        text(&first)
    );
    let second = seed("5");
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("2 tenant(s) created, 3 already there"),
        "{}",
        text(&second)
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tenants WHERE domain LIKE 'seed-%'"
        )
        .await,
        5
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM tenants WHERE domain = 'seed-4.example.com' AND slug LIKE 'seed-4-%'").await,
        1,
        "the taken slug got a suffix"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM users WHERE email LIKE 'user%@seed-%'"
        )
        .await,
        20
    );
    // Every seeded user is a member of exactly one of its tenant's two workspaces.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM workspace_members m JOIN users u ON (u.tenant_id, u.id) = (m.tenant_id, m.user_id)
             WHERE u.email LIKE 'user%@seed-%'"
        )
        .await,
        20
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM users WHERE email LIKE '%@acme.example.com'"
        )
        .await,
        2,
        "the signed-up tenant is untouched"
    );
    // The seeded owner and the signed-up owner both log in.
    app.login(
        "seed-5.example.com",
        "user1@seed-5.example.com",
        tenant_hub::seed::SEED_PASSWORD,
    )
    .await;
    app.login(&t.domain, &t.owner_email, PASSWORD).await;
}

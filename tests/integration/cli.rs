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
            common::operation("SignUp"),
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

const DEACTIVATE: &str =
    "mutation { deactivateTenant(input: {}) { tenant { status purgeAfter } } }";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether `s` holds an RFC 3339 UTC time such as `2026-12-01T10:47:40Z`.
fn has_rfc3339(s: &str) -> bool {
    s.as_bytes().windows(20).any(|w| {
        let t = std::str::from_utf8(w).unwrap_or("");
        chrono::DateTime::parse_from_rfc3339(t).is_ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_of_one_named_tenant_purges_it_when_due_and_otherwise_fails_saying_why() {
    let app = spawn_app().await;
    let due = app.signup("alpha").await;
    let waiting = app.signup("bravo").await;
    let active = app.signup("charlie").await;
    for t in [&due, &waiting] {
        let body = app
            .gql(Some(&t.token), DEACTIVATE, serde_json::json!({}))
            .await;
        assert_eq!(
            body["data"]["deactivateTenant"]["tenant"]["status"], "DEACTIVATED",
            "{body}"
        );
    }
    let su = app.superuser().await;
    su.execute(
        "UPDATE tenants SET purge_after = now() - interval '1 minute' WHERE id = $1",
        &[&due.uuid],
    )
    .await
    .unwrap();
    let purge = |tenant: &str| hub(&app, &["maintenance", "purge", "--tenant", tenant], true);

    // Active: refused, non-zero, nothing purged.
    let out = purge("charlie");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("is active"), "{}", text(&out));
    // Deactivated, grace period running: refused, with the time it ends.
    let out = purge("bravo.example.com");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("grace period ends at") && has_rfc3339(&stderr(&out)),
        "{}",
        text(&out)
    );
    // Unknown.
    let out = purge(&uuid::Uuid::new_v4().to_string());
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no tenant is named"),
        "{}",
        text(&out)
    );
    // Due, named by its GraphQL id: purged, and only it.
    let out = purge(&due.id);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("done: 1 of 1 tenant(s) purged"),
        "{}",
        text(&out)
    );
    let statuses: Vec<(uuid::Uuid, String)> = su
        .query("SELECT id, status FROM tenants ORDER BY created_at", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        statuses,
        [
            (due.uuid, "purged".to_owned()),
            (waiting.uuid, "deactivated".to_owned()),
            (active.uuid, "active".to_owned())
        ]
    );
    // --force needs the domain typed again; then the raw UUID is purged at once.
    let force = |confirm: &str| {
        hub(
            &app,
            &[
                "maintenance",
                "purge",
                "--force",
                "--tenant",
                &waiting.uuid.to_string(),
                "--confirm-domain",
                confirm,
            ],
            true,
        )
    };
    let out = force("charlie.example.com");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--confirm-domain must be"),
        "{}",
        text(&out)
    );
    let out = force("BRAVO.example.com");
    assert!(out.status.success(), "{}", text(&out));
    // --force without --tenant is a usage error.
    let out = hub(&app, &["maintenance", "purge", "--force"], true);
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_prints_readable_times_and_why_each_key_is_kept_or_removed() {
    let dir = common::temp_keys_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let now = chrono::Utc::now().timestamp();
    let alg = tenant_hub::config::SigningAlg::EdDsa;
    use tenant_hub::auth::keys::generate_key;
    let ancient = generate_key(&dir, alg, now - 5_000).unwrap();
    let old = generate_key(&dir, alg, now - 2_000).unwrap();
    let current = generate_key(&dir, alg, now - 100).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
        .args(["keys", "rotate", "--activate-in-secs", "60"])
        .arg("--keys-dir")
        .arg(&dir)
        .env_remove("HUB_ACCESS_TOKEN_TTL_SECS")
        .env_remove("HUB_JWT_LEEWAY_SECS")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let printed = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    let line = |kid: &str| {
        printed
            .lines()
            .find(|l| l.contains(kid))
            .unwrap_or_else(|| panic!("no line for {kid}: {printed}"))
            .to_owned()
    };
    assert!(
        line(&ancient).contains("removed") && line(&ancient).contains("expired"),
        "{printed}"
    );
    let retired = line(&old);
    assert!(
        retired.contains("kept")
            && retired.contains("retired at")
            && retired.contains("verifies the tokens it signed until")
            && has_rfc3339(&retired),
        "{printed}"
    );
    assert!(line(&current).contains("signs new tokens now"), "{printed}");
    let done = printed.lines().last().unwrap();
    assert!(
        done.starts_with("done: new key") && has_rfc3339(done),
        "{printed}"
    );
    assert!(!printed.contains("unix time"), "{printed}");
    let new_kid = done
        .trim_start_matches("done: new key ")
        .split_whitespace()
        .next()
        .unwrap();
    assert!(
        line(&format!("kept {new_kid}")).contains("new: published now, signs from"),
        "{printed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_the_cause_of_a_database_failure() {
    let app = spawn_app().await;
    let db = app.db_name().to_owned();
    let out = hub(
        &app,
        &[
            "maintenance",
            "close-periods",
            "--app-database-url",
            // Nothing listens on port 1: the pools cannot connect.
            &format!("postgres://tenant_hub_app@127.0.0.1:1/{db}"),
            "--system-database-url",
            &format!("postgres://tenant_hub_system@127.0.0.1:1/{db}"),
            "--acquire-timeout-ms",
            "2000",
        ],
        true,
    );
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("database is unavailable") && err.contains("error connecting to server"),
        "the message and its cause: {}",
        text(&out)
    );
}

#[test]
fn admin_create_explains_its_email_flag() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
        .args(["admin", "create", "--help"])
        .output()
        .unwrap();
    let help = stdout(&out);
    let options = help
        .split("Options:")
        .nth(1)
        .unwrap_or_else(|| panic!("{help}"));
    let after_flag = options
        .split("--email <EMAIL>")
        .nth(1)
        .unwrap_or_else(|| panic!("{help}"));
    assert!(
        after_flag
            .trim_start()
            .starts_with("The admin's email address"),
        "{help}"
    );
}

/// The README's promise: the flags of settings are also their environment variables, listed
/// in its settings table; command arguments are flags only.
#[test]
fn every_setting_flag_has_its_environment_variable_in_the_readme_table() {
    use clap::CommandFactory;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table: std::collections::BTreeSet<String> = readme
        .split("## Settings")
        .nth(1)
        .unwrap()
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    // Arguments of one command, not settings.
    let command_args = [
        "out",
        "activate_in_secs",
        "email",
        "force",
        "tenant",
        "confirm_domain",
        "tenants",
        "users_per_tenant",
        "workspaces_per_tenant",
        "product",
        "redirect_uris",
        "public",
        "post_logout_redirect_uris",
        "backchannel_logout_uri",
        "status",
        "limit",
        "help",
        "version",
    ];
    let mut envs = std::collections::BTreeSet::new();
    let mut missing = Vec::new();
    fn walk(cmd: &clap::Command, path: &str, f: &mut dyn FnMut(&str, &clap::Arg)) {
        for arg in cmd.get_arguments() {
            f(path, arg);
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), f);
        }
    }
    walk(
        &tenant_hub::cli::Cli::command(),
        "tenant-hub",
        &mut |path, arg| match arg.get_env() {
            Some(env) => {
                envs.insert(env.to_string_lossy().into_owned());
            }
            None if command_args.contains(&arg.get_id().as_str()) => {}
            None => missing.push(format!("{path} --{}", arg.get_id())),
        },
    );
    assert!(
        missing.is_empty(),
        "setting flags without an environment variable: {missing:?}"
    );
    let undocumented: Vec<_> = envs.iter().filter(|e| !table.contains(*e)).collect();
    assert!(
        undocumented.is_empty(),
        "not in the README table: {undocumented:?}"
    );
    // Read by the code itself rather than by a flag.
    let not_flags: Vec<_> = table
        .iter()
        .filter(|v| !envs.contains(*v) && v.as_str() != "HUB_ADMIN_PASSWORD")
        .collect();
    assert!(
        not_flags.is_empty(),
        "in the table but no flag reads them: {not_flags:?}"
    );
    assert!(table.contains("HUB_ADMIN_PASSWORD"));
}

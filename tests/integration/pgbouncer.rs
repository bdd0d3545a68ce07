//! PgBouncer in transaction pooling mode in front of PostgreSQL: the tenant is set
//! transaction-locally, so a server connection shared by several clients never carries one
//! client's tenant into another's transaction; and the hub's operations work through it (with
//! the statement cache off, as PgBouncer 1.18 has no prepared-statement support).

use crate::common;

use std::{net::TcpListener, path::PathBuf, process::Command, time::Duration};

use common::{fresh_database, operation, start, temp_keys_dir, test_settings};
use serde_json::json;

struct Bouncer {
    dir: PathBuf,
    port: u16,
    child: std::process::Child,
}

impl Bouncer {
    /// `servers` server connections per database and user, shared by all clients.
    fn start(servers: usize) -> Bouncer {
        let bin = PathBuf::from("/usr/sbin/pgbouncer");
        assert!(
            bin.exists(),
            "PgBouncer is needed (apt-get install pgbouncer; `bash scripts/test.sh` installs it)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("hub-pgbouncer-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("users.txt"),
            "\"postgres\" \"\"\n\"tenant_hub_app\" \"\"\n\"tenant_hub_system\" \"\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host=127.0.0.1 port=5432\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 unix_socket_dir =\nauth_type = trust\nauth_file = {}\npool_mode = transaction\n\
                 default_pool_size = {servers}\nmax_client_conn = 200\nlogfile = {}\n",
                dir.join("users.txt").display(),
                dir.join("pgbouncer.log").display()
            ),
        )
        .unwrap();
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        if root {
            Command::new("chown")
                .args(["-R", "postgres:postgres", dir.to_str().unwrap()])
                .status()
                .unwrap();
        }
        let ini = dir.join("pgbouncer.ini").to_str().unwrap().to_owned();
        let child = if root {
            Command::new("runuser")
                .args(["-u", "postgres", "--", bin.to_str().unwrap(), &ini])
                .spawn()
        } else {
            Command::new(&bin).arg(&ini).spawn()
        }
        .unwrap();
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Bouncer { dir, port, child }
    }

    fn url(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-f", self.dir.to_str().unwrap()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_pgbouncer_a_shared_server_connection_never_carries_a_tenant_and_the_hub_works() {
    // One server connection, so every client shares it.
    let bouncer = Bouncer::start(1);
    let db = fresh_database().await;
    let name = db.name.clone();
    let keys = temp_keys_dir();
    let mut settings = test_settings(&name, &keys);
    settings.db.app_database_url = Some(bouncer.url("tenant_hub_app", &name));
    settings.db.system_database_url = Some(bouncer.url("tenant_hub_system", &name));
    settings.db.statement_cache = false;
    settings.db.listen_database_url =
        Some(format!("postgres://tenant_hub_app@127.0.0.1:5432/{name}"));
    let app = start(settings, db, keys).await;

    // The hub's operations, through PgBouncer.
    let a = app.signup("alpha").await;
    let b = app.signup("bravo").await;
    app.add_user(&a, "bob@alpha.example.com", &["member"]).await;
    for (query, path) in [
        (operation("TenantContextProducts"), "tenantContext"),
        (operation("MeWithRoles"), "me"),
        (operation("UsersWithRoles"), "users"),
        (operation("WorkspacesWithMembers"), "workspaces"),
        (operation("TenantIdName"), "tenant"),
    ] {
        let body = app.gql(Some(&a.token), query, json!({})).await;
        assert!(body["data"][path].is_object(), "{path}: {body}");
        assert!(body.get("errors").is_none(), "{path}: {body}");
    }
    let users = app
        .gql(Some(&a.token), operation("UserCount"), json!({}))
        .await;
    assert_eq!(
        users["data"]["users"]["totalCount"], 2,
        "A sees its two users, not B's"
    );

    // Two clients, one server connection (default_pool_size = 1): A's tenant, set in one
    // client's transaction, is gone for the next client's statements on the same server
    // connection. The simple protocol is used, as PgBouncer 1.18 requires.
    let first = common::connect(&bouncer.url("tenant_hub_app", &name)).await;
    let second = common::connect(&bouncer.url("tenant_hub_app", &name)).await;
    // The value of the last row the statements returned.
    let count = |rows: Vec<tokio_postgres::SimpleQueryMessage>| -> String {
        rows.into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            })
            .last()
            .unwrap()
    };
    let pid_first = count(
        first
            .simple_query(&format!(
                "BEGIN; SELECT set_config('app.tenant_id', '{}', true); SELECT pg_backend_pid(); ",
                a.uuid
            ))
            .await
            .unwrap(),
    );
    let seen = count(
        first
            .simple_query("SELECT count(*) FROM users; COMMIT;")
            .await
            .unwrap(),
    );
    assert_eq!(seen, "2");
    let pid_second = count(
        second
            .simple_query("SELECT pg_backend_pid()")
            .await
            .unwrap(),
    );
    assert_eq!(
        pid_first, pid_second,
        "both clients used the same server connection"
    );
    let leaked = count(
        second
            .simple_query("SELECT count(*) FROM users")
            .await
            .unwrap(),
    );
    assert_eq!(
        leaked, "0",
        "the next client sees nothing: no tenant is set"
    );
    let setting = count(
        second
            .simple_query("SELECT coalesce(current_setting('app.tenant_id', true), '')")
            .await
            .unwrap(),
    );
    assert_eq!(setting, "");
    let other = count(
        second
            .simple_query(&format!(
                "BEGIN; SELECT set_config('app.tenant_id', '{}', true); SELECT count(*) FROM users; COMMIT;",
                b.uuid
            ))
            .await
            .unwrap(),
    );
    assert_eq!(other, "1", "B sees its own owner only");
}

/// The hub's pool behind `bouncer`, as a deployment configures it (statement cache off).
fn pooled_behind(bouncer: &Bouncer, database: &str, pool_size: usize) -> tenant_hub::db::Db {
    let mut settings = common::db_settings(database);
    settings.app_database_url = Some(bouncer.url("tenant_hub_app", database));
    settings.system_database_url = Some(bouncer.url("tenant_hub_system", database));
    settings.statement_cache = false;
    settings.pool_size = pool_size;
    tenant_hub::db::Db::connect(&settings).unwrap()
}

/// `SELECT pg_sleep(seconds)` in a transaction of `tenant` on `db`.
async fn sleep_in_tenant(
    db: &tenant_hub::db::Db,
    tenant: uuid::Uuid,
    seconds: f64,
) -> tenant_hub::error::AppResult<()> {
    use tenant_hub::db::ScopedFutureExt;
    db.tenant_tx(tenant, move |conn| {
        async move {
            use diesel_async::RunQueryDsl;
            diesel::sql_query("SELECT pg_sleep($1)")
                .bind::<diesel::sql_types::Double, _>(seconds)
                .execute(conn)
                .await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_opened_at_once_through_pgbouncer_all_work() {
    // Fewer server connections than the pool opens: the set-up statements of new connections
    // interleave on the servers. diesel-async prepares its set-up statements, and outside a
    // transaction PgBouncer may hand a Parse and its Bind to different servers ("prepared
    // statement \"s12\" does not exist"): the hub opens connections inside one.
    let bouncer = Bouncer::start(3);
    let db = fresh_database().await;
    let tenant = uuid::Uuid::new_v4();
    for round in 0..4 {
        let pool = pooled_behind(&bouncer, &db.name, 24);
        let all = (0..24).map(|_| sleep_in_tenant(&pool, tenant, 0.01));
        let failed: Vec<String> = futures_util::future::join_all(all)
            .await
            .into_iter()
            .filter_map(|r| r.err().map(|e| format!("{e:?}")))
            .collect();
        assert!(
            failed.is_empty(),
            "round {round}: {} of 24 transactions failed: {:?}",
            failed.len(),
            failed.first()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_pgbouncer_the_statement_timeout_holds_whatever_the_server_connection_carries() {
    // One server connection. The hub's connection is set up on it; another client then sets
    // the server connection's session timeout off, which, in transaction pooling, stays on the
    // server connection for its next client. The hub's transactions set their own.
    let bouncer = Bouncer::start(1);
    let db = fresh_database().await;
    let mut settings = common::db_settings(&db.name);
    settings.app_database_url = Some(bouncer.url("tenant_hub_app", &db.name));
    settings.system_database_url = Some(bouncer.url("tenant_hub_system", &db.name));
    settings.statement_cache = false;
    settings.pool_size = 1;
    settings.statement_timeout_ms = 300;
    let pool = tenant_hub::db::Db::connect(&settings).unwrap();
    let tenant = uuid::Uuid::new_v4();
    sleep_in_tenant(&pool, tenant, 0.0).await.unwrap();

    let other = common::connect(&bouncer.url("tenant_hub_app", &db.name)).await;
    other
        .simple_query("SET statement_timeout = 0")
        .await
        .unwrap();
    let carried = other.simple_query("SHOW statement_timeout").await.unwrap();
    let carried: Vec<&str> = carried
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0),
            _ => None,
        })
        .collect();
    assert_eq!(
        carried,
        ["0"],
        "the server connection now carries no timeout"
    );

    let err = sleep_in_tenant(&pool, tenant, 3.0)
        .await
        .expect_err("a statement longer than HUB_DB_STATEMENT_TIMEOUT_MS is cancelled");
    assert!(
        format!("{err:?}").contains("statement timeout"),
        "cancelled by the statement timeout: {err:?}"
    );
}

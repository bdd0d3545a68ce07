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
    /// One server connection per database and user, so every client shares it.
    fn start() -> Bouncer {
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
                 default_pool_size = 1\nmax_client_conn = 100\nlogfile = {}\n",
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
    let bouncer = Bouncer::start();
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

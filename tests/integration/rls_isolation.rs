//! Lock 2 of DESIGN.md on its own: raw SQL as the application role sees and writes only the
//! tenant set in `app.tenant_id`, and nothing when none is set. The tables are found in
//! pg_catalog, so a new tenant table is covered without editing this file.

use crate::common;

use common::{TestApp, spawn_app};
use uuid::Uuid;

/// Every table with a tenant_id column, plus `tenants` itself (keyed by id).
async fn tenant_tables(app: &TestApp) -> Vec<(String, String)> {
    let su = app.superuser().await;
    let rows = su
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut tables: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.get(0), "tenant_id".to_owned()))
        .collect();
    assert!(
        tables.len() >= 10,
        "expected the tenant tables, found {tables:?}"
    );
    tables.push(("tenants".to_owned(), "id".to_owned()));
    tables
}

/// Two tenants with a row in every tenant table that the API does not fill at sign-up.
pub(crate) async fn two_tenants(app: &TestApp) -> (Uuid, Uuid) {
    let a = app.signup("alpha").await;
    let b = app.signup("beta").await;
    let su = app.superuser().await;
    let oauth_client = Uuid::new_v4();
    su.execute(
        "INSERT INTO oauth_clients (id, product_id, public, redirect_uris, allowed_scopes,
             token_endpoint_auth_method) VALUES ($1, 'crm', true, '{https://crm.example.com/cb}',
             '{openid}', 'none')",
        &[&oauth_client],
    )
    .await
    .unwrap();
    for t in [&a, &b] {
        su.execute(
            "INSERT INTO oauth_codes (tenant_id, code_hash, client_id, session_id, user_id,
                 redirect_uri, code_challenge, scope, expires_at)
             SELECT tenant_id, gen_random_uuid()::text::bytea, $2, id, user_id,
                 'https://crm.example.com/cb', 'c', 'openid', now()
             FROM sessions WHERE tenant_id = $1 LIMIT 1",
            &[&t.uuid, &oauth_client],
        )
        .await
        .unwrap();
        su.execute(
            "INSERT INTO oauth_session_clients (tenant_id, session_id, client_id)
             SELECT tenant_id, id, $2 FROM sessions WHERE tenant_id = $1 LIMIT 1",
            &[&t.uuid, &oauth_client],
        )
        .await
        .unwrap();
        su.batch_execute(&format!(
            "INSERT INTO backchannel_logouts (tenant_id, id, session_id, user_id, client_id, uri)
                 SELECT tenant_id, '{2}', id, user_id, '{1}', 'https://crm.example.com/bc'
                 FROM sessions WHERE tenant_id = '{0}' LIMIT 1;
             INSERT INTO backchannel_logout_attempts (tenant_id, logout_id, attempt, outcome)
                 VALUES ('{0}', '{2}', 1, 'delivered');",
            t.uuid,
            oauth_client,
            Uuid::new_v4()
        ))
        .await
        .unwrap();
        su.execute(
            "INSERT INTO workspace_members (tenant_id, workspace_id, user_id)
             SELECT tenant_id, id, $2 FROM workspaces WHERE tenant_id = $1",
            &[&t.uuid, &t.owner_uuid],
        )
        .await
        .unwrap();
        su.execute(
            "INSERT INTO user_product_access (tenant_id, user_id, product_id, access) VALUES ($1, $2, 'crm', 'limited')",
            &[&t.uuid, &t.owner_uuid],
        )
        .await
        .unwrap();
        su.execute(
            "INSERT INTO user_tokens (tenant_id, token_hash, user_id, purpose, expires_at)
             VALUES ($1, gen_random_uuid()::text::bytea, $2, 'password_reset', now() + interval '1 hour')",
            &[&t.uuid, &t.owner_uuid],
        )
        .await
        .unwrap();
        su.execute(
            "INSERT INTO integrations (tenant_id, name) VALUES ($1, 'slack')",
            &[&t.uuid],
        )
        .await
        .unwrap();
        su.batch_execute(&format!(
            "INSERT INTO api_keys (tenant_id, id, product_id, name, key_hash)
                 VALUES ('{0}', gen_random_uuid(), 'crm', 'k', gen_random_uuid()::text::bytea);
             INSERT INTO usage_counters (tenant_id, metric, day, value)
                 VALUES ('{0}', 'api_calls', current_date, 5);
             INSERT INTO storage_reports (tenant_id, product_id, bytes) VALUES ('{0}', 'crm', 5);
             INSERT INTO alerts (tenant_id, id, metric, threshold, period_start, used, quota)
                 VALUES ('{0}', '{1}', 'users', 80, current_date, 8, 10);
             INSERT INTO webhook_deliveries (tenant_id, id, alert_id, attempt, status_code)
                 VALUES ('{0}', gen_random_uuid(), '{1}', 1, 200);
             INSERT INTO billing_events (tenant_id, id, kind, payload)
                 VALUES ('{0}', gen_random_uuid(), 'plan_changed', '{{}}');
             INSERT INTO mfa_factors (tenant_id, id, user_id, kind, label, secret_ciphertext)
                 VALUES ('{0}', gen_random_uuid(), '{2}', 'totp', 'app', 'x'::bytea);
             INSERT INTO mfa_factors (tenant_id, id, user_id, kind, label, secret_ciphertext)
                 VALUES ('{0}', '{5}', '{2}', 'passkey', 'key', ''::bytea);
             INSERT INTO mfa_passkeys (tenant_id, factor_id, user_id, credential_id, passkey)
                 VALUES ('{0}', '{5}', '{2}', gen_random_uuid()::text::bytea, '{{}}');
             INSERT INTO mfa_passkey_ceremonies (tenant_id, id, binding_hash, purpose, state, expires_at)
                 VALUES ('{0}', gen_random_uuid(), 'b'::bytea, 'passwordless', '{{}}', now());
             INSERT INTO mfa_recovery_codes (tenant_id, user_id, code_hash)
                 VALUES ('{0}', '{2}', gen_random_uuid()::text::bytea);
             INSERT INTO mfa_challenges (tenant_id, token_hash, user_id, purpose, amr, expires_at)
                 VALUES ('{0}', gen_random_uuid()::text::bytea, '{2}', 'verify', 'pwd', now());
             INSERT INTO mfa_policies (tenant_id, require_mfa) VALUES ('{0}', 'off');
             INSERT INTO mail_attempts (tenant_id, mail_id, attempt, outcome)
                 SELECT tenant_id, id, 1, 'sent' FROM mail_outbox WHERE tenant_id = '{0}' LIMIT 1;
             INSERT INTO tenant_domains (tenant_id, id, domain, state, challenge)
                 VALUES ('{0}', '{3}', 'sso-{0}.test', 'verified', 'c');
             INSERT INTO identity_providers (tenant_id, id, name, issuer, client_id, client_secret_ciphertext, metadata)
                 VALUES ('{0}', '{4}', 'idp', 'https://idp.example.com', 'c', '\\x00', '{{}}');
             INSERT INTO identity_provider_domains (tenant_id, domain_id, provider_id)
                 VALUES ('{0}', '{3}', '{4}');
             INSERT INTO sso_sign_ins (tenant_id, id, provider_id, state_hash, browser_hash, nonce, pkce_verifier, return_to, expires_at)
                 VALUES ('{0}', gen_random_uuid(), '{4}', gen_random_uuid()::text::bytea, 'b'::bytea, 'n', 'v', '/', now());
             INSERT INTO external_identities (tenant_id, id, provider_id, subject, user_id, email)
                 VALUES ('{0}', gen_random_uuid(), '{4}', 'sub', '{2}', 'e@x.test');
             INSERT INTO federated_sessions (tenant_id, session_id, provider_id)
                 SELECT tenant_id, id, '{4}' FROM sessions WHERE tenant_id = '{0}' LIMIT 1;",
            t.uuid,
            Uuid::new_v4(),
            t.owner_uuid,
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4()
        ))
        .await
        .unwrap();
    }
    (a.uuid, b.uuid)
}

fn db_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}

async fn count_as_app(
    client: &tokio_postgres::Client,
    tenant: Option<Uuid>,
    table: &str,
    key: &str,
) -> (i64, i64) {
    client.batch_execute("BEGIN").await.unwrap();
    if let Some(t) = tenant {
        client
            .execute(
                "SELECT set_config('app.tenant_id', $1, true)",
                &[&t.to_string()],
            )
            .await
            .unwrap();
    }
    let mine = tenant.unwrap_or_default();
    let row = client
        .query_one(
            &format!("SELECT count(*), count(*) FILTER (WHERE {key} <> $1) FROM {table}"),
            &[&mine],
        )
        .await
        .unwrap();
    client.batch_execute("COMMIT").await.unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_sees_only_the_tenant_set_in_every_tenant_table() {
    let app = spawn_app().await;
    let (a, b) = two_tenants(&app).await;
    let su = app.superuser().await;
    let client = app.app_role().await;
    for (table, key) in tenant_tables(&app).await {
        let total_a: i64 = su
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE {key} = $1"),
                &[&a],
            )
            .await
            .unwrap()
            .get(0);
        let total_b: i64 = su
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE {key} = $1"),
                &[&b],
            )
            .await
            .unwrap()
            .get(0);
        let (seen, foreign) = count_as_app(&client, Some(a), &table, &key).await;
        assert_eq!(
            foreign, 0,
            "{table}: tenant A's transaction saw rows of another tenant"
        );
        assert_eq!(
            seen, total_a,
            "{table}: tenant A's transaction must see all of A's rows"
        );
        // Without rows of B the check above proves nothing: a new tenant table needs fixture
        // rows in two_tenants().
        assert!(
            total_b > 0,
            "{table}: the fixture must give tenant B rows too"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_sees_nothing_when_no_tenant_is_set() {
    let app = spawn_app().await;
    two_tenants(&app).await;
    let client = app.app_role().await;
    for (table, key) in tenant_tables(&app).await {
        let (seen, _) = count_as_app(&client, None, &table, &key).await;
        assert_eq!(seen, 0, "{table}: rows visible without a tenant");
    }
    // Outside any transaction, too.
    let n: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_cannot_write_another_tenants_rows() {
    let app = spawn_app().await;
    let (a, b) = two_tenants(&app).await;
    let client = app.app_role().await;
    client.batch_execute("BEGIN").await.unwrap();
    client
        .execute(
            "SELECT set_config('app.tenant_id', $1, true)",
            &[&a.to_string()],
        )
        .await
        .unwrap();

    // UPDATE and DELETE do not reach B's rows.
    let updated = client
        .execute(
            "UPDATE users SET display_name = 'pwned' WHERE tenant_id = $1",
            &[&b],
        )
        .await
        .unwrap();
    assert_eq!(updated, 0);
    let deleted = client
        .execute("DELETE FROM workspaces WHERE tenant_id = $1", &[&b])
        .await
        .unwrap();
    assert_eq!(deleted, 0);

    // INSERT of a row of B is refused by WITH CHECK.
    client.batch_execute("SAVEPOINT s").await.unwrap();
    let err = client
        .execute(
            "INSERT INTO workspaces (tenant_id, name, slug) VALUES ($1, 'x', 'x')",
            &[&b],
        )
        .await
        .unwrap_err();
    assert!(db_message(&err).contains("row-level security"), "{err:?}");
    client
        .batch_execute("ROLLBACK TO SAVEPOINT s")
        .await
        .unwrap();

    // Moving one of A's rows to B is refused too.
    let err = client
        .execute(
            "UPDATE workspaces SET tenant_id = $1 WHERE tenant_id = $2",
            &[&b, &a],
        )
        .await
        .unwrap_err();
    assert!(db_message(&err).contains("row-level security"), "{err:?}");
    client.batch_execute("ROLLBACK").await.unwrap();

    let su = app.superuser().await;
    let pwned: i64 = su
        .query_one(
            "SELECT count(*) FROM users WHERE display_name = 'pwned'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pwned, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_forgets_its_tenant_after_the_transaction() {
    let app = spawn_app().await;
    let (a, _) = two_tenants(&app).await;
    // One connection, so the second checkout is the same connection as the first.
    let mut settings = common::db_settings(app.db_name());
    settings.pool_size = 1;
    let db = tenant_hub::db::Db::connect(&settings).unwrap();
    use tenant_hub::db::ScopedFutureExt;
    let seen_in_tx: i64 = db
        .tenant_tx(a, |conn| {
            async move {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use tenant_hub::db::schema::users;
                Ok(users::table.count().get_result::<i64>(conn).await?)
            }
            .scope_boxed()
        })
        .await
        .unwrap();
    assert_eq!(seen_in_tx, 1);
    let mut conn = db.connection().await.unwrap();
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let after: Count = diesel::sql_query("SELECT count(*) AS n FROM users")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(after.n, 0, "the next checkout must not carry the tenant");
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        v: Option<String>,
    }
    let s: Setting = diesel::sql_query("SELECT current_setting('app.tenant_id', true) AS v")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(s.v.unwrap_or_default(), "");
}

/// Rows of `tenant` in every tenant table, counted by the superuser.
async fn rows_of(app: &TestApp, tenant: Uuid) -> i64 {
    let su = app.superuser().await;
    let mut total = 0;
    for (table, key) in tenant_tables(app).await {
        let n: i64 = su
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE {key} = $1"),
                &[&tenant],
            )
            .await
            .unwrap()
            .get(0);
        total += n;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_transaction_cannot_purge_a_deactivated_tenant() {
    let app = spawn_app().await;
    let (a, b) = two_tenants(&app).await;
    app.superuser()
        .await
        .execute(
            "UPDATE tenants SET status = 'deactivated', deactivated_at = now() WHERE id = $1",
            &[&b],
        )
        .await
        .unwrap();
    let before = rows_of(&app, b).await;
    let client = app.app_role().await;
    // In tenant A's transaction, in B's own, and with no scope at all.
    for scope in [Some(a), Some(b), None] {
        client.batch_execute("BEGIN").await.unwrap();
        if let Some(t) = scope {
            client
                .execute(
                    "SELECT set_config('app.tenant_id', $1, true)",
                    &[&t.to_string()],
                )
                .await
                .unwrap();
        }
        let err = client
            .query_one("SELECT public.hub_purge_tenant($1)", &[&b])
            .await
            .unwrap_err();
        let message = db_message(&err);
        assert!(
            message.contains("system scope only") || message.contains("permission denied"),
            "{scope:?}: {err:?}"
        );
        client.batch_execute("ROLLBACK").await.unwrap();
    }
    assert_eq!(rows_of(&app, b).await, before, "nothing of B was deleted");
    let status: String = app
        .superuser()
        .await
        .query_one("SELECT status FROM tenants WHERE id = $1", &[&b])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "deactivated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_can_create_no_temporary_or_public_objects() {
    let app = spawn_app().await;
    let client = app.app_role().await;
    for sql in [
        "CREATE TEMP TABLE tenants (id uuid)",
        "CREATE TEMP VIEW shadow AS SELECT 1",
        "CREATE TABLE public.shadow (id uuid)",
        "CREATE FUNCTION public.shadow() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA shadow",
    ] {
        let err = client.batch_execute(sql).await.unwrap_err();
        assert!(
            db_message(&err).contains("permission denied"),
            "{sql}: {err:?}"
        );
    }
}

/// A connection as the system role (the system scope's pool logs in with it).
async fn system_role(app: &TestApp) -> tokio_postgres::Client {
    common::connect(&app.state.settings.db.system_url().unwrap()).await
}

/// Rows of every tenant table (and the platform tables) seen in one transaction of `client`
/// after `setup`.
async fn seen_after(
    client: &tokio_postgres::Client,
    app: &TestApp,
    setup: &str,
) -> Vec<(String, i64)> {
    let mut tables: Vec<String> = tenant_tables(app)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    tables.extend([
        "platform_admins".to_owned(),
        "platform_admin_totp".to_owned(),
        "platform_audit_log".to_owned(),
    ]);
    client.batch_execute("BEGIN").await.unwrap();
    client.batch_execute(setup).await.unwrap();
    let mut seen = Vec::new();
    for table in tables {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        seen.push((table, n));
    }
    client.batch_execute("ROLLBACK").await.unwrap();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_role_gains_nothing_by_setting_the_system_scope() {
    let app = spawn_app().await;
    let (a, b) = two_tenants(&app).await;
    app.platform_admin("root@hub.example.com").await;
    // The admin's (sealed) authenticator: a platform table the tenant role must not read.
    app.superuser()
        .await
        .batch_execute(
            "INSERT INTO platform_admin_totp (admin_id, secret_ciphertext) \
             SELECT id, '\\x00' FROM platform_admins",
        )
        .await
        .unwrap();
    let tenant_role = app.app_role().await;

    // The system scope alone: nothing, in every tenant table and platform table.
    let seen = seen_after(
        &tenant_role,
        &app,
        "SELECT set_config('app.scope', 'system', true)",
    )
    .await;
    let visible: Vec<_> = seen.iter().filter(|(_, n)| *n > 0).collect();
    assert!(visible.is_empty(), "the tenant role saw {visible:?}");

    // With its tenant set too: that tenant's rows only, as without the system scope.
    tenant_role.batch_execute("BEGIN").await.unwrap();
    tenant_role
        .execute(
            "SELECT set_config('app.tenant_id', $1, true), set_config('app.scope', 'system', true)",
            &[&a.to_string()],
        )
        .await
        .unwrap();
    let foreign: i64 = tenant_role
        .query_one("SELECT count(*) FROM users WHERE tenant_id <> $1", &[&a])
        .await
        .unwrap()
        .get(0);
    assert_eq!(foreign, 0, "rows of another tenant");
    let updated = tenant_role
        .execute(
            "UPDATE users SET display_name = 'pwned' WHERE tenant_id = $1",
            &[&b],
        )
        .await
        .unwrap();
    assert_eq!(updated, 0);
    tenant_role.batch_execute("ROLLBACK").await.unwrap();

    // The purge is not even callable.
    tenant_role
        .batch_execute("BEGIN; SELECT set_config('app.scope', 'system', true)")
        .await
        .unwrap();
    let err = tenant_role
        .query_one("SELECT public.hub_purge_tenant($1)", &[&b])
        .await
        .unwrap_err();
    assert!(db_message(&err).contains("permission denied"), "{err:?}");
    tenant_role.batch_execute("ROLLBACK").await.unwrap();

    // The system role in the system scope sees every tenant (and the platform admin).
    let system = system_role(&app).await;
    let seen = seen_after(
        &system,
        &app,
        "SELECT set_config('app.scope', 'system', true)",
    )
    .await;
    let users = seen.iter().find(|(t, _)| t == "users").unwrap().1;
    assert_eq!(users, 2, "both tenants' owners");
    let admins = seen.iter().find(|(t, _)| t == "platform_admins").unwrap().1;
    assert_eq!(admins, 1);
    let totp = seen
        .iter()
        .find(|(t, _)| t == "platform_admin_totp")
        .unwrap()
        .1;
    assert_eq!(totp, 1, "the system scope reads the admin's authenticator");
    // And, without the scope, only what a tenant transaction sees.
    let (mine, foreign) = count_as_app(&system, Some(a), "users", "tenant_id").await;
    assert_eq!((mine, foreign), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_role_purges_only_in_the_system_scope() {
    let app = spawn_app().await;
    let (a, b) = two_tenants(&app).await;
    app.superuser()
        .await
        .execute(
            "UPDATE tenants SET status = 'deactivated', deactivated_at = now() WHERE id = $1",
            &[&b],
        )
        .await
        .unwrap();
    let system = system_role(&app).await;
    for setup in [
        format!("SELECT set_config('app.tenant_id', '{a}', true)"),
        "SELECT 1".to_owned(),
    ] {
        system.batch_execute("BEGIN").await.unwrap();
        system.batch_execute(&setup).await.unwrap();
        let err = system
            .query_one("SELECT public.hub_purge_tenant($1)", &[&b])
            .await
            .unwrap_err();
        assert!(
            db_message(&err).contains("system scope only"),
            "{setup}: {err:?}"
        );
        system.batch_execute("ROLLBACK").await.unwrap();
    }
    system
        .batch_execute("BEGIN; SELECT set_config('app.scope', 'system', true)")
        .await
        .unwrap();
    let deleted: i64 = system
        .query_one("SELECT public.hub_purge_tenant($1)", &[&b])
        .await
        .unwrap()
        .get(0);
    system.batch_execute("COMMIT").await.unwrap();
    assert!(deleted > 10, "{deleted}");
    assert_eq!(rows_of(&app, b).await, 1, "the tombstone only");
    assert!(rows_of(&app, a).await > 10, "A is untouched");
}

/// The resolvers' read path (`TenantScope::tx` → `Db::tenant_read_tx`) is a READ ONLY
/// transaction: PostgreSQL refuses a write made through it, and it costs the same statements
/// as a read-write one (READ ONLY travels in the BEGIN batch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_path_refuses_writes_at_no_extra_statement() {
    let app = spawn_app().await;
    let (a, _) = two_tenants(&app).await;
    let db = &app.state.db;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use tenant_hub::db::{ScopedFutureExt, schema::users};
    let count = |read_only: bool| async move {
        let before = db.statements_executed();
        let n = match read_only {
            true => db
                .tenant_read_tx(a, |conn| {
                    async move { Ok(users::table.count().get_result::<i64>(conn).await?) }
                        .scope_boxed()
                })
                .await
                .unwrap(),
            false => db
                .tenant_tx(a, |conn| {
                    async move { Ok(users::table.count().get_result::<i64>(conn).await?) }
                        .scope_boxed()
                })
                .await
                .unwrap(),
        };
        (n, db.statements_executed() - before)
    };
    let (n_rw, statements_rw) = count(false).await;
    let (n_ro, statements_ro) = count(true).await;
    assert_eq!((n_ro, n_rw), (1, 1), "the read path sees the tenant's rows");
    assert_eq!(statements_ro, statements_rw, "READ ONLY costs no statement");

    let refused = db
        .tenant_read_tx(a, |conn| {
            async move {
                Ok(diesel::update(users::table)
                    .set(users::display_name.eq("written-through-a-read"))
                    .execute(conn)
                    .await?)
            }
            .scope_boxed()
        })
        .await
        .expect_err("a write through the read path must be refused");
    assert!(
        format!("{refused:?}").contains("read-only transaction"),
        "PostgreSQL refuses it as a write in a read-only transaction: {refused:?}"
    );
    let su = app.superuser().await;
    let written: i64 = su
        .query_one(
            "SELECT count(*) FROM users WHERE display_name = 'written-through-a-read'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(written, 0);
}

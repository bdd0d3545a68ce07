//! The isolation rules of DESIGN.md, read from pg_catalog of a migrated database. Tables are
//! discovered, not listed, so a new table is held to the rules without editing this file.

use crate::common;

use common::fresh_database;
use tenant_hub::config::{DEFAULT_APP_ROLE, DEFAULT_SYSTEM_ROLE};

async fn catalog() -> (common::TestDb, tokio_postgres::Client) {
    let db = fresh_database().await;
    let client = common::superuser(&db.name).await;
    (db, client)
}

async fn strings(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

const TENANT_TABLES: &str = "
    SELECT c.oid, c.relname::text AS name FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenant_table_has_rls_enabled_forced_and_the_one_tenant_policy() {
    let (_db, c) = catalog().await;
    // One permissive policy bounding the tenant key by the transaction's scope (migration
    // 0005): a second permissive policy would be ORed with it and defeat the indexes.
    let bad = strings(
        &c,
        &format!(
            "WITH t AS ({TENANT_TABLES} UNION SELECT 'tenants'::regclass::oid, 'tenants')
             SELECT t.name FROM t JOIN pg_class c ON c.oid = t.oid
             WHERE NOT c.relrowsecurity OR NOT c.relforcerowsecurity
                OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = t.oid AND p.polname = 'tenant_isolation'
                       AND p.polcmd = '*' AND p.polpermissive
                       AND pg_get_expr(p.polqual, p.polrelid) LIKE '%hub_scope_first()%hub_scope_last()%'
                       AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%hub_scope_first()%hub_scope_last()%')
                OR (SELECT count(*) FROM pg_policy p WHERE p.polrelid = t.oid) <> 1"
        ),
    )
    .await;
    assert!(
        bad.is_empty(),
        "tables without forced RLS and exactly the tenant_isolation policy: {bad:?}"
    );
}

/// A tenant transaction's queries are served by the indexes leading with tenant_id: with
/// sequential scans priced out, no tenant table plans one. (Two ORed policies, as before
/// migration 0005, leave the planner nothing but a sequential scan of every tenant's rows.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_query_is_served_by_an_index_on_tenant_id() {
    let (_db, c) = catalog().await;
    let tables = strings(
        &c,
        &format!("SELECT name FROM ({TENANT_TABLES}) t UNION SELECT 'tenants' ORDER BY 1"),
    )
    .await;
    assert!(tables.len() > 10, "{tables:?}");
    // The superuser takes the application role for the transaction: RLS applies.
    let app = &c;
    app.batch_execute(&format!(
        "BEGIN; SET LOCAL ROLE {DEFAULT_APP_ROLE}; \
         SELECT set_config('app.tenant_id', gen_random_uuid()::text, true); \
         SET LOCAL enable_seqscan = off"
    ))
    .await
    .unwrap();
    let mut scanned = Vec::new();
    for table in &tables {
        let plan: Vec<String> = app
            .query(&format!("EXPLAIN SELECT * FROM {table}"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        if plan.iter().any(|l| l.contains("Seq Scan")) {
            scanned.push(format!("{table}: {}", plan.join(" / ")));
        }
    }
    app.batch_execute("ROLLBACK").await.unwrap();
    assert!(scanned.is_empty(), "sequential scans: {scanned:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_has_rls_or_is_a_declared_global_catalog() {
    let (_db, c) = catalog().await;
    // Global tables readable by the app in any scope. Everything else must use RLS.
    let allowed = ["products", "plans", "__diesel_schema_migrations"];
    let unprotected = strings(
        &c,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
    )
    .await;
    let unexpected: Vec<_> = unprotected
        .iter()
        .filter(|t| !allowed.contains(&t.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "tables without forced RLS: {unexpected:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenant_table_keys_and_indexes_lead_with_tenant_id() {
    let (_db, c) = catalog().await;
    let tenant_id_not_null = strings(
        &c,
        &format!(
            "SELECT t.name FROM ({TENANT_TABLES}) t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = 'tenant_id'
             WHERE NOT a.attnotnull OR a.atttypid <> 'uuid'::regtype"
        ),
    )
    .await;
    assert!(
        tenant_id_not_null.is_empty(),
        "tenant_id must be uuid NOT NULL: {tenant_id_not_null:?}"
    );

    let no_fk_to_tenants = strings(
        &c,
        &format!(
            "SELECT t.name FROM ({TENANT_TABLES}) t WHERE NOT EXISTS (
                SELECT 1 FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
                WHERE k.conrelid = t.oid AND k.contype = 'f' AND k.confrelid = 'tenants'::regclass
                  AND a.attname = 'tenant_id' AND array_length(k.conkey, 1) = 1)"
        ),
    )
    .await;
    assert!(
        no_fk_to_tenants.is_empty(),
        "tenant_id without a foreign key to tenants: {no_fk_to_tenants:?}"
    );

    let pk_without_tenant = strings(
        &c,
        &format!(
            "SELECT t.name FROM ({TENANT_TABLES}) t WHERE NOT EXISTS (
                SELECT 1 FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
                WHERE k.conrelid = t.oid AND k.contype = 'p' AND a.attname = 'tenant_id')"
        ),
    )
    .await;
    assert!(
        pk_without_tenant.is_empty(),
        "primary keys without tenant_id: {pk_without_tenant:?}"
    );

    let unique_without_tenant = strings(
        &c,
        &format!(
            "SELECT t.name || '.' || i.indexrelid::regclass::text FROM ({TENANT_TABLES}) t
             JOIN pg_index i ON i.indrelid = t.oid AND i.indisunique
             WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid
                               AND a.attname = 'tenant_id' AND a.attnum = ANY (i.indkey::int2[]))"
        ),
    )
    .await;
    assert!(
        unique_without_tenant.is_empty(),
        "unique indexes without tenant_id: {unique_without_tenant:?}"
    );

    let index_not_leading = strings(
        &c,
        &format!(
            "SELECT t.name || '.' || i.indexrelid::regclass::text FROM ({TENANT_TABLES}) t
             JOIN pg_index i ON i.indrelid = t.oid
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = 'tenant_id'
             WHERE i.indkey[0] <> a.attnum"
        ),
    )
    .await;
    assert!(
        index_not_leading.is_empty(),
        "indexes not led by tenant_id: {index_not_leading:?}"
    );

    let fk_without_tenant = strings(
        &c,
        &format!(
            "SELECT t.name || ' -> ' || k.confrelid::regclass::text FROM ({TENANT_TABLES}) t
             JOIN pg_constraint k ON k.conrelid = t.oid AND k.contype = 'f'
             WHERE k.confrelid IN (SELECT oid FROM ({TENANT_TABLES}) tt)
               AND NOT EXISTS (SELECT 1 FROM pg_attribute a, pg_attribute r
                               WHERE a.attrelid = t.oid AND a.attname = 'tenant_id' AND a.attnum = k.conkey[1]
                                 AND r.attrelid = k.confrelid AND r.attname = 'tenant_id' AND r.attnum = k.confkey[1])"
        ),
    )
    .await;
    assert!(
        fk_without_tenant.is_empty(),
        "foreign keys between tenant tables not matching tenant_id to tenant_id: {fk_without_tenant:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_and_system_roles_are_plain_own_nothing_and_cannot_truncate() {
    let (_db, c) = catalog().await;
    for role in [DEFAULT_APP_ROLE, DEFAULT_SYSTEM_ROLE] {
        login_role_is_plain(&c, role).await;
    }
    // Only the system role's settings open the system scope.
    let member = c
        .query_one(
            "SELECT pg_has_role($1, $3, 'MEMBER'), pg_has_role($2, $3, 'MEMBER')",
            &[
                &DEFAULT_APP_ROLE,
                &DEFAULT_SYSTEM_ROLE,
                &tenant_hub::db::bootstrap::SYSTEM_SCOPE_ROLE,
            ],
        )
        .await
        .unwrap();
    assert!(
        !member.get::<_, bool>(0),
        "the app role may enter the system scope"
    );
    assert!(
        member.get::<_, bool>(1),
        "the system role must enter the system scope"
    );
}

async fn login_role_is_plain(c: &tokio_postgres::Client, role: &str) {
    let attrs = c
        .query_one(
            "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1",
            &[&role],
        )
        .await
        .unwrap();
    assert!(!attrs.get::<_, bool>(0), "{role} must not be superuser");
    assert!(!attrs.get::<_, bool>(1), "{role} must not have BYPASSRLS");
    assert!(attrs.get::<_, bool>(2), "{role} must log in");
    let owned = strings(
        c,
        &format!(
            "SELECT c.relname::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE r.rolname = '{role}' AND n.nspname = 'public'"
        ),
    )
    .await;
    assert!(owned.is_empty(), "{role} owns {owned:?}");
    let truncatable = strings(
        c,
        &format!(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
               AND has_table_privilege('{role}', c.oid, 'TRUNCATE')"
        ),
    )
    .await;
    assert!(
        truncatable.is_empty(),
        "{role} may TRUNCATE {truncatable:?}"
    );
    let audit_writable = strings(
        c,
        &format!(
            "SELECT t FROM unnest(ARRAY['audit_log', 'platform_audit_log']) t
             WHERE has_table_privilege('{role}', t, 'UPDATE') OR has_table_privilege('{role}', t, 'DELETE')"
        ),
    )
    .await;
    assert!(
        audit_writable.is_empty(),
        "audit logs must be append-only for {role}: {audit_writable:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_view_bypasses_rls_and_no_security_definer_function_has_a_loose_search_path() {
    let (_db, c) = catalog().await;
    let views = strings(
        &c,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
           AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)",
    )
    .await;
    assert!(
        views.is_empty(),
        "views without security_invoker (they would run as their owner, past RLS): {views:?}"
    );
    let functions = strings(
        &c,
        "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.prosecdef
           AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) s WHERE s LIKE 'search_path=%')",
    )
    .await;
    assert!(
        functions.is_empty(),
        "SECURITY DEFINER functions without a pinned search_path: {functions:?}"
    );
}

/// Every down migration undoes its up migration: reverting them all leaves no table, type or
/// function of ours, and applying them again gives the same tables and policies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_migration_reverts_cleanly_and_applies_again() {
    use diesel_async::{AsyncPgConnection, async_connection_wrapper::AsyncConnectionWrapper};
    use diesel_migrations::MigrationHarness;
    use tenant_hub::db::bootstrap::MIGRATIONS;

    let db = fresh_database().await;
    let su = common::superuser(&db.name).await;
    let shape = "SELECT (SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables
                         WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations'),
                        (SELECT string_agg(tablename || '.' || policyname, ',' ORDER BY tablename, policyname)
                         FROM pg_policies WHERE schemaname = 'public'),
                        (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                         WHERE n.nspname = 'public')";
    let before = su.query_one(shape, &[]).await.unwrap();
    let before: (Option<String>, Option<String>, i64) =
        (before.get(0), before.get(1), before.get(2));
    assert!(before.0.is_some() && before.1.is_some());

    let url = common::db_url(&db.name);
    let (reverted, reapplied) = tokio::task::spawn_blocking(move || {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)
                .unwrap();
        let reverted = conn.revert_all_migrations(MIGRATIONS).unwrap().len();
        let (tables, functions): (i64, i64) = diesel::RunQueryDsl::get_result(
            diesel::dsl::select((
                diesel::dsl::sql::<diesel::sql_types::BigInt>(
                    "(SELECT count(*) FROM pg_tables WHERE schemaname = 'public' \
                      AND tablename <> '__diesel_schema_migrations')",
                ),
                diesel::dsl::sql::<diesel::sql_types::BigInt>(
                    "(SELECT count(*) FROM pg_proc p JOIN pg_namespace n \
                      ON n.oid = p.pronamespace WHERE n.nspname = 'public')",
                ),
            )),
            &mut conn,
        )
        .unwrap();
        assert_eq!(
            (tables, functions),
            (0, 0),
            "the down migrations leave nothing"
        );
        let reapplied = conn.run_pending_migrations(MIGRATIONS).unwrap().len();
        (reverted, reapplied)
    })
    .await
    .unwrap();
    assert!(reverted > 0);
    assert_eq!(reverted, reapplied);
    let after = su.query_one(shape, &[]).await.unwrap();
    let after: (Option<String>, Option<String>, i64) = (after.get(0), after.get(1), after.get(2));
    assert_eq!(after, before);
}

/// hub_purge_tenant is SECURITY DEFINER: it runs as a NOLOGIN role that is not a superuser,
/// cannot bypass RLS and may do only what the purge does, with a search_path where nothing a
/// caller creates comes first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_function_runs_as_a_plain_role_with_a_pinned_search_path() {
    let (_db, c) = catalog().await;
    let f = c
        .query_one(
            "SELECT p.prosecdef, r.rolname::text, r.rolsuper, r.rolbypassrls, r.rolcanlogin,
                    coalesce(p.proconfig, '{}')
             FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
             WHERE p.oid = 'public.hub_purge_tenant(uuid)'::regprocedure",
            &[],
        )
        .await
        .unwrap();
    assert!(f.get::<_, bool>(0), "SECURITY DEFINER");
    let owner: String = f.get(1);
    assert_eq!(owner, tenant_hub::db::bootstrap::PURGE_ROLE);
    assert!(!f.get::<_, bool>(2), "the owner must not be superuser");
    assert!(!f.get::<_, bool>(3), "the owner must not have BYPASSRLS");
    assert!(!f.get::<_, bool>(4), "the owner must not log in");
    let config: Vec<String> = f.get(5);
    assert_eq!(config, vec!["search_path=pg_catalog, pg_temp".to_owned()]);
    // Its privileges: SELECT and DELETE in the tenant tables, UPDATE of tenants, nothing else.
    let extra = strings(
        &c,
        &format!(
            "WITH t AS ({TENANT_TABLES})
             SELECT c.relname::text || ' ' || p.privilege FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
             CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(privilege)
             WHERE c.relkind IN ('r', 'p', 'v', 'm')
               AND has_table_privilege('{owner}', c.oid, p.privilege)
               AND NOT (c.oid IN (SELECT oid FROM t) AND p.privilege IN ('SELECT', 'DELETE'))
               AND NOT (c.relname = 'tenants' AND p.privilege IN ('SELECT', 'UPDATE'))
             ORDER BY 1"
        ),
    )
    .await;
    assert!(extra.is_empty(), "the purge role may also: {extra:?}");
    let missing = strings(
        &c,
        &format!(
            "SELECT name FROM ({TENANT_TABLES}) t
             WHERE NOT has_table_privilege('{owner}', t.oid, 'SELECT, DELETE')"
        ),
    )
    .await;
    assert!(
        missing.is_empty(),
        "the purge role cannot empty {missing:?}"
    );
    // A database's own privileges are not copied from its template: `serve` (and `migrate`)
    // apply them to the database they prepare.
    tenant_hub::db::bootstrap::prepare(&common::db_settings(&_db.name))
        .await
        .unwrap();
    let app_may = c
        .query_one(
            &format!(
                "SELECT has_database_privilege('{DEFAULT_APP_ROLE}', current_database(), 'TEMP'),
                        has_schema_privilege('{DEFAULT_APP_ROLE}', 'public', 'CREATE')"
            ),
            &[],
        )
        .await
        .unwrap();
    assert!(
        !app_may.get::<_, bool>(0),
        "the app role may create temp objects"
    );
    assert!(
        !app_may.get::<_, bool>(1),
        "the app role may create in public"
    );
}

/// `serve` and `migrate` refuse a system role that RLS would not hold: a superuser, the tenant
/// role itself, or a role that owns something in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_refuses_a_system_role_that_rls_would_not_hold() {
    use tenant_hub::db::bootstrap::prepare;
    let (db, c) = catalog().await;
    let with_system_user = |user: &str| {
        let mut settings = common::db_settings(&db.name);
        settings.system_database_url = Some(format!(
            "{}/{}",
            common::pg_base().replace("postgres@", &format!("{user}@")),
            db.name
        ));
        settings
    };
    let err = prepare(&with_system_user("postgres")).await.unwrap_err();
    assert!(format!("{err:#}").contains("superuser"), "{err:#}");
    let err = prepare(&with_system_user(DEFAULT_APP_ROLE))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("same role"), "{err:#}");

    let owner = format!("tenant_hub_test_owner_{}", uuid::Uuid::new_v4().simple());
    c.batch_execute(&format!(
        "CREATE ROLE {owner} LOGIN; CREATE TABLE public.owned_by_system (id int); \
         ALTER TABLE public.owned_by_system OWNER TO {owner}"
    ))
    .await
    .unwrap();
    let outcome = prepare(&with_system_user(&owner)).await;
    c.batch_execute(&format!(
        "DROP TABLE public.owned_by_system; REVOKE ALL ON DATABASE {} FROM {owner}; \
         DROP OWNED BY {owner}; DROP ROLE {owner}",
        db.name
    ))
    .await
    .unwrap();
    let err = outcome.unwrap_err();
    assert!(
        format!("{err:#}").contains("owns relation owned_by_system"),
        "{err:#}"
    );
}

/// Replicas start together (a deployment's rollout, the load bench's two hubs): their
/// preparations of one database must not trip over each other's grants. Before the grants took
/// a lock of their own, a second `prepare` running beside the first failed with PostgreSQL's
/// "tuple concurrently updated".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_preparing_one_database_at_once_all_succeed() {
    let db = fresh_database().await;
    let settings = common::db_settings(&db.name);
    for round in 0..5 {
        let runs = (0..4).map(|_| {
            let settings = settings.clone();
            tokio::spawn(async move { tenant_hub::db::bootstrap::prepare(&settings).await })
        });
        for (n, run) in futures_util::future::join_all(runs)
            .await
            .into_iter()
            .enumerate()
        {
            if let Err(e) = run.unwrap() {
                panic!("round {round}, preparation {n} failed: {e:#}");
            }
        }
    }
}

//! Two hub replicas on one database: a change made through one is seen by the other within a
//! second (PostgreSQL LISTEN/NOTIFY), however long the other caches (sessions, tenant status,
//! TenantContexts; also a change made in SQL by no replica); a replica that loses its
//! listening connection drops its cache and reconnects; and each replica enforces its share of
//! a tenant's rate limit (HUB_REPLICAS).

use crate::common;

use common::{
    TestApp, TestDb, eventually, fresh_database, maybe_error_code, operation, start, temp_keys_dir,
    test_settings,
};
use serde_json::json;

/// Two replicas sharing a database and a keys folder; long session caches, so that only the
/// notifications can explain a replica seeing a change.
async fn two_replicas(replicas: u32) -> (TestApp, TestApp) {
    let db = fresh_database().await;
    let name = db.name.clone();
    let keys = temp_keys_dir();
    let settings = |name: &str| {
        let mut s = test_settings(name, &keys);
        s.tokens.session_cache_ms = 60_000;
        s.replicas = replicas;
        // Replicas share one public URL: the issuer of every token they sign.
        s.public_url = Some("http://hub.replicas.test".into());
        s
    };
    let a = start(settings(&name), db, keys.clone()).await;
    // The second replica does not own the database: its guard names none.
    let b = start(
        settings(&name),
        TestDb {
            name: "tenant_hub_no_such_database".into(),
        },
        keys.clone(),
    )
    .await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_revoked_on_one_replica_is_refused_on_the_other() {
    let (a, b) = two_replicas(1).await;
    let t = a.signup("acme").await;
    // B caches the session as valid for a minute.
    assert!(b.gql(Some(&t.token), operation("MeId"), json!({})).await["data"]["me"].is_object());
    assert_eq!(
        a.gql(Some(&t.token), operation("LogOut"), json!({})).await["data"]["logout"],
        true
    );
    let refused = eventually(async || {
        maybe_error_code(&b.gql(Some(&t.token), operation("MeId"), json!({})).await)
            == Some("UNAUTHENTICATED")
    })
    .await;
    assert!(
        refused,
        "replica B must refuse the revoked session within five seconds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_suspended_through_one_replica_is_inactive_on_the_other() {
    let (a, b) = two_replicas(1).await;
    let t = a.signup("acme").await;
    let admin = a.platform_admin("root@hub.example.com").await;
    assert!(
        b.gql(Some(&t.token), operation("TenantContextId"), json!({}))
            .await["data"]
            .is_object()
    );
    let body = a
        .gql(
            Some(&admin),
            operation("SuspendTenantById"),
            json!({ "id": t.id }),
        )
        .await;
    assert_eq!(
        body["data"]["suspendTenant"]["tenant"]["status"], "SUSPENDED",
        "{body}"
    );
    let inactive = eventually(async || {
        maybe_error_code(
            &b.gql(Some(&t.token), operation("TenantContextId"), json!({}))
                .await,
        ) == Some("TENANT_INACTIVE")
    })
    .await;
    assert!(inactive, "the cache invalidation reached replica B");
}

async fn crm_access(app: &TestApp, token: &str) -> String {
    let body = app
        .gql(Some(token), operation("CrmAccess"), json!({}))
        .await;
    body["data"]["tenantContext"]["products"][0]["access"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_context_changed_through_one_replica_changes_on_the_other() {
    let (a, b) = two_replicas(1).await;
    let t = a.signup("acme").await;
    // B caches the owner's TenantContext (for a minute by default).
    assert_eq!(crm_access(&b, &t.token).await, "NONE");
    let set = a
        .gql(Some(&t.token), operation("GrantCrmFull"), json!({}))
        .await;
    assert_eq!(set["data"]["setProductAccess"]["access"], "FULL", "{set}");
    let changed = eventually(async || crm_access(&b, &t.token).await == "FULL").await;
    assert!(changed, "replica B serves the new product access");

    // A change made in SQL, by no replica at all, reaches them too: the database triggers
    // announce it.
    assert!(
        a.gql(Some(&t.token), operation("MyPermissions"), json!({}))
            .await["data"]["tenantContext"]["permissions"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
    a.superuser()
        .await
        .execute(
            "UPDATE roles SET permissions = '{}' WHERE tenant_id = $1 AND name = 'owner'",
            &[&t.uuid],
        )
        .await
        .unwrap();
    let revoked = eventually(async || {
        a.gql(Some(&t.token), operation("MyPermissions"), json!({}))
            .await["data"]["tenantContext"]["permissions"]
            .as_array()
            .is_some_and(|p| p.is_empty())
    })
    .await;
    assert!(revoked, "a change made in SQL reaches the replica's cache");
}

async fn tenant_name(app: &TestApp, token: &str) -> String {
    let body = app
        .gql(Some(token), operation("TenantName"), json!({}))
        .await;
    body["data"]["tenant"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Each replica caches the tenant's own row; a rename through one replica, or in SQL, reaches
/// both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_renamed_through_one_replica_or_in_sql_is_seen_by_both() {
    let (a, b) = two_replicas(1).await;
    let t = a.signup("acme").await;
    assert_eq!(tenant_name(&a, &t.token).await, "acme");
    assert_eq!(tenant_name(&b, &t.token).await, "acme");

    let renamed = a
        .gql(Some(&t.token), operation("RenameTenantThroughA"), json!({}))
        .await;
    assert_eq!(
        renamed["data"]["updateTenantSettings"]["tenant"]["name"], "Through A",
        "{renamed}"
    );
    assert_eq!(tenant_name(&a, &t.token).await, "Through A");
    assert!(eventually(async || tenant_name(&b, &t.token).await == "Through A").await);

    a.superuser()
        .await
        .execute(
            "UPDATE tenants SET name = 'In SQL' WHERE id = $1",
            &[&t.uuid],
        )
        .await
        .unwrap();
    for replica in [&a, &b] {
        assert!(
            eventually(async || tenant_name(replica, &t.token).await == "In SQL").await,
            "a rename in SQL reaches every replica's cache"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_loses_its_listener_drops_its_cache_and_listens_again() {
    let (a, b) = two_replicas(1).await;
    let t = a.signup("acme").await;
    assert!(b.gql(Some(&t.token), operation("MeId"), json!({})).await["data"]["me"].is_object());
    // Cut every listener connection (both replicas'); they reconnect within a second.
    let su = common::superuser("postgres").await;
    su.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
        &[&tenant_hub::invalidation::LISTENER_NAME, &a.db_name()],
    )
    .await
    .unwrap();
    let back = eventually(async || {
        su.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
            &[&tenant_hub::invalidation::LISTENER_NAME, &a.db_name()],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
            == 2
    })
    .await;
    assert!(back, "both replicas listen again");
    a.gql(Some(&t.token), operation("LogOut"), json!({})).await;
    let refused = eventually(async || {
        maybe_error_code(&b.gql(Some(&t.token), operation("MeId"), json!({})).await)
            == Some("UNAUTHENTICATED")
    })
    .await;
    assert!(refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_replica_enforces_its_share_of_the_tenant_rate_limit() {
    let (a, b) = two_replicas(2).await;
    let t = a.signup("acme").await;
    // 60 a minute over two replicas: 30 each, a burst of 5 (10 seconds' worth) each.
    a.superuser()
        .await
        .execute("UPDATE tenants SET limits = jsonb_set(limits, '{api_calls_per_minute}', '60') WHERE id = $1", &[&t.uuid])
        .await
        .unwrap();
    for app in [&a, &b] {
        for i in 0..5 {
            let resp = app
                .gql_response(Some(&t.token), "{ __typename }", json!({}))
                .await;
            assert_eq!(resp.status(), 200, "request {i}");
            assert_eq!(resp.headers()["ratelimit-limit"], "30");
        }
        assert_eq!(
            app.gql_response(Some(&t.token), "{ __typename }", json!({}))
                .await
                .status(),
            429
        );
    }
}

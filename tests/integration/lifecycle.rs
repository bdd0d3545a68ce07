//! The tenant lifecycle through HTTP: deactivation with its grace period, reactivation,
//! suspension, export (JSON and NDJSON), and the purge that leaves no row behind.

use crate::common;

use common::{PASSWORD, TestApp, error_code, operation, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use uuid::Uuid;

/// Rows per tenant table (found in pg_catalog) for one tenant.
async fn rows_of(app: &TestApp, tenant: Uuid) -> Vec<(String, i64)> {
    let su = app.superuser().await;
    let tables: Vec<String> = su
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
             WHERE c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for t in tables {
        let n: i64 = su
            .query_one(
                &format!("SELECT count(*) FROM {t} WHERE tenant_id = $1"),
                &[&tenant],
            )
            .await
            .unwrap()
            .get(0);
        out.push((t, n));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_tenant_refuses_logins_and_tokens_keeps_its_export_and_can_come_back() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (_, member_token) = app.add_user(&t, "bob@acme.example.com", &["admin"]).await;
    let body = app
        .gql(
            Some(&member_token),
            operation("DeactivateTenantWithDates"),
            json!({ "input": { "reason": "x" } }),
        )
        .await;
    assert_eq!(
        error_code(&body),
        "FORBIDDEN",
        "only the owner (tenant:delete) deactivates"
    );

    let body = app
        .gql(
            Some(&t.token),
            operation("DeactivateTenantWithDates"),
            json!({ "input": { "reason": "moving on" } }),
        )
        .await;
    let tenant = &body["data"]["deactivateTenant"]["tenant"];
    assert_eq!(tenant["status"], "DEACTIVATED", "{body}");
    let deactivated: chrono::DateTime<chrono::Utc> =
        tenant["deactivatedAt"].as_str().unwrap().parse().unwrap();
    let purge_after: chrono::DateTime<chrono::Utc> =
        tenant["purgeAfter"].as_str().unwrap().parse().unwrap();
    assert_eq!((purge_after - deactivated).num_days(), 30);

    assert_eq!(
        error_code(
            &app.try_login(&t.domain, "bob@acme.example.com", PASSWORD)
                .await
        ),
        "TENANT_INACTIVE",
        "only the owner signs in to a tenant they deactivated"
    );
    assert_eq!(
        error_code(
            &app.gql(Some(&member_token), operation("MeId"), json!({}))
                .await
        ),
        "TENANT_INACTIVE"
    );
    // The owner signs in to a restricted session (issue 15 item 6): everything but the
    // export and reactivateTenant is TENANT_INACTIVE; a refresh keeps it going.
    let owner = app.login(&t.domain, &t.owner_email, PASSWORD).await;
    let restricted = owner["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(
        error_code(
            &app.gql(Some(&restricted), operation("MeId"), json!({}))
                .await
        ),
        "TENANT_INACTIVE"
    );
    let refreshed = app
        .gql(
            None,
            operation("RefreshSession"),
            json!({ "t": owner["refreshToken"] }),
        )
        .await;
    assert!(
        refreshed["data"]["refreshSession"]["accessToken"].is_string(),
        "{refreshed}"
    );
    let t = common::TenantFixture {
        token: restricted,
        ..t
    };

    // The owner may still export, as JSON and as NDJSON.
    let export = app
        .gql(Some(&t.token), operation("ExportOwnTenant"), json!({}))
        .await;
    let doc = &export["data"]["exportTenantData"];
    assert_eq!(doc["format_version"], 1, "{export}");
    assert_eq!(doc["tenant"]["domain"], t.domain.as_str());
    assert_eq!(doc["tables"]["users"].as_array().unwrap().len(), 2);
    let text = doc.to_string();
    for secret in [
        "password_hash",
        "token_hash",
        "$argon2",
        "key_hash",
        "secret_ciphertext",
    ] {
        assert!(!text.contains(secret), "the export holds {secret}");
    }
    assert!(doc["tables"].get("refresh_tokens").is_none());
    let resp = app
        .client
        .get(format!("{}/export/tenant.ndjson", app.address))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let body = resp.text().await.unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["format_version"], 1);
    let users = lines.iter().filter(|l| l["table"] == "users").count();
    assert_eq!(users, 2);
    assert!(!body.contains("$argon2"));
    let resp = app
        .client
        .get(format!("{}/export/tenant.ndjson", app.address))
        .bearer_auth(&member_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        403,
        "an admin without tenant:delete cannot export"
    );

    let body = app
        .gql(Some(&t.token), operation("ReactivateOwnTenant"), json!({}))
        .await;
    assert_eq!(
        body["data"]["reactivateTenant"]["tenant"],
        json!({ "status": "ACTIVE", "purgeAfter": null }),
        "{body}"
    );
    app.login(&t.domain, &t.owner_email, PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_chooses_its_retention_within_the_platform_bounds() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let update = operation("SetRetentionDays");
    let body = app.gql(Some(&t.token), update, json!({ "d": 2 })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let body = app.gql(Some(&t.token), update, json!({ "d": 90 })).await;
    assert_eq!(
        body["data"]["updateTenantSettings"]["tenant"]["retentionDays"], 90,
        "{body}"
    );
    let body = app
        .gql(
            Some(&t.token),
            operation("DeactivateTenantWithDates"),
            json!({ "input": {} }),
        )
        .await;
    let tenant = &body["data"]["deactivateTenant"]["tenant"];
    let deactivated: chrono::DateTime<chrono::Utc> =
        tenant["deactivatedAt"].as_str().unwrap().parse().unwrap();
    let purge_after: chrono::DateTime<chrono::Utc> =
        tenant["purgeAfter"].as_str().unwrap().parse().unwrap();
    assert_eq!((purge_after - deactivated).num_days(), 90);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admins_suspend_and_resume_tenants_and_members_cannot() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let suspend = operation("SuspendTenantUnpaid");
    assert_eq!(
        error_code(
            &app.gql(Some(&t.token), suspend, json!({ "id": t.id }))
                .await
        ),
        "FORBIDDEN"
    );
    let body = app.gql(Some(&admin), suspend, json!({ "id": t.id })).await;
    assert_eq!(
        body["data"]["suspendTenant"]["tenant"]["status"], "SUSPENDED",
        "{body}"
    );
    assert_eq!(
        error_code(&app.gql(Some(&t.token), operation("MeId"), json!({})).await),
        "TENANT_INACTIVE"
    );
    let body = app
        .gql(
            Some(&admin),
            operation("ResumeTenant"),
            json!({ "id": t.id }),
        )
        .await;
    assert_eq!(
        body["data"]["resumeTenant"]["tenant"]["status"], "ACTIVE",
        "{body}"
    );
    assert!(app.gql(Some(&t.token), operation("MeId"), json!({})).await["data"]["me"].is_object());
    let audited: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND actor_type = 'platform_admin' AND action IN ('tenant.suspended', 'tenant.resumed')",
            &[&t.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 2, "the tenant sees what the platform did");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_deletes_every_row_of_a_tenant_past_its_grace_and_touches_no_other() {
    let app = spawn_app().await;
    let gone = app.signup("gone").await;
    let kept = app.signup("kept").await;
    for t in [&gone, &kept] {
        app.add_user(t, &format!("bob@{}", t.domain), &["member"])
            .await;
        app.gql(Some(&t.token), operation("CreateOpsWorkspace"), json!({}))
            .await;
    }
    app.gql(
        Some(&gone.token),
        operation("DeactivateTenantWithDates"),
        json!({ "input": {} }),
    )
    .await;
    let kept_before = rows_of(&app, kept.uuid).await;

    // Not due yet: the maintenance command purges nothing.
    let purge = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
            .args([
                "maintenance",
                "purge",
                "--database-url",
                &common::db_url(app.db_name()),
            ])
            .output()
            .unwrap()
    };
    let out = purge();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("done: 0 of 0"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    app.superuser()
        .await
        .execute(
            "UPDATE tenants SET purge_after = now() - interval '1 minute' WHERE id = $1",
            &[&gone.uuid],
        )
        .await
        .unwrap();
    let out = purge();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("done: 1 of 1 tenant(s) purged"),
        "{stdout}"
    );

    let left: Vec<(String, i64)> = rows_of(&app, gone.uuid)
        .await
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(
        left.is_empty(),
        "rows of the purged tenant remain: {left:?}"
    );
    assert!(
        rows_of(&app, gone.uuid).await.len() >= 15,
        "every tenant table was checked"
    );
    assert_eq!(
        rows_of(&app, kept.uuid).await,
        kept_before,
        "the other tenant is untouched"
    );
    let su = app.superuser().await;
    let tomb = su
        .query_one(
            "SELECT status, domain FROM tenants WHERE id = $1",
            &[&gone.uuid],
        )
        .await
        .unwrap();
    assert_eq!(
        (tomb.get::<_, String>(0), tomb.get::<_, Option<String>>(1)),
        ("purged".to_owned(), None)
    );
    let recorded: i64 = su
        .query_one("SELECT count(*) FROM platform_audit_log WHERE action = 'platform.tenant_purged' AND target_id = $1", &[&gone.uuid.to_string()])
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 1);
    assert_eq!(
        error_code(
            &app.try_login(&gone.domain, &gone.owner_email, PASSWORD)
                .await
        ),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        error_code(
            &app.gql(Some(&gone.token), operation("MeId"), json!({}))
                .await
        ),
        "UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_purge_needs_the_domain_typed_as_confirmation() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let purge = operation("PurgeTenantWithInput");
    let body = app
        .gql(
            Some(&admin),
            purge,
            json!({ "input": { "tenantId": t.id } }),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "an active tenant is not due");
    let body = app.gql(Some(&admin), purge, json!({ "input": { "tenantId": t.id, "force": true, "confirmDomain": "wrong.example.com" } })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let body = app
        .gql(
            Some(&admin),
            purge,
            json!({ "input": { "tenantId": t.id, "force": true, "confirmDomain": t.domain } }),
        )
        .await;
    assert!(body["data"]["purgeTenant"].as_i64().unwrap() > 10, "{body}");
    let left: i64 = rows_of(&app, t.uuid).await.iter().map(|(_, n)| n).sum();
    assert_eq!(left, 0);
    assert_eq!(
        error_code(
            &app.gql(
                Some(&t.token),
                purge,
                json!({ "input": { "tenantId": t.id } })
            )
            .await
        ),
        "UNAUTHENTICATED"
    );
}

/// A forced purge is one transaction with the deactivation it implies: when the purge fails
/// (here: a row it must delete stays locked past the statement timeout), the tenant is still
/// active and whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_purge_that_fails_leaves_the_tenant_as_it_was() {
    let app = spawn_app_with(|s| s.db.statement_timeout_ms = 500).await;
    let t = app.signup("acme").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let mut locker = app.superuser().await;
    let lock = locker.transaction().await.unwrap();
    lock.execute(
        "SELECT 1 FROM users WHERE tenant_id = $1 FOR UPDATE",
        &[&t.uuid],
    )
    .await
    .unwrap();
    let body = app
        .gql(
            Some(&admin),
            operation("PurgeTenantWithInput"),
            json!({ "input": { "tenantId": t.id, "force": true, "confirmDomain": t.domain } }),
        )
        .await;
    assert_eq!(error_code(&body), "INTERNAL", "{body}");
    lock.rollback().await.unwrap();
    let status: String = app
        .superuser()
        .await
        .query_one("SELECT status FROM tenants WHERE id = $1", &[&t.uuid])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "active");
    let me = app.gql(Some(&t.token), operation("MeId"), json!({})).await;
    assert!(me["data"]["me"]["id"].is_string(), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_role_cannot_purge_an_active_tenant_even_by_calling_the_function() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let client = app.app_role().await;
    let err = client
        .query_one("SELECT hub_purge_tenant($1)", &[&t.uuid])
        .await
        .unwrap_err();
    // Refused outside the system scope (rls_isolation.rs covers the scopes).
    assert!(
        ["not deactivated", "system scope only", "permission denied"]
            .iter()
            .any(|m| format!("{err:?}").contains(m)),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admins_export_any_tenant_and_the_export_is_audited_in_that_tenant() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let other = app.signup("other").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let body = app
        .gql(
            Some(&admin),
            operation("ExportTenantData"),
            json!({ "id": t.id }),
        )
        .await;
    let doc = &body["data"]["exportTenantData"];
    assert_eq!(doc["tenant"]["id"], t.uuid.to_string(), "{body}");
    assert!(
        !doc.to_string().contains(&other.domain),
        "only the named tenant's rows"
    );
    let resp = app
        .client
        .get(format!(
            "{}/export/tenant.ndjson?tenant={}",
            app.address, t.uuid
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().lines().count() > 5);
    let member = app
        .gql(
            Some(&other.token),
            operation("ExportTenantData"),
            json!({ "id": t.id }),
        )
        .await;
    assert_eq!(
        error_code(&member),
        "FORBIDDEN",
        "members export their own tenant only"
    );
    let audited: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.exported' AND actor_type = 'platform_admin'",
            &[&t.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_admin_deactivates_a_tenant_by_id_and_a_member_cannot_name_another() {
    let app = spawn_app().await;
    let a = app.signup("alpha").await;
    let b = app.signup("bravo").await;
    // A member naming a tenant, even their own, is refused: members act on their own.
    for target in [&b.id, &a.id] {
        let body = app
            .gql(
                Some(&a.token),
                operation("DeactivateTenantWithDates"),
                json!({ "input": { "tenantId": target } }),
            )
            .await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    }
    let admin = app.platform_admin("root@hub.example.com").await;
    let body = app
        .gql(
            Some(&admin),
            operation("DeactivateTenantWithDates"),
            json!({ "input": { "tenantId": b.id, "reason": "unpaid" } }),
        )
        .await;
    let tenant = &body["data"]["deactivateTenant"]["tenant"];
    assert_eq!(tenant["id"], b.id.as_str(), "{body}");
    assert_eq!(tenant["status"], "DEACTIVATED", "{body}");
    // Only B: A still works, B's token is refused, and B's log names the admin.
    let me = app.gql(Some(&a.token), operation("MeId"), json!({})).await;
    assert!(me["data"]["me"]["id"].is_string(), "{me}");
    let me = app.gql(Some(&b.token), operation("MeId"), json!({})).await;
    assert_eq!(error_code(&me), "TENANT_INACTIVE", "{me}");
    let actor: String = app
        .superuser()
        .await
        .query_one(
            "SELECT actor_type FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.deactivated'",
            &[&b.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(actor, "platform_admin");
    // An admin must name the tenant.
    let body = app
        .gql(
            Some(&admin),
            operation("DeactivateTenantWithDates"),
            json!({ "input": {} }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_cannot_undo_a_suspension_or_deactivation_the_platform_decided() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let status = async || -> String {
        app.superuser()
            .await
            .query_one("SELECT status FROM tenants WHERE id = $1", &[&t.uuid])
            .await
            .unwrap()
            .get(0)
    };
    let reactivate = "mutation { reactivateTenant { tenant { status } } }";
    let suspend = "mutation($id: ID!) { suspendTenant(tenantId: $id, reason: \"unpaid\") { tenant { status } } }";
    let body = app.gql(Some(&admin), suspend, json!({ "id": t.id })).await;
    assert_eq!(
        body["data"]["suspendTenant"]["tenant"]["status"], "SUSPENDED",
        "{body}"
    );

    // The owner's still-valid token can neither deactivate (to then reactivate) nor reactivate.
    let body = app
        .gql(
            Some(&t.token),
            operation("DeactivateTenantWithDates"),
            json!({ "input": { "reason": "me" } }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert!(
        body["data"].is_null() || body["data"]["deactivateTenant"].is_null(),
        "{body}"
    );
    let body = app.gql(Some(&t.token), reactivate, json!({})).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(status().await, "suspended");

    // A deactivation the platform decided is the platform's to undo, too.
    let body = app
        .gql(
            Some(&admin),
            operation("DeactivateTenantWithDates"),
            json!({ "input": { "tenantId": t.id, "reason": "fraud" } }),
        )
        .await;
    assert_eq!(
        body["data"]["deactivateTenant"]["tenant"]["status"], "DEACTIVATED",
        "{body}"
    );
    let body = app.gql(Some(&t.token), reactivate, json!({})).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(status().await, "deactivated");
    let by: Option<String> = app
        .superuser()
        .await
        .query_one(
            "SELECT status_changed_by FROM tenants WHERE id = $1",
            &[&t.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(by.as_deref(), Some("platform"));
    // Nor may the owner sign in to it: the restricted session is for a tenant they deactivated.
    assert_eq!(
        error_code(
            &app.try_login(&t.domain, &t.owner_email, common::PASSWORD)
                .await
        ),
        "TENANT_INACTIVE"
    );

    // The admin reactivates; what the owner then deactivates, the owner may undo.
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID) { reactivateTenant(tenantId: $id) { tenant { status } } }",
            json!({ "id": t.id }),
        )
        .await;
    assert_eq!(
        body["data"]["reactivateTenant"]["tenant"]["status"], "ACTIVE",
        "{body}"
    );
    let body = app
        .gql(
            Some(&t.token),
            operation("DeactivateTenantWithDates"),
            json!({ "input": { "reason": "pause" } }),
        )
        .await;
    assert_eq!(
        body["data"]["deactivateTenant"]["tenant"]["status"], "DEACTIVATED",
        "{body}"
    );
    let body = app.gql(Some(&t.token), reactivate, json!({})).await;
    assert_eq!(
        body["data"]["reactivateTenant"]["tenant"]["status"], "ACTIVE",
        "{body}"
    );
}

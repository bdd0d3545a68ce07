//! Lock 1 of DESIGN.md through the API: tenant A's owner, who holds every permission in A,
//! aims every query and mutation of the management API at tenant B's ids. Each answer must be
//! NOT_FOUND or FORBIDDEN, never data; A's own lists and nested fields show nothing of B; and
//! afterwards B's data, as B sees it and as the database holds it, is exactly what it was.
//! Every `Query` and `Mutation` field of schema.graphql that takes an ID (as an argument or
//! inside its input) has cases here, or is in [`NO_TENANT_OBJECT`] with the reason; the platform-only ones are
//! aimed at tenants in the state they would move from (C deactivated, D suspended).

use crate::common;

use std::collections::BTreeMap;

use common::{
    PASSWORD, TenantFixture, TestApp, committed_schema, mutation_fields, operation, root_field,
    spawn_app, spawn_app_with,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// Tenant A (the attacker) and tenant B (the target), with B's data made through B's token.
struct World {
    a: TenantFixture,
    b: TenantFixture,
    /// A's second user and custom role.
    a_user_id: String,
    a_role_id: String,
    /// B's second user (a workspace member with a product override), its token and UUID.
    b_user_id: String,
    b_user_uuid: String,
    b_user_token: String,
    /// B's deactivated third user.
    b_inactive_id: String,
    b_inactive_uuid: String,
    /// B's custom role and one of its system roles.
    b_role_id: String,
    b_admin_role_id: String,
    b_owner_role_id: String,
    /// B's second workspace.
    b_workspace_id: String,
    /// B's API key.
    b_api_key_id: String,
    /// B's email domain (pending) and a second one (verified), served by B's identity provider.
    b_domain_id: String,
    b_verified_domain_id: String,
    b_provider_id: String,
    /// Tenant C, deactivated by its owner (reactivatable, purgeable), and tenant D, suspended by
    /// a platform admin (resumable): the targets of the lifecycle mutations.
    c: TenantFixture,
    d: TenantFixture,
    /// Strings of B that must never show up in an answer to A.
    b_secrets: Vec<String>,
}

/// The hub with a burst as large as the free plan's whole minute: these tests send a few
/// hundred requests per tenant at once, and rate limiting is tests/integration/quotas.rs's subject.
/// No periodic usage flush: it would write the tenants' API-call counters between two
/// snapshots of their rows.
async fn spawn() -> TestApp {
    spawn_app_with(|s| {
        s.rate_limit_burst_secs = 60;
        s.usage_flush_secs = 3600;
        // The snapshots read whole tenants in one query (pages of 100 nested in pages of
        // 100), far past the default complexity now that list fields count per row.
        s.gql_max_complexity = 1_000_000;
    })
    .await
}

/// Runs `query` with `token`; panics with the body when it has errors or no data.
async fn ok(app: &TestApp, token: &str, what: &str, query: &str, vars: Value) -> Value {
    let body = app.gql(Some(token), query, vars).await;
    assert!(
        body.get("errors").is_none() && body["data"].is_object(),
        "fixture step {what} failed: {body}"
    );
    body["data"].clone()
}

async fn world(app: &TestApp) -> World {
    let a = app.signup("alpha").await;
    let b = app.signup("bravo").await;

    // A: a second user and a custom role of its own, as attack material.
    let a_role_id = ok(
        app,
        &a.token,
        "A createRole",
        operation("CreateRole"),
        json!({ "i": { "name": "alpha-editors", "permissions": ["users:read", "workspaces:read"] } }),
    )
    .await["createRole"]["role"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a_user_id = ok(
        app,
        &a.token,
        "A createUser",
        operation("CreateUser"),
        json!({ "i": { "email": "amy@alpha.example.com", "password": PASSWORD, "displayName": "Amy Alpha" } }),
    )
    .await["createUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // B: a second user, a deactivated third one, a custom role, a second workspace with a
    // member holding a workspace role, a per-user product override, a tenant-wide product
    // grant and a per-workspace role assignment.
    let b_role_id = ok(
        app,
        &b.token,
        "B createRole",
        operation("CreateRole"),
        json!({ "i": { "name": "bravo-auditors", "permissions": ["audit:read", "users:read"], "description": "Bravo's secret auditors" } }),
    )
    .await["createRole"]["role"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_admin_role_id = app.role_id(&b.token, "admin").await;
    let b_owner_role_id = app.role_id(&b.token, "owner").await;
    let viewer = app.role_id(&b.token, "viewer").await;
    let created = ok(
        app,
        &b.token,
        "B createUser",
        operation("CreateUserWithUuid"),
        json!({ "i": { "email": "bob@bravo.example.com", "password": PASSWORD, "displayName": "Bob Bravo", "roleIds": [viewer] } }),
    )
    .await;
    let b_user_id = created["createUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_user_uuid = created["createUser"]["user"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = ok(
        app,
        &b.token,
        "B createUser (third)",
        operation("CreateUserWithUuid"),
        json!({ "i": { "email": "carol@bravo.example.com", "password": PASSWORD, "displayName": "Carol Bravo" } }),
    )
    .await;
    let b_inactive_id = created["createUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_inactive_uuid = created["createUser"]["user"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        app,
        &b.token,
        "B deactivateUser",
        operation("DeactivateUser"),
        json!({ "id": b_inactive_id }),
    )
    .await;
    let b_workspace_id = ok(
        app,
        &b.token,
        "B createWorkspace",
        operation("CreateWorkspace"),
        json!({ "i": { "name": "Bravo Secret Lab", "slug": "bravo-secret-lab" } }),
    )
    .await["createWorkspace"]["workspace"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        app,
        &b.token,
        "B addWorkspaceMember",
        operation("AddWorkspaceMember"),
        json!({ "i": { "workspaceId": b_workspace_id, "userId": b_user_id, "roleId": b_role_id } }),
    )
    .await;
    ok(
        app,
        &b.token,
        "B setProductAccess (user)",
        operation("SetProductAccess"),
        json!({ "i": { "productId": "crm", "access": "LIMITED", "userId": b_user_id } }),
    )
    .await;
    ok(
        app,
        &b.token,
        "B setProductAccess (tenant)",
        operation("SetProductAccess"),
        json!({ "i": { "productId": "helpdesk", "access": "FULL" } }),
    )
    .await;
    ok(
        app,
        &b.token,
        "B assignRole (workspace)",
        operation("AssignRole"),
        json!({ "i": { "userId": b_user_id, "roleId": b_role_id, "workspaceId": b_workspace_id } }),
    )
    .await;
    let b_user_token = app
        .login(&b.domain, "bob@bravo.example.com", PASSWORD)
        .await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_api_key_id = ok(
        app,
        &b.token,
        "B createApiKey",
        operation("CreateApiKey"),
        json!({ "i": { "productId": "docs", "name": "Bravo's secret key" } }),
    )
    .await["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // C and D: one tenant in each state from which a lifecycle mutation would move it.
    let c = app.signup("charlie").await;
    ok(
        app,
        &c.token,
        "C deactivateTenant",
        operation("DeactivateTenant"),
        json!({ "i": { "reason": "closing down" } }),
    )
    .await;
    let d = app.signup("delta").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    ok(
        app,
        &admin,
        "D suspendTenant",
        operation("SuspendTenant"),
        json!({ "id": d.id, "reason": "unpaid" }),
    )
    .await;

    let b_domain_id = ok(
        app,
        &b.token,
        "B addTenantDomain",
        operation("AddTenantDomain"),
        json!({ "domain": "bravo-secret-corp.com" }),
    )
    .await["addTenantDomain"]["domain"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // B's verified domain and identity provider: rows as verifyTenantDomain and
    // addIdentityProvider leave them (the DNS check and the discovery need servers of their
    // own, which tests/integration/sso_*.rs run; here only the ids matter).
    let (b_verified_uuid, b_provider_uuid) = (Uuid::now_v7(), Uuid::now_v7());
    app.superuser()
        .await
        .batch_execute(&format!(
            "INSERT INTO tenant_domains (tenant_id, id, domain, state, challenge, verified_at)
               VALUES ('{t}', '{d}', 'bravo-verified-corp.com', 'verified', 'bravo-challenge', now());
             INSERT INTO identity_providers (tenant_id, id, name, issuer, client_id, client_secret_ciphertext, metadata)
               VALUES ('{t}', '{p}', 'Bravo Secret IdP', 'https://idp.bravo.example.com', 'bravo-client', '\\x00', '{{}}');
             INSERT INTO identity_provider_domains (tenant_id, domain_id, provider_id)
               VALUES ('{t}', '{d}', '{p}');",
            t = b.uuid,
            d = b_verified_uuid,
            p = b_provider_uuid,
        ))
        .await
        .unwrap();
    let b_verified_domain_id = tenant_hub::graphql::ids::encode("TenantDomain", b_verified_uuid).0;
    let b_provider_id = tenant_hub::graphql::ids::encode("IdentityProvider", b_provider_uuid).0;
    let b_secrets = vec![
        b_domain_id.clone(),
        b_verified_domain_id.clone(),
        b_provider_id.clone(),
        "bravo-verified-corp.com".into(),
        "Bravo Secret IdP".into(),
        "idp.bravo.example.com".into(),
        "bravo-client".into(),
        "bravo-secret-corp.com".into(),
        b.id.clone(),
        b.uuid.to_string(),
        b.owner_id.clone(),
        b.owner_uuid.to_string(),
        b.owner_email.clone(),
        b.default_workspace_id.clone(),
        b.domain.clone(),
        b_user_id.clone(),
        b_user_uuid.clone(),
        b_inactive_id.clone(),
        b_inactive_uuid.clone(),
        b_role_id.clone(),
        b_admin_role_id.clone(),
        b_owner_role_id.clone(),
        b_workspace_id.clone(),
        "bob@bravo.example.com".into(),
        "carol@bravo.example.com".into(),
        "Bob Bravo".into(),
        "Carol Bravo".into(),
        "bravo-auditors".into(),
        "Bravo's secret auditors".into(),
        "Bravo Secret Lab".into(),
        "bravo-secret-lab".into(),
        b_api_key_id.clone(),
        "Bravo's secret key".into(),
        c.id.clone(),
        c.domain.clone(),
        c.owner_email.clone(),
        d.id.clone(),
        d.domain.clone(),
        d.owner_email.clone(),
    ];
    World {
        a,
        b,
        a_user_id,
        a_role_id,
        b_user_id,
        b_user_uuid,
        b_user_token,
        b_inactive_id,
        b_inactive_uuid,
        b_role_id,
        b_admin_role_id,
        b_owner_role_id,
        b_workspace_id,
        b_api_key_id,
        b_domain_id,
        b_verified_domain_id,
        b_provider_id,
        c,
        d,
        b_secrets,
    }
}

/// Every tenant table's rows of `tenant` as text (all columns), plus its `tenants` row: what
/// the database holds of a tenant, found in pg_catalog so a new table is covered too.
async fn fingerprint(app: &TestApp, tenant: Uuid) -> BTreeMap<String, Vec<String>> {
    let su = app.superuser().await;
    let tables = su
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for row in tables {
        let table: String = row.get(0);
        let rows = su
            .query(
                &format!("SELECT t::text FROM {table} t WHERE tenant_id = $1 ORDER BY 1"),
                &[&tenant],
            )
            .await
            .unwrap();
        out.insert(table, rows.iter().map(|r| r.get(0)).collect());
    }
    let rows = su
        .query("SELECT t::text FROM tenants t WHERE id = $1", &[&tenant])
        .await
        .unwrap();
    out.insert("tenants".into(), rows.iter().map(|r| r.get(0)).collect());
    out
}

/// The rows of the tables that belong to no tenant and that a mutation can change: the
/// product catalog, the platform audit log, and every tenant's `tenants` row.
async fn global_rows(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let su = app.superuser().await;
    let mut out = BTreeMap::new();
    for table in ["products", "platform_audit_log", "tenants"] {
        let rows = su
            .query(&format!("SELECT t::text FROM {table} t ORDER BY 1"), &[])
            .await
            .unwrap();
        out.insert(table.to_owned(), rows.iter().map(|r| r.get(0)).collect());
    }
    out
}

/// The tables whose rows differ, each with the rows that went away and the rows that came.
fn changed_rows(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let empty = Vec::new();
    let mut tables: Vec<&String> = before.keys().chain(after.keys()).collect();
    tables.sort();
    tables.dedup();
    tables
        .into_iter()
        .filter(|t| before.get(*t) != after.get(*t))
        .map(|t| {
            let (old, new) = (
                before.get(t).unwrap_or(&empty),
                after.get(t).unwrap_or(&empty),
            );
            let gone: Vec<&String> = old.iter().filter(|r| !new.contains(r)).collect();
            let came: Vec<&String> = new.iter().filter(|r| !old.contains(r)).collect();
            format!("{t}: rows gone {gone:?}, rows new {came:?}")
        })
        .collect()
}

/// B's data as B sees it: the owner's view, and the second user's own context (its product
/// override).
async fn b_snapshot(app: &TestApp, w: &World) -> (Value, Value) {
    let owner = ok(
        app,
        &w.b.token,
        "B snapshot",
        operation("TenantSnapshot"),
        json!({}),
    )
    .await;
    let user = ok(
        app,
        &w.b_user_token,
        "B user snapshot",
        operation("OwnUserSnapshot"),
        json!({}),
    )
    .await;
    (owner, user)
}

/// An attack: a named request with A's token that must be answered NOT_FOUND or FORBIDDEN.
struct Case {
    name: String,
    query: &'static str,
    vars: Value,
}

fn case(name: impl Into<String>, query: &'static str, vars: Value) -> Case {
    Case {
        name: name.into(),
        query,
        vars,
    }
}

/// Whether `data` holds anything but nulls.
fn has_data(data: &Value) -> bool {
    match data {
        Value::Null => false,
        Value::Object(map) => map.values().any(has_data),
        _ => true,
    }
}

/// Runs every case with `token`; returns a line per case that was not refused properly.
async fn run_attacks(
    app: &TestApp,
    token: &str,
    secrets: &[String],
    cases: &[Case],
) -> Vec<String> {
    let mut failures = Vec::new();
    for c in cases {
        let body = app.gql(Some(token), c.query, c.vars.clone()).await;
        let code = body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("");
        if !matches!(code, "NOT_FOUND" | "FORBIDDEN") {
            failures.push(format!(
                "{}: expected NOT_FOUND or FORBIDDEN, got {body}",
                c.name
            ));
            continue;
        }
        if has_data(&body["data"]) {
            failures.push(format!("{}: refused, but with data: {body}", c.name));
            continue;
        }
        let text = body.to_string();
        // The ids were the attacker's input; names and emails must not come back.
        if let Some(s) = secrets
            .iter()
            .filter(|s| !c.vars.to_string().contains(s.as_str()))
            .find(|s| text.contains(s.as_str()))
        {
            failures.push(format!("{}: the answer mentions B's {s:?}: {body}", c.name));
        }
    }
    failures
}

fn read_cases(w: &World) -> Vec<Case> {
    let b = &w.b;
    let mut cases = Vec::new();
    for (what, id) in [
        ("B's owner", b.owner_id.clone()),
        ("B's owner (bare UUID)", b.owner_uuid.to_string()),
        ("B's second user", w.b_user_id.clone()),
        ("B's second user (bare UUID)", w.b_user_uuid.clone()),
        ("B's deactivated user", w.b_inactive_id.clone()),
    ] {
        cases.push(case(
            format!("user(id) of {what}"),
            operation("LeakUser"),
            json!({ "id": id }),
        ));
    }
    for (what, id) in [
        ("B's default workspace", b.default_workspace_id.clone()),
        ("B's second workspace", w.b_workspace_id.clone()),
    ] {
        cases.push(case(
            format!("workspace(id) of {what}"),
            operation("LeakWorkspace"),
            json!({ "id": id }),
        ));
    }
    for (what, id) in [
        ("B's custom role", w.b_role_id.clone()),
        ("B's admin role", w.b_admin_role_id.clone()),
        ("B's owner role", w.b_owner_role_id.clone()),
    ] {
        cases.push(case(
            format!("role(id) of {what}"),
            operation("LeakRole"),
            json!({ "id": id }),
        ));
    }
    for (what, id) in [
        ("B's tenant", b.id.clone()),
        ("B's owner", b.owner_id.clone()),
        ("B's second user", w.b_user_id.clone()),
        ("B's deactivated user", w.b_inactive_id.clone()),
        ("B's default workspace", b.default_workspace_id.clone()),
        ("B's second workspace", w.b_workspace_id.clone()),
        ("B's custom role", w.b_role_id.clone()),
        ("B's admin role", w.b_admin_role_id.clone()),
    ] {
        cases.push(case(
            format!("node(id) of {what}"),
            operation("LeakNode"),
            json!({ "id": id }),
        ));
    }
    for (what, id) in [
        ("B's tenant", b.id.clone()),
        ("B's tenant (bare UUID)", b.uuid.to_string()),
    ] {
        cases.push(case(
            format!("exportTenantData(tenantId) of {what}"),
            operation("ExportTenantData"),
            json!({ "id": id }),
        ));
        cases.push(case(
            format!("auditLog(tenantId) of {what}"),
            operation("LeakAuditLog"),
            json!({ "id": id }),
        ));
        cases.push(case(
            format!("adminTenant(id) of {what}"),
            operation("LeakAdminTenant"),
            json!({ "id": id }),
        ));
    }
    cases
}

fn write_cases(w: &World) -> Vec<Case> {
    let b = &w.b;
    let (bu, bu_uuid, bi, br, bw) = (
        &w.b_user_id,
        &w.b_user_uuid,
        &w.b_inactive_id,
        &w.b_role_id,
        &w.b_workspace_id,
    );
    let (au, ar, aw) = (&w.a_user_id, &w.a_role_id, &w.a.default_workspace_id);
    vec![
        case(
            "resetUserMfa: B's user",
            operation("ResetUserMfa"),
            json!({ "id": bu }),
        ),
        case(
            "removeMfaFactor: an id of B's",
            operation("RemoveMfaFactor"),
            json!({ "id": bu }),
        ),
        case(
            "updateUser: B's user's display name",
            operation("AttackUpdateUser"),
            json!({ "i": { "id": bu, "displayName": "pwned" } }),
        ),
        case(
            "updateUser: B's user's email",
            operation("AttackUpdateUser"),
            json!({ "i": { "id": bu, "email": "pwned@alpha.example.com" } }),
        ),
        case(
            "updateUser: B's owner's email",
            operation("AttackUpdateUser"),
            json!({ "i": { "id": b.owner_id, "email": "pwned@alpha.example.com" } }),
        ),
        case(
            "updateUser: B's user by bare UUID",
            operation("AttackUpdateUser"),
            json!({ "i": { "id": bu_uuid, "displayName": "pwned" } }),
        ),
        case(
            "deactivateUser: B's user",
            operation("AttackDeactivateUser"),
            json!({ "id": bu }),
        ),
        case(
            "deactivateUser: B's user by bare UUID",
            operation("AttackDeactivateUser"),
            json!({ "id": bu_uuid }),
        ),
        case(
            "deactivateUser: B's owner",
            operation("AttackDeactivateUser"),
            json!({ "id": b.owner_id }),
        ),
        case(
            "reactivateUser: B's deactivated user",
            operation("AttackReactivateUser"),
            json!({ "id": bi }),
        ),
        case(
            "reactivateUser: B's deactivated user by bare UUID",
            operation("AttackReactivateUser"),
            json!({ "id": w.b_inactive_uuid }),
        ),
        case(
            "deleteUser: B's user",
            operation("DeleteUser"),
            json!({ "id": bu }),
        ),
        case(
            "deleteUser: B's deactivated user",
            operation("DeleteUser"),
            json!({ "id": bi }),
        ),
        case(
            "deleteUser: B's owner",
            operation("DeleteUser"),
            json!({ "id": b.owner_id }),
        ),
        case(
            "resetUserPassword: B's user",
            operation("AttackResetUserPassword"),
            json!({ "id": bu }),
        ),
        case(
            "resetUserPassword: B's owner",
            operation("AttackResetUserPassword"),
            json!({ "id": b.owner_id }),
        ),
        case(
            "resendInvitation: B's user",
            operation("AttackResendInvitation"),
            json!({ "id": bu }),
        ),
        case(
            "assignRole: B's user with A's role",
            operation("AttackAssignRole"),
            json!({ "i": { "userId": bu, "roleId": ar } }),
        ),
        case(
            "assignRole: A's user with B's role",
            operation("AttackAssignRole"),
            json!({ "i": { "userId": au, "roleId": br } }),
        ),
        case(
            "assignRole: A's user with B's admin role",
            operation("AttackAssignRole"),
            json!({ "i": { "userId": au, "roleId": w.b_admin_role_id } }),
        ),
        case(
            "assignRole: A's user with B's owner role",
            operation("AttackAssignRole"),
            json!({ "i": { "userId": au, "roleId": w.b_owner_role_id } }),
        ),
        case(
            "assignRole: A's user and role in B's workspace",
            operation("AttackAssignRole"),
            json!({ "i": { "userId": au, "roleId": ar, "workspaceId": bw } }),
        ),
        case(
            "assignRole: A's user and role in B's default workspace",
            operation("AttackAssignRole"),
            json!({ "i": { "userId": au, "roleId": ar, "workspaceId": b.default_workspace_id } }),
        ),
        case(
            "assignRole: B's user with B's role in B's workspace",
            operation("AttackAssignRole"),
            json!({ "i": { "userId": bu, "roleId": br, "workspaceId": bw } }),
        ),
        case(
            "unassignRole: B's user and A's role",
            operation("AttackUnassignRole"),
            json!({ "i": { "userId": bu, "roleId": ar } }),
        ),
        case(
            "unassignRole: A's user and B's role",
            operation("AttackUnassignRole"),
            json!({ "i": { "userId": au, "roleId": br } }),
        ),
        case(
            "unassignRole: A's user and role in B's workspace",
            operation("AttackUnassignRole"),
            json!({ "i": { "userId": au, "roleId": ar, "workspaceId": bw } }),
        ),
        case(
            "unassignRole: B's real per-workspace assignment",
            operation("AttackUnassignRole"),
            json!({ "i": { "userId": bu, "roleId": br, "workspaceId": bw } }),
        ),
        case(
            "unassignRole: B's owner's owner role",
            operation("AttackUnassignRole"),
            json!({ "i": { "userId": b.owner_id, "roleId": w.b_owner_role_id } }),
        ),
        case(
            "updateRole: B's custom role",
            operation("AttackUpdateRole"),
            json!({ "i": { "id": br, "name": "pwned", "permissions": ["users:write"] } }),
        ),
        case(
            "updateRole: B's admin role",
            operation("AttackUpdateRole"),
            json!({ "i": { "id": w.b_admin_role_id, "description": "pwned" } }),
        ),
        case(
            "deleteRole: B's custom role",
            operation("DeleteRole"),
            json!({ "id": br }),
        ),
        case(
            "deleteRole: B's admin role",
            operation("DeleteRole"),
            json!({ "id": w.b_admin_role_id }),
        ),
        case(
            "updateWorkspace: B's workspace",
            operation("AttackUpdateWorkspace"),
            json!({ "i": { "id": bw, "name": "pwned", "slug": "pwned" } }),
        ),
        case(
            "updateWorkspace: B's default workspace",
            operation("AttackUpdateWorkspace"),
            json!({ "i": { "id": b.default_workspace_id, "name": "pwned" } }),
        ),
        case(
            "archiveWorkspace: B's workspace",
            operation("AttackArchiveWorkspace"),
            json!({ "id": bw }),
        ),
        case(
            "archiveWorkspace: B's default workspace",
            operation("AttackArchiveWorkspace"),
            json!({ "id": b.default_workspace_id }),
        ),
        case(
            "addWorkspaceMember: A's user to B's workspace",
            operation("AttackAddWorkspaceMember"),
            json!({ "i": { "workspaceId": bw, "userId": au } }),
        ),
        case(
            "addWorkspaceMember: A's user to B's workspace with A's role",
            operation("AttackAddWorkspaceMember"),
            json!({ "i": { "workspaceId": bw, "userId": au, "roleId": ar } }),
        ),
        case(
            "addWorkspaceMember: B's user to A's workspace",
            operation("AttackAddWorkspaceMember"),
            json!({ "i": { "workspaceId": aw, "userId": bu } }),
        ),
        case(
            "addWorkspaceMember: A's user to A's workspace with B's role",
            operation("AttackAddWorkspaceMember"),
            json!({ "i": { "workspaceId": aw, "userId": au, "roleId": br } }),
        ),
        case(
            "addWorkspaceMember: B's member re-added to B's workspace",
            operation("AttackAddWorkspaceMember"),
            json!({ "i": { "workspaceId": bw, "userId": bu } }),
        ),
        case(
            "removeWorkspaceMember: B's member from B's workspace",
            operation("AttackRemoveWorkspaceMember"),
            json!({ "i": { "workspaceId": bw, "userId": bu } }),
        ),
        case(
            "removeWorkspaceMember: B's user from A's workspace",
            operation("AttackRemoveWorkspaceMember"),
            json!({ "i": { "workspaceId": aw, "userId": bu } }),
        ),
        case(
            "setProductAccess: B's user's override",
            operation("SetProductGrant"),
            json!({ "i": { "productId": "crm", "access": "FULL", "userId": bu } }),
        ),
        case(
            "setProductAccess: B's owner's override",
            operation("SetProductGrant"),
            json!({ "i": { "productId": "helpdesk", "access": "NONE", "userId": b.owner_id } }),
        ),
        case(
            "clearProductAccessOverride: B's user's override",
            operation("ClearProductAccessOverride"),
            json!({ "productId": "crm", "userId": bu }),
        ),
        case(
            "setProductAccess: B's user by bare UUID",
            operation("SetProductGrant"),
            json!({ "i": { "productId": "crm", "access": "NONE", "userId": bu_uuid } }),
        ),
        case(
            "createUser: with B's role",
            operation("AttackCreateUser"),
            json!({ "i": { "email": "mallory@alpha.example.com", "password": PASSWORD, "roleIds": [br] } }),
        ),
        case(
            "createUser: with B's admin role",
            operation("AttackCreateUser"),
            json!({ "i": { "email": "mallory2@alpha.example.com", "password": PASSWORD, "roleIds": [w.b_admin_role_id] } }),
        ),
        case(
            "createUser: with A's role and B's role",
            operation("AttackCreateUser"),
            json!({ "i": { "email": "mallory3@alpha.example.com", "password": PASSWORD, "roleIds": [ar, br] } }),
        ),
        case(
            "inviteUser: with B's role",
            operation("AttackInviteUser"),
            json!({ "i": { "email": "mallory4@alpha.example.com", "roleIds": [br] } }),
        ),
        case(
            "revokeApiKey: B's key",
            operation("AttackRevokeApiKey"),
            json!({ "id": w.b_api_key_id }),
        ),
        case(
            "deactivateTenant: B",
            operation("AttackDeactivateTenant"),
            json!({ "i": { "tenantId": b.id, "reason": "pwned" } }),
        ),
        case(
            "deactivateTenant: B by bare UUID",
            operation("AttackDeactivateTenant"),
            json!({ "i": { "tenantId": b.uuid.to_string() } }),
        ),
        case(
            "reactivateTenant: deactivated C",
            operation("AttackReactivateTenant"),
            json!({ "id": w.c.id }),
        ),
        case(
            "suspendTenant: B",
            operation("AttackSuspendTenant"),
            json!({ "id": b.id }),
        ),
        case(
            "resumeTenant: suspended D",
            operation("AttackResumeTenant"),
            json!({ "id": w.d.id }),
        ),
        case(
            "purgeTenant: deactivated C, forced with its domain",
            operation("AttackPurgeTenant"),
            json!({ "i": { "tenantId": w.c.id, "force": true, "confirmDomain": w.c.domain } }),
        ),
        case(
            "purgeTenant: B, forced with its domain",
            operation("AttackPurgeTenant"),
            json!({ "i": { "tenantId": b.id, "force": true, "confirmDomain": b.domain } }),
        ),
        case(
            "adminSetTenantLimits: B's limits and features",
            operation("AttackSetTenantLimits"),
            json!({ "i": { "tenantId": b.id, "limits": { "users": 100000 }, "features": { "sso": true } } }),
        ),
        case(
            "adminSetTenantLimits: A's own limits",
            operation("AttackSetTenantLimits"),
            json!({ "i": { "tenantId": w.a.id, "limits": { "apiCallsPerMinute": 100000 } } }),
        ),
        case(
            "verifyTenantDomain: B's domain",
            operation("VerifyTenantDomain"),
            json!({ "id": w.b_domain_id }),
        ),
        case(
            "removeTenantDomain: B's domain",
            operation("RemoveTenantDomain"),
            json!({ "id": w.b_domain_id }),
        ),
        case(
            "removeTenantDomain: B's verified domain",
            operation("RemoveTenantDomain"),
            json!({ "id": w.b_verified_domain_id }),
        ),
        case(
            "addIdentityProvider: for B's verified domain",
            operation("AddIdentityProvider"),
            json!({ "i": { "name": "pwned", "issuer": "https://idp.alpha.example.com", "clientId": "x",
                "clientSecret": "pwned-secret-123", "domainIds": [w.b_verified_domain_id] } }),
        ),
        case(
            "removeIdentityProvider: B's provider",
            operation("RemoveIdentityProvider"),
            json!({ "id": w.b_provider_id }),
        ),
        case(
            "updateProduct: the catalog's crm",
            operation("AttackUpdateProduct"),
            json!({ "i": { "id": "crm", "name": "pwned", "active": false } }),
        ),
    ]
}

/// Query and Mutation fields whose ID arguments name nothing that belongs to a tenant, so
/// there is no other tenant's object to aim them at; with the reason.
const NO_TENANT_OBJECT: &[(&str, &str)] = &[
    (
        "createApiKey",
        "productId names a product of the catalog, which every tenant shares",
    ),
    (
        "tenantContext",
        "productId names a product of the catalog, which every tenant shares",
    ),
    (
        "oauthClients",
        "OAuth clients are the platform's catalog (platform admins only), no tenant's object",
    ),
    (
        "createOauthClient",
        "OAuth clients are the platform's catalog (platform admins only), no tenant's object",
    ),
    (
        "updateOauthClient",
        "OAuth clients are the platform's catalog (platform admins only), no tenant's object",
    ),
    (
        "rotateOauthClientSecret",
        "OAuth clients are the platform's catalog (platform admins only), no tenant's object",
    ),
    (
        "deleteOauthClient",
        "OAuth clients are the platform's catalog (platform admins only), no tenant's object",
    ),
];

/// Fails unless every field of `root` that takes an ID is the root field of one of `cases` or
/// in [`NO_TENANT_OBJECT`]: the list comes from schema.graphql, so a new field fails here
/// until it has its cases.
fn assert_every_id_field_is_aimed(root: &str, cases: &[Case]) {
    let mut aimed: Vec<String> = cases.iter().map(|c| root_field(c.query)).collect();
    aimed.sort();
    aimed.dedup();
    let taking_an_id = fields_taking_an_id(root);
    let exempt: Vec<&str> = NO_TENANT_OBJECT.iter().map(|(f, _)| *f).collect();
    let missing: Vec<&String> = taking_an_id
        .iter()
        .filter(|f| !aimed.contains(f) && !exempt.contains(&f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{root} fields taking an id with no cross-tenant case: {missing:?}"
    );
    for f in exempt
        .iter()
        .filter(|f| taking_an_id.iter().any(|t| t == *f))
    {
        assert!(
            !aimed.iter().any(|a| a == f),
            "{f} is in NO_TENANT_OBJECT and has cases: which is it?"
        );
    }
}

/// Whether `ty` is `ID` (in any wrapping), or an input object with such a field at any depth.
fn carries_id(
    schema: &apollo_compiler::Schema,
    ty: &apollo_compiler::ast::Type,
    seen: &mut Vec<String>,
) -> bool {
    let name = ty.inner_named_type();
    if name == "ID" {
        return true;
    }
    if seen.iter().any(|s| s == name.as_str()) {
        return false;
    }
    seen.push(name.to_string());
    match schema.types.get(name) {
        Some(apollo_compiler::schema::ExtendedType::InputObject(input)) => input
            .fields
            .values()
            .any(|f| carries_id(schema, &f.ty, seen)),
        _ => false,
    }
}

/// The fields of `root` (`Query`, `Mutation`) in schema.graphql that take an ID, directly or
/// inside an input.
fn fields_taking_an_id(root: &str) -> Vec<String> {
    let schema = committed_schema();
    let mut out: Vec<String> = schema
        .get_object(root)
        .unwrap()
        .fields
        .values()
        .filter(|f| {
            f.arguments
                .iter()
                .any(|a| carries_id(&schema, &a.ty, &mut Vec::new()))
        })
        .map(|f| f.name.to_string())
        .collect();
    out.sort();
    out
}

/// Runs `cases` as A's owner between two snapshots of B (through B's API and in the database)
/// and of A (in the database); every case must be refused, and nothing of either tenant may
/// change, nor may B's audit log gain a line.
async fn attack(app: &TestApp, w: &World, cases: Vec<Case>) {
    let su = app.superuser().await;
    let audit_count = || async {
        su.query_one(
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1",
            &[&w.b.uuid],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    let b_before = b_snapshot(app, w).await;
    let b_rows_before = fingerprint(app, w.b.uuid).await;
    let a_rows_before = fingerprint(app, w.a.uuid).await;
    let c_rows_before = fingerprint(app, w.c.uuid).await;
    let d_rows_before = fingerprint(app, w.d.uuid).await;
    let global_before = global_rows(app).await;
    let audit_before = audit_count().await;
    assert!(
        audit_before > 0,
        "B's fixture must have written to B's audit log"
    );

    let mut failures = run_attacks(app, &w.a.token, &w.b_secrets, &cases).await;

    // Checked even when a case failed above, so that the report says whether it did harm.
    let b_after = b_snapshot(app, w).await;
    if b_before.0 != b_after.0 {
        failures.push(format!(
            "B's view of its data changed:\n  before {}\n  after  {}",
            b_before.0, b_after.0
        ));
    }
    if b_before.1 != b_after.1 {
        failures.push(format!(
            "B's second user's view of itself changed:\n  before {}\n  after  {}",
            b_before.1, b_after.1
        ));
    }
    for (who, before, tenant) in [
        ("B", &b_rows_before, w.b.uuid),
        ("A", &a_rows_before, w.a.uuid),
        ("C", &c_rows_before, w.c.uuid),
        ("D", &d_rows_before, w.d.uuid),
    ] {
        for diff in changed_rows(before, &fingerprint(app, tenant).await) {
            failures.push(format!("{who}'s rows changed in {diff}"));
        }
    }
    for diff in changed_rows(&global_before, &global_rows(app).await) {
        failures.push(format!("global rows changed in {diff}"));
    }
    let audit_after = audit_count().await;
    if audit_after != audit_before {
        failures.push(format!(
            "B's audit log went from {audit_before} to {audit_after} lines"
        ));
    }
    let by_a: i64 = su
        .query_one(
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND actor_id = $2",
            &[&w.b.uuid, &w.a.owner_uuid],
        )
        .await
        .unwrap()
        .get(0);
    if by_a != 0 {
        failures.push(format!("B's audit log holds {by_a} lines by A's owner"));
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) with {} cross-tenant requests:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_a_cannot_read_any_object_of_tenant_b_by_its_id() {
    let app = spawn().await;
    let w = world(&app).await;
    // The queries work on A's own ids, so the refusals below are about the tenant.
    for (query, id) in [
        (operation("LeakUser"), &w.a_user_id),
        (operation("LeakWorkspace"), &w.a.default_workspace_id),
        (operation("LeakRole"), &w.a_role_id),
        (operation("LeakNode"), &w.a.id),
        (operation("LeakNode"), &w.a.owner_id),
    ] {
        ok(
            &app,
            &w.a.token,
            "A reads its own",
            query,
            json!({ "id": id }),
        )
        .await;
    }
    let cases = read_cases(&w);
    assert_every_id_field_is_aimed("Query", &cases);
    attack(&app, &w, cases).await;
}

/// Every entry of NO_TENANT_OBJECT is still a field that takes an ID.
#[test]
fn no_tenant_object_lists_only_fields_that_take_an_id() {
    let mut all = fields_taking_an_id("Query");
    all.extend(fields_taking_an_id("Mutation"));
    for (field, _) in NO_TENANT_OBJECT {
        assert!(
            all.iter().any(|f| f == field),
            "{field} is in NO_TENANT_OBJECT but takes no ID any more"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_a_cannot_change_anything_of_tenant_b_and_b_sees_no_change() {
    let app = spawn().await;
    let w = world(&app).await;
    let cases = write_cases(&w);
    assert_every_id_field_is_aimed("Mutation", &cases);
    attack(&app, &w, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_a_lists_and_nested_fields_show_nothing_of_tenant_b() {
    let app = spawn().await;
    let w = world(&app).await;
    let body = app
        .gql(Some(&w.a.token), operation("EverythingVisible"), json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let text = body.to_string();
    let leaked: Vec<&String> = w
        .b_secrets
        .iter()
        .filter(|s| text.contains(s.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "A's answer mentions B's {leaked:?}: {body}"
    );

    // Exactly A's rows, counted past RLS.
    let data = &body["data"];
    let su = app.superuser().await;
    for (table, total) in [
        ("users", &data["users"]["totalCount"]),
        ("workspaces", &data["workspaces"]["totalCount"]),
        ("roles", &data["roles"]["totalCount"]),
    ] {
        let expected: i64 = su
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE tenant_id = $1"),
                &[&w.a.uuid],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(total, &json!(expected), "A's {table} totalCount: {body}");
    }
    let emails: Vec<&str> = data["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, [w.a.owner_email.as_str(), "amy@alpha.example.com"]);
    assert_eq!(data["me"]["email"], json!(w.a.owner_email));
    assert_eq!(
        data["tenantContext"]["tenantId"],
        json!(w.a.uuid.to_string())
    );
    assert_eq!(
        data["tenantContext"]["userId"],
        json!(w.a.owner_uuid.to_string())
    );
    assert_eq!(
        data["tenantConfig"]["tenant_id"],
        json!(w.a.uuid.to_string())
    );
    // B's tenant-wide helpdesk grant and its user's crm override are B's alone.
    let helpdesk = data["tenantContext"]["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["productId"] == "helpdesk")
        .unwrap_or_else(|| panic!("helpdesk is an active product: {body}"));
    assert_eq!(helpdesk["access"], "NONE", "{body}");
    assert_eq!(
        data["crm"]["products"],
        json!([{ "productId": "crm", "access": "NONE" }]),
        "{body}"
    );
}

/// Without a token, every query field of the schema is refused with UNAUTHENTICATED: nothing
/// is public but sign-up, login and the token-carrying flows (mutations). The list (operations
/// of graphql/anonymous.graphql) is checked against schema.graphql, so a new query field must
/// be added here, and so reviewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_field_refuses_anonymous_callers() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let operations = [
        "AnonymousMe",
        "AnonymousMfaPolicy",
        "AnonymousTenantContext",
        "AnonymousTenant",
        "AnonymousTenantConfig",
        "AnonymousUsers",
        "AnonymousUser",
        "AnonymousPermissions",
        "AnonymousRoles",
        "AnonymousRole",
        "AnonymousWorkspaces",
        "AnonymousWorkspace",
        "AnonymousProducts",
        "AnonymousNode",
        "AnonymousUsage",
        "AnonymousUsageHistory",
        "AnonymousAlerts",
        "AnonymousApiKeys",
        "AnonymousExportTenantData",
        "AnonymousAdminTenants",
        "AnonymousAdminTenant",
        "AnonymousPlatformReport",
        "AnonymousPlatformAuditLog",
        "AnonymousAuditLog",
        "AnonymousPlans",
        "AnonymousBillingSummary",
        "AnonymousOauthClients",
    ];
    let mut in_schema: Vec<String> = committed_schema()
        .get_object("Query")
        .unwrap()
        .fields
        .keys()
        .map(|k| k.to_string())
        .collect();
    let mut listed: Vec<String> = operations
        .iter()
        .map(|name| root_field(operation(name)))
        .collect();
    in_schema.sort();
    listed.sort();
    assert_eq!(listed, in_schema, "every query field is listed here");

    for name in operations {
        let field = root_field(operation(name));
        let body = app.gql(None, operation(name), json!({ "id": t.id })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{field}: {body}"
        );
        assert!(
            body["data"].is_null() || body["data"][&field].is_null(),
            "{field} answered data: {body}"
        );
    }
}

/// The export routes (outside GraphQL) name a tenant with `?tenant=`, which only platform
/// admins may do: A's owner, who may export A, gets 403 for B by opaque id and by bare UUID,
/// with nothing of B in the answer, and B's data and audit log stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_a_cannot_export_tenant_b_through_the_http_routes() {
    let app = spawn().await;
    let w = world(&app).await;
    let get = |path: String| {
        app.client
            .get(format!("{}{path}", app.address))
            .bearer_auth(&w.a.token)
            .send()
    };
    for route in ["tenant", "audit"] {
        let own = get(format!("/export/{route}.ndjson")).await.unwrap();
        assert_eq!(own.status(), 200, "A exports its own {route}");
        own.text().await.unwrap();
    }
    let before = fingerprint(&app, w.b.uuid).await;
    let mut failures = Vec::new();
    for route in ["tenant", "audit"] {
        for id in [w.b.id.clone(), w.b.uuid.to_string()] {
            let resp = get(format!("/export/{route}.ndjson?tenant={id}"))
                .await
                .unwrap();
            let status = resp.status();
            let body = resp.text().await.unwrap();
            if status != 403 {
                failures.push(format!(
                    "/export/{route}.ndjson?tenant={id}: {status} {body}"
                ));
            }
            if let Some(s) = w
                .b_secrets
                .iter()
                .filter(|s| **s != id)
                .find(|s| body.contains(s.as_str()))
            {
                failures.push(format!(
                    "/export/{route}.ndjson?tenant={id} mentions B's {s:?}: {body}"
                ));
            }
        }
    }
    for diff in changed_rows(&before, &fingerprint(&app, w.b.uuid).await) {
        failures.push(format!("B's rows changed in {diff}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Mutation fields that anonymous callers may call, with what proves who they are instead.
const PUBLIC_MUTATIONS: &[(&str, &str)] = &[
    ("createTenant", "sign-up (HUB_SIGNUP_ENABLED)"),
    ("login", "the password"),
    ("adminLogin", "the platform admin's password"),
    ("refreshSession", "the refresh token"),
    ("acceptInvitation", "the invitation token"),
    ("resetPassword", "the reset token"),
    (
        "requestPasswordReset",
        "none: it answers the same for every account and only mails the account's own address",
    ),
    ("verifyEmail", "the verification token"),
    (
        "reportEmailChange",
        "the report token of the email-change notice",
    ),
    (
        "completeMfaLogin",
        "the sign-in challenge and the second factor",
    ),
    (
        "beginTotpEnrolment",
        "the enrolment challenge of a sign-in the tenant's policy holds",
    ),
    (
        "beginPasskeyLogin",
        "the sign-in challenge of a login that answered mfaRequired",
    ),
];

/// Anonymous requests that are refused, but with another code than UNAUTHENTICATED because a
/// check runs before the authentication, with where. Must end up empty; a case listed here that
/// answers UNAUTHENTICATED fails the test, so the list cannot go stale.
const ANONYMOUS_REFUSED_OTHERWISE_YET: &[(&str, &str)] = &[
    (
        "DeactivateTenant",
        "src/graphql/lifecycle.rs owner_or_admin: naming a tenant is FORBIDDEN before the caller is known",
    ),
    (
        "ReactivateTenant",
        "src/graphql/lifecycle.rs owner_or_admin: naming a tenant is FORBIDDEN before the caller is known",
    ),
];

/// Without a token, every other mutation is refused with UNAUTHENTICATED and changes nothing.
/// The list is checked against schema.graphql, so a new mutation must be added here or to
/// [`PUBLIC_MUTATIONS`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_but_the_public_ones_refuses_anonymous_callers() {
    let app = spawn().await;
    let t = app.signup("acme").await;
    let id = t.id.as_str();
    // Real ids of the right types, so that only the missing token can explain a refusal.
    let role = app.role_id(&t.token, "viewer").await;
    let key = app
        .gql(
            Some(&t.token),
            operation("CreateApiKey"),
            json!({ "i": { "productId": "docs", "name": "k" } }),
        )
        .await["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let domain = app
        .gql(
            Some(&t.token),
            operation("AddTenantDomain"),
            json!({ "domain": "acme-owned.com" }),
        )
        .await["data"]["addTenantDomain"]["domain"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases: Vec<(&str, Value)> = vec![
        ("LogOut", json!({})),
        ("ConfirmTotpEnrolment", json!({ "code": "123456" })),
        ("RegenerateRecoveryCodes", json!({})),
        ("RemoveMfaFactor", json!({ "id": t.owner_id })),
        ("ResetUserMfa", json!({ "id": t.owner_id })),
        ("SetMfaPolicy", json!({ "p": "EVERYONE" })),
        ("UpdateTenantSettings", json!({ "i": { "name": "pwned" } })),
        (
            "CreateUser",
            json!({ "i": { "email": "x@acme.example.com" } }),
        ),
        (
            "InviteUser",
            json!({ "i": { "email": "y@acme.example.com" } }),
        ),
        (
            "AttackUpdateUser",
            json!({ "i": { "id": t.owner_id, "displayName": "pwned" } }),
        ),
        ("DeactivateUserWithId", json!({ "id": t.owner_id })),
        ("ReactivateUser", json!({ "id": t.owner_id })),
        ("DeleteUser", json!({ "id": t.owner_id })),
        (
            "ChangePassword",
            json!({ "current": PASSWORD, "new": "pwned pwned pwned" }),
        ),
        ("ResetUserPassword", json!({ "id": t.owner_id })),
        ("ResendInvitation", json!({ "id": t.owner_id })),
        (
            "CreateRole",
            json!({ "i": { "name": "pwned", "permissions": [] } }),
        ),
        (
            "UpdateRoleDescription",
            json!({ "i": { "id": role, "description": "pwned" } }),
        ),
        ("DeleteRole", json!({ "id": role })),
        (
            "AssignRole",
            json!({ "i": { "userId": t.owner_id, "roleId": role } }),
        ),
        (
            "UnassignRole",
            json!({ "i": { "userId": t.owner_id, "roleId": role } }),
        ),
        ("CreateWorkspace", json!({ "i": { "name": "pwned" } })),
        (
            "UpdateWorkspace",
            json!({ "i": { "id": t.default_workspace_id, "name": "pwned" } }),
        ),
        ("ArchiveWorkspace", json!({ "id": t.default_workspace_id })),
        (
            "AddWorkspaceMember",
            json!({ "i": { "workspaceId": t.default_workspace_id, "userId": t.owner_id } }),
        ),
        (
            "RemoveWorkspaceMember",
            json!({ "i": { "workspaceId": t.default_workspace_id, "userId": t.owner_id } }),
        ),
        (
            "SetProductGrant",
            json!({ "i": { "productId": "crm", "access": "NONE" } }),
        ),
        (
            "ClearProductAccessOverride",
            json!({ "productId": "crm", "userId": t.owner_id }),
        ),
        (
            "CreateProduct",
            json!({ "i": { "id": "pwned", "name": "pwned" } }),
        ),
        (
            "UpdateProduct",
            json!({ "i": { "id": "crm", "name": "pwned" } }),
        ),
        (
            "CreateApiKey",
            json!({ "i": { "productId": "docs", "name": "pwned" } }),
        ),
        ("RevokeApiKey", json!({ "id": key })),
        ("ReportUsage", json!({ "gb": 1.0 })),
        (
            "SetTenantLimits",
            json!({ "i": { "tenantId": id, "limits": { "users": 1 } } }),
        ),
        ("DeactivateTenant", json!({ "i": {} })),
        ("ReactivateTenant", json!({})),
        ("SuspendTenantById", json!({ "id": id })),
        ("ResumeTenant", json!({ "id": id })),
        (
            "PurgeTenant",
            json!({ "i": { "tenantId": id, "force": true, "confirmDomain": t.domain } }),
        ),
        ("FlushUsage", json!({})),
        ("ChangePlan", json!({ "plan": "pro" })),
        (
            "CreateOauthClient",
            json!({ "i": { "productId": "crm", "redirectUris": ["https://crm.example.com/cb"] } }),
        ),
        (
            "UpdateOauthClient",
            json!({ "i": { "clientId": Uuid::new_v4().to_string(), "redirectUris": ["https://evil.example.com/cb"] } }),
        ),
        (
            "RotateOauthClientSecret",
            json!({ "id": Uuid::new_v4().to_string() }),
        ),
        (
            "DeleteOauthClient",
            json!({ "id": Uuid::new_v4().to_string() }),
        ),
        ("AddTenantDomain", json!({ "domain": "acme-corp.com" })),
        ("VerifyTenantDomain", json!({ "id": domain })),
        ("RemoveTenantDomain", json!({ "id": domain })),
        (
            "AddIdentityProvider",
            json!({ "i": { "name": "pwned", "issuer": "https://idp.example.com", "clientId": "x",
                "clientSecret": "pwned-secret-123", "domainIds": [domain] } }),
        ),
        (
            "RemoveIdentityProvider",
            json!({ "id": tenant_hub::graphql::ids::encode("IdentityProvider", Uuid::now_v7()).0 }),
        ),
        ("BeginPasskeyRegistration", json!({ "label": "pwned" })),
        (
            "FinishPasskeyRegistration",
            json!({ "ceremony": "x", "credential": "{}" }),
        ),
    ];
    let mut listed: Vec<String> = cases
        .iter()
        .map(|(name, _)| root_field(operation(name)))
        .chain(PUBLIC_MUTATIONS.iter().map(|(f, _)| f.to_string()))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        mutation_fields(),
        "every mutation is listed once, here or in PUBLIC_MUTATIONS"
    );

    let before = fingerprint(&app, t.uuid).await;
    let global_before = global_rows(&app).await;
    let mut failures = Vec::new();
    let naming_the_tenant = [
        ("DeactivateTenant", json!({ "i": { "tenantId": id } })),
        ("ReactivateTenant", json!({ "id": id })),
    ];
    for (name, vars) in cases.iter().chain(&naming_the_tenant) {
        let field = root_field(operation(name));
        let body = app.gql(None, operation(name), vars.clone()).await;
        let code = body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("");
        let pending = naming_the_tenant
            .iter()
            .any(|(n, v)| n == name && v == vars)
            && ANONYMOUS_REFUSED_OTHERWISE_YET
                .iter()
                .any(|(n, _)| n == name);
        match (code, pending) {
            ("UNAUTHENTICATED", false) => {}
            ("UNAUTHENTICATED", true) => failures.push(format!(
                "{field} {vars}: UNAUTHENTICATED now, remove it from ANONYMOUS_REFUSED_OTHERWISE_YET"
            )),
            ("FORBIDDEN" | "NOT_FOUND", true) => {}
            _ => failures.push(format!("{field} {vars}: expected UNAUTHENTICATED, got {body}")),
        }
        if has_data(&body["data"]) {
            failures.push(format!("{field}: refused, but with data: {body}"));
        }
    }
    for diff in changed_rows(&before, &fingerprint(&app, t.uuid).await) {
        failures.push(format!("the tenant's rows changed in {diff}"));
    }
    for diff in changed_rows(&global_before, &global_rows(&app).await) {
        failures.push(format!("global rows changed in {diff}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

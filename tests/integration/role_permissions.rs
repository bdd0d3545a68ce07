//! The permission matrix of the system roles (src/domain/permissions.rs): users holding exactly
//! one of admin, member, viewer or billing try every operation of the management API. Each is
//! allowed or FORBIDDEN as the matrix says, and a forbidden one changes nothing in the database.
//! Nobody grants what they lack: an admin can neither give the owner role nor make a role with
//! billing:manage.

use crate::common;

use std::collections::BTreeMap;

use common::{PASSWORD, TenantFixture, TestApp, operation, spawn_app_with};
use serde_json::{Value, json};

const ROLES: [&str; 4] = ["admin", "member", "viewer", "billing"];
const ALL: &[&str] = &["admin", "member", "viewer", "billing"];
const READERS: &[&str] = &["admin", "member", "viewer"];
const WRITERS: &[&str] = &["admin", "member"];
const ADMIN: &[&str] = &["admin"];

/// A tenant whose owner made one user per system role, and for each of them a target user, a
/// workspace and a custom role to act on.
struct Team {
    tenant: TenantFixture,
    /// System role name → role id (owner included).
    role_ids: BTreeMap<&'static str, String>,
    /// Per role of ROLES: the acting user's id and token, and its own targets.
    user_ids: BTreeMap<&'static str, String>,
    tokens: BTreeMap<&'static str, String>,
    target_ids: BTreeMap<&'static str, String>,
    workspace_ids: BTreeMap<&'static str, String>,
    custom_role_ids: BTreeMap<&'static str, String>,
}

/// The hub with a burst as large as the free plan's whole minute: these tests send a few
/// hundred requests per tenant at once, and rate limiting is tests/integration/quotas.rs's subject.
/// No periodic usage flush: it would write the tenant's API-call counters between two
/// snapshots of its rows (seen once under load).
async fn spawn() -> TestApp {
    spawn_app_with(|s| {
        s.rate_limit_burst_secs = 60;
        s.usage_flush_secs = 3600;
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

fn id_at(data: &Value, path: &[&str]) -> String {
    let mut v = data;
    for p in path {
        v = &v[*p];
    }
    v.as_str()
        .unwrap_or_else(|| panic!("no {path:?} in {data}"))
        .to_owned()
}

async fn team(app: &TestApp) -> Team {
    let tenant = app.signup("acme").await;
    let owner = tenant.token.clone();
    let mut role_ids = BTreeMap::new();
    for r in ["owner", "admin", "member", "viewer", "billing"] {
        role_ids.insert(r, app.role_id(&owner, r).await);
    }
    let mut user_ids = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    let mut target_ids = BTreeMap::new();
    let mut workspace_ids = BTreeMap::new();
    let mut custom_role_ids = BTreeMap::new();
    for r in ROLES {
        let email = format!("{r}@{}", tenant.domain);
        let data = ok(
            app,
            &owner,
            "createUser",
            operation("CreateUserWithRoles"),
            json!({ "i": { "email": email, "password": PASSWORD, "displayName": r, "roleIds": [role_ids[r]] } }),
        )
        .await;
        assert_eq!(
            data["createUser"]["user"]["roles"],
            json!([{ "name": r }]),
            "{data}"
        );
        user_ids.insert(r, id_at(&data, &["createUser", "user", "id"]));
        let login = app.login(&tenant.domain, &email, PASSWORD).await;
        tokens.insert(r, id_at(&login, &["accessToken"]));

        let data = ok(
            app,
            &owner,
            "createUser (target)",
            operation("CreateUser"),
            json!({ "i": { "email": format!("target-{r}@{}", tenant.domain), "password": PASSWORD } }),
        )
        .await;
        target_ids.insert(r, id_at(&data, &["createUser", "user", "id"]));
        let data = ok(
            app,
            &owner,
            "createWorkspace",
            operation("CreateWorkspace"),
            json!({ "i": { "name": format!("Team {r}"), "slug": format!("team-{r}") } }),
        )
        .await;
        workspace_ids.insert(r, id_at(&data, &["createWorkspace", "workspace", "id"]));
        let data = ok(
            app,
            &owner,
            "createRole",
            operation("CreateRole"),
            json!({ "i": { "name": format!("custom-{r}"), "permissions": ["users:read"] } }),
        )
        .await;
        custom_role_ids.insert(r, id_at(&data, &["createRole", "role", "id"]));
    }
    Team {
        tenant,
        role_ids,
        user_ids,
        tokens,
        target_ids,
        workspace_ids,
        custom_role_ids,
    }
}

/// Every tenant table's rows of the tenant as text (all columns), plus its `tenants` row.
async fn fingerprint(
    su: &tokio_postgres::Client,
    tenant: uuid::Uuid,
) -> BTreeMap<String, Vec<String>> {
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

/// Whether `data` holds anything but nulls.
fn has_data(data: &Value) -> bool {
    match data {
        Value::Null => false,
        Value::Object(map) => map.values().any(has_data),
        _ => true,
    }
}

/// One operation of the matrix: the roles allowed to run it, and its variables for an actor
/// of a given role (each role acts on its own targets).
struct Op<'t> {
    name: &'static str,
    allowed: &'static [&'static str],
    query: &'static str,
    vars: Box<dyn Fn(&'static str) -> Value + 't>,
}

fn op<'t>(
    name: &'static str,
    allowed: &'static [&'static str],
    query: &'static str,
    vars: impl Fn(&'static str) -> Value + 't,
) -> Op<'t> {
    Op {
        name,
        allowed,
        query,
        vars: Box::new(vars),
    }
}

fn no_vars(_: &'static str) -> Value {
    json!({})
}

fn read_ops(t: &Team) -> Vec<Op<'_>> {
    vec![
        op("tenant", ALL, operation("TenantLimits"), no_vars),
        op("tenantConfig", ALL, operation("TenantConfig"), no_vars),
        op("me", ALL, operation("MeWithRoles"), no_vars),
        op(
            "tenantContext",
            ALL,
            operation("TenantContextProducts"),
            no_vars,
        ),
        op("products", ALL, operation("ProductNames"), no_vars),
        op(
            "node(Tenant)",
            ALL,
            operation("NodeId"),
            |_| json!({ "id": t.tenant.id }),
        ),
        op("users", READERS, operation("UserEmails"), no_vars),
        op(
            "user(id)",
            READERS,
            operation("UserById"),
            |r| json!({ "id": t.target_ids[r] }),
        ),
        op(
            "node(User)",
            READERS,
            operation("NodeId"),
            |r| json!({ "id": t.target_ids[r] }),
        ),
        op("roles", READERS, operation("RoleList"), no_vars),
        op(
            "role(id)",
            READERS,
            operation("RoleById"),
            |r| json!({ "id": t.custom_role_ids[r] }),
        ),
        op(
            "node(Role)",
            READERS,
            operation("NodeId"),
            |r| json!({ "id": t.custom_role_ids[r] }),
        ),
        op("workspaces", READERS, operation("WorkspaceList"), no_vars),
        op(
            "workspace(id)",
            READERS,
            operation("WorkspaceById"),
            |r| json!({ "id": t.workspace_ids[r] }),
        ),
        op(
            "node(Workspace)",
            READERS,
            operation("NodeId"),
            |r| json!({ "id": t.workspace_ids[r] }),
        ),
        // Only the guarded field: async-graphql drops a field that failed and keeps its
        // siblings, so a sibling such as `id` would come back as data.
        op(
            "tenant.integrations",
            ADMIN,
            operation("TenantIntegrations"),
            no_vars,
        ),
    ]
}

/// In an order that keeps every role's targets usable: changes first, deletions last.
fn write_ops(t: &Team) -> Vec<Op<'_>> {
    let domain = &t.tenant.domain;
    vec![
        op(
            "createUser",
            ADMIN,
            operation("CreateUser"),
            move |r| json!({ "i": { "email": format!("created-by-{r}@{domain}"), "password": PASSWORD } }),
        ),
        op(
            "inviteUser",
            ADMIN,
            operation("InviteUser"),
            move |r| json!({ "i": { "email": format!("invited-by-{r}@{domain}") } }),
        ),
        op(
            "updateUser (another user's email)",
            ADMIN,
            operation("UpdateUserEmail"),
            move |r| json!({ "i": { "id": t.target_ids[r], "email": format!("renamed-{r}@{domain}") } }),
        ),
        op(
            "updateUser (another user's display name)",
            ADMIN,
            operation("UpdateUserDisplayName"),
            |r| json!({ "i": { "id": t.target_ids[r], "displayName": format!("Renamed by {r}") } }),
        ),
        op(
            "deactivateUser",
            ADMIN,
            operation("DeactivateUserWithId"),
            |r| json!({ "id": t.target_ids[r] }),
        ),
        op(
            "reactivateUser",
            ADMIN,
            operation("ReactivateUser"),
            |r| json!({ "id": t.target_ids[r] }),
        ),
        op(
            "resetUserPassword",
            ADMIN,
            operation("ResetUserPassword"),
            |r| json!({ "id": t.target_ids[r] }),
        ),
        op(
            "createRole",
            ADMIN,
            operation("CreateRole"),
            |r| json!({ "i": { "name": format!("made-by-{r}"), "permissions": ["users:read"] } }),
        ),
        op(
            "updateRole",
            ADMIN,
            operation("UpdateRoleDescription"),
            |r| json!({ "i": { "id": t.custom_role_ids[r], "description": format!("changed by {r}") } }),
        ),
        op(
            "assignRole (tenant-wide)",
            ADMIN,
            operation("AssignRoleShowingRoles"),
            |r| json!({ "i": { "userId": t.target_ids[r], "roleId": t.role_ids["viewer"] } }),
        ),
        op(
            "assignRole (in a workspace)",
            ADMIN,
            operation("AssignRole"),
            |r| json!({ "i": { "userId": t.target_ids[r], "roleId": t.custom_role_ids[r], "workspaceId": t.workspace_ids[r] } }),
        ),
        op(
            "unassignRole",
            ADMIN,
            operation("UnassignRole"),
            |r| json!({ "i": { "userId": t.target_ids[r], "roleId": t.role_ids["viewer"] } }),
        ),
        op(
            "createWorkspace",
            WRITERS,
            operation("CreateWorkspace"),
            |r| json!({ "i": { "name": format!("New {r}"), "slug": format!("new-{r}") } }),
        ),
        op(
            "updateWorkspace",
            WRITERS,
            operation("UpdateWorkspace"),
            |r| json!({ "i": { "id": t.workspace_ids[r], "name": format!("Renamed by {r}") } }),
        ),
        op(
            "addWorkspaceMember",
            WRITERS,
            operation("AddWorkspaceMember"),
            |r| json!({ "i": { "workspaceId": t.workspace_ids[r], "userId": t.target_ids[r] } }),
        ),
        op(
            "removeWorkspaceMember",
            WRITERS,
            operation("RemoveWorkspaceMember"),
            |r| json!({ "i": { "workspaceId": t.workspace_ids[r], "userId": t.target_ids[r] } }),
        ),
        op(
            "archiveWorkspace",
            WRITERS,
            operation("ArchiveWorkspace"),
            |r| json!({ "id": t.workspace_ids[r] }),
        ),
        op(
            "setProductAccess (tenant-wide)",
            ADMIN,
            operation("SetProductGrant"),
            |_| json!({ "i": { "productId": "crm", "access": "FULL" } }),
        ),
        op(
            "setProductAccess (a user's override)",
            ADMIN,
            operation("SetProductGrant"),
            |r| json!({ "i": { "productId": "crm", "access": "LIMITED", "userId": t.target_ids[r] } }),
        ),
        op(
            "updateTenantSettings (name)",
            ADMIN,
            operation("UpdateTenantSettings"),
            |r| json!({ "i": { "name": format!("Acme by {r}") } }),
        ),
        op(
            "updateTenantSettings (branding and integrations)",
            ADMIN,
            operation("UpdateTenantSettings"),
            |r| {
                json!({ "i": {
                    "branding": { "colors": { "primary": "#1a2b3c" } },
                    "integrations": [{ "name": format!("slack-{r}"), "settings": { "channel": "general" }, "secret": "xoxb-0123456789abcdef" }],
                } })
            },
        ),
        op(
            "deleteRole",
            ADMIN,
            operation("DeleteRole"),
            |r| json!({ "id": t.custom_role_ids[r] }),
        ),
        op(
            "deleteUser",
            ADMIN,
            operation("DeleteUser"),
            |r| json!({ "id": t.target_ids[r] }),
        ),
    ]
}

/// Runs each operation as each role of `roles` (the forbidden ones first), checking the
/// outcome the matrix gives; a forbidden attempt must leave every row of the tenant as it was.
/// Returns a line per wrong outcome.
async fn run_matrix(
    app: &TestApp,
    t: &Team,
    ops: &[Op<'_>],
    roles: &[&'static str],
) -> Vec<String> {
    let su = app.superuser().await;
    let users = || async {
        su.query_one(
            "SELECT count(*) FROM users WHERE tenant_id = $1",
            &[&t.tenant.uuid],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    let mut failures = Vec::new();
    for op in ops {
        let mut order: Vec<&'static str> = roles.to_vec();
        order.sort_by_key(|r| op.allowed.contains(r));
        for role in order {
            let case = format!("{} as {role}", op.name);
            let vars = (op.vars)(role);
            if op.allowed.contains(&role) {
                let body = app.gql(Some(&t.tokens[role]), op.query, vars).await;
                if body.get("errors").is_some() || !has_data(&body["data"]) {
                    failures.push(format!("{case}: expected to be allowed, got {body}"));
                }
                continue;
            }
            let rows_before = fingerprint(&su, t.tenant.uuid).await;
            let users_before = users().await;
            let body = app.gql(Some(&t.tokens[role]), op.query, vars).await;
            let code = body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("");
            if code != "FORBIDDEN" {
                failures.push(format!("{case}: expected FORBIDDEN, got {body}"));
            } else if has_data(&body["data"]) {
                failures.push(format!("{case}: FORBIDDEN, but with data: {body}"));
            }
            let users_after = users().await;
            if users_after != users_before {
                failures.push(format!(
                    "{case}: the users went from {users_before} to {users_after}"
                ));
            }
            for diff in changed_rows(&rows_before, &fingerprint(&su, t.tenant.uuid).await) {
                failures.push(format!("{case}: changed {diff}"));
            }
        }
    }
    failures
}

fn expect_no_failures(what: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} wrong outcome(s) of {what}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_system_role_holds_exactly_its_catalog_permissions() {
    let app = spawn().await;
    let t = team(&app).await;
    let expected: [(&str, &[&str]); 4] = [
        (
            "admin",
            &[
                "apikeys:manage",
                "audit:read",
                "products:manage",
                "roles:manage",
                "tenant:manage",
                "tenant:read",
                "users:read",
                "users:write",
                "workspaces:read",
                "workspaces:write",
            ],
        ),
        (
            "member",
            &[
                "tenant:read",
                "users:read",
                "workspaces:read",
                "workspaces:write",
            ],
        ),
        ("viewer", &["tenant:read", "users:read", "workspaces:read"]),
        ("billing", &["billing:manage", "tenant:read"]),
    ];
    for (role, perms) in expected {
        let data = ok(
            &app,
            &t.tokens[role],
            role,
            operation("MyRolesAndPermissions"),
            json!({}),
        )
        .await;
        assert_eq!(
            data["me"]["roles"],
            json!([{ "name": role, "isSystem": true }]),
            "{role}: {data}"
        );
        let mut got: Vec<String> =
            serde_json::from_value(data["tenantContext"]["permissions"].clone()).unwrap();
        got.sort();
        assert_eq!(got, perms, "{role}'s permissions");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_allowed_or_forbidden_for_each_system_role_as_the_matrix_says() {
    let app = spawn().await;
    let t = team(&app).await;
    let mut ops = read_ops(&t);
    ops.push(op(
        "updateUser (own display name)",
        ALL,
        operation("UpdateUserDisplayName"),
        |r| json!({ "i": { "id": t.user_ids[r], "displayName": format!("Still {r}") } }),
    ));
    ops.extend(write_ops(&t));
    let failures = run_matrix(&app, &t, &ops, &ROLES).await;
    expect_no_failures("the role matrix", failures);

    // The allowed changes did happen (the matrix checked the answers only).
    let data = ok(
        &app,
        &t.tenant.token,
        "owner reads back",
        operation("TenantNameAndUsers"),
        json!({}),
    )
    .await;
    assert_eq!(data["tenant"]["name"], "Acme by admin", "{data}");
    let emails = data["users"].to_string();
    assert!(
        emails.contains("created-by-admin@") && emails.contains("invited-by-admin@"),
        "{data}"
    );
    assert!(
        !emails.contains("created-by-member@") && !emails.contains("target-admin@"),
        "{data}"
    );
    assert!(emails.contains("target-member@"), "{data}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_can_write_nothing_but_its_own_display_name() {
    let app = spawn().await;
    let t = team(&app).await;
    let su = app.superuser().await;
    let before = fingerprint(&su, t.tenant.uuid).await;
    let ops = write_ops(&t);
    assert!(ops.iter().all(|o| !o.allowed.contains(&"viewer")));
    let failures = run_matrix(&app, &t, &ops, &["viewer"]).await;
    expect_no_failures("the viewer's writes", failures);
    let changed = changed_rows(&before, &fingerprint(&su, t.tenant.uuid).await);
    assert!(
        changed.is_empty(),
        "the viewer's refused writes changed {changed:?}"
    );

    let body = app
        .gql(
            Some(&t.tokens["viewer"]),
            operation("UpdateOwnDisplayName"),
            json!({ "i": { "id": t.user_ids["viewer"], "displayName": "Vera Viewer" } }),
        )
        .await;
    assert_eq!(
        body["data"]["updateUser"]["user"]["displayName"], "Vera Viewer",
        "{body}"
    );
    // Its own email is a users:write change like any other.
    let body = app
        .gql(
            Some(&t.tokens["viewer"]),
            operation("UpdateOwnEmail"),
            json!({ "i": { "id": t.user_ids["viewer"], "email": "vera@acme.example.com" } }),
        )
        .await;
    assert_eq!(common::error_code(&body), "FORBIDDEN", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_grants_what_they_lack_an_admin_cannot_give_the_owner_role_or_billing_manage() {
    let app = spawn().await;
    let t = team(&app).await;
    let owner_role = &t.role_ids["owner"];
    let billing_role = &t.role_ids["billing"];
    let admin_id = &t.user_ids["admin"];
    let target = &t.target_ids["admin"];
    let domain = &t.tenant.domain;
    // Allowed for nobody below: each attempt must be FORBIDDEN and change nothing.
    const NOBODY: &[&str] = &[];
    let ops = vec![
        op(
            "assignRole: owner to oneself",
            NOBODY,
            operation("AssignRoleShowingRoles"),
            |_| json!({ "i": { "userId": admin_id, "roleId": owner_role } }),
        ),
        op(
            "assignRole: owner to another user",
            NOBODY,
            operation("AssignRoleShowingRoles"),
            |_| json!({ "i": { "userId": target, "roleId": owner_role } }),
        ),
        op(
            "assignRole: owner in a workspace",
            NOBODY,
            operation("AssignRoleShowingRoles"),
            |_| json!({ "i": { "userId": target, "roleId": owner_role, "workspaceId": t.tenant.default_workspace_id } }),
        ),
        op(
            "assignRole: billing to oneself",
            NOBODY,
            operation("AssignRoleShowingRoles"),
            |_| json!({ "i": { "userId": admin_id, "roleId": billing_role } }),
        ),
        op(
            "unassignRole: the owner's owner role",
            NOBODY,
            operation("UnassignRole"),
            |_| json!({ "i": { "userId": t.tenant.owner_id, "roleId": owner_role } }),
        ),
        op(
            "createUser: an owner",
            NOBODY,
            operation("CreateUserWithRoles"),
            move |_| json!({ "i": { "email": format!("new-owner@{domain}"), "password": PASSWORD, "roleIds": [owner_role] } }),
        ),
        op(
            "createUser: a billing manager",
            NOBODY,
            operation("CreateUserWithRoles"),
            move |_| json!({ "i": { "email": format!("new-billing@{domain}"), "password": PASSWORD, "roleIds": [billing_role] } }),
        ),
        op(
            "inviteUser: an owner",
            NOBODY,
            operation("InviteUser"),
            move |_| json!({ "i": { "email": format!("invited-owner@{domain}"), "roleIds": [owner_role] } }),
        ),
        op(
            "createRole: with billing:manage",
            NOBODY,
            operation("CreateRoleWithPermissions"),
            |_| json!({ "i": { "name": "payers", "permissions": ["users:read", "billing:manage"] } }),
        ),
        op(
            "createRole: with tenant:delete",
            NOBODY,
            operation("CreateRoleWithPermissions"),
            |_| json!({ "i": { "name": "wreckers", "permissions": ["tenant:delete"] } }),
        ),
        op(
            "updateRole: add billing:manage",
            NOBODY,
            operation("UpdateRolePermissions"),
            |_| json!({ "i": { "id": t.custom_role_ids["admin"], "permissions": ["users:read", "billing:manage"] } }),
        ),
        op(
            "addWorkspaceMember: with the owner role",
            NOBODY,
            operation("AddWorkspaceMemberShowingRoles"),
            |_| json!({ "i": { "workspaceId": t.workspace_ids["admin"], "userId": target, "roleId": owner_role } }),
        ),
    ];
    let mut failures = run_matrix(&app, &t, &ops, &["admin"]).await;
    // A member manages workspaces, but gives no workspace role stronger than its own.
    let member_ops = vec![op(
        "addWorkspaceMember: with the admin role",
        NOBODY,
        operation("AddWorkspaceMemberShowingRoles"),
        |_| json!({ "i": { "workspaceId": t.workspace_ids["member"], "userId": t.target_ids["member"], "roleId": t.role_ids["admin"] } }),
    )];
    failures.extend(run_matrix(&app, &t, &member_ops, &["member"]).await);
    expect_no_failures("grants beyond one's own permissions", failures);

    // What the admin holds is what it held.
    let data = ok(
        &app,
        &t.tokens["admin"],
        "admin reads itself",
        operation("MyRoleNamesAndPermissions"),
        json!({}),
    )
    .await;
    assert_eq!(data["me"]["roles"], json!([{ "name": "admin" }]), "{data}");
    let perms = data["tenantContext"]["permissions"].to_string();
    assert!(
        !perms.contains("billing:manage") && !perms.contains("tenant:delete"),
        "{data}"
    );

    // Within its own permissions the admin does grant: the same calls with the admin role work.
    let body = app
        .gql(
            Some(&t.tokens["admin"]),
            operation("AssignRoleShowingRoles"),
            json!({ "i": { "userId": target, "roleId": t.role_ids["admin"] } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app
        .gql(
            Some(&t.tokens["admin"]),
            operation("CreateRoleWithPermissions"),
            json!({ "i": { "name": "helpers", "permissions": ["users:read", "audit:read"] } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

/// The rule behind "nobody grants what they lack", applied to acting on accounts: an admin
/// who could reset an owner's password (the token comes back to the admin), change an owner's
/// email, or deactivate or delete an owner would get or remove the owner's permissions
/// (billing:manage, tenant:delete) without holding them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_cannot_take_over_or_remove_an_owner_account() {
    let app = spawn().await;
    let t = team(&app).await;
    // A second owner, so that the last-owner rule (CONFLICT) is not what refuses the changes.
    let second = &t.target_ids["member"];
    ok(
        &app,
        &t.tenant.token,
        "second owner",
        operation("AssignRole"),
        json!({ "i": { "userId": second, "roleId": t.role_ids["owner"] } }),
    )
    .await;
    const NOBODY: &[&str] = &[];
    let owner = &t.tenant.owner_id;
    let ops = vec![
        op(
            "resetUserPassword: the owner",
            NOBODY,
            operation("ResetUserPassword"),
            |_| json!({ "id": owner }),
        ),
        op(
            "updateUser: the owner's email",
            NOBODY,
            operation("UpdateOwnEmail"),
            |_| json!({ "i": { "id": owner, "email": "taken-over@acme.example.com" } }),
        ),
        op(
            "deactivateUser: an owner",
            NOBODY,
            operation("DeactivateUser"),
            |_| json!({ "id": second }),
        ),
        op(
            "deleteUser: an owner",
            NOBODY,
            operation("DeleteUser"),
            |_| json!({ "id": second }),
        ),
    ];
    let failures = run_matrix(&app, &t, &ops, &["admin"]).await;
    expect_no_failures("an admin acting on owners", failures);
}

/// `me.roleAssignments` / `user.roleAssignments` give each held role its scope: the tenant-wide
/// ones (which make the permissions) apart from a role held in one workspace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_held_role_comes_with_its_scope() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    let (carol, carol_token) = app
        .add_user(&t, "carol@acme.example.com", &["member"])
        .await;
    let viewer = app.role_id(&t.token, "viewer").await;
    let assigned = app
        .gql(
            Some(&t.token),
            operation("AssignRole"),
            json!({ "i": { "userId": carol, "roleId": viewer, "workspaceId": t.default_workspace_id } }),
        )
        .await;
    assert!(assigned["data"]["assignRole"].is_object(), "{assigned}");
    let expected = json!([
        { "scope": "TENANT", "workspaceId": null, "role": { "name": "member" } },
        { "scope": "WORKSPACE", "workspaceId": t.default_workspace_id, "role": { "name": "viewer" } },
    ]);
    let me = app
        .gql(
            Some(&carol_token),
            operation("MyRoleAssignments"),
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"]["roleAssignments"], expected, "{me}");
    let user = app
        .gql(
            Some(&t.token),
            operation("UserRoleAssignments"),
            json!({ "id": carol }),
        )
        .await;
    assert_eq!(user["data"]["user"]["roleAssignments"], expected, "{user}");
}

/// Two owners deactivating each other at the same moment leave one owner: the last-owner rule
/// locks the tenant row before it counts the owners, so the second change waits for the first
/// and then sees it would remove the last owner. The test makes the race certain: one
/// superuser transaction holds the tenant row, another both owners' rows, until both requests
/// are waiting; without the tenant lock both count two owners and both go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_owners_deactivating_each_other_at_once_leave_one_owner() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    let (b_id, b_token) = app.add_user(&t, "b@acme.example.com", &["owner"]).await;
    let b_uuid: uuid::Uuid = app
        .superuser()
        .await
        .query_one(
            "SELECT id FROM users WHERE email = 'b@acme.example.com'",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    let tenant_lock = app.superuser().await;
    tenant_lock
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM tenants WHERE id = '{}' FOR UPDATE",
            t.uuid
        ))
        .await
        .unwrap();
    let user_locks = app.superuser().await;
    user_locks
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM users WHERE id IN ('{}', '{b_uuid}') FOR UPDATE",
            t.owner_uuid
        ))
        .await
        .unwrap();

    let deactivate = |token: String, id: String| {
        let app = &app;
        async move {
            app.gql(
                Some(&token),
                operation("DeactivateUser"),
                json!({ "id": id }),
            )
            .await
        }
    };
    let a_removes_b = deactivate(t.token.clone(), b_id.clone());
    let b_removes_a = deactivate(b_token.clone(), t.owner_id.clone());
    let watcher = app.superuser().await;
    let db = app.db_name().to_owned();
    let waiting = || async {
        watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                &[&db],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let release = async {
        assert!(
            common::eventually(async || waiting().await == 2).await,
            "both requests wait on a lock"
        );
        tenant_lock.batch_execute("COMMIT").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            common::eventually(async || waiting().await == 2).await,
            "both requests wait again"
        );
        user_locks.batch_execute("COMMIT").await.unwrap();
    };
    let (first, second, ()) = tokio::join!(a_removes_b, b_removes_a, release);

    let refused: Vec<&Value> = [&first, &second]
        .into_iter()
        .filter(|body| body["errors"].is_array())
        .collect();
    assert_eq!(
        refused.len(),
        1,
        "exactly one change is refused: {first} / {second}"
    );
    assert_eq!(common::error_code(refused[0]), "CONFLICT", "{}", refused[0]);
    let active_owners = common::count(
        &app,
        "SELECT count(*) FROM users u JOIN user_roles ur ON ur.user_id = u.id \
         JOIN roles r ON r.id = ur.role_id WHERE r.name = 'owner' AND u.status = 'active'",
    )
    .await;
    assert_eq!(active_owners, 1);
}

//! The tenant management API through HTTP: users and their lifecycle, invitations and password
//! resets, roles and assignments, workspaces and members, products and access, tenant settings,
//! `node`, and the audit record every mutation writes.

use crate::common;

use common::{PASSWORD, TenantFixture, TestApp, count, error_code, operation, spawn_app};
use serde_json::{Value, json};

async fn create_user(app: &TestApp, t: &TenantFixture, email: &str) -> Value {
    app.gql(
        Some(&t.token),
        "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id email displayName status } } }",
        json!({ "input": { "email": email, "password": PASSWORD, "displayName": "New Person" } }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_users_are_listed_and_past_the_user_limit_nothing_is_created() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let body = create_user(&app, &t, "Bob@Acme.example.com").await;
    let user = &body["data"]["createUser"]["user"];
    assert_eq!(user["email"], "bob@acme.example.com", "{body}");
    assert_eq!(user["status"], "ACTIVE");
    let fetched = app
        .gql(
            Some(&t.token),
            "query($id: ID!) { user(id: $id) { email roles { name } } }",
            json!({ "id": user["id"] }),
        )
        .await;
    assert_eq!(
        fetched["data"]["user"]["roles"],
        json!([{ "name": "member" }]),
        "the default role"
    );
    let dup = create_user(&app, &t, "BOB@acme.example.com").await;
    assert_eq!(error_code(&dup), "CONFLICT");

    app.superuser()
        .await
        .execute(
            "UPDATE tenants SET limits = jsonb_set(limits, '{users}', '2') WHERE id = $1",
            &[&t.uuid],
        )
        .await
        .unwrap();
    let users_before = count(&app, "SELECT count(*) FROM users").await;
    let over = create_user(&app, &t, "carol@acme.example.com").await;
    assert_eq!(error_code(&over), "QUOTA_EXCEEDED", "{over}");
    let invite = app
        .gql(Some(&t.token), "mutation { inviteUser(input: { email: \"dan@acme.example.com\" }) { invitationToken } }", json!({}))
        .await;
    assert_eq!(error_code(&invite), "QUOTA_EXCEEDED", "{invite}");
    assert_eq!(
        count(&app, "SELECT count(*) FROM users").await,
        users_before
    );
    assert_eq!(count(&app, "SELECT count(*) FROM audit_log WHERE action IN ('user.created', 'user.invited') AND details->>'email' LIKE 'c%'").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_is_accepted_once_and_the_invitee_can_log_in() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation { inviteUser(input: { email: \"dan@acme.example.com\", displayName: \"Dan\" }) { user { id status } invitationToken expiresAt } }",
            json!({}),
        )
        .await;
    let invite = &body["data"]["inviteUser"];
    assert_eq!(invite["user"]["status"], "INVITED", "{body}");
    let token = invite["invitationToken"].as_str().unwrap();
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM user_tokens WHERE token_hash = sha256('{token}'::bytea)"
            )
        )
        .await,
        1
    );

    let login = app
        .try_login(&t.domain, "dan@acme.example.com", PASSWORD)
        .await;
    assert_eq!(
        error_code(&login),
        "UNAUTHENTICATED",
        "invited users cannot log in yet"
    );
    let accept = "mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) { user { email status } } }";
    let weak = app
        .gql(None, accept, json!({ "t": token, "p": "short" }))
        .await;
    assert_eq!(error_code(&weak), "BAD_USER_INPUT");
    let ok = app
        .gql(None, accept, json!({ "t": token, "p": PASSWORD }))
        .await;
    assert_eq!(
        ok["data"]["acceptInvitation"]["user"]["status"], "ACTIVE",
        "{ok}"
    );
    app.login(&t.domain, "dan@acme.example.com", PASSWORD).await;
    let again = app
        .gql(None, accept, json!({ "t": token, "p": PASSWORD }))
        .await;
    assert_eq!(
        error_code(&again),
        "UNAUTHENTICATED",
        "an invitation works once"
    );
    let forged = app.gql(None, accept, json!({ "t": format!("{}.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", t.uuid.simple()), "p": PASSWORD })).await;
    assert_eq!(error_code(&forged), "UNAUTHENTICATED");

    // An invitation past its 72 hours is refused, and leaves the invitee invited.
    let body = app
        .gql(
            Some(&t.token),
            "mutation { inviteUser(input: { email: \"eve@acme.example.com\" }) { invitationToken expiresAt } }",
            json!({}),
        )
        .await;
    let invite = &body["data"]["inviteUser"];
    let expires: chrono::DateTime<chrono::Utc> =
        invite["expiresAt"].as_str().unwrap().parse().unwrap();
    let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((71.0..=72.0).contains(&hours), "{hours}");
    let token = invite["invitationToken"].as_str().unwrap();
    app.superuser()
        .await
        .batch_execute(&format!(
            "UPDATE user_tokens SET expires_at = now() - interval '1 second'
             WHERE token_hash = sha256('{token}'::bytea)"
        ))
        .await
        .unwrap();
    let late = app
        .gql(None, accept, json!({ "t": token, "p": PASSWORD }))
        .await;
    assert_eq!(error_code(&late), "UNAUTHENTICATED", "{late}");
    let login = app
        .try_login(&t.domain, "eve@acme.example.com", PASSWORD)
        .await;
    assert_eq!(error_code(&login), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivating_a_user_ends_their_sessions_at_once_and_reactivation_needs_a_seat() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (bob, bob_token) = app.add_user(&t, "bob@acme.example.com", &["member"]).await;
    let me = app
        .gql(Some(&bob_token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["email"], "bob@acme.example.com");
    let body = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { deactivateUser(id: $id) { user { status } } }",
            json!({ "id": bob }),
        )
        .await;
    assert_eq!(
        body["data"]["deactivateUser"]["user"]["status"], "DEACTIVATED",
        "{body}"
    );
    let me = app
        .gql(Some(&bob_token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(
        error_code(&me),
        "UNAUTHENTICATED",
        "the cached session must be dropped: {me}"
    );
    assert_eq!(
        error_code(
            &app.try_login(&t.domain, "bob@acme.example.com", PASSWORD)
                .await
        ),
        "UNAUTHENTICATED"
    );

    let body = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { reactivateUser(id: $id) { user { status } } }",
            json!({ "id": bob }),
        )
        .await;
    assert_eq!(
        body["data"]["reactivateUser"]["user"]["status"], "ACTIVE",
        "{body}"
    );
    app.login(&t.domain, "bob@acme.example.com", PASSWORD).await;

    let body = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { deleteUser(id: $id) { deletedUserId } }",
            json!({ "id": bob }),
        )
        .await;
    assert_eq!(
        body["data"]["deleteUser"]["deletedUserId"],
        bob.as_str(),
        "{body}"
    );
    let gone = app
        .gql(
            Some(&t.token),
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": bob }),
        )
        .await;
    assert_eq!(error_code(&gone), "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_owner_cannot_be_deactivated_deleted_or_lose_the_owner_role() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let owner_role = app.role_id(&t.token, "owner").await;
    for (name, query, vars) in [
        (
            "deactivate",
            "mutation($id: ID!) { deactivateUser(id: $id) { user { id } } }",
            json!({ "id": t.owner_id }),
        ),
        (
            "delete",
            "mutation($id: ID!) { deleteUser(id: $id) { deletedUserId } }",
            json!({ "id": t.owner_id }),
        ),
        (
            "unassign",
            "mutation($u: ID!, $r: ID!) { unassignRole(input: { userId: $u, roleId: $r }) { user { id } } }",
            json!({ "u": t.owner_id, "r": owner_role }),
        ),
    ] {
        let body = app.gql(Some(&t.token), query, vars).await;
        assert_eq!(error_code(&body), "CONFLICT", "{name}: {body}");
    }
    // With a second owner, the first may go.
    let (second, _) = app
        .add_user(&t, "second@acme.example.com", &["owner"])
        .await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation($u: ID!, $r: ID!) { unassignRole(input: { userId: $u, roleId: $r }) { user { roles { name } } } }",
            json!({ "u": second, "r": owner_role }),
        )
        .await;
    assert_eq!(
        body["data"]["unassignRole"]["user"]["roles"],
        json!([]),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_password_needs_the_current_one_and_ends_the_other_sessions() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let other = app.login(&t.domain, &t.owner_email, PASSWORD).await;
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let wrong = app
        .gql(
            Some(&t.token),
            change,
            json!({ "c": "not the password", "n": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    let ok = app
        .gql(
            Some(&t.token),
            change,
            json!({ "c": PASSWORD, "n": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(ok["data"]["changePassword"], true, "{ok}");
    let me = app.gql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert!(
        me["data"]["me"]["id"].is_string(),
        "the changing session stays: {me}"
    );
    let me = app
        .gql(other["accessToken"].as_str(), "{ me { id } }", json!({}))
        .await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED", "other sessions end");
    app.login(&t.domain, &t.owner_email, "a brand new passphrase")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_password_reset_gives_a_one_time_token_that_ends_all_sessions() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (bob, bob_token) = app.add_user(&t, "bob@acme.example.com", &["member"]).await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { resetUserPassword(id: $id) { resetToken expiresAt } }",
            json!({ "id": bob }),
        )
        .await;
    let token = body["data"]["resetUserPassword"]["resetToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let ok = app
        .gql(
            None,
            reset,
            json!({ "t": token, "p": "reset passphrase 42" }),
        )
        .await;
    assert_eq!(ok["data"]["resetPassword"], true, "{ok}");
    assert_eq!(
        error_code(&app.gql(Some(&bob_token), "{ me { id } }", json!({})).await),
        "UNAUTHENTICATED"
    );
    app.login(&t.domain, "bob@acme.example.com", "reset passphrase 42")
        .await;
    let again = app
        .gql(
            None,
            reset,
            json!({ "t": token, "p": "another passphrase 1" }),
        )
        .await;
    assert_eq!(error_code(&again), "UNAUTHENTICATED");
}

/// The error of a refused new password: BAD_USER_INPUT naming `field`, with its reason.
fn password_refusal(body: &Value, field: &str) -> String {
    assert_eq!(error_code(body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    body["errors"][0]["extensions"]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("no reason: {body}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn common_passwords_and_the_email_name_are_refused_wherever_a_password_is_set() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;

    // createUser
    let create = "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } } }";
    for (password, reason) in [
        ("password12", "password_common"),
        ("Password12", "password_common"),
        ("QWERTYUIOP", "password_common"),
        ("margaret.hamilton 1", "password_contains_email"),
    ] {
        let body = app
            .gql(
                Some(&t.token),
                create,
                json!({ "input": { "email": "margaret.hamilton@acme.example.com", "password": password } }),
            )
            .await;
        assert_eq!(password_refusal(&body, "password"), reason, "{password}");
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM users WHERE email LIKE 'margaret%'"
        )
        .await,
        0
    );

    // changePassword: refused, and the old password still works.
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let body = app
        .gql(
            Some(&t.token),
            change,
            json!({ "c": PASSWORD, "n": "iloveyou123" }),
        )
        .await;
    assert_eq!(password_refusal(&body, "newPassword"), "password_common");
    app.login(&t.domain, &t.owner_email, PASSWORD).await;

    // resetPassword: refused without spending the token.
    let (bob, _) = app.add_user(&t, "bob@acme.example.com", &["member"]).await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { resetUserPassword(id: $id) { resetToken } }",
            json!({ "id": bob }),
        )
        .await;
    let token = body["data"]["resetUserPassword"]["resetToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let body = app
        .gql(None, reset, json!({ "t": token, "p": "password12" }))
        .await;
    assert_eq!(password_refusal(&body, "newPassword"), "password_common");
    let ok = app
        .gql(
            None,
            reset,
            json!({ "t": token, "p": "reset passphrase 42" }),
        )
        .await;
    assert_eq!(ok["data"]["resetPassword"], true, "{ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_roles_use_the_catalog_and_system_roles_cannot_change() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let catalog = app
        .gql(
            Some(&t.token),
            "{ permissions { name description } }",
            json!({}),
        )
        .await;
    assert!(
        catalog["data"]["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "users:read")
    );
    let create = "mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id name permissions isSystem } } }";
    let bad = app
        .gql(
            Some(&t.token),
            create,
            json!({ "input": { "name": "x", "permissions": ["users:fly"] } }),
        )
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    assert_eq!(bad["errors"][0]["extensions"]["field"], "permissions");
    let taken = app
        .gql(
            Some(&t.token),
            create,
            json!({ "input": { "name": "owner", "permissions": [] } }),
        )
        .await;
    assert_eq!(error_code(&taken), "CONFLICT");
    let body = app
        .gql(Some(&t.token), create, json!({ "input": { "name": "Support", "permissions": ["users:read", "audit:read", "users:read"] } }))
        .await;
    let role = &body["data"]["createRole"]["role"];
    assert_eq!(
        role["permissions"],
        json!(["users:read", "audit:read"]),
        "{body}"
    );
    assert_eq!(role["isSystem"], false);

    let update = "mutation($id: ID!, $p: [String!]) { updateRole(input: { id: $id, permissions: $p }) { role { permissions } } }";
    let body = app
        .gql(
            Some(&t.token),
            update,
            json!({ "id": role["id"], "p": ["workspaces:read"] }),
        )
        .await;
    assert_eq!(
        body["data"]["updateRole"]["role"]["permissions"],
        json!(["workspaces:read"]),
        "{body}"
    );
    let viewer = app.role_id(&t.token, "viewer").await;
    let body = app
        .gql(
            Some(&t.token),
            update,
            json!({ "id": viewer, "p": ["users:write"] }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let body = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { deleteRole(id: $id) { deletedRoleId } }",
            json!({ "id": viewer }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let body = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { deleteRole(id: $id) { deletedRoleId } }",
            json!({ "id": role["id"] }),
        )
        .await;
    assert_eq!(
        body["data"]["deleteRole"]["deletedRoleId"], role["id"],
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_assignments_apply_tenant_wide_or_per_workspace() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (bob, bob_token) = app.add_user(&t, "bob@acme.example.com", &["viewer"]).await;
    let billing = app.role_id(&t.token, "billing").await;
    let admin = app.role_id(&t.token, "admin").await;
    let assign = "mutation($input: AssignRoleInput!) { assignRole(input: $input) { user { id roles { id name } } } }";
    let body = app
        .gql(
            Some(&t.token),
            assign,
            json!({ "input": { "userId": bob, "roleId": billing } }),
        )
        .await;
    let names: Vec<&str> = body["data"]["assignRole"]["user"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["billing", "viewer"], "{body}");
    // Per workspace: listed among the user's roles, but not a tenant-wide permission.
    let body = app
        .gql(Some(&t.token), assign, json!({ "input": { "userId": bob, "roleId": admin, "workspaceId": t.default_workspace_id } }))
        .await;
    assert!(body["data"]["assignRole"].is_object(), "{body}");
    let ctx = app
        .gql(
            Some(&bob_token),
            "{ tenantContext { permissions } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ctx["data"]["tenantContext"]["permissions"],
        json!([
            "billing:manage",
            "tenant:read",
            "users:read",
            "workspaces:read"
        ]),
        "{ctx}"
    );
    let unassign = "mutation($input: AssignRoleInput!) { unassignRole(input: $input) { user { roles { name } } } }";
    let body = app
        .gql(
            Some(&t.token),
            unassign,
            json!({ "input": { "userId": bob, "roleId": billing } }),
        )
        .await;
    assert!(body["data"]["unassignRole"].is_object(), "{body}");
    let ctx = app
        .gql(
            Some(&bob_token),
            "{ tenantContext { permissions } }",
            json!({}),
        )
        .await;
    assert!(
        !ctx["data"]["tenantContext"]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("billing:manage"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_names_of_any_script_are_accepted_and_slugs_are_derived_or_checked() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let create = "mutation($input: CreateWorkspaceInput!) { createWorkspace(input: $input) { workspace { id name slug } } }";
    let mut slugs = Vec::new();
    for name in ["Müller & Söhne", "営業チーム", "🚀", "Q"] {
        let body = app
            .gql(Some(&t.token), create, json!({ "input": { "name": name } }))
            .await;
        let ws = &body["data"]["createWorkspace"]["workspace"];
        assert_eq!(ws["name"], name, "{body}");
        slugs.push(ws["slug"].as_str().unwrap().to_owned());
    }
    assert_eq!(slugs[0], "muller-sohne");
    assert!(!slugs[1].starts_with("workspace-"), "{}", slugs[1]);
    assert!(slugs[3].starts_with("workspace-"), "{}", slugs[3]);

    for input in [
        json!({ "name": "Bad\u{0000}Name" }),
        json!({ "name": "Tab\tName" }),
        json!({ "name": "Ok", "slug": uuid::Uuid::new_v4().to_string() }),
    ] {
        let body = app
            .gql(Some(&t.token), create, json!({ "input": input }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
    }
    let rename = "mutation($input: UpdateWorkspaceInput!) { updateWorkspace(input: $input) { workspace { name slug } } }";
    let id = t.default_workspace_id.clone();
    let body = app
        .gql(
            Some(&t.token),
            rename,
            json!({ "input": { "id": id, "name": "総務" } }),
        )
        .await;
    assert_eq!(
        body["data"]["updateWorkspace"]["workspace"]["name"], "総務",
        "{body}"
    );
    let body = app
        .gql(
            Some(&t.token),
            rename,
            json!({ "input": { "id": id, "name": "a\u{0007}" } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "name", "{body}");
    let body = app
        .gql(
            Some(&t.token),
            rename,
            json!({ "input": { "id": id, "slug": uuid::Uuid::new_v4().simple().to_string() } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "slug", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifecycle_move_from_the_wrong_state_says_which_state_in_plain_words() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation { reactivateTenant { tenant { status } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        "the tenant is active and cannot become active"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_have_unique_slugs_members_with_roles_and_a_default_that_stays() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (bob, _) = app.add_user(&t, "bob@acme.example.com", &["member"]).await;
    let create = "mutation($input: CreateWorkspaceInput!) { createWorkspace(input: $input) { workspace { id name slug isDefault } } }";
    let body = app
        .gql(
            Some(&t.token),
            create,
            json!({ "input": { "name": "Sales Team" } }),
        )
        .await;
    let ws = body["data"]["createWorkspace"]["workspace"].clone();
    assert_eq!(ws["slug"], "sales-team", "{body}");
    assert_eq!(ws["isDefault"], false);
    let dup = app
        .gql(
            Some(&t.token),
            create,
            json!({ "input": { "name": "Other", "slug": "sales-team" } }),
        )
        .await;
    assert_eq!(error_code(&dup), "CONFLICT");

    let viewer = app.role_id(&t.token, "viewer").await;
    let add = "mutation($input: AddWorkspaceMemberInput!) { addWorkspaceMember(input: $input) { workspace { id } } }";
    let body = app
        .gql(
            Some(&t.token),
            add,
            json!({ "input": { "workspaceId": ws["id"], "userId": bob, "roleId": viewer } }),
        )
        .await;
    assert_eq!(
        body["data"]["addWorkspaceMember"]["workspace"]["id"], ws["id"],
        "{body}"
    );
    let q = "query($id: ID!) { workspace(id: $id) { members(first: 20) { totalCount edges { node { user { email } role { name } } } } } }";
    let body = app.gql(Some(&t.token), q, json!({ "id": ws["id"] })).await;
    assert_eq!(
        body["data"]["workspace"]["members"],
        json!({ "totalCount": 1, "edges": [{ "node": { "user": { "email": "bob@acme.example.com" }, "role": { "name": "viewer" } } }] })
    );
    let remove = "mutation($input: RemoveWorkspaceMemberInput!) { removeWorkspaceMember(input: $input) { workspace { id } } }";
    let body = app
        .gql(
            Some(&t.token),
            remove,
            json!({ "input": { "workspaceId": ws["id"], "userId": bob } }),
        )
        .await;
    assert!(body["data"]["removeWorkspaceMember"].is_object(), "{body}");
    let body = app.gql(Some(&t.token), q, json!({ "id": ws["id"] })).await;
    assert_eq!(body["data"]["workspace"]["members"]["totalCount"], 0);

    let update = "mutation($input: UpdateWorkspaceInput!) { updateWorkspace(input: $input) { workspace { name slug } } }";
    let body = app
        .gql(
            Some(&t.token),
            update,
            json!({ "input": { "id": ws["id"], "name": "Sales", "slug": "sales" } }),
        )
        .await;
    assert_eq!(
        body["data"]["updateWorkspace"]["workspace"],
        json!({ "name": "Sales", "slug": "sales" })
    );
    let archive = "mutation($id: ID!) { archiveWorkspace(id: $id) { workspace { archivedAt } } }";
    let body = app
        .gql(
            Some(&t.token),
            archive,
            json!({ "id": t.default_workspace_id }),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "the default workspace stays");
    let body = app
        .gql(Some(&t.token), archive, json!({ "id": ws["id"] }))
        .await;
    assert!(
        body["data"]["archiveWorkspace"]["workspace"]["archivedAt"].is_string(),
        "{body}"
    );
    let list = app
        .gql(
            Some(&t.token),
            "{ workspaces { totalCount } all: workspaces(includeArchived: true) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (
            list["data"]["workspaces"]["totalCount"].as_i64(),
            list["data"]["all"]["totalCount"].as_i64()
        ),
        (Some(1), Some(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_access_set_tenant_wide_and_per_user_shows_in_tenant_context() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (bob, bob_token) = app.add_user(&t, "bob@acme.example.com", &["member"]).await;
    let products = app
        .gql(Some(&t.token), "{ products { id name } }", json!({}))
        .await;
    assert!(
        products["data"]["products"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "crm"),
        "{products}"
    );
    let set = "mutation($input: SetProductAccessInput!) { setProductAccess(input: $input) { productId access } }";
    let body = app
        .gql(
            Some(&t.token),
            set,
            json!({ "input": { "productId": "crm", "access": "FULL" } }),
        )
        .await;
    assert_eq!(
        body["data"]["setProductAccess"],
        json!({ "productId": "crm", "access": "FULL" })
    );
    app.gql(
        Some(&t.token),
        set,
        json!({ "input": { "productId": "crm", "access": "LIMITED", "userId": bob } }),
    )
    .await;
    let unknown = app
        .gql(
            Some(&t.token),
            set,
            json!({ "input": { "productId": "nope", "access": "FULL" } }),
        )
        .await;
    assert_eq!(error_code(&unknown), "NOT_FOUND");
    let q = "{ tenantContext(productId: \"crm\") { products { productId access } } }";
    let owner = app.gql(Some(&t.token), q, json!({})).await;
    assert_eq!(
        owner["data"]["tenantContext"]["products"][0]["access"],
        "FULL"
    );
    let bob_ctx = app.gql(Some(&bob_token), q, json!({})).await;
    assert_eq!(
        bob_ctx["data"]["tenantContext"]["products"][0]["access"],
        "LIMITED"
    );
    // Back to the tenant's access: the override is removed, not set to NONE.
    let body = app
        .gql(
            Some(&t.token),
            operation("ClearProductAccessOverride"),
            json!({ "productId": "crm", "userId": bob }),
        )
        .await;
    assert_eq!(
        body["data"]["clearProductAccessOverride"],
        json!({ "productId": "crm", "access": "FULL" }),
        "{body}"
    );
    let bob_ctx = app.gql(Some(&bob_token), q, json!({})).await;
    assert_eq!(
        bob_ctx["data"]["tenantContext"]["products"][0]["access"], "FULL",
        "{bob_ctx}"
    );
    let overrides: i64 = app
        .superuser()
        .await
        .query_one("SELECT count(*) FROM user_product_access", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(overrides, 0);
    // The tenant-wide access now reaches bob when it changes.
    app.gql(
        Some(&t.token),
        set,
        json!({ "input": { "productId": "crm", "access": "NONE" } }),
    )
    .await;
    let bob_ctx = app.gql(Some(&bob_token), q, json!({})).await;
    assert_eq!(
        bob_ctx["data"]["tenantContext"]["products"][0]["access"],
        "NONE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_catalog_is_managed_by_platform_admins_only() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let admin = app.platform_admin("root@hub.example.com").await;
    let create = "mutation { createProduct(input: { id: \"forms\", name: \"Forms\" }) { product { id name active } } }";
    assert_eq!(
        error_code(&app.gql(Some(&t.token), create, json!({})).await),
        "FORBIDDEN"
    );
    let body = app.gql(Some(&admin), create, json!({})).await;
    assert_eq!(
        body["data"]["createProduct"]["product"],
        json!({ "id": "forms", "name": "Forms", "active": true }),
        "{body}"
    );
    let body = app.gql(Some(&admin), "mutation { updateProduct(input: { id: \"forms\", active: false }) { product { active } } }", json!({})).await;
    assert_eq!(
        body["data"]["updateProduct"]["product"]["active"], false,
        "{body}"
    );
    let list = app
        .gql(Some(&t.token), "{ products { id } }", json!({}))
        .await;
    assert!(
        !list["data"]["products"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "forms"),
        "inactive products are hidden"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM platform_audit_log WHERE action LIKE 'platform.product_%'"
        )
        .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_admins_change_name_branding_and_integrations_but_not_features_or_limits() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let update =
        "mutation($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) {
        tenant { id name branding { logo colors } integrations { name settings secret } } } }";
    let body = app
        .gql(
            Some(&t.token),
            update,
            json!({ "input": {
                "name": "Acme Inc",
                "branding": { "logo": "https://cdn.example.com/acme.png", "colors": { "primary": "#112233" } },
                "integrations": [{ "name": "slack", "settings": { "channel": "#ops" }, "secret": "xoxb-secret-token-9876" }],
            } }),
        )
        .await;
    let tenant = &body["data"]["updateTenantSettings"]["tenant"];
    assert_eq!(tenant["name"], "Acme Inc", "{body}");
    assert_eq!(
        tenant["branding"],
        json!({ "logo": "https://cdn.example.com/acme.png", "colors": { "primary": "#112233" } })
    );
    assert_eq!(
        tenant["integrations"],
        json!([{ "name": "slack", "settings": { "channel": "#ops" }, "secret": "••••9876" }])
    );

    // Encrypted at rest, and never in the audit log.
    let su = app.superuser().await;
    let row = su
        .query_one(
            "SELECT secret_ciphertext FROM integrations WHERE name = 'slack'",
            &[],
        )
        .await
        .unwrap();
    let sealed: Vec<u8> = row.get(0);
    assert!(!String::from_utf8_lossy(&sealed).contains("xoxb"));
    assert_eq!(
        app.state.secrets.open(t.uuid, "slack", &sealed).unwrap(),
        "xoxb-secret-token-9876"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE details::text LIKE '%xoxb%'"
        )
        .await,
        0
    );

    // A branding update without `logo` keeps the logo; `logo: null` removes it.
    let body = app
        .gql(
            Some(&t.token),
            update,
            json!({ "input": { "branding": { "colors": { "primary": "#445566" } } } }),
        )
        .await;
    assert_eq!(
        body["data"]["updateTenantSettings"]["tenant"]["branding"],
        json!({ "logo": "https://cdn.example.com/acme.png", "colors": { "primary": "#445566" } }),
        "{body}"
    );
    let body = app
        .gql(
            Some(&t.token),
            update,
            json!({ "input": { "branding": { "logo": null, "colors": { "primary": "#112233" } } } }),
        )
        .await;
    assert_eq!(
        body["data"]["updateTenantSettings"]["tenant"]["branding"]["logo"],
        Value::Null,
        "{body}"
    );

    let config = app.gql(Some(&t.token), "{ tenantConfig }", json!({})).await;
    assert_eq!(config["data"]["tenantConfig"]["name"], "Acme Inc");
    assert_eq!(
        config["data"]["tenantConfig"]["branding"]["colors"]["primary"],
        "#112233"
    );
    assert_eq!(
        config["data"]["tenantConfig"]["limits"]["api_calls_per_minute"],
        600
    );

    for input in [
        json!({ "features": { "sso": true } }),
        json!({ "limits": { "users": 1000 } }),
    ] {
        let body = app
            .gql(Some(&t.token), update, json!({ "input": input }))
            .await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    }
    let bad = app
        .gql(
            Some(&t.token),
            update,
            json!({ "input": { "branding": { "logo": "javascript:alert(1)" } } }),
        )
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    let bad = app
        .gql(
            Some(&t.token),
            update,
            json!({ "input": { "name": "Evil", "branding": { "colors": { "primary": "red" } } } }),
        )
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    let tenant = app
        .gql(
            Some(&t.token),
            "{ tenant { name features { sso } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        tenant["data"]["tenant"],
        json!({ "name": "Acme Inc", "features": { "sso": false } }),
        "a failed mutation changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_finds_each_kind_of_object_by_its_global_id() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let role = app.role_id(&t.token, "viewer").await;
    let q = "query($id: ID!) { node(id: $id) { __typename id ... on User { email } ... on Workspace { slug } ... on Role { name } ... on Tenant { domain } } }";
    for (id, kind) in [
        (&t.owner_id, "User"),
        (&t.default_workspace_id, "Workspace"),
        (&role, "Role"),
        (&t.id, "Tenant"),
    ] {
        let body = app.gql(Some(&t.token), q, json!({ "id": id })).await;
        assert_eq!(body["data"]["node"]["__typename"], kind, "{body}");
        assert_eq!(body["data"]["node"]["id"], id.as_str());
    }
    let bad = app
        .gql(Some(&t.token), q, json!({ "id": "not-an-id" }))
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_is_audited_with_actor_ip_and_request_id() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let resp = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&t.token)
        .header("x-request-id", "req-audit-1")
        .json(&json!({ "query": "mutation { createWorkspace(input: { name: \"Ops\" }) { workspace { id } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let row = app
        .superuser()
        .await
        .query_one(
            "SELECT actor_type, actor_id, ip, request_id, target_type, details FROM audit_log WHERE action = 'workspace.created'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "user");
    assert_eq!(row.get::<_, Option<uuid::Uuid>>(1), Some(t.owner_uuid));
    assert_eq!(
        row.get::<_, Option<String>>(2).as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        row.get::<_, Option<String>>(3).as_deref(),
        Some("req-audit-1")
    );
    assert_eq!(
        row.get::<_, Option<String>>(4).as_deref(),
        Some("workspace")
    );
    assert_eq!(row.get::<_, serde_json::Value>(5)["name"], "Ops");
}

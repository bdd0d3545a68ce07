//! What a stolen access token or an over-reaching admin would try: a reset of one's own password
//! (it needs the current one, through changePassword), a password change that reopens a session
//! revoked meanwhile, deleting a role that carries permissions the admin lacks.

use crate::common;

use common::{PASSWORD, error_code, spawn_app};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_cannot_start_a_password_reset_for_themselves() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { resetUserPassword(id: $id) { resetToken } }",
            json!({ "id": t.owner_id }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["reason"], "own_password",
        "{body}"
    );
    let issued: i64 = app
        .superuser()
        .await
        .query_one(
            "SELECT count(*) FROM user_tokens WHERE purpose = 'password_reset'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(issued, 0, "no reset token was issued");
    // For someone else it still works.
    let (bob, _) = app.add_user(&t, "bob@acme.example.com", &["member"]).await;
    let body = app
        .gql(
            Some(&t.token),
            "mutation($id: ID!) { resetUserPassword(id: $id) { resetToken } }",
            json!({ "id": bob }),
        )
        .await;
    assert!(
        body["data"]["resetUserPassword"]["resetToken"].is_string(),
        "{body}"
    );
}

/// A session revoked while its changePassword is under way (as reuse detection on another
/// replica would do) stays revoked: the change used to reopen the caller's session. The test
/// makes the moment certain: a superuser transaction holds the user's row, so the change waits
/// inside its transaction while the session is revoked, then goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_keeps_a_revoked_session_revoked() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let su = app.superuser().await;
    let row_lock = app.superuser().await;
    row_lock
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM users WHERE id = '{}' FOR UPDATE",
            t.owner_uuid
        ))
        .await
        .unwrap();
    let change = app.gql(
        Some(&t.token),
        "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
        json!({ "c": PASSWORD, "n": "a much longer new passphrase 42" }),
    );
    let db = app.db_name().to_owned();
    let revoke_meanwhile = async {
        assert!(
            common::eventually(async || {
                su.query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                    &[&db],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
                    == 1
            })
            .await,
            "the change waits on the user's row"
        );
        su.execute(
            "UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh_token_reuse' WHERE tenant_id = $1",
            &[&t.uuid],
        )
        .await
        .unwrap();
        row_lock.batch_execute("COMMIT").await.unwrap();
    };
    let (body, ()) = tokio::join!(change, revoke_meanwhile);
    assert_eq!(body["data"]["changePassword"], true, "{body}");
    let open: i64 = su
        .query_one(
            "SELECT count(*) FROM sessions WHERE tenant_id = $1 AND revoked_at IS NULL",
            &[&t.uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, 0, "the revoked session stays revoked: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_cannot_delete_a_role_carrying_permissions_the_admin_lacks() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (_, admin) = app.add_user(&t, "ada@acme.example.com", &["admin"]).await;
    let body = app
        .gql(
            Some(&t.token),
            common::operation("CreateRoleWithPermissions"),
            json!({ "i": { "name": "closer", "permissions": ["tenant:delete"] } }),
        )
        .await;
    let role = body["data"]["createRole"]["role"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app
        .gql(
            Some(&admin),
            common::operation("DeleteRole"),
            json!({ "id": role }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let left: i64 = app
        .superuser()
        .await
        .query_one("SELECT count(*) FROM roles WHERE name = 'closer'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 1, "the role is still there");
    // The owner, who holds tenant:delete, may.
    let body = app
        .gql(
            Some(&t.token),
            common::operation("DeleteRole"),
            json!({ "id": role }),
        )
        .await;
    assert!(
        body["data"]["deleteRole"]["deletedRoleId"].is_string(),
        "{body}"
    );
}

/// A stolen access token is no guessing oracle: wrong current passwords in changePassword count
/// as failed logins of the account, so past the free failures both changePassword and login
/// must wait (RATE_LIMITED), right password or not, before any hashing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_current_passwords_in_change_password_count_like_failed_logins() {
    let app = common::spawn_app_with(|s| {
        s.login_failures_per_account = 3;
        s.login_delay_ms = 60_000;
    })
    .await;
    let t = app.signup("acme").await;
    let change = async |current: &str| {
        app.gql(
            Some(&t.token),
            common::operation("ChangePassword"),
            json!({ "current": current, "new": "a brand new sentence 77" }),
        )
        .await
    };
    for i in 0..3 {
        let body = change(&format!("guess-number-{i}")).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "guess {i}: {body}");
    }
    let right = change(PASSWORD).await;
    assert_eq!(
        error_code(&right),
        "RATE_LIMITED",
        "the account waits: {right}"
    );
    let login = app.try_login(&t.domain, &t.owner_email, PASSWORD).await;
    assert_eq!(
        error_code(&login),
        "RATE_LIMITED",
        "login shares the wait: {login}"
    );
}

/// `workspaces:write` (held by the member role) no longer lets a member remove an admin from a
/// workspace or change the admin's workspace role; members of equal standing still manage
/// each other's membership.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_rearrange_the_workspace_membership_of_an_admin() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (alice, _) = app.add_user(&t, "alice@acme.example.com", &["admin"]).await;
    let (bob, bob_token) = app.add_user(&t, "bob@acme.example.com", &["member"]).await;
    let (carol, _) = app
        .add_user(&t, "carol@acme.example.com", &["member"])
        .await;
    let viewer = app.role_id(&t.token, "viewer").await;
    let ws = &t.default_workspace_id;
    let add = common::operation("AddWorkspaceMember");
    let remove = common::operation("RemoveWorkspaceMember");
    let body = app
        .gql(
            Some(&t.token),
            add,
            json!({ "i": { "workspaceId": ws, "userId": alice } }),
        )
        .await;
    assert!(body["data"]["addWorkspaceMember"].is_object(), "{body}");
    let demote = app
        .gql(
            Some(&bob_token),
            add,
            json!({ "i": { "workspaceId": ws, "userId": alice, "roleId": viewer } }),
        )
        .await;
    assert_eq!(error_code(&demote), "FORBIDDEN", "{demote}");
    let removed = app
        .gql(
            Some(&bob_token),
            remove,
            json!({ "i": { "workspaceId": ws, "userId": alice } }),
        )
        .await;
    assert_eq!(error_code(&removed), "FORBIDDEN", "{removed}");
    let members = common::count(
        &app,
        "SELECT count(*) FROM workspace_members WHERE role_id IS NULL AND user_id IN \
         (SELECT id FROM users WHERE email = 'alice@acme.example.com')",
    )
    .await;
    assert_eq!(members, 1, "alice's membership is unchanged");
    // A fellow member: still allowed.
    let body = app
        .gql(
            Some(&bob_token),
            add,
            json!({ "i": { "workspaceId": ws, "userId": carol } }),
        )
        .await;
    assert!(body["data"]["addWorkspaceMember"].is_object(), "{body}");
    let body = app
        .gql(
            Some(&bob_token),
            remove,
            json!({ "i": { "workspaceId": ws, "userId": carol } }),
        )
        .await;
    assert!(body["data"]["removeWorkspaceMember"].is_object(), "{body}");
    let _ = bob;
}

/// An admin (`products:manage`) cannot override the owner's product access, nor clear it;
/// a member's still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_cannot_override_the_product_access_of_the_owner() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (_, admin_token) = app.add_user(&t, "alice@acme.example.com", &["admin"]).await;
    let (bob, _) = app.add_user(&t, "bob@acme.example.com", &["member"]).await;
    let set = common::operation("SetProductAccess");
    let cut = app
        .gql(
            Some(&admin_token),
            set,
            json!({ "i": { "productId": "workspaces", "access": "NONE", "userId": t.owner_id } }),
        )
        .await;
    assert_eq!(error_code(&cut), "FORBIDDEN", "{cut}");
    assert_eq!(
        common::count(&app, "SELECT count(*) FROM user_product_access").await,
        0,
        "no override was stored"
    );
    let body = app
        .gql(
            Some(&admin_token),
            set,
            json!({ "i": { "productId": "workspaces", "access": "NONE", "userId": bob } }),
        )
        .await;
    assert_eq!(body["data"]["setProductAccess"]["access"], "NONE", "{body}");
}

/// Managing a user compares every permission they hold, their workspace roles included: an
/// admin cannot deactivate a member whose workspace role carries `billing:manage`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managing_a_user_counts_the_permissions_of_their_workspace_roles() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (_, admin_token) = app.add_user(&t, "alice@acme.example.com", &["admin"]).await;
    let (carol, _) = app
        .add_user(&t, "carol@acme.example.com", &["member"])
        .await;
    let role = app
        .gql(
            Some(&t.token),
            common::operation("CreateRole"),
            json!({ "i": { "name": "workspace-billing", "permissions": ["billing:manage"] } }),
        )
        .await;
    let role_id = role["data"]["createRole"]["role"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assigned = app
        .gql(
            Some(&t.token),
            common::operation("AssignRole"),
            json!({ "i": { "userId": carol, "roleId": role_id, "workspaceId": t.default_workspace_id } }),
        )
        .await;
    assert!(assigned["data"]["assignRole"].is_object(), "{assigned}");
    let body = app
        .gql(
            Some(&admin_token),
            common::operation("DeactivateUser"),
            json!({ "id": carol }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(
        common::count(&app, "SELECT count(*) FROM users WHERE status = 'active'").await,
        3
    );
}

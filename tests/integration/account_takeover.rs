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
        .query_one("SELECT count(*) FROM user_tokens", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(issued, 0, "no token was issued");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_keeps_a_revoked_session_revoked() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    // Revoked behind the replica's back (as reuse detection on another replica would do,
    // the moment before): this replica's session cache still lets the token through.
    let su = app.superuser().await;
    su.execute(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh_token_reuse' WHERE tenant_id = $1",
        &[&t.uuid],
    )
    .await
    .unwrap();
    let body = app
        .gql(
            Some(&t.token),
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": PASSWORD, "n": "a much longer new passphrase 42" }),
        )
        .await;
    // Either refused (the revocation was seen) or done; never a reopened session.
    if body["errors"].is_null() {
        assert_eq!(body["data"]["changePassword"], true, "{body}");
    }
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

//! N+1 and pagination: listing 50 users with their roles, or 20 workspaces with their members,
//! costs the same number of SQL statements as listing 5 or 2; and connections page correctly.

use crate::common;

use common::{TenantFixture, TestApp, error_code, operation, spawn_app};
use serde_json::{Value, json};

/// Seeds `n` users (each with two roles) and `w` extra workspaces (each with every user as a
/// member holding a workspace role), directly in SQL for speed.
async fn seed(app: &TestApp, t: &TenantFixture, users: i64, workspaces: i64) {
    let su = app.superuser().await;
    su.execute(
        "INSERT INTO users (tenant_id, email, created_at)
         SELECT $1, 'user' || g || '@seed.example.com', now() + g * interval '1 ms' FROM generate_series(1, $2::bigint) g",
        &[&t.uuid, &users],
    )
    .await
    .unwrap();
    su.execute(
        "INSERT INTO user_roles (tenant_id, user_id, role_id)
         SELECT u.tenant_id, u.id, r.id FROM users u JOIN roles r ON r.tenant_id = u.tenant_id
         WHERE u.tenant_id = $1 AND u.email LIKE '%@seed.example.com' AND r.name IN ('member', 'viewer')",
        &[&t.uuid],
    )
    .await
    .unwrap();
    su.execute(
        "INSERT INTO workspaces (tenant_id, name, slug)
         SELECT $1, 'Team ' || g, 'team-' || g FROM generate_series(1, $2::bigint) g",
        &[&t.uuid, &workspaces],
    )
    .await
    .unwrap();
    su.execute(
        "INSERT INTO workspace_members (tenant_id, workspace_id, user_id, role_id)
         SELECT w.tenant_id, w.id, u.id, (SELECT id FROM roles WHERE tenant_id = $1 AND name = 'member')
         FROM workspaces w JOIN users u ON u.tenant_id = w.tenant_id WHERE w.tenant_id = $1",
        &[&t.uuid],
    )
    .await
    .unwrap();
}

/// Statements the hub sent for one request (after a warm-up request that fills the caches).
async fn statements_for(app: &TestApp, token: &str, query: &str, vars: Value) -> (u64, Value) {
    app.gql(Some(token), operation("MeId"), json!({})).await;
    let before = app.state.db.statements_executed();
    let body = app.gql(Some(token), query, vars).await;
    (app.state.db.statements_executed() - before, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_users_with_their_roles_costs_the_same_statements_for_5_or_50_users() {
    let small = spawn_app().await;
    let t = small.signup("small").await;
    seed(&small, &t, 4, 0).await;
    let (few, body) = statements_for(
        &small,
        &t.token,
        operation("UsersWithRolesPage"),
        json!({ "first": 50 }),
    )
    .await;
    assert_eq!(
        body["data"]["users"]["edges"].as_array().unwrap().len(),
        5,
        "{body}"
    );

    let big = spawn_app().await;
    let t = big.signup("big").await;
    seed(&big, &t, 49, 0).await;
    let (many, body) = statements_for(
        &big,
        &t.token,
        operation("UsersWithRolesPage"),
        json!({ "first": 50 }),
    )
    .await;
    let edges = body["data"]["users"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 50, "{body}");
    assert_eq!(edges[0]["node"]["roles"], json!([{ "name": "owner" }]));
    assert_eq!(
        edges[1]["node"]["roles"],
        json!([{ "name": "member" }, { "name": "viewer" }])
    );
    assert_eq!(
        few, many,
        "statements must not grow with the number of users"
    );
    println!("users(first: 50) with roles: {many} statements");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_workspaces_with_their_members_costs_the_same_statements_for_2_or_20() {
    let small = spawn_app().await;
    let t = small.signup("small").await;
    seed(&small, &t, 3, 1).await;
    let (few, body) = statements_for(
        &small,
        &t.token,
        operation("WorkspacesWithMembersPage"),
        json!({ "first": 20 }),
    )
    .await;
    assert_eq!(
        body["data"]["workspaces"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{body}"
    );

    let big = spawn_app().await;
    let t = big.signup("big").await;
    seed(&big, &t, 30, 19).await;
    let (many, body) = statements_for(
        &big,
        &t.token,
        operation("WorkspacesWithMembersPage"),
        json!({ "first": 20 }),
    )
    .await;
    let edges = body["data"]["workspaces"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20, "{body}");
    let team = edges
        .iter()
        .find(|e| e["node"]["name"] == "Team 1")
        .unwrap();
    assert_eq!(team["node"]["members"]["totalCount"], 31);
    assert_eq!(
        team["node"]["members"]["edges"].as_array().unwrap().len(),
        20
    );
    assert_eq!(
        team["node"]["members"]["edges"][0]["node"]["role"]["name"],
        "member"
    );
    // Each member carries its own user.
    let emails: std::collections::HashSet<&str> = team["node"]["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["user"]["email"].as_str().expect("an email"))
        .collect();
    assert_eq!(emails.len(), 20, "twenty different users: {team}");
    assert_eq!(
        few, many,
        "statements must not grow with workspaces or members"
    );
    println!("workspaces(first: 20) with members(first: 20): {many} statements");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_every_user_once_and_bad_page_arguments_are_refused() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    seed(&app, &t, 11, 0).await;
    let q = operation("UsersPage");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let body = app
            .gql(Some(&t.token), q, json!({ "first": 5, "after": after }))
            .await;
        let users = &body["data"]["users"];
        assert_eq!(users["totalCount"], 12, "{body}");
        for e in users["edges"].as_array().unwrap() {
            seen.push(e["node"]["id"].as_str().unwrap().to_owned());
            // Every page's users come with their own roles (read with the page, by cursor).
            let expected = match e["node"]["email"].as_str().unwrap().starts_with("owner@") {
                true => json!([{ "name": "owner" }]),
                false => json!([{ "name": "member" }, { "name": "viewer" }]),
            };
            assert_eq!(e["node"]["roles"], expected, "{e}");
        }
        if users["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = users["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (12, 12));

    // Refused before execution (HUB_GQL_MAX_PAGE_SIZE, default 100): a request error, no data.
    let over = app.gql(Some(&t.token), q, json!({ "first": 101 })).await;
    assert_eq!(error_code(&over), "BAD_USER_INPUT", "{over}");
    assert_eq!(over["errors"][0]["extensions"]["field"], "first");
    assert_eq!(over["errors"][0]["extensions"]["reason"], "page_size");
    assert!(over.get("data").is_none(), "{over}");
    let nested = app
        .gql(
            Some(&t.token),
            operation("FirstWorkspaceMembers"),
            json!({}),
        )
        .await;
    assert_eq!(nested["errors"][0]["extensions"]["reason"], "page_size");
    for bad in ["garbage", "a2s6eA", ""] {
        let body = app
            .gql(Some(&t.token), q, json!({ "first": 5, "after": bad }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "after");
    }
}

/// The TenantContext of a member is read once per replica: a second request costs no statement
/// (the session and the context are cached); a change to the member's access is seen at once
/// by the next request on the same replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_tenant_context_costs_no_statement_and_a_change_is_seen_at_once() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (_, first) = statements_for(&app, &t.token, operation("CrmContext"), json!({})).await;
    assert_eq!(
        first["data"]["tenantContext"]["products"][0]["access"], "NONE",
        "{first}"
    );
    let (warm, again) = statements_for(&app, &t.token, operation("CrmContext"), json!({})).await;
    assert_eq!(warm, 0, "a warm tenantContext reads nothing");
    assert_eq!(again, first);

    let set = app
        .gql(Some(&t.token), operation("LimitCrmAccess"), json!({}))
        .await;
    assert_eq!(
        set["data"]["setProductAccess"]["access"], "LIMITED",
        "{set}"
    );
    let after = app
        .gql(Some(&t.token), operation("CrmContext"), json!({}))
        .await;
    assert_eq!(
        after["data"]["tenantContext"]["products"][0]["access"], "LIMITED",
        "{after}"
    );
}

/// `me` with its tenant and roles is one transaction: BEGIN with the tenant (one round trip),
/// the user, the tenant, the roles held (assignments joined to roles), COMMIT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_with_its_tenant_and_roles_is_one_transaction() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (statements, body) =
        statements_for(&app, &t.token, operation("MeWithTenantAndRoles"), json!({})).await;
    assert_eq!(body["data"]["me"]["tenant"]["slug"], "acme", "{body}");
    assert_eq!(body["data"]["me"]["roles"][0]["name"], "owner", "{body}");
    assert_eq!(statements, 5, "{body}");
    // Warm, the tenant's row comes from the replica's cache: the tenant's read is skipped.
    let (warm, again) =
        statements_for(&app, &t.token, operation("MeWithTenantAndRoles"), json!({})).await;
    assert_eq!(again, body);
    assert_eq!(warm, 4, "{again}");
}

/// `tenant` (and `tenantConfig`) read the tenant's row once per replica: warm, they cost no
/// statement; a change through the API is seen at once by the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_tenant_costs_no_statement_and_a_rename_is_seen_at_once() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    let (_, first) =
        statements_for(&app, &t.token, operation("TenantNameAndConfig"), json!({})).await;
    assert_eq!(first["data"]["tenant"]["name"], "acme", "{first}");
    let (warm, again) =
        statements_for(&app, &t.token, operation("TenantNameAndConfig"), json!({})).await;
    assert_eq!(warm, 0, "a warm tenant reads nothing: {again}");
    assert_eq!(again, first);

    let renamed = app
        .gql(Some(&t.token), operation("RenameTenantAcme"), json!({}))
        .await;
    assert_eq!(
        renamed["data"]["updateTenantSettings"]["tenant"]["name"], "Acme Renamed",
        "{renamed}"
    );
    let after = app
        .gql(Some(&t.token), operation("TenantNameAndConfig"), json!({}))
        .await;
    assert_eq!(after["data"]["tenant"]["name"], "Acme Renamed", "{after}");
    assert_eq!(
        after["data"]["tenantConfig"]["name"], "Acme Renamed",
        "{after}"
    );
}

/// A list counts its rows only when `totalCount` is selected (one statement fewer), and the
/// count it shows then is right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_counts_its_rows_only_when_asked() {
    let app = spawn_app().await;
    let t = app.signup("acme").await;
    seed(&app, &t, 3, 2).await;
    // The member's permissions are read (and cached) by the first guarded request.
    app.gql(Some(&t.token), operation("UserCount"), json!({}))
        .await;
    let (without, body) =
        statements_for(&app, &t.token, operation("TwoUsersPageInfo"), json!({})).await;
    assert_eq!(
        body["data"]["users"]["pageInfo"]["hasNextPage"], true,
        "{body}"
    );
    let (with, body) =
        statements_for(&app, &t.token, operation("TwoUsersCounted"), json!({})).await;
    assert_eq!(body["data"]["users"]["totalCount"], 4, "{body}");
    assert_eq!(with, without + 1);
    let (without, _) = statements_for(&app, &t.token, operation("WorkspaceIds"), json!({})).await;
    let (with, body) = statements_for(&app, &t.token, operation("WorkspaceCount"), json!({})).await;
    assert_eq!(body["data"]["workspaces"]["totalCount"], 3, "{body}");
    assert_eq!(with, without + 1);
    // Every other list goes the same way (`connection::list_request`).
    let (without, _) = statements_for(&app, &t.token, operation("RoleNames"), json!({})).await;
    let (with, body) = statements_for(&app, &t.token, operation("RoleList"), json!({})).await;
    assert!(
        body["data"]["roles"]["totalCount"].as_i64() > Some(0),
        "{body}"
    );
    assert_eq!(with, without + 1, "roles");
    let (without, _) = statements_for(&app, &t.token, operation("AlertIds"), json!({})).await;
    let (with, body) = statements_for(&app, &t.token, operation("AlertCount"), json!({})).await;
    assert_eq!(body["data"]["alerts"]["totalCount"], 0, "{body}");
    assert_eq!(with, without + 1, "alerts");
    let (without, _) = statements_for(&app, &t.token, operation("AuditLogIds"), json!({})).await;
    let (with, body) = statements_for(&app, &t.token, operation("AuditLogCount"), json!({})).await;
    let entries = body["data"]["auditLog"]["edges"].as_array().map(Vec::len);
    assert!(entries > Some(0), "{body}");
    let total = body["data"]["auditLog"]["totalCount"].as_u64();
    assert!(total >= entries.map(|n| n as u64), "{body}");
    assert_eq!(with, without + 1, "auditLog");
}

/// The statements of the list pages are prepared once per connection and reused (diesel caches
/// queries with a static id; `diesel::sql_query` would be parsed and planned, in a round trip
/// of its own, on every request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_statements_are_prepared_once_per_connection() {
    use diesel_async::RunQueryDsl;
    use tenant_hub::db::{
        ScopedFutureExt,
        models::{PageRequest, UserRow, WorkspaceMemberRow},
    };

    let app = spawn_app().await;
    let t = app.signup("acme").await;
    seed(&app, &t, 3, 2).await;
    let mut settings = common::db_settings(app.db_name());
    settings.pool_size = 1;
    let db = tenant_hub::db::Db::connect(&settings).unwrap();
    let workspace = uuid::Uuid::parse_str(
        &app.superuser()
            .await
            .query_one(
                "SELECT id::text FROM workspaces WHERE tenant_id = $1 AND is_default",
                &[&t.uuid],
            )
            .await
            .unwrap()
            .get::<_, String>(0),
    )
    .unwrap();
    #[derive(diesel::QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
    }
    let page = PageRequest {
        limit: 20,
        after: None,
        count: false,
    };
    let prepared: Vec<Prepared> = db
        .tenant_tx(t.uuid, |conn| {
            async move {
                for _ in 0..3 {
                    let members = WorkspaceMemberRow::pages(conn, &[workspace], page).await?;
                    assert_eq!(members.len(), 4, "the owner and the 3 seeded users");
                    UserRow::page(conn, page).await?;
                }
                Ok(diesel::sql_query(
                    "SELECT statement FROM pg_prepared_statements ORDER BY statement",
                )
                .load(conn)
                .await?)
            }
            .scope_boxed()
        })
        .await
        .unwrap();
    let named = |needle: &str| {
        prepared
            .iter()
            .filter(|p| p.statement.contains(needle))
            .count()
    };
    assert_eq!(
        named("FROM workspace_members"),
        1,
        "members pages prepared once"
    );
    assert_eq!(named("FROM \"users\""), 1, "users page prepared once");
}

/// Pipelined reads that fail part-way (one statement errors while the others are in flight)
/// roll the transaction back and leave the pooled connection sound for the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_pipelined_read_leaves_the_connection_sound() {
    use diesel_async::RunQueryDsl;
    use tenant_hub::db::{
        ScopedFutureExt,
        models::{PageRequest, UserRow},
    };

    let app = spawn_app().await;
    let t = app.signup("acme").await;
    seed(&app, &t, 3, 0).await;
    let mut settings = common::db_settings(app.db_name());
    settings.pool_size = 1;
    let db = tenant_hub::db::Db::connect(&settings).unwrap();
    let page = PageRequest {
        limit: 20,
        after: None,
        count: false,
    };
    let failed = db
        .tenant_tx(t.uuid, |conn| {
            async move {
                let (mut a, mut b, mut c) = (conn.read(), conn.read(), conn.read());
                let (_, _, _) = futures_util::try_join!(
                    UserRow::page(&mut a, page),
                    async {
                        diesel::sql_query("SELECT 1 / 0")
                            .execute(&mut b)
                            .await
                            .map_err(tenant_hub::error::AppError::from)
                    },
                    UserRow::count(&mut c),
                )?;
                Ok(())
            }
            .scope_boxed()
        })
        .await;
    assert!(failed.is_err(), "division by zero fails the transaction");
    // The same (only) connection serves the next transaction, pipelined or not.
    for _ in 0..3 {
        let (rows, total) = db
            .tenant_tx(t.uuid, |conn| {
                async move {
                    let (mut a, mut b) = (conn.read(), conn.read());
                    futures_util::try_join!(UserRow::page(&mut a, page), UserRow::count(&mut b))
                }
                .scope_boxed()
            })
            .await
            .unwrap();
        assert_eq!((rows.len(), total), (4, 4), "the owner and 3 seeded users");
    }
}

/// `User.invitationMail` and `User.mfaEnrolled` are batched: one statement each for a page of users, not one transaction
/// per user (a page of 50 would otherwise take 50 pooled connections in turn).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_mails_of_a_page_of_users_cost_the_same_statements_for_5_or_50_users() {
    let mut counts = Vec::new();
    for extra in [4, 49] {
        let app = spawn_app().await;
        let t = app.signup("acme").await;
        let invited = app
            .gql(
                Some(&t.token),
                operation("InviteUser"),
                json!({ "i": { "email": "invited@acme.example.com" } }),
            )
            .await;
        assert!(invited["errors"].is_null(), "{invited}");
        // Past the plan's user limit, in SQL: the seats do not matter here, the page size does.
        seed(&app, &t, extra, 0).await;
        // The fewest of three runs: the housekeeping loop (which tries to deliver the
        // invitation mail) may add its own statements to one of them.
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(
                statements_for(
                    &app,
                    &t.token,
                    operation("UsersWithInvitationMail"),
                    json!({ "first": 60 }),
                )
                .await,
            );
        }
        let statements = runs.iter().map(|(n, _)| *n).min().unwrap();
        let body = runs.pop().unwrap().1;
        let edges = body["data"]["users"]["edges"].as_array().unwrap();
        assert_eq!(edges.len() as i64, extra + 2, "{body}");
        let invited: Vec<&Value> = edges
            .iter()
            .filter(|e| e["node"]["invitationMail"].is_object())
            .collect();
        assert_eq!(invited.len(), 1, "{body}");
        assert_eq!(invited[0]["node"]["email"], "invited@acme.example.com");
        counts.push(statements);
    }
    assert_eq!(
        counts[0], counts[1],
        "statements must not grow with the number of users"
    );
}

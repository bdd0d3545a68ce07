//! Every field of `Mutation` in schema.graphql writes its audit record when it succeeds: one
//! scenario runs each of them once, successfully, each request under its own `X-Request-Id`, and
//! the rows of `audit_log` and `platform_audit_log` carrying that request id must be exactly the
//! expected actions, in the expected tenant's log (or the platform's), naming the caller as
//! actor (the user, the platform admin, the API key). A field that is neither
//! exercised here nor listed in [`UNAUDITED`] with the reason fails the test, so a new mutation
//! cannot arrive without its audit record being decided.
//!
//! Each request is sent twice: first with its audit record refused by the database (a trigger),
//! when it must fail and leave every table as it was (the record belongs to the operation's
//! own transaction, so an operation cannot happen unrecorded), then normally.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::{
    PASSWORD, TestApp, maybe_error_code, mutation_fields, operation, root_field, spawn_app_with,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// Mutation fields that write no audit record when they succeed, with the reason. Empty today:
/// every mutation is audited (failures too, for some: failed logins are `auth.login_failed`,
/// tests/integration/auth.rs).
const UNAUDITED: &[(&str, &str)] = &[(
    "beginPasskeyLogin",
    "hands out the options of a passkey check for a sign-in challenge already recorded \
     (mfa.challenge_issued); completeMfaLogin records its use (mfa.used) or failure (mfa.failed)",
)];

/// Audited mutations that cannot succeed in this test, with where they are exercised and
/// their records checked.
const EXERCISED_ELSEWHERE: &[(&str, &str)] = &[(
    "finishPasskeyRegistration",
    "needs a credential made by an authenticator: mfa_passkeys.rs (Chromium's virtual \
     authenticator) checks mfa.enrolled and its refusals' mfa.failed; its records go through \
     ops::in_tenant like the others",
)];

/// Mutations whose effect survives when their audit record cannot be written (the record is
/// not in the operation's transaction), with where. Must end up empty; an entry that has become
/// atomic fails the test, so the list cannot go stale.
const NOT_ATOMIC_YET: &[(&str, &str)] = &[];

/// Columns that a request changes before its operation runs, whatever the operation does:
/// not the mutation's effect, so left out of the comparison.
const OUTSIDE_THE_OPERATION: &[(&str, &str, &str)] = &[(
    "api_keys",
    "last_used_at",
    "written when the key authenticates the request (src/auth/principal.rs)",
)];

/// Where a record is expected.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Log {
    /// That tenant's `audit_log`.
    Tenant(Uuid),
    /// `platform_audit_log`.
    Platform,
}

/// How a request authenticates.
enum Auth<'a> {
    Anonymous,
    Bearer(&'a str),
    ApiKey(&'a str),
}

/// Who an audit record must name as its actor (`actor_type`, `actor_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    User(Uuid),
    PlatformAdmin(Uuid),
    ApiKey(Uuid),
}

impl Actor {
    fn parts(self) -> (&'static str, Uuid) {
        match self {
            Actor::User(id) => ("user", id),
            Actor::PlatformAdmin(id) => ("platform_admin", id),
            Actor::ApiKey(id) => ("api_key", id),
        }
    }
}

/// A request's credentials and the actor its records must name.
struct Caller<'a> {
    auth: Auth<'a>,
    actor: Actor,
}

fn caller(auth: Auth<'_>, actor: Actor) -> Caller<'_> {
    Caller { auth, actor }
}

/// Runs mutations and compares the audit rows each one wrote with the expected ones.
struct Coverage<'a> {
    app: &'a TestApp,
    su: tokio_postgres::Client,
    exercised: BTreeSet<String>,
    failures: Vec<String>,
    requests: usize,
}

impl<'a> Coverage<'a> {
    async fn new(app: &'a TestApp) -> Self {
        Coverage {
            app,
            su: app.superuser().await,
            exercised: BTreeSet::new(),
            failures: Vec::new(),
            requests: 0,
        }
    }

    /// Sends the operation `name` (it must succeed: later steps build on it) and checks that
    /// the audit rows of its request are exactly `expected`; returns the root field's data.
    async fn run(
        &mut self,
        caller: &Caller<'_>,
        name: &str,
        vars: Value,
        expected: &[(Log, &str)],
    ) -> Value {
        let sent = self.send(&caller.auth, name, vars).await;
        self.check(&sent, caller.actor, expected).await;
        sent.data
    }

    /// Sends the operation `name`, which must succeed, under a request id of its own.
    ///
    /// First the same request is sent with its audit record refused by the database (see
    /// [`block_audit_records`]): it must fail and change no row of any table, or the record is
    /// not written in the operation's own transaction.
    async fn send(&mut self, auth: &Auth<'_>, name: &str, vars: Value) -> Sent {
        let query = operation(name);
        let field = root_field(query);
        self.requests += 1;

        let before = database_rows(&self.su).await;
        let blocked_id = format!("{BLOCKED}{}-{field}", self.requests);
        let body = self.post(auth, query, &vars, &blocked_id).await;
        if body.get("errors").is_none() || !body["data"][&field].is_null() {
            self.failures.push(format!(
                "{field} ({name}) succeeded although its audit record could not be written: {body}"
            ));
        } else if maybe_error_code(&body) != Some("INTERNAL") {
            // Refused for another reason: the attempt proves nothing about the record.
            self.failures.push(format!(
                "{field} ({name}) with its audit record refused: expected INTERNAL, got {body}"
            ));
        }
        let changed = changed_rows(&before, &database_rows(&self.su).await);
        let known = NOT_ATOMIC_YET.iter().any(|(f, _)| *f == field);
        match (changed.is_empty(), known) {
            (false, false) => self.failures.push(format!(
                "{field} ({name}) failed on its audit record, yet changed:\n  {}",
                changed.join("\n  ")
            )),
            (true, true) => self.failures.push(format!(
                "{field} changes nothing when its audit record fails now: remove it from NOT_ATOMIC_YET"
            )),
            _ => {}
        }

        let request_id = format!("audit-coverage-{}-{field}", self.requests);
        let body = self.post(auth, query, &vars, &request_id).await;
        assert!(
            body.get("errors").is_none() && !body["data"][&field].is_null(),
            "{name} ({field}) must succeed here: {body}"
        );
        self.exercised.insert(field.clone());
        Sent {
            name: name.to_owned(),
            data: body["data"][&field].clone(),
            field,
            request_id,
        }
    }

    async fn post(&self, auth: &Auth<'_>, query: &str, vars: &Value, request_id: &str) -> Value {
        let mut req = self
            .app
            .client
            .post(format!("{}/graphql", self.app.address))
            .header("x-request-id", request_id)
            .json(&json!({ "query": query, "variables": vars }));
        req = match auth {
            Auth::Anonymous => req,
            Auth::Bearer(token) => req.bearer_auth(token),
            Auth::ApiKey(key) => req.header("authorization", format!("ApiKey {key}")),
        };
        req.send().await.unwrap().json().await.unwrap()
    }

    /// Compares the audit rows written under the request id of `sent` with `expected`, each
    /// naming `actor`.
    async fn check(&mut self, sent: &Sent, actor: Actor, expected: &[(Log, &str)]) {
        let mut got: Vec<(Log, String, String, Option<Uuid>)> = Vec::new();
        for row in self
            .su
            .query(
                "SELECT tenant_id, action, actor_type, actor_id FROM audit_log WHERE request_id = $1",
                &[&sent.request_id],
            )
            .await
            .unwrap()
        {
            got.push((Log::Tenant(row.get(0)), row.get(1), row.get(2), row.get(3)));
        }
        for row in self
            .su
            .query(
                "SELECT action, actor_type, actor_id FROM platform_audit_log WHERE request_id = $1",
                &[&sent.request_id],
            )
            .await
            .unwrap()
        {
            got.push((Log::Platform, row.get(0), row.get(1), row.get(2)));
        }
        got.sort();
        let (actor_type, actor_id) = actor.parts();
        let mut want: Vec<(Log, String, String, Option<Uuid>)> = expected
            .iter()
            .map(|(log, action)| {
                (
                    log.clone(),
                    action.to_string(),
                    actor_type.to_owned(),
                    Some(actor_id),
                )
            })
            .collect();
        want.sort();
        if got != want {
            self.failures.push(format!(
                "{} ({}): expected the audit rows {want:?}, got {got:?}",
                sent.field, sent.name
            ));
        }
    }
}

/// A request that succeeded.
struct Sent {
    name: String,
    field: String,
    request_id: String,
    data: Value,
}

/// Request ids starting with this get their audit records refused by the database.
const BLOCKED: &str = "audit-blocked-";

/// A trigger on both audit logs that raises on a record whose request id starts with
/// [`BLOCKED`]: the database refusing to write that record, as a full disk or a lost connection
/// would, at the last statement of the operation's transaction.
async fn block_audit_records(su: &tokio_postgres::Client) {
    su.batch_execute(&format!(
        "CREATE FUNCTION test_block_audit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.request_id LIKE '{BLOCKED}%' THEN
             RAISE EXCEPTION 'audit record refused by the test';
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER test_block_audit BEFORE INSERT ON audit_log
           FOR EACH ROW EXECUTE FUNCTION test_block_audit();
         CREATE TRIGGER test_block_audit BEFORE INSERT ON platform_audit_log
           FOR EACH ROW EXECUTE FUNCTION test_block_audit();"
    ))
    .await
    .unwrap();
}

/// Every row of every table of the public schema, as JSON text, without the columns of
/// [`OUTSIDE_THE_OPERATION`].
async fn database_rows(su: &tokio_postgres::Client) -> BTreeMap<String, Vec<String>> {
    let tables = su
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for row in tables {
        let table: String = row.get(0);
        let left_out: Vec<&str> = OUTSIDE_THE_OPERATION
            .iter()
            .filter(|(t, _, _)| *t == table)
            .map(|(_, column, _)| *column)
            .collect();
        let rows = su
            .query(
                &format!("SELECT (to_jsonb(t) - $1::text[])::text FROM {table} t ORDER BY 1"),
                &[&left_out],
            )
            .await
            .unwrap();
        out.insert(table, rows.iter().map(|r| r.get(0)).collect());
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

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_writes_its_audit_record_in_its_own_transaction() {
    // No periodic usage flush: it would write usage counters between two snapshots of the
    // database; adminFlushUsage flushes when it is called.
    // The test's own DNS server (domain challenges) and OpenID provider (addIdentityProvider).
    let dns = crate::sso_domains::TestDns::start().await;
    let idp = crate::sso_idp::TestIdp::start(json!({
        "clients": [{ "client_id": "hub", "client_secret": "audited-client-secret",
                      "redirect_uris": ["http://127.0.0.1:1/sso/callback"] }],
    }))
    .await;
    let dns_addr = dns.addr;
    let app = spawn_app_with(move |s| {
        s.rate_limit_burst_secs = 60;
        s.usage_flush_secs = 3600;
        s.self_service_upgrades = true;
        s.dns_resolver = Some(dns_addr);
        s.sso_allow_private = true;
        // Passkeys need a domain as the relying party (the hub here is on 127.0.0.1).
        s.webauthn_rp_id = Some("localhost".to_owned());
        s.webauthn_origin = Some("http://localhost".to_owned());
    })
    .await;
    let mut c = Coverage::new(&app).await;
    block_audit_records(&c.su).await;
    use Auth::{Anonymous, ApiKey, Bearer};
    use Log::Platform;

    // Sign-up, sessions.
    // The tenant's log is known once it exists.
    let created = c
        .send(
            &Anonymous,
            "SignUp",
            json!({ "input": { "name": "Acme", "domain": "acme.example.com",
                "ownerEmail": "owner@acme.example.com", "ownerPassword": PASSWORD } }),
        )
        .await;
    let t: Uuid = text(&created.data["tenant"]["uuid"]).parse().unwrap();
    let owner_actor = Actor::User(text(&created.data["owner"]["uuid"]).parse().unwrap());
    let t_id = text(&created.data["tenant"]["id"]);
    let tenant = Log::Tenant(t);
    c.check(&created, owner_actor, &[(tenant.clone(), "tenant.created")])
        .await;
    let login = c
        .run(
            &caller(Anonymous, owner_actor),
            "LogIn",
            json!({ "input": { "tenant": "acme.example.com", "email": "owner@acme.example.com", "password": PASSWORD } }),
            &[(tenant.clone(), "auth.login")],
        )
        .await;
    let refreshed = c
        .run(
            &caller(Anonymous, owner_actor),
            "RefreshSession",
            json!({ "t": text(&login["refreshToken"]) }),
            &[(tenant.clone(), "auth.session_refreshed")],
        )
        .await;
    let owner_token = text(&refreshed["accessToken"]);
    let owner = caller(Bearer(&owner_token), owner_actor);

    // Tenant settings, roles, users.
    c.run(
        &owner,
        "UpdateTenantSettings",
        json!({ "i": { "name": "Acme Renamed" } }),
        &[(tenant.clone(), "tenant.settings_updated")],
    )
    .await;
    let domain = c
        .run(
            &owner,
            "AddTenantDomain",
            json!({ "domain": "acme-audited.com" }),
            &[(tenant.clone(), "tenant.domain_added")],
        )
        .await;
    let domain = text(&domain["domain"]["id"]);
    c.run(
        &owner,
        "VerifyTenantDomain",
        json!({ "id": domain }),
        &[(tenant.clone(), "tenant.domain_verification_failed")],
    )
    .await;
    c.run(
        &owner,
        "RemoveTenantDomain",
        json!({ "id": domain }),
        &[(tenant.clone(), "tenant.domain_removed")],
    )
    .await;
    // Identity providers: a verified domain and the sso feature first.
    let verified = app
        .gql(
            Some(&owner_token),
            operation("AddTenantDomain"),
            json!({ "domain": "acme-sso.test" }),
        )
        .await["data"]["addTenantDomain"]["domain"]
        .clone();
    dns.set_txt(
        "_tenant-hub-challenge.acme-sso.test",
        verified["challenge"].as_str().unwrap(),
    )
    .await;
    let verified = text(&verified["id"]);
    let body = app
        .gql(
            Some(&owner_token),
            operation("VerifyTenantDomain"),
            json!({ "id": verified }),
        )
        .await;
    assert_eq!(
        body["data"]["verifyTenantDomain"]["domain"]["state"], "VERIFIED",
        "{body}"
    );
    c.su.execute(
        "UPDATE tenants SET features = features || '{\"sso\": true}' WHERE id = $1",
        &[&t],
    )
    .await
    .unwrap();
    let provider = c
        .run(
            &owner,
            "AddIdentityProvider",
            json!({ "i": { "name": "Acme IdP", "issuer": idp.issuer, "clientId": "hub",
                "clientSecret": "audited-client-secret", "domainIds": [verified] } }),
            &[(tenant.clone(), "sso.provider_added")],
        )
        .await;
    c.run(
        &owner,
        "RemoveIdentityProvider",
        json!({ "id": text(&provider["identityProvider"]["id"]) }),
        &[(tenant.clone(), "sso.provider_removed")],
    )
    .await;
    let role = c
        .run(
            &owner,
            "CreateRole",
            json!({ "i": { "name": "auditors", "permissions": ["audit:read"] } }),
            &[(tenant.clone(), "role.created")],
        )
        .await;
    let role = text(&role["role"]["id"]);
    c.run(
        &owner,
        "UpdateRoleDescription",
        json!({ "i": { "id": role, "description": "reads the audit log" } }),
        &[(tenant.clone(), "role.updated")],
    )
    .await;
    let user = c
        .run(
            &owner,
            "CreateUserWithUuid",
            json!({ "i": { "email": "uma@acme.example.com", "password": PASSWORD } }),
            &[(tenant.clone(), "user.created")],
        )
        .await;
    let uma_actor = Actor::User(text(&user["user"]["uuid"]).parse().unwrap());
    let user = text(&user["user"]["id"]);
    // Second factors: the owner enrols, signs in with a code, and removes the factor again.
    c.run(
        &owner,
        "SetMfaPolicy",
        json!({ "p": "OFF" }),
        &[(tenant.clone(), "mfa.policy_set")],
    )
    .await;
    let begun = c
        .run(
            &owner,
            "BeginTotpEnrolment",
            json!({}),
            &[(tenant.clone(), "mfa.enrolment_started")],
        )
        .await;
    let secret = text(&begun["secret"]);
    let step = crate::mfa::safe_step().await;
    c.run(
        &owner,
        "ConfirmTotpEnrolment",
        json!({ "code": crate::mfa::code(&secret, step) }),
        &[
            (tenant.clone(), "mfa.enrolled"),
            (tenant.clone(), "mfa.recovery_codes_generated"),
        ],
    )
    .await;
    let held = c
        .run(
            &caller(Anonymous, owner_actor),
            "LogInMfa",
            json!({ "input": { "tenant": "acme.example.com", "email": "owner@acme.example.com", "password": PASSWORD } }),
            &[(tenant.clone(), "mfa.challenge_issued")],
        )
        .await;
    c.run(
        &caller(Anonymous, owner_actor),
        "CompleteMfaLogin",
        json!({ "i": { "challenge": text(&held["mfaChallenge"]["challenge"]),
            "code": crate::mfa::code(&secret, step + 1) } }),
        &[(tenant.clone(), "mfa.used"), (tenant.clone(), "auth.login")],
    )
    .await;
    c.run(
        &owner,
        "RegenerateRecoveryCodes",
        json!({}),
        &[(tenant.clone(), "mfa.recovery_codes_generated")],
    )
    .await;
    c.run(
        &owner,
        "RemoveMfaFactor",
        json!({ "id": text(&begun["factorId"]) }),
        &[(tenant.clone(), "mfa.factor_removed")],
    )
    .await;
    c.run(
        &owner,
        "BeginPasskeyRegistration",
        json!({ "label": "Laptop" }),
        &[(tenant.clone(), "mfa.enrolment_started")],
    )
    .await;
    c.run(
        &owner,
        "ResetUserMfa",
        json!({ "id": user }),
        &[(tenant.clone(), "mfa.reset")],
    )
    .await;
    c.run(
        &owner,
        "AssignRole",
        json!({ "i": { "userId": user, "roleId": role } }),
        &[(tenant.clone(), "role.assigned")],
    )
    .await;
    c.run(
        &owner,
        "UnassignRole",
        json!({ "i": { "userId": user, "roleId": role } }),
        &[(tenant.clone(), "role.unassigned")],
    )
    .await;
    c.run(
        &owner,
        "DeleteRole",
        json!({ "id": role }),
        &[(tenant.clone(), "role.deleted")],
    )
    .await;
    c.run(
        &owner,
        "UpdateUserDisplayName",
        json!({ "i": { "id": user, "displayName": "Uma" } }),
        &[(tenant.clone(), "user.updated")],
    )
    .await;
    c.run(
        &owner,
        "DeactivateUserWithId",
        json!({ "id": user }),
        &[(tenant.clone(), "user.deactivated")],
    )
    .await;
    c.run(
        &owner,
        "ReactivateUser",
        json!({ "id": user }),
        &[(tenant.clone(), "user.reactivated")],
    )
    .await;
    let reset = c
        .run(
            &owner,
            "ResetUserPassword",
            json!({ "id": user }),
            &[(tenant.clone(), "user.password_reset_issued")],
        )
        .await;
    let new_password = "a brand new horse battery";
    c.run(
        &caller(Anonymous, uma_actor),
        "ResetPassword",
        json!({ "token": text(&reset["resetToken"]), "new": new_password }),
        &[(tenant.clone(), "user.password_reset")],
    )
    .await;
    let uma = app
        .login("acme.example.com", "uma@acme.example.com", new_password)
        .await;
    c.run(
        &caller(Bearer(&text(&uma["accessToken"])), uma_actor),
        "ChangePassword",
        json!({ "current": new_password, "new": PASSWORD }),
        &[(tenant.clone(), "user.password_changed")],
    )
    .await;
    let invited = c
        .run(
            &owner,
            "InviteUser",
            json!({ "i": { "email": "ivy@acme.example.com" } }),
            &[(tenant.clone(), "user.invited")],
        )
        .await;
    let ivy: Uuid =
        c.su.query_one(
            "SELECT id FROM users WHERE email = 'ivy@acme.example.com'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let invited = c
        .run(
            &owner,
            "ResendInvitation",
            json!({ "id": text(&invited["user"]["id"]) }),
            &[(tenant.clone(), "user.invitation_resent")],
        )
        .await;
    c.run(
        &caller(Anonymous, Actor::User(ivy)),
        "AcceptInvitation",
        json!({ "token": text(&invited["invitationToken"]), "password": PASSWORD }),
        &[(tenant.clone(), "user.invitation_accepted")],
    )
    .await;
    // Mails: the tokens of their links, read from the outbox (no SMTP in this test).
    c.run(
        &caller(Anonymous, uma_actor),
        "RequestPasswordReset",
        json!({ "tenant": "acme.example.com", "email": "uma@acme.example.com" }),
        &[(tenant.clone(), "user.password_reset_requested")],
    )
    .await;
    let verification = link_token(&c.su, "email_verification", "uma@acme.example.com").await;
    c.run(
        &caller(Anonymous, uma_actor),
        "VerifyEmail",
        json!({ "token": verification }),
        &[(tenant.clone(), "user.email_verified")],
    )
    .await;
    c.run(
        &owner,
        "UpdateUserEmail",
        json!({ "i": { "id": text(&invited["user"]["id"]), "email": "ivy2@acme.example.com" } }),
        &[(tenant.clone(), "user.updated")],
    )
    .await;
    let report = link_token(&c.su, "email_changed", "ivy@acme.example.com").await;
    c.run(
        &caller(Anonymous, Actor::User(ivy)),
        "ReportEmailChange",
        json!({ "token": report }),
        &[(tenant.clone(), "user.email_change_reported")],
    )
    .await;

    // Workspaces and product access.
    let workspace = c
        .run(
            &owner,
            "CreateWorkspace",
            json!({ "i": { "name": "Lab", "slug": "lab" } }),
            &[(tenant.clone(), "workspace.created")],
        )
        .await;
    let workspace = text(&workspace["workspace"]["id"]);
    c.run(
        &owner,
        "UpdateWorkspace",
        json!({ "i": { "id": workspace, "name": "Big Lab" } }),
        &[(tenant.clone(), "workspace.updated")],
    )
    .await;
    c.run(
        &owner,
        "AddWorkspaceMember",
        json!({ "i": { "workspaceId": workspace, "userId": user } }),
        &[(tenant.clone(), "workspace.member_added")],
    )
    .await;
    c.run(
        &owner,
        "RemoveWorkspaceMember",
        json!({ "i": { "workspaceId": workspace, "userId": user } }),
        &[(tenant.clone(), "workspace.member_removed")],
    )
    .await;
    c.run(
        &owner,
        "ArchiveWorkspace",
        json!({ "id": workspace }),
        &[(tenant.clone(), "workspace.archived")],
    )
    .await;
    c.run(
        &owner,
        "SetProductGrant",
        json!({ "i": { "productId": "crm", "access": "LIMITED", "userId": user } }),
        &[(tenant.clone(), "product.access_set")],
    )
    .await;
    c.run(
        &owner,
        "ClearProductAccessOverride",
        json!({ "productId": "crm", "userId": user }),
        &[(tenant.clone(), "product.access_override_cleared")],
    )
    .await;

    // API keys and usage, the plan.
    let key = c
        .run(
            &owner,
            "CreateApiKey",
            json!({ "i": { "productId": "docs", "name": "docs prod" } }),
            &[(tenant.clone(), "api_key.created")],
        )
        .await;
    let key_id: Uuid =
        c.su.query_one("SELECT id FROM api_keys WHERE name = 'docs prod'", &[])
            .await
            .unwrap()
            .get(0);
    c.run(
        &caller(ApiKey(&text(&key["key"])), Actor::ApiKey(key_id)),
        "ReportUsage",
        json!({ "gb": 1.5 }),
        &[(tenant.clone(), "usage.reported")],
    )
    .await;
    c.run(
        &owner,
        "RevokeApiKey",
        json!({ "id": text(&key["apiKey"]["id"]) }),
        &[(tenant.clone(), "api_key.revoked")],
    )
    .await;
    c.run(
        &owner,
        "ChangePlan",
        json!({ "plan": "pro" }),
        &[(tenant.clone(), "billing.plan_changed")],
    )
    .await;
    c.run(
        &owner,
        "DeleteUser",
        json!({ "id": user }),
        &[(tenant.clone(), "user.deleted")],
    )
    .await;
    let second = app
        .login("acme.example.com", "owner@acme.example.com", PASSWORD)
        .await;
    c.run(
        &caller(Bearer(&text(&second["accessToken"])), owner_actor),
        "LogOut",
        json!({}),
        &[(tenant.clone(), "auth.logout")],
    )
    .await;

    // Platform administration.
    app.platform_admin("root@hub.example.com").await;
    let admin_actor = Actor::PlatformAdmin(
        c.su.query_one(
            "SELECT id FROM platform_admins WHERE email = 'root@hub.example.com'",
            &[],
        )
        .await
        .unwrap()
        .get(0),
    );
    let admin = c
        .run(
            &caller(Anonymous, admin_actor),
            "AdminLogIn",
            json!({ "e": "root@hub.example.com", "p": PASSWORD }),
            &[(Platform, "platform.admin_login")],
        )
        .await;
    let admin_token = text(&admin["accessToken"]);
    let admin = caller(Bearer(&admin_token), admin_actor);
    c.run(
        &admin,
        "CreateProduct",
        json!({ "i": { "id": "wiki", "name": "Wiki" } }),
        &[(Platform, "platform.product_created")],
    )
    .await;
    c.run(
        &admin,
        "UpdateProduct",
        json!({ "i": { "id": "wiki", "name": "Team Wiki" } }),
        &[(Platform, "platform.product_updated")],
    )
    .await;
    let created = c
        .run(
            &admin,
            "CreateOauthClient",
            json!({ "i": { "productId": "wiki", "redirectUris": ["https://wiki.example.com/cb"] } }),
            &[(Platform, "platform.oauth_client_created")],
        )
        .await;
    let client_id = text(&created["client"]["clientId"]);
    c.run(
        &admin,
        "UpdateOauthClient",
        json!({ "i": { "clientId": client_id, "allowedScopes": ["email"] } }),
        &[(Platform, "platform.oauth_client_updated")],
    )
    .await;
    c.run(
        &admin,
        "RotateOauthClientSecret",
        json!({ "id": client_id }),
        &[(Platform, "platform.oauth_client_secret_rotated")],
    )
    .await;
    c.run(
        &admin,
        "DeleteOauthClient",
        json!({ "id": client_id }),
        &[(Platform, "platform.oauth_client_deleted")],
    )
    .await;
    c.run(
        &admin,
        "SetTenantLimits",
        json!({ "i": { "tenantId": t_id, "limits": { "users": 50 } } }),
        &[(tenant.clone(), "platform.tenant_limits_set")],
    )
    .await;
    c.run(
        &admin,
        "FlushUsage",
        json!({}),
        &[(Platform, "platform.usage_flushed")],
    )
    .await;
    c.run(
        &admin,
        "SuspendTenant",
        json!({ "id": t_id, "reason": "unpaid" }),
        &[(tenant.clone(), "tenant.suspended")],
    )
    .await;
    c.run(
        &admin,
        "ResumeTenant",
        json!({ "id": t_id }),
        &[(tenant.clone(), "tenant.resumed")],
    )
    .await;
    c.run(
        &owner,
        "DeactivateTenant",
        json!({ "i": { "reason": "closing down" } }),
        &[(tenant.clone(), "tenant.deactivated")],
    )
    .await;
    c.run(
        &admin,
        "ReactivateTenant",
        json!({ "id": t_id }),
        &[(tenant.clone(), "tenant.reactivated")],
    )
    .await;
    // A platform admin's sign-up is in both logs.
    let other = c
        .send(
            &admin.auth,
            "SignUp",
            json!({ "input": { "name": "Gone", "domain": "gone.example.com",
                "ownerEmail": "owner@gone.example.com", "ownerPassword": PASSWORD } }),
        )
        .await;
    let gone = Log::Tenant(text(&other.data["tenant"]["uuid"]).parse().unwrap());
    c.check(
        &other,
        admin_actor,
        &[
            (gone, "tenant.created"),
            (Platform, "platform.tenant_created"),
        ],
    )
    .await;
    // Its tenant's log goes with the purge; the platform's keeps the record.
    c.run(
        &admin,
        "PurgeTenant",
        json!({ "i": { "tenantId": text(&other.data["tenant"]["id"]), "force": true,
            "confirmDomain": "gone.example.com" } }),
        &[(Platform, "platform.tenant_purged")],
    )
    .await;

    // Every field of Mutation is exercised above or listed as unaudited, and not both.
    let unaudited: Vec<&str> = UNAUDITED
        .iter()
        .chain(EXERCISED_ELSEWHERE)
        .map(|(f, _)| *f)
        .collect();
    for field in mutation_fields() {
        match (
            c.exercised.contains(&field),
            unaudited.contains(&field.as_str()),
        ) {
            (false, false) => c.failures.push(format!(
                "{field} is neither exercised here nor listed in UNAUDITED with the reason"
            )),
            (true, true) => c.failures.push(format!(
                "{field} is exercised here and listed in UNAUDITED: which is it?"
            )),
            _ => {}
        }
    }
    for field in &c.exercised {
        assert!(
            mutation_fields().contains(field),
            "{field} is no Mutation field"
        );
    }
    assert!(
        c.failures.is_empty(),
        "{} problem(s):\n{}",
        c.failures.len(),
        c.failures.join("\n")
    );
}

/// The token of the newest unsent mail of `kind` to `to`, read from the outbox.
async fn link_token(su: &tokio_postgres::Client, kind: &str, to: &str) -> String {
    su.query_one(
        "SELECT link_secret FROM mail_outbox WHERE kind = $1 AND recipient = $2 \
         AND link_secret IS NOT NULL ORDER BY created_at DESC LIMIT 1",
        &[&kind, &to],
    )
    .await
    .unwrap()
    .get::<_, String>(0)
}

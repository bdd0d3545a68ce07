//! Signing in through a tenant's identity provider (issue 17): home-realm discovery (which
//! provider serves an email's domain), the sign-in kept server-side while the browser is at the
//! provider ([`begin`], [`consume`]), and its completion once the ID token passed every check
//! ([`complete`]): the identity linked by (tenant, provider, subject) or by email on first use,
//! a just-in-time user with the mapped or default role within the user quota, the browser
//! session with `amr` `fed` — one transaction, so nothing is half-created. Failures are
//! recorded as `sso.sign_in_failed` ([`record_failure`]).

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ops::sign_in::SignIn;
use crate::{
    db::{
        Db, ScopedFutureExt, SystemReason, TenantTx,
        audit::{Actor, AuditEvent},
        models::{
            ExternalIdentityRow, FederatedSessions, IdentityProviderRow, RoleRow, SsoSignInRow,
            TenantDomainRow, TenantRow, UserRoleRow, UserRow, user::NewUser,
        },
    },
    domain::Action,
    error::{AppResult, ErrorCode},
    ops::{
        Done, Effect, rules,
        sessions::{self, AuthMethod, OpenedSession, SessionStart},
    },
    request::RequestMeta,
    sso::oidc::{SsoFailure, VerifiedIdentity},
};

/// How long a sign-in may stay at the provider.
pub const SIGN_IN_TTL_SECS: i64 = 600;

/// The tenant and provider an email's domain belongs to.
pub struct Realm {
    pub tenant: TenantRow,
    pub provider: IdentityProviderRow,
}

/// The provider serving `domain` (lower-case): the tenant that verified it (system scope: the
/// tenant is not known yet), then that tenant's provider bound to it, if any.
pub async fn home_realm(db: &Db, domain: &str) -> AppResult<Option<Realm>> {
    let owned = domain.to_owned();
    let Some(tenant_id) = db
        .system_tx(SystemReason::Authentication, |conn| {
            TenantDomainRow::verified_owner(conn, &owned).scope_boxed()
        })
        .await?
    else {
        return Ok(None);
    };
    let owned = domain.to_owned();
    db.tenant_tx(tenant_id, move |tx| {
        async move {
            let Some(provider) = IdentityProviderRow::serving(tx, &owned).await? else {
                return Ok(None);
            };
            let tenant = TenantRow::current(tx, tenant_id).await?;
            Ok(Some(Realm { tenant, provider }))
        }
        .scope_boxed()
    })
    .await
}

/// A sign-in about to leave for the provider.
pub struct Pending {
    pub provider_id: Uuid,
    pub state_hash: Vec<u8>,
    pub browser_hash: Vec<u8>,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
}

/// Keeps the sign-in until its callback (and drops the tenant's stale ones). Not audited: the
/// callback records the outcome (`sso.sign_in` or `sso.sign_in_failed`).
pub async fn begin(tx: &mut TenantTx, pending: Pending) -> AppResult<Done<()>> {
    let now = Utc::now();
    SsoSignInRow::prune(tx, now - Duration::seconds(SIGN_IN_TTL_SECS)).await?;
    SsoSignInRow::insert(
        tx,
        &SsoSignInRow {
            tenant_id: tx.tenant_id(),
            id: Uuid::now_v7(),
            provider_id: pending.provider_id,
            state_hash: pending.state_hash,
            browser_hash: pending.browser_hash,
            nonce: pending.nonce,
            pkce_verifier: pending.pkce_verifier,
            return_to: pending.return_to,
            created_at: now,
            expires_at: now + Duration::seconds(SIGN_IN_TTL_SECS),
            used_at: None,
        },
    )
    .await?;
    Ok(Done::unaudited(()))
}

/// Uses up the sign-in a callback's `state` names, when it is unused, unexpired and started by
/// this browser (`browser_hash`: the hash of its binding cookie). Single use whatever follows.
pub async fn consume(
    tx: &mut TenantTx,
    state_hash: &[u8],
    browser_hash: Option<&[u8]>,
) -> AppResult<Done<Result<(SsoSignInRow, IdentityProviderRow), SsoFailure>>> {
    let Some(row) = SsoSignInRow::consume(tx, state_hash).await? else {
        return Ok(Done::unaudited(Err(SsoFailure::StateInvalid)));
    };
    if browser_hash != Some(row.browser_hash.as_slice()) {
        let event = failure_event(Some(row.provider_id), &SsoFailure::StateInvalid, None)
            .details(json!({ "reason": "state_invalid", "browser": "other" }));
        return Ok(Done::audited(Err(SsoFailure::StateInvalid), event));
    }
    match IdentityProviderRow::find(tx, row.provider_id).await? {
        Some(provider) => Ok(Done::unaudited(Ok((row, provider)))),
        None => Ok(Done::unaudited(Err(SsoFailure::ProviderRemoved))),
    }
}

fn failure_event(
    provider_id: Option<Uuid>,
    failure: &SsoFailure,
    email: Option<&str>,
) -> AuditEvent {
    let mut event = AuditEvent::new(Action::SsoSignInFailed)
        .details(json!({ "reason": failure.code(), "email": email }));
    if let Some(id) = provider_id {
        event = event.target("identity_provider", id);
    }
    event
}

/// Records a failed sign-in through `provider_id` in the tenant's log.
pub async fn record_failure(
    _tx: &mut TenantTx,
    provider_id: Option<Uuid>,
    failure: &SsoFailure,
    email: Option<&str>,
) -> AppResult<Done<()>> {
    Ok(Done::audited(
        (),
        failure_event(provider_id, failure, email),
    ))
}

/// A federated sign-in done: the user and the browser session opened for them.
pub struct SignedIn {
    pub user: UserRow,
    pub tenant: TenantRow,
    pub session: OpenedSession,
    /// Created just now (just-in-time provisioning).
    pub created: bool,
}

/// The string claim `name`, if any.
fn string_claim<'a>(identity: &'a VerifiedIdentity, name: &str) -> Option<&'a str> {
    identity.claims.get(name).and_then(Value::as_str)
}

/// The groups the `groups_claim` lists (an array of strings, or one string).
fn groups(identity: &VerifiedIdentity, claim: Option<&str>) -> BTreeSet<String> {
    match claim.and_then(|c| identity.claims.get(c)) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => [s.clone()].into(),
        _ => BTreeSet::new(),
    }
}

/// The email an identity may sign in with: from the provider's configured claim, verified by
/// the provider, of a verified domain of this tenant that this provider serves.
pub async fn checked_email(
    tx: &mut TenantTx,
    provider: &IdentityProviderRow,
    identity: &VerifiedIdentity,
) -> AppResult<Result<String, SsoFailure>> {
    let Some(email) = string_claim(identity, &provider.email_claim)
        .map(str::trim)
        .filter(|e| e.contains('@'))
    else {
        return Ok(Err(SsoFailure::EmailMissing));
    };
    let verified = match identity.claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    if !verified {
        return Ok(Err(SsoFailure::EmailUnverified));
    }
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_lowercase());
    let serving = match domain {
        Some(d) if !d.is_empty() => IdentityProviderRow::serving(tx, &d).await?,
        _ => None,
    };
    if serving.map(|p| p.id) != Some(provider.id) {
        return Ok(Err(SsoFailure::EmailOutsideDomains));
    }
    Ok(Ok(email.to_owned()))
}

/// Completes a sign-in whose ID token passed every check: finds the user (by the identity, else
/// by email on first use, else creates one when the provider allows it), opens the browser
/// session (`browser_token_hash`, `amr` fed) and remembers it was federated. A failure writes
/// nothing (the caller records it).
pub async fn complete(
    tx: &mut TenantTx,
    state: &SignIn,
    meta: &RequestMeta,
    provider: &IdentityProviderRow,
    identity: &VerifiedIdentity,
    browser_token_hash: Vec<u8>,
) -> AppResult<Done<Result<SignedIn, SsoFailure>>> {
    let tenant_id = tx.tenant_id();
    let email = match checked_email(tx, provider, identity).await? {
        Ok(email) => email,
        Err(f) => return Ok(Done::unaudited(Err(f))),
    };
    let tenant = TenantRow::current(tx, tenant_id).await?;
    if !tenant.is_active() {
        return Ok(Done::unaudited(Err(SsoFailure::TenantInactive)));
    }
    let mut events = Vec::new();
    let mut effects = Vec::new();
    let linked = ExternalIdentityRow::find_by_subject(tx, provider.id, &identity.subject).await?;
    let (user, created) = match &linked {
        Some(link) => (UserRow::get(tx, link.user_id).await?, false),
        None => match UserRow::find_by_email(tx, &email).await? {
            Some(user) => {
                if ExternalIdentityRow::find_by_user(tx, provider.id, user.id)
                    .await?
                    .is_some()
                {
                    return Ok(Done::unaudited(Err(SsoFailure::IdentityConflict)));
                }
                (user, false)
            }
            None => {
                if !provider.jit_provisioning {
                    return Ok(Done::unaudited(Err(SsoFailure::NoAccount)));
                }
                match provision(tx, provider, identity, &email).await? {
                    Ok(done) => {
                        events.extend(done.events);
                        effects.extend(done.effects);
                        (done.value, true)
                    }
                    Err(f) => return Ok(Done::unaudited(Err(f))),
                }
            }
        },
    };
    if !user.is_active() {
        return Ok(Done::unaudited(Err(SsoFailure::AccountInactive)));
    }
    match &linked {
        Some(link) => ExternalIdentityRow::touch(tx, link.id, &email).await?,
        None => {
            let now = Utc::now();
            ExternalIdentityRow::insert(
                tx,
                &ExternalIdentityRow {
                    tenant_id,
                    id: Uuid::now_v7(),
                    provider_id: provider.id,
                    subject: identity.subject.clone(),
                    user_id: user.id,
                    email: email.clone(),
                    created_at: now,
                    last_sign_in_at: now,
                },
            )
            .await?;
            events.push(
                AuditEvent::new(Action::SsoIdentityLinked)
                    .target("user", user.id)
                    .by(Actor::User(user.id))
                    .details(json!({
                        "provider": provider.name, "provider_id": provider.id,
                        "subject": identity.subject, "email": email,
                        "by": if created { "provisioning" } else if linked.is_none() { "email" } else { "subject" },
                    })),
            );
        }
    }
    let opened = sessions::open(
        tx,
        state,
        meta,
        SessionStart {
            tenant_id,
            user_id: user.id,
            methods: vec![AuthMethod::Federated],
            browser_token_hash: Some(browser_token_hash),
        },
    )
    .await?;
    events.extend(
        opened
            .events
            .into_iter()
            .map(|e| e.by(Actor::User(user.id))),
    );
    effects.extend(opened.effects);
    FederatedSessions::insert(tx, opened.value.session_id, provider.id).await?;
    events.push(
        AuditEvent::new(Action::SsoSignIn)
            .target("session", opened.value.session_id)
            .by(Actor::User(user.id))
            .details(json!({
                "provider": provider.name, "provider_id": provider.id,
                "subject": identity.subject, "email": email, "user_id": user.id,
                "provisioned": created,
            })),
    );
    Ok(Done {
        value: Ok(SignedIn {
            user,
            tenant,
            session: opened.value,
            created,
        }),
        events,
        effects,
    })
}

/// Just-in-time provisioning: an active user with the roles the groups claim maps to (else
/// the provider's default role), within the tenant's user quota; the email counts as verified
/// (the provider said so).
async fn provision(
    tx: &mut TenantTx,
    provider: &IdentityProviderRow,
    identity: &VerifiedIdentity,
    email: &str,
) -> AppResult<Result<Done<UserRow>, SsoFailure>> {
    let tenant_id = tx.tenant_id();
    let mapping: std::collections::BTreeMap<String, Uuid> =
        serde_json::from_value(provider.group_roles.clone()).unwrap_or_default();
    let mut role_ids: BTreeSet<Uuid> = groups(identity, provider.groups_claim.as_deref())
        .iter()
        .filter_map(|g| mapping.get(g).copied())
        .collect();
    if role_ids.is_empty()
        && let Some(default) = provider.default_role_id
    {
        role_ids.insert(default);
    }
    if role_ids.is_empty() {
        return Ok(Err(SsoFailure::NoAccount));
    }
    let ids: Vec<Uuid> = role_ids.into_iter().collect();
    let roles = RoleRow::load_many(tx, &ids).await?;
    if roles.is_empty() {
        return Ok(Err(SsoFailure::NoAccount));
    }
    let tenant = match rules::ensure_seat_available(tx, tenant_id).await {
        Ok(t) => t,
        Err(e) if e.code == ErrorCode::QuotaExceeded => return Ok(Err(SsoFailure::TenantFull)),
        Err(e) => return Err(e),
    };
    let name = string_claim(identity, "name").map(str::to_owned);
    let user = UserRow::insert(
        tx,
        NewUser {
            tenant_id,
            id: Uuid::now_v7(),
            email,
            display_name: name.as_deref(),
            password_hash: None,
            status: "active",
        },
    )
    .await?;
    let user = UserRow::set_email_verified(tx, user.id, Some(Utc::now())).await?;
    for role in &roles {
        UserRoleRow::assign(tx, tenant_id, user.id, role.id, None).await?;
    }
    let alerts = rules::seat_alerts(tx, &tenant).await?;
    let event = AuditEvent::new(Action::UserCreated)
        .target("user", user.id)
        .by(Actor::User(user.id))
        .details(json!({
            "email": user.email, "status": user.status,
            "roles": roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "via": "sso", "provider": provider.name,
        }));
    Ok(Ok(
        Done::audited(user, event).and_effect(Effect::Alerts(alerts))
    ))
}

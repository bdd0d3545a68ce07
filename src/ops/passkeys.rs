//! Passkeys (WebAuthn) as operations: registering one (a signed-in user, or the enrolment step
//! of a sign-in the policy holds), using one as the second factor of a sign-in
//! ([`check_assertion`], called by `ops::mfa`), and passwordless sign-in with a discoverable
//! credential ([`passwordless_sign_in`]).
//!
//! Every ceremony's state (webauthn-rs' challenge) is an `mfa_passkey_ceremonies` row bound
//! to the hash of what started it (the browser's ceremony cookie, the sign-in challenge token,
//! or the API's ceremony token): five minutes, single use (taken before it is checked, so a
//! replay finds nothing). A ceremony that does not verify changes nothing but its own row and
//! the `mfa.failed` record. A passkey is a factor of kind `passkey`: listing, removal, the
//! "last factor" rule and an admin's reset are `ops::mfa`'s.

use chrono::{Duration as ChronoDuration, Utc};
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::{
    Webauthn,
    prelude::{
        DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
        PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    },
};

use crate::ops::sign_in::SignIn;
use crate::{
    db::{
        ScopedFutureExt, TenantTx,
        audit::{Actor, AuditEvent},
        models::{MfaFactorRow, PasskeyCeremonyRow, PasskeyRow, TenantRow, UserRow},
    },
    domain::Action,
    error::{AppError, AppResult, Reason},
    mfa::passkey::{self, CEREMONY_TTL_SECS},
    ops::{
        self, Done,
        mfa::{Checked, Confirmed, limiter_account},
        sessions::Authenticated,
    },
    request::RequestMeta,
};

/// The answer to a ceremony that did not verify (nothing changed).
pub fn refused() -> AppError {
    AppError::unauthenticated("the passkey was not accepted; try again")
        .with_reason(Reason::PasskeyInvalid)
}

fn relying_party(state: &SignIn) -> AppResult<Webauthn> {
    passkey::relying_party(
        state.public_url(),
        state.settings.webauthn_rp_id.as_deref(),
        state.settings.webauthn_origin.as_deref(),
        "tenant-hub",
    )
}

fn failed(user_id: Option<Uuid>, during: &str, why: &str) -> AuditEvent {
    let mut e = AuditEvent::new(Action::MfaFailed)
        .details(json!({ "method": "passkey", "during": during, "why": why }));
    if let Some(u) = user_id {
        e = e.target("user", u).by(Actor::User(u));
    }
    e
}

fn stored(row: &PasskeyRow) -> AppResult<Passkey> {
    serde_json::from_value(row.passkey.clone()).map_err(AppError::internal)
}

async fn new_ceremony(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    binding_hash: Vec<u8>,
    purpose: &str,
    user_id: Option<Uuid>,
    label: Option<String>,
    state: serde_json::Value,
) -> AppResult<()> {
    PasskeyCeremonyRow::clear(tx, &binding_hash).await?;
    let now = Utc::now();
    PasskeyCeremonyRow::insert(
        tx,
        &PasskeyCeremonyRow {
            tenant_id,
            id: Uuid::now_v7(),
            binding_hash,
            purpose: purpose.to_owned(),
            user_id,
            label,
            state,
            created_at: now,
            expires_at: now + ChronoDuration::seconds(CEREMONY_TTL_SECS),
            used_at: None,
        },
    )
    .await
}

/// Starts registering a passkey for the user: the options for `navigator.credentials.create`
/// (`mfa.enrolment_started`). The user's passkeys are excluded (an authenticator holds one
/// per account).
pub async fn begin_registration(
    tx: &mut TenantTx,
    state: &SignIn,
    tenant_id: Uuid,
    user_id: Uuid,
    label: Option<&str>,
    binding_hash: Vec<u8>,
) -> AppResult<Done<serde_json::Value>> {
    let label = passkey::label(label)?;
    let rp = relying_party(state)?;
    let user = UserRow::get(tx, user_id).await?;
    let exclude = PasskeyRow::of_user_for_update(tx, user_id)
        .await?
        .iter()
        .map(|r| stored(r).map(|p| p.cred_id().clone()))
        .collect::<AppResult<Vec<_>>>()?;
    let display = user
        .display_name
        .clone()
        .unwrap_or_else(|| user.email.clone());
    let (ccr, reg) = rp
        .start_passkey_registration(user_id, &user.email, &display, Some(exclude))
        .map_err(AppError::internal)?;
    let options = passkey::creation_options(&ccr)?;
    let reg = serde_json::to_value(&reg).map_err(AppError::internal)?;
    new_ceremony(
        tx,
        tenant_id,
        binding_hash,
        "register",
        Some(user_id),
        Some(label),
        reg,
    )
    .await?;
    Ok(Done::audited(
        options,
        AuditEvent::new(Action::MfaEnrolmentStarted)
            .target("user", user_id)
            .by(Actor::User(user_id))
            .details(json!({ "kind": "passkey" })),
    ))
}

/// Finishes the registration bound to `binding_hash` with the browser's credential: the new
/// factor's id, or `None` (the ceremony is spent either way; nothing else changed).
pub(crate) async fn register(
    tx: &mut TenantTx,
    state: &SignIn,
    tenant_id: Uuid,
    user_id: Uuid,
    binding_hash: &[u8],
    credential_json: &str,
) -> AppResult<Result<Uuid, &'static str>> {
    let Some(ceremony) = PasskeyCeremonyRow::take(tx, binding_hash, "register").await? else {
        return Ok(Err("no_ceremony"));
    };
    if ceremony.user_id != Some(user_id) {
        return Ok(Err("no_ceremony"));
    }
    let Ok(credential) = serde_json::from_str::<RegisterPublicKeyCredential>(credential_json)
    else {
        return Ok(Err("malformed"));
    };
    let reg: PasskeyRegistration =
        serde_json::from_value(ceremony.state).map_err(AppError::internal)?;
    let rp = relying_party(state)?;
    let Ok(key) = rp.finish_passkey_registration(&credential, &reg) else {
        return Ok(Err("not_verified"));
    };
    let credential_id: Vec<u8> = key.cred_id().as_ref().to_vec();
    if PasskeyRow::credential_exists(tx, &credential_id).await? {
        return Ok(Err("credential_registered"));
    }
    let id = Uuid::now_v7();
    let now = Utc::now();
    MfaFactorRow::insert(
        tx,
        &MfaFactorRow {
            tenant_id,
            id,
            user_id,
            kind: "passkey".to_owned(),
            label: ceremony.label.unwrap_or_else(|| "Passkey".to_owned()),
            secret_ciphertext: Vec::new(),
            created_at: now,
            confirmed_at: Some(now),
            last_used_step: None,
            last_used_at: None,
        },
    )
    .await?;
    PasskeyRow::insert(
        tx,
        &PasskeyRow {
            tenant_id,
            factor_id: id,
            user_id,
            credential_id,
            passkey: serde_json::to_value(&key).map_err(AppError::internal)?,
        },
    )
    .await?;
    Ok(Ok(id))
}

/// A signed-in user finishes registering a passkey (`mfa.enrolled`; the first factor comes
/// with recovery codes). A credential that does not verify: [`Checked::Refused`] with
/// `mfa.failed`, nothing else changed.
pub async fn finish_registration(
    tx: &mut TenantTx,
    state: &SignIn,
    tenant_id: Uuid,
    user_id: Uuid,
    binding_hash: &[u8],
    credential_json: &str,
) -> AppResult<Done<Checked<Confirmed>>> {
    match register(tx, state, tenant_id, user_id, binding_hash, credential_json).await? {
        Err(why) => Ok(Done {
            value: Checked::Refused,
            events: vec![failed(Some(user_id), "enrolment", why)],
            effects: Vec::new(),
        }),
        Ok(factor_id) => {
            let (codes, events) =
                ops::mfa::enrolled(tx, tenant_id, user_id, factor_id, "passkey").await?;
            let factor = MfaFactorRow::of_user(tx, user_id)
                .await?
                .into_iter()
                .find(|f| f.id == factor_id)
                .ok_or_else(|| AppError::not_found("factor"))?;
            Ok(Done {
                value: Checked::Accepted(Confirmed {
                    factor,
                    recovery_codes: codes,
                }),
                events,
                effects: Vec::new(),
            })
        }
    }
}

/// Starts a second-factor check with one of the user's passkeys: the options for
/// `navigator.credentials.get`, bound to the sign-in's challenge (`binding_hash`).
pub async fn begin_verification(
    tx: &mut TenantTx,
    state: &SignIn,
    tenant_id: Uuid,
    user_id: Uuid,
    binding_hash: Vec<u8>,
) -> AppResult<Done<serde_json::Value>> {
    let rp = relying_party(state)?;
    let keys = PasskeyRow::of_user_for_update(tx, user_id)
        .await?
        .iter()
        .map(stored)
        .collect::<AppResult<Vec<_>>>()?;
    if keys.is_empty() {
        return Err(
            AppError::conflict("no passkey is registered for this account")
                .with_reason(Reason::MfaNotEnrolled),
        );
    }
    let (rcr, auth) = rp
        .start_passkey_authentication(&keys)
        .map_err(AppError::internal)?;
    let options = serde_json::to_value(&rcr).map_err(AppError::internal)?;
    let auth = serde_json::to_value(&auth).map_err(AppError::internal)?;
    new_ceremony(
        tx,
        tenant_id,
        binding_hash,
        "verify",
        Some(user_id),
        None,
        auth,
    )
    .await?;
    Ok(Done::unaudited(options))
}

/// Updates the counter and backup state of the passkey a sign-in used, and its factor's
/// last use.
async fn used(
    tx: &mut TenantTx,
    row: &PasskeyRow,
    mut key: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> AppResult<()> {
    if key.update_credential(result) == Some(true) {
        PasskeyRow::update_passkey(
            tx,
            row.factor_id,
            serde_json::to_value(&key).map_err(AppError::internal)?,
        )
        .await?;
    }
    PasskeyRow::touch_factor(tx, row.factor_id).await
}

/// Checks an assertion for the verification ceremony bound to `binding_hash` (the sign-in's
/// challenge): the factor used, or why not (the ceremony is spent either way).
pub(crate) async fn check_assertion(
    tx: &mut TenantTx,
    state: &SignIn,
    user_id: Uuid,
    binding_hash: &[u8],
    assertion_json: &str,
) -> AppResult<Result<Uuid, &'static str>> {
    let Some(ceremony) = PasskeyCeremonyRow::take(tx, binding_hash, "verify").await? else {
        return Ok(Err("no_ceremony"));
    };
    if ceremony.user_id != Some(user_id) {
        return Ok(Err("no_ceremony"));
    }
    let Ok(assertion) = serde_json::from_str::<PublicKeyCredential>(assertion_json) else {
        return Ok(Err("malformed"));
    };
    let auth: PasskeyAuthentication =
        serde_json::from_value(ceremony.state).map_err(AppError::internal)?;
    let rp = relying_party(state)?;
    let Ok(result) = rp.finish_passkey_authentication(&assertion, &auth) else {
        return Ok(Err("not_verified"));
    };
    let rows = PasskeyRow::of_user_for_update(tx, user_id).await?;
    let Some(row) = rows
        .iter()
        .find(|r| r.credential_id.as_slice() == result.cred_id().as_ref())
    else {
        return Ok(Err("unknown_credential"));
    };
    used(tx, row, stored(row)?, &result).await?;
    Ok(Ok(row.factor_id))
}

/// Starts a passwordless sign-in on the tenant's login page: options for a discoverable
/// credential (no allow list), bound to the browser's ceremony cookie.
pub async fn begin_passwordless(
    tx: &mut TenantTx,
    state: &SignIn,
    tenant_id: Uuid,
    binding_hash: Vec<u8>,
) -> AppResult<Done<serde_json::Value>> {
    let rp = relying_party(state)?;
    let (rcr, auth) = rp
        .start_discoverable_authentication()
        .map_err(AppError::internal)?;
    let mut options = serde_json::to_value(&rcr).map_err(AppError::internal)?;
    // The page asks when the person presses its button, not through autofill.
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    let auth = serde_json::to_value(&auth).map_err(AppError::internal)?;
    new_ceremony(
        tx,
        tenant_id,
        binding_hash,
        "passwordless",
        None,
        None,
        auth,
    )
    .await?;
    Ok(Done::unaudited(options))
}

/// A passwordless sign-in: the discoverable credential names the user, its signature (user
/// verified) proves them (`mfa.used`, method passkey; a session's `amr` is `hwk`). Refusals are
/// `mfa.failed` and count in the login limiter; nothing else changes. A proven user the tenant
/// may not let in now (tenant not active, email unverified, SSO enforced) gets that error,
/// and nothing is recorded as used.
pub async fn passwordless_sign_in(
    state: &SignIn,
    meta: &RequestMeta,
    tenant_id: Uuid,
    binding_hash: Vec<u8>,
    assertion_json: &str,
) -> AppResult<Authenticated> {
    let rp = relying_party(state)?;
    let assertion = serde_json::from_str::<PublicKeyCredential>(assertion_json).ok();
    let claimed = assertion
        .as_ref()
        .and_then(|a| rp.identify_discoverable_authentication(a).ok())
        .map(|(u, _)| u);
    if let Some(u) = claimed {
        state
            .login_limiter
            .check(&meta.ip, &limiter_account(tenant_id, u))?;
    }
    let committed = ops::in_tenant(&state.db, tenant_id, meta.audit(Actor::Anonymous), |tx| {
        async move {
            let refuse = |why: &'static str| Done {
                value: None,
                events: vec![failed(claimed, "passwordless", why)],
                effects: Vec::new(),
            };
            let Some(ceremony) =
                PasskeyCeremonyRow::take(tx, &binding_hash, "passwordless").await?
            else {
                return Ok(refuse("no_ceremony"));
            };
            let (Some(assertion), Some(user_id)) = (assertion.as_ref(), claimed) else {
                return Ok(refuse("malformed"));
            };
            let Some(user) = UserRow::find(tx, user_id).await?.filter(|u| u.is_active()) else {
                return Ok(refuse("unknown_user"));
            };
            let rows = PasskeyRow::of_user_for_update(tx, user_id).await?;
            let Some(row) = rows
                .iter()
                .find(|r| r.credential_id.as_slice() == assertion.get_credential_id())
            else {
                return Ok(refuse("unknown_credential"));
            };
            let key = stored(row)?;
            let auth: DiscoverableAuthentication =
                serde_json::from_value(ceremony.state).map_err(AppError::internal)?;
            let Ok(result) = rp.finish_discoverable_authentication(
                assertion,
                auth,
                &[DiscoverableKey::from(&key)],
            ) else {
                return Ok(refuse("not_verified"));
            };
            // Proven: may this user sign in now? A refusal here rolls everything back (the
            // ceremony stays, no use is recorded) and says why.
            let tenant = TenantRow::current(tx, tenant_id).await?;
            if !tenant.is_active() {
                return Err(AppError::tenant_inactive());
            }
            if tenant.require_verified_email && user.email_verified_at.is_none() {
                return Err(AppError::unauthenticated(
                    "confirm your email address first: follow the link in the verification mail",
                )
                .with_reason(Reason::EmailUnverified));
            }
            ops::identity_providers::ensure_not_sso_only(tx, &user).await?;
            used(tx, row, key, &result).await?;
            Ok(Done::audited(
                Some(Authenticated { user, tenant }),
                AuditEvent::new(Action::MfaUsed)
                    .target("user", user_id)
                    .by(Actor::User(user_id))
                    .details(json!({ "method": "passkey", "during": "passwordless" })),
            ))
        }
        .scope_boxed()
    })
    .await?;
    let Some(signed_in) = committed.value else {
        if let Some(u) = claimed {
            state
                .login_limiter
                .failed(&meta.ip, &limiter_account(tenant_id, u));
        }
        return Err(refused());
    };
    state
        .login_limiter
        .succeeded(&meta.ip, &limiter_account(tenant_id, signed_in.user.id));
    Ok(signed_in)
}

/// Turns a registration's outcome into the answer, counting a refusal in the login limiter.
pub fn settle<T>(
    state: &SignIn,
    meta: &RequestMeta,
    tenant_id: Uuid,
    user_id: Uuid,
    checked: Checked<T>,
) -> AppResult<T> {
    ops::mfa::settle_as(state, meta, tenant_id, user_id, checked, refused)
}

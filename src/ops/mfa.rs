//! Second factors as operations: TOTP enrolment and its confirmation, recovery codes, removing
//! a factor, an admin's reset of a user's factors, the tenant's `requireMfa` policy, and the
//! second step of a sign-in ([`challenge`] when a password sign-in needs a second factor,
//! [`complete_login`] when it comes).
//!
//! A wrong code is not an error of the operation: it returns [`Checked::Refused`] with the
//! failure recorded (`mfa.failed`, and the challenge's failure count), so the record commits
//! while nothing else changes; the caller turns it into UNAUTHENTICATED and counts it in the
//! login limiter (account `mfa/<tenant>/<user>`, the rules of password guesses).

use chrono::{Duration as ChronoDuration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::ops::sign_in::SignIn;
use crate::{
    auth::{jwt::IssuedToken, opaque},
    db::{
        ScopedFutureExt, TenantTx,
        audit::{Actor, AuditEvent},
        models::{MfaChallengeRow, MfaFactorRow, MfaPolicy, RecoveryCodes, TenantRow, UserRow},
    },
    domain::{Action, RequireMfa},
    error::{AppError, AppResult, Reason},
    mfa::{self, recovery, totp},
    ops::{
        self, Acting, Done, rules,
        sessions::{self, AuthMethod, SessionStart},
    },
    request::RequestMeta,
};

/// What a sign-in still needs after the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    NotNeeded,
    /// The user has a confirmed factor: it must be used.
    Verify,
    /// The tenant requires one and the user has none: enrolment first.
    Enrol,
}

/// A proof of the second factor.
#[derive(Debug, Clone)]
pub enum Proof {
    /// A code of the user's authenticator app.
    Code(String),
    /// One of the user's recovery codes.
    RecoveryCode(String),
    /// A passkey, for the ceremony started for this challenge: on a sign-in, an assertion (the
    /// JSON of `navigator.credentials.get`, `ops::passkeys::begin_verification`); on an
    /// enrolment challenge, the new passkey's credential (of `navigator.credentials.create`,
    /// `ops::passkeys::begin_registration`).
    Passkey(String),
}

/// The outcome of checking a proof: accepted (with what the operation made), or refused
/// (recorded, nothing else changed).
pub enum Checked<T> {
    Accepted(T),
    Refused,
}

/// An authenticator being enrolled: what the user's app needs.
pub struct TotpEnrolment {
    pub factor_id: Uuid,
    pub secret_base32: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// A confirmed authenticator, and the recovery codes made with it (when the user had none).
pub struct Confirmed {
    pub factor: MfaFactorRow,
    pub recovery_codes: Option<Vec<String>>,
}

/// A sign-in waiting for its second factor.
pub struct Challenge {
    pub token: String,
    pub expires_in: i64,
    pub enrolment_required: bool,
}

/// A sign-in completed with its second factor.
pub struct CompletedLogin {
    pub access: IssuedToken,
    pub refresh_token: String,
    pub user: UserRow,
    pub tenant: TenantRow,
    /// New recovery codes, when this sign-in enrolled the user's first factor.
    pub recovery_codes: Option<Vec<String>>,
}

/// The login limiter's account for second-factor attempts of a user.
pub fn limiter_account(tenant_id: Uuid, user_id: Uuid) -> String {
    format!("mfa/{tenant_id}/{user_id}")
}

fn code_refused() -> AppError {
    AppError::unauthenticated("wrong, expired or already used code")
        .with_reason(Reason::MfaCodeInvalid)
}

fn challenge_invalid() -> AppError {
    AppError::unauthenticated("invalid or expired sign-in challenge; log in again")
        .with_reason(Reason::MfaChallengeInvalid)
}

/// The tenant's policy.
pub async fn policy(tx: &mut TenantTx) -> AppResult<RequireMfa> {
    MfaPolicy::get(tx).await
}

/// Whether the policy requires a second factor of this user.
pub async fn required_of(tx: &mut TenantTx, user_id: Uuid) -> AppResult<bool> {
    let policy = MfaPolicy::get(tx).await?;
    Ok(match policy {
        RequireMfa::Off => false,
        RequireMfa::Everyone => true,
        RequireMfa::AdminsAndOwners => MfaPolicy::is_admin_or_owner(tx, user_id).await?,
    })
}

/// What a sign-in of this user needs after the password.
pub async fn requirement(tx: &mut TenantTx, user_id: Uuid) -> AppResult<SecondFactor> {
    let factors = MfaFactorRow::of_user(tx, user_id).await?;
    if factors.iter().any(|f| f.confirmed_at.is_some()) {
        return Ok(SecondFactor::Verify);
    }
    Ok(match required_of(tx, user_id).await? {
        true => SecondFactor::Enrol,
        false => SecondFactor::NotNeeded,
    })
}

/// Leaves a sign-in open for its second factor: a short-lived single-use challenge token
/// (`mfa.challenge_issued`).
pub async fn challenge(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    user_id: Uuid,
    need: SecondFactor,
    methods: &[AuthMethod],
) -> AppResult<Done<Challenge>> {
    let (token, hash) = opaque::generate(tenant_id);
    let now = Utc::now();
    let purpose = if need == SecondFactor::Enrol {
        "enrol"
    } else {
        "verify"
    };
    let amr = methods
        .iter()
        .map(|m| m.amr())
        .collect::<Vec<_>>()
        .join(" ");
    MfaChallengeRow::insert(
        tx,
        &MfaChallengeRow {
            tenant_id,
            token_hash: hash,
            user_id,
            purpose: purpose.to_owned(),
            amr: amr.clone(),
            created_at: now,
            expires_at: now + ChronoDuration::seconds(mfa::CHALLENGE_TTL_SECS),
            used_at: None,
            failures: 0,
        },
    )
    .await?;
    Ok(Done::audited(
        Challenge {
            token,
            expires_in: mfa::CHALLENGE_TTL_SECS,
            enrolment_required: need == SecondFactor::Enrol,
        },
        AuditEvent::new(Action::MfaChallengeIssued)
            .target("user", user_id)
            .by(Actor::User(user_id))
            .details(json!({ "purpose": purpose, "amr": amr })),
    ))
}

/// The user of an enrolment challenge (a sign-in the policy holds until a factor is enrolled).
pub async fn enrolment_challenge_user(tx: &mut TenantTx, challenge_token: &str) -> AppResult<Uuid> {
    let hash = opaque::hash(challenge_token);
    match MfaChallengeRow::usable_for_update(tx, &hash, mfa::CHALLENGE_MAX_FAILURES).await? {
        Some(c) if c.purpose == "enrol" => Ok(c.user_id),
        _ => Err(challenge_invalid()),
    }
}

/// Starts enrolling a TOTP authenticator: a new secret, sealed and bound to its row; it
/// protects nothing until [`confirm_totp`] sees a first code. An enrolment not confirmed yet
/// is replaced; a confirmed authenticator must be removed first.
pub async fn begin_totp(
    tx: &mut TenantTx,
    state: &SignIn,
    tenant_id: Uuid,
    user_id: Uuid,
) -> AppResult<Done<TotpEnrolment>> {
    let user = UserRow::get(tx, user_id).await?;
    let tenant = TenantRow::current(tx, tenant_id).await?;
    if let Some(existing) = MfaFactorRow::totp_for_update(tx, user_id).await? {
        if existing.confirmed_at.is_some() {
            return Err(AppError::conflict(
                "an authenticator app is enrolled already; remove it first",
            )
            .with_reason(Reason::MfaAlreadyEnrolled));
        }
        MfaFactorRow::delete(tx, user_id, existing.id).await?;
    }
    let secret = totp::new_secret();
    let id = Uuid::now_v7();
    let sealed = state
        .secrets
        .seal(
            tenant_id,
            &MfaFactorRow::secret_name(id),
            &hex::encode(&secret),
        )
        .map_err(AppError::internal)?;
    MfaFactorRow::insert(
        tx,
        &MfaFactorRow {
            tenant_id,
            id,
            user_id,
            kind: "totp".to_owned(),
            label: "Authenticator app".to_owned(),
            secret_ciphertext: sealed,
            created_at: Utc::now(),
            confirmed_at: None,
            last_used_step: None,
            last_used_at: None,
        },
    )
    .await?;
    let uri = totp::otpauth_uri(&secret, &tenant.name, &user.email)?;
    let qr_svg = totp::qr_svg(&uri)?;
    Ok(Done::audited(
        TotpEnrolment {
            factor_id: id,
            secret_base32: totp::secret_base32(&secret),
            otpauth_uri: uri,
            qr_svg,
        },
        AuditEvent::new(Action::MfaEnrolmentStarted)
            .target("user", user_id)
            .by(Actor::User(user_id))
            .details(json!({ "factor_id": id, "kind": "totp" })),
    ))
}

/// Checks a code against the user's authenticator (a confirmed one, or with `enrolling` the
/// one being enrolled) and records the step it used; or uses up a recovery code. Returns the
/// kind of proof accepted.
async fn check_proof(
    tx: &mut TenantTx,
    state: &SignIn,
    tenant_id: Uuid,
    user_id: Uuid,
    proof: &Proof,
    enrolling: bool,
    challenge_hash: Option<&[u8]>,
) -> AppResult<Option<(&'static str, Option<Uuid>)>> {
    match proof {
        // On a sign-in, the assertion of one of the user's passkeys; on an enrolment challenge,
        // the credential of the passkey it registers (the hosted step's "Set up a passkey", or
        // the API's beginPasskeyRegistration(challenge) then completeMfaLogin(passkey)).
        Proof::Passkey(json) => match challenge_hash {
            Some(hash) if enrolling => {
                let registered =
                    ops::passkeys::register(tx, state, tenant_id, user_id, hash, json).await?;
                Ok(registered.ok().map(|id| ("passkey", Some(id))))
            }
            Some(hash) => {
                let checked =
                    ops::passkeys::check_assertion(tx, state, user_id, hash, json).await?;
                Ok(checked.ok().map(|id| ("passkey", Some(id))))
            }
            None => Ok(None),
        },
        Proof::Code(code) => {
            let Some(factor) = MfaFactorRow::totp_for_update(tx, user_id).await? else {
                return Ok(None);
            };
            if factor.confirmed_at.is_some() == enrolling {
                return Ok(None);
            }
            let secret = state
                .secrets
                .open(
                    tenant_id,
                    &MfaFactorRow::secret_name(factor.id),
                    &factor.secret_ciphertext,
                )
                .map_err(AppError::internal)
                .and_then(|h| hex::decode(h).map_err(AppError::internal))?;
            let now = Utc::now().timestamp().max(0) as u64;
            let last = factor.last_used_step.map(|s| s.max(0) as u64);
            match totp::accept(&secret, code, now, last) {
                Some(step) => {
                    MfaFactorRow::mark_used(tx, factor.id, step as i64).await?;
                    Ok(Some(("totp", Some(factor.id))))
                }
                None => Ok(None),
            }
        }
        Proof::RecoveryCode(code) if !enrolling => {
            let used = RecoveryCodes::consume(tx, user_id, &recovery::hash(user_id, code)).await?;
            Ok(used.then_some(("recovery_code", None)))
        }
        Proof::RecoveryCode(_) => Ok(None),
    }
}

fn failed_event(user_id: Uuid, method: &Proof, during: &str) -> AuditEvent {
    let method = match method {
        Proof::Code(_) => "totp",
        Proof::RecoveryCode(_) => "recovery_code",
        Proof::Passkey(_) => "passkey",
    };
    AuditEvent::new(Action::MfaFailed)
        .target("user", user_id)
        .by(Actor::User(user_id))
        .details(json!({ "method": method, "during": during }))
}

/// A new set of recovery codes for the user (the old set stops working), hashed in the
/// database; the codes themselves are returned once.
async fn new_recovery_codes(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    user_id: Uuid,
) -> AppResult<(Vec<String>, AuditEvent)> {
    let codes = recovery::generate();
    let hashes = codes.iter().map(|c| recovery::hash(user_id, c)).collect();
    RecoveryCodes::replace(tx, tenant_id, user_id, hashes).await?;
    let event = AuditEvent::new(Action::MfaRecoveryCodesGenerated)
        .target("user", user_id)
        .by(Actor::User(user_id))
        .details(json!({ "count": codes.len() }));
    Ok((codes, event))
}

/// Confirms the authenticator being enrolled with a first code (`mfa.enrolled`); the user's
/// first factor comes with a set of recovery codes.
pub async fn confirm_totp(
    tx: &mut TenantTx,
    state: &SignIn,
    tenant_id: Uuid,
    user_id: Uuid,
    code: &str,
) -> AppResult<Done<Checked<Confirmed>>> {
    match MfaFactorRow::totp_for_update(tx, user_id).await? {
        None => {
            return Err(
                AppError::conflict("start an enrolment with beginTotpEnrolment first")
                    .with_reason(Reason::MfaNotEnrolled),
            );
        }
        Some(f) if f.confirmed_at.is_some() => {
            return Err(
                AppError::conflict("this authenticator app is confirmed already")
                    .with_reason(Reason::MfaAlreadyEnrolled),
            );
        }
        Some(_) => {}
    }
    let proof = Proof::Code(code.to_owned());
    let Some((_, Some(factor_id))) =
        check_proof(tx, state, tenant_id, user_id, &proof, true, None).await?
    else {
        return Ok(Done {
            value: Checked::Refused,
            events: vec![failed_event(user_id, &proof, "enrolment")],
            effects: Vec::new(),
        });
    };
    let (codes, events) = enrolled(tx, tenant_id, user_id, factor_id, "totp").await?;
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

/// The records of a confirmed enrolment (a factor of `kind`), and recovery codes when the
/// user has none left.
pub(crate) async fn enrolled(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    user_id: Uuid,
    factor_id: Uuid,
    kind: &str,
) -> AppResult<(Option<Vec<String>>, Vec<AuditEvent>)> {
    let mut events = vec![
        AuditEvent::new(Action::MfaEnrolled)
            .target("user", user_id)
            .by(Actor::User(user_id))
            .details(json!({ "factor_id": factor_id, "kind": kind })),
    ];
    let codes = if RecoveryCodes::remaining(tx, user_id).await? == 0 {
        let (codes, event) = new_recovery_codes(tx, tenant_id, user_id).await?;
        events.push(event);
        Some(codes)
    } else {
        None
    };
    Ok((codes, events))
}

/// A new set of recovery codes; the old set stops working. Needs a confirmed factor.
pub async fn regenerate_recovery_codes(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    user_id: Uuid,
) -> AppResult<Done<Vec<String>>> {
    let factors = MfaFactorRow::of_user(tx, user_id).await?;
    if !factors.iter().any(|f| f.confirmed_at.is_some()) {
        return Err(AppError::conflict(
            "recovery codes come with a second factor: enrol an authenticator app first",
        )
        .with_reason(Reason::MfaNotEnrolled));
    }
    let (codes, event) = new_recovery_codes(tx, tenant_id, user_id).await?;
    Ok(Done::audited(codes, event))
}

/// Removes one of the user's own factors. The last confirmed one cannot go while the policy
/// requires a second factor of the user; with it go the recovery codes.
pub async fn remove_factor(
    tx: &mut TenantTx,
    user_id: Uuid,
    factor_id: Uuid,
) -> AppResult<Done<bool>> {
    let factors = MfaFactorRow::of_user(tx, user_id).await?;
    let factor = factors
        .iter()
        .find(|f| f.id == factor_id)
        .ok_or_else(|| AppError::not_found("factor"))?;
    let others = factors
        .iter()
        .filter(|f| f.id != factor_id && f.confirmed_at.is_some())
        .count();
    if factor.confirmed_at.is_some() && others == 0 && required_of(tx, user_id).await? {
        return Err(AppError::forbidden(
            "your tenant requires a second factor: enrol another one before removing this one",
        )
        .with_reason(Reason::MfaRequiredByPolicy));
    }
    MfaFactorRow::delete(tx, user_id, factor_id).await?;
    if others == 0 {
        RecoveryCodes::delete_all(tx, user_id).await?;
    }
    Ok(Done::audited(
        true,
        AuditEvent::new(Action::MfaFactorRemoved)
            .target("user", user_id)
            .details(json!({ "factor_id": factor_id, "kind": factor.kind })),
    ))
}

/// An admin removes every factor, recovery code and pending sign-in challenge of a user who
/// lost them (`mfa.reset`). Under a policy that requires a factor, the user enrols again at
/// the next sign-in.
pub async fn reset_user(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    user_id: Uuid,
) -> AppResult<Done<bool>> {
    UserRow::get(tx, user_id).await?;
    rules::ensure_can_manage(tx, acting.actor, acting.permissions, user_id).await?;
    let removed = MfaFactorRow::delete_all_of_user(tx, user_id).await?;
    crate::db::models::PasskeyCeremonyRow::delete_of_user(tx, user_id).await?;
    Ok(Done::audited(
        true,
        AuditEvent::new(Action::MfaReset)
            .target("user", user_id)
            .details(json!({ "factors_removed": removed })),
    ))
}

/// Sets the tenant's `requireMfa` (`mfa.policy_set`).
pub async fn set_policy(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    policy: RequireMfa,
) -> AppResult<Done<RequireMfa>> {
    let before = MfaPolicy::get(tx).await?;
    MfaPolicy::set(tx, tenant_id, policy).await?;
    Ok(Done::audited(
        policy,
        AuditEvent::new(Action::MfaPolicySet)
            .target("tenant", tenant_id)
            .details(json!({ "from": before.as_str(), "to": policy.as_str() })),
    ))
}

/// The methods of a challenge's or session's space-separated `amr`, in order.
pub fn methods_of(amr: &str) -> Vec<AuthMethod> {
    amr.split_whitespace()
        .filter_map(|a| match a {
            "pwd" => Some(AuthMethod::Password),
            "fed" => Some(AuthMethod::Federated),
            "hwk" => Some(AuthMethod::HardwareKey),
            "otp" => Some(AuthMethod::OneTimeCode),
            _ => None,
        })
        .collect()
}

/// A sign-in held for its second factor, as the hosted page shows it.
pub struct Pending {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// The tenant requires a factor and the user has none: the page enrols one first.
    pub enrolling: bool,
}

/// The challenge behind `challenge_token`, if it can still be completed.
pub async fn pending(state: &SignIn, challenge_token: &str) -> AppResult<Option<Pending>> {
    let Some(tenant_id) = opaque::tenant_of(challenge_token) else {
        return Ok(None);
    };
    let hash = opaque::hash(challenge_token);
    state
        .db
        .tenant_tx(tenant_id, move |tx| {
            async move {
                let found =
                    MfaChallengeRow::usable_for_update(tx, &hash, mfa::CHALLENGE_MAX_FAILURES)
                        .await?;
                Ok(found.map(|c| Pending {
                    tenant_id,
                    user_id: c.user_id,
                    enrolling: c.purpose == "enrol",
                }))
            }
            .scope_boxed()
        })
        .await
}

/// Step-up: a signed-in user asked for a fresh second factor (a product's `acr_values`). A
/// challenge like a password sign-in's, carrying the session's methods so far; a user without
/// a factor enrols one.
pub async fn step_up(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    user_id: Uuid,
    session_amr: &[String],
) -> AppResult<Done<Challenge>> {
    let need = match requirement(tx, user_id).await? {
        SecondFactor::Verify => SecondFactor::Verify,
        _ => SecondFactor::Enrol,
    };
    let methods: Vec<AuthMethod> = methods_of(&session_amr.join(" "))
        .into_iter()
        .filter(|m| !matches!(m, AuthMethod::OneTimeCode | AuthMethod::HardwareKey))
        .collect();
    challenge(tx, tenant_id, user_id, need, &methods).await
}

/// The authenticator being enrolled for an enrolment challenge: the one already begun (so a
/// reloaded page, or a wrong first code, shows the same secret), else a new one.
pub async fn enrolment_in_progress(
    tx: &mut TenantTx,
    state: &SignIn,
    tenant_id: Uuid,
    user_id: Uuid,
) -> AppResult<Done<TotpEnrolment>> {
    match MfaFactorRow::totp_for_update(tx, user_id).await? {
        Some(f) if f.confirmed_at.is_none() => {
            let secret = state
                .secrets
                .open(
                    tenant_id,
                    &MfaFactorRow::secret_name(f.id),
                    &f.secret_ciphertext,
                )
                .map_err(AppError::internal)
                .and_then(|h| hex::decode(h).map_err(AppError::internal))?;
            let user = UserRow::get(tx, user_id).await?;
            let tenant = TenantRow::current(tx, tenant_id).await?;
            let uri = totp::otpauth_uri(&secret, &tenant.name, &user.email)?;
            let qr_svg = totp::qr_svg(&uri)?;
            Ok(Done::unaudited(TotpEnrolment {
                factor_id: f.id,
                secret_base32: totp::secret_base32(&secret),
                otpauth_uri: uri,
                qr_svg,
            }))
        }
        _ => begin_totp(tx, state, tenant_id, user_id).await,
    }
}

/// A second factor proven for a challenge.
pub struct Proven {
    pub user: UserRow,
    pub tenant: TenantRow,
    /// The challenge's methods and the factor's (`pwd otp`).
    pub methods: Vec<AuthMethod>,
    /// New recovery codes, when this enrolled the user's first factor.
    pub recovery_codes: Option<Vec<String>>,
}

/// Completes a sign-in held for its second factor: the challenge from `login`, and a code or
/// a recovery code (an enrolment challenge: the first code of the authenticator being
/// enrolled). Opens the session with the password's and the code's methods (`amr` `pwd otp`).
pub async fn complete_login(
    state: &SignIn,
    meta: &RequestMeta,
    challenge_token: &str,
    proof: Proof,
) -> AppResult<CompletedLogin> {
    let (proven, session) = prove(state, meta, challenge_token, proof, Open::Api).await?;
    let (session_id, refresh_token) = session.ok_or_else(challenge_invalid)?;
    let amr = proven
        .methods
        .iter()
        .map(|m| m.amr())
        .collect::<Vec<_>>()
        .join(" ");
    let access =
        state
            .tokens
            .issue_member_with_amr(proven.tenant.id, proven.user.id, session_id, &amr)?;
    Ok(CompletedLogin {
        access,
        refresh_token,
        user: proven.user,
        tenant: proven.tenant,
        recovery_codes: proven.recovery_codes,
    })
}

/// The hosted pages' second step: the same checks, limiter and records as [`complete_login`];
/// the browser session (whose cookie value hashes to `browser_token_hash`) is opened in the
/// transaction that accepts the proof, so a proof is never spent without its session, nor a
/// session opened on a proof that did not commit.
pub async fn complete_browser_sign_in(
    state: &SignIn,
    meta: &RequestMeta,
    challenge_token: &str,
    proof: Proof,
    browser_token_hash: Vec<u8>,
) -> AppResult<Proven> {
    Ok(prove(
        state,
        meta,
        challenge_token,
        proof,
        Open::Browser(browser_token_hash),
    )
    .await?
    .0)
}

type OpenedApiSession = Option<(Uuid, String)>;

/// The session a proven second factor opens.
enum Open {
    /// An API session (tokens).
    Api,
    /// A browser session with this cookie hash.
    Browser(Vec<u8>),
}

async fn prove(
    state: &SignIn,
    meta: &RequestMeta,
    challenge_token: &str,
    proof: Proof,
    open: Open,
) -> AppResult<(Proven, OpenedApiSession)> {
    let tenant_id = opaque::tenant_of(challenge_token).ok_or_else(challenge_invalid)?;
    let hash = opaque::hash(challenge_token);
    // A refused passkey says so (passkey_invalid); a refused code, mfa_code_invalid.
    let refusal: fn() -> AppError = match proof {
        Proof::Passkey(_) => ops::passkeys::refused,
        _ => code_refused,
    };
    enum Outcome {
        Accepted {
            session: OpenedApiSession,
            methods: Vec<AuthMethod>,
            user: Box<UserRow>,
            codes: Option<Vec<String>>,
        },
        Refused,
    }
    let committed = ops::in_tenant(&state.db, tenant_id, meta.audit(Actor::Anonymous), |tx| {
        async move {
            let challenge =
                MfaChallengeRow::usable_for_update(tx, &hash, mfa::CHALLENGE_MAX_FAILURES)
                    .await?
                    .ok_or_else(challenge_invalid)?;
            let user_id = challenge.user_id;
            state
                .login_limiter
                .check(&meta.ip, &limiter_account(tenant_id, user_id))?;
            let user = UserRow::get(tx, user_id).await?;
            if !user.is_active() {
                return Err(challenge_invalid());
            }
            let enrolling = challenge.purpose == "enrol";
            let during = if enrolling { "enrolment" } else { "login" };
            let Some((method, factor_id)) = check_proof(
                tx,
                state,
                tenant_id,
                user_id,
                &proof,
                enrolling,
                Some(hash.as_slice()),
            )
            .await?
            else {
                MfaChallengeRow::count_failure(tx, &hash).await?;
                return Ok(Done {
                    value: (Outcome::Refused, user_id),
                    events: vec![failed_event(user_id, &proof, during)],
                    effects: Vec::new(),
                });
            };
            MfaChallengeRow::mark_used(tx, &hash).await?;
            let mut events = Vec::new();
            let mut codes = None;
            if let (true, Some(factor_id)) = (enrolling, factor_id) {
                let (c, e) = enrolled(tx, tenant_id, user_id, factor_id, method).await?;
                codes = c;
                events.extend(e);
            } else {
                events.push(
                    AuditEvent::new(Action::MfaUsed)
                        .target("user", user_id)
                        .by(Actor::User(user_id))
                        .details(json!({ "method": method })),
                );
            }
            let mut methods = methods_of(&challenge.amr);
            methods.push(if method == "passkey" {
                AuthMethod::HardwareKey
            } else {
                AuthMethod::OneTimeCode
            });
            let browser_token_hash = match &open {
                Open::Api => None,
                Open::Browser(hash) => Some(hash.clone()),
            };
            let opened = sessions::open(
                tx,
                state,
                meta,
                SessionStart {
                    tenant_id,
                    user_id,
                    methods: methods.clone(),
                    browser_token_hash,
                },
            )
            .await?;
            events.extend(
                opened
                    .events
                    .into_iter()
                    .map(|e| e.by(Actor::User(user_id))),
            );
            let effects = opened.effects;
            let session = Some((opened.value.session_id, opened.value.refresh_token));
            Ok(Done {
                value: (
                    Outcome::Accepted {
                        session,
                        methods,
                        user: Box::new(user),
                        codes,
                    },
                    user_id,
                ),
                events,
                effects,
            })
        }
        .scope_boxed()
    })
    .await?;
    let (outcome, user_id) = committed.value;
    let account = limiter_account(tenant_id, user_id);
    match outcome {
        Outcome::Refused => {
            state.login_limiter.failed(&meta.ip, &account);
            Err(refusal())
        }
        Outcome::Accepted {
            session,
            methods,
            user,
            codes,
        } => {
            state.login_limiter.succeeded(&meta.ip, &account);
            let tenant = state
                .db
                .tenant_tx(tenant_id, |tx| {
                    TenantRow::current(tx, tenant_id).scope_boxed()
                })
                .await?;
            Ok((
                Proven {
                    user: *user,
                    tenant,
                    methods,
                    recovery_codes: codes,
                },
                session,
            ))
        }
    }
}

/// Refuses a wrong code of a signed-in user (confirming an enrolment) in the limiter, and
/// turns the outcome into the answer.
pub fn settle<T>(
    state: &SignIn,
    meta: &RequestMeta,
    tenant_id: Uuid,
    user_id: Uuid,
    checked: Checked<T>,
) -> AppResult<T> {
    settle_as(state, meta, tenant_id, user_id, checked, code_refused)
}

/// [`settle`] with the refusal a factor's kind answers (a wrong code, a passkey not accepted).
pub(crate) fn settle_as<T>(
    state: &SignIn,
    meta: &RequestMeta,
    tenant_id: Uuid,
    user_id: Uuid,
    checked: Checked<T>,
    refusal: fn() -> AppError,
) -> AppResult<T> {
    let account = limiter_account(tenant_id, user_id);
    match checked {
        Checked::Accepted(v) => {
            state.login_limiter.succeeded(&meta.ip, &account);
            Ok(v)
        }
        Checked::Refused => {
            state.login_limiter.failed(&meta.ip, &account);
            Err(refusal())
        }
    }
}

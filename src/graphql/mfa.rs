//! Multi-factor authentication in GraphQL: TOTP enrolment and confirmation, recovery codes,
//! removing a factor, an admin's reset, the tenant's `requireMfa`, and `completeMfaLogin`, the
//! second step of a `login` that answered `mfaRequired` (the operations are `ops::mfa`).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use uuid::Uuid;

use crate::{
    auth::opaque,
    db::ScopedFutureExt,
    domain::Permission,
    error::AppError,
    graphql::{
        auth::LoginPayload, context, ids, mfa_factor::MfaFactor, tenant::Tenant, user::User,
    },
    ops::{
        Acting,
        mfa::{self, Proof},
        passkeys,
    },
};

/// What an authenticator app needs: scan the QR code, or type the secret.
#[derive(SimpleObject)]
pub struct TotpEnrolmentPayload {
    pub factor_id: ID,
    /// The secret in base32 (RFC 4648), for typing it in.
    pub secret: String,
    /// `otpauth://totp/...`: SHA1, 6 digits, 30 s.
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_code_svg: String,
}

#[derive(SimpleObject)]
pub struct ConfirmTotpPayload {
    pub factor: MfaFactor,
    /// Shown once: ten single-use recovery codes, when this is the user's first factor.
    pub recovery_codes: Option<Vec<String>>,
}

#[derive(SimpleObject)]
pub struct RecoveryCodesPayload {
    /// Shown once: ten single-use codes; the previous set no longer works.
    pub recovery_codes: Vec<String>,
}

#[derive(InputObject)]
pub struct CompleteMfaLoginInput {
    /// `mfaChallenge.challenge` from login.
    pub challenge: String,
    /// A code of the authenticator app.
    pub code: Option<String>,
    /// Or one of the recovery codes.
    pub recovery_code: Option<String>,
    /// Or a passkey: the JSON (binary fields base64url) of `navigator.credentials.get` for
    /// the options of beginPasskeyLogin(challenge); on an enrolment challenge, of
    /// `navigator.credentials.create` for those of beginPasskeyRegistration(challenge).
    pub passkey: Option<String>,
}

/// A passkey registration in progress.
#[derive(SimpleObject)]
pub struct PasskeyRegistrationPayload {
    /// Single use, five minutes: give it to finishPasskeyRegistration (under an enrolment
    /// challenge it is that challenge: complete the login with completeMfaLogin(passkey)).
    pub ceremony: String,
    /// The options for `navigator.credentials.create` (JSON, binary fields base64url).
    pub options: String,
}

/// Whom a passkey registration is for, and the hash its ceremony is bound to.
enum Binding {
    /// The signed-in caller; a new ceremony token.
    Member(Uuid, Vec<u8>),
    /// The user of this enrolment challenge (from login), bound to the challenge itself.
    Challenge(String),
}

/// Who of a tenant must sign in with a second factor (the domain's `RequireMfa`).
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::RequireMfa")]
pub enum RequireMfa {
    /// Nobody (users may still enrol, and then always use their factor).
    Off,
    /// Holders of the tenant-wide owner or admin role.
    AdminsAndOwners,
    /// Every member.
    Everyone,
}

#[derive(Default)]
pub struct MfaQuery;

#[Object]
impl MfaQuery {
    /// Who of the tenant must sign in with a second factor.
    async fn mfa_policy(&self, ctx: &Context<'_>) -> Result<RequireMfa, AppError> {
        let scope = context::require(ctx, Permission::TenantRead).await?;
        Ok(scope.tx(|tx| mfa::policy(tx).scope_boxed()).await?.into())
    }
}

#[derive(Default)]
pub struct MfaMutation;

#[Object]
impl MfaMutation {
    /// Starts enrolling an authenticator app for the caller (or, anonymously, for the user of
    /// an enrolment `challenge` from login). Confirm it with confirmTotpEnrolment (or
    /// completeMfaLogin) and a first code. An unconfirmed enrolment is replaced; a confirmed
    /// authenticator must be removed first (CONFLICT, reason mfa_already_enrolled).
    async fn begin_totp_enrolment(
        &self,
        ctx: &Context<'_>,
        challenge: Option<String>,
    ) -> Result<TotpEnrolmentPayload, AppError> {
        let (scope, user_id) = match challenge {
            Some(token) => {
                let scope = context::by_token(ctx, &token, "invalid or expired sign-in challenge")?;
                // Locks the challenge row (FOR UPDATE): not on the read-only path.
                let user_id = scope
                    .run(move |tx| {
                        async move {
                            Ok(crate::ops::Done::unaudited(
                                mfa::enrolment_challenge_user(tx, &token).await?,
                            ))
                        }
                        .scope_boxed()
                    })
                    .await?;
                (scope, user_id)
            }
            None => {
                let scope = context::member(ctx)?;
                let user_id = scope.user_id().unwrap_or_default();
                (scope, user_id)
            }
        };
        let (state, tenant_id) = (&scope.services.sign_in, scope.tenant_id());
        let e = scope
            .run(|tx| mfa::begin_totp(tx, state, tenant_id, user_id).scope_boxed())
            .await?;
        Ok(TotpEnrolmentPayload {
            factor_id: ids::encode("MfaFactor", e.factor_id),
            secret: e.secret_base32,
            otpauth_uri: e.otpauth_uri,
            qr_code_svg: e.qr_svg,
        })
    }

    /// Confirms the caller's authenticator app with a code it shows. A wrong code:
    /// UNAUTHENTICATED (reason mfa_code_invalid), counted like a wrong password.
    async fn confirm_totp_enrolment(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<ConfirmTotpPayload, AppError> {
        let scope = context::member(ctx)?;
        let (state, tenant_id, user_id) = (
            &scope.services.sign_in,
            scope.tenant_id(),
            scope.user_id().unwrap_or_default(),
        );
        state
            .login_limiter
            .check(&scope.meta.ip, &mfa::limiter_account(tenant_id, user_id))?;
        let checked = scope
            .run(|tx| {
                async move { mfa::confirm_totp(tx, state, tenant_id, user_id, &code).await }
                    .scope_boxed()
            })
            .await?;
        let confirmed = mfa::settle(state, scope.meta, tenant_id, user_id, checked)?;
        Ok(ConfirmTotpPayload {
            factor: MfaFactor::from(confirmed.factor),
            recovery_codes: confirmed.recovery_codes,
        })
    }

    /// Completes a login that answered `mfaRequired`: the challenge and a code of the
    /// authenticator app, a recovery code or a passkey (on an enrolment challenge: the code of
    /// the authenticator or the passkey being enrolled). Wrong code: UNAUTHENTICATED (reason
    /// mfa_code_invalid; five failures spend the challenge); a passkey not accepted: reason
    /// passkey_invalid (its ceremony is spent: begin again); unknown, used or expired
    /// challenge: UNAUTHENTICATED (reason mfa_challenge_invalid).
    async fn complete_mfa_login(
        &self,
        ctx: &Context<'_>,
        input: CompleteMfaLoginInput,
    ) -> Result<LoginPayload, AppError> {
        let state = context::sign_in(ctx)?;
        let meta = &context::request(ctx)?.meta;
        let proof = match (input.code, input.recovery_code, input.passkey) {
            (Some(code), None, None) => Proof::Code(code),
            (None, Some(code), None) => Proof::RecoveryCode(code),
            (None, None, Some(json)) => Proof::Passkey(json),
            _ => {
                return Err(AppError::bad_input(
                    "code",
                    "give one of code, recoveryCode or passkey",
                ));
            }
        };
        let done = mfa::complete_login(state, meta, &input.challenge, proof).await?;
        Ok(LoginPayload {
            access_token: Some(done.access.token),
            refresh_token: Some(done.refresh_token),
            token_type: Some("Bearer".to_owned()),
            expires_in: Some(done.access.expires_in),
            user: Some(User::from(done.user)),
            tenant: Some(Tenant(done.tenant)),
            mfa_required: false,
            mfa_challenge: None,
            recovery_codes: done.recovery_codes,
        })
    }

    /// Starts registering a passkey named `label` for the caller (or, anonymously, for the user
    /// of an enrolment `challenge` from login): the options for `navigator.credentials.create`
    /// and the ceremony to finish it with (finishPasskeyRegistration; under a challenge,
    /// completeMfaLogin(passkey) registers it and completes the login). UNAVAILABLE setups:
    /// CONFLICT, reason passkeys_unavailable.
    async fn begin_passkey_registration(
        &self,
        ctx: &Context<'_>,
        label: Option<String>,
        challenge: Option<String>,
    ) -> Result<PasskeyRegistrationPayload, AppError> {
        let (scope, ceremony, binding) = match challenge {
            Some(token) => {
                let scope = context::by_token(ctx, &token, "invalid or expired sign-in challenge")?;
                (scope, token.clone(), Binding::Challenge(token))
            }
            None => {
                let scope = context::member(ctx)?;
                let user_id = scope.user_id().unwrap_or_default();
                let (ceremony, hash) = opaque::generate(scope.tenant_id());
                (scope, ceremony, Binding::Member(user_id, hash))
            }
        };
        let (state, tenant_id) = (&scope.services.sign_in, scope.tenant_id());
        let options = scope
            .run(|tx| {
                async move {
                    let (user_id, hash) = match binding {
                        Binding::Member(user_id, hash) => (user_id, hash),
                        // The challenge's user, its row locked (FOR UPDATE) until commit.
                        Binding::Challenge(token) => (
                            mfa::enrolment_challenge_user(tx, &token).await?,
                            opaque::hash(&token),
                        ),
                    };
                    passkeys::begin_registration(
                        tx,
                        state,
                        tenant_id,
                        user_id,
                        label.as_deref(),
                        hash,
                    )
                    .await
                }
                .scope_boxed()
            })
            .await?;
        Ok(PasskeyRegistrationPayload {
            ceremony,
            options: options.to_string(),
        })
    }

    /// Finishes a passkey registration with the browser's credential (the JSON of
    /// `navigator.credentials.create`, binary fields base64url). A credential that does not
    /// verify, or a spent, expired or unknown ceremony: UNAUTHENTICATED, reason
    /// passkey_invalid (nothing is registered).
    async fn finish_passkey_registration(
        &self,
        ctx: &Context<'_>,
        ceremony: String,
        credential: String,
    ) -> Result<ConfirmTotpPayload, AppError> {
        let scope = context::member(ctx)?;
        let (state, tenant_id, user_id) = (
            &scope.services.sign_in,
            scope.tenant_id(),
            scope.user_id().unwrap_or_default(),
        );
        state
            .login_limiter
            .check(&scope.meta.ip, &mfa::limiter_account(tenant_id, user_id))?;
        let hash = opaque::hash(&ceremony);
        let checked = scope
            .run(|tx| {
                async move {
                    passkeys::finish_registration(tx, state, tenant_id, user_id, &hash, &credential)
                        .await
                }
                .scope_boxed()
            })
            .await?;
        let confirmed = passkeys::settle(state, scope.meta, tenant_id, user_id, checked)?;
        Ok(ConfirmTotpPayload {
            factor: MfaFactor::from(confirmed.factor),
            recovery_codes: confirmed.recovery_codes,
        })
    }

    /// The options for `navigator.credentials.get` to complete a login that answered
    /// `mfaRequired` with a passkey: pass the assertion to completeMfaLogin(passkey).
    async fn begin_passkey_login(
        &self,
        ctx: &Context<'_>,
        challenge: String,
    ) -> Result<String, AppError> {
        let state = context::sign_in(ctx)?;
        let tenant_id = opaque::tenant_of(&challenge).ok_or_else(passkeys::refused)?;
        let pending = mfa::pending(state, &challenge)
            .await?
            .filter(|p| !p.enrolling)
            .ok_or_else(|| {
                AppError::unauthenticated("invalid or expired sign-in challenge; log in again")
                    .with_reason(crate::error::Reason::MfaChallengeInvalid)
            })?;
        let hash = opaque::hash(&challenge);
        let user_id = pending.user_id;
        let meta = &context::request(ctx)?.meta;
        let done = crate::ops::in_tenant(
            &state.db,
            tenant_id,
            meta.audit(crate::db::audit::Actor::User(user_id)),
            move |tx| {
                async move {
                    passkeys::begin_verification(tx, state, tenant_id, user_id, hash).await
                }
                .scope_boxed()
            },
        )
        .await?;
        Ok(done.value.to_string())
    }

    /// A new set of ten recovery codes for the caller; the previous set stops working.
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
    ) -> Result<RecoveryCodesPayload, AppError> {
        let scope = context::member(ctx)?;
        let (tenant_id, user_id) = (scope.tenant_id(), scope.user_id().unwrap_or_default());
        let codes = scope
            .run(|tx| mfa::regenerate_recovery_codes(tx, tenant_id, user_id).scope_boxed())
            .await?;
        Ok(RecoveryCodesPayload {
            recovery_codes: codes,
        })
    }

    /// Removes one of the caller's factors. The last one cannot go while the tenant requires
    /// a second factor of the caller (FORBIDDEN, reason mfa_required_by_policy).
    async fn remove_mfa_factor(&self, ctx: &Context<'_>, id: ID) -> Result<bool, AppError> {
        let scope = context::member(ctx)?;
        let id = ids::decode("MfaFactor", "id", &id)?;
        let user_id = scope.user_id().unwrap_or_default();
        scope
            .run(|tx| mfa::remove_factor(tx, user_id, id).scope_boxed())
            .await
    }

    /// Removes every second factor and recovery code of a user who lost them (users:write).
    async fn reset_user_mfa(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool, AppError> {
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let user_id = ids::decode("User", "userId", &user_id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        scope
            .run(|tx| mfa::reset_user(tx, acting, user_id).scope_boxed())
            .await
    }

    /// Sets who of the tenant must sign in with a second factor (tenant:manage).
    async fn set_mfa_policy(
        &self,
        ctx: &Context<'_>,
        require_mfa: RequireMfa,
    ) -> Result<RequireMfa, AppError> {
        let scope = context::require(ctx, Permission::TenantManage).await?;
        let tenant_id = scope.tenant_id();
        let set = scope
            .run(|tx| mfa::set_policy(tx, tenant_id, require_mfa.into()).scope_boxed())
            .await?;
        Ok(set.into())
    }
}

//! Authentication mutations: login, refreshSession, logout, adminLogin (the second step of a
//! login held for a second factor, completeMfaLogin, is in `graphql::mfa`).

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::{
    error::AppError,
    graphql::{context, ids, tenant::Tenant, user::User},
    ops::{admin_sessions, login, mfa, sessions},
};

/// A sign-in waiting for its second factor.
#[derive(SimpleObject)]
pub struct MfaChallenge {
    /// Single use, for completeMfaLogin (and, when enrolment is required, beginTotpEnrolment).
    pub challenge: String,
    /// Seconds the challenge stays valid.
    pub expires_in: i64,
    /// The tenant requires a second factor and the user has none: enrol one with
    /// beginTotpEnrolment(challenge), then confirm it with completeMfaLogin and its first code.
    pub enrolment_required: bool,
}

impl From<mfa::Challenge> for MfaChallenge {
    fn from(c: mfa::Challenge) -> Self {
        MfaChallenge {
            challenge: c.token,
            expires_in: c.expires_in,
            enrolment_required: c.enrolment_required,
        }
    }
}

#[derive(InputObject)]
pub struct LoginInput {
    /// The tenant's domain, slug or id.
    pub tenant: String,
    pub email: String,
    pub password: String,
}

/// A sign-in: its tokens, or, when `mfaRequired`, a challenge for completeMfaLogin (the token
/// fields, `user` and `tenant` are then null).
#[derive(SimpleObject)]
pub struct LoginPayload {
    /// A JWT for `Authorization: Bearer`; verify it against /.well-known/jwks.json.
    pub access_token: Option<String>,
    /// Opaque and single use: exchange it with refreshSession.
    pub refresh_token: Option<String>,
    /// Always `Bearer`.
    pub token_type: Option<String>,
    /// Seconds until the access token expires.
    pub expires_in: Option<i64>,
    pub user: Option<User>,
    pub tenant: Option<Tenant>,
    /// A second factor is due: complete the sign-in with completeMfaLogin.
    pub mfa_required: bool,
    pub mfa_challenge: Option<MfaChallenge>,
    /// Shown once: recovery codes made when this sign-in enrolled the user's first factor.
    pub recovery_codes: Option<Vec<String>>,
}

#[derive(SimpleObject)]
pub struct RefreshPayload {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

#[derive(SimpleObject)]
pub struct AdminLoginPayload {
    pub access_token: String,
    pub expires_in: i64,
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Wrong tenant, email or password: UNAUTHENTICATED, the same message either way.
    /// A tenant that is not active: TENANT_INACTIVE. Too many failures: RATE_LIMITED.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<LoginPayload, AppError> {
        let state = context::sign_in(ctx)?;
        let meta = &context::request(ctx)?.meta;
        let tenant_key = match ids::decode_any(&input.tenant) {
            Some((kind, id)) if kind == "Tenant" => id.to_string(),
            _ => input.tenant,
        };
        let out =
            match login::login(state, meta, &tenant_key, &input.email, &input.password).await? {
                login::LoginStep::Session(out) => out,
                login::LoginStep::MfaRequired(pending) => {
                    return Ok(LoginPayload {
                        access_token: None,
                        refresh_token: None,
                        token_type: None,
                        expires_in: None,
                        user: None,
                        tenant: None,
                        mfa_required: true,
                        mfa_challenge: Some(MfaChallenge::from(pending.challenge)),
                        recovery_codes: None,
                    });
                }
            };
        Ok(LoginPayload {
            access_token: Some(out.access.token),
            refresh_token: Some(out.refresh_token),
            token_type: Some("Bearer".to_owned()),
            expires_in: Some(out.access.expires_in),
            user: Some(User::from(out.user)),
            tenant: Some(Tenant(out.tenant)),
            mfa_required: false,
            mfa_challenge: None,
            recovery_codes: None,
        })
    }

    /// Single use: the old refresh token stops working; presenting a spent one revokes the
    /// whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<RefreshPayload, AppError> {
        let state = context::sign_in(ctx)?;
        let meta = &context::request(ctx)?.meta;
        let out = sessions::refresh_session(state, meta, &refresh_token).await?;
        Ok(RefreshPayload {
            access_token: out.access.token,
            refresh_token: out.refresh_token,
            expires_in: out.access.expires_in,
        })
    }

    /// Revokes the caller's session: its refresh token, and its access tokens from now on.
    /// A platform admin's session too.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool, AppError> {
        let req = context::request(ctx)?;
        if let crate::auth::Principal::PlatformAdmin {
            admin_id,
            session_id,
        } = req.principal
        {
            return admin_sessions::admin_logout(
                context::sign_in(ctx)?,
                &req.meta,
                admin_id,
                session_id,
            )
            .await;
        }
        context::member_any_status(ctx)?;
        let crate::auth::Principal::Member(member) = &req.principal else {
            return Err(AppError::unauthenticated("log in first"));
        };
        sessions::logout(context::sign_in(ctx)?, &req.meta, member).await
    }

    /// Platform admins log in here; their accounts come from `tenant-hub admin create`. An
    /// admin with an authenticator (`tenant-hub admin totp`) gives its current `code` too
    /// (UNAUTHENTICATED, reason mfa_code_invalid, without it); with
    /// HUB_PLATFORM_ADMIN_REQUIRE_MFA an admin without one is refused (FORBIDDEN, reason
    /// mfa_not_enrolled).
    async fn admin_login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        code: Option<String>,
    ) -> Result<AdminLoginPayload, AppError> {
        let state = context::sign_in(ctx)?;
        let meta = &context::request(ctx)?.meta;
        let token =
            admin_sessions::admin_login(state, meta, &email, &password, code.as_deref()).await?;
        Ok(AdminLoginPayload {
            access_token: token.token,
            expires_in: token.expires_in,
        })
    }
}

//! The API's password sign-in (the `login` mutation): the password, then either a session or,
//! when a second factor is due (the user has one, or the tenant's `requireMfa` wants one), a
//! challenge that `ops::mfa::complete_login` completes. The hosted login page makes the same
//! decision in `web::login`, with a browser session instead of tokens.

use crate::{
    db::{ScopedFutureExt, audit::Actor},
    error::AppResult,
    ops::{
        self, Done,
        mfa::{self, SecondFactor},
        sessions::{self, AuthMethod, Authenticated, LoginOutcome, OpenedSession, SessionStart},
        sign_in::SignIn,
    },
    request::RequestMeta,
};

/// What a password sign-in of the API gives: a session, or, when a second factor is due
/// (the user has one, or the tenant's `requireMfa` wants one), a challenge that
/// `ops::mfa::complete_login` completes.
pub enum LoginStep {
    Session(Box<LoginOutcome>),
    MfaRequired(MfaPending),
}

/// A password sign-in held for its second factor.
pub struct MfaPending {
    pub challenge: crate::ops::mfa::Challenge,
}

/// Logs a member in by tenant (domain, slug or id), email and password: the API's sign-in.
/// A user with a second factor (or whom the tenant requires to enrol one) gets a challenge
/// instead of a session.
pub async fn login(
    state: &SignIn,
    meta: &RequestMeta,
    tenant_key: &str,
    email: &str,
    password: &str,
) -> AppResult<LoginStep> {
    let Authenticated { user, tenant } =
        sessions::authenticate_password(state, meta, tenant_key, email, password).await?;
    let start = SessionStart {
        tenant_id: tenant.id,
        user_id: user.id,
        methods: vec![AuthMethod::Password],
        browser_token_hash: None,
    };
    enum Next {
        Opened(OpenedSession),
        Challenged(mfa::Challenge),
    }
    let (tenant_id, user_id) = (tenant.id, user.id);
    let next = ops::in_tenant(
        &state.db,
        tenant.id,
        meta.audit(Actor::User(user.id)),
        |tx| {
            async move {
                match mfa::requirement(tx, user_id).await? {
                    SecondFactor::NotNeeded => {
                        let done = sessions::open(tx, state, meta, start).await?;
                        Ok(Done {
                            value: Next::Opened(done.value),
                            events: done.events,
                            effects: done.effects,
                        })
                    }
                    need => {
                        let done =
                            mfa::challenge(tx, tenant_id, user_id, need, &start.methods).await?;
                        Ok(Done {
                            value: Next::Challenged(done.value),
                            events: done.events,
                            effects: done.effects,
                        })
                    }
                }
            }
            .scope_boxed()
        },
    )
    .await?
    .value;
    let opened = match next {
        Next::Opened(opened) => opened,
        Next::Challenged(challenge) => return Ok(LoginStep::MfaRequired(MfaPending { challenge })),
    };
    let access =
        state
            .tokens
            .issue_member_with_amr(tenant.id, user.id, opened.session_id, "pwd")?;
    Ok(LoginStep::Session(Box::new(LoginOutcome {
        access,
        refresh_token: opened.refresh_token,
        user,
        tenant,
    })))
}

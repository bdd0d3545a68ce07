//! Spent sign-in state past its expiry: the pending enterprise sign-ins (`sso_sign_ins`: their
//! state, nonce and PKCE verifier), the second-factor challenges (`mfa_challenges`), the passkey
//! ceremonies (`mfa_passkey_ceremonies`) and the authorization codes (`oauth_codes`). Each is single use and refused once expired, so the rows
//! serve nothing after that; the housekeeping loop deletes them across tenants an hour after
//! they expired (codes are kept that long past expiry so a late replay is still recognised and
//! revokes its tokens while they may be alive).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::{
    db::{
        SystemTx,
        schema::{mfa_challenges, mfa_passkey_ceremonies, oauth_codes, sso_sign_ins},
    },
    error::AppResult,
};

/// How many rows of each kind one sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub sso_sign_ins: usize,
    pub mfa_challenges: usize,
    pub passkey_ceremonies: usize,
    pub oauth_codes: usize,
}

impl Swept {
    pub fn total(&self) -> usize {
        self.sso_sign_ins + self.mfa_challenges + self.passkey_ceremonies + self.oauth_codes
    }
}

/// System scope: deletes the rows of every tenant that expired before `before`.
pub async fn sweep(conn: &mut SystemTx, before: DateTime<Utc>) -> AppResult<Swept> {
    let sso_sign_ins =
        diesel::delete(sso_sign_ins::table.filter(sso_sign_ins::expires_at.lt(before)))
            .execute(conn)
            .await?;
    let mfa_challenges =
        diesel::delete(mfa_challenges::table.filter(mfa_challenges::expires_at.lt(before)))
            .execute(conn)
            .await?;
    let passkey_ceremonies = diesel::delete(
        mfa_passkey_ceremonies::table.filter(mfa_passkey_ceremonies::expires_at.lt(before)),
    )
    .execute(conn)
    .await?;
    let oauth_codes = diesel::delete(oauth_codes::table.filter(oauth_codes::expires_at.lt(before)))
        .execute(conn)
        .await?;
    Ok(Swept {
        sso_sign_ins,
        mfa_challenges,
        passkey_ceremonies,
        oauth_codes,
    })
}

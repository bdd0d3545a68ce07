//! `sso_sign_ins`, `external_identities` and `federated_sessions`: a sign-in on its way to a
//! tenant's identity provider, the users' identities at the providers, and the sessions opened
//! through them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        schema::{external_identities, federated_sessions, sessions, sso_sign_ins},
    },
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sso_sign_ins, check_for_backend(diesel::pg::Pg))]
pub struct SsoSignInRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub provider_id: Uuid,
    pub state_hash: Vec<u8>,
    pub browser_hash: Vec<u8>,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl SsoSignInRow {
    pub async fn insert(conn: &mut TenantTx, row: &SsoSignInRow) -> AppResult<()> {
        diesel::insert_into(sso_sign_ins::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Uses up the sign-in whose state hashes to `state_hash` when it is unused and unexpired;
    /// a second callback with the same state finds nothing.
    pub async fn consume(
        conn: &mut TenantTx,
        state_hash: &[u8],
    ) -> AppResult<Option<SsoSignInRow>> {
        Ok(diesel::update(
            sso_sign_ins::table
                .filter(sso_sign_ins::state_hash.eq(state_hash))
                .filter(sso_sign_ins::used_at.is_null())
                .filter(sso_sign_ins::expires_at.gt(diesel::dsl::now)),
        )
        .set(sso_sign_ins::used_at.eq(diesel::dsl::now))
        .returning(SsoSignInRow::as_returning())
        .get_result(conn)
        .await
        .optional()?)
    }

    /// Drops the tenant's sign-ins that expired or were used before `before`.
    pub async fn prune(conn: &mut TenantTx, before: DateTime<Utc>) -> AppResult<usize> {
        Ok(diesel::delete(
            sso_sign_ins::table.filter(
                sso_sign_ins::expires_at
                    .lt(before)
                    .or(sso_sign_ins::used_at.lt(before)),
            ),
        )
        .execute(conn)
        .await?)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = external_identities, check_for_backend(diesel::pg::Pg))]
pub struct ExternalIdentityRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub provider_id: Uuid,
    pub subject: String,
    pub user_id: Uuid,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: DateTime<Utc>,
}

impl ExternalIdentityRow {
    pub async fn insert(conn: &mut TenantTx, row: &ExternalIdentityRow) -> AppResult<()> {
        diesel::insert_into(external_identities::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The identity `subject` at `provider_id`, locked for this sign-in.
    pub async fn find_by_subject(
        conn: &mut TenantTx,
        provider_id: Uuid,
        subject: &str,
    ) -> AppResult<Option<ExternalIdentityRow>> {
        Ok(external_identities::table
            .filter(external_identities::provider_id.eq(provider_id))
            .filter(external_identities::subject.eq(subject))
            .select(ExternalIdentityRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?)
    }

    /// The user's identity at `provider_id`, if linked.
    pub async fn find_by_user(
        conn: &mut TenantTx,
        provider_id: Uuid,
        user_id: Uuid,
    ) -> AppResult<Option<ExternalIdentityRow>> {
        Ok(external_identities::table
            .filter(external_identities::provider_id.eq(provider_id))
            .filter(external_identities::user_id.eq(user_id))
            .select(ExternalIdentityRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn touch(conn: &mut TenantTx, id: Uuid, email: &str) -> AppResult<()> {
        diesel::update(external_identities::table.filter(external_identities::id.eq(id)))
            .set((
                external_identities::last_sign_in_at.eq(diesel::dsl::now),
                external_identities::email.eq(email),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// `federated_sessions`: which provider a session was signed in through.
pub struct FederatedSessions;

impl FederatedSessions {
    pub async fn insert(conn: &mut TenantTx, session_id: Uuid, provider_id: Uuid) -> AppResult<()> {
        let tenant_id = conn.tenant_id();
        diesel::insert_into(federated_sessions::table)
            .values((
                federated_sessions::tenant_id.eq(tenant_id),
                federated_sessions::session_id.eq(session_id),
                federated_sessions::provider_id.eq(provider_id),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The sessions signed in through `provider_id` that are not revoked yet.
    pub async fn open_of(conn: &mut TenantTx, provider_id: Uuid) -> AppResult<Vec<Uuid>> {
        Ok(federated_sessions::table
            .inner_join(
                sessions::table.on(sessions::tenant_id
                    .eq(federated_sessions::tenant_id)
                    .and(sessions::id.eq(federated_sessions::session_id))),
            )
            .filter(federated_sessions::provider_id.eq(provider_id))
            .filter(sessions::revoked_at.is_null())
            .select(sessions::id)
            .load(conn)
            .await?)
    }
}

//! `mfa_passkeys` and `mfa_passkey_ceremonies`: the WebAuthn credential of each passkey factor
//! (its `mfa_factors` row carries the label and the dates), and the registrations and sign-ins
//! in progress (webauthn-rs' state, bound to a hash, five minutes, single use).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        schema::{mfa_passkey_ceremonies, mfa_passkeys},
    },
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mfa_passkeys, check_for_backend(diesel::pg::Pg))]
pub struct PasskeyRow {
    pub tenant_id: Uuid,
    pub factor_id: Uuid,
    pub user_id: Uuid,
    pub credential_id: Vec<u8>,
    pub passkey: serde_json::Value,
}

impl PasskeyRow {
    pub async fn insert(conn: &mut TenantTx, row: &PasskeyRow) -> AppResult<()> {
        diesel::insert_into(mfa_passkeys::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The user's passkeys, locked (a sign-in updates the one it used).
    pub async fn of_user_for_update(
        conn: &mut TenantTx,
        user_id: Uuid,
    ) -> AppResult<Vec<PasskeyRow>> {
        Ok(mfa_passkeys::table
            .filter(mfa_passkeys::user_id.eq(user_id))
            .order(mfa_passkeys::factor_id)
            .select(PasskeyRow::as_select())
            .for_update()
            .load(conn)
            .await?)
    }

    /// Whether a credential with this id is registered in the tenant already.
    pub async fn credential_exists(conn: &mut TenantTx, credential_id: &[u8]) -> AppResult<bool> {
        let n: i64 = mfa_passkeys::table
            .filter(mfa_passkeys::credential_id.eq(credential_id))
            .count()
            .get_result(conn)
            .await?;
        Ok(n > 0)
    }

    /// Stores the credential's new counter / backup state after a sign-in.
    pub async fn update_passkey(
        conn: &mut TenantTx,
        factor_id: Uuid,
        passkey: serde_json::Value,
    ) -> AppResult<()> {
        diesel::update(mfa_passkeys::table.filter(mfa_passkeys::factor_id.eq(factor_id)))
            .set(mfa_passkeys::passkey.eq(passkey))
            .execute(conn)
            .await?;
        Ok(())
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mfa_passkey_ceremonies, check_for_backend(diesel::pg::Pg))]
pub struct PasskeyCeremonyRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub binding_hash: Vec<u8>,
    /// `register`, `verify` (second factor) or `passwordless`.
    pub purpose: String,
    pub user_id: Option<Uuid>,
    pub label: Option<String>,
    pub state: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl PasskeyCeremonyRow {
    pub async fn insert(conn: &mut TenantTx, row: &PasskeyCeremonyRow) -> AppResult<()> {
        diesel::insert_into(mfa_passkey_ceremonies::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Takes the newest live ceremony of this purpose bound to `binding_hash`: it is marked
    /// used whatever comes of it (single use). `None` when there is none (unknown, expired or
    /// used already).
    pub async fn take(
        conn: &mut TenantTx,
        binding_hash: &[u8],
        purpose: &str,
    ) -> AppResult<Option<PasskeyCeremonyRow>> {
        let found: Option<PasskeyCeremonyRow> = mfa_passkey_ceremonies::table
            .filter(mfa_passkey_ceremonies::binding_hash.eq(binding_hash))
            .filter(mfa_passkey_ceremonies::purpose.eq(purpose))
            .filter(mfa_passkey_ceremonies::used_at.is_null())
            .filter(mfa_passkey_ceremonies::expires_at.gt(diesel::dsl::now))
            .order(mfa_passkey_ceremonies::created_at.desc())
            .select(PasskeyCeremonyRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?;
        if let Some(c) = &found {
            diesel::update(
                mfa_passkey_ceremonies::table.filter(mfa_passkey_ceremonies::id.eq(c.id)),
            )
            .set(mfa_passkey_ceremonies::used_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
        }
        Ok(found)
    }

    /// Drops the spent and expired ceremonies bound to `binding_hash` (a new one replaces them).
    pub async fn clear(conn: &mut TenantTx, binding_hash: &[u8]) -> AppResult<()> {
        diesel::delete(
            mfa_passkey_ceremonies::table
                .filter(mfa_passkey_ceremonies::binding_hash.eq(binding_hash))
                .filter(
                    mfa_passkey_ceremonies::used_at
                        .is_not_null()
                        .or(mfa_passkey_ceremonies::expires_at.le(diesel::dsl::now)),
                ),
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

impl PasskeyRow {
    /// Records the use of the passkey's factor.
    pub async fn touch_factor(conn: &mut TenantTx, factor_id: Uuid) -> AppResult<()> {
        use crate::db::schema::mfa_factors;
        diesel::update(mfa_factors::table.filter(mfa_factors::id.eq(factor_id)))
            .set(mfa_factors::last_used_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
        Ok(())
    }
}

impl PasskeyCeremonyRow {
    /// Drops every ceremony of a user (an admin's reset of the user's factors).
    pub async fn delete_of_user(conn: &mut TenantTx, user_id: Uuid) -> AppResult<()> {
        diesel::delete(
            mfa_passkey_ceremonies::table.filter(mfa_passkey_ceremonies::user_id.eq(user_id)),
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

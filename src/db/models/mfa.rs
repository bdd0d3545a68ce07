//! `mfa_factors`, `mfa_recovery_codes`, `mfa_challenges` and `mfa_policies`: users' second
//! factors, their recovery codes, sign-ins waiting for a second factor, and who of a tenant
//! must use one; `platform_admin_totp`: the platform admins' authenticators (system scope).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        InTenant, SystemTx, TenantTx,
        schema::{
            mfa_challenges, mfa_factors, mfa_policies, mfa_recovery_codes, platform_admin_totp,
        },
    },
    domain::RequireMfa,
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mfa_factors, check_for_backend(diesel::pg::Pg))]
pub struct MfaFactorRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub user_id: Uuid,
    /// `totp`.
    pub kind: String,
    pub label: String,
    /// Sealed with the secrets key under [`MfaFactorRow::secret_name`].
    pub secret_ciphertext: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub last_used_step: Option<i64>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mfa_challenges, check_for_backend(diesel::pg::Pg))]
pub struct MfaChallengeRow {
    pub tenant_id: Uuid,
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    /// `verify` (a factor is enrolled) or `enrol` (the policy requires one, none is).
    pub purpose: String,
    pub amr: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub failures: i32,
}

impl MfaFactorRow {
    /// The name a factor's secret is sealed under: a ciphertext copied to another row does not
    /// open.
    pub fn secret_name(id: Uuid) -> String {
        format!("mfa_factor/{id}")
    }

    pub async fn insert(conn: &mut TenantTx, row: &MfaFactorRow) -> AppResult<()> {
        diesel::insert_into(mfa_factors::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// A user's factors, oldest first (unconfirmed ones too).
    pub async fn of_user(conn: &mut TenantTx, user_id: Uuid) -> AppResult<Vec<MfaFactorRow>> {
        Ok(mfa_factors::table
            .filter(mfa_factors::user_id.eq(user_id))
            .order((mfa_factors::created_at, mfa_factors::id))
            .select(MfaFactorRow::as_select())
            .load(conn)
            .await?)
    }

    /// The factors of each of `user_ids`, in one statement (the `User.mfaFactors` loader).
    pub async fn of_users(
        conn: &mut impl InTenant,
        user_ids: &[Uuid],
    ) -> AppResult<Vec<MfaFactorRow>> {
        Ok(mfa_factors::table
            .filter(mfa_factors::user_id.eq_any(user_ids))
            .order((mfa_factors::created_at, mfa_factors::id))
            .select(MfaFactorRow::as_select())
            .load(conn)
            .await?)
    }

    /// The users of this list who have a confirmed factor.
    pub async fn enrolled_among(conn: &mut TenantTx, user_ids: &[Uuid]) -> AppResult<Vec<Uuid>> {
        Ok(mfa_factors::table
            .filter(mfa_factors::user_id.eq_any(user_ids))
            .filter(mfa_factors::confirmed_at.is_not_null())
            .select(mfa_factors::user_id)
            .distinct()
            .load(conn)
            .await?)
    }

    /// The user's TOTP authenticator, locked for the check of a code.
    pub async fn totp_for_update(
        conn: &mut TenantTx,
        user_id: Uuid,
    ) -> AppResult<Option<MfaFactorRow>> {
        Ok(mfa_factors::table
            .filter(mfa_factors::user_id.eq(user_id))
            .filter(mfa_factors::kind.eq("totp"))
            .select(MfaFactorRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?)
    }

    /// Records an accepted code (and confirms the factor if it was not yet).
    pub async fn mark_used(conn: &mut TenantTx, id: Uuid, step: i64) -> AppResult<()> {
        diesel::update(mfa_factors::table.filter(mfa_factors::id.eq(id)))
            .set((
                mfa_factors::last_used_step.eq(step),
                mfa_factors::last_used_at.eq(diesel::dsl::now),
                mfa_factors::confirmed_at.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                >("COALESCE(confirmed_at, now())")),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn delete(conn: &mut TenantTx, user_id: Uuid, id: Uuid) -> AppResult<bool> {
        let n = diesel::delete(
            mfa_factors::table
                .filter(mfa_factors::user_id.eq(user_id))
                .filter(mfa_factors::id.eq(id)),
        )
        .execute(conn)
        .await?;
        Ok(n > 0)
    }

    /// Deletes every factor, recovery code and open challenge of a user; returns how many
    /// factors there were.
    pub async fn delete_all_of_user(conn: &mut TenantTx, user_id: Uuid) -> AppResult<usize> {
        let n = diesel::delete(mfa_factors::table.filter(mfa_factors::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        RecoveryCodes::delete_all(conn, user_id).await?;
        diesel::delete(mfa_challenges::table.filter(mfa_challenges::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        Ok(n)
    }
}

/// A user's recovery codes (hashes only).
pub struct RecoveryCodes;

impl RecoveryCodes {
    /// Replaces the user's set with these hashes.
    pub async fn replace(
        conn: &mut TenantTx,
        tenant_id: Uuid,
        user_id: Uuid,
        hashes: Vec<Vec<u8>>,
    ) -> AppResult<()> {
        RecoveryCodes::delete_all(conn, user_id).await?;
        let rows: Vec<_> = hashes
            .into_iter()
            .map(|h| {
                (
                    mfa_recovery_codes::tenant_id.eq(tenant_id),
                    mfa_recovery_codes::user_id.eq(user_id),
                    mfa_recovery_codes::code_hash.eq(h),
                )
            })
            .collect();
        diesel::insert_into(mfa_recovery_codes::table)
            .values(rows)
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn delete_all(conn: &mut TenantTx, user_id: Uuid) -> AppResult<()> {
        diesel::delete(mfa_recovery_codes::table.filter(mfa_recovery_codes::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Uses up the code with this hash if it is one of the user's unused ones.
    pub async fn consume(conn: &mut TenantTx, user_id: Uuid, hash: &[u8]) -> AppResult<bool> {
        let n = diesel::update(
            mfa_recovery_codes::table
                .filter(mfa_recovery_codes::user_id.eq(user_id))
                .filter(mfa_recovery_codes::code_hash.eq(hash))
                .filter(mfa_recovery_codes::used_at.is_null()),
        )
        .set(mfa_recovery_codes::used_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
        Ok(n > 0)
    }

    /// The user's codes not used yet.
    pub async fn remaining(conn: &mut TenantTx, user_id: Uuid) -> AppResult<i64> {
        Ok(mfa_recovery_codes::table
            .filter(mfa_recovery_codes::user_id.eq(user_id))
            .filter(mfa_recovery_codes::used_at.is_null())
            .count()
            .get_result(conn)
            .await?)
    }
}

impl MfaChallengeRow {
    pub async fn insert(conn: &mut TenantTx, row: &MfaChallengeRow) -> AppResult<()> {
        diesel::insert_into(mfa_challenges::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The challenge with this hash, locked, if it can still be completed.
    pub async fn usable_for_update(
        conn: &mut TenantTx,
        hash: &[u8],
        max_failures: i32,
    ) -> AppResult<Option<MfaChallengeRow>> {
        Ok(mfa_challenges::table
            .filter(mfa_challenges::token_hash.eq(hash))
            .filter(mfa_challenges::used_at.is_null())
            .filter(mfa_challenges::expires_at.gt(diesel::dsl::now))
            .filter(mfa_challenges::failures.lt(max_failures))
            .select(MfaChallengeRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn mark_used(conn: &mut TenantTx, hash: &[u8]) -> AppResult<()> {
        diesel::update(mfa_challenges::table.filter(mfa_challenges::token_hash.eq(hash)))
            .set(mfa_challenges::used_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn count_failure(conn: &mut TenantTx, hash: &[u8]) -> AppResult<()> {
        diesel::update(mfa_challenges::table.filter(mfa_challenges::token_hash.eq(hash)))
            .set(mfa_challenges::failures.eq(mfa_challenges::failures + 1))
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// A tenant's `requireMfa`.
pub struct MfaPolicy;

impl MfaPolicy {
    /// Whether the user holds the owner or the admin role tenant-wide (the people
    /// [`RequireMfa::AdminsAndOwners`] is for).
    pub async fn is_admin_or_owner(conn: &mut TenantTx, user_id: Uuid) -> AppResult<bool> {
        use crate::db::schema::{roles, user_roles};
        let n: i64 = user_roles::table
            .inner_join(
                roles::table.on(roles::tenant_id
                    .eq(user_roles::tenant_id)
                    .and(roles::id.eq(user_roles::role_id))),
            )
            .filter(user_roles::user_id.eq(user_id))
            .filter(user_roles::workspace_id.is_null())
            .filter(roles::is_system.eq(true))
            .filter(roles::name.eq_any(["owner", "admin"]))
            .count()
            .get_result(conn)
            .await?;
        Ok(n > 0)
    }

    pub async fn get(conn: &mut TenantTx) -> AppResult<RequireMfa> {
        let stored: Option<String> = mfa_policies::table
            .select(mfa_policies::require_mfa)
            .first(conn)
            .await
            .optional()?;
        Ok(stored.as_deref().map_or(RequireMfa::Off, RequireMfa::parse))
    }

    pub async fn set(conn: &mut TenantTx, tenant_id: Uuid, policy: RequireMfa) -> AppResult<()> {
        diesel::insert_into(mfa_policies::table)
            .values((
                mfa_policies::tenant_id.eq(tenant_id),
                mfa_policies::require_mfa.eq(policy.as_str()),
            ))
            .on_conflict(mfa_policies::tenant_id)
            .do_update()
            .set((
                mfa_policies::require_mfa.eq(policy.as_str()),
                mfa_policies::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// A platform admin's TOTP authenticator (its secret sealed under the nil tenant).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = platform_admin_totp, check_for_backend(diesel::pg::Pg))]
pub struct PlatformAdminTotpRow {
    pub admin_id: Uuid,
    pub secret_ciphertext: Vec<u8>,
    pub last_used_step: Option<i64>,
}

impl PlatformAdminTotpRow {
    /// The name the secret is sealed under.
    pub fn secret_name(admin_id: Uuid) -> String {
        format!("platform_admin_totp/{admin_id}")
    }

    /// The admin's authenticator, locked for the check of a code.
    pub async fn for_update(
        conn: &mut SystemTx,
        admin_id: Uuid,
    ) -> AppResult<Option<PlatformAdminTotpRow>> {
        Ok(platform_admin_totp::table
            .find(admin_id)
            .select(PlatformAdminTotpRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?)
    }

    /// Sets (or replaces) the admin's authenticator.
    pub async fn replace(conn: &mut SystemTx, admin_id: Uuid, sealed: &[u8]) -> AppResult<()> {
        diesel::insert_into(platform_admin_totp::table)
            .values((
                platform_admin_totp::admin_id.eq(admin_id),
                platform_admin_totp::secret_ciphertext.eq(sealed),
            ))
            .on_conflict(platform_admin_totp::admin_id)
            .do_update()
            .set((
                platform_admin_totp::secret_ciphertext.eq(sealed),
                platform_admin_totp::created_at.eq(diesel::dsl::now),
                platform_admin_totp::last_used_step.eq(None::<i64>),
                platform_admin_totp::last_used_at.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Records an accepted code.
    pub async fn mark_used(conn: &mut SystemTx, admin_id: Uuid, step: i64) -> AppResult<()> {
        diesel::update(platform_admin_totp::table.find(admin_id))
            .set((
                platform_admin_totp::last_used_step.eq(step),
                platform_admin_totp::last_used_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }
}

//! `tenant_domains`: a tenant's email domains, their DNS challenge and verification state.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{InTenant, SystemTx, TenantTx, schema::tenant_domains},
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenant_domains, check_for_backend(diesel::pg::Pg))]
pub struct TenantDomainRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub domain: String,
    pub state: String,
    pub challenge: String,
    pub created_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
    pub checked_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A domain due for re-verification, with its tenant (system scope).
#[derive(Debug, Clone, Queryable)]
pub struct DueDomain {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub domain: String,
    pub challenge: String,
}

impl TenantDomainRow {
    pub async fn insert(conn: &mut TenantTx, row: &TenantDomainRow) -> AppResult<TenantDomainRow> {
        Ok(diesel::insert_into(tenant_domains::table)
            .values(row)
            .returning(TenantDomainRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn all(conn: &mut impl InTenant) -> AppResult<Vec<TenantDomainRow>> {
        Ok(tenant_domains::table
            .order(tenant_domains::domain)
            .select(TenantDomainRow::as_select())
            .load(conn)
            .await?)
    }

    pub async fn find(conn: &mut impl InTenant, id: Uuid) -> AppResult<Option<TenantDomainRow>> {
        Ok(tenant_domains::table
            .filter(tenant_domains::id.eq(id))
            .select(TenantDomainRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    /// The row, locked for this transaction (a check and a removal do not interleave).
    pub async fn lock(conn: &mut TenantTx, id: Uuid) -> AppResult<Option<TenantDomainRow>> {
        Ok(tenant_domains::table
            .filter(tenant_domains::id.eq(id))
            .select(TenantDomainRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?)
    }

    /// Records a check: the new state, when it was checked and what went wrong.
    pub async fn set_checked(
        conn: &mut TenantTx,
        id: Uuid,
        state: &str,
        verified_at: Option<DateTime<Utc>>,
        last_error: Option<&str>,
    ) -> QueryResult<TenantDomainRow> {
        diesel::update(tenant_domains::table.filter(tenant_domains::id.eq(id)))
            .set((
                tenant_domains::state.eq(state),
                tenant_domains::verified_at.eq(verified_at),
                tenant_domains::checked_at.eq(Utc::now()),
                tenant_domains::last_error.eq(last_error),
            ))
            .returning(TenantDomainRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Whether `e` is the refusal of a domain verified by another tenant (the exclusion
    /// constraint `tenant_domains_verified_by_one_tenant`).
    pub fn is_verified_elsewhere(e: &diesel::result::Error) -> bool {
        matches!(e, diesel::result::Error::DatabaseError(_, info)
            if info.constraint_name() == Some("tenant_domains_verified_by_one_tenant"))
    }

    pub async fn delete(conn: &mut TenantTx, id: Uuid) -> AppResult<bool> {
        Ok(
            diesel::delete(tenant_domains::table.filter(tenant_domains::id.eq(id)))
                .execute(conn)
                .await?
                > 0,
        )
    }

    /// The tenant that verified `domain`, if any (system scope: across tenants).
    pub async fn verified_owner(conn: &mut SystemTx, domain: &str) -> AppResult<Option<Uuid>> {
        Ok(tenant_domains::table
            .filter(tenant_domains::domain.eq(domain))
            .filter(tenant_domains::state.eq("verified"))
            .select(tenant_domains::tenant_id)
            .first(conn)
            .await
            .optional()?)
    }

    /// Verified or failed domains last checked before `before`, oldest first (system scope:
    /// the housekeeping loop's re-verification).
    pub async fn due(
        conn: &mut SystemTx,
        before: DateTime<Utc>,
        limit: i64,
    ) -> AppResult<Vec<DueDomain>> {
        Ok(tenant_domains::table
            .filter(tenant_domains::state.eq_any(["verified", "failed"]))
            .filter(
                tenant_domains::checked_at
                    .lt(before)
                    .or(tenant_domains::checked_at.is_null()),
            )
            .order(tenant_domains::checked_at.asc().nulls_first())
            .limit(limit)
            .select((
                tenant_domains::tenant_id,
                tenant_domains::id,
                tenant_domains::domain,
                tenant_domains::challenge,
            ))
            .load(conn)
            .await?)
    }
}

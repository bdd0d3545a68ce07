//! `api_keys`: keys product apps use to act for a tenant (reporting usage). Shown once, stored
//! as SHA-256, revocable.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        schema::{api_keys, tenants},
    },
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKeyRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub product_id: String,
    pub name: String,
    pub key_hash: Vec<u8>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Reads besides reporting usage (`domain::ApiKeyScope` strings).
    pub scopes: Vec<Option<String>>,
}

/// A live key with what the request path needs of its tenant.
#[derive(Debug, Clone, Queryable)]
pub struct ApiKeyState {
    pub id: Uuid,
    pub product_id: String,
    pub tenant_status: String,
    pub tenant_limits: serde_json::Value,
    pub last_used_at: Option<DateTime<Utc>>,
    pub scopes: Vec<Option<String>>,
}

/// `last_used_at` is refreshed at most this often, not on every request.
pub const TOUCH_INTERVAL_SECS: i64 = 60;

impl ApiKeyRow {
    pub async fn insert(conn: &mut TenantTx, row: &ApiKeyRow) -> AppResult<()> {
        diesel::insert_into(api_keys::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn all(conn: &mut TenantTx) -> AppResult<Vec<ApiKeyRow>> {
        Ok(api_keys::table
            .order(api_keys::created_at)
            .select(ApiKeyRow::as_select())
            .load(conn)
            .await?)
    }

    /// The unrevoked key with this hash, with its tenant's status and limits.
    pub async fn state(conn: &mut TenantTx, key_hash: &[u8]) -> AppResult<Option<ApiKeyState>> {
        Ok(api_keys::table
            .inner_join(tenants::table)
            .filter(api_keys::key_hash.eq(key_hash))
            .filter(api_keys::revoked_at.is_null())
            .select((
                api_keys::id,
                api_keys::product_id,
                tenants::status,
                tenants::limits,
                api_keys::last_used_at,
                api_keys::scopes,
            ))
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn touch(conn: &mut TenantTx, id: Uuid) -> AppResult<()> {
        diesel::update(api_keys::table.filter(api_keys::id.eq(id)))
            .set(api_keys::last_used_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Revokes a key; returns it, or None when there is no such key.
    pub async fn revoke(conn: &mut TenantTx, id: Uuid) -> AppResult<Option<ApiKeyRow>> {
        Ok(diesel::update(api_keys::table.filter(api_keys::id.eq(id)))
            .set(api_keys::revoked_at.eq(diesel::dsl::now))
            .returning(ApiKeyRow::as_returning())
            .get_result(conn)
            .await
            .optional()?)
    }
}

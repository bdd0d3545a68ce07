//! Product API keys of a tenant: creating one (the tenant needs the apiAccess feature; the key
//! is shown once, only its hash is stored) and revoking one.

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::opaque,
    db::{
        TenantTx,
        audit::AuditEvent,
        models::{ApiKeyRow, ProductRow, TenantRow},
    },
    domain::Action,
    error::{AppError, AppResult},
    ops::{Done, rules},
};

/// A key to create for a product of the catalog, with a checked name.
pub struct NewApiKey {
    pub product_id: String,
    pub name: String,
    /// The user creating it (absent for a platform admin).
    pub created_by: Option<Uuid>,
    /// What else the key may read (`domain::ApiKeyScope` strings), sorted, no duplicates.
    pub scopes: Vec<Option<String>>,
}

/// A created key and its secret, to hand over once.
pub struct CreatedKey {
    pub row: ApiKeyRow,
    pub key: String,
}

pub async fn create(tx: &mut TenantTx, new: NewApiKey) -> AppResult<Done<CreatedKey>> {
    let tenant_id = tx.tenant_id();
    rules::ensure_feature(
        &TenantRow::current(tx, tenant_id).await?,
        rules::Feature::ApiAccess,
    )?;
    if ProductRow::find(tx, &new.product_id).await?.is_none() {
        return Err(AppError::not_found("product"));
    }
    let (key, hash) = opaque::generate(tenant_id);
    let row = ApiKeyRow {
        tenant_id,
        id: Uuid::now_v7(),
        product_id: new.product_id,
        name: new.name,
        key_hash: hash,
        created_by: new.created_by,
        created_at: Utc::now(),
        last_used_at: None,
        revoked_at: None,
        scopes: new.scopes,
    };
    ApiKeyRow::insert(tx, &row).await?;
    let event = AuditEvent::new(Action::ApiKeyCreated)
        .target("api_key", row.id)
        .details(json!({ "product_id": row.product_id, "name": row.name, "scopes": row.scopes }));
    Ok(Done::audited(CreatedKey { row, key }, event))
}

/// Revokes a key of the tenant; an unknown one is NOT_FOUND.
pub async fn revoke(tx: &mut TenantTx, id: Uuid) -> AppResult<Done<ApiKeyRow>> {
    let row = ApiKeyRow::revoke(tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("API key"))?;
    Ok(Done::audited(
        row,
        AuditEvent::new(Action::ApiKeyRevoked).target("api_key", id),
    ))
}

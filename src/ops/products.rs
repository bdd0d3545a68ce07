//! A tenant's access to the product catalog: tenant-wide, or overridden for one user, and the
//! way back from an override to the tenant's access.

use serde_json::json;
use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        audit::AuditEvent,
        models::{ProductRow, TenantProductRow, UserProductAccessRow, UserRow, product},
    },
    domain::{Action, ProductAccess},
    error::{AppError, AppResult},
    ops::{Acting, Done, rules},
};

/// Sets the tenant-wide access to a product (`user_id` absent) or one user's override (of a
/// user the actor may manage: an admin cannot cut an owner off a product).
pub async fn set_access(
    tx: &mut TenantTx,
    acting: &Acting<'_>,
    product_id: &str,
    access: ProductAccess,
    user_id: Option<Uuid>,
) -> AppResult<Done<ProductAccess>> {
    let tenant_id = tx.tenant_id();
    if !ProductRow::exists(tx, product_id).await? {
        return Err(AppError::not_found("product"));
    }
    match user_id {
        Some(user) => {
            UserRow::get(tx, user).await?;
            rules::ensure_can_manage(tx, acting.actor, acting.permissions, user).await?;
            UserProductAccessRow::set(tx, tenant_id, user, product_id, access).await?;
        }
        None => TenantProductRow::set(tx, tenant_id, product_id, access).await?,
    }
    let event = AuditEvent::new(Action::ProductAccessSet)
        .target("product", product_id)
        .details(json!({ "access": access.as_str(), "user_id": user_id }));
    Ok(Done::audited(access, event))
}

/// Removes a user's override of the access to a product: the tenant's access applies to them
/// again. Returns the user's access from now on.
pub async fn clear_override(
    tx: &mut TenantTx,
    acting: &Acting<'_>,
    product_id: &str,
    user_id: Uuid,
) -> AppResult<Done<ProductAccess>> {
    if !ProductRow::exists(tx, product_id).await? {
        return Err(AppError::not_found("product"));
    }
    UserRow::get(tx, user_id).await?;
    rules::ensure_can_manage(tx, acting.actor, acting.permissions, user_id).await?;
    let removed = UserProductAccessRow::clear(tx, user_id, product_id).await?;
    let now = product::effective_access(tx, user_id, Some(product_id))
        .await?
        .into_iter()
        .map(|(_, access)| access)
        .next()
        .unwrap_or(ProductAccess::None);
    let event = AuditEvent::new(Action::ProductAccessOverrideCleared)
        .target("product", product_id)
        .details(json!({ "user_id": user_id, "removed": removed, "access": now.as_str() }));
    Ok(Done::audited(now, event))
}

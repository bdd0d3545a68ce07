//! The product catalog, shared by every tenant: platform admins add products and rename,
//! describe or (de)activate them, recorded in the platform log.

use serde_json::json;

use crate::{
    db::{SystemTx, audit::AuditEvent, models::ProductRow},
    domain::Action,
    error::{AppError, AppResult},
    ops::Done,
};

/// A product to add (id and name checked).
pub struct NewProduct {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// What to change in a product (absent: kept).
pub struct ProductChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// The active products, as a platform admin reads the catalog.
pub async fn active_products(tx: &mut SystemTx) -> AppResult<Done<Vec<ProductRow>>> {
    Ok(Done::unaudited(ProductRow::all_active(tx).await?))
}

pub async fn create(tx: &mut SystemTx, new: NewProduct) -> AppResult<Done<ProductRow>> {
    let row = ProductRow::insert(tx, &new.id, &new.name, &new.description).await?;
    Ok(Done::audited(
        row,
        AuditEvent::new(Action::PlatformProductCreated).target("product", &new.id),
    ))
}

/// Changes a product; an unknown one is NOT_FOUND.
pub async fn update(
    tx: &mut SystemTx,
    id: &str,
    change: ProductChange,
) -> AppResult<Done<ProductRow>> {
    let current = ProductRow::find(tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("product"))?;
    let row = ProductRow::update(
        tx,
        id,
        change.name.as_deref().unwrap_or(&current.name),
        change
            .description
            .as_deref()
            .unwrap_or(&current.description),
        change.active.unwrap_or(current.active),
    )
    .await?;
    let event = AuditEvent::new(Action::PlatformProductUpdated)
        .target("product", id)
        .details(json!({ "name": row.name, "active": row.active }));
    Ok(Done::audited(row, event))
}

//! `products` (the global catalog), `tenant_products` (tenant-wide access) and
//! `user_product_access` (per-user overrides).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        Reader, SystemTx, TenantTx,
        schema::{products, tenant_products, user_product_access},
    },
    domain::ProductAccess,
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg))]
pub struct ProductRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenant_products, check_for_backend(diesel::pg::Pg))]
pub struct TenantProductRow {
    pub tenant_id: Uuid,
    pub product_id: String,
    pub access: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_product_access, check_for_backend(diesel::pg::Pg))]
pub struct UserProductAccessRow {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub product_id: String,
    pub access: String,
    pub updated_at: DateTime<Utc>,
}

impl ProductRow {
    pub async fn all_active(conn: &mut impl Reader) -> AppResult<Vec<ProductRow>> {
        Ok(products::table
            .filter(products::active.eq(true))
            .order(products::id)
            .select(ProductRow::as_select())
            .load(conn)
            .await?)
    }

    pub async fn exists(conn: &mut impl Reader, id: &str) -> AppResult<bool> {
        let n: i64 = products::table
            .filter(products::id.eq(id))
            .count()
            .get_result(conn)
            .await?;
        Ok(n > 0)
    }
}

impl TenantProductRow {
    pub async fn set(
        conn: &mut TenantTx,
        tenant_id: Uuid,
        product_id: &str,
        access: ProductAccess,
    ) -> AppResult<()> {
        let row = TenantProductRow {
            tenant_id,
            product_id: product_id.to_owned(),
            access: access.as_str().to_owned(),
            updated_at: Utc::now(),
        };
        diesel::insert_into(tenant_products::table)
            .values(&row)
            .on_conflict((tenant_products::tenant_id, tenant_products::product_id))
            .do_update()
            .set((
                tenant_products::access.eq(&row.access),
                tenant_products::updated_at.eq(row.updated_at),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// The user's effective access to every active product: the user's override, else the
/// tenant-wide access, else none. One statement; `only` narrows it to one product.
pub async fn effective_access(
    conn: &mut TenantTx,
    user_id: Uuid,
    only: Option<&str>,
) -> AppResult<Vec<(String, ProductAccess)>> {
    let mut query = products::table
        .left_join(tenant_products::table)
        .left_join(
            user_product_access::table.on(user_product_access::product_id
                .eq(products::id)
                .and(user_product_access::user_id.eq(user_id))),
        )
        .filter(products::active.eq(true))
        .select((
            products::id,
            tenant_products::access.nullable(),
            user_product_access::access.nullable(),
        ))
        .order(products::id)
        .into_boxed();
    if let Some(product) = only {
        query = query.filter(products::id.eq(product.to_owned()));
    }
    let rows: Vec<(String, Option<String>, Option<String>)> = query.load(conn).await?;
    rows.into_iter()
        .map(|(id, tenant, user)| {
            let access = match user.or(tenant) {
                Some(a) => ProductAccess::from_db(&a)?,
                None => ProductAccess::None,
            };
            Ok((id, access))
        })
        .collect()
}

impl ProductRow {
    pub async fn find(conn: &mut impl Reader, id: &str) -> AppResult<Option<ProductRow>> {
        Ok(products::table
            .filter(products::id.eq(id))
            .select(ProductRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn insert(
        conn: &mut SystemTx,
        id: &str,
        name: &str,
        description: &str,
    ) -> AppResult<ProductRow> {
        if ProductRow::find(conn, id).await?.is_some() {
            let mut e = crate::error::AppError::conflict("a product with this id exists already");
            e.field = Some("id".into());
            return Err(e);
        }
        Ok(diesel::insert_into(products::table)
            .values((
                products::id.eq(id),
                products::name.eq(name),
                products::description.eq(description),
            ))
            .returning(ProductRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn update(
        conn: &mut SystemTx,
        id: &str,
        name: &str,
        description: &str,
        active: bool,
    ) -> AppResult<ProductRow> {
        Ok(diesel::update(products::table.filter(products::id.eq(id)))
            .set((
                products::name.eq(name),
                products::description.eq(description),
                products::active.eq(active),
            ))
            .returning(ProductRow::as_returning())
            .get_result(conn)
            .await?)
    }
}

impl UserProductAccessRow {
    /// Removes a user's override for a product; whether there was one.
    pub async fn clear(conn: &mut TenantTx, user_id: Uuid, product_id: &str) -> AppResult<bool> {
        let n = diesel::delete(
            user_product_access::table
                .filter(user_product_access::user_id.eq(user_id))
                .filter(user_product_access::product_id.eq(product_id)),
        )
        .execute(conn)
        .await?;
        Ok(n > 0)
    }

    pub async fn set(
        conn: &mut TenantTx,
        tenant_id: Uuid,
        user_id: Uuid,
        product_id: &str,
        access: ProductAccess,
    ) -> AppResult<()> {
        let row = UserProductAccessRow {
            tenant_id,
            user_id,
            product_id: product_id.to_owned(),
            access: access.as_str().to_owned(),
            updated_at: Utc::now(),
        };
        diesel::insert_into(user_product_access::table)
            .values(&row)
            .on_conflict((
                user_product_access::tenant_id,
                user_product_access::user_id,
                user_product_access::product_id,
            ))
            .do_update()
            .set((
                user_product_access::access.eq(&row.access),
                user_product_access::updated_at.eq(row.updated_at),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }
}

//! `me` and `tenantContext`: who the caller is, and what product apps need to authorise them.

use crate::db::ScopedFutureExt;
use async_graphql::{Context, ID, Object, SimpleObject};

use crate::{
    db::models::{RoleRow, UserRow, product},
    domain::ProductAccess,
    error::AppError,
    graphql::{context, user::User},
};

/// What a product app needs to authorise a user: ids as in the token (`tid`, `sub`), the
/// tenant-wide permissions, and the access to each product.
#[derive(SimpleObject)]
pub struct TenantContext {
    /// The tenant's UUID (the token's `tid`).
    pub tenant_id: ID,
    /// The user's UUID (the token's `sub`).
    pub user_id: ID,
    /// The union of the permissions of the user's tenant-wide roles.
    pub permissions: Vec<String>,
    pub products: Vec<ProductGrant>,
}

#[derive(SimpleObject)]
pub struct ProductGrant {
    pub product_id: ID,
    pub access: ProductAccess,
}

#[derive(Default)]
pub struct MeQuery;

#[Object]
impl MeQuery {
    /// The calling user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User, AppError> {
        let scope = context::member(ctx)?;
        let user_id = scope.user_id().unwrap_or_default();
        Ok(User(
            scope
                .tx(move |conn| UserRow::get(conn, user_id).scope_boxed())
                .await?,
        ))
    }

    /// The caller's TenantContext. `productId` narrows `products` to that product; an unknown
    /// product is listed with access NONE.
    async fn tenant_context(
        &self,
        ctx: &Context<'_>,
        product_id: Option<ID>,
    ) -> Result<TenantContext, AppError> {
        let scope = context::member(ctx)?;
        let (tenant_id, user_id) = (scope.tenant_id(), scope.user_id().unwrap_or_default());
        let only = product_id.map(|p| p.0);
        let narrowed = only.clone();
        let (permissions, mut products) = scope
            .tx(move |conn| {
                async move {
                    let permissions = RoleRow::tenant_permissions_of(conn, user_id).await?;
                    let products =
                        product::effective_access(conn, user_id, narrowed.as_deref()).await?;
                    Ok((permissions, products))
                }
                .scope_boxed()
            })
            .await?;
        if let Some(wanted) = only
            && products.is_empty()
        {
            products.push((wanted, ProductAccess::None));
        }
        Ok(TenantContext {
            tenant_id: ID(tenant_id.to_string()),
            user_id: ID(user_id.to_string()),
            permissions,
            products: products
                .into_iter()
                .map(|(id, access)| ProductGrant {
                    product_id: ID(id),
                    access,
                })
                .collect(),
        })
    }
}

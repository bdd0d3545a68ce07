//! Products: the global catalog (managed by platform admins) and each tenant's access to them,
//! tenant-wide or per user, which `tenantContext` reports.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::{
    auth::Principal,
    db::{ScopedFutureExt, models::ProductRow},
    domain::Permission,
    error::AppError,
    graphql::{context, ids},
    ops::{Acting, catalog, products},
};

/// A product and the access a user has to it.
#[derive(SimpleObject)]
pub struct ProductGrant {
    pub product_id: ID,
    pub access: ProductAccess,
}

// A user's access to a product app: the GraphQL face of the domain's `ProductAccess`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::domain::ProductAccess")]
pub enum ProductAccess {
    Full,
    Limited,
    None,
}

pub struct Product(pub ProductRow);

/// A product app that accepts the hub's tokens.
#[Object]
impl Product {
    /// The product's key, e.g. `crm`: what `productId` arguments take.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn active(&self) -> bool {
        self.0.active
    }
}

#[derive(InputObject)]
pub struct SetProductAccessInput {
    pub product_id: ID,
    pub access: ProductAccess,
    /// Absent: the tenant-wide access; present: an override for this user.
    pub user_id: Option<ID>,
}

#[derive(InputObject)]
pub struct CreateProductInput {
    /// Lower-case key, e.g. `crm`.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateProductInput {
    pub id: ID,
    pub name: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

#[derive(SimpleObject)]
pub struct ProductPayload {
    pub product: Product,
}

#[derive(Default)]
pub struct ProductQuery;

#[Object]
impl ProductQuery {
    /// The active products of the catalog: for members of an active tenant, product apps'
    /// API keys and platform admins.
    async fn products(&self, ctx: &Context<'_>) -> Result<Vec<Product>, AppError> {
        let rows = match context::request(ctx)?.principal {
            Principal::PlatformAdmin { .. } => {
                context::platform_admin(ctx)
                    .await?
                    .run_system(|tx| crate::ops::catalog::active_products(tx).scope_boxed())
                    .await?
            }
            Principal::ApiKey(_) => {
                context::api_key(ctx)
                    .await?
                    .tx(|conn| ProductRow::all_active(conn).scope_boxed())
                    .await?
            }
            Principal::Member(_) | Principal::Anonymous => {
                context::member(ctx)?
                    .tx(|conn| ProductRow::all_active(conn).scope_boxed())
                    .await?
            }
        };
        Ok(rows.into_iter().map(Product).collect())
    }
}

fn validate_name(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::bad_input(
            "name",
            "name must have 1 to 100 characters",
        ));
    }
    Ok(name.to_owned())
}

#[derive(Default)]
pub struct ProductMutation;

#[Object]
impl ProductMutation {
    /// Sets the tenant-wide access to a product, or (with userId) a user's override.
    async fn set_product_access(
        &self,
        ctx: &Context<'_>,
        input: SetProductAccessInput,
    ) -> Result<ProductGrant, AppError> {
        let user_id = input
            .user_id
            .as_ref()
            .map(|u| ids::decode("User", "userId", u))
            .transpose()?;
        let scope = context::require(ctx, Permission::ProductsManage).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let product_id = input.product_id.0.clone();
        let access = scope
            .run(|tx| {
                products::set_access(tx, &acting, &product_id, input.access.into(), user_id)
                    .scope_boxed()
            })
            .await?;
        Ok(ProductGrant {
            product_id: input.product_id,
            access: access.into(),
        })
    }

    /// Removes a user's own setting for a product, so the tenant's access applies to them
    /// again. Answers the user's access from now on.
    async fn clear_product_access_override(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        user_id: ID,
    ) -> Result<ProductGrant, AppError> {
        let scope = context::require(ctx, Permission::ProductsManage).await?;
        let user = ids::decode("User", "userId", &user_id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let access = scope
            .run(|tx| products::clear_override(tx, &acting, &product_id.0, user).scope_boxed())
            .await?;
        Ok(ProductGrant {
            product_id,
            access: access.into(),
        })
    }

    /// Platform admins: adds a product to the catalog.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> Result<ProductPayload, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let id = input.id.trim().to_owned();
        let valid = (2..=63).contains(&id.len())
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(AppError::bad_input(
                "id",
                "id must be 2-63 characters of a-z, 0-9 and -, starting with a letter",
            ));
        }
        let name = validate_name(&input.name)?;
        let new = catalog::NewProduct {
            id,
            name,
            description: input.description.unwrap_or_default(),
        };
        let row = admin
            .run_system(|tx| catalog::create(tx, new).scope_boxed())
            .await?;
        Ok(ProductPayload {
            product: Product(row),
        })
    }

    /// Platform admins: renames, describes or (de)activates a product.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        input: UpdateProductInput,
    ) -> Result<ProductPayload, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let name = input.name.as_deref().map(validate_name).transpose()?;
        let id = input.id.0;
        let change = catalog::ProductChange {
            name,
            description: input.description,
            active: input.active,
        };
        let row = admin
            .run_system(|tx| catalog::update(tx, &id, change).scope_boxed())
            .await?;
        Ok(ProductPayload {
            product: Product(row),
        })
    }
}

//! `me` and `tenantContext`: who the caller is, and what product apps need to authorise them.

use crate::db::ScopedFutureExt;

use async_graphql::{Context, ID, Object, SimpleObject};

use crate::{
    db::models::{RoleRow, TenantRow, UserRoleRow, UserRow, product},
    domain::ProductAccess,
    error::AppError,
    graphql::{
        context, ids,
        loaders::{self, RolesOfUser, TenantKey},
        product::ProductGrant,
        user::User,
    },
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
    /// How the caller's session was signed in (the token's `amr`: `pwd`, `otp`, `hwk`, `fed`).
    pub amr: Vec<String>,
    /// The assurance of that sign-in (the token's `acr`): `urn:tenant-hub:acr:2fa` with a
    /// second factor, else `urn:tenant-hub:acr:1fa`. A product can demand the first for a
    /// sensitive action.
    pub acr: String,
}

#[derive(Default)]
pub struct MeQuery;

#[Object]
impl MeQuery {
    /// The calling user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User, AppError> {
        let scope = context::member(ctx)?;
        let (tenant_id, user_id) = (scope.tenant_id(), scope.user_id().unwrap_or_default());
        // The user, and when selected their tenant and roles: one transaction; the roles go
        // with the user, the tenant to the loader its field uses.
        let look = ctx.look_ahead();
        let (with_tenant, with_roles) =
            (look.field("tenant").exists(), look.field("roles").exists());
        // The tenant's row from this replica's cache when it is there, else read here.
        let cached = with_tenant.then(|| context::cached_tenant_row(ctx, &scope));
        let read_tenant = matches!(cached, Some(Err(_)));
        let (user, tenant, roles) = scope
            .tx(move |conn| {
                async move {
                    // Three independent reads, pipelined: sent together, one wait.
                    let (mut a, mut b, mut c) = (conn.read(), conn.read(), conn.read());
                    let (user, tenant, held) = futures_util::try_join!(
                        UserRow::get(&mut a, user_id),
                        async {
                            match read_tenant {
                                true => TenantRow::current(&mut b, tenant_id).await.map(Some),
                                false => Ok(None),
                            }
                        },
                        async {
                            match with_roles {
                                true => UserRoleRow::roles_of_users(&mut c, &[user_id]).await,
                                false => Ok(Vec::new()),
                            }
                        },
                    )?;
                    let roles = with_roles.then(|| {
                        let mut by_user = loaders::roles_by_user(&[user_id], held);
                        by_user.remove(&RolesOfUser(user_id)).unwrap_or_default()
                    });
                    Ok((user, tenant, roles))
                }
                .scope_boxed()
            })
            .await?;
        let tenant = match (cached, tenant) {
            (Some(Ok(row)), _) => Some(row),
            (Some(Err(ticket)), Some(row)) => {
                Some(context::remember_tenant_row(&scope, ticket, row))
            }
            _ => None,
        };
        if let Some(tenant) = tenant {
            context::loaders(ctx, tenant_id)?
                .feed_one(TenantKey(tenant_id), (*tenant).clone())
                .await;
        }
        Ok(match roles {
            Some(roles) => User::with_roles(user, roles),
            None => User::from(user),
        })
    }

    /// The caller's TenantContext. `productId` narrows `products` to that product; an unknown
    /// product is listed with access NONE. A product app's API key created with the scope
    /// TENANT_CONTEXT_READ names the user (`userId`) whose TenantContext it reads; members
    /// read their own (a `userId` other than theirs is FORBIDDEN).
    async fn tenant_context(
        &self,
        ctx: &Context<'_>,
        product_id: Option<ID>,
        user_id: Option<ID>,
    ) -> Result<TenantContext, AppError> {
        let named = user_id
            .as_ref()
            .map(|u| ids::decode("User", "userId", u))
            .transpose()?;
        let (tenant_id, user_id, access) = if context::is_api_key(ctx)? {
            let scope =
                context::api_key_with(ctx, crate::domain::ApiKeyScope::TenantContextRead).await?;
            let user_id = named.ok_or_else(|| {
                AppError::bad_input("userId", "an API key names the user (userId)")
            })?;
            let access = scope
                .tx(move |conn| {
                    async move {
                        if !UserRow::get(conn, user_id).await?.is_active() {
                            return Err(AppError::not_found("user"));
                        }
                        Ok(crate::context_cache::Access {
                            permissions: std::sync::Arc::new(
                                RoleRow::tenant_permissions_of(conn, user_id).await?,
                            ),
                            products: product::effective_access(conn, user_id, None).await?,
                        })
                    }
                    .scope_boxed()
                })
                .await?;
            (scope.tenant_id(), user_id, std::sync::Arc::new(access))
        } else {
            let scope = context::member(ctx)?;
            let own = scope.user_id().unwrap_or_default();
            if named.is_some_and(|n| n != own) {
                return Err(AppError::forbidden(
                    "members read their own TenantContext; product apps use an API key",
                ));
            }
            (scope.tenant_id(), own, context::access(ctx).await?)
        };
        let grant = |(id, access): &(String, ProductAccess)| ProductGrant {
            product_id: ID(id.clone()),
            access: (*access).into(),
        };
        let products = match product_id {
            None => access.products.iter().map(grant).collect(),
            Some(wanted) => vec![
                access
                    .products
                    .iter()
                    .find(|(id, _)| *id == wanted.0)
                    .map(grant)
                    .unwrap_or(ProductGrant {
                        product_id: wanted,
                        access: ProductAccess::None.into(),
                    }),
            ],
        };
        let amr = match &context::request(ctx)?.principal {
            crate::auth::Principal::Member(m) => m.amr.clone(),
            _ => Vec::new(),
        };
        let acr = crate::mfa::claims::acr_of(&amr).to_owned();
        Ok(TenantContext {
            tenant_id: ID(tenant_id.to_string()),
            user_id: ID(user_id.to_string()),
            permissions: access.permissions.to_vec(),
            products,
            amr,
            acr,
        })
    }
}

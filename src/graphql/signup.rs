//! `createTenant`: self-service sign-up (when enabled) or a platform admin creating a tenant
//! (`ops::tenants`): one transaction, a failure leaves nothing behind.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use uuid::Uuid;

use crate::{
    auth::Principal,
    db::{ScopedFutureExt, audit::Actor},
    error::AppError,
    graphql::{context, tenant::Tenant, user::User, workspace::Workspace},
    ops::{self, tenants},
};

#[derive(InputObject)]
pub struct CreateTenantInput {
    pub name: String,
    /// The tenant's DNS name, e.g. acme.example.com; unique.
    pub domain: String,
    pub owner_email: String,
    pub owner_password: String,
    /// Derived from the name when absent; unique.
    pub slug: Option<String>,
    pub owner_name: Option<String>,
    /// free (default), pro or enterprise; only platform admins may choose another than free.
    pub plan: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateTenantPayload {
    pub tenant: Tenant,
    pub owner: User,
    pub default_workspace: Workspace,
}

#[derive(Default)]
pub struct SignupMutation;

#[Object]
impl SignupMutation {
    /// Creates a tenant with its system roles, default workspace and owner, in one transaction.
    /// Taken domain or slug: CONFLICT. Malformed input or a weak password: BAD_USER_INPUT.
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        input: CreateTenantInput,
    ) -> Result<CreateTenantPayload, AppError> {
        let state = context::sign_in(ctx)?;
        let req = context::request(ctx)?;
        let actor = match req.principal {
            Principal::PlatformAdmin { .. } => {
                let admin = context::platform_admin(ctx).await?;
                Actor::PlatformAdmin(admin.admin_id)
            }
            _ if state.settings.signup_enabled => Actor::Anonymous,
            _ => {
                return Err(AppError::forbidden(
                    "self-service sign-up is switched off; ask a platform admin",
                ));
            }
        };
        let spec = tenants::validate(tenants::TenantSignup {
            name: input.name,
            domain: input.domain,
            owner_email: input.owner_email,
            owner_password: input.owner_password,
            slug: input.slug,
            owner_name: input.owner_name,
            plan: input.plan,
        })?;
        // The cheap checks first (plan, domain, slug), then the caller's hashing allowance,
        // then argon2: a taken domain or a flood costs no hashing.
        tenants::precheck(&state.db, &spec, actor).await?;
        if matches!(actor, Actor::Anonymous) {
            context::anonymous_hashing(ctx)?;
        }
        let owner_password_hash = tenants::hash_owner_password(&spec).await?;
        let audit_ctx = req.meta.audit(actor);
        let done = ops::in_tenant(&state.db, Uuid::now_v7(), audit_ctx.clone(), |tx| {
            tenants::create(tx, &spec, &owner_password_hash, actor).scope_boxed()
        })
        .await?;
        let created = context::after_commit(ctx, &audit_ctx, done).await;
        Ok(CreateTenantPayload {
            tenant: Tenant(created.tenant),
            owner: User::from(created.owner),
            default_workspace: Workspace(created.workspace),
        })
    }
}

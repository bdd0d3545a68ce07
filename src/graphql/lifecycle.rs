//! The tenant lifecycle's GraphQL fields (the rules are `ops::lifecycle` and
//! `domain::tenant_status`): deactivate, reactivate, suspend, resume, purge, and the export.

use async_graphql::{Context, ID, InputObject, Json, Object};

use crate::{
    auth::Principal,
    db::{ScopedFutureExt, audit::Actor},
    domain::{Permission, StatusChanger, TenantStatus},
    error::{AppError, AppResult},
    graphql::{
        context::{self, TenantScope},
        ids,
        tenant::{Tenant, TenantPayload},
    },
    ops::lifecycle,
};

#[derive(InputObject)]
pub struct DeactivateTenantInput {
    pub reason: Option<String>,
    /// Platform admins only; members act on their own tenant.
    pub tenant_id: Option<ID>,
}

#[derive(InputObject)]
pub struct PurgeTenantInput {
    pub tenant_id: ID,
    /// Purge now, before the grace period ends (the tenant is deactivated first if needed).
    #[graphql(default = false)]
    pub force: bool,
    /// With force: the tenant's domain, typed as confirmation.
    pub confirm_domain: Option<String>,
}

/// The scope an owner-or-admin lifecycle operation acts in: the member's own tenant (needs
/// tenant:delete; any status), or the tenant a platform admin names.
async fn owner_or_admin<'a>(
    ctx: &Context<'a>,
    tenant_id: Option<&ID>,
) -> AppResult<TenantScope<'a>> {
    match (&context::request(ctx)?.principal, tenant_id) {
        (Principal::PlatformAdmin { .. }, Some(id)) => {
            let admin = context::platform_admin(ctx).await?;
            Ok(admin.tenant(ids::decode("Tenant", "tenantId", id)?))
        }
        (Principal::PlatformAdmin { .. }, None) => Err(AppError::bad_input(
            "tenantId",
            "platform admins name the tenant",
        )),
        (_, Some(_)) => Err(AppError::forbidden(
            "only platform admins name another tenant",
        )),
        (_, None) => context::require_any_status(ctx, Permission::TenantDelete).await,
    }
}

/// Who moves the tenant of `scope`: a platform admin or the tenant's owner.
fn changer(scope: &TenantScope<'_>) -> StatusChanger {
    match scope.actor() {
        Actor::PlatformAdmin(_) => StatusChanger::Platform,
        _ => StatusChanger::Owner,
    }
}

async fn transition(
    scope: &TenantScope<'_>,
    to: TenantStatus,
    reason: Option<String>,
) -> AppResult<TenantPayload> {
    let t = lifecycle::Transition {
        to,
        by: changer(scope),
        reason,
        grace_days: scope.services.sign_in.settings.deactivation_grace_days,
    };
    let row = scope
        .run(|tx| lifecycle::transition(tx, t).scope_boxed())
        .await?;
    Ok(TenantPayload {
        tenant: Tenant(row),
    })
}

#[derive(Default)]
pub struct LifecycleQuery;

#[Object]
impl LifecycleQuery {
    /// Everything the tenant owns as one JSON document (format_version, tenant, tables), with no
    /// password hashes, token hashes or secrets. The owner may export also while deactivated;
    /// platform admins name the tenant.
    async fn export_tenant_data(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
    ) -> Result<Json<serde_json::Value>, AppError> {
        let scope = owner_or_admin(ctx, tenant_id.as_ref()).await?;
        let doc = scope.run(|tx| lifecycle::export(tx).scope_boxed()).await?;
        Ok(Json(doc))
    }
}

#[derive(Default)]
pub struct LifecycleMutation;

#[Object]
impl LifecycleMutation {
    /// The owner (or a platform admin) deactivates a tenant: logins and tokens are refused from
    /// now on, the data is kept (and exportable) until `purgeAfter`. An owner cannot deactivate
    /// a tenant the platform suspended.
    async fn deactivate_tenant(
        &self,
        ctx: &Context<'_>,
        input: DeactivateTenantInput,
    ) -> Result<TenantPayload, AppError> {
        let scope = owner_or_admin(ctx, input.tenant_id.as_ref()).await?;
        transition(&scope, TenantStatus::Deactivated, input.reason).await
    }

    /// Undoes a deactivation, until the purge. An owner can undo only the owner's own
    /// deactivation; one the platform decided needs a platform admin.
    async fn reactivate_tenant(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
    ) -> Result<TenantPayload, AppError> {
        let scope = owner_or_admin(ctx, tenant_id.as_ref()).await?;
        transition(&scope, TenantStatus::Active, None).await
    }

    /// Platform admins: suspends a tenant (reversible with resumeTenant).
    async fn suspend_tenant(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        reason: Option<String>,
    ) -> Result<TenantPayload, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let scope = admin.tenant(ids::decode("Tenant", "tenantId", &tenant_id)?);
        transition(&scope, TenantStatus::Suspended, reason).await
    }

    /// Platform admins: ends a suspension.
    async fn resume_tenant(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
    ) -> Result<TenantPayload, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let scope = admin.tenant(ids::decode("Tenant", "tenantId", &tenant_id)?);
        transition(&scope, TenantStatus::Active, None).await
    }

    /// Platform admins: deletes every row of a deactivated tenant whose grace period has passed
    /// (or at once with force and the tenant's domain as confirmation). Returns the rows deleted.
    async fn purge_tenant(
        &self,
        ctx: &Context<'_>,
        input: PurgeTenantInput,
    ) -> Result<i64, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let tenant_id = ids::decode("Tenant", "tenantId", &input.tenant_id)?;
        let (force, confirm) = (input.force, input.confirm_domain);
        admin
            .run_system(|tx| {
                lifecycle::purge_checked(tx, tenant_id, force, confirm.as_deref()).scope_boxed()
            })
            .await
    }
}

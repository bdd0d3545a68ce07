//! The tenant lifecycle: active → suspended (platform, reversible) → deactivated (grace period:
//! logins and tokens refused, data kept, export allowed) → purged (every row deleted, the tenants
//! row left as a tombstone). Reactivation works until the purge. And the data export.

use async_graphql::{Context, ID, InputObject, Json, Object};
use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::Principal,
    db::{
        ScopedFutureExt,
        audit::{self, AuditEvent},
        models::TenantRow,
    },
    domain::Permission,
    error::{AppError, AppResult},
    export,
    graphql::{
        context::{self, TenantScope},
        ids,
        tenant::{Tenant, TenantPayload},
    },
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

/// Moves a tenant to a new status in one transaction with its audit record, and drops the
/// cached session states (they carry the tenant's status).
async fn transition(
    scope: &TenantScope<'_>,
    allowed_from: &'static [&'static str],
    to: &'static str,
    action: &'static str,
    reason: Option<String>,
    grace_days: i32,
) -> AppResult<TenantRow> {
    let (tenant_id, audit_ctx) = (scope.tenant_id(), scope.audit());
    let tenant = scope
        .tx(|conn| {
            async move {
                let current = TenantRow::current(conn, tenant_id).await?;
                if !allowed_from.contains(&current.status.as_str()) {
                    return Err(AppError::conflict(format!("the tenant is {} and cannot become {to}", current.status)));
                }
                let (deactivated_at, purge_after) = if to == "deactivated" {
                    let days = current.retention_days.unwrap_or(grace_days) as i64;
                    (Some(Utc::now()), Some(Utc::now() + Duration::days(days)))
                } else {
                    (None, None)
                };
                let updated = TenantRow::set_status(conn, tenant_id, to, deactivated_at, purge_after, reason.as_deref()).await?;
                audit::record(
                    conn,
                    tenant_id,
                    &audit_ctx,
                    AuditEvent::new(action)
                        .target("tenant", tenant_id)
                        .details(json!({ "from": current.status, "to": to, "reason": reason, "purge_after": purge_after })),
                )
                .await?;
                Ok(updated)
            }
            .scope_boxed()
        })
        .await?;
    crate::invalidation::announce(scope.state, crate::invalidation::Invalidation::All).await;
    Ok(tenant)
}

/// Purges one tenant in one transaction (a deactivated one; with `force` also an active or
/// suspended one, deactivated in the same transaction) and records it in the platform audit log.
pub async fn purge(
    db: &crate::db::Db,
    tenant_id: Uuid,
    ctx: &crate::db::audit::AuditContext,
    force: bool,
) -> AppResult<i64> {
    db.system_tx(|conn| {
        async move {
            if force {
                // A forced purge of an active or suspended tenant deactivates it in the same
                // transaction: a purge that fails leaves the tenant as it was.
                let tenant = TenantRow::find_any(conn, tenant_id).await?;
                if matches!(tenant.status.as_str(), "active" | "suspended") {
                    let now = Utc::now();
                    TenantRow::set_status(
                        conn,
                        tenant_id,
                        "deactivated",
                        Some(now),
                        Some(now),
                        Some("forced purge"),
                    )
                    .await?;
                }
            }
            let deleted = TenantRow::purge(conn, tenant_id).await?;
            audit::record_platform(
                conn,
                ctx,
                AuditEvent::new("platform.tenant_purged")
                    .target("tenant", tenant_id)
                    .details(json!({ "rows_deleted": deleted, "forced": force })),
            )
            .await?;
            Ok(deleted)
        }
        .scope_boxed()
    })
    .await
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
        let (tid, audit_ctx) = (scope.tenant_id(), scope.audit());
        let doc = scope
            .tx(|conn| {
                async move {
                    let doc = export::document(conn, tid).await?;
                    audit::record(
                        conn,
                        tid,
                        &audit_ctx,
                        AuditEvent::new("tenant.exported").target("tenant", tid),
                    )
                    .await?;
                    Ok(doc)
                }
                .scope_boxed()
            })
            .await?;
        Ok(Json(doc))
    }
}

#[derive(Default)]
pub struct LifecycleMutation;

#[Object]
impl LifecycleMutation {
    /// The owner (or a platform admin) deactivates a tenant: logins and tokens are refused from
    /// now on, the data is kept (and exportable) until `purgeAfter`.
    async fn deactivate_tenant(
        &self,
        ctx: &Context<'_>,
        input: DeactivateTenantInput,
    ) -> Result<TenantPayload, AppError> {
        let reason = input
            .reason
            .map(|r| r.chars().take(500).collect::<String>());
        let scope = owner_or_admin(ctx, input.tenant_id.as_ref()).await?;
        let grace = scope.state.settings.deactivation_grace_days;
        let t = transition(
            &scope,
            &["active", "suspended"],
            "deactivated",
            "tenant.deactivated",
            reason,
            grace,
        )
        .await?;
        Ok(TenantPayload { tenant: Tenant(t) })
    }

    /// Undoes a deactivation (until the purge) or a suspension by the owner's deactivation path.
    async fn reactivate_tenant(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
    ) -> Result<TenantPayload, AppError> {
        let scope = owner_or_admin(ctx, tenant_id.as_ref()).await?;
        let t = transition(
            &scope,
            &["deactivated"],
            "active",
            "tenant.reactivated",
            None,
            0,
        )
        .await?;
        Ok(TenantPayload { tenant: Tenant(t) })
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
        let t = transition(
            &scope,
            &["active"],
            "suspended",
            "tenant.suspended",
            reason,
            0,
        )
        .await?;
        Ok(TenantPayload { tenant: Tenant(t) })
    }

    /// Platform admins: ends a suspension.
    async fn resume_tenant(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
    ) -> Result<TenantPayload, AppError> {
        let admin = context::platform_admin(ctx).await?;
        let scope = admin.tenant(ids::decode("Tenant", "tenantId", &tenant_id)?);
        let t = transition(&scope, &["suspended"], "active", "tenant.resumed", None, 0).await?;
        Ok(TenantPayload { tenant: Tenant(t) })
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
        let tenant = admin
            .system_tx(|conn| TenantRow::find_any(conn, tenant_id).scope_boxed())
            .await?;
        if input.force {
            if input.confirm_domain.as_deref().map(str::to_lowercase) != tenant.domain.clone() {
                return Err(AppError::bad_input(
                    "confirmDomain",
                    "type the tenant's domain to confirm a forced purge",
                ));
            }
        } else if tenant.status != "deactivated"
            || tenant.purge_after.is_none_or(|p| p > Utc::now())
        {
            return Err(AppError::conflict(
                "the tenant is not deactivated or its grace period has not passed",
            ));
        }
        let deleted = purge(&admin.state.db, tenant_id, &admin.audit(), input.force).await?;
        crate::invalidation::announce(admin.state, crate::invalidation::Invalidation::All).await;
        Ok(deleted)
    }
}

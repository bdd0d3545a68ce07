//! `platformAuditLog`: the platform's own audit log (purges, platform admins created, tenants
//! created or changed by platform admins), paged and filtered like `auditLog`; platform admins
//! only.

use async_graphql::{Context, ID, Json, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::{ScopedFutureExt, audit::PlatformAuditRow},
    error::AppError,
    graphql::{
        audit::AuditFilter,
        connection::{self, Page},
        context, ids,
    },
};

pub struct PlatformAuditEntry(pub PlatformAuditRow);

/// Something that happened on the platform, outside any one tenant's log.
#[Object]
impl PlatformAuditEntry {
    async fn id(&self) -> ID {
        ids::encode("PlatformAuditEntry", self.0.id)
    }

    async fn action(&self) -> &str {
        &self.0.action
    }

    /// platform_admin, system (the housekeeping loop, the command line) or anonymous.
    async fn actor_type(&self) -> &str {
        &self.0.actor_type
    }

    async fn actor_id(&self) -> Option<String> {
        self.0.actor_id.map(|a| a.to_string())
    }

    async fn target_type(&self) -> Option<&str> {
        self.0.target_type.as_deref()
    }

    async fn target_id(&self) -> Option<&str> {
        self.0.target_id.as_deref()
    }

    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }

    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    async fn details(&self) -> Json<serde_json::Value> {
        Json(self.0.details.clone())
    }
}

#[derive(Default)]
pub struct PlatformAuditQuery;

#[Object]
impl PlatformAuditQuery {
    /// Platform admins: the platform audit log, oldest first (FORBIDDEN for anyone else).
    #[graphql(complexity = "crate::graphql::connection::complexity(first, child_complexity)")]
    async fn platform_audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditFilter>,
    ) -> Result<Page<PlatformAuditEntry>, AppError> {
        let request = connection::list_request(ctx, first, after.as_deref())?;
        let filter = filter.unwrap_or_default().into_log_filter()?;
        let admin = context::platform_admin(ctx).await?;
        let listed = admin
            .system_tx(|conn| PlatformAuditRow::page(conn, &filter, request).scope_boxed())
            .await?;
        Ok(connection::connection(listed, request, PlatformAuditEntry))
    }
}

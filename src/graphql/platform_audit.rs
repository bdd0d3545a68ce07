//! `platformAuditLog`: the platform's own audit log (purges, platform admins created, tenants
//! created or changed by platform admins), paged and filtered like `auditLog`; platform admins
//! only.

use async_graphql::{Context, Object};

use crate::{
    db::{ScopedFutureExt, audit::PlatformAuditRow},
    error::AppError,
    graphql::{
        audit::AuditFilter,
        connection::{self, Page},
        context,
    },
};

crate::graphql::audit::audit_entry_object!(
    PlatformAuditEntry(PlatformAuditRow),
    "Something that happened on the platform, outside any one tenant's log.",
    actors: "platform_admin, system (the housekeeping loop, the command line) or anonymous."
);

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
            .run_system(|tx| {
                crate::ops::platform::platform_audit_page(tx, &filter, request).scope_boxed()
            })
            .await?;
        Ok(connection::connection(listed, request, PlatformAuditEntry))
    }
}

//! The audit log: `auditLog` with filters, for tenant admins (their tenant, audit:read) and
//! platform admins (any tenant, named; the read itself is audited).

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    auth::Principal,
    db::{
        ScopedFutureExt,
        audit::{AuditRow, LogFilter},
    },
    domain::Permission,
    error::AppError,
    graphql::{
        connection::{self, Page},
        context, ids,
    },
    ops::platform,
};

/// Defines the GraphQL object of one audit log's entries: `AuditEntry` (a tenant's log) and
/// `PlatformAuditEntry` (the platform's) answer the same fields over rows with the same
/// columns, as separate types (their ids and the actors they name differ).
macro_rules! audit_entry_object {
    ($entry:ident($row:ty), $doc:literal, actors: $actors:literal) => {
        pub struct $entry(pub $row);

        #[doc = $doc]
        #[async_graphql::Object]
        impl $entry {
            async fn id(&self) -> async_graphql::ID {
                crate::graphql::ids::encode(stringify!($entry), self.0.id)
            }
            /// A dotted verb such as `user.created`.
            async fn action(&self) -> &str {
                &self.0.action
            }
            #[doc = $actors]
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
            async fn at(&self) -> chrono::DateTime<chrono::Utc> {
                self.0.at
            }
            /// What changed (never a secret or a password).
            async fn details(&self) -> async_graphql::Json<serde_json::Value> {
                async_graphql::Json(self.0.details.clone())
            }
        }
    };
}
pub(crate) use audit_entry_object;

audit_entry_object!(
    AuditEntry(AuditRow),
    "Something that happened to the tenant.",
    actors: "user, platform_admin, api_key, system or anonymous."
);

#[derive(InputObject, Default, Clone)]
pub struct AuditFilter {
    pub action: Option<String>,
    /// A user's or admin's UUID.
    pub actor_id: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// The filter as the models take it; a malformed actor id is BAD_USER_INPUT.
    pub fn into_log_filter(self) -> Result<LogFilter, AppError> {
        Ok(LogFilter {
            actor_id: self
                .actor_id
                .as_deref()
                .map(|a| {
                    Uuid::try_parse(a)
                        .map_err(|_| AppError::bad_input("filter.actorId", "actorId is a UUID"))
                })
                .transpose()?,
            action: self.action,
            target_type: self.target_type,
            target_id: self.target_id,
            from: self.from,
            to: self.to,
        })
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log, oldest first. Tenant admins see their tenant; platform admins name one.
    #[graphql(complexity = "crate::graphql::connection::complexity(first, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditFilter>,
        tenant_id: Option<ID>,
    ) -> Result<Page<AuditEntry>, AppError> {
        let request = connection::list_request(ctx, first, after.as_deref())?;
        let filter = filter.unwrap_or_default().into_log_filter()?;
        let listed = match (&context::request(ctx)?.principal, tenant_id) {
            (Principal::PlatformAdmin { .. }, Some(id)) => {
                let admin = context::platform_admin(ctx).await?;
                let tenant = ids::decode("Tenant", "tenantId", &id)?;
                admin
                    .run_in_tenant(tenant, |tx| {
                        platform::audit_log(tx, filter, request).scope_boxed()
                    })
                    .await?
            }
            (Principal::PlatformAdmin { .. }, None) => {
                return Err(AppError::bad_input(
                    "tenantId",
                    "platform admins name the tenant",
                ));
            }
            (_, Some(_)) => {
                return Err(AppError::forbidden(
                    "only platform admins name another tenant",
                ));
            }
            (_, None) => {
                let scope = context::require(ctx, Permission::AuditRead).await?;
                scope
                    .tx(|conn| AuditRow::page(conn, &filter, request).scope_boxed())
                    .await?
            }
        };
        Ok(connection::connection(listed, request, AuditEntry))
    }
}

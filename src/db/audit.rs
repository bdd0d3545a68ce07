//! Writing the audit logs: `audit_log` (per tenant, visible to the tenant) and
//! `platform_audit_log` (events of no tenant). Records are written in the same transaction as
//! the change they describe, so a rolled-back change leaves no record and a change never goes
//! unrecorded. The details never hold a secret or a password.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    db::{
        AnyTx, SystemTx, TenantTx,
        models::{Keyset, Listed, PageRequest},
        schema::{audit_log, platform_audit_log},
    },
    domain::Action,
    error::AppResult,
};

/// A row of a tenant's audit log.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub details: Value,
}

impl Keyset for PlatformAuditRow {
    fn keyset(&self) -> (chrono::DateTime<chrono::Utc>, Uuid) {
        (self.at, self.id)
    }
}

impl Keyset for AuditRow {
    fn keyset(&self) -> (chrono::DateTime<chrono::Utc>, Uuid) {
        (self.at, self.id)
    }
}

/// Which rows of a tenant's audit log to list (every field optional).
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub action: Option<String>,
    pub actor_id: Option<Uuid>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// One page of a log table (`audit_log` or `platform_audit_log`: the same columns), filtered,
/// oldest first, with the filtered count when the request asks for it. A macro because the two
/// tables are distinct diesel types with the same column names.
macro_rules! log_page {
    ($conn:expr, $table:ident, $row:ty, $filter:expr, $request:expr) => {{
        let filter: &LogFilter = $filter;
        let request: PageRequest = $request;
        let filtered = || {
            let mut q = $table::table.into_boxed();
            if let Some(a) = &filter.action {
                q = q.filter($table::action.eq(a.clone()));
            }
            if let Some(a) = filter.actor_id {
                q = q.filter($table::actor_id.eq(a));
            }
            if let Some(t) = &filter.target_type {
                q = q.filter($table::target_type.eq(t.clone()));
            }
            if let Some(t) = &filter.target_id {
                q = q.filter($table::target_id.eq(t.clone()));
            }
            if let Some(f) = filter.from {
                q = q.filter($table::at.ge(f));
            }
            if let Some(t) = filter.to {
                q = q.filter($table::at.lt(t));
            }
            q
        };
        let total = match request.count {
            true => Some(filtered().count().get_result($conn).await?),
            false => None,
        };
        let q = filtered().select(<$row>::as_select());
        let q = crate::after_key!(q, $table::at, $table::id, request.after);
        let rows = q
            .order(($table::at, $table::id))
            .limit(request.fetch())
            .load($conn)
            .await?;
        Ok(Listed { rows, total })
    }};
}

impl AuditRow {
    /// One page of the log of the tenant in scope, oldest first, with the filtered count when
    /// asked.
    pub async fn page(
        conn: &mut TenantTx,
        filter: &LogFilter,
        request: PageRequest,
    ) -> AppResult<Listed<AuditRow>> {
        log_page!(conn, audit_log, AuditRow, filter, request)
    }
}

/// A row of the platform audit log (events of no tenant: purges, admins created, tenants
/// created or changed by platform admins).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = platform_audit_log, check_for_backend(diesel::pg::Pg))]
pub struct PlatformAuditRow {
    pub id: Uuid,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub details: Value,
}

impl PlatformAuditRow {
    /// System scope: one page of the platform log, oldest first, with the filtered count when
    /// the request asks for it.
    pub async fn page(
        conn: &mut SystemTx,
        filter: &LogFilter,
        request: PageRequest,
    ) -> AppResult<Listed<PlatformAuditRow>> {
        log_page!(conn, platform_audit_log, PlatformAuditRow, filter, request)
    }
}

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    PlatformAdmin(Uuid),
    System,
    Anonymous,
    /// A product app's API key.
    ApiKey(Uuid),
}

impl Actor {
    fn parts(self) -> (&'static str, Option<Uuid>) {
        match self {
            Actor::User(id) => ("user", Some(id)),
            Actor::PlatformAdmin(id) => ("platform_admin", Some(id)),
            Actor::System => ("system", None),
            Actor::Anonymous => ("anonymous", None),
            Actor::ApiKey(id) => ("api_key", Some(id)),
        }
    }
}

/// The request an action came with: who, from where, under which request id.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub actor: Actor,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl AuditContext {
    pub fn system() -> AuditContext {
        AuditContext {
            actor: Actor::System,
            ip: None,
            request_id: None,
        }
    }
}

/// One event: what happened ([`Action`]), to what, with which details.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: Action,
    /// Who did it, when the operation knows better than the request (a sign-up is the new
    /// owner's act); else the request's actor.
    pub actor: Option<Actor>,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub details: Value,
    /// Written to this tenant's log from a system-scope transaction (a platform admin's read
    /// of the tenant's data), instead of the platform log.
    pub tenant_log: Option<Uuid>,
}

impl AuditEvent {
    pub fn new(action: Action) -> AuditEvent {
        AuditEvent {
            action,
            actor: None,
            target_type: None,
            target_id: None,
            details: Value::Object(Default::default()),
            tenant_log: None,
        }
    }

    /// Writes the event to `tenant_id`'s own log although the operation runs in system scope
    /// (`ops::in_system`); a tenant transaction writes to its tenant's log anyway.
    pub fn in_log_of(mut self, tenant_id: Uuid) -> AuditEvent {
        self.tenant_log = Some(tenant_id);
        self
    }

    pub fn target(mut self, kind: &'static str, id: impl ToString) -> AuditEvent {
        self.target_type = Some(kind);
        self.target_id = Some(id.to_string());
        self
    }

    /// Records `actor` as the one who did it instead of the request's actor.
    pub fn by(mut self, actor: Actor) -> AuditEvent {
        self.actor = Some(actor);
        self
    }

    pub fn details(mut self, details: Value) -> AuditEvent {
        self.details = details;
        self
    }
}

/// Appends to the tenant's audit log (inside that tenant's transaction, or system scope).
pub async fn record(
    conn: &mut impl AnyTx,
    tenant_id: Uuid,
    ctx: &AuditContext,
    event: AuditEvent,
) -> AppResult<()> {
    let (actor_type, actor_id) = event.actor.unwrap_or(ctx.actor).parts();
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::tenant_id.eq(tenant_id),
            audit_log::id.eq(Uuid::now_v7()),
            audit_log::actor_type.eq(actor_type),
            audit_log::actor_id.eq(actor_id),
            audit_log::action.eq(event.action.as_str()),
            audit_log::target_type.eq(event.target_type),
            audit_log::target_id.eq(event.target_id),
            audit_log::ip.eq(&ctx.ip),
            audit_log::request_id.eq(&ctx.request_id),
            audit_log::details.eq(event.details),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends to the platform audit log (system scope).
pub async fn record_platform(
    conn: &mut impl AnyTx,
    ctx: &AuditContext,
    event: AuditEvent,
) -> AppResult<()> {
    let (actor_type, actor_id) = event.actor.unwrap_or(ctx.actor).parts();
    diesel::insert_into(platform_audit_log::table)
        .values((
            platform_audit_log::id.eq(Uuid::now_v7()),
            platform_audit_log::actor_type.eq(actor_type),
            platform_audit_log::actor_id.eq(actor_id),
            platform_audit_log::action.eq(event.action.as_str()),
            platform_audit_log::target_type.eq(event.target_type),
            platform_audit_log::target_id.eq(event.target_id),
            platform_audit_log::ip.eq(&ctx.ip),
            platform_audit_log::request_id.eq(&ctx.request_id),
            platform_audit_log::details.eq(event.details),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

//! Platform admins' reads of tenant data, written to each tenant's audit log.
//!
//! An admin reaches a tenant's rows either through `PlatformScope::run_in_tenant` (whose
//! operation records the access in the same transaction) or through the nested fields of a tenant's objects
//! (`context::reader_for`, e.g. `adminTenants { edges { node { integrations } } }`). The latter
//! note the tenant here; once the request has run, one `platform.tenant_read` row per tenant
//! is written, with the admin as actor and the operation's name. If that write fails, the
//! answer is withheld: no admin read goes unrecorded.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use uuid::Uuid;

use crate::{
    auth::Principal,
    db::{Db, ScopedFutureExt, SystemReason, audit::Actor},
    error::AppResult,
    ops::platform,
    request::RequestMeta,
};

/// The tenants a platform admin's request read through nested fields; shared with the HTTP
/// handler.
#[derive(Debug, Clone, Default)]
pub struct AdminReads(Arc<Mutex<Reads>>);

#[derive(Debug, Default)]
struct Reads {
    noted: BTreeSet<Uuid>,
    /// Already in the tenant's log (written by `PlatformScope::tenant_tx`).
    recorded: BTreeSet<Uuid>,
}

impl AdminReads {
    /// A nested field read `tenant_id`'s rows.
    pub fn note(&self, tenant_id: Uuid) {
        if let Ok(mut reads) = self.0.lock() {
            reads.noted.insert(tenant_id);
        }
    }

    /// The request's access to `tenant_id` is in that tenant's log already.
    pub fn recorded(&self, tenant_id: Uuid) {
        if let Ok(mut reads) = self.0.lock() {
            reads.recorded.insert(tenant_id);
        }
    }

    /// The tenants read and not yet recorded.
    fn take(&self) -> Vec<Uuid> {
        self.0
            .lock()
            .map(|mut reads| {
                let reads = std::mem::take(&mut *reads);
                reads.noted.difference(&reads.recorded).copied().collect()
            })
            .unwrap_or_default()
    }
}

/// After the request ran: one audit row per tenant the admin read, in one transaction.
pub async fn record(
    db: &Db,
    principal: &Principal,
    meta: &RequestMeta,
    operation: &str,
    reads: &AdminReads,
) -> AppResult<()> {
    let Principal::PlatformAdmin { admin_id, .. } = principal else {
        return Ok(());
    };
    let tenants = reads.take();
    if tenants.is_empty() {
        return Ok(());
    }
    let ctx = meta.audit(Actor::PlatformAdmin(*admin_id));
    let operation = operation.to_owned();
    crate::ops::in_system(db, SystemReason::PlatformAdmin, ctx, move |_| {
        async move { Ok(platform::tenants_read(tenants, &operation)) }.scope_boxed()
    })
    .await?;
    Ok(())
}

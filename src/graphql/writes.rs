//! What a mutation does besides its resolvers. Its request is marked as one by the guards
//! (`context::request`, through which every guard passes); its permission checks then read
//! fresh rows (`context::access`); and once it has run, this replica drops the cached
//! TenantContexts it may have made stale, before answering, so its own client reads its
//! writes. The other replicas hear of the change from the database triggers (`invalidation`).
//!
//! This is done around the execution (`http::graphql_http`), not as an async-graphql
//! extension: an extension is called for every field of every response.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use crate::{auth::Principal, context_cache::ContextCache};

/// Set when a mutation's resolver passed a guard; shared with the HTTP handler.
#[derive(Debug, Clone, Default)]
pub struct WriteMark(Arc<AtomicBool>);

impl WriteMark {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_marked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// After the request ran: drop what a mutation may have made stale on this replica.
pub fn after_execution(contexts: &ContextCache, principal: &Principal, mark: &WriteMark) {
    if !mark.is_marked() {
        return;
    }
    match principal {
        Principal::Member(m) => contexts.invalidate_tenant(m.tenant_id),
        Principal::ApiKey(k) => contexts.invalidate_tenant(k.tenant_id),
        // A platform admin may have changed any tenant.
        Principal::PlatformAdmin { .. } => contexts.clear(),
        // Signup, invitations, password resets: nothing of theirs is cached yet.
        Principal::Anonymous => {}
    }
}

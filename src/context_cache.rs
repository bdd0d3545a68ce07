//! The TenantContext cache: per replica, per (tenant, user), the user's tenant-wide permissions
//! and product access, so that the hottest path (`tenantContext`, and every permission guard)
//! reads no rows when nothing changed; and per tenant its own row (name, branding, features,
//! limits), which `tenant`, `me { tenant }` and `tenantConfig` serve.
//!
//! Correctness rests on invalidation, not on the TTL (`HUB_CONTEXT_CACHE_MS` is a backstop):
//! * PostgreSQL triggers on roles, role assignments, product access, users, products
//!   (migration 0006) and tenants (0009) send `NOTIFY tenant_hub_invalidate` with the tenant,
//!   whoever writes (any replica, the CLI, SQL by hand); every replica's listener
//!   (`invalidation`) drops that tenant's entries on commit;
//! * a replica drops the tenant's entries itself right after a mutation it ran, so its own
//!   client reads its writes without waiting for the notification;
//! * a replica that loses its listener clears everything.
//!
//! Each tenant has a generation, bumped by every invalidation. A reader takes a [`Ticket`]
//! before it reads the database and stores its answer under that ticket; an answer read across
//! an invalidation carries an old generation and is never served.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use dashmap::DashMap;
use uuid::Uuid;

use crate::{db::models::TenantRow, domain::ProductAccess};

/// Above this many entries the cache is cleared rather than grown.
const MAX_ENTRIES: usize = 200_000;

/// What a member may do: the TenantContext without its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The union of the permissions of the user's tenant-wide roles, sorted.
    pub permissions: Arc<Vec<String>>,
    /// The effective access to every active product, ordered by product id.
    pub products: Vec<(String, ProductAccess)>,
}

/// The generations current when a reader started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    epoch: u64,
    generation: u64,
}

struct Entry<T> {
    ticket: Ticket,
    at: Instant,
    value: Arc<T>,
}

pub struct ContextCache {
    ttl: Duration,
    entries: DashMap<(Uuid, Uuid), Entry<Access>>,
    tenants: DashMap<Uuid, Entry<TenantRow>>,
    generations: DashMap<Uuid, u64>,
    /// Bumped by [`ContextCache::clear`]: every entry stored before is stale.
    epoch: AtomicU64,
}

impl ContextCache {
    pub fn new(ttl: Duration) -> ContextCache {
        ContextCache {
            ttl,
            entries: DashMap::new(),
            tenants: DashMap::new(),
            generations: DashMap::new(),
            epoch: AtomicU64::new(0),
        }
    }

    /// Take this before reading the database; store the answer with it.
    pub fn ticket(&self, tenant_id: Uuid) -> Ticket {
        // The epoch first: a clear() between the two reads then only makes the ticket stale.
        let epoch = self.epoch.load(Ordering::Acquire);
        let generation = self.generations.get(&tenant_id).map_or(0, |g| *g);
        Ticket { epoch, generation }
    }

    /// The cached access of `user_id` in `tenant_id`, if it is current.
    pub fn get(&self, tenant_id: Uuid, user_id: Uuid) -> Option<Arc<Access>> {
        let entry = self.entries.get(&(tenant_id, user_id))?;
        self.current(tenant_id, &entry)
    }

    /// The cached row of `tenant_id`, if it is current.
    pub fn tenant(&self, tenant_id: Uuid) -> Option<Arc<TenantRow>> {
        let entry = self.tenants.get(&tenant_id)?;
        self.current(tenant_id, &entry)
    }

    fn current<T>(&self, tenant_id: Uuid, entry: &Entry<T>) -> Option<Arc<T>> {
        (entry.ticket == self.ticket(tenant_id) && entry.at.elapsed() < self.ttl)
            .then(|| entry.value.clone())
    }

    /// Stores a tenant's row read under `ticket` (ignored when caching is off).
    pub fn put_tenant(&self, ticket: Ticket, row: Arc<TenantRow>) {
        let tenant_id = row.id;
        if self.ttl.is_zero() || ticket != self.ticket(tenant_id) {
            return;
        }
        if self.tenants.len() >= MAX_ENTRIES {
            self.tenants.clear();
        }
        self.tenants.insert(
            tenant_id,
            Entry {
                ticket,
                at: Instant::now(),
                value: row,
            },
        );
    }

    /// Stores an answer read under `ticket` (ignored when caching is off).
    pub fn put(&self, tenant_id: Uuid, user_id: Uuid, ticket: Ticket, access: Arc<Access>) {
        if self.ttl.is_zero() || ticket != self.ticket(tenant_id) {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(
            (tenant_id, user_id),
            Entry {
                ticket,
                at: Instant::now(),
                value: access,
            },
        );
    }

    /// Everything cached for `tenant_id` is stale from now on.
    pub fn invalidate_tenant(&self, tenant_id: Uuid) {
        if self.generations.len() >= MAX_ENTRIES {
            self.clear();
        }
        *self.generations.entry(tenant_id).or_insert(0) += 1;
    }

    /// Everything cached is stale from now on.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
        self.tenants.clear();
        self.generations.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(p: &str) -> Arc<Access> {
        Arc::new(Access {
            permissions: Arc::new(vec![p.to_owned()]),
            products: vec![],
        })
    }

    #[test]
    fn an_answer_is_served_until_its_tenant_is_invalidated() {
        let cache = ContextCache::new(Duration::from_secs(60));
        let (t, u, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        cache.put(t, u, cache.ticket(t), access("a"));
        cache.put(other, u, cache.ticket(other), access("b"));
        assert_eq!(*cache.get(t, u).unwrap().permissions, ["a"]);
        cache.invalidate_tenant(t);
        assert!(cache.get(t, u).is_none());
        assert_eq!(*cache.get(other, u).unwrap().permissions, ["b"]);
        cache.clear();
        assert!(cache.get(other, u).is_none());
    }

    #[test]
    fn an_answer_read_across_an_invalidation_is_not_stored() {
        let cache = ContextCache::new(Duration::from_secs(60));
        let (t, u) = (Uuid::new_v4(), Uuid::new_v4());
        let ticket = cache.ticket(t);
        cache.invalidate_tenant(t); // a write committed while the reader was reading
        cache.put(t, u, ticket, access("stale"));
        assert!(cache.get(t, u).is_none());
        let ticket = cache.ticket(t);
        cache.clear();
        cache.put(t, u, ticket, access("stale"));
        assert!(cache.get(t, u).is_none());
    }

    #[test]
    fn nothing_is_kept_when_the_ttl_is_zero() {
        let cache = ContextCache::new(Duration::ZERO);
        let (t, u) = (Uuid::new_v4(), Uuid::new_v4());
        cache.put(t, u, cache.ticket(t), access("a"));
        assert!(cache.get(t, u).is_none());
    }
}

//! This replica's cache of registered OAuth clients, so the token, introspection and
//! revocation endpoints authenticate a product without a database round trip per request. An
//! entry lives HUB_SESSION_CACHE_MS (as the session cache: a change made through another
//! replica is seen within that time); a change through this replica (`ops::oauth_clients`:
//! update, secret rotation, deletion) drops it here at once and on the other replicas through
//! `invalidation` (NOTIFY). Unknown ids are not cached.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use uuid::Uuid;

use crate::db::models::OAuthClientRow;

/// The most clients kept; past it the cache starts over (there are a few per product).
const MAX_ENTRIES: usize = 10_000;

pub struct ClientCache {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, (Instant, Arc<OAuthClientRow>)>>,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> ClientCache {
        ClientCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Instant, Arc<OAuthClientRow>)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client `id` if it was read less than the cache's lifetime ago.
    pub fn get(&self, id: Uuid) -> Option<Arc<OAuthClientRow>> {
        let entries = self.lock();
        let (at, row) = entries.get(&id)?;
        (at.elapsed() < self.ttl).then(|| row.clone())
    }

    pub fn put(&self, row: OAuthClientRow) -> Arc<OAuthClientRow> {
        let row = Arc::new(row);
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(row.id, (Instant::now(), row.clone()));
        row
    }

    pub fn forget(&self, id: Uuid) {
        self.lock().remove(&id);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

//! A short-lived, per-replica cache of session states, so that not every request reads the
//! session, user and tenant rows. Entries live at most `HUB_SESSION_CACHE_MS`; revoking a session
//! on this replica drops its entry at once.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use uuid::Uuid;

use crate::db::models::session::SessionState;

/// Above this many entries the cache is cleared rather than grown.
const MAX_ENTRIES: usize = 100_000;

/// What a token claims: the cached answer is only valid for the same three ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionKey {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub session_id: Uuid,
}

pub struct SessionCache {
    ttl: Duration,
    entries: DashMap<Uuid, (SessionKey, Instant, SessionState)>,
}

impl SessionCache {
    pub fn new(ttl: Duration) -> SessionCache {
        SessionCache {
            ttl,
            entries: DashMap::new(),
        }
    }

    /// The cached state of a session, if it was read for exactly this tenant and user.
    pub fn get(&self, key: SessionKey) -> Option<SessionState> {
        let entry = self.entries.get(&key.session_id)?;
        let (cached_key, at, state) = entry.value();
        (*cached_key == key && at.elapsed() < self.ttl).then(|| state.clone())
    }

    pub fn put(&self, key: SessionKey, state: SessionState) {
        if self.ttl.is_zero() {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries
            .insert(key.session_id, (key, Instant::now(), state));
    }

    pub fn invalidate(&self, session_id: Uuid) {
        self.entries.remove(&session_id);
    }

    /// Drops everything (e.g. when a tenant's status changes).
    pub fn clear(&self) {
        self.entries.clear();
    }
}

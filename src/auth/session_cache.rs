//! A short-lived, per-replica cache of session states, so that not every request reads the
//! session, user and tenant rows. Entries live at most `HUB_SESSION_CACHE_MS`; revoking a session
//! on this replica drops its entry at once.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use uuid::Uuid;

use crate::db::models::session::SessionState;

/// Above this many entries the cache is cleared rather than grown.
const MAX_ENTRIES: usize = 100_000;

pub struct SessionCache {
    ttl: Duration,
    entries: DashMap<Uuid, (Instant, SessionState)>,
}

impl SessionCache {
    pub fn new(ttl: Duration) -> SessionCache {
        SessionCache {
            ttl,
            entries: DashMap::new(),
        }
    }

    pub fn get(&self, session_id: Uuid) -> Option<SessionState> {
        let entry = self.entries.get(&session_id)?;
        let (at, state) = entry.value();
        if at.elapsed() < self.ttl {
            Some(state.clone())
        } else {
            None
        }
    }

    pub fn put(&self, session_id: Uuid, state: SessionState) {
        if self.ttl.is_zero() {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(session_id, (Instant::now(), state));
    }

    pub fn invalidate(&self, session_id: Uuid) {
        self.entries.remove(&session_id);
    }

    /// Drops everything (e.g. when a tenant's status changes).
    pub fn clear(&self) {
        self.entries.clear();
    }
}

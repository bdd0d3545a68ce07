//! Keyset pages over `(created_at, id)`: stable under inserts, and an index on
//! `(tenant_id, created_at, id)` serves them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A page request: at most `limit` rows after `after`. Queries load `limit + 1` rows to tell
/// whether another page follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

impl PageRequest {
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

/// Builds the keyset condition `(created_at, id) > (at, id)` for a diesel table.
#[macro_export]
macro_rules! after_key {
    ($query:expr, $created:expr, $id:expr, $after:expr) => {{
        let mut q = $query;
        if let Some((at, id)) = $after {
            q = q.filter($created.gt(at).or($created.eq(at).and($id.gt(id))));
        }
        q
    }};
}

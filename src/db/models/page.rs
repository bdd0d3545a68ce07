//! Keyset pages over `(created_at, id)`: stable under inserts, and an index on
//! `(tenant_id, created_at, id)` serves them. Every list of the API reads its rows the same way:
//! a [`PageRequest`] in, a [`Listed`] page out (the rows and, only when asked, their count), the
//! rows carrying their key ([`Keyset`]) for the cursors.

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::AppResult;

/// A page request: at most `limit` rows after `after`. Queries load `limit + 1` rows to tell
/// whether another page follows. `count`: also count every row of the list (one more
/// statement, pipelined with the page where the scope allows it); asked only when the caller
/// shows the count (GraphQL's `totalCount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub count: bool,
}

impl PageRequest {
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

/// A row listed in keyset pages: the `(created_at, id)` its page is ordered by and its cursor
/// encodes.
pub trait Keyset {
    fn keyset(&self) -> (DateTime<Utc>, Uuid);
}

/// One page read for a [`PageRequest`]: up to `limit + 1` rows in key order, and the count of
/// the whole list when the request asked for it.
#[derive(Debug, Clone)]
pub struct Listed<R> {
    pub rows: Vec<R>,
    pub total: Option<i64>,
}

impl<R> Listed<R> {
    /// Reads a page with `rows` and, only when `page.count`, the count with `count`: both
    /// futures polled together, so on two readers of one `TenantTx` their statements are
    /// pipelined (one wait). A count not asked for is never polled, so never sent.
    pub async fn read(
        page: PageRequest,
        rows: impl Future<Output = AppResult<Vec<R>>>,
        count: impl Future<Output = AppResult<i64>>,
    ) -> AppResult<Listed<R>> {
        match page.count {
            true => {
                let (rows, total) = futures_util::try_join!(rows, count)?;
                Ok(Listed {
                    rows,
                    total: Some(total),
                })
            }
            false => Ok(Listed {
                rows: rows.await?,
                total: None,
            }),
        }
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

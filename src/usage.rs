//! Usage metering: API calls are counted per tenant in memory and written to the database in
//! batches (one statement per flush, never a write per request). A failed flush keeps its
//! counts for the next one, and the server flushes once more when it shuts down cleanly.

use std::sync::Arc;

use chrono::Utc;
use dashmap::DashMap;
use uuid::Uuid;

use crate::db::SystemReason;
use crate::{
    db::{Db, ScopedFutureExt, models::usage},
    error::AppResult,
    metrics::Metrics,
};

pub struct UsageMeter {
    pending: DashMap<Uuid, i64>,
    metrics: Arc<Metrics>,
}

impl UsageMeter {
    pub fn new(metrics: Arc<Metrics>) -> UsageMeter {
        UsageMeter {
            pending: DashMap::new(),
            metrics,
        }
    }

    /// Counts one API call of `tenant`.
    pub fn record_call(&self, tenant: Uuid) {
        *self.pending.entry(tenant).or_insert(0) += 1;
        self.metrics.tenant_call(tenant);
    }

    /// Calls counted but not yet written.
    pub fn pending(&self, tenant: Uuid) -> i64 {
        self.pending.get(&tenant).map(|n| *n).unwrap_or(0)
    }

    /// Writes the counts gathered so far; returns how many calls were written.
    pub async fn flush(&self, db: &Db) -> AppResult<i64> {
        let tenants: Vec<Uuid> = self.pending.iter().map(|e| *e.key()).collect();
        let batch: Vec<(Uuid, i64)> = tenants
            .into_iter()
            .filter_map(|t| self.pending.remove(&t))
            .filter(|(_, n)| *n > 0)
            .collect();
        if batch.is_empty() {
            return Ok(0);
        }
        let day = Utc::now().date_naive();
        let result = db
            .system_tx(SystemReason::Housekeeping, |conn| {
                usage::add_api_calls(conn, day, &batch).scope_boxed()
            })
            .await;
        match result {
            Ok(()) => Ok(batch.iter().map(|(_, n)| n).sum()),
            Err(e) => {
                for (tenant, n) in batch {
                    *self.pending.entry(tenant).or_insert(0) += n;
                }
                Err(e)
            }
        }
    }
}

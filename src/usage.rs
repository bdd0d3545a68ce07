//! Usage metering: API calls are counted per tenant in memory and written to the database in
//! batches (one statement per flush, never a write per request). A failed flush keeps its
//! counts for the next one, and the server flushes once more when it shuts down cleanly.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use dashmap::DashMap;
use uuid::Uuid;

use crate::db::{SystemReason, SystemTx};
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

    /// Takes the counts gathered so far, to be written by the caller ([`PendingCalls`]); if
    /// the write fails they go back with [`UsageMeter::restore`].
    pub fn take(&self) -> PendingCalls {
        let tenants: Vec<Uuid> = self.pending.iter().map(|e| *e.key()).collect();
        PendingCalls {
            day: Utc::now().date_naive(),
            counts: tenants
                .into_iter()
                .filter_map(|t| self.pending.remove(&t))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }

    /// Puts back counts whose write failed, for the next flush.
    pub fn restore(&self, calls: PendingCalls) {
        for (tenant, n) in calls.counts {
            *self.pending.entry(tenant).or_insert(0) += n;
        }
    }

    /// Writes the counts gathered so far in a transaction of their own; returns how many
    /// calls were written. (`adminFlushUsage` writes them in its audited transaction instead,
    /// through `take`, `PendingCalls::write` and `restore`.)
    pub async fn flush(&self, db: &Db) -> AppResult<i64> {
        let calls = self.take();
        if calls.counts.is_empty() {
            return Ok(0);
        }
        let result = db
            .system_tx(SystemReason::Housekeeping, |conn| {
                calls.write(conn).scope_boxed()
            })
            .await;
        match result {
            Ok(n) => Ok(n),
            Err(e) => {
                self.restore(calls);
                Err(e)
            }
        }
    }
}

/// API-call counts taken from the meter and not yet written: per tenant, for one day.
pub struct PendingCalls {
    day: NaiveDate,
    counts: Vec<(Uuid, i64)>,
}

impl PendingCalls {
    /// How many calls these are.
    pub fn total(&self) -> i64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }

    /// Adds them to the day's counters (one statement); returns [`PendingCalls::total`].
    pub async fn write(&self, tx: &mut SystemTx) -> AppResult<i64> {
        usage::add_api_calls(tx, self.day, &self.counts).await?;
        Ok(self.total())
    }
}

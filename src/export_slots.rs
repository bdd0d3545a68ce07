//! Caps on the NDJSON exports (`/export/*.ndjson`). Each export holds a pooled connection for
//! its whole stream, so a few slow readers could take the pool from every other tenant: at most
//! `HUB_EXPORTS_MAX` exports run at once on this replica and `HUB_EXPORTS_PER_TENANT` of one
//! tenant; past either an export is refused (RATE_LIMITED, retry later) before anything is
//! read. An export that is still streaming after `HUB_EXPORT_MAX_SECS` is cut off (the client
//! sees a truncated body, its slot and connection come back).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Seconds a refused export is told to wait before trying again.
const RETRY_AFTER_SECS: u64 = 5;

/// The export slots of this replica.
pub struct ExportSlots {
    global: Arc<Semaphore>,
    per_tenant_max: u32,
    running: Mutex<HashMap<Uuid, u32>>,
}

/// A running export's slot; dropping it frees the slot.
pub struct ExportSlot {
    slots: Arc<ExportSlots>,
    tenant_id: Uuid,
    _permit: OwnedSemaphorePermit,
}

impl ExportSlots {
    pub fn new(global_max: u32, per_tenant_max: u32) -> Arc<ExportSlots> {
        Arc::new(ExportSlots {
            global: Arc::new(Semaphore::new(global_max.max(1) as usize)),
            per_tenant_max: per_tenant_max.max(1),
            running: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for an export of `tenant_id`, or RATE_LIMITED when the tenant or the replica
    /// has as many exports running as allowed.
    pub fn acquire(self: &Arc<Self>, tenant_id: Uuid) -> AppResult<ExportSlot> {
        let mut running = self.lock();
        let of_tenant = running.get(&tenant_id).copied().unwrap_or(0);
        if of_tenant >= self.per_tenant_max {
            return Err(refused(
                "this tenant has as many exports running as allowed",
            ));
        }
        let permit = self
            .global
            .clone()
            .try_acquire_owned()
            .map_err(|_| refused("too many exports are running"))?;
        running.insert(tenant_id, of_tenant + 1);
        Ok(ExportSlot {
            slots: self.clone(),
            tenant_id,
            _permit: permit,
        })
    }

    /// Exports running now, all tenants together.
    pub fn running(&self) -> u32 {
        self.lock().values().sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, u32>> {
        // Plain counters: still usable after a panic elsewhere.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ExportSlot {
    fn drop(&mut self) {
        let mut running = self.slots.lock();
        if let Some(n) = running.get_mut(&self.tenant_id) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.tenant_id);
            }
        }
    }
}

fn refused(why: &str) -> AppError {
    let mut e = AppError::rate_limited(RETRY_AFTER_SECS);
    e.message = format!("{why}; retry in {RETRY_AFTER_SECS} s");
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_capped_per_tenant_and_in_all_and_slots_come_back() {
        let slots = ExportSlots::new(2, 1);
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let first = slots.acquire(a).unwrap();
        assert!(slots.acquire(a).is_err(), "one per tenant");
        let second = slots.acquire(b).unwrap();
        let refused = slots.acquire(c).err().unwrap();
        assert_eq!(refused.code.as_str(), "RATE_LIMITED");
        assert_eq!(slots.running(), 2);
        drop(first);
        assert!(slots.acquire(c).is_ok(), "a's slot came back");
        drop(second);
        assert_eq!(slots.running(), 0);
    }
}

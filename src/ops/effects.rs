//! Running what a committed operation left for after its commit ([`Effect`]): cache
//! invalidations announced to every replica (`invalidation`), usage alerts handed to their
//! delivery (`alerts`), and platform audit records, which a tenant's transaction cannot write,
//! in their own system transaction. Nothing here runs for a change that was rolled back.

use std::sync::Arc;

use crate::{
    alerts::{self, Alerts},
    db::{
        Db, ScopedFutureExt, SystemReason,
        audit::{self, AuditContext},
    },
    invalidation::{self, Invalidator},
    ops::Effect,
};

/// The services the effects need. Built once by the wiring.
pub struct Effects {
    db: Db,
    invalidator: Arc<Invalidator>,
    alerts: Alerts,
}

impl Effects {
    pub fn new(db: Db, invalidator: Arc<Invalidator>, alerts: Alerts) -> Effects {
        Effects {
            db,
            invalidator,
            alerts,
        }
    }

    /// Runs `effects` in order; a failure is logged, never returned (the change is committed).
    pub async fn run(&self, audit_ctx: &AuditContext, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Invalidate(what) => invalidation::announce(&self.invalidator, what).await,
                Effect::Alerts(raised) => alerts::deliver_later(&self.alerts, raised),
                Effect::PlatformAudit(event) => {
                    let written = self
                        .db
                        .system_tx(SystemReason::PlatformAdmin, |tx| {
                            audit::record_platform(tx, audit_ctx, event).scope_boxed()
                        })
                        .await;
                    if let Err(e) = written {
                        tracing::warn!(
                            code = e.code.as_str(),
                            "cannot write a platform audit record"
                        );
                        e.log_cause();
                    }
                }
            }
        }
    }
}

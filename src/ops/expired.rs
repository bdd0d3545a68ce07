//! The housekeeping loop's sweep of spent sign-in state (`db::models::expired`): pending
//! enterprise sign-ins, second-factor challenges, passkey ceremonies and authorization codes, deleted across
//! tenants an hour after they expired, at most once every [`EVERY`] per replica ([`Sweeper`]).

use chrono::Utc;

use crate::{
    db::{
        Db, ScopedFutureExt, SystemReason,
        models::expired::{self, Swept},
    },
    error::AppResult,
};

/// How long a spent row outlives its expiry.
pub const KEPT_PAST_EXPIRY: chrono::Duration = chrono::Duration::hours(1);
/// The least time between two sweeps of one replica.
pub const EVERY: chrono::Duration = chrono::Duration::minutes(5);

/// The housekeeping loop's pacing of sweeps: it owns one and asks it on every tick.
#[derive(Debug)]
pub struct Sweeper {
    last: std::time::Instant,
}

impl Default for Sweeper {
    fn default() -> Self {
        Self::new()
    }
}

impl Sweeper {
    /// A sweeper whose first sweep is [`EVERY`] from now (a replica starting does no extra work).
    pub fn new() -> Sweeper {
        Sweeper {
            last: std::time::Instant::now(),
        }
    }

    /// Sweeps when the last sweep is [`EVERY`] old; `None` when it was not due.
    pub async fn sweep_if_due(&mut self, db: &Db) -> AppResult<Option<Swept>> {
        let every = EVERY.to_std().unwrap_or_default();
        if self.last.elapsed() < every {
            return Ok(None);
        }
        self.last = std::time::Instant::now();
        sweep(db).await.map(Some)
    }
}

/// Deletes every tenant's spent rows that expired [`KEPT_PAST_EXPIRY`] ago.
pub async fn sweep(db: &Db) -> AppResult<Swept> {
    let before = Utc::now() - KEPT_PAST_EXPIRY;
    let swept = db
        .system_tx(SystemReason::Housekeeping, move |tx| {
            expired::sweep(tx, before).scope_boxed()
        })
        .await?;
    if swept.total() > 0 {
        tracing::info!(
            sso_sign_ins = swept.sso_sign_ins,
            mfa_challenges = swept.mfa_challenges,
            passkey_ceremonies = swept.passkey_ceremonies,
            oauth_codes = swept.oauth_codes,
            "expired sign-in state deleted"
        );
    }
    Ok(swept)
}

//! Limits of password-reset requests: per client IP (a refusal, RATE_LIMITED) and per account
//! (the tenant and the email, whether the account exists or not: further requests get the same
//! answer and send nothing, so the limit neither tells whether an account exists nor lets
//! anyone flood a mailbox). In memory, per replica, like the login limiter.

use std::num::NonZeroU32;

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::error::{AppError, AppResult};

pub struct ResetLimits {
    per_ip: DefaultKeyedRateLimiter<String>,
    per_account: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn per_hour(n: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(n.max(1)).expect("max(1) is non-zero"))
}

impl ResetLimits {
    pub fn new(per_ip_per_hour: u32, per_account_per_hour: u32) -> ResetLimits {
        ResetLimits {
            per_ip: RateLimiter::keyed(per_hour(per_ip_per_hour)),
            per_account: RateLimiter::keyed(per_hour(per_account_per_hour)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts a request from `ip`: RATE_LIMITED with the wait past the limit.
    pub fn check_ip(&self, ip: &str) -> AppResult<()> {
        self.per_ip.check_key(&ip.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            AppError::rate_limited(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        })
    }

    /// Counts a request for `account` (tenant and lower-cased email); false: send nothing.
    pub fn allow_account(&self, account: &str) -> bool {
        self.per_account.check_key(&account.to_owned()).is_ok()
    }

    /// Drops the keys whose allowance is full again (memory stays bounded).
    pub fn evict_idle(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
    }
}

//! Limits failed logins per client IP and per account, with governor.
//!
//! Only failures consume the quota. When a key's quota is spent, the key is locked out until
//! governor says a new attempt would conform; during the lockout even a correct password is
//! refused with RATE_LIMITED, so guessing cannot continue at full speed.

use std::{
    num::NonZeroU32,
    time::{Duration, Instant},
};

use dashmap::DashMap;
use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};

use crate::error::AppError;

pub struct LoginLimiter {
    per_ip: DefaultKeyedRateLimiter<String>,
    per_account: DefaultKeyedRateLimiter<String>,
    lockouts: DashMap<String, Instant>,
    clock: governor::clock::DefaultClock,
}

impl LoginLimiter {
    /// `per_ip` and `per_account` failures per minute, each also the burst.
    pub fn new(per_ip: u32, per_account: u32) -> LoginLimiter {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("max(1) is non-zero"));
        LoginLimiter {
            per_ip: DefaultKeyedRateLimiter::keyed(quota(per_ip)),
            per_account: DefaultKeyedRateLimiter::keyed(quota(per_account)),
            lockouts: DashMap::new(),
            clock: governor::clock::DefaultClock::default(),
        }
    }

    /// Refuses an attempt while the IP or the account is locked out.
    pub fn check(&self, ip: &str, account: &str) -> Result<(), AppError> {
        let now = Instant::now();
        for key in [ip_key(ip), account_key(account)] {
            if let Some(until) = self.lockouts.get(&key).map(|e| *e.value()) {
                if until > now {
                    return Err(AppError::rate_limited(secs_ceil(until - now)));
                }
                self.lockouts.remove(&key);
            }
        }
        Ok(())
    }

    /// Counts a failure; returns RATE_LIMITED when it spent the last allowance.
    pub fn failed(&self, ip: &str, account: &str) -> Result<(), AppError> {
        let clock = &self.clock;
        let mut wait: Option<Duration> = None;
        if let Err(not_until) = self.per_ip.check_key(&ip.to_owned()) {
            wait = Some(not_until.wait_time_from(clock.now()));
            self.lock(ip_key(ip), wait.unwrap_or_default());
        }
        if let Err(not_until) = self.per_account.check_key(&account.to_owned()) {
            let w = not_until.wait_time_from(clock.now());
            self.lock(account_key(account), w);
            wait = Some(wait.map_or(w, |x| x.max(w)));
        }
        if self.lockouts.len() > 100_000 {
            let now = Instant::now();
            self.lockouts.retain(|_, until| *until > now);
            self.per_ip.retain_recent();
            self.per_account.retain_recent();
        }
        match wait {
            Some(w) => Err(AppError::rate_limited(secs_ceil(w))),
            None => Ok(()),
        }
    }

    fn lock(&self, key: String, wait: Duration) {
        self.lockouts
            .insert(key, Instant::now() + wait.max(Duration::from_secs(1)));
    }
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

fn account_key(account: &str) -> String {
    format!("account:{account}")
}

fn secs_ceil(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_its_allowance_of_failures() {
        let limiter = LoginLimiter::new(100, 3);
        for _ in 0..3 {
            limiter.check("1.1.1.1", "t/a@x.io").unwrap();
            limiter.failed("1.1.1.1", "t/a@x.io").unwrap();
        }
        let err = limiter.failed("1.1.1.1", "t/a@x.io").unwrap_err();
        assert!(err.retry_after_secs.unwrap() >= 1);
        assert!(
            limiter.check("2.2.2.2", "t/a@x.io").is_err(),
            "the account is locked from any IP"
        );
        assert!(
            limiter.check("1.1.1.1", "t/b@x.io").is_ok(),
            "other accounts are not"
        );
    }
}

//! Per-tenant rate limiting with governor, before any GraphQL parsing.
//!
//! Each tenant gets its own limiter (governor's keyed limiter has one quota for all keys):
//! `limits.api_calls_per_minute / HUB_REPLICAS` per minute, with a burst of
//! `HUB_RATE_LIMIT_BURST_SECS` seconds of that quota. A limiter whose quota no longer matches the
//! tenant's limit is replaced on the next request. Idle limiters are dropped once their burst has
//! refilled (nothing is lost: a new limiter starts full), so memory follows the active tenants.
//! Requests without a token are limited per client IP by one keyed limiter.

use std::{
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use dashmap::DashMap;
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::{StateInformationMiddleware, StateSnapshot},
    state::{InMemoryState, NotKeyed, keyed::DefaultKeyedStateStore},
};
use uuid::Uuid;

type DirectLimiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;
type KeyedLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// What the client is told: the `RateLimit-*` headers, and `Retry-After` when refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests per minute (this replica's share).
    pub limit: u32,
    pub remaining: u32,
    /// The burst: what `remaining` counts down from.
    pub burst: u32,
    /// Seconds until the burst is full again (allowed) or until a retry can pass (refused).
    pub reset_secs: u64,
}

struct TenantLimiter {
    per_minute: u32,
    burst: u32,
    limiter: DirectLimiter,
    /// Milliseconds since the limiter set's epoch, at the last request.
    last_used_ms: AtomicU64,
}

pub struct RateLimits {
    burst_secs: u32,
    replicas: u32,
    epoch: Instant,
    tenants: DashMap<Uuid, Arc<TenantLimiter>>,
    anonymous: KeyedLimiter,
    anonymous_per_minute: u32,
    /// Anonymous calls that hash a password (sign-up, password reset, accepting an invitation),
    /// per client network: argon2 is the expensive part of the hub, and the hashing slots are
    /// shared with every tenant's logins.
    hashing: KeyedLimiter,
    hashing_per_minute: u32,
    /// One clock for the refusals' wait times (creating a clock per call is expensive).
    clock: DefaultClock,
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = NonZeroU32::new(per_minute.max(1)).expect("max(1) is non-zero");
    let burst = NonZeroU32::new(burst.max(1)).expect("max(1) is non-zero");
    Quota::per_minute(per_minute).allow_burst(burst)
}

fn secs_ceil(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl RateLimits {
    pub fn new(burst_secs: u32, replicas: u32, anonymous_per_minute: u32) -> RateLimits {
        RateLimits::with_hashing(burst_secs, replicas, anonymous_per_minute, 20)
    }

    /// [`RateLimits::new`] with `hashing_per_minute` anonymous password hashes (and burst) per
    /// client network.
    pub fn with_hashing(
        burst_secs: u32,
        replicas: u32,
        anonymous_per_minute: u32,
        hashing_per_minute: u32,
    ) -> RateLimits {
        RateLimits {
            burst_secs: burst_secs.max(1),
            replicas: replicas.max(1),
            epoch: Instant::now(),
            tenants: DashMap::new(),
            anonymous: RateLimiter::keyed(quota(anonymous_per_minute, anonymous_per_minute))
                .with_middleware::<StateInformationMiddleware>(),
            anonymous_per_minute: anonymous_per_minute.max(1),
            hashing: RateLimiter::keyed(quota(hashing_per_minute, hashing_per_minute))
                .with_middleware::<StateInformationMiddleware>(),
            hashing_per_minute: hashing_per_minute.max(1),
            clock: DefaultClock::default(),
        }
    }

    /// This replica's share of a tenant's per-minute quota, and the burst that goes with it.
    pub fn share(&self, tenant_per_minute: u32) -> (u32, u32) {
        let per_minute = tenant_per_minute.max(1).div_ceil(self.replicas);
        let burst = ((per_minute as u64 * self.burst_secs as u64) / 60).max(1) as u32;
        (per_minute, burst)
    }

    /// Counts one request of `tenant`, whose limit is `tenant_per_minute`.
    pub fn check_tenant(&self, tenant: Uuid, tenant_per_minute: u32) -> Decision {
        let (per_minute, burst) = self.share(tenant_per_minute);
        let limiter = {
            let current = self.tenants.get(&tenant).map(|l| l.clone());
            match current {
                Some(l) if l.per_minute == per_minute => l,
                _ => {
                    let fresh = Arc::new(TenantLimiter {
                        per_minute,
                        burst,
                        limiter: RateLimiter::direct(quota(per_minute, burst))
                            .with_middleware::<StateInformationMiddleware>(),
                        last_used_ms: AtomicU64::new(0),
                    });
                    self.tenants.insert(tenant, fresh.clone());
                    fresh
                }
            }
        };
        limiter
            .last_used_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        let replenish = Duration::from_secs(60) / per_minute;
        match limiter.limiter.check() {
            Ok(snapshot) => allowed(&snapshot, per_minute, limiter.burst, replenish),
            Err(not_until) => Decision {
                allowed: false,
                limit: per_minute,
                remaining: 0,
                burst: limiter.burst,
                reset_secs: secs_ceil(not_until.wait_time_from(self.clock.now())).max(1),
            },
        }
    }

    /// Counts one request without a token from `ip`.
    pub fn check_anonymous(&self, ip: &str) -> Decision {
        let per_minute = self.anonymous_per_minute;
        let replenish = Duration::from_secs(60) / per_minute;
        match self.anonymous.check_key(&ip.to_owned()) {
            Ok(snapshot) => allowed(&snapshot, per_minute, per_minute, replenish),
            Err(not_until) => Decision {
                allowed: false,
                limit: per_minute,
                remaining: 0,
                burst: per_minute,
                reset_secs: secs_ceil(not_until.wait_time_from(self.clock.now())).max(1),
            },
        }
    }

    /// Counts one anonymous call from `ip` that is about to hash a password; a refusal is
    /// RATE_LIMITED with its wait. Keyed by network (an IPv4 address, an IPv6 /64), as the
    /// login limiter is.
    pub fn check_anonymous_hashing(&self, ip: &str) -> crate::error::AppResult<()> {
        let key = crate::auth::login_limiter::network(ip);
        match self.hashing.check_key(&key) {
            Ok(_) => Ok(()),
            Err(not_until) => {
                let wait = secs_ceil(not_until.wait_time_from(self.clock.now())).max(1);
                tracing::info!(network = %key, per_minute = self.hashing_per_minute, "anonymous hashing refused");
                Err(crate::error::AppError::rate_limited(wait))
            }
        }
    }

    /// Drops limiters idle for longer than it takes their burst to refill.
    pub fn evict_idle(&self) -> usize {
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        let before = self.tenants.len();
        self.tenants.retain(|_, l| {
            let refill_ms = (60_000u64 * l.burst as u64).div_ceil(l.per_minute as u64);
            now_ms.saturating_sub(l.last_used_ms.load(Ordering::Relaxed)) <= refill_ms
        });
        self.anonymous.retain_recent();
        self.anonymous.shrink_to_fit();
        self.hashing.retain_recent();
        self.hashing.shrink_to_fit();
        before - self.tenants.len()
    }

    /// Replaces a tenant's limiter at once (its limit changed on this replica).
    pub fn forget(&self, tenant: Uuid) {
        self.tenants.remove(&tenant);
    }

    pub fn tenants_tracked(&self) -> usize {
        self.tenants.len()
    }
}

fn allowed(snapshot: &StateSnapshot, per_minute: u32, burst: u32, replenish: Duration) -> Decision {
    let remaining = snapshot.remaining_burst_capacity();
    let missing = burst.saturating_sub(remaining);
    Decision {
        allowed: true,
        limit: per_minute,
        remaining,
        burst,
        reset_secs: secs_ceil(replenish * missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_its_burst_then_is_refused_while_others_pass() {
        let limits = RateLimits::new(10, 1, 100);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        // 60 per minute, 10 seconds of burst: 10 requests at once.
        for i in 0..10 {
            let d = limits.check_tenant(a, 60);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 9 - i);
        }
        let refused = limits.check_tenant(a, 60);
        assert!(!refused.allowed);
        assert_eq!(refused.reset_secs, 1, "one cell comes back every second");
        assert!(limits.check_tenant(b, 60).allowed);
        // A raised limit replaces the limiter: the next request passes.
        assert!(limits.check_tenant(a, 600).allowed);
    }

    #[test]
    fn anonymous_answers_count_down_what_remains() {
        let limits = RateLimits::new(10, 1, 3);
        let first = limits.check_anonymous("192.0.2.1");
        assert_eq!((first.allowed, first.limit, first.remaining), (true, 3, 2));
        assert!(first.reset_secs >= 1, "{first:?}");
        let second = limits.check_anonymous("192.0.2.1");
        assert_eq!(second.remaining, 1);
        assert_eq!(limits.check_anonymous("192.0.2.1").remaining, 0);
        let refused = limits.check_anonymous("192.0.2.1");
        assert!(!refused.allowed && refused.reset_secs >= 1, "{refused:?}");
        // Another address has its own allowance.
        assert_eq!(limits.check_anonymous("192.0.2.2").remaining, 2);
    }

    #[test]
    fn anonymous_hashing_has_its_own_allowance_per_network() {
        let limits = RateLimits::with_hashing(10, 1, 100, 2);
        assert!(limits.check_anonymous_hashing("2001:db8:1:2::1").is_ok());
        assert!(limits.check_anonymous_hashing("2001:db8:1:2::ffff").is_ok());
        let refused = limits
            .check_anonymous_hashing("2001:db8:1:2::7")
            .unwrap_err();
        assert_eq!(refused.code.as_str(), "RATE_LIMITED");
        assert!(limits.check_anonymous_hashing("2001:db8:1:3::1").is_ok());
        assert!(limits.check_anonymous("2001:db8:1:2::1").allowed);
    }

    #[test]
    fn replicas_share_the_quota() {
        let limits = RateLimits::new(10, 3, 100);
        assert_eq!(limits.share(600), (200, 33));
        assert_eq!(limits.share(1), (1, 1));
    }

    #[test]
    fn idle_limiters_are_evicted_once_refilled() {
        let limits = RateLimits::new(1, 1, 100);
        limits.check_tenant(Uuid::new_v4(), 6000);
        assert_eq!(limits.tenants_tracked(), 1);
        // A burst of 100 at 100/s refills in one second.
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(limits.evict_idle(), 1);
        assert_eq!(limits.tenants_tracked(), 0);
    }
}

//! Limits password guessing (member logins, `adminLogin`, API keys) without handing attackers
//! a way to lock the rightful owner out.
//!
//! Three rules, all in memory per replica:
//!
//! * **Per account, a progressive delay.** The first `free_failures` failures cost nothing;
//!   each one after that makes the account wait `base_delay`, doubling with every further
//!   failure up to `max_delay`. Attempts during the wait are refused (RATE_LIMITED with
//!   `retryAfter`) before any password is checked, so guessing slows to one try per
//!   `max_delay`; once the wait is over the right password works again, whoever failed before.
//!   A success clears the account; so do `4 × max_delay` without failures.
//! * **Per known network, its own delay.** A client network that logged in to an account
//!   successfully (within [`KNOWN_FOR`]) is known to that account: its attempts are held to its
//!   own delay, not to the one that failures from elsewhere built up, so an attacker who keeps
//!   the account waiting does not keep its owner out.
//! * **Per client network, a hard limit.** `per_network_per_minute` failures at once, then one
//!   every `60 s / per_network_per_minute` (a token bucket); past it every attempt of that network
//!   is refused, right password or not. A network is an IPv4 address or an IPv6 /64 (one host
//!   can rotate through a /64 at will).
//!
//! Memory is bounded: each table is an LRU of at most `capacity` entries, and entries whose
//! state has decayed (a full bucket, a forgotten account) are pruned every minute.

use std::{
    net::IpAddr,
    num::NonZeroUsize,
    sync::Mutex,
    time::{Duration, Instant},
};

use lru::LruCache;

use crate::error::AppError;

/// How long a network that logged in to an account stays known to it.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Entries per table when not told otherwise (about 100 bytes each).
pub const DEFAULT_CAPACITY: usize = 100_000;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The limiter's settings (`HUB_LOGIN_*`).
#[derive(Debug, Clone)]
pub struct LimiterConfig {
    /// Failures a client network may have at once; it regains one every minute / this.
    pub per_network_per_minute: u32,
    /// Failures of an account before delays start.
    pub free_failures: u32,
    /// The first delay; doubles with each further failure.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Entries per table (networks, accounts, known networks).
    pub capacity: usize,
}

/// Failures of an account (or of an account from one known network).
#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    last_failure: Instant,
    /// No attempt before this.
    not_before: Instant,
}

/// A client network's allowance of failures.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Tables {
    networks: LruCache<String, Bucket>,
    accounts: LruCache<String, Backoff>,
    /// `(account, network)`: the backoff of a known network, or when it was last known.
    pairs: LruCache<(String, String), Backoff>,
    known: LruCache<(String, String), Instant>,
    pruned_at: Instant,
}

pub struct LoginLimiter {
    cfg: LimiterConfig,
    tables: Mutex<Tables>,
}

impl LoginLimiter {
    pub fn new(cfg: LimiterConfig) -> LoginLimiter {
        let cap = NonZeroUsize::new(cfg.capacity.max(1)).expect("max(1) is non-zero");
        LoginLimiter {
            tables: Mutex::new(Tables {
                networks: LruCache::new(cap),
                accounts: LruCache::new(cap),
                pairs: LruCache::new(cap),
                known: LruCache::new(cap),
                pruned_at: Instant::now(),
            }),
            cfg,
        }
    }

    /// Refuses an attempt while the client's network is over its limit or the account (as
    /// seen from that network) must still wait. Checks nothing else and costs no I/O.
    pub fn check(&self, ip: &str, account: &str) -> Result<(), AppError> {
        self.check_at(ip, account, Instant::now())
    }

    /// Counts a failed attempt against the network and the account.
    pub fn failed(&self, ip: &str, account: &str) {
        self.failed_at(ip, account, Instant::now())
    }

    /// A right password: the account's failures are cleared and the network becomes known to
    /// the account.
    pub fn succeeded(&self, ip: &str, account: &str) {
        self.succeeded_at(ip, account, Instant::now())
    }

    /// Entries held, all tables together (for tests and metrics).
    pub fn entries(&self) -> usize {
        let t = self.lock();
        t.networks.len() + t.accounts.len() + t.pairs.len() + t.known.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_at(&self, ip: &str, account: &str, now: Instant) -> Result<(), AppError> {
        let net = network(ip);
        let mut t = self.lock();
        if let Some(bucket) = t.networks.peek(&net) {
            let tokens = self.refill(*bucket, now);
            if tokens < 1.0 {
                // Whole seconds until one token is back (rounding noise taken off first).
                let wait = (1.0 - tokens) / self.per_network_per_sec() - 1e-6;
                return Err(AppError::rate_limited((wait.ceil() as u64).max(1)));
            }
        }
        let pair = (account.to_owned(), net);
        let backoff = if self.is_known(&mut t, &pair, now) {
            t.pairs.peek(&pair).copied()
        } else {
            t.accounts.peek(account).copied()
        };
        match backoff {
            Some(b) if b.not_before > now => {
                Err(AppError::rate_limited(secs_ceil(b.not_before - now)))
            }
            _ => Ok(()),
        }
    }

    fn failed_at(&self, ip: &str, account: &str, now: Instant) {
        let net = network(ip);
        let mut t = self.lock();
        let tokens = t
            .networks
            .peek(&net)
            .map_or(f64::from(self.cfg.per_network_per_minute), |b| {
                self.refill(*b, now)
            });
        t.networks.put(
            net.clone(),
            Bucket {
                tokens: (tokens - 1.0).max(0.0),
                at: now,
            },
        );
        let pair = (account.to_owned(), net);
        if self.is_known(&mut t, &pair, now) {
            let next = self.next_backoff(t.pairs.peek(&pair).copied(), now);
            t.pairs.put(pair, next);
        } else {
            let next = self.next_backoff(t.accounts.peek(account).copied(), now);
            t.accounts.put(account.to_owned(), next);
        }
        if now.duration_since(t.pruned_at) >= PRUNE_EVERY {
            self.prune(&mut t, now);
        }
    }

    fn succeeded_at(&self, ip: &str, account: &str, now: Instant) {
        let pair = (account.to_owned(), network(ip));
        let mut t = self.lock();
        t.accounts.pop(account);
        t.pairs.pop(&pair);
        t.known.put(pair, now);
    }

    fn is_known(&self, t: &mut Tables, pair: &(String, String), now: Instant) -> bool {
        t.known
            .get(pair)
            .is_some_and(|at| now.duration_since(*at) < KNOWN_FOR)
    }

    fn per_network_per_sec(&self) -> f64 {
        f64::from(self.cfg.per_network_per_minute.max(1)) / 60.0
    }

    fn refill(&self, b: Bucket, now: Instant) -> f64 {
        let capacity = f64::from(self.cfg.per_network_per_minute.max(1));
        (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_network_per_sec())
            .min(capacity)
    }

    /// The backoff after one more failure: forgotten state starts over.
    fn next_backoff(&self, previous: Option<Backoff>, now: Instant) -> Backoff {
        let failures = previous
            .filter(|b| !self.forgotten(b, now))
            .map_or(0, |b| b.failures)
            .saturating_add(1);
        let not_before = match failures.checked_sub(self.cfg.free_failures) {
            None => now,
            Some(extra) => now + self.delay(extra),
        };
        Backoff {
            failures,
            last_failure: now,
            not_before,
        }
    }

    /// The wait after `extra` failures past the free ones (0 → the base delay).
    fn delay(&self, extra: u32) -> Duration {
        let factor = 2u32.saturating_pow(extra.min(31));
        self.cfg
            .base_delay
            .saturating_mul(factor)
            .min(self.cfg.max_delay)
    }

    fn forgotten(&self, b: &Backoff, now: Instant) -> bool {
        now.duration_since(b.last_failure) > self.cfg.max_delay.saturating_mul(4)
    }

    /// Drops entries that no longer hold anything back.
    fn prune(&self, t: &mut Tables, now: Instant) {
        t.pruned_at = now;
        let capacity = f64::from(self.cfg.per_network_per_minute.max(1));
        let full: Vec<String> = t
            .networks
            .iter()
            .filter(|(_, b)| self.refill(**b, now) >= capacity)
            .map(|(k, _)| k.clone())
            .collect();
        for k in full {
            t.networks.pop(&k);
        }
        let forgotten: Vec<String> = t
            .accounts
            .iter()
            .filter(|(_, b)| self.forgotten(b, now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in forgotten {
            t.accounts.pop(&k);
        }
        let forgotten: Vec<(String, String)> = t
            .pairs
            .iter()
            .filter(|(_, b)| self.forgotten(b, now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in forgotten {
            t.pairs.pop(&k);
        }
        let stale: Vec<(String, String)> = t
            .known
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= KNOWN_FOR)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            t.known.pop(&k);
        }
    }
}

/// The client network of an address: an IPv4 address (also when written IPv4-mapped), or the
/// /64 of an IPv6 address. Anything unparseable is its own network.
pub fn network(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => ip.to_owned(),
    }
}

fn secs_ceil(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(free: u32, per_network: u32, capacity: usize) -> LoginLimiter {
        LoginLimiter::new(LimiterConfig {
            per_network_per_minute: per_network,
            free_failures: free,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            capacity,
        })
    }

    const ACCOUNT: &str = "t/a@x.io";

    #[test]
    fn delays_grow_after_the_free_failures_and_the_right_password_works_after_each() {
        let l = limiter(3, 1000, 100);
        let t0 = Instant::now();
        for i in 0..3 {
            l.check_at("10.0.0.1", ACCOUNT, t0).unwrap();
            l.failed_at(&format!("10.0.0.{}", i + 1), ACCOUNT, t0);
        }
        let err = l.check_at("10.9.9.9", ACCOUNT, t0).unwrap_err();
        assert_eq!(
            err.retry_after_secs,
            Some(1),
            "the account waits, from anywhere"
        );
        // After the wait, one attempt; its failure doubles the wait, up to the cap.
        let mut at = t0;
        for expected in [2, 4, 8, 16, 32, 60, 60] {
            at += Duration::from_secs(61);
            l.check_at("10.0.0.1", ACCOUNT, at).unwrap();
            l.failed_at("10.0.0.1", ACCOUNT, at);
            let err = l.check_at("10.0.0.2", ACCOUNT, at).unwrap_err();
            assert_eq!(err.retry_after_secs, Some(expected));
        }
        // The owner, on another network, once the wait is over.
        at += Duration::from_secs(60);
        l.check_at("192.0.2.7", ACCOUNT, at).unwrap();
        l.succeeded_at("192.0.2.7", ACCOUNT, at);
        l.check_at("10.0.0.1", ACCOUNT, at).unwrap();
        assert!(
            l.check_at("10.0.0.1", "t/b@x.io", t0).is_ok(),
            "other accounts are not held back"
        );
    }

    #[test]
    fn a_known_network_is_not_held_back_by_failures_from_elsewhere() {
        let l = limiter(2, 1000, 100);
        let t0 = Instant::now();
        l.succeeded_at("192.0.2.7", ACCOUNT, t0);
        for _ in 0..10 {
            l.failed_at("203.0.113.5", ACCOUNT, t0);
        }
        assert!(l.check_at("203.0.113.5", ACCOUNT, t0).is_err());
        l.check_at("192.0.2.7", ACCOUNT, t0)
            .expect("the owner's network has its own allowance");
        // Its own failures still slow it down.
        for _ in 0..2 {
            l.failed_at("192.0.2.7", ACCOUNT, t0);
        }
        assert!(l.check_at("192.0.2.7", ACCOUNT, t0).is_err());
    }

    #[test]
    fn a_network_past_its_hard_limit_is_refused_and_recovers_at_its_rate() {
        let l = limiter(1000, 4, 100);
        let t0 = Instant::now();
        for i in 0..4 {
            l.check_at("198.51.100.1", &format!("t/{i}@x.io"), t0)
                .unwrap();
            l.failed_at("198.51.100.1", &format!("t/{i}@x.io"), t0);
        }
        let err = l.check_at("198.51.100.1", "t/new@x.io", t0).unwrap_err();
        assert_eq!(err.retry_after_secs, Some(15), "4 a minute: one every 15 s");
        assert!(l.check_at("198.51.100.2", "t/new@x.io", t0).is_ok());
        l.check_at("198.51.100.1", "t/new@x.io", t0 + Duration::from_secs(16))
            .unwrap();
    }

    #[test]
    fn addresses_of_one_ipv6_64_share_a_limit() {
        let l = limiter(1000, 2, 100);
        let t0 = Instant::now();
        l.failed_at("2001:db8:1:2::1", "t/a@x.io", t0);
        l.failed_at("2001:db8:1:2:ffff:ffff:ffff:fffe", "t/b@x.io", t0);
        assert!(l.check_at("2001:db8:1:2:abcd::9", "t/c@x.io", t0).is_err());
        assert!(l.check_at("2001:db8:1:3::1", "t/c@x.io", t0).is_ok());
        assert_eq!(network("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(network("2001:db8:1:2::1"), "2001:db8:1:2::/64");
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_accounts_and_decays() {
        let l = limiter(5, 1_000_000, 1000);
        let t0 = Instant::now();
        for i in 0..50_000 {
            l.failed_at(
                &format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
                &format!("t/{i}@x.io"),
                t0,
            );
        }
        assert!(l.entries() <= 2 * 1000, "{} entries", l.entries());
        // Long after, a prune drops everything that no longer holds anything back.
        l.failed_at("10.0.0.1", ACCOUNT, t0 + Duration::from_secs(3600));
        assert!(l.entries() <= 2, "{} entries", l.entries());
    }
}

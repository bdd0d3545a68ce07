//! The per-tenant rate limiter's cost per request and its memory for 10,000 active tenants.
//! `cargo bench --bench limiter` prints a Markdown table (recorded in BENCHMARKS.md).

use std::{hint::black_box, time::Instant};

use tenant_hub::ratelimit::RateLimits;
use uuid::Uuid;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn per_op(iterations: u64, f: impl FnMut(u64)) -> f64 {
    let mut f = f;
    let start = Instant::now();
    for i in 0..iterations {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / iterations as f64
}

fn main() {
    const TENANTS: usize = 10_000;
    const ITERATIONS: u64 = 2_000_000;
    let limits = RateLimits::new(10, 1, 300);
    let hot = Uuid::new_v4();
    // A quota high enough that every check passes (the common case).
    let hot_ns = per_op(ITERATIONS, |_| {
        black_box(limits.check_tenant(hot, 1_000_000_000));
    });

    let tenants: Vec<Uuid> = (0..TENANTS).map(|_| Uuid::new_v4()).collect();
    let before = rss_bytes();
    for t in &tenants {
        limits.check_tenant(*t, 600);
    }
    let after = rss_bytes();
    let spread_ns = per_op(ITERATIONS, |i| {
        black_box(limits.check_tenant(tenants[(i as usize) % TENANTS], 600));
    });
    let anon_ns = per_op(ITERATIONS, |i| {
        black_box(limits.check_anonymous(if i % 2 == 0 {
            "203.0.113.1"
        } else {
            "203.0.113.2"
        }));
    });

    println!("| measurement | result |");
    println!("|---|---|");
    println!("| check, one hot tenant | {hot_ns:.0} ns |");
    println!("| check, 10,000 tenants round robin | {spread_ns:.0} ns |");
    println!("| check, anonymous (keyed by IP) | {anon_ns:.0} ns |");
    println!(
        "| memory for {TENANTS} tenant limiters | {:.1} MiB ({} bytes per tenant) |",
        (after.saturating_sub(before)) as f64 / 1048576.0,
        after.saturating_sub(before) / TENANTS as u64
    );
    println!("| limiters held | {} |", limits.tenants_tracked());
}

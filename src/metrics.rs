//! Prometheus metrics, served at /metrics. Per-tenant series are bounded: the first
//! [`MAX_TENANT_SERIES`] tenants seen get their own label, the others share `other`.

use dashmap::DashMap;
use std::{sync::OnceLock, time::Duration};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use uuid::Uuid;

pub const MAX_TENANT_SERIES: usize = 100;
/// Operation names are chosen by clients: the first this many get their own label.
pub const MAX_OPERATION_SERIES: usize = 200;

pub struct Metrics {
    registry: Registry,
    tenant_calls: IntCounterVec,
    rate_limited: IntCounterVec,
    pub limiters: IntGauge,
    /// The counters of the labelled tenants (at most [`MAX_TENANT_SERIES`]): a request finds
    /// its counter by the tenant id, without formatting the id or hashing label values.
    labelled: DashMap<Uuid, IntCounter>,
    /// The `other` tenants' counter (made on first use, like every series).
    other_tenants: OnceLock<IntCounter>,
    requests: HistogramVec,
    errors: IntCounterVec,
    pub pool: IntGaugeVec,
    /// SQL statements sent by the pool so far (set at scrape time).
    pub statements: IntGauge,
    /// Password verifications (argon2id) run so far, dummy ones included (set at scrape time).
    pub password_verifications: IntGauge,
    /// The latency histograms of the labelled operation names (at most
    /// [`MAX_OPERATION_SERIES`]), by outcome.
    operations: DashMap<String, OutcomeHistograms>,
    /// The `other` operations' histograms.
    other_operations: OutcomeHistograms,
}

/// The outcomes a GraphQL request is counted under (the slots of [`OutcomeHistograms`]).
const OUTCOMES: [&str; 3] = ["ok", "error", "rejected"];

/// One operation's latency histograms by outcome, each made on its first observation (a
/// series appears in /metrics once it was observed, as with `with_label_values`).
#[derive(Default)]
struct OutcomeHistograms([OnceLock<Histogram>; 3]);

impl OutcomeHistograms {
    fn observe(&self, requests: &HistogramVec, operation: &str, outcome: &str, seconds: f64) {
        match OUTCOMES.iter().position(|o| *o == outcome) {
            Some(i) => self.0[i]
                .get_or_init(|| requests.with_label_values(&[operation, outcome]))
                .observe(seconds),
            None => requests
                .with_label_values(&[operation, outcome])
                .observe(seconds),
        }
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let tenant_calls = IntCounterVec::new(
            Opts::new(
                "hub_tenant_api_calls_total",
                "GraphQL requests per tenant (first 100 tenants, then `other`)",
            ),
            &["tenant"],
        )
        .expect("valid metric");
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "hub_rate_limited_total",
                "Requests refused by the rate limiter",
            ),
            &["scope"],
        )
        .expect("valid metric");
        let limiters = IntGauge::new("hub_rate_limiters", "Tenant limiters held in memory")
            .expect("valid metric");
        registry
            .register(Box::new(tenant_calls.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(rate_limited.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(limiters.clone()))
            .expect("unique metric");
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "hub_graphql_request_duration_seconds",
                "GraphQL requests by operation and outcome",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["operation", "outcome"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new("hub_graphql_errors_total", "GraphQL errors by code"),
            &["code"],
        )
        .expect("valid metric");
        let pool = IntGaugeVec::new(
            Opts::new("hub_db_pool_connections", "Database pool connections"),
            &["state"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(errors.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(pool.clone()))
            .expect("unique metric");
        let statements = IntGauge::new(
            "hub_db_statements",
            "SQL statements sent by the pool since start",
        )
        .expect("valid metric");
        registry
            .register(Box::new(statements.clone()))
            .expect("unique metric");
        let password_verifications = IntGauge::new(
            "hub_password_verifications",
            "Password verifications (argon2id) since start, against a dummy hash included",
        )
        .expect("valid metric");
        registry
            .register(Box::new(password_verifications.clone()))
            .expect("unique metric");
        Metrics {
            registry,
            other_tenants: OnceLock::new(),
            other_operations: OutcomeHistograms::default(),
            password_verifications,
            tenant_calls,
            rate_limited,
            limiters,
            labelled: DashMap::new(),
            requests,
            errors,
            pool,
            statements,
            operations: DashMap::new(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn tenant_call(&self, tenant: Uuid) {
        if let Some(counter) = self.labelled.get(&tenant) {
            counter.inc();
        } else if self.labelled.len() < MAX_TENANT_SERIES {
            self.labelled
                .entry(tenant)
                .or_insert_with(|| {
                    self.tenant_calls
                        .with_label_values(&[tenant.to_string().as_str()])
                })
                .inc();
        } else {
            self.other_tenants
                .get_or_init(|| self.tenant_calls.with_label_values(&["other"]))
                .inc();
        }
    }

    /// One GraphQL request: its latency by operation and outcome, and its errors by code.
    pub fn observe_request(
        &self,
        operation: &str,
        outcome: &str,
        elapsed: Duration,
        codes: &[String],
    ) {
        let seconds = elapsed.as_secs_f64();
        if let Some(h) = self.operations.get(operation) {
            h.observe(&self.requests, operation, outcome, seconds);
        } else if self.operations.len() < MAX_OPERATION_SERIES && operation.len() <= 64 {
            self.operations
                .entry(operation.to_owned())
                .or_default()
                .observe(&self.requests, operation, outcome, seconds);
        } else {
            self.other_operations
                .observe(&self.requests, "other", outcome, seconds);
        }
        for code in codes {
            self.errors.with_label_values(&[code.as_str()]).inc();
        }
    }

    pub fn rate_limited(&self, scope: &str) {
        self.rate_limited.with_label_values(&[scope]).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Series of one metric family in the registry.
    fn series(metrics: &Metrics, family: &str) -> usize {
        metrics
            .registry()
            .gather()
            .iter()
            .filter(|f| f.name() == family)
            .map(|f| f.get_metric().len())
            .sum()
    }

    #[test]
    fn tenant_and_operation_labels_are_bounded() {
        let metrics = Metrics::new();
        let first = Uuid::new_v4();
        metrics.tenant_call(first);
        for _ in 0..(MAX_TENANT_SERIES + 50) {
            metrics.tenant_call(Uuid::new_v4());
        }
        // A tenant labelled early keeps its own series.
        metrics.tenant_call(first);
        assert_eq!(
            series(&metrics, "hub_tenant_api_calls_total"),
            MAX_TENANT_SERIES + 1,
            "the first tenants, then `other`"
        );

        for i in 0..(MAX_OPERATION_SERIES + 50) {
            metrics.observe_request(&format!("Op{i}"), "ok", Duration::from_millis(1), &[]);
        }
        metrics.observe_request(&"X".repeat(65), "ok", Duration::from_millis(1), &[]);
        assert_eq!(
            series(&metrics, "hub_graphql_request_duration_seconds"),
            MAX_OPERATION_SERIES + 1,
            "the first operation names, then `other` (also for overlong names)"
        );
    }

    /// The value of one series in the text exposition (0 when absent).
    fn value(metrics: &Metrics, series: &str) -> u64 {
        metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0)
    }

    /// The cached handles count into the same series as label lookups would: per tenant,
    /// per operation and outcome, `other` past the bounds, and no series before its first use.
    #[test]
    fn cached_handles_count_per_tenant_and_per_operation_and_outcome() {
        let metrics = Metrics::new();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        for _ in 0..3 {
            metrics.tenant_call(a);
        }
        metrics.tenant_call(b);
        let calls = |t: &str| {
            value(
                &metrics,
                &format!("hub_tenant_api_calls_total{{tenant=\"{t}\"}}"),
            )
        };
        assert_eq!((calls(&a.to_string()), calls(&b.to_string())), (3, 1));
        assert!(
            !metrics.render().contains("tenant=\"other\""),
            "no `other` series yet"
        );
        for _ in 0..MAX_TENANT_SERIES {
            metrics.tenant_call(Uuid::new_v4());
        }
        metrics.tenant_call(a);
        assert_eq!(
            calls(&a.to_string()),
            4,
            "a labelled tenant keeps its series"
        );
        assert_eq!(calls("other"), 2, "the tenants past the bound");

        let ms = Duration::from_millis(3);
        metrics.observe_request("Who", "ok", ms, &[]);
        metrics.observe_request("Who", "ok", ms, &[]);
        metrics.observe_request("Who", "error", ms, &["FORBIDDEN".to_owned()]);
        metrics.observe_request("Other", "rejected", ms, &["BAD_USER_INPUT".to_owned()]);
        metrics.observe_request("Who", "timeout", ms, &[]);
        let count = |op: &str, outcome: &str| {
            value(
                &metrics,
                &format!(
                    "hub_graphql_request_duration_seconds_count{{operation=\"{op}\",outcome=\"{outcome}\"}}"
                ),
            )
        };
        assert_eq!(count("Who", "ok"), 2);
        assert_eq!(count("Who", "error"), 1);
        assert_eq!(
            count("Who", "timeout"),
            1,
            "an outcome outside the cache still counts"
        );
        assert_eq!(count("Other", "rejected"), 1);
        assert!(
            !metrics
                .render()
                .contains("operation=\"Who\",outcome=\"rejected\""),
            "no series before its first observation"
        );
        assert_eq!(
            value(&metrics, "hub_graphql_errors_total{code=\"FORBIDDEN\"}"),
            1
        );
        for i in 0..MAX_OPERATION_SERIES {
            metrics.observe_request(&format!("Op{i}"), "ok", ms, &[]);
        }
        metrics.observe_request("Who", "ok", ms, &[]);
        assert_eq!(
            count("Who", "ok"),
            3,
            "a labelled operation keeps its series"
        );
        assert_eq!(count("other", "ok"), 2, "the operations past the bound");
    }
}

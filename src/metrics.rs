//! Prometheus metrics, served at /metrics. Per-tenant series are bounded: the first
//! [`MAX_TENANT_SERIES`] tenants seen get their own label, the others share `other`.

use dashmap::DashSet;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
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
    labelled: DashSet<Uuid>,
    requests: HistogramVec,
    errors: IntCounterVec,
    pub pool: IntGaugeVec,
    /// SQL statements sent by the pool so far (set at scrape time).
    pub statements: IntGauge,
    /// Password verifications (argon2id) run so far, dummy ones included (set at scrape time).
    pub password_verifications: IntGauge,
    operations: DashSet<String>,
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
            password_verifications,
            tenant_calls,
            rate_limited,
            limiters,
            labelled: DashSet::new(),
            requests,
            errors,
            pool,
            statements,
            operations: DashSet::new(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn tenant_call(&self, tenant: Uuid) {
        let label = if self.labelled.contains(&tenant)
            || (self.labelled.len() < MAX_TENANT_SERIES && self.labelled.insert(tenant))
        {
            tenant.to_string()
        } else {
            "other".to_owned()
        };
        self.tenant_calls.with_label_values(&[label.as_str()]).inc();
    }

    /// One GraphQL request: its latency by operation and outcome, and its errors by code.
    pub fn observe_request(
        &self,
        operation: &str,
        outcome: &str,
        elapsed: Duration,
        codes: &[String],
    ) {
        let known = self.operations.contains(operation)
            || (self.operations.len() < MAX_OPERATION_SERIES
                && operation.len() <= 64
                && self.operations.insert(operation.to_owned()));
        let label = if known { operation } else { "other" };
        self.requests
            .with_label_values(&[label, outcome])
            .observe(elapsed.as_secs_f64());
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
}

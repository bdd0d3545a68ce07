//! Prometheus metrics, served at /metrics. Per-tenant series are bounded: the first
//! [`MAX_TENANT_SERIES`] tenants seen get their own label, the others share `other`.

use dashmap::DashSet;
use prometheus::{Encoder, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};
use uuid::Uuid;

pub const MAX_TENANT_SERIES: usize = 100;

pub struct Metrics {
    registry: Registry,
    tenant_calls: IntCounterVec,
    rate_limited: IntCounterVec,
    pub limiters: IntGauge,
    labelled: DashSet<Uuid>,
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
        Metrics {
            registry,
            tenant_calls,
            rate_limited,
            limiters,
            labelled: DashSet::new(),
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

-- Quotas and usage: product API keys, usage counters, alerts and their webhook deliveries.

CREATE TABLE api_keys (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    product_id text NOT NULL REFERENCES products (id),
    name text NOT NULL,
    -- SHA-256 of the whole key; the key itself is shown once.
    key_hash bytea NOT NULL,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, key_hash)
);
COMMENT ON TABLE api_keys IS 'Keys product apps use to report usage for a tenant. Stored hashed, revocable.';
SELECT hub_enable_tenant_rls('api_keys');

CREATE TABLE usage_counters (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    metric text NOT NULL CHECK (metric IN ('api_calls', 'storage_bytes')),
    day date NOT NULL,
    -- api_calls: calls that day (summed by batched flushes); storage_bytes: the last report.
    value bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, metric, day)
);
COMMENT ON TABLE usage_counters IS 'Daily usage per tenant and metric.';
SELECT hub_enable_tenant_rls('usage_counters');

CREATE TABLE alerts (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    metric text NOT NULL,
    threshold integer NOT NULL CHECK (threshold IN (80, 100)),
    -- The period the alert belongs to: one alert per metric, threshold and period.
    period_start date NOT NULL,
    used double precision NOT NULL,
    quota double precision NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, metric, threshold, period_start)
);
COMMENT ON TABLE alerts IS 'A tenant crossed 80% or 100% of a limit.';
SELECT hub_enable_tenant_rls('alerts');

CREATE TABLE webhook_deliveries (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    alert_id uuid NOT NULL,
    attempt integer NOT NULL,
    status_code integer,
    error text,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, alert_id) REFERENCES alerts (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE webhook_deliveries IS 'Each attempt to deliver an alert to the tenant''s webhook.';
CREATE INDEX webhook_deliveries_tenant_alert_idx ON webhook_deliveries (tenant_id, alert_id);
SELECT hub_enable_tenant_rls('webhook_deliveries');

-- Product apps act with API keys; their actions are audited as such.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_type_check
    CHECK (actor_type IN ('user', 'platform_admin', 'system', 'anonymous', 'api_key'));

-- Storage is reported by each product for itself: a tenant's storage is the sum of its
-- products' last reports (usage_counters keeps that sum per day, for the usage history).

CREATE TABLE storage_reports (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    product_id text NOT NULL REFERENCES products (id),
    bytes bigint NOT NULL CHECK (bytes >= 0),
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, product_id)
);
COMMENT ON TABLE storage_reports IS 'The last storage report of each product for a tenant.';
SELECT hub_enable_tenant_rls('storage_reports');

-- Lifecycle and billing: per-tenant retention, the purge, plans, subscriptions and the billing
-- events outbox.

ALTER TABLE tenants ADD COLUMN retention_days integer CHECK (retention_days BETWEEN 1 AND 3650);
ALTER TABLE tenants ADD COLUMN deactivation_reason text;
COMMENT ON COLUMN tenants.retention_days IS 'Grace period after deactivation, in days; NULL: the platform default.';

-- Deletes every row of one deactivated tenant from every tenant table (found in pg_catalog,
-- children before parents), and leaves the tenants row as a tombstone. SECURITY DEFINER: it runs
-- as the tables' owner, so it may delete audit rows that the application role may not; the
-- application role may call it, and only for a tenant that is deactivated already.
CREATE FUNCTION hub_purge_tenant(target uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    remaining regclass[];
    next_table regclass;
    deleted bigint := 0;
    n bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.tenants WHERE id = target AND status = 'deactivated') THEN
        RAISE EXCEPTION 'tenant % is not deactivated', target USING ERRCODE = 'check_violation';
    END IF;
    SELECT array_agg(c.oid::regclass) INTO remaining
    FROM pg_class c
    JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = 'public'
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE c.relkind IN ('r', 'p');
    WHILE cardinality(remaining) > 0 LOOP
        -- A table no other remaining table points at can go now.
        SELECT t INTO next_table FROM unnest(remaining) t
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_constraint k
            WHERE k.contype = 'f' AND k.confrelid = t AND k.conrelid <> t AND k.conrelid = ANY (remaining))
        LIMIT 1;
        IF next_table IS NULL THEN
            RAISE EXCEPTION 'foreign keys between tenant tables form a cycle';
        END IF;
        EXECUTE format('DELETE FROM %s WHERE tenant_id = $1', next_table) USING target;
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
        remaining := array_remove(remaining, next_table);
    END LOOP;
    UPDATE public.tenants
    SET status = 'purged', name = 'purged tenant', domain = NULL, slug = 'purged-' || id::text,
        branding = '{}', features = '{}', limits = '{}', deactivation_reason = NULL, updated_at = now()
    WHERE id = target;
    RETURN deleted;
END;
$$;
REVOKE EXECUTE ON FUNCTION hub_purge_tenant(uuid) FROM PUBLIC;

CREATE TABLE plans (
    id text PRIMARY KEY,
    name text NOT NULL,
    features jsonb NOT NULL,
    limits jsonb NOT NULL,
    price_cents_per_seat integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE plans IS 'What each plan grants. Global.';
INSERT INTO plans (id, name, features, limits, price_cents_per_seat) VALUES
    ('free', 'Free', '{"sso": false, "api_access": true, "custom_domain": false, "custom": {}}',
        '{"users": 25, "storage_gb": 5, "api_calls_per_minute": 600}', 0),
    ('pro', 'Pro', '{"sso": true, "api_access": true, "custom_domain": true, "custom": {}}',
        '{"users": 250, "storage_gb": 100, "api_calls_per_minute": 3000}', 1200),
    ('enterprise', 'Enterprise', '{"sso": true, "api_access": true, "custom_domain": true, "custom": {}}',
        '{"users": 10000, "storage_gb": 2000, "api_calls_per_minute": 20000}', 3000);

CREATE TABLE subscriptions (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    plan_id text NOT NULL REFERENCES plans (id),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'past_due', 'canceled')),
    seats integer NOT NULL DEFAULT 1,
    current_period_start date NOT NULL,
    current_period_end date NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);
COMMENT ON TABLE subscriptions IS 'One per tenant: its plan and current billing period.';
SELECT hub_enable_tenant_rls('subscriptions');
INSERT INTO subscriptions (tenant_id, plan_id, current_period_start, current_period_end)
SELECT id, plan, date_trunc('month', now())::date, (date_trunc('month', now()) + interval '1 month')::date
FROM tenants WHERE status <> 'purged';

CREATE TABLE billing_events (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('plan_changed', 'period_closed')),
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE billing_events IS 'Outbox of events for the external billing system; delivered with retries.';
CREATE INDEX billing_events_tenant_pending_idx ON billing_events (tenant_id, delivered_at, created_at);
SELECT hub_enable_tenant_rls('billing_events');

-- Row-level security that the planner can serve from the (tenant_id, ...) indexes.
--
-- Before: each tenant table had two permissive policies, tenant_isolation
-- (tenant_id = app.tenant_id) and system_scope (app.scope = 'system'). PostgreSQL ORs permissive
-- policies, and `tenant_id = X OR <an expression without a column>` cannot be an index
-- condition: every tenant query scanned every tenant's rows (the load benchmark's profile: a
-- page of 50 users read all 10,000 users rows of 100 tenants and dropped 9,900).
--
-- After: one policy, `tenant_id BETWEEN hub_scope_first() AND hub_scope_last()`:
--   * in a tenant transaction (db::tenant_tx) both bounds are the tenant's id: an equality in
--     effect, an index range scan on the leading tenant_id;
--   * in a system transaction (db::system_tx) they span every uuid;
--   * with neither set, both are NULL and no row passes (nor may be written).
-- The settings and their meaning are unchanged; tests/schema_invariants.rs checks that every
-- tenant table has this one policy and that a tenant query plans without a sequential scan.

CREATE FUNCTION hub_scope_first() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN pg_catalog.current_setting('app.scope', true) = 'system'
                THEN '00000000-0000-0000-0000-000000000000'::uuid
                ELSE NULLIF(pg_catalog.current_setting('app.tenant_id', true), '')::uuid END
$$;

CREATE FUNCTION hub_scope_last() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN pg_catalog.current_setting('app.scope', true) = 'system'
                THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid
                ELSE NULLIF(pg_catalog.current_setting('app.tenant_id', true), '')::uuid END
$$;

-- Applies the policy to a tenant table. `key` names the column holding the tenant id
-- (tenant_id everywhere but on tenants itself, whose key is id).
CREATE OR REPLACE FUNCTION hub_enable_tenant_rls(tbl regclass, key text DEFAULT 'tenant_id') RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s '
        'USING (%I BETWEEN public.hub_scope_first() AND public.hub_scope_last()) '
        'WITH CHECK (%I BETWEEN public.hub_scope_first() AND public.hub_scope_last())',
        tbl, key, key);
END;
$$;

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT p.polrelid::regclass FROM pg_policy p WHERE p.polname = 'tenant_isolation' LOOP
        EXECUTE format('DROP POLICY tenant_isolation ON %s', t);
        EXECUTE format('DROP POLICY system_scope ON %s', t);
        PERFORM hub_enable_tenant_rls(t, CASE WHEN t = 'tenants'::regclass THEN 'id' ELSE 'tenant_id' END);
    END LOOP;
END;
$$;

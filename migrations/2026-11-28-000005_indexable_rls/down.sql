-- Back to the two permissive policies of the foundation migration.

CREATE OR REPLACE FUNCTION hub_enable_tenant_rls(tbl regclass, key text DEFAULT 'tenant_id') RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s '
        'USING (%I = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid) '
        'WITH CHECK (%I = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)',
        tbl, key, key);
    EXECUTE format(
        'CREATE POLICY system_scope ON %s '
        'USING (current_setting(''app.scope'', true) = ''system'') '
        'WITH CHECK (current_setting(''app.scope'', true) = ''system'')',
        tbl);
END;
$$;

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT p.polrelid::regclass FROM pg_policy p WHERE p.polname = 'tenant_isolation' LOOP
        EXECUTE format('DROP POLICY tenant_isolation ON %s', t);
        PERFORM hub_enable_tenant_rls(t, CASE WHEN t = 'tenants'::regclass THEN 'id' ELSE 'tenant_id' END);
    END LOOP;
END;
$$;

DROP FUNCTION hub_scope_last();
DROP FUNCTION hub_scope_first();

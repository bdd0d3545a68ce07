-- Back to migration 0005's scope functions and 0001's system policies: 'system' for anyone.
CREATE OR REPLACE FUNCTION public.hub_scope_first() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN pg_catalog.current_setting('app.scope', true) = 'system'
                THEN '00000000-0000-0000-0000-000000000000'::uuid
                ELSE NULLIF(pg_catalog.current_setting('app.tenant_id', true), '')::uuid END
$$;

CREATE OR REPLACE FUNCTION public.hub_scope_last() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN pg_catalog.current_setting('app.scope', true) = 'system'
                THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid
                ELSE NULLIF(pg_catalog.current_setting('app.tenant_id', true), '')::uuid END
$$;

CREATE OR REPLACE FUNCTION hub_enable_system_rls(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
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
    FOR t IN SELECT p.polrelid::regclass FROM pg_policy p WHERE p.polname = 'system_scope' LOOP
        EXECUTE format('DROP POLICY system_scope ON %s', t);
        PERFORM hub_enable_system_rls(t);
    END LOOP;
END;
$$;

DROP FUNCTION public.hub_system_scope();

-- The purge of migration 2026-12-01-000001 (system scope by setting only).
CREATE OR REPLACE FUNCTION public.hub_purge_tenant(target uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    remaining regclass[];
    next_table regclass;
    deleted bigint := 0;
    n bigint;
BEGIN
    IF pg_catalog.current_setting('app.scope', true) IS DISTINCT FROM 'system' THEN
        RAISE EXCEPTION 'hub_purge_tenant runs in the system scope only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.tenants WHERE id = target AND status = 'deactivated') THEN
        RAISE EXCEPTION 'tenant % is not deactivated', target USING ERRCODE = 'check_violation';
    END IF;
    SELECT pg_catalog.array_agg(c.oid::regclass) INTO remaining
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = 'public'
    JOIN pg_catalog.pg_attribute a
        ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE c.relkind IN ('r', 'p');
    WHILE pg_catalog.cardinality(remaining) > 0 LOOP
        SELECT t INTO next_table FROM pg_catalog.unnest(remaining) t
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_constraint k
            WHERE k.contype = 'f' AND k.confrelid = t AND k.conrelid <> t
              AND k.conrelid = ANY (remaining))
        LIMIT 1;
        IF next_table IS NULL THEN
            RAISE EXCEPTION 'foreign keys between tenant tables form a cycle';
        END IF;
        EXECUTE pg_catalog.format('DELETE FROM %s WHERE tenant_id = $1', next_table) USING target;
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
        remaining := pg_catalog.array_remove(remaining, next_table);
    END LOOP;
    UPDATE public.tenants
    SET status = 'purged', name = 'purged tenant', domain = NULL,
        slug = 'purged-' OPERATOR(pg_catalog.||) id::text,
        branding = '{}', features = '{}', limits = '{}', deactivation_reason = NULL,
        updated_at = pg_catalog.now()
    WHERE id = target;
    RETURN deleted;
END;
$$;
REVOKE EXECUTE ON FUNCTION public.hub_purge_tenant(uuid) FROM PUBLIC;

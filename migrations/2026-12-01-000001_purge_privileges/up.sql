-- The purge function, hardened (security review, issue 14 item 6):
--   * search_path = pg_catalog, pg_temp: nothing the caller creates can shadow what it reads
--     (pg_temp last; the application role may not create temp objects or in public anyway);
--   * every table and function it names is schema-qualified;
--   * it runs only in the system scope (db::system_tx): a tenant transaction cannot purge;
--   * it is owned by the dedicated NOLOGIN role tenant_hub_purge (not a superuser, no
--     BYPASSRLS), which may only SELECT and DELETE in the tenant tables and update tenants. The
--     role and the ownership are set by src/db/grants.sql after the migrations, because roles
--     are cluster-wide and not a migration's business.
CREATE OR REPLACE FUNCTION public.hub_purge_tenant(target uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    remaining regclass[];
    next_table regclass;
    deleted bigint := 0;
    n bigint;
BEGIN
    -- The caller's scope: the function's owner sees rows only in the system scope anyway (RLS),
    -- but an explicit refusal says why.
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
        -- A table no other remaining table points at can go now.
        SELECT t INTO next_table FROM pg_catalog.unnest(remaining) t
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_constraint k
            WHERE k.contype = 'f' AND k.confrelid = t AND k.conrelid <> t
              AND k.conrelid = ANY (remaining))
        LIMIT 1;
        IF next_table IS NULL THEN
            RAISE EXCEPTION 'foreign keys between tenant tables form a cycle';
        END IF;
        -- regclass prints schema-qualified here (public is not on the search_path).
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

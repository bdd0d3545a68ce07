-- Back to the definition of migration 0004, owned by the migrator.
CREATE OR REPLACE FUNCTION hub_purge_tenant(target uuid) RETURNS bigint
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
ALTER FUNCTION hub_purge_tenant(uuid) OWNER TO CURRENT_USER;
REVOKE EXECUTE ON FUNCTION hub_purge_tenant(uuid) FROM PUBLIC;

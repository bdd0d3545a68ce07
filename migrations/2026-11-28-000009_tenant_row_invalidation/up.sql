-- Replicas cache a tenant's own row (name, branding, features, limits, status) next to its
-- members' TenantContexts (src/context_cache.rs): any change to the row announces itself on
-- commit, like the changes of migration 0006, whoever makes it.

CREATE FUNCTION hub_notify_tenant_row_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('tenant_hub_invalidate',
        pg_catalog.json_build_object('kind', 'tenant', 'id', NEW.id)::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER tenants_invalidate AFTER UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION hub_notify_tenant_row_change();

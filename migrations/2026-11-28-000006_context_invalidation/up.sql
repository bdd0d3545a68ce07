-- Every change to what a TenantContext is made of announces itself, on commit, on the channel
-- the hub replicas listen on (src/invalidation.rs), whoever makes it: any replica, the CLI,
-- a maintenance script. The payload names the tenant ({"kind":"tenant","id":...}); PostgreSQL
-- sends identical notifications of one transaction once, so a bulk change costs one message
-- per tenant. Products are a global catalogue: a change there invalidates everything.

CREATE FUNCTION hub_notify_tenant_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD.tenant_id;
    ELSE
        changed := NEW.tenant_id;
    END IF;
    PERFORM pg_catalog.pg_notify('tenant_hub_invalidate',
        pg_catalog.json_build_object('kind', 'tenant', 'id', changed)::text);
    RETURN NULL;
END;
$$;

CREATE FUNCTION hub_notify_all_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('tenant_hub_invalidate', '{"kind":"all"}');
    RETURN NULL;
END;
$$;

-- Permissions: a role's permissions and who holds which role.
CREATE TRIGGER roles_invalidate AFTER UPDATE OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION hub_notify_tenant_change();
CREATE TRIGGER user_roles_invalidate AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION hub_notify_tenant_change();
-- Product access: the tenant's and the user's overrides.
CREATE TRIGGER tenant_products_invalidate AFTER INSERT OR UPDATE OR DELETE ON tenant_products
    FOR EACH ROW EXECUTE FUNCTION hub_notify_tenant_change();
CREATE TRIGGER user_product_access_invalidate AFTER INSERT OR UPDATE OR DELETE ON user_product_access
    FOR EACH ROW EXECUTE FUNCTION hub_notify_tenant_change();
-- A user's status (deactivated, reactivated) or removal.
CREATE TRIGGER users_invalidate AFTER UPDATE OF status OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION hub_notify_tenant_change();
-- The product catalogue (active or not).
CREATE TRIGGER products_invalidate AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION hub_notify_all_change();

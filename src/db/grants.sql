-- The roles' privileges in this database, applied after every migration run by
-- `tenant-hub migrate` (and `serve`), once for each login role: the tenant (application) role
-- and the system role. Idempotent. Placeholders (quoted identifiers): {role} the login role
-- being granted, {system_role} the system role, {purge_role} the owner of hub_purge_tenant,
-- {database} this database. The roles themselves and the membership of the system role in
-- tenant_hub_system_scope are made by src/db/bootstrap.rs (roles are cluster-wide).
--
-- Both login roles have the same table privileges; what they may see differs by RLS only: the
-- system scope counts for members of tenant_hub_system_scope (migration 2026-12-01-000002).
-- They own nothing, so RLS (FORCE) applies to them on every tenant table.
GRANT USAGE ON SCHEMA public TO {role};
-- No objects of its own: nothing it creates can shadow a name the hub or a SECURITY DEFINER
-- function resolves (PostgreSQL before 15 let PUBLIC create in public and make temp tables).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM {role};
REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC;
REVOKE TEMPORARY ON DATABASE {database} FROM {role};
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
-- Migration bookkeeping is the migrator's business.
REVOKE ALL ON __diesel_schema_migrations FROM {role};
-- Audit logs are append-only for the application.
REVOKE UPDATE, DELETE ON audit_log, platform_audit_log FROM {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
-- Migration helpers are for the owner only.
REVOKE EXECUTE ON FUNCTION hub_enable_tenant_rls(regclass, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION hub_enable_system_rls(regclass) FROM PUBLIC;
-- Plans are the platform's catalog: readable, changed by migrations only.
REVOKE INSERT, UPDATE, DELETE ON plans FROM {role};

-- The purge (SECURITY DEFINER) runs as {purge_role}, which may read and delete in the tenant
-- tables (audit rows included, which the application may not delete) and tombstone the tenants
-- row, and nothing else. RLS applies to it as to any non-owner: it sees rows in the system
-- scope only, and the function refuses to run outside it.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {purge_role};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {purge_role};
GRANT USAGE ON SCHEMA public TO {purge_role};
DO $grants$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = 'public'
        JOIN pg_catalog.pg_attribute a
            ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'p')
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT, DELETE ON %s TO %s', t, $role${purge_role}$role$);
    END LOOP;
END;
$grants$;
GRANT SELECT, UPDATE ON tenants TO {purge_role};
ALTER FUNCTION hub_purge_tenant(uuid) OWNER TO {purge_role};
REVOKE EXECUTE ON FUNCTION hub_purge_tenant(uuid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION hub_purge_tenant(uuid) FROM {role};
-- Only system transactions call it.
GRANT EXECUTE ON FUNCTION hub_purge_tenant(uuid) TO {system_role};

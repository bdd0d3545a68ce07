-- The application role's privileges, applied after every migration run by `tenant-hub migrate`
-- (and `serve`). {role} is replaced by the quoted role name. Idempotent.
-- The role owns nothing, so RLS (FORCE) applies to it on every tenant table.
GRANT USAGE ON SCHEMA public TO {role};
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
-- The purge runs as the owner (it deletes audit rows too); the application may call it.
GRANT EXECUTE ON FUNCTION hub_purge_tenant(uuid) TO {role};
-- Plans are the platform's catalog: readable, changed by migrations only.
REVOKE INSERT, UPDATE, DELETE ON plans FROM {role};

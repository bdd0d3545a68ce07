-- Foundation: tenants and everything that belongs to them, with row-level security.
--
-- Isolation rules (DESIGN.md), enforced here and checked by tests/schema_invariants.rs:
--   * every tenant table has tenant_id uuid NOT NULL REFERENCES tenants(id);
--   * its primary key and unique constraints include tenant_id, and its indexes lead with it;
--   * foreign keys between tenant tables carry tenant_id;
--   * ENABLE + FORCE ROW LEVEL SECURITY with the policies tenant_isolation and system_scope.
-- The application role (created by `tenant-hub migrate`, not here: roles are cluster-wide) owns
-- nothing; its grants are applied after the migrations by src/db/grants.sql.

-- Applies the two policies to a tenant table. `key` names the column holding the tenant id
-- (tenant_id everywhere but on tenants itself, whose key is id).
CREATE FUNCTION hub_enable_tenant_rls(tbl regclass, key text DEFAULT 'tenant_id') RETURNS void
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

-- Platform-wide rows are reachable only in system scope (db::system_tx).
CREATE FUNCTION hub_enable_system_rls(tbl regclass) RETURNS void
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

CREATE TABLE tenants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    slug text NOT NULL,
    -- NULL only once the tenant is purged: the tombstone keeps its id, not its domain.
    domain text,
    status text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'suspended', 'deactivated', 'purged')),
    plan text NOT NULL DEFAULT 'free',
    branding jsonb NOT NULL DEFAULT '{}',
    features jsonb NOT NULL DEFAULT '{}',
    limits jsonb NOT NULL DEFAULT '{}',
    deactivated_at timestamptz,
    purge_after timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tenants IS 'A customer organisation. RLS: a tenant sees its own row only.';
COMMENT ON COLUMN tenants.domain IS 'Lower-case DNS name; NULL once purged.';
COMMENT ON COLUMN tenants.limits IS '{"users", "storage_gb", "api_calls_per_minute"}';
CREATE UNIQUE INDEX tenants_slug_key ON tenants (slug);
CREATE UNIQUE INDEX tenants_domain_key ON tenants (domain);
CREATE INDEX tenants_status_idx ON tenants (status, created_at);
SELECT hub_enable_tenant_rls('tenants', 'id');

CREATE TABLE products (
    id text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{1,62}$'),
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE products IS 'The catalog of product apps that accept the hub''s tokens. Global.';
INSERT INTO products (id, name, description) VALUES
    ('workspaces', 'Workspaces', 'The workspace and collaboration frontend'),
    ('crm', 'CRM', 'Customers, contacts and deals'),
    ('helpdesk', 'Helpdesk', 'Tickets and customer support'),
    ('analytics', 'Analytics', 'Dashboards and reports'),
    ('billing', 'Billing', 'Invoices and payments'),
    ('docs', 'Docs', 'Documents and wikis');

CREATE TABLE platform_admins (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL,
    password_hash text NOT NULL,
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE platform_admins IS 'Super admins; not members of any tenant. System scope only.';
CREATE UNIQUE INDEX platform_admins_email_key ON platform_admins (lower(email));
SELECT hub_enable_system_rls('platform_admins');

CREATE TABLE platform_audit_log (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    at timestamptz NOT NULL DEFAULT now(),
    actor_type text NOT NULL,
    actor_id uuid,
    action text NOT NULL,
    target_type text,
    target_id text,
    ip text,
    request_id text,
    details jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE platform_audit_log IS 'Events that belong to no tenant (admin logins, purges). Append-only.';
CREATE INDEX platform_audit_log_at_idx ON platform_audit_log (at, id);
SELECT hub_enable_system_rls('platform_audit_log');

CREATE TABLE users (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    email text NOT NULL,
    display_name text,
    -- NULL for a user who has not chosen a password yet.
    password_hash text,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE users IS 'Members of a tenant. Emails are unique per tenant, case-insensitively.';
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email));
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at, id);
SELECT hub_enable_tenant_rls('users');

CREATE TABLE workspaces (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    slug text NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    archived_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, slug)
);
COMMENT ON TABLE workspaces IS 'A tenant''s workspaces; exactly one is the default.';
CREATE UNIQUE INDEX workspaces_one_default ON workspaces (tenant_id) WHERE is_default;
CREATE INDEX workspaces_tenant_created_idx ON workspaces (tenant_id, created_at, id);
SELECT hub_enable_tenant_rls('workspaces');

CREATE TABLE roles (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    permissions text[] NOT NULL DEFAULT '{}',
    is_system boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
COMMENT ON TABLE roles IS 'A named set of permission strings; system roles are created with the tenant.';
SELECT hub_enable_tenant_rls('roles');

CREATE TABLE user_roles (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    role_id uuid NOT NULL,
    -- NULL: the role applies tenant-wide.
    workspace_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, workspace_id) REFERENCES workspaces (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE user_roles IS 'Role assignments, tenant-wide (workspace_id NULL) or per workspace.';
-- PostgreSQL 14 has no NULLS NOT DISTINCT: a tenant-wide assignment is unique through coalesce.
CREATE UNIQUE INDEX user_roles_assignment_key ON user_roles
    (tenant_id, user_id, role_id, coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'));
CREATE INDEX user_roles_tenant_role_idx ON user_roles (tenant_id, role_id);
CREATE INDEX user_roles_tenant_workspace_idx ON user_roles (tenant_id, workspace_id);
SELECT hub_enable_tenant_rls('user_roles');

CREATE TABLE workspace_members (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    workspace_id uuid NOT NULL,
    user_id uuid NOT NULL,
    role_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, workspace_id, user_id),
    FOREIGN KEY (tenant_id, workspace_id) REFERENCES workspaces (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
COMMENT ON TABLE workspace_members IS 'Users in a workspace, each with an optional workspace role.';
CREATE INDEX workspace_members_tenant_user_idx ON workspace_members (tenant_id, user_id);
CREATE INDEX workspace_members_tenant_role_idx ON workspace_members (tenant_id, role_id);
SELECT hub_enable_tenant_rls('workspace_members');

CREATE TABLE tenant_products (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    product_id text NOT NULL REFERENCES products (id),
    access text NOT NULL CHECK (access IN ('full', 'limited', 'none')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, product_id)
);
COMMENT ON TABLE tenant_products IS 'Tenant-wide access to each product; no row means none.';
SELECT hub_enable_tenant_rls('tenant_products');

CREATE TABLE user_product_access (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    user_id uuid NOT NULL,
    product_id text NOT NULL REFERENCES products (id),
    access text NOT NULL CHECK (access IN ('full', 'limited', 'none')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, product_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE user_product_access IS 'Per-user overrides of the tenant-wide product access.';
SELECT hub_enable_tenant_rls('user_product_access');

CREATE TABLE sessions (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_refreshed_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text,
    ip text,
    user_agent text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE sessions IS 'A login: access tokens carry its id (sid); revoking it refuses them.';
CREATE INDEX sessions_tenant_user_idx ON sessions (tenant_id, user_id);
SELECT hub_enable_tenant_rls('sessions');

CREATE TABLE refresh_tokens (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    token_hash bytea NOT NULL,
    session_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set when the token is exchanged; presenting it again revokes the session.
    used_at timestamptz,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE refresh_tokens IS 'SHA-256 of each refresh token a session was given; single use.';
CREATE INDEX refresh_tokens_tenant_session_idx ON refresh_tokens (tenant_id, session_id);
SELECT hub_enable_tenant_rls('refresh_tokens');

CREATE TABLE audit_log (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    actor_type text NOT NULL CHECK (actor_type IN ('user', 'platform_admin', 'system', 'anonymous')),
    actor_id uuid,
    action text NOT NULL,
    target_type text,
    target_id text,
    ip text,
    request_id text,
    details jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE audit_log IS 'Append-only record of what happened to a tenant. The app role may INSERT and SELECT only.';
COMMENT ON COLUMN audit_log.id IS 'UUIDv7: ordered by time, the cursor of the auditLog connection.';
CREATE INDEX audit_log_tenant_action_idx ON audit_log (tenant_id, action, id);
SELECT hub_enable_tenant_rls('audit_log');

-- A tenant's identity providers (issue 17, part 2): where its users of some verified domains
-- sign in. `kind` is 'oidc' today; a SAML provider will be another kind with its own columns
-- (or a side table), beside the same domain bindings, JIT and enforcement settings.
CREATE TABLE identity_providers (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    kind text NOT NULL DEFAULT 'oidc' CHECK (kind IN ('oidc')),
    name text NOT NULL,
    -- OpenID Connect: the issuer (discovered at registration), the client registered there.
    issuer text NOT NULL,
    client_id text NOT NULL,
    client_secret_ciphertext bytea NOT NULL,
    client_secret_hint text,
    -- Space-separated, like an OAuth scope parameter; always includes openid.
    scopes text NOT NULL DEFAULT 'openid email profile',
    email_claim text NOT NULL DEFAULT 'email',
    groups_claim text,
    -- {"<group>": "<role uuid>", ...}: the roles a JIT user gets from the groups claim.
    group_roles jsonb NOT NULL DEFAULT '{}',
    jit_provisioning boolean NOT NULL DEFAULT false,
    default_role_id uuid,
    enforce_sso boolean NOT NULL DEFAULT false,
    break_glass_user_id uuid,
    -- The discovery document as read at registration (endpoints, algorithms).
    metadata jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT identity_providers_name_key UNIQUE (tenant_id, name),
    FOREIGN KEY (tenant_id, default_role_id) REFERENCES roles (tenant_id, id)
        ON DELETE SET NULL (default_role_id),
    FOREIGN KEY (tenant_id, break_glass_user_id) REFERENCES users (tenant_id, id)
        ON DELETE SET NULL (break_glass_user_id)
);
COMMENT ON TABLE identity_providers IS 'A tenant''s identity providers (OpenID Connect today); the client secret encrypted at rest, shown masked.';
SELECT hub_enable_tenant_rls('identity_providers');

-- The verified domains a provider serves: one provider per domain (home-realm discovery picks it).
CREATE TABLE identity_provider_domains (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    domain_id uuid NOT NULL,
    provider_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, domain_id),
    FOREIGN KEY (tenant_id, domain_id) REFERENCES tenant_domains (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, provider_id) REFERENCES identity_providers (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE identity_provider_domains IS 'Which identity provider serves a verified domain of the tenant.';
CREATE INDEX identity_provider_domains_provider_idx ON identity_provider_domains (tenant_id, provider_id);
SELECT hub_enable_tenant_rls('identity_provider_domains');

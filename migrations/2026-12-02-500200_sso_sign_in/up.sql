-- Sign-in through a tenant's identity provider (issue 17, parts 3-5).

-- A sign-in on its way to the provider: what the callback needs to finish it. The `state`
-- parameter is an opaque tenant-scoped token (only its hash is kept), bound to the browser
-- that started it by a cookie (its hash too); single use, short-lived.
CREATE TABLE sso_sign_ins (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    provider_id uuid NOT NULL,
    state_hash bytea NOT NULL,
    browser_hash bytea NOT NULL,
    nonce text NOT NULL,
    pkce_verifier text NOT NULL,
    return_to text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT sso_sign_ins_state_key UNIQUE (tenant_id, state_hash),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES identity_providers (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE sso_sign_ins IS 'Sign-ins sent to a tenant''s identity provider: state (hashed), nonce, PKCE verifier and return_to until the callback; single use, with expiry.';
CREATE INDEX sso_sign_ins_provider_idx ON sso_sign_ins (tenant_id, provider_id);
SELECT hub_enable_tenant_rls('sso_sign_ins');

-- Who a user is at a provider: (provider, subject) names one user of the tenant.
CREATE TABLE external_identities (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    provider_id uuid NOT NULL,
    subject text NOT NULL,
    user_id uuid NOT NULL,
    email text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT external_identities_subject_key UNIQUE (tenant_id, provider_id, subject),
    CONSTRAINT external_identities_user_key UNIQUE (tenant_id, provider_id, user_id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES identity_providers (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE external_identities IS 'A user''s identity at one of the tenant''s identity providers (the ID token''s sub), linked on first sign-in.';
CREATE INDEX external_identities_user_idx ON external_identities (tenant_id, user_id);
SELECT hub_enable_tenant_rls('external_identities');

-- The sessions opened through a provider: they end when the provider is removed.
CREATE TABLE federated_sessions (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    session_id uuid NOT NULL,
    provider_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, session_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, provider_id) REFERENCES identity_providers (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE federated_sessions IS 'Which identity provider a session was signed in through (removing the provider ends them).';
CREATE INDEX federated_sessions_provider_idx ON federated_sessions (tenant_id, provider_id);
SELECT hub_enable_tenant_rls('federated_sessions');

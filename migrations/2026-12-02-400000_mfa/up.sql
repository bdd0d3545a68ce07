-- Multi-factor authentication: second factors (TOTP today), recovery codes, the challenges a
-- password sign-in leaves open until a second factor completes it, and each tenant's policy.

CREATE TABLE mfa_factors (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('totp')),
    label text NOT NULL,
    -- The TOTP secret, sealed with the secrets key and bound to this row (src/secrets.rs).
    secret_ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- NULL until a first code confirms the enrolment; an unconfirmed factor protects nothing.
    confirmed_at timestamptz,
    -- The last TOTP time step accepted: a code is accepted once (RFC 6238 section 5.2).
    last_used_step bigint,
    last_used_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE mfa_factors IS 'Second factors of users: TOTP authenticators (secrets sealed).';
CREATE INDEX mfa_factors_tenant_user_idx ON mfa_factors (tenant_id, user_id);
-- One TOTP authenticator per user.
CREATE UNIQUE INDEX mfa_factors_one_totp_key ON mfa_factors (tenant_id, user_id) WHERE kind = 'totp';
SELECT hub_enable_tenant_rls('mfa_factors');

CREATE TABLE mfa_recovery_codes (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    user_id uuid NOT NULL,
    code_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE mfa_recovery_codes IS 'Single-use recovery codes (SHA-256 only), ten a set.';
SELECT hub_enable_tenant_rls('mfa_recovery_codes');

CREATE TABLE mfa_challenges (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    token_hash bytea NOT NULL,
    user_id uuid NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('verify', 'enrol')),
    -- The methods proven so far (RFC 8176 values, space-separated), e.g. 'pwd'.
    amr text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    failures integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE mfa_challenges IS 'A sign-in waiting for its second factor (token SHA-256 only), short-lived.';
CREATE INDEX mfa_challenges_tenant_user_idx ON mfa_challenges (tenant_id, user_id);
SELECT hub_enable_tenant_rls('mfa_challenges');

CREATE TABLE mfa_policies (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    require_mfa text NOT NULL CHECK (require_mfa IN ('off', 'admins', 'everyone')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);
COMMENT ON TABLE mfa_policies IS 'Who of a tenant must use a second factor (requireMfa); no row: off.';
SELECT hub_enable_tenant_rls('mfa_policies');

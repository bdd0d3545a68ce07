-- Management: invited users, one-time user tokens (invitations, password resets) and
-- integration settings with encrypted secrets.

ALTER TABLE users DROP CONSTRAINT users_status_check;
ALTER TABLE users ADD CONSTRAINT users_status_check CHECK (status IN ('active', 'invited', 'deactivated'));

CREATE TABLE user_tokens (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    token_hash bytea NOT NULL,
    user_id uuid NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('invitation', 'password_reset')),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE user_tokens IS 'One-time tokens (SHA-256 only) for invitations and password resets.';
CREATE INDEX user_tokens_tenant_user_idx ON user_tokens (tenant_id, user_id);
SELECT hub_enable_tenant_rls('user_tokens');

CREATE TABLE integrations (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    settings jsonb NOT NULL DEFAULT '{}',
    -- AES-256-GCM: nonce || ciphertext || tag, under HUB_SECRETS_KEY; NULL when no secret.
    secret_ciphertext bytea,
    -- The last four characters of the secret, for the masked display.
    secret_hint text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);
COMMENT ON TABLE integrations IS 'Named integration settings of a tenant; secrets encrypted at rest, shown masked.';
SELECT hub_enable_tenant_rls('integrations');

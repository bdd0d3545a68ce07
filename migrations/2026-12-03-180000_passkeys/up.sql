-- Passkeys (WebAuthn): a passkey is an `mfa_factors` row of kind 'passkey' (so the factors
-- list, removal, the "last factor" rule and an admin's reset treat it like an authenticator
-- app) with its credential in `mfa_passkeys`; a registration or sign-in in progress keeps its
-- ceremony state in `mfa_passkey_ceremonies`, where any replica can finish it.

ALTER TABLE mfa_factors DROP CONSTRAINT mfa_factors_kind_check;
ALTER TABLE mfa_factors ADD CONSTRAINT mfa_factors_kind_check CHECK (kind IN ('totp', 'passkey'));

CREATE TABLE mfa_passkeys (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    factor_id uuid NOT NULL,
    user_id uuid NOT NULL,
    -- The credential id the authenticator chose (raw bytes).
    credential_id bytea NOT NULL,
    -- webauthn-rs' Passkey: the public key, its counter and backup state.
    passkey jsonb NOT NULL,
    PRIMARY KEY (tenant_id, factor_id),
    FOREIGN KEY (tenant_id, factor_id) REFERENCES mfa_factors (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE mfa_passkeys IS 'The WebAuthn credential of each passkey factor (public keys only).';
CREATE UNIQUE INDEX mfa_passkeys_credential_key ON mfa_passkeys (tenant_id, credential_id);
CREATE INDEX mfa_passkeys_tenant_user_idx ON mfa_passkeys (tenant_id, user_id);
SELECT hub_enable_tenant_rls('mfa_passkeys');

CREATE TABLE mfa_passkey_ceremonies (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    -- SHA-256 of what the ceremony is bound to: the browser's ceremony cookie, the sign-in
    -- challenge token, or the token the API handed out with the options.
    binding_hash bytea NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('register', 'verify', 'passwordless')),
    -- NULL for a passwordless sign-in (the credential tells who it is).
    user_id uuid,
    -- The name of the passkey being registered.
    label text,
    -- webauthn-rs' ceremony state (the challenge); single use.
    state jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE mfa_passkey_ceremonies IS 'WebAuthn ceremonies in progress (state, binding hash), five minutes, single use.';
CREATE INDEX mfa_passkey_ceremonies_binding_idx ON mfa_passkey_ceremonies (tenant_id, binding_hash);
SELECT hub_enable_tenant_rls('mfa_passkey_ceremonies');

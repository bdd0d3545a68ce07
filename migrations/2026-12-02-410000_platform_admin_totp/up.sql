-- Platform admins' second factor: one TOTP authenticator each, enrolled by an operator with
-- `tenant-hub admin totp`; adminLogin asks for its code (and HUB_PLATFORM_ADMIN_REQUIRE_MFA
-- refuses admins without one). Global like platform_admins: no tenant, no RLS.
CREATE TABLE platform_admin_totp (
    admin_id uuid PRIMARY KEY REFERENCES platform_admins (id) ON DELETE CASCADE,
    -- The secret, sealed with the secrets key and bound to the admin (src/secrets.rs).
    secret_ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The last time step accepted: a code is accepted once (RFC 6238 section 5.2).
    last_used_step bigint,
    last_used_at timestamptz
);
COMMENT ON TABLE platform_admin_totp IS 'TOTP authenticators of platform admins (secrets sealed), one each. System scope only.';
SELECT hub_enable_system_rls('platform_admin_totp');
COMMENT ON COLUMN platform_admin_totp.secret_ciphertext IS 'The TOTP secret, sealed with the secrets key.';
COMMENT ON COLUMN platform_admin_totp.last_used_step IS 'The last TOTP time step accepted (no replay).';

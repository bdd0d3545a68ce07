-- Platform admins' sessions (issue 14 item 14): an admin's access token names its session
-- (`sid`), which `logout` revokes; a revoked or expired session's tokens are refused at once.
CREATE TABLE platform_admin_sessions (
    id uuid PRIMARY KEY,
    admin_id uuid NOT NULL REFERENCES platform_admins (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
COMMENT ON TABLE platform_admin_sessions IS 'Sessions of platform admins (adminLogin); revoked by logout. System scope only.';
CREATE INDEX platform_admin_sessions_admin_idx ON platform_admin_sessions (admin_id);
SELECT hub_enable_system_rls('platform_admin_sessions');

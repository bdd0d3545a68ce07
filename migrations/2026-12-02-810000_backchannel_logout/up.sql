-- OpenID Connect Back-Channel Logout 1.0 (issue 16): the outbox of logout tokens to products.
--
-- When a session ends (RP-initiated logout, the hub's /logout, an admin's revocation, a password
-- change, refresh-token reuse, ...) one row per client the session signed in to that has a
-- back-channel logout URI is inserted in the same transaction as the revocation. The
-- housekeeping loop claims due rows (a lease on next_attempt_at, SKIP LOCKED), signs a logout
-- token (its jti is the row's id) and POSTs it outside any transaction, recording each attempt;
-- a failed attempt waits longer each time until the last one, then the row is failed.
CREATE TABLE backchannel_logouts (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    -- Also the logout token's jti.
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    -- The ended session (the token's sid) and its user (sub). No foreign key: a user deleted
    -- in the transaction that ended the session is still told about.
    session_id uuid NOT NULL,
    user_id uuid NOT NULL,
    client_id uuid NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    -- The client's back-channel logout URI when the session ended.
    uri text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    delivered_at timestamptz,
    failed_at timestamptz,
    last_error text,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, session_id, client_id)
);
COMMENT ON TABLE backchannel_logouts IS 'Outbox of back-channel logout tokens: one per ended session and client with a back-channel logout URI; delivered with retries, at least once.';
COMMENT ON COLUMN backchannel_logouts.id IS 'The logout token''s jti.';
COMMENT ON COLUMN backchannel_logouts.uri IS 'The client''s backchannel_logout_uri when the session ended.';
COMMENT ON COLUMN backchannel_logouts.next_attempt_at IS 'Not sent before: the claim''s lease, or the retry''s backoff.';
CREATE INDEX backchannel_logouts_tenant_pending_idx
    ON backchannel_logouts (tenant_id, next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
SELECT hub_enable_tenant_rls('backchannel_logouts');

CREATE TABLE backchannel_logout_attempts (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    logout_id uuid NOT NULL,
    attempt integer NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    -- 'delivered' (the product answered 2xx), or 'failed' with its error.
    outcome text NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    error text,
    PRIMARY KEY (tenant_id, logout_id, attempt),
    FOREIGN KEY (tenant_id, logout_id) REFERENCES backchannel_logouts (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE backchannel_logout_attempts IS 'Each delivery attempt of a back-channel logout token.';
SELECT hub_enable_tenant_rls('backchannel_logout_attempts');

-- OpenID Connect provider (issue 16): the products' OAuth clients (platform catalog), the
-- authorization codes, and which clients signed in on which session (for back-channel logout).

-- A product app's client registration. Platform catalog like `products`: every login role may
-- read it (the token endpoint authenticates clients before it knows any tenant); only a system
-- transaction may write it (platform admins, the CLI).
CREATE TABLE oauth_clients (
    id uuid PRIMARY KEY,
    product_id text NOT NULL REFERENCES products (id),
    public boolean NOT NULL,
    -- SHA-256 of the secret (256 random bits, shown once); null for public clients.
    secret_hash bytea,
    redirect_uris text[] NOT NULL CHECK (cardinality(redirect_uris) > 0),
    post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
    backchannel_logout_uri text,
    allowed_scopes text[] NOT NULL,
    token_endpoint_auth_method text NOT NULL
        CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (public = (token_endpoint_auth_method = 'none')),
    CHECK (public = (secret_hash IS NULL))
);
COMMENT ON TABLE oauth_clients IS 'OAuth 2.0 / OpenID Connect clients of the products. Global; written by platform admins.';
CREATE INDEX oauth_clients_product_idx ON oauth_clients (product_id);
ALTER TABLE oauth_clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_clients FORCE ROW LEVEL SECURITY;
CREATE POLICY oauth_clients_read ON oauth_clients FOR SELECT USING (true);
CREATE POLICY oauth_clients_insert ON oauth_clients FOR INSERT WITH CHECK (public.hub_system_scope());
CREATE POLICY oauth_clients_update ON oauth_clients FOR UPDATE
    USING (public.hub_system_scope()) WITH CHECK (public.hub_system_scope());
CREATE POLICY oauth_clients_delete ON oauth_clients FOR DELETE USING (public.hub_system_scope());

-- An authorization code: single use, short-lived, bound to its client, redirect URI, PKCE
-- challenge, nonce and session. Kept after use so a second presentation is recognised (and
-- revokes the session it issued tokens in).
CREATE TABLE oauth_codes (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    code_hash bytea NOT NULL,
    client_id uuid NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    session_id uuid NOT NULL,
    user_id uuid NOT NULL,
    redirect_uri text NOT NULL,
    code_challenge text NOT NULL,
    nonce text,
    scope text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (tenant_id, code_hash),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE oauth_codes IS 'SHA-256 of each authorization code; single use, bound to client, redirect URI, PKCE and session.';
SELECT hub_enable_tenant_rls('oauth_codes');

-- Which clients a session signed in to: the products that get a back-channel logout.
CREATE TABLE oauth_session_clients (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    session_id uuid NOT NULL,
    client_id uuid NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    signed_in_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id, client_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE oauth_session_clients IS 'The OAuth clients a session signed in to (back-channel logout).';
SELECT hub_enable_tenant_rls('oauth_session_clients');

-- A refresh token given to an OAuth client works for that client only.
ALTER TABLE refresh_tokens ADD COLUMN client_id uuid REFERENCES oauth_clients (id) ON DELETE CASCADE;

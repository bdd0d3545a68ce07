-- What a session remembers of its sign-in (OpenID Connect `auth_time` and `amr`), and, for the
-- browser sessions of the hosted pages, the hash of the session cookie and when the browser was
-- last seen (the idle lifetime). `amr` is space-separated RFC 8176 values, like an OAuth scope.
ALTER TABLE sessions
    ADD COLUMN auth_time timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN amr text NOT NULL DEFAULT 'pwd',
    ADD COLUMN browser_token_hash bytea,
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();

CREATE UNIQUE INDEX sessions_browser_token_hash_key
    ON sessions (tenant_id, browser_token_hash)
    WHERE browser_token_hash IS NOT NULL;

DROP INDEX sessions_browser_token_hash_key;
ALTER TABLE sessions
    DROP COLUMN last_seen_at,
    DROP COLUMN browser_token_hash,
    DROP COLUMN amr,
    DROP COLUMN auth_time;

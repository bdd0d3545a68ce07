DROP TABLE integrations;
DROP TABLE user_tokens;
DELETE FROM users WHERE status = 'invited';
ALTER TABLE users DROP CONSTRAINT users_status_check;
ALTER TABLE users ADD CONSTRAINT users_status_check CHECK (status IN ('active', 'deactivated'));

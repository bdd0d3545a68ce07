DELETE FROM user_tokens WHERE purpose IN ('email_verification', 'email_change_report');
ALTER TABLE user_tokens DROP CONSTRAINT user_tokens_purpose_check;
ALTER TABLE user_tokens ADD CONSTRAINT user_tokens_purpose_check
    CHECK (purpose IN ('invitation', 'password_reset'));
ALTER TABLE tenants DROP COLUMN require_verified_email;
ALTER TABLE users DROP COLUMN email_verified_at;
DROP TABLE mail_attempts;
DROP TABLE mail_outbox;

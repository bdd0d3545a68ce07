DROP TABLE mfa_passkey_ceremonies;
DROP TABLE mfa_passkeys;
DELETE FROM mfa_factors WHERE kind = 'passkey';
ALTER TABLE mfa_factors DROP CONSTRAINT mfa_factors_kind_check;
ALTER TABLE mfa_factors ADD CONSTRAINT mfa_factors_kind_check CHECK (kind IN ('totp'));

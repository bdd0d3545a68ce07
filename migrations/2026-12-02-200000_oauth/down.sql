ALTER TABLE refresh_tokens DROP COLUMN client_id;
DROP TABLE oauth_session_clients;
DROP TABLE oauth_codes;
DROP TABLE oauth_clients;

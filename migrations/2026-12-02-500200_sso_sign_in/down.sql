DROP TABLE federated_sessions;
DROP TABLE external_identities;
DROP TABLE sso_sign_ins;

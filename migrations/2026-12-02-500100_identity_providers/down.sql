DROP TABLE identity_provider_domains;
DROP TABLE identity_providers;

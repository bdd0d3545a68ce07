-- API key read scopes (issue 15 item 16): what a product backend may read with its key, chosen
-- when the key is created. Every key may report usage; these add reads.
ALTER TABLE api_keys
    ADD COLUMN scopes text[] NOT NULL DEFAULT '{}'
        CONSTRAINT api_keys_scopes_known
        CHECK (scopes <@ ARRAY['tenant_config:read', 'tenant_context:read']::text[]);
COMMENT ON COLUMN api_keys.scopes IS 'Reads the key may make besides reporting usage: tenant_config:read (the tenant''s branding, features and limits), tenant_context:read (the TenantContext of a named user).';

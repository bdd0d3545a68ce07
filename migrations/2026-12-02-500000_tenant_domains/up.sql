-- A tenant's email domains (issue 17): added as pending with a challenge, verified when the DNS
-- TXT record `_tenant-hub-challenge.<domain>` carries the challenge, failed when a check (the
-- first, or a periodic re-verification) does not find it.
--
-- A domain is verified by one tenant at most. The rule spans tenants, which RLS hides from one
-- another; an exclusion constraint holds it whatever the scope: no two verified rows with the
-- same domain and different tenants. It is a GiST index led by tenant_id (btree_gist gives uuid
-- and text their GiST operators), so the tables keep their keys and indexes led by tenant_id
-- (tests/integration/schema_invariants.rs). Several tenants may hold the same domain pending:
-- only the one that controls the domain's DNS can verify it.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE tenant_domains (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    domain text NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'verified', 'failed')),
    challenge text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    verified_at timestamptz,
    checked_at timestamptz,
    last_error text,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT tenant_domains_domain_key UNIQUE (tenant_id, domain),
    CONSTRAINT tenant_domains_verified_by_one_tenant
        EXCLUDE USING gist (tenant_id WITH <>, domain WITH =) WHERE (state = 'verified')
);
COMMENT ON TABLE tenant_domains IS 'A tenant''s email domains and their DNS verification.';
COMMENT ON COLUMN tenant_domains.challenge IS 'The value the TXT record _tenant-hub-challenge.<domain> must carry.';
COMMENT ON COLUMN tenant_domains.checked_at IS 'The last DNS check (periodic re-verification picks the oldest).';

SELECT hub_enable_tenant_rls('tenant_domains');

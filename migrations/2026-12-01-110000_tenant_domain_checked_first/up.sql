-- Sign-up inserts the tenant row in the new tenant's own scope and learns of a taken domain or
-- slug from the unique indexes (it cannot look at other tenants' rows first). PostgreSQL checks
-- a table's unique indexes in the order of their OIDs; recreating the slug index after the
-- domain index makes a sign-up that collides on both report the domain, the field users know.
DROP INDEX tenants_slug_key;
CREATE UNIQUE INDEX tenants_slug_key ON tenants (slug);

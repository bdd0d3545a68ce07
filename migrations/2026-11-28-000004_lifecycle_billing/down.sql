DROP TABLE billing_events;
DROP TABLE subscriptions;
DROP TABLE plans;
DROP FUNCTION hub_purge_tenant(uuid);
ALTER TABLE tenants DROP COLUMN deactivation_reason;
ALTER TABLE tenants DROP COLUMN retention_days;

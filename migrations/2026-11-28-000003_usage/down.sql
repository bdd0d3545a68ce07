DELETE FROM audit_log WHERE actor_type = 'api_key';
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_type_check
    CHECK (actor_type IN ('user', 'platform_admin', 'system', 'anonymous'));
DROP TABLE webhook_deliveries;
DROP TABLE alerts;
DROP TABLE usage_counters;
DROP TABLE api_keys;

DROP INDEX billing_events_tenant_pending_idx;
ALTER TABLE billing_events DROP COLUMN next_attempt_at;
CREATE INDEX billing_events_tenant_pending_idx ON billing_events (tenant_id, delivered_at, created_at);

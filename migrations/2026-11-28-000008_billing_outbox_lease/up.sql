-- Billing events are sent outside any transaction: a replica claims a batch by moving its
-- next_attempt_at past the time the sends may take (a lease), sends, then records each
-- attempt; a failed attempt waits longer each time (backoff). A replica that dies mid-batch
-- leaves the lease to expire, and another sends again (at least once: receivers dedupe by id).
ALTER TABLE billing_events ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN billing_events.next_attempt_at IS 'Not sent before: the claim''s lease, or the retry''s backoff.';
DROP INDEX billing_events_tenant_pending_idx;
CREATE INDEX billing_events_tenant_pending_idx
    ON billing_events (tenant_id, next_attempt_at) WHERE delivered_at IS NULL;

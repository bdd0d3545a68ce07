-- Who put the tenant in its current status: an owner cannot undo a suspension or deactivation
-- that the platform decided (domain::tenant_status).
ALTER TABLE tenants ADD COLUMN status_changed_by text
    CHECK (status_changed_by IN ('owner', 'platform'));
COMMENT ON COLUMN tenants.status_changed_by IS 'Who set the current status: owner or platform; NULL for a tenant never moved.';

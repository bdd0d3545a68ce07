ALTER TABLE tenants DROP COLUMN status_changed_by;

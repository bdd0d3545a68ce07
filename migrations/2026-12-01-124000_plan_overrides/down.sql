ALTER TABLE tenants DROP COLUMN plan_overrides;

-- The platform's overrides of a tenant's plan values (adminSetTenantLimits), kept apart from the
-- plan: `features` and `limits` hold the effective values (the plan's, overlaid with these), so a
-- plan change keeps what the platform set.
ALTER TABLE tenants ADD COLUMN plan_overrides jsonb NOT NULL DEFAULT '{}';
COMMENT ON COLUMN tenants.plan_overrides IS 'Platform overrides of the plan''s features and limits; features and limits hold the effective values.';

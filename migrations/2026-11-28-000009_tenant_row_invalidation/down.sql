DROP TRIGGER tenants_invalidate ON tenants;
DROP FUNCTION hub_notify_tenant_row_change();

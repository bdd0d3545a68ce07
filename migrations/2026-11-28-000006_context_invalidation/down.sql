DROP TRIGGER products_invalidate ON products;
DROP TRIGGER users_invalidate ON users;
DROP TRIGGER user_product_access_invalidate ON user_product_access;
DROP TRIGGER tenant_products_invalidate ON tenant_products;
DROP TRIGGER user_roles_invalidate ON user_roles;
DROP TRIGGER roles_invalidate ON roles;
DROP FUNCTION hub_notify_all_change();
DROP FUNCTION hub_notify_tenant_change();

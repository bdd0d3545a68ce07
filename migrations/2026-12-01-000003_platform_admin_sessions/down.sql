DROP TABLE platform_admin_sessions;

DROP TABLE platform_admin_totp;

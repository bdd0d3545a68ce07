DROP TABLE tenant_domains;
DROP EXTENSION IF EXISTS btree_gist;

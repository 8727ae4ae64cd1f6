DROP TABLE instance_allowed_domains;
ALTER TABLE instance_settings DROP COLUMN allowlist;

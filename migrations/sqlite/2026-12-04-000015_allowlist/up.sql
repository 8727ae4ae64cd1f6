-- Allowlist mode: federate only with the domains in instance_allowed_domains (a domain covers
-- its subdomains).
ALTER TABLE instance_settings ADD COLUMN allowlist BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE instance_allowed_domains (
    domain TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL
);

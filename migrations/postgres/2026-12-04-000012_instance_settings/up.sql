-- What admins say about the instance, editable without a restart: one row (id 1). A NULL
-- `registrations` follows the configuration file.
CREATE TABLE instance_settings (
    id INTEGER PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    rules_json TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    registrations TEXT,
    -- Allowlist mode: federate only with the domains in instance_allowed_domains.
    allowlist BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMP NOT NULL
);

-- In allowlist mode, the only servers exchanged with (a domain covers its subdomains).
CREATE TABLE instance_allowed_domains (
    domain TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- What admins say about the instance, editable without a restart: one row (id 1). A NULL
-- `registrations` follows the configuration file.
CREATE TABLE instance_settings (
    id INTEGER PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    rules_json TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    registrations TEXT,
    updated_at TIMESTAMP NOT NULL
);

-- The instance's domain blocks, set by its admins. `suspend`: nothing delivered to it, nothing
-- accepted from it, its cached accounts and posts purged. `silence`: its posts stay out of
-- public timelines. `noop`: only `reject_media` applies. A block covers the domain's
-- subdomains too.
CREATE TABLE instance_domain_blocks (
    domain TEXT PRIMARY KEY NOT NULL,
    severity TEXT NOT NULL,
    reject_media BOOLEAN NOT NULL,
    -- Shown in /api/v1/instance/domain_blocks and on the about page.
    public_comment TEXT NOT NULL,
    -- For admins only.
    private_comment TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Every admin action, for the audit log.
CREATE TABLE admin_log (
    id BIGINT PRIMARY KEY NOT NULL,
    -- Kept when the admin's account goes: the log outlives who wrote it.
    admin_id BIGINT REFERENCES actors (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX admin_log_recent ON admin_log (created_at);

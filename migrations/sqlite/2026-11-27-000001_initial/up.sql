-- Guildhall initial schema (SQLite). Keep in step with ../../postgres/2026-11-27-000001_initial.
-- Portable types only: BIGINT ids, TEXT for URLs/JSON/enums, BOOLEAN, TIMESTAMP (UTC).

CREATE TABLE instances (
    id BIGINT PRIMARY KEY NOT NULL,
    domain TEXT NOT NULL UNIQUE,
    software TEXT,
    software_version TEXT,
    nodeinfo_fetched_at TIMESTAMP,
    last_success_at TIMESTAMP,
    last_failure_at TIMESTAMP,
    failure_count INTEGER NOT NULL DEFAULT 0,
    unreachable_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE actors (
    id BIGINT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL,
    domain TEXT,
    instance_id BIGINT REFERENCES instances (id) ON DELETE CASCADE,
    ap_id TEXT NOT NULL UNIQUE,
    url TEXT,
    inbox_url TEXT NOT NULL,
    shared_inbox_url TEXT,
    outbox_url TEXT,
    followers_url TEXT,
    following_url TEXT,
    display_name TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    fields_json TEXT NOT NULL DEFAULT '[]',
    avatar_url TEXT,
    header_url TEXT,
    public_key_id TEXT,
    public_key_pem TEXT,
    manually_approves_followers BOOLEAN NOT NULL DEFAULT FALSE,
    discoverable BOOLEAN NOT NULL DEFAULT TRUE,
    bot BOOLEAN NOT NULL DEFAULT FALSE,
    moved_to_ap_id TEXT,
    published_at TIMESTAMP,
    last_fetched_at TIMESTAMP,
    deleted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- People and groups share one local namespace, unique regardless of case.
CREATE UNIQUE INDEX actors_local_username ON actors (username_key) WHERE domain IS NULL;
CREATE INDEX actors_handle ON actors (username_key, domain);
CREATE INDEX actors_instance ON actors (instance_id);

CREATE TABLE users (
    id BIGINT PRIMARY KEY NOT NULL,
    actor_id BIGINT NOT NULL UNIQUE REFERENCES actors (id) ON DELETE CASCADE,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user',
    approved BOOLEAN NOT NULL DEFAULT TRUE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    locale TEXT,
    last_sign_in_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE actor_keys (
    actor_id BIGINT PRIMARY KEY NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    private_key_pem TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE groups (
    actor_id BIGINT PRIMARY KEY NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    owner_id BIGINT NOT NULL REFERENCES actors (id),
    membership TEXT NOT NULL,
    posting TEXT NOT NULL DEFAULT 'members',
    visibility TEXT NOT NULL DEFAULT 'public',
    rules_json TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE statuses (
    id BIGINT PRIMARY KEY NOT NULL,
    ap_id TEXT NOT NULL UNIQUE,
    url TEXT,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    local BOOLEAN NOT NULL,
    kind TEXT NOT NULL DEFAULT 'Note',
    in_reply_to_id BIGINT REFERENCES statuses (id) ON DELETE SET NULL,
    in_reply_to_ap_id TEXT,
    in_reply_to_actor_id BIGINT REFERENCES actors (id) ON DELETE SET NULL,
    reblog_of_id BIGINT REFERENCES statuses (id) ON DELETE CASCADE,
    group_id BIGINT REFERENCES actors (id) ON DELETE SET NULL,
    visibility TEXT NOT NULL,
    title TEXT,
    content TEXT NOT NULL DEFAULT '',
    source TEXT,
    spoiler_text TEXT NOT NULL DEFAULT '',
    sensitive BOOLEAN NOT NULL DEFAULT FALSE,
    language TEXT,
    published_at TIMESTAMP NOT NULL,
    edited_at TIMESTAMP,
    deleted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX statuses_actor ON statuses (actor_id, id);
CREATE INDEX statuses_in_reply_to ON statuses (in_reply_to_id);
CREATE INDEX statuses_in_reply_to_ap_id ON statuses (in_reply_to_ap_id);
CREATE INDEX statuses_reblog_of ON statuses (reblog_of_id);
CREATE INDEX statuses_group ON statuses (group_id, id);

CREATE TABLE follows (
    id BIGINT PRIMARY KEY NOT NULL,
    follower_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    ap_id TEXT UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (follower_id, target_id)
);
CREATE INDEX follows_target ON follows (target_id, state);

-- Activities we publish, stored once; deliveries to each inbox are jobs referring to them.
CREATE TABLE outbox_activities (
    id BIGINT PRIMARY KEY NOT NULL,
    ap_id TEXT NOT NULL UNIQUE,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    json TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_activities_actor ON outbox_activities (actor_id, id);

-- The durable job queue shared by every process: deliveries now, schedules and mails later.
CREATE TABLE jobs (
    id BIGINT PRIMARY KEY NOT NULL,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    partition_key TEXT,
    run_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    failed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX jobs_due ON jobs (queue, failed_at, run_at);
CREATE INDEX jobs_partition ON jobs (partition_key);

-- Ids of activities already received, so a replay has no second effect.
CREATE TABLE received_activities (
    ap_id TEXT PRIMARY KEY NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX received_activities_at ON received_activities (received_at);

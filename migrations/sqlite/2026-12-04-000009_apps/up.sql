-- What the popular Mastodon apps need beyond the core: posting defaults, polls, scheduled
-- statuses, account notes, muted conversations, per-user domain blocks, grouped notifications
-- and notification policies.

ALTER TABLE users ADD COLUMN default_visibility TEXT NOT NULL DEFAULT 'public';
ALTER TABLE users ADD COLUMN default_sensitive BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN default_language TEXT;

-- A follower's choices about a followed account: a notification for each new post, and its
-- boosts in the home timeline or not.
ALTER TABLE follows ADD COLUMN notify BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE follows ADD COLUMN show_reblogs BOOLEAN NOT NULL DEFAULT TRUE;

-- A poll is part of its status (a Question). Counts are ours for local polls and the origin's
-- word for remote ones.
CREATE TABLE polls (
    status_id BIGINT PRIMARY KEY NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    multiple BOOLEAN NOT NULL,
    voters_count BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMP,
    closed_at TIMESTAMP,
    -- When our users were told of its end (once, however often the end moves).
    notified_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE poll_options (
    status_id BIGINT NOT NULL REFERENCES polls (status_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    votes_count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (status_id, position)
);
CREATE TABLE poll_votes (
    status_id BIGINT NOT NULL REFERENCES polls (status_id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    choice INTEGER NOT NULL,
    ap_id TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (status_id, actor_id, choice)
);

-- A status to publish later; `params_json` holds what the app sent, typed when it was taken.
CREATE TABLE scheduled_statuses (
    id BIGINT PRIMARY KEY NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    scheduled_at TIMESTAMP NOT NULL,
    params_json TEXT NOT NULL,
    job_id BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX scheduled_statuses_by_actor ON scheduled_statuses (actor_id, scheduled_at);
ALTER TABLE media_attachments ADD COLUMN scheduled_status_id BIGINT;
CREATE INDEX media_attachments_by_scheduled_status ON media_attachments (scheduled_status_id)
    WHERE scheduled_status_id IS NOT NULL;

CREATE TABLE account_notes (
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    comment TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (actor_id, target_id)
);

-- A muted conversation is named by its root status.
CREATE TABLE conversation_mutes (
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    root_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (actor_id, root_id)
);

CREATE TABLE user_domain_blocks (
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (actor_id, domain)
);

-- Grouped notifications (API v2): likes, boosts and follows within a span share a key.
-- Filtered ones wait as notification requests instead of showing.
ALTER TABLE notifications ADD COLUMN group_key TEXT;
ALTER TABLE notifications ADD COLUMN filtered BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX notifications_by_group ON notifications (recipient_id, group_key);
CREATE INDEX notifications_held_back ON notifications (recipient_id, from_actor_id) WHERE filtered;

CREATE TABLE notification_policies (
    actor_id BIGINT PRIMARY KEY NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    for_not_following TEXT NOT NULL DEFAULT 'accept',
    for_not_followers TEXT NOT NULL DEFAULT 'accept',
    for_new_accounts TEXT NOT NULL DEFAULT 'accept',
    for_private_mentions TEXT NOT NULL DEFAULT 'accept',
    for_limited_accounts TEXT NOT NULL DEFAULT 'accept',
    updated_at TIMESTAMP NOT NULL
);
-- Senders whose filtered notifications the recipient accepted: never filtered again.
CREATE TABLE notification_permissions (
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    from_actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (actor_id, from_actor_id)
);

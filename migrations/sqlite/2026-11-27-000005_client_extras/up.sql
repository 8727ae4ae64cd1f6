-- Client API extras: read markers, mutes, lists, followed hashtags, filters, edit history and
-- pinned statuses.

CREATE TABLE markers (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    timeline TEXT NOT NULL,
    last_read_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, timeline)
);

CREATE TABLE mutes (
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    notifications BOOLEAN NOT NULL,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (actor_id, target_id)
);

CREATE TABLE lists (
    id BIGINT PRIMARY KEY NOT NULL,
    owner_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    replies_policy TEXT NOT NULL,
    exclusive BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX lists_owner ON lists (owner_id);

CREATE TABLE list_members (
    list_id BIGINT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    PRIMARY KEY (list_id, actor_id)
);

CREATE TABLE followed_tags (
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (actor_id, tag)
);

CREATE TABLE filters (
    id BIGINT PRIMARY KEY NOT NULL,
    owner_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    contexts TEXT NOT NULL,
    action TEXT NOT NULL,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX filters_owner ON filters (owner_id);

CREATE TABLE filter_keywords (
    id BIGINT PRIMARY KEY NOT NULL,
    filter_id BIGINT NOT NULL REFERENCES filters (id) ON DELETE CASCADE,
    keyword TEXT NOT NULL,
    whole_word BOOLEAN NOT NULL
);
CREATE INDEX filter_keywords_filter ON filter_keywords (filter_id);

CREATE TABLE filter_statuses (
    id BIGINT PRIMARY KEY NOT NULL,
    filter_id BIGINT NOT NULL REFERENCES filters (id) ON DELETE CASCADE,
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE
);
CREATE INDEX filter_statuses_filter ON filter_statuses (filter_id);

-- Each earlier version of an edited status, oldest first.
CREATE TABLE status_edits (
    id BIGINT PRIMARY KEY NOT NULL,
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    content TEXT NOT NULL,
    spoiler_text TEXT NOT NULL,
    sensitive BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX status_edits_status ON status_edits (status_id, id);

CREATE TABLE pins (
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (actor_id, status_id)
);

-- The streaming API reads what changed since its last look. Partial indexes: a full index on
-- deleted_at would tempt SQLite's planner to answer "deleted_at IS NULL" (every timeline) by
-- scanning it and sorting, instead of walking the id index and stopping after one page.
CREATE INDEX statuses_deleted_at ON statuses (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX statuses_edited_at ON statuses (edited_at) WHERE edited_at IS NOT NULL;

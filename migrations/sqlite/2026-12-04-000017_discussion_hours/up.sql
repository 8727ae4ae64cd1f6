-- Discussion hours: a group's recurring hour (an RRULE in a timezone) whose intro, numbered
-- prompts and recap the group posts itself, from jobs of the durable queue.
CREATE TABLE discussion_hours (
    id BIGINT PRIMARY KEY NOT NULL,
    group_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    hashtag TEXT NOT NULL,
    rrule TEXT NOT NULL,
    -- The first start, in the hour's timezone's wall-clock time.
    dtstart TIMESTAMP NOT NULL,
    timezone TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    intro TEXT NOT NULL,
    -- [{"offset_seconds": 300, "text": "…"}, …], in order.
    prompts TEXT NOT NULL,
    host_id BIGINT REFERENCES actors (id) ON DELETE SET NULL,
    created_by BIGINT REFERENCES actors (id) ON DELETE SET NULL,
    cancelled_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX discussion_hours_group ON discussion_hours (group_id);

-- One edition of an hour.
CREATE TABLE hour_editions (
    id BIGINT PRIMARY KEY NOT NULL,
    hour_id BIGINT NOT NULL REFERENCES discussion_hours (id) ON DELETE CASCADE,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    -- A guest host for this date.
    host_id BIGINT REFERENCES actors (id) ON DELETE SET NULL,
    intro_status_id BIGINT REFERENCES statuses (id) ON DELETE SET NULL,
    recap_status_id BIGINT REFERENCES statuses (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (hour_id, starts_at)
);

-- The prompts an edition has posted: the primary key makes a second posting of one prompt
-- fail (and roll back) in the post's own transaction.
CREATE TABLE hour_prompts (
    edition_id BIGINT NOT NULL REFERENCES hour_editions (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    PRIMARY KEY (edition_id, number)
);

-- Who has answered in an hour, from which edition on (first-time participants).
CREATE TABLE hour_participants (
    hour_id BIGINT NOT NULL REFERENCES discussion_hours (id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    first_edition_id BIGINT NOT NULL REFERENCES hour_editions (id) ON DELETE CASCADE,
    PRIMARY KEY (hour_id, actor_id)
);

-- Events (Mobilizon / FEP-8a8e): an event is a status of kind Event (so it shows, federates,
-- is seen and deleted as any status) with its event fields here.
CREATE TABLE events (
    status_id BIGINT PRIMARY KEY NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP,
    timezone TEXT,
    place_name TEXT,
    street TEXT,
    locality TEXT,
    postal_code TEXT,
    country TEXT,
    online_url TEXT,
    capacity INTEGER,
    join_mode TEXT NOT NULL,
    external_url TEXT,
    event_status TEXT NOT NULL,
    category TEXT,
    -- Another server's event: the counts as its origin last told them.
    remote_participants INTEGER,
    remote_remaining INTEGER,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX events_starts_at ON events (starts_at);

-- Who is coming: one row per actor per event, local or remote, on local or remote events.
CREATE TABLE event_participants (
    id BIGINT PRIMARY KEY NOT NULL,
    event_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    message TEXT,
    ap_id TEXT,
    listed BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (event_id, actor_id)
);
CREATE INDEX event_participants_by_state ON event_participants (event_id, state, id);
CREATE INDEX event_participants_by_actor ON event_participants (actor_id, state);
CREATE INDEX event_participants_ap_id ON event_participants (ap_id);

-- A reminder sent is recorded in the notification's own transaction: sent once, even when
-- its job runs twice (and again for a moved start).
CREATE TABLE event_reminders_sent (
    participant_id BIGINT NOT NULL REFERENCES event_participants (id) ON DELETE CASCADE,
    minutes_before INTEGER NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (participant_id, minutes_before, starts_at)
);

-- Minutes before an event's start to remind a member, comma-separated ('' for none).
ALTER TABLE users ADD COLUMN event_reminders TEXT NOT NULL DEFAULT '60,1440';
-- The secret in a member's calendar feed URL (its SHA-256), so calendar apps need no session.
ALTER TABLE users ADD COLUMN calendar_token_hash TEXT;
CREATE UNIQUE INDEX users_calendar_token_hash ON users (calendar_token_hash);

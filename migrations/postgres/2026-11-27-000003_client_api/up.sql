-- The Mastodon client API: OAuth apps, tokens and codes, notifications, bookmarks,
-- idempotent status creation.

CREATE TABLE oauth_apps (
    id BIGINT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    website TEXT,
    redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL,
    client_id TEXT NOT NULL UNIQUE,
    client_secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Tokens and codes are stored as SHA-256 hashes: a copy of the database grants nothing.
CREATE TABLE oauth_tokens (
    id BIGINT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    app_id BIGINT NOT NULL REFERENCES oauth_apps (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX oauth_tokens_user ON oauth_tokens (user_id);

CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    app_id BIGINT NOT NULL REFERENCES oauth_apps (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

CREATE TABLE notifications (
    id BIGINT PRIMARY KEY NOT NULL,
    recipient_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    from_actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    status_id BIGINT REFERENCES statuses (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX notifications_recipient ON notifications (recipient_id, id);

CREATE TABLE bookmarks (
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (actor_id, status_id)
);

CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);

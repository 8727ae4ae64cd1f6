-- Browser sign-ins. The cookie holds a random token; only its SHA-256 is kept, as for access
-- tokens. A session ends at `expires_at` (pushed forward while it is used), at sign-out, or
-- when its owner revokes it from the settings page.
CREATE TABLE web_sessions (
    id BIGINT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    -- What the owner sees in the session list (cut to 200 characters).
    user_agent TEXT NOT NULL,
    ip TEXT NOT NULL,
    -- "Remember me": a cookie that outlives the browser, and a longer life.
    remember BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id, last_used_at);

-- Mail: confirmed addresses, per-member notification mail, group mail (members' digests and
-- every-post mail, and people who follow a public group by e-mail without an account), and
-- the instance's secret that signs the links and reply addresses it mails out.

-- A sign-up waits, as on Mastodon, until its address is confirmed; accounts made before this
-- (and by admins) count as confirmed.
ALTER TABLE users ADD COLUMN email_confirmed_at TIMESTAMP;
UPDATE users SET email_confirmed_at = created_at;
ALTER TABLE users ADD COLUMN mail_mentions BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN mail_follow_requests BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN mail_reports BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN mail_event_reminders BOOLEAN NOT NULL DEFAULT FALSE;
-- The last account mail a stranger can ask for (a password reset, a new confirmation link):
-- at most one per quarter hour per account, whoever asks and from wherever.
ALTER TABLE users ADD COLUMN account_mail_at TIMESTAMP;

-- One row: the key for the HMACs in unsubscribe, confirmation and reset links and in reply
-- addresses (so none of those needs a stored token).
CREATE TABLE mail_secret (
    id INTEGER PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Mail from a group: to a member (actor_id) or to an address without an account (email),
-- every post or a digest at an hour in a timezone. No row: no mail.
CREATE TABLE group_mail_subscriptions (
    id BIGINT PRIMARY KEY NOT NULL,
    group_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    actor_id BIGINT REFERENCES actors (id) ON DELETE CASCADE,
    email TEXT,
    mode TEXT NOT NULL,
    timezone TEXT NOT NULL,
    hour INTEGER NOT NULL,
    -- An address without an account receives nothing until it confirms (double opt-in).
    confirmed_at TIMESTAMP,
    -- The end of the period the last digest covered.
    digest_through TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((actor_id IS NULL) <> (email IS NULL))
);
CREATE UNIQUE INDEX group_mail_subscriptions_member ON group_mail_subscriptions (group_id, actor_id);
CREATE UNIQUE INDEX group_mail_subscriptions_email ON group_mail_subscriptions (group_id, email);
CREATE INDEX group_mail_subscriptions_mode ON group_mail_subscriptions (group_id, mode);

-- Posts already mailed to a group's every-post readers: a Create received again is relayed
-- again but mailed once.
CREATE TABLE group_mail_posts (
    status_id BIGINT PRIMARY KEY NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL
);

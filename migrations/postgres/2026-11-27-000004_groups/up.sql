-- Group moderation (FEP-1b12 groups): moderators, bans, invitations and the moderation log.
-- Membership itself is an accepted follow of the Group actor.

CREATE TABLE group_moderators (
    group_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, actor_id)
);

-- A ban ends membership and keeps the account from joining or posting again.
CREATE TABLE group_bans (
    group_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    reason TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, actor_id)
);

-- Invitations let an account join an invite-only group (or skip approval).
CREATE TABLE group_invitations (
    group_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    invited_by BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, actor_id)
);

-- Every moderation action, newest last; visible to the group's moderators.
CREATE TABLE group_log (
    id BIGINT PRIMARY KEY NOT NULL,
    group_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    moderator_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    target_actor_id BIGINT REFERENCES actors (id) ON DELETE SET NULL,
    target_status_id BIGINT REFERENCES statuses (id) ON DELETE SET NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX group_log_group ON group_log (group_id, id);

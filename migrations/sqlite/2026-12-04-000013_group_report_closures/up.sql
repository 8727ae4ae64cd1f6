-- A group's moderators close a report about the group's posts for their queue only; the
-- instance's admins still see it until they resolve it themselves.
CREATE TABLE group_report_closures (
    group_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    report_id BIGINT NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    moderator_id BIGINT REFERENCES actors (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, report_id)
);

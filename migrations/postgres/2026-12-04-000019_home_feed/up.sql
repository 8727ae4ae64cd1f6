-- Home feeds written on post (fan-out on write): one row for each status that may belong in a
-- local account's home timeline. The rows are candidates, a superset of the timeline: a read
-- walks its owner's rows newest first and applies the full home rule to each, so a feed costs
-- a page, not the size of the statuses table. See crates/storage/src/feeds.rs.
CREATE TABLE home_feed (
    owner_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    status_id BIGINT NOT NULL,
    PRIMARY KEY (owner_id, status_id)
);

-- Fan-out looks up who follows a hashtag.
CREATE INDEX followed_tags_tag ON followed_tags (tag, actor_id);

-- Existing statuses: every local account's candidates, by the same reasons as on write.
INSERT INTO home_feed (owner_id, status_id)
SELECT owner_id, status_id FROM (
    SELECT s.actor_id AS owner_id, s.id AS status_id FROM statuses s
    UNION
    SELECT f.follower_id, s.id FROM follows f JOIN statuses s ON s.actor_id = f.target_id
        WHERE f.state = 'accepted' AND s.visibility IN ('public', 'unlisted', 'private')
    UNION
    SELECT f.follower_id, s.id FROM follows f JOIN statuses s ON s.group_id = f.target_id
        WHERE f.state = 'accepted'
    UNION
    SELECT m.actor_id, s.id FROM group_moderators m JOIN statuses s ON s.group_id = m.group_id
    UNION
    SELECT actor_id, status_id FROM status_mentions
    UNION
    SELECT ft.actor_id, st.status_id FROM followed_tags ft JOIN status_tags st ON st.tag = ft.tag
        JOIN statuses s ON s.id = st.status_id WHERE s.visibility = 'public'
) AS candidates
WHERE owner_id IN (SELECT id FROM actors WHERE domain IS NULL)
  AND status_id IN (SELECT id FROM statuses WHERE deleted_at IS NULL);

-- Indexes on columns that are mostly NULL hold only the rows that are not: a full index on
-- reblog_of_id led the planner to read every original status (IS NULL) for the public
-- timeline, then sort them. Lookups by a value still use these.
DROP INDEX statuses_reblog_of;
CREATE INDEX statuses_reblog_of ON statuses (reblog_of_id) WHERE reblog_of_id IS NOT NULL;
DROP INDEX statuses_in_reply_to;
CREATE INDEX statuses_in_reply_to ON statuses (in_reply_to_id) WHERE in_reply_to_id IS NOT NULL;
DROP INDEX statuses_in_reply_to_ap_id;
CREATE INDEX statuses_in_reply_to_ap_id ON statuses (in_reply_to_ap_id) WHERE in_reply_to_ap_id IS NOT NULL;

-- An account's post count (shown with every status) reads this index alone.
CREATE INDEX statuses_actor_public ON statuses (actor_id)
    WHERE deleted_at IS NULL AND reblog_of_id IS NULL AND visibility = 'public';

DROP INDEX statuses_actor_public;
DROP INDEX statuses_reblog_of;
CREATE INDEX statuses_reblog_of ON statuses (reblog_of_id);
DROP INDEX statuses_in_reply_to;
CREATE INDEX statuses_in_reply_to ON statuses (in_reply_to_id);
DROP INDEX statuses_in_reply_to_ap_id;
CREATE INDEX statuses_in_reply_to_ap_id ON statuses (in_reply_to_ap_id);
DROP INDEX followed_tags_tag;
DROP TABLE home_feed;

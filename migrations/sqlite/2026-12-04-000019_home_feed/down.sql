DROP INDEX followed_tags_tag;
DROP TABLE home_feed;

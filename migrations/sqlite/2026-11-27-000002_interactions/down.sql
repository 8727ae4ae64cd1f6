DROP TABLE reports;
DROP TABLE media_attachments;
DROP TABLE status_tags;
DROP TABLE status_mentions;
DROP TABLE blocks;
DROP TABLE favourites;

-- Local media uploads: the thumbnail beside the file, its size, the focal point, and an index
-- for "this account's uploads".
ALTER TABLE media_attachments ADD COLUMN preview_path TEXT;
ALTER TABLE media_attachments ADD COLUMN preview_width INTEGER;
ALTER TABLE media_attachments ADD COLUMN preview_height INTEGER;
ALTER TABLE media_attachments ADD COLUMN file_size BIGINT;
-- "x,y", each in -1..1, as Mastodon's focus parameter.
ALTER TABLE media_attachments ADD COLUMN focus TEXT;
CREATE INDEX media_attachments_actor ON media_attachments (actor_id, status_id);

DROP INDEX media_attachments_actor;
ALTER TABLE media_attachments DROP COLUMN focus;
ALTER TABLE media_attachments DROP COLUMN file_size;
ALTER TABLE media_attachments DROP COLUMN preview_height;
ALTER TABLE media_attachments DROP COLUMN preview_width;
ALTER TABLE media_attachments DROP COLUMN preview_path;

ALTER TABLE actors DROP COLUMN members_only;

ALTER TABLE actors DROP COLUMN limited;

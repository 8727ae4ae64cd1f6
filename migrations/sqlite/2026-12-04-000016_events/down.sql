DROP INDEX users_calendar_token_hash;
ALTER TABLE users DROP COLUMN calendar_token_hash;
ALTER TABLE users DROP COLUMN event_reminders;
DROP TABLE event_reminders_sent;
DROP TABLE event_participants;
DROP TABLE events;

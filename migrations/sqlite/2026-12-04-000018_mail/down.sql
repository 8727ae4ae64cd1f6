DROP TABLE group_mail_posts;
DROP TABLE group_mail_subscriptions;
DROP TABLE mail_secret;
ALTER TABLE users DROP COLUMN account_mail_at;
ALTER TABLE users DROP COLUMN mail_event_reminders;
ALTER TABLE users DROP COLUMN mail_reports;
ALTER TABLE users DROP COLUMN mail_follow_requests;
ALTER TABLE users DROP COLUMN mail_mentions;
ALTER TABLE users DROP COLUMN email_confirmed_at;

DROP TABLE idempotency_keys;
DROP TABLE bookmarks;
DROP TABLE notifications;
DROP TABLE oauth_codes;
DROP TABLE oauth_tokens;
DROP TABLE oauth_apps;

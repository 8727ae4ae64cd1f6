-- An account an admin limited (Mastodon's "silence"): its posts stay out of public timelines
-- and its notifications to strangers follow their `for_limited_accounts` policy.
ALTER TABLE actors ADD COLUMN limited BOOLEAN NOT NULL DEFAULT FALSE;

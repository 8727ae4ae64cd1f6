DROP TABLE group_log;
DROP TABLE group_invitations;
DROP TABLE group_bans;
DROP TABLE group_moderators;

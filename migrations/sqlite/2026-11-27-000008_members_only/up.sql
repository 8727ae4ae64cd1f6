-- Whether a group keeps its posts to its members: ours from the group settings, remote ones
-- from their actor document ("membersOnly"), so that posting into any members-only group is
-- addressed to the group alone.
ALTER TABLE actors ADD COLUMN members_only BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE actors SET members_only = TRUE WHERE id IN (SELECT actor_id FROM groups WHERE visibility = 'members');

DROP TABLE hour_participants;
DROP TABLE hour_prompts;
DROP TABLE hour_editions;
DROP TABLE discussion_hours;

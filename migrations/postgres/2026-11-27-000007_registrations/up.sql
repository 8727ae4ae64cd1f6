-- Sign-ups: what an applicant wrote when asking to join (approval mode), for the admins who
-- decide. `users.approved` already says whether they have.
ALTER TABLE users ADD COLUMN sign_up_reason TEXT;

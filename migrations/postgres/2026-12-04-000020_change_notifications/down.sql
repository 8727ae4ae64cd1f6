DROP TRIGGER jobs_notify_jobs ON jobs;
DROP TRIGGER notifications_notify_changes ON notifications;
DROP TRIGGER statuses_notify_changes ON statuses;
DROP FUNCTION guildhall_notify_jobs();
DROP FUNCTION guildhall_notify_changes();

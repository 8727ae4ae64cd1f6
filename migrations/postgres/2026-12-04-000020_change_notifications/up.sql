-- Wake-ups for other processes sharing this database (LISTEN/NOTIFY). A NOTIFY sent inside a
-- transaction is delivered when it commits, and repeats within one transaction are folded,
-- so a listener hears of a change once it can read it. The payload is empty: listeners read
-- what changed from the tables, as they do without notifications. Channels are named after
-- the schema, so instances sharing one database in separate schemas do not wake each other.
CREATE FUNCTION guildhall_notify_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('guildhall_changes_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;

CREATE FUNCTION guildhall_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('guildhall_jobs_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;

-- What the streaming API reports: new, edited and deleted statuses, new notifications.
CREATE TRIGGER statuses_notify_changes
    AFTER INSERT OR UPDATE OF deleted_at, edited_at ON statuses
    FOR EACH STATEMENT EXECUTE FUNCTION guildhall_notify_changes();
CREATE TRIGGER notifications_notify_changes
    AFTER INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION guildhall_notify_changes();

-- New work for the workers (deliveries, mail, timed jobs).
CREATE TRIGGER jobs_notify_jobs
    AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION guildhall_notify_jobs();

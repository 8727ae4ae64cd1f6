-- PostgreSQL only: triggers that NOTIFY other processes of changes. SQLite is served by one
-- process, which wakes its own streams and workers.
SELECT 1;

//! The durable job queue, shared by every process on one database.
//!
//! Deliveries use it now; scheduled posts, reminders and digests will. A job is claimed with a
//! lease (`locked_until`): a process that dies mid-job simply lets the lease run out and another
//! claim takes the job again, so a crash loses nothing. On PostgreSQL claims use
//! `FOR UPDATE SKIP LOCKED`, so several processes never take the same job; SQLite has one
//! writer, and claims run in an immediate (write-locked) transaction.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp as SqlTimestamp};
use guildhall_core::Id;

use crate::schema::jobs;
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now};

/// One queued job.
#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = jobs)]
pub struct Job {
    /// Our id (time-sortable).
    pub id: i64,
    /// Which worker handles it (`deliver`, …).
    pub queue: String,
    /// The job's input, JSON.
    pub payload: String,
    /// Jobs with one key share a fate (for deliveries: the target instance's domain).
    pub partition_key: Option<String>,
    /// Not before this time.
    pub run_at: Timestamp,
    /// Claims so far (a claim counts as an attempt, so a job that crashes its worker ends).
    pub attempts: i32,
    /// Give up after this many attempts.
    pub max_attempts: i32,
    /// The worker that holds the lease.
    pub locked_by: Option<String>,
    /// The lease runs out at this time.
    pub locked_until: Option<Timestamp>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Given up at this time (kept for inspection, never claimed again).
    pub failed_at: Option<Timestamp>,
    /// Row creation.
    pub created_at: Timestamp,
    /// Last row change.
    pub updated_at: Timestamp,
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Which worker handles it.
    pub queue: String,
    /// The job's input, JSON.
    pub payload: String,
    /// Jobs with one key share a fate.
    pub partition_key: Option<String>,
    /// Not before this time.
    pub run_at: Timestamp,
    /// Give up after this many attempts.
    pub max_attempts: i32,
}

/// Adds a job; returns its id. Call inside the transaction of the change that caused it.
pub fn enqueue(conn: &mut DbConnection, job: NewJob) -> StorageResult<i64> {
    crate::write(conn, |conn| {
        let row = new_row(job, now());
        diesel::insert_into(jobs::table).values(&row).execute(conn)?;
        crate::wakeups::mark(crate::wakeups::Change::Jobs);
        Ok(row.id)
    })
}

/// Adds many jobs with multi-row inserts (a fan-out queues one job per inbox).
pub fn enqueue_many(conn: &mut DbConnection, new: Vec<NewJob>) -> StorageResult<usize> {
    crate::write(conn, |conn| {
        let stamp = now();
        let rows: Vec<Job> = new.into_iter().map(|job| new_row(job, stamp)).collect();
        // 13 columns a row: 1,000 rows stay well under SQLite's 32,766 bound parameters.
        for chunk in rows.chunks(1_000) {
            match conn {
                DbConnection::Pg(pg) => diesel::insert_into(jobs::table).values(chunk).execute(pg)?,
                DbConnection::Sqlite(sqlite) => {
                    diesel::insert_into(jobs::table).values(chunk).execute(sqlite)?
                }
            };
        }
        if !rows.is_empty() {
            crate::wakeups::mark(crate::wakeups::Change::Jobs);
        }
        Ok(rows.len())
    })
}

fn new_row(job: NewJob, stamp: Timestamp) -> Job {
    Job {
        id: Id::generate().0,
        queue: job.queue,
        payload: job.payload,
        partition_key: job.partition_key,
        run_at: job.run_at,
        attempts: 0,
        max_attempts: job.max_attempts,
        locked_by: None,
        locked_until: None,
        last_error: None,
        failed_at: None,
        created_at: stamp,
        updated_at: stamp,
    }
}

/// Claims up to `limit` jobs of `queue` for `worker` that are due at `as_of` (normally
/// [`now`]; tests pass a later time to act as if time had passed) and not leased at that time,
/// leasing them until `lease_until`. Jobs whose partition key is in `skip_partitions` (open
/// circuit breakers) are left alone.
pub fn claim(
    conn: &mut DbConnection,
    queue: &str,
    worker: &str,
    limit: i64,
    as_of: Timestamp,
    lease_until: Timestamp,
    skip_partitions: &[String],
) -> StorageResult<Vec<Job>> {
    let stamp = as_of;
    match conn {
        DbConnection::Pg(pg) => claim_pg(pg, queue, worker, limit, stamp, lease_until, skip_partitions),
        // The transaction takes SQLite's write lock first, so two claimers never share a job.
        DbConnection::Sqlite(_) => crate::transaction(conn, |conn| {
            let ids: Vec<i64> =
                due(queue, stamp, skip_partitions).limit(limit).select(jobs::id).load(conn)?;
            lease(conn, &ids, worker, stamp, lease_until)
        }),
    }
}

type DueQuery<'a> = jobs::BoxedQuery<'a, crate::MultiBackend>;

fn due<'a>(queue: &'a str, stamp: Timestamp, skip: &'a [String]) -> DueQuery<'a> {
    let mut query = jobs::table
        .filter(jobs::queue.eq(queue))
        .filter(jobs::failed_at.is_null())
        .filter(jobs::run_at.le(stamp))
        .filter(jobs::locked_until.is_null().or(jobs::locked_until.lt(stamp)))
        .order((jobs::run_at, jobs::id))
        .into_boxed();
    if !skip.is_empty() {
        query = query.filter(jobs::partition_key.is_null().or(jobs::partition_key.ne_all(skip)));
    }
    query
}

fn lease(
    conn: &mut DbConnection,
    ids: &[i64],
    worker: &str,
    stamp: Timestamp,
    lease_until: Timestamp,
) -> StorageResult<Vec<Job>> {
    diesel::update(jobs::table.filter(jobs::id.eq_any(ids)))
        .set((
            jobs::locked_by.eq(Some(worker)),
            jobs::locked_until.eq(Some(lease_until)),
            jobs::attempts.eq(jobs::attempts + 1),
            jobs::updated_at.eq(stamp),
        ))
        .execute(conn)?;
    Ok(jobs::table
        .filter(jobs::id.eq_any(ids))
        .order((jobs::run_at, jobs::id))
        .select(Job::as_select())
        .load(conn)?)
}

fn claim_pg(
    pg: &mut diesel::PgConnection,
    queue: &str,
    worker: &str,
    limit: i64,
    stamp: Timestamp,
    lease_until: Timestamp,
    skip: &[String],
) -> StorageResult<Vec<Job>> {
    let mut jobs: Vec<Job> = diesel::sql_query(
        "UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1, updated_at = $3
         WHERE id IN (
             SELECT id FROM jobs
             WHERE queue = $4 AND failed_at IS NULL AND run_at <= $3
               AND (locked_until IS NULL OR locked_until < $3)
               AND (partition_key IS NULL OR NOT (partition_key = ANY($6)))
             ORDER BY run_at, id
             LIMIT $5
             FOR UPDATE SKIP LOCKED)
         RETURNING *",
    )
    .bind::<Text, _>(worker)
    .bind::<SqlTimestamp, _>(lease_until)
    .bind::<SqlTimestamp, _>(stamp)
    .bind::<Text, _>(queue)
    .bind::<BigInt, _>(limit)
    .bind::<diesel::sql_types::Array<Text>, _>(skip)
    .load(pg)?;
    jobs.sort_by_key(|j| (j.run_at, j.id));
    Ok(jobs)
}

/// Removes a finished job. Only the lease holder may finish it: returns false when the lease
/// was lost (another worker took the job after this one's lease ran out).
pub fn complete(conn: &mut DbConnection, id: i64, worker: &str) -> StorageResult<bool> {
    crate::write(conn, |conn| {
        let deleted = diesel::delete(jobs::table.filter(jobs::id.eq(id)).filter(jobs::locked_by.eq(worker)))
            .execute(conn)?;
        Ok(deleted == 1)
    })
}

/// Drops the jobs of `queue` with partition `key` that no worker holds (a digest whose
/// subscription ended); returns how many.
pub fn cancel_partition(conn: &mut DbConnection, queue: &str, key: &str) -> StorageResult<usize> {
    crate::write(conn, |conn| {
        Ok(diesel::delete(
            jobs::table
                .filter(jobs::queue.eq(queue))
                .filter(jobs::partition_key.eq(key))
                .filter(jobs::locked_by.is_null().or(jobs::locked_until.lt(now())))
                .filter(jobs::failed_at.is_null()),
        )
        .execute(conn)?)
    })
}

/// Removes finished jobs still leased to `worker`, in one statement; returns how many.
pub fn complete_many(conn: &mut DbConnection, ids: &[i64], worker: &str) -> StorageResult<usize> {
    crate::write(conn, |conn| {
        let mut done = 0;
        for chunk in ids.chunks(500) {
            done +=
                diesel::delete(jobs::table.filter(jobs::id.eq_any(chunk)).filter(jobs::locked_by.eq(worker)))
                    .execute(conn)?;
        }
        Ok(done)
    })
}

/// Releases a job held by `worker` to run again at `run_at`, recording why it failed. When its
/// attempts are used up it is marked failed instead. Returns true when it will run again.
/// Only the lease holder may release it: a worker whose lease ran out and passed to another
/// gets [`StorageError::Conflict`] and changes nothing, so the new holder's run is not undone.
pub fn retry(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
    run_at: Timestamp,
    error: &str,
) -> StorageResult<bool> {
    crate::write(conn, |conn| {
        let released = diesel::update(
            jobs::table
                .find(id)
                .filter(jobs::locked_by.eq(worker))
                .filter(jobs::attempts.lt(jobs::max_attempts)),
        )
        .set((
            jobs::run_at.eq(run_at),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<Timestamp>),
            jobs::last_error.eq(Some(error)),
            jobs::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if released == 1 {
            return Ok(true);
        }
        // Held with its attempts used up (failed now), or not held (an error).
        fail(conn, id, worker, error)?;
        Ok(false)
    })
}

/// Why `worker` could not release job `id`: there is no such job, or another worker (or
/// none) holds it.
fn not_held(conn: &mut DbConnection, id: i64) -> StorageError {
    match jobs::table.find(id).select(jobs::id).first::<i64>(conn).optional() {
        Ok(Some(_)) => StorageError::Conflict(format!("job {id} is no longer held by this worker")),
        Ok(None) => StorageError::NotFound,
        Err(e) => e.into(),
    }
}

/// Puts a job held by `worker` back, to run at `run_at`, without counting the claim as an
/// attempt (it was claimed early: what it acts on moved later).
pub fn defer(conn: &mut DbConnection, id: i64, worker: &str, run_at: Timestamp) -> StorageResult<()> {
    crate::write(conn, |conn| {
        diesel::update(jobs::table.find(id).filter(jobs::locked_by.eq(worker)))
            .set((
                jobs::run_at.eq(run_at),
                jobs::locked_by.eq(None::<String>),
                jobs::locked_until.eq(None::<Timestamp>),
                jobs::attempts.eq(jobs::attempts - 1),
                jobs::updated_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Gives up for good on a job held by `worker`, recording why (`Conflict` when its lease
/// passed to another worker, as for [`retry`]).
pub fn fail(conn: &mut DbConnection, id: i64, worker: &str, error: &str) -> StorageResult<()> {
    crate::write(conn, |conn| {
        let stamp = now();
        let changed = diesel::update(jobs::table.find(id).filter(jobs::locked_by.eq(worker)))
            .set((
                jobs::failed_at.eq(Some(stamp)),
                jobs::locked_by.eq(None::<String>),
                jobs::locked_until.eq(None::<Timestamp>),
                jobs::last_error.eq(Some(error)),
                jobs::updated_at.eq(stamp),
            ))
            .execute(conn)?;
        if changed == 1 { Ok(()) } else { Err(not_held(conn, id)) }
    })
}

/// When the next job of these queues falls due (one not leased and not failed), if any: a
/// worker sleeps until then rather than polling blind.
pub fn next_due(conn: &mut DbConnection, queues: &[&str]) -> StorageResult<Option<Timestamp>> {
    use diesel::dsl::min;
    Ok(jobs::table
        .filter(jobs::queue.eq_any(queues))
        .filter(jobs::failed_at.is_null())
        .filter(jobs::locked_until.is_null())
        .select(min(jobs::run_at))
        .first::<Option<Timestamp>>(conn)?)
}

/// Jobs of `queue` still to run (not failed), for tests, health and metrics.
pub fn pending_count(conn: &mut DbConnection, queue: &str) -> StorageResult<i64> {
    Ok(jobs::table
        .filter(jobs::queue.eq(queue))
        .filter(jobs::failed_at.is_null())
        .count()
        .get_result(conn)?)
}

/// One queue's state for the admins' health page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    /// The queue.
    pub queue: String,
    /// Jobs waiting or running.
    pub pending: i64,
    /// Jobs that gave up.
    pub failed: i64,
    /// When the oldest waiting job was due.
    pub oldest_due: Option<Timestamp>,
}

/// Every queue's pending and failed counts and its oldest due job.
pub fn stats(conn: &mut DbConnection) -> StorageResult<Vec<QueueStats>> {
    use diesel::dsl::{count_star, min};
    let pending: Vec<(String, i64, Option<Timestamp>)> = jobs::table
        .filter(jobs::failed_at.is_null())
        .group_by(jobs::queue)
        .select((jobs::queue, count_star(), min(jobs::run_at)))
        .load(conn)?;
    let failed: Vec<(String, i64)> = jobs::table
        .filter(jobs::failed_at.is_not_null())
        .group_by(jobs::queue)
        .select((jobs::queue, count_star()))
        .load(conn)?;
    let mut out: Vec<QueueStats> = pending
        .into_iter()
        .map(|(queue, pending, oldest_due)| QueueStats { queue, pending, failed: 0, oldest_due })
        .collect();
    for (queue, n) in failed {
        match out.iter_mut().find(|q| q.queue == queue) {
            Some(q) => q.failed = n,
            None => out.push(QueueStats { queue, pending: 0, failed: n, oldest_due: None }),
        }
    }
    out.sort_by(|a, b| a.queue.cmp(&b.queue));
    Ok(out)
}

/// Every job of a queue, failed ones included, oldest first (for inspection and tests).
pub fn all(conn: &mut DbConnection, queue: &str) -> StorageResult<Vec<Job>> {
    Ok(jobs::table.filter(jobs::queue.eq(queue)).order(jobs::id).select(Job::as_select()).load(conn)?)
}

/// The job with this id.
pub fn get(conn: &mut DbConnection, id: i64) -> StorageResult<Job> {
    Ok(jobs::table.find(id).select(Job::as_select()).first(conn)?)
}

#[cfg(test)]
mod tests;

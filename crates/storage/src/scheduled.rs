//! Scheduled statuses: a post kept until its time, then published by a job of the durable
//! queue ([`crate::jobs`]). The row and its job are written, moved and removed together, so a
//! restart or a second process neither loses nor repeats one.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::jobs::{self, NewJob};
use crate::schema::{jobs as jobs_table, media_attachments, scheduled_statuses};
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now};

/// The job queue that publishes scheduled statuses.
pub const PUBLISH_QUEUE: &str = "publish_scheduled";
/// Most statuses one account may have waiting (as Mastodon).
pub const MAX_PENDING: i64 = 300;
/// Most statuses one account may have scheduled for one day (as Mastodon).
pub const MAX_PER_DAY: i64 = 50;

/// One scheduled status.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = scheduled_statuses)]
pub struct ScheduledStatus {
    /// Our id.
    pub id: i64,
    /// The author.
    pub actor_id: i64,
    /// When to publish it.
    pub scheduled_at: Timestamp,
    /// What to publish (the federation crate's typed post, as JSON).
    pub params_json: String,
    /// The job that publishes it.
    pub job_id: i64,
    /// Row creation.
    pub created_at: Timestamp,
}

/// Why a status could not be scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleRefused {
    /// [`MAX_PENDING`] are waiting already.
    TooMany,
    /// [`MAX_PER_DAY`] are scheduled for that day already.
    TooManyThatDay,
}

impl std::fmt::Display for ScheduleRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScheduleRefused::TooMany => {
                write!(
                    f,
                    "Validation failed: You have exceeded the limit of {MAX_PENDING} scheduled statuses"
                )
            }
            ScheduleRefused::TooManyThatDay => write!(
                f,
                "Validation failed: You have exceeded the limit of {MAX_PER_DAY} scheduled statuses for that day"
            ),
        }
    }
}

fn publish_job(id: i64, at: Timestamp) -> NewJob {
    NewJob {
        queue: PUBLISH_QUEUE.into(),
        payload: serde_json::json!({ "scheduled_status_id": id }).to_string(),
        partition_key: None,
        run_at: at,
        max_attempts: 20,
    }
}

fn check_limits(
    conn: &mut DbConnection,
    actor_id: i64,
    at: Timestamp,
    except: Option<i64>,
) -> StorageResult<Option<ScheduleRefused>> {
    let mine = || {
        scheduled_statuses::table
            .filter(scheduled_statuses::actor_id.eq(actor_id))
            .filter(scheduled_statuses::id.ne(except.unwrap_or(0)))
            .into_boxed()
    };
    if mine().count().get_result::<i64>(conn)? >= MAX_PENDING {
        return Ok(Some(ScheduleRefused::TooMany));
    }
    let day = at.date().and_hms_opt(0, 0, 0).unwrap_or(at);
    let that_day = mine()
        .filter(scheduled_statuses::scheduled_at.ge(day))
        .filter(scheduled_statuses::scheduled_at.lt(day + chrono::Duration::days(1)))
        .count()
        .get_result::<i64>(conn)?;
    Ok((that_day >= MAX_PER_DAY).then_some(ScheduleRefused::TooManyThatDay))
}

/// Takes the author's row lock on PostgreSQL, so two requests cannot both count 299 and both
/// add one (SQLite's write lock already orders them).
fn lock_account(conn: &mut DbConnection, actor_id: i64) -> StorageResult<()> {
    if let DbConnection::Pg(pg) = conn {
        use crate::schema::users;
        users::table.filter(users::actor_id.eq(actor_id)).select(users::id).for_update().load::<i64>(pg)?;
    }
    Ok(())
}

/// Schedules a status with its publishing job, holding `media_ids` (the author's uploads) for
/// it so the sweep of unattached uploads leaves them alone.
pub fn create(
    conn: &mut DbConnection,
    actor_id: i64,
    at: Timestamp,
    params_json: String,
    media_ids: &[i64],
) -> StorageResult<Result<ScheduledStatus, ScheduleRefused>> {
    crate::transaction(conn, |conn| {
        lock_account(conn, actor_id)?;
        if let Some(refused) = check_limits(conn, actor_id, at, None)? {
            return Ok(Err(refused));
        }
        let id = Id::generate().0;
        let job_id = jobs::enqueue(conn, publish_job(id, at))?;
        let row = ScheduledStatus { id, actor_id, scheduled_at: at, params_json, job_id, created_at: now() };
        diesel::insert_into(scheduled_statuses::table).values(&row).execute(conn)?;
        let held = diesel::update(
            media_attachments::table
                .filter(media_attachments::id.eq_any(media_ids))
                .filter(media_attachments::actor_id.eq(actor_id))
                .filter(media_attachments::status_id.is_null())
                .filter(media_attachments::scheduled_status_id.is_null()),
        )
        .set(media_attachments::scheduled_status_id.eq(Some(id)))
        .execute(conn)?;
        // Checked before, but another request may have taken one meanwhile: all or nothing.
        if held != media_ids.len() {
            return Err(StorageError::Conflict("a file is attached or scheduled elsewhere".into()));
        }
        Ok(Ok(row))
    })
}

/// One of `actor_id`'s scheduled statuses.
pub fn get(conn: &mut DbConnection, actor_id: i64, id: i64) -> StorageResult<ScheduledStatus> {
    Ok(scheduled_statuses::table
        .filter(scheduled_statuses::id.eq(id))
        .filter(scheduled_statuses::actor_id.eq(actor_id))
        .select(ScheduledStatus::as_select())
        .first(conn)?)
}

/// The scheduled status with this id, whoever wrote it (the publishing job).
pub fn find(conn: &mut DbConnection, id: i64) -> StorageResult<Option<ScheduledStatus>> {
    Ok(scheduled_statuses::table.find(id).select(ScheduledStatus::as_select()).first(conn).optional()?)
}

/// A page of `actor_id`'s scheduled statuses, by id (newest first, or oldest first above
/// `min_id`).
pub fn list(
    conn: &mut DbConnection,
    actor_id: i64,
    page: &crate::timelines::Page,
) -> StorageResult<Vec<ScheduledStatus>> {
    let mut query = scheduled_statuses::table.filter(scheduled_statuses::actor_id.eq(actor_id)).into_boxed();
    if let Some(max) = page.max_id {
        query = query.filter(scheduled_statuses::id.lt(max));
    }
    if let Some(since) = page.since_id {
        query = query.filter(scheduled_statuses::id.gt(since));
    }
    if let Some(min) = page.min_id {
        let mut rows: Vec<ScheduledStatus> = query
            .filter(scheduled_statuses::id.gt(min))
            .order(scheduled_statuses::id.asc())
            .limit(page.limit)
            .select(ScheduledStatus::as_select())
            .load(conn)?;
        rows.reverse();
        return Ok(rows);
    }
    Ok(query
        .order(scheduled_statuses::id.desc())
        .limit(page.limit)
        .select(ScheduledStatus::as_select())
        .load(conn)?)
}

/// Moves a scheduled status to another time with a fresh job. The old job is deleted unless a
/// worker holds it; a worker that does finds the row pointing at another job and does nothing.
pub fn reschedule(
    conn: &mut DbConnection,
    actor_id: i64,
    id: i64,
    at: Timestamp,
) -> StorageResult<Result<ScheduledStatus, ScheduleRefused>> {
    crate::transaction(conn, |conn| {
        lock_account(conn, actor_id)?;
        let row = get(conn, actor_id, id)?;
        if let Some(refused) = check_limits(conn, actor_id, at, Some(id))? {
            return Ok(Err(refused));
        }
        drop_job(conn, row.job_id)?;
        let job_id = jobs::enqueue(conn, publish_job(id, at))?;
        diesel::update(scheduled_statuses::table.find(id))
            .set((scheduled_statuses::scheduled_at.eq(at), scheduled_statuses::job_id.eq(job_id)))
            .execute(conn)?;
        Ok(Ok(get(conn, actor_id, id)?))
    })
}

/// Deletes a job unless a worker holds it.
fn drop_job(conn: &mut DbConnection, job_id: i64) -> StorageResult<()> {
    diesel::delete(jobs_table::table.find(job_id).filter(jobs_table::locked_by.is_null())).execute(conn)?;
    Ok(())
}

/// Removes a scheduled status and its job; its media go back to being plain uploads.
pub fn remove(conn: &mut DbConnection, actor_id: i64, id: i64) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        let row = get(conn, actor_id, id)?;
        drop_job(conn, row.job_id)?;
        release(conn, id)
    })
}

/// Forgets a scheduled status that was published (or removed): the row goes, and media not
/// attached to a status go back to being plain uploads. Nothing happens when it is gone
/// already.
pub fn release(conn: &mut DbConnection, id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        unhold_media(conn, id)?;
        diesel::delete(scheduled_statuses::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// Lets go of the uploads held for scheduled status `id` (its publishing attaches them).
pub fn unhold_media(conn: &mut DbConnection, id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::update(media_attachments::table.filter(media_attachments::scheduled_status_id.eq(id)))
            .set(media_attachments::scheduled_status_id.eq(None::<i64>))
            .execute(conn)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors;
    use crate::testing::{each_backend, rows};
    use crate::timelines::Page;

    #[tokio::test]
    async fn a_scheduled_status_and_its_job_move_and_go_together() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let at = now() + chrono::Duration::hours(2);
                let s = create(c, ada.id, at, "{}".into(), &[])?.unwrap();
                assert_eq!(jobs::get(c, s.job_id)?.run_at, at);
                let later = at + chrono::Duration::hours(1);
                let moved = reschedule(c, ada.id, s.id, later)?.unwrap();
                assert_eq!(moved.scheduled_at, later);
                assert_eq!(jobs::get(c, moved.job_id)?.run_at, later);
                assert!(jobs::get(c, s.job_id).is_err(), "the old job is gone");
                assert_eq!(list(c, ada.id, &Page::default())?.len(), 1);
                remove(c, ada.id, s.id)?;
                assert_eq!(jobs::pending_count(c, PUBLISH_QUEUE)?, 0);
                assert!(find(c, s.id)?.is_none());
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn fifty_a_day_at_most() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let day = (now() + chrono::Duration::days(3)).date().and_hms_opt(10, 0, 0).unwrap();
                for i in 0..MAX_PER_DAY {
                    create(c, ada.id, day + chrono::Duration::minutes(i), "{}".into(), &[])?.unwrap();
                }
                let refused = create(c, ada.id, day + chrono::Duration::hours(5), "{}".into(), &[])?;
                assert_eq!(refused, Err(ScheduleRefused::TooManyThatDay));
                assert!(create(c, ada.id, day + chrono::Duration::days(1), "{}".into(), &[])?.is_ok());
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

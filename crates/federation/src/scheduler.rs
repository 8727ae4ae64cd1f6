//! The timed jobs of the durable queue: scheduled statuses published at their time, polls
//! closed at their end. Jobs are leased ([`guildhall_storage::jobs`]), so with several
//! processes each runs once, and a restart resumes them.
//!
//! Publishing is safe to repeat: the status is posted under an idempotency key named after the
//! scheduled status, in the post's own transaction, so a worker that crashes between posting
//! and finishing the job finds the status already posted when the job comes round again.

use std::time::Duration;

use guildhall_core::model::Visibility;
use guildhall_storage::{Db, Timestamp, accounts, events, hours, jobs, now, polls, scheduled};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::actions::{self, NewPost, PollParams};
use crate::error::FedError;
use crate::state::{FedConfig, FedData};

/// How long a claimed job is ours.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// Jobs claimed per queue per round.
const BATCH: i64 = 16;
/// Every queue this worker runs, in the order a round takes them.
const QUEUES: [&str; 6] = [
    scheduled::PUBLISH_QUEUE,
    polls::CLOSE_QUEUE,
    crate::polls::COUNTS_QUEUE,
    hours::STEP_QUEUE,
    events::REMINDER_QUEUE,
    events::COUNTS_QUEUE,
];
/// The shortest sleep of an idle worker (a job due but not claimable must not spin it).
const MIN_PAUSE: Duration = Duration::from_millis(10);
/// How often the queue is looked at when nothing wakes the worker.
const PERIOD: Duration = Duration::from_secs(1);

/// A status to publish later, as the app asked for it (checked when it was scheduled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledPost {
    /// The text.
    pub text: String,
    /// Who may see it.
    pub visibility: Visibility,
    /// The status it replies to.
    pub in_reply_to: Option<i64>,
    /// Content warning.
    pub spoiler_text: String,
    /// Media sensitive.
    pub sensitive: bool,
    /// Language tag.
    pub language: Option<String>,
    /// Uploads to attach, in order.
    pub media_ids: Vec<i64>,
    /// A poll.
    pub poll: Option<PollParams>,
    /// The app's `Idempotency-Key` for the request that scheduled it, if any: a retry of that
    /// request answers this scheduled status instead of making another.
    #[serde(default)]
    pub idempotency: Option<String>,
}

/// How a job ended.
enum Outcome {
    /// Finished (or nothing left to do).
    Done,
    /// Due later than it was claimed: run it again then.
    Later(Timestamp),
}

/// Errors a retry cannot mend: what was asked is refused, or the job cannot be read.
fn is_permanent(e: &FedError) -> bool {
    matches!(e, FedError::BadRequest(_) | FedError::Forbidden(_) | FedError::NotFound)
}

#[derive(Deserialize)]
struct PublishJob {
    scheduled_status_id: i64,
}

#[derive(Deserialize)]
struct CloseJob {
    status_id: i64,
    #[serde(default)]
    expires_at_micros: Option<i64>,
}

/// Runs the timed jobs. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    federation: FedConfig,
    db: Db,
    worker_id: String,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").field("worker_id", &self.worker_id).finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler acting through `federation` on `db`.
    pub fn new(federation: FedConfig, db: Db) -> Scheduler {
        let worker_id = format!("sched-{}-{:08x}", std::process::id(), rand::random::<u32>());
        Scheduler { federation, db, worker_id }
    }

    /// Runs due jobs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let pause = match self.round(now()).await {
                Ok(0) => Some(self.idle_for().await),
                Ok(_) => None,
                Err(e) => {
                    // A failing database is not retried in a tight loop.
                    tracing::warn!(error = %e, "scheduler round failed");
                    Some(PERIOD)
                }
            };
            if let Some(pause) = pause {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }

    /// How long to sleep with nothing to do: until the next job falls due, at most [`PERIOD`]
    /// (jobs another process queues are seen within that), so a prompt goes out on time rather
    /// than up to a period late.
    async fn idle_for(&self) -> Duration {
        let next = self.db.run(|c| jobs::next_due(c, &QUEUES)).await;
        match next {
            Ok(Some(at)) => (at - now()).to_std().unwrap_or(Duration::ZERO).clamp(MIN_PAUSE, PERIOD),
            Ok(None) => PERIOD,
            Err(e) => {
                tracing::warn!(error = %e, "the next job's time could not be read");
                PERIOD
            }
        }
    }

    /// Runs every job due at `as_of` (tests pass a later time instead of waiting); returns
    /// how many ran.
    pub async fn flush_as_of(&self, as_of: Timestamp) -> Result<usize, FedError> {
        let mut total = 0;
        loop {
            let n = self.round(as_of).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    async fn round(&self, as_of: Timestamp) -> Result<usize, FedError> {
        let mut done = 0;
        for queue in QUEUES {
            let worker = self.worker_id.clone();
            let lease = as_of.max(now()) + LEASE;
            let batch =
                self.db.run(move |c| jobs::claim(c, queue, &worker, BATCH, as_of, lease, &[])).await?;
            for job in batch {
                let outcome = match queue {
                    scheduled::PUBLISH_QUEUE => self.publish(&job, as_of).await,
                    polls::CLOSE_QUEUE => self.close_poll(&job.payload).await.map(|()| Outcome::Done),
                    hours::STEP_QUEUE => crate::hours::run_step(&self.data(), &job.payload, as_of)
                        .await
                        .map(|()| Outcome::Done),
                    events::REMINDER_QUEUE => self.remind(&job.payload).await.map(|()| Outcome::Done),
                    events::COUNTS_QUEUE => self.event_counts(&job.payload).await.map(|()| Outcome::Done),
                    _ => self.send_counts(&job.payload).await.map(|()| Outcome::Done),
                };
                self.finish(job, outcome).await;
                done += 1;
            }
        }
        Ok(done)
    }

    /// Records how a job went; a failure to record is logged (the lease runs out and the job
    /// comes round again), never allowed to strand the rest of the batch.
    async fn finish(&self, job: jobs::Job, outcome: Result<Outcome, FedError>) {
        let (id, worker) = (job.id, self.worker_id.clone());
        let recorded = match outcome {
            Ok(Outcome::Done) => self.db.run(move |c| jobs::complete(c, id, &worker).map(|_| ())).await,
            Ok(Outcome::Later(at)) => self.db.run(move |c| jobs::defer(c, id, &worker, at)).await,
            Err(e) if is_permanent(&e) => {
                tracing::warn!(job = id, queue = %job.queue, error = %e, "timed job cannot succeed; given up");
                let why = e.to_string();
                self.db.run(move |c| jobs::fail(c, id, &worker, &why)).await
            }
            Err(e) => {
                tracing::warn!(job = id, queue = %job.queue, error = %e, "timed job failed; will retry");
                let backoff = chrono::Duration::seconds(30 * i64::from(job.attempts.clamp(1, 60)));
                let why = e.to_string();
                self.db.run(move |c| jobs::retry(c, id, &worker, now() + backoff, &why).map(|_| ())).await
            }
        };
        if let Err(e) = recorded {
            tracing::warn!(job = id, error = %e, "a timed job's outcome was not recorded");
        }
    }

    fn data(&self) -> FedData {
        self.federation.to_request_data()
    }

    /// Publishes a scheduled status, unless it was cancelled, moved to a later time, or given
    /// another job meanwhile. A post that cannot be made (its parent, media or group refuse it)
    /// is dropped, as Mastodon drops it.
    async fn publish(&self, job: &jobs::Job, as_of: Timestamp) -> Result<Outcome, FedError> {
        let payload: PublishJob = serde_json::from_str(&job.payload)?;
        let id = payload.scheduled_status_id;
        let Some(row) = self.db.run(move |c| scheduled::find(c, id)).await? else { return Ok(Outcome::Done) };
        if row.job_id != job.id {
            return Ok(Outcome::Done);
        }
        if row.scheduled_at > as_of {
            return Ok(Outcome::Later(row.scheduled_at));
        }
        let actor_id = row.actor_id;
        let account = self.db.run(move |c| accounts::find_by_actor_id(c, actor_id)).await?;
        let (Some(account), Ok(post)) = (account, serde_json::from_str::<ScheduledPost>(&row.params_json))
        else {
            // The author closed their account, or the row cannot be read: nothing to publish.
            self.db.run(move |c| scheduled::release(c, id)).await?;
            return Ok(Outcome::Done);
        };
        let new = NewPost {
            text: post.text,
            visibility: post.visibility,
            in_reply_to: post.in_reply_to,
            spoiler_text: post.spoiler_text,
            sensitive: post.sensitive,
            language: post.language,
            media_ids: post.media_ids,
            idempotency: Some((account.user.id, format!("scheduled:{id}"))),
            poll: post.poll,
        };
        // The uploads were held for this status; now it attaches them.
        self.db.run(move |c| scheduled::unhold_media(c, id)).await?;
        match actions::post(&self.data(), &account.actor, new).await {
            Ok(_) => {}
            Err(e) if is_permanent(&e) => {
                tracing::info!(scheduled = id, error = %e, "a scheduled status could not be posted; dropped");
            }
            Err(e) => return Err(e),
        }
        self.db.run(move |c| scheduled::release(c, id)).await?;
        Ok(Outcome::Done)
    }

    /// Sends an event reminder (once: the record of sending shares its transaction).
    async fn remind(&self, payload: &str) -> Result<(), FedError> {
        let job: events::Reminder = serde_json::from_str(payload)?;
        self.db.run(move |c| events::remind(c, job)).await?;
        Ok(())
    }

    /// Sends one of our events' counts to its remote participants.
    async fn event_counts(&self, payload: &str) -> Result<(), FedError> {
        #[derive(Deserialize)]
        struct Counts {
            event_id: i64,
        }
        let job: Counts = serde_json::from_str(payload)?;
        let data = self.data();
        let data2 = data.clone();
        self.db.run(move |c| crate::events::send_counts(c, &data2, job.event_id)).await?;
        data.delivery_wakeup.notify_one();
        Ok(())
    }

    async fn send_counts(&self, payload: &str) -> Result<(), FedError> {
        let job: CloseJob = serde_json::from_str(payload)?;
        let data = self.data();
        let data2 = data.clone();
        self.db.run(move |c| crate::polls::send_counts(c, &data2, job.status_id)).await?;
        data.delivery_wakeup.notify_one();
        Ok(())
    }

    async fn close_poll(&self, payload: &str) -> Result<(), FedError> {
        let job: CloseJob = serde_json::from_str(payload)?;
        let data = self.data();
        let data2 = data.clone();
        self.db.run(move |c| crate::polls::close(c, &data2, job.status_id, job.expires_at_micros)).await?;
        data.delivery_wakeup.notify_one();
        Ok(())
    }
}

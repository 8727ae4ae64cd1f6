//! The timed jobs of the durable queue: scheduled statuses published at their time, polls
//! closed at their end. Jobs are leased ([`guildhall_storage::jobs`]), so with several
//! processes each runs once, and a restart resumes them.
//!
//! Publishing is safe to repeat: the status is posted under an idempotency key named after the
//! scheduled status, in the post's own transaction, so a worker that crashes between posting
//! and finishing the job finds the status already posted when the job comes round again.

use std::time::Duration;

use guildhall_core::model::Visibility;
use guildhall_storage::{Db, Timestamp, accounts, jobs, now, polls, scheduled};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::actions::{self, NewPost, PollParams};
use crate::error::FedError;
use crate::state::{FedConfig, FedData};

/// How long a claimed job is ours.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// Jobs claimed per queue per round.
const BATCH: i64 = 16;
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
    /// The app's `Idempotency-Key` for the request that scheduled it, if any.
    #[serde(default)]
    pub application: Option<String>,
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
            let done = match self.round(now()).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler round failed");
                    0
                }
            };
            if done == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(PERIOD) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
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
        for queue in [scheduled::PUBLISH_QUEUE, polls::CLOSE_QUEUE] {
            let worker = self.worker_id.clone();
            let lease = as_of.max(now()) + LEASE;
            let batch =
                self.db.run(move |c| jobs::claim(c, queue, &worker, BATCH, as_of, lease, &[])).await?;
            for job in batch {
                let outcome = match queue {
                    scheduled::PUBLISH_QUEUE => self.publish(&job.payload).await,
                    _ => self.close_poll(&job.payload).await,
                };
                self.finish(job, outcome).await?;
                done += 1;
            }
        }
        Ok(done)
    }

    async fn finish(&self, job: jobs::Job, outcome: Result<(), FedError>) -> Result<(), FedError> {
        let worker = self.worker_id.clone();
        match outcome {
            Ok(()) => {
                self.db.run(move |c| jobs::complete(c, job.id, &worker)).await?;
            }
            Err(e) => {
                tracing::warn!(job = job.id, queue = %job.queue, error = %e, "timed job failed");
                let backoff = chrono::Duration::seconds(30 * i64::from(job.attempts.clamp(1, 60)));
                let (id, why) = (job.id, e.to_string());
                self.db.run(move |c| jobs::retry(c, id, now() + backoff, &why)).await?;
            }
        }
        Ok(())
    }

    fn data(&self) -> FedData {
        self.federation.to_request_data()
    }

    async fn publish(&self, payload: &str) -> Result<(), FedError> {
        let job: PublishJob = serde_json::from_str(payload)?;
        let id = job.scheduled_status_id;
        let Some(row) = self.db.run(move |c| scheduled::find(c, id)).await? else { return Ok(()) };
        let post: ScheduledPost = serde_json::from_str(&row.params_json)?;
        let actor_id = row.actor_id;
        let Some(account) = self.db.run(move |c| accounts::find_by_actor_id(c, actor_id)).await? else {
            // The author closed their account: nothing to publish.
            return Ok(self.db.run(move |c| scheduled::release(c, id)).await?);
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
        let data = self.data();
        match actions::post(&data, &account.actor, new).await {
            Ok(_) => {}
            // The parent went away meanwhile: the post cannot be made; drop it, as Mastodon does.
            Err(FedError::NotFound) => tracing::info!(scheduled = id, "scheduled reply's parent is gone"),
            Err(e) => return Err(e),
        }
        Ok(self.db.run(move |c| scheduled::release(c, id)).await?)
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

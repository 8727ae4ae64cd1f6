//! The mail worker: claims the mail jobs of the durable queue, composes them into `mail_send`
//! jobs (in the transaction that records the work as done, so a crash neither loses nor
//! doubles a composed mail), and hands those to the transport with retries and backoff.
//!
//! Jobs are leased, so several processes on one PostgreSQL database share the work and each
//! job runs once. A message is handed to SMTP at least once: a process that dies after the
//! server accepted a message and before the job is marked done sends it again on restart.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use guildhall_core::Config;
use guildhall_core::mail::Signer;
use guildhall_storage::mail::{self as store, AccountMail, DigestJob, GroupPostJob, Notice, Outgoing};
use guildhall_storage::{Db, StorageError, StorageResult, Timestamp, jobs, now};
use tokio::sync::watch;

use crate::letters::{self, Context};
use crate::transport::{SendError, Transport};

/// How long a claimed job is ours.
const LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// Composing jobs claimed per queue per round.
const BATCH: i64 = 16;
/// Messages claimed for sending per round.
const SEND_BATCH: i64 = 32;
/// Messages handed to SMTP at once (the connection pool's size); a batch of 32 at 30 s
/// each at worst stays within the lease.
const PARALLEL_SENDS: usize = 8;
/// What a composing job that lost its lease reports (its work rolled back).
const LEASE_LOST: &str = "the mail job's lease was lost";
/// The longest an idle worker sleeps before looking again.
const PERIOD: Duration = Duration::from_secs(1);

/// Composes and sends mail. Cheap to clone.
#[derive(Clone)]
pub struct MailWorker {
    db: Db,
    context: Arc<Context>,
    transport: Transport,
    worker_id: String,
    wakeup: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for MailWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailWorker")
            .field("worker_id", &self.worker_id)
            .field("transport", &self.transport)
            .finish()
    }
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The SMTP settings cannot work.
    #[error(transparent)]
    Transport(#[from] SendError),
}

impl MailWorker {
    /// A worker for `config`'s instance on `db`.
    pub async fn new(db: Db, config: &Config) -> Result<MailWorker, StartError> {
        let transport = Transport::from_config(config)?;
        let secret = db.run(store::secret).await?;
        let context = Context {
            base: config.base_url(),
            host: config.domain.host().to_owned(),
            site: site_name(&db, config).await,
            from: config.mail_from.clone(),
            signer: Signer::new(&secret),
        };
        let worker_id = format!("mail-{}-{:08x}", std::process::id(), rand::random::<u32>());
        Ok(MailWorker { db, context: Arc::new(context), transport, worker_id, wakeup: Arc::default() })
    }

    /// What to notify when mail jobs were queued elsewhere (another process's commit).
    pub fn wakeup(&self) -> Arc<tokio::sync::Notify> {
        self.wakeup.clone()
    }

    /// The signing key of links and reply addresses (the web pages and the receiver check
    /// with the same one).
    pub fn context(&self) -> &Arc<Context> {
        &self.context
    }

    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let pause = match self.round(now()).await {
                Ok(0) => Some(self.idle_for().await),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "mail round failed");
                    Some(PERIOD)
                }
            };
            if let Some(pause) = pause {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = self.wakeup.notified() => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }

    async fn idle_for(&self) -> Duration {
        match self.db.run(|c| jobs::next_due(c, &store::QUEUES)).await {
            Ok(Some(at)) => {
                (at - now()).to_std().unwrap_or(Duration::ZERO).clamp(Duration::from_millis(10), PERIOD)
            }
            _ => PERIOD,
        }
    }

    /// Runs every mail job due at `as_of` (tests pass a later time instead of waiting for a
    /// digest's hour); returns how many ran.
    pub async fn flush_as_of(&self, as_of: Timestamp) -> StorageResult<usize> {
        let mut total = 0;
        loop {
            let n = self.round(as_of).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Runs every mail job due now.
    pub async fn flush(&self) -> StorageResult<usize> {
        self.flush_as_of(now()).await
    }

    async fn claim(
        &self,
        queue: &'static str,
        limit: i64,
        as_of: Timestamp,
    ) -> StorageResult<Vec<jobs::Job>> {
        let worker = self.worker_id.clone();
        let lease = as_of.max(now()) + LEASE;
        self.db.run(move |c| jobs::claim(c, queue, &worker, limit, as_of, lease, &[])).await
    }

    async fn round(&self, as_of: Timestamp) -> StorageResult<usize> {
        // Mail composed in an earlier round is due at once, whatever time a test acts as of.
        let as_of = as_of.max(now());
        let mut done = 0;
        for queue in store::QUEUES {
            if queue == store::SEND_QUEUE {
                done += self.send_batch(as_of).await?;
                continue;
            }
            for job in self.claim(queue, BATCH, as_of).await? {
                let outcome = self.compose(queue, &job, as_of).await;
                self.settle(&job, outcome).await;
                done += 1;
            }
        }
        Ok(done)
    }

    /// Composes one job's mail and queues it, marking the job done in the same transaction.
    async fn compose(&self, queue: &'static str, job: &jobs::Job, as_of: Timestamp) -> Result<(), String> {
        let cx = self.context.clone();
        let (id, worker, payload) = (job.id, self.worker_id.clone(), job.payload.clone());
        self.db
            .run(move |c| {
                guildhall_storage::transaction(c, |c| {
                    let mails = match queue {
                        store::ACCOUNT_QUEUE => letters::account(c, &cx, &parse::<AccountMail>(&payload)?)?,
                        store::NOTICE_QUEUE => letters::notice(c, &cx, &parse::<Notice>(&payload)?)?,
                        store::GROUP_POST_QUEUE => {
                            letters::group_post(c, &cx, parse::<GroupPostJob>(&payload)?.status_id)?
                        }
                        store::DIGEST_QUEUE => digest(c, &cx, parse::<DigestJob>(&payload)?, as_of)?,
                        other => return Err(StorageError::Corrupt(format!("no mail queue {other}"))),
                    };
                    store::enqueue_send(c, mails)?;
                    // Our lease ran out and another worker took the job: what we composed
                    // rolls back, so the mail is not queued twice.
                    if !jobs::complete(c, id, &worker)? {
                        return Err(StorageError::Conflict(LEASE_LOST.into()));
                    }
                    Ok(())
                })
            })
            .await
            .map_err(|e| e.to_string())?;
        self.wakeup.notify_one();
        Ok(())
    }

    /// Records a failed composing job (a finished one was completed in its transaction; one
    /// whose lease another worker took is theirs now, and left alone).
    async fn settle(&self, job: &jobs::Job, outcome: Result<(), String>) {
        let Err(why) = outcome else { return };
        if why.contains(LEASE_LOST) {
            tracing::info!(job = job.id, "a mail job's lease ran out; another worker has it");
            return;
        }
        let (id, attempts, queue) = (job.id, job.attempts, job.queue.clone());
        tracing::warn!(job = id, queue = %queue, error = %why, "mail job failed");
        let digest = (queue == store::DIGEST_QUEUE).then(|| parse::<DigestJob>(&job.payload).ok()).flatten();
        let worker = self.worker_id.clone();
        let recorded = if attempts >= job.max_attempts {
            self.db
                .run(move |c| {
                    jobs::fail(c, id, &worker, &why)?;
                    // One failed digest must not end the reader's digests: the next is queued.
                    if let Some(job) = digest
                        && let Some(sub) = store::subscription(c, job.subscription_id)?
                    {
                        store::schedule_digest_after(c, &sub, now())?;
                    }
                    Ok(())
                })
                .await
        } else {
            let at = now() + backoff(attempts);
            self.db.run(move |c| jobs::retry(c, id, &worker, at, &why).map(|_| ())).await
        };
        if let Err(e) = recorded {
            tracing::warn!(job = id, error = %e, "could not record a mail job's failure");
        }
    }

    async fn send_batch(&self, as_of: Timestamp) -> StorageResult<usize> {
        let batch = self.claim(store::SEND_QUEUE, SEND_BATCH, as_of).await?;
        let count = batch.len();
        let from = self.context.from.address.clone();
        let results: Vec<(jobs::Job, Result<(), SendError>)> = futures::stream::iter(batch)
            .map(|job| {
                let from = from.clone();
                async move {
                    let result = match serde_json::from_str::<Outgoing>(&job.payload) {
                        Ok(mail) => self.transport.send(&from, &mail.to, mail.message.as_bytes()).await,
                        Err(e) => Err(SendError::Permanent(format!("unreadable mail job: {e}"))),
                    };
                    (job, result)
                }
            })
            .buffer_unordered(PARALLEL_SENDS)
            .collect()
            .await;
        let worker = self.worker_id.clone();
        self.db
            .run(move |c| {
                let sent: Vec<i64> =
                    results.iter().filter(|(_, r)| r.is_ok()).map(|(job, _)| job.id).collect();
                jobs::complete_many(c, &sent, &worker)?;
                for (job, result) in results {
                    let recorded = match result {
                        Ok(()) => Ok(()),
                        Err(SendError::Permanent(why)) => {
                            tracing::warn!(job = job.id, error = %why, "mail refused for good");
                            jobs::fail(c, job.id, &worker, &why)
                        }
                        Err(SendError::Temporary(why)) if job.attempts < job.max_attempts => {
                            tracing::info!(job = job.id, error = %why, "mail not sent; will retry");
                            jobs::retry(c, job.id, &worker, now() + backoff(job.attempts), &why).map(|_| ())
                        }
                        Err(SendError::Temporary(why)) => {
                            tracing::warn!(job = job.id, error = %why, "mail not sent; given up");
                            jobs::fail(c, job.id, &worker, &why)
                        }
                    };
                    // A job whose lease passed to another worker is theirs to record; one
                    // outcome not recorded does not keep the rest from being recorded.
                    if let Err(e) = recorded {
                        tracing::warn!(job = job.id, error = %e, "could not record a mail's outcome");
                    }
                }
                Ok(())
            })
            .await?;
        Ok(count)
    }
}

/// 1, 2, 4 … minutes, at most 6 hours.
fn backoff(attempts: i32) -> chrono::Duration {
    let exp = u32::try_from(attempts.clamp(1, 10) - 1).unwrap_or(0);
    chrono::Duration::minutes((1i64 << exp).min(360))
}

fn parse<T: serde::de::DeserializeOwned>(payload: &str) -> StorageResult<T> {
    serde_json::from_str(payload).map_err(|e| StorageError::Corrupt(format!("mail job: {e}")))
}

/// A due digest: composed for the period since the last one, then the next one queued. A
/// leftover job for a period already covered does nothing.
fn digest(
    c: &mut guildhall_storage::DbConnection,
    cx: &Context,
    job: DigestJob,
    as_of: Timestamp,
) -> StorageResult<Vec<Outgoing>> {
    let Some(sub) = store::subscription(c, job.subscription_id)? else { return Ok(vec![]) };
    if !sub.mode()?.is_digest() || !sub.active() {
        return Ok(vec![]);
    }
    let from = sub.digest_through.unwrap_or(sub.created_at);
    // The digest covers what exists now; the next one falls due after this one's time (tests
    // run a digest "as of" its hour, ahead of the clock).
    let through = as_of.min(now());
    match store::next_digest_of(&sub, from)? {
        // Not due yet (a job left from before the reader changed their hour): wait for it.
        Some(due) if due > as_of => {
            store::schedule_digest_after(c, &sub, from)?;
            return Ok(vec![]);
        }
        Some(_) => {}
        None => return Ok(vec![]),
    }
    let mail = letters::digest(c, cx, &sub, from, through)?;
    store::digest_sent(c, sub.id, through)?;
    let sub = guildhall_storage::mail::Subscription { digest_through: Some(through), ..sub };
    store::schedule_digest_after(c, &sub, as_of)?;
    Ok(mail.into_iter().collect())
}

async fn site_name(db: &Db, config: &Config) -> String {
    let title = db.run(|c| guildhall_storage::instance_settings::get(c).map(|s| s.title)).await.ok();
    title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| config.domain.to_string())
}

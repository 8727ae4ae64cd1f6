//! The delivery worker: sends queued activities to remote inboxes.
//!
//! Jobs come from the outbox (one per distinct inbox). Each is signed by its actor's key and
//! POSTed; 2xx completes it; network errors, timeouts, 408, 429 and 5xx retry with exponential
//! backoff and jitter (honouring `Retry-After`) for about a week; other 4xx give up; 410 from a
//! personal inbox marks the actor gone and drops its follows. A per-instance circuit breaker
//! stops hammering an instance that keeps failing; per-instance and global concurrency limits
//! keep a dead instance from slowing the live ones. Jobs are leased, so a crash only delays
//! them until the lease runs out.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guildhall_core::keys::SigningKey;
use guildhall_storage::outbox::{DELIVER_QUEUE, Delivery, OutboxActivity};
use guildhall_storage::{Db, Timestamp, actors, follows, instances, jobs, now, outbox};
use rand::Rng;
use tokio::sync::{Notify, Semaphore, watch};
use url::Url;

use crate::error::FedError;
use crate::signing;

/// Requests in flight at once, over all instances.
pub const GLOBAL_CONCURRENCY: usize = 128;
/// Requests in flight at once to one instance.
pub const PER_INSTANCE_CONCURRENCY: usize = 8;
/// How long a claimed job is ours before another worker may take it.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// Batches in progress at once: one batch's slowest deliveries do not idle the connections.
const LANES: usize = 2;
/// Outcomes recorded together at most (one database call each).
const RECORD_GROUP: usize = 64;
/// The longest a finished delivery waits to be recorded.
const RECORD_EVERY: Duration = Duration::from_millis(50);
/// Consecutive failures that open an instance's circuit breaker.
pub const BREAKER_THRESHOLD: i32 = 5;

/// What happened to one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the receiver.
    Delivered,
    /// Will be tried again.
    Retry(String),
    /// Given up for good.
    GaveUp(String),
}

/// Sends queued deliveries. Cheap to clone; clones share caches and limits.
#[derive(Debug, Clone)]
pub struct DeliveryWorker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    client: reqwest::Client,
    worker_id: String,
    keys: Mutex<HashMap<i64, Arc<(String, SigningKey)>>>,
    per_instance: Mutex<HashMap<String, Arc<Semaphore>>>,
    global: Semaphore,
    wakeup: Arc<Notify>,
    rsa_crate_signing: bool,
    outcomes: Mutex<HashMap<String, Tally>>,
}

/// Deliveries to one instance since start, by outcome (for `/metrics`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Accepted by the receiver.
    pub delivered: u64,
    /// Failed, to be tried again.
    pub retried: u64,
    /// Failed for good.
    pub gave_up: u64,
}

/// Instances counted one by one in [`DeliveryWorker::tallies`]; the rest are counted together
/// under `other`, so a stranger's many domains cannot grow the table without bound.
const TALLIED_INSTANCES: usize = 1_000;

impl DeliveryWorker {
    /// A worker on `db`, woken by `wakeup` when something is queued. `insecure` allows http and
    /// loopback targets (local trials and tests).
    pub fn new(db: Db, wakeup: Arc<Notify>, insecure: bool) -> Result<DeliveryWorker, FedError> {
        DeliveryWorker::with_signing(db, wakeup, insecure, false)
    }

    /// Like [`DeliveryWorker::new`]; `rsa_crate_signing` signs with the pure-Rust `rsa` crate
    /// instead of aws-lc (only to compare the two in benchmarks).
    pub fn with_signing(
        db: Db,
        wakeup: Arc<Notify>,
        insecure: bool,
        rsa_crate_signing: bool,
    ) -> Result<DeliveryWorker, FedError> {
        let client = crate::state::http_client(insecure)?;
        let worker_id = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        Ok(DeliveryWorker {
            inner: Arc::new(Inner {
                db,
                client,
                worker_id,
                keys: Mutex::new(HashMap::new()),
                per_instance: Mutex::new(HashMap::new()),
                global: Semaphore::new(GLOBAL_CONCURRENCY),
                wakeup,
                rsa_crate_signing,
                outcomes: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Delivers until `stop` turns true: claims due jobs, sends them concurrently, sleeps
    /// until woken or a second passes when there is nothing to do. In-flight deliveries finish
    /// before it returns.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let sent = match self.drain(None, Some(&stop)).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "delivery round failed");
                    0
                }
            };
            if sent == 0 {
                tokio::select! {
                    _ = self.inner.wakeup.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }

    /// Delivers everything due now, round after round, until nothing is left; returns how
    /// many deliveries were attempted. Tests call this instead of waiting for timers.
    pub async fn flush(&self) -> Result<usize, FedError> {
        self.flush_as_of(now()).await
    }

    /// Like [`DeliveryWorker::flush`], acting as if the time were `as_of` (so retries and
    /// expired leases of a crashed worker come due without waiting).
    pub async fn flush_as_of(&self, as_of: Timestamp) -> Result<usize, FedError> {
        self.drain(Some(as_of), None).await
    }

    /// Runs rounds in [`LANES`] lanes until no lane finds anything due (as of `as_of`, or the
    /// time of each round) or `stop` turns true; returns how many deliveries were attempted.
    /// While one lane waits for the slowest deliveries of its batch, the other's batch keeps
    /// the connections busy.
    async fn drain(
        &self,
        as_of: Option<Timestamp>,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<usize, FedError> {
        let lanes = (0..LANES).map(|lane| async move {
            let mut total = 0;
            loop {
                if stop.is_some_and(|s| *s.borrow()) {
                    return Ok(total);
                }
                match self.round(lane, as_of.unwrap_or_else(now)).await? {
                    0 => return Ok::<usize, FedError>(total),
                    n => total += n,
                }
            }
        });
        let done = futures::future::join_all(lanes).await;
        done.into_iter().try_fold(0, |sum, lane| lane.map(|n| sum + n))
    }

    /// Claims one batch and delivers it; returns the batch size. Database work is batched:
    /// the batch's activities are loaded once, successes are completed in one statement, and
    /// only instances that were failing get their success recorded.
    async fn round(&self, lane: usize, as_of: Timestamp) -> Result<usize, FedError> {
        // Each lane claims as a worker of its own: a job one lane still holds past its lease
        // and the other claimed again is recorded only by the lane that holds it now.
        let worker = format!("{}/{lane}", self.inner.worker_id);
        let lease = as_of.max(now()) + LEASE;
        let limit = i64::try_from(GLOBAL_CONCURRENCY * 2).unwrap_or(256);
        let claimer = worker.clone();
        let (batch, activities, failing, suspended) = self
            .inner
            .db
            .run(move |c| {
                let skip = instances::unreachable(c, now())?;
                let batch = jobs::claim(c, DELIVER_QUEUE, &claimer, limit, as_of, lease, &skip)?;
                if batch.is_empty() {
                    return Ok(Default::default());
                }
                let deliveries: Vec<Delivery> =
                    batch.iter().filter_map(|j| serde_json::from_str::<Delivery>(&j.payload).ok()).collect();
                let ids: Vec<i64> = deliveries.iter().map(|d| d.activity_id).collect();
                let activities = outbox::get_many(c, &ids)?;
                let failing = instances::failing(c)?;
                let suspended = suspended_hosts(c, &deliveries)?;
                Ok((batch, activities, failing, suspended))
            })
            .await?;
        let suspended = Arc::new(suspended);
        let count = batch.len();
        if count == 0 {
            return Ok(0);
        }
        let activities: HashMap<i64, Arc<OutboxActivity>> =
            activities.into_iter().map(|a| (a.id, Arc::new(a))).collect();
        let tasks = batch.into_iter().map(|job| {
            let this = self.clone();
            let suspended = suspended.clone();
            let activity = serde_json::from_str::<Delivery>(&job.payload)
                .ok()
                .map(|d| (activities.get(&d.activity_id).cloned(), d));
            tokio::spawn(async move {
                let outcome = match activity {
                    Some((Some(activity), delivery)) => {
                        this.deliver(&activity, &delivery.inbox, &suspended).await
                    }
                    Some((None, _)) => Outcome::GaveUp("activity no longer exists".into()),
                    None => Outcome::GaveUp("bad payload".into()),
                };
                (job, outcome)
            })
        });
        self.record_as_completed(tasks.collect(), failing, &worker).await?;
        Ok(count)
    }

    /// Records outcomes as deliveries finish, a few at a time, rather than once the whole
    /// batch is done: a slow inbox does not hold the others' results back, and a process
    /// killed mid-batch resends only what was still in flight (or finished within the last
    /// [`RECORD_EVERY`]), not the whole batch.
    async fn record_as_completed(
        &self,
        mut pending: futures::stream::FuturesUnordered<tokio::task::JoinHandle<(jobs::Job, Outcome)>>,
        failing: Vec<String>,
        worker: &str,
    ) -> Result<(), FedError> {
        use futures::StreamExt as _;
        let mut done = Vec::new();
        let mut since: Option<tokio::time::Instant> = None;
        loop {
            let deadline = since.map(|at| at + RECORD_EVERY);
            let next = match deadline {
                Some(at) => tokio::time::timeout_at(at, pending.next()).await.ok(),
                None => Some(pending.next().await),
            };
            let finished = match next {
                Some(Some(Ok(result))) => {
                    done.push(result);
                    since.get_or_insert_with(tokio::time::Instant::now);
                    false
                }
                Some(Some(Err(e))) => {
                    tracing::error!(error = %e, "delivery task panicked");
                    false
                }
                Some(None) => true,
                None => false,
            };
            let due = deadline.is_some_and(|at| tokio::time::Instant::now() >= at);
            if !done.is_empty() && (finished || due || done.len() >= RECORD_GROUP) {
                let group = std::mem::take(&mut done);
                self.tally(&group);
                self.record_all(group, failing.clone(), worker).await?;
                since = None;
            }
            if finished {
                return Ok(());
            }
        }
    }

    /// Deliveries by instance (the inbox's host) and outcome since start.
    pub fn tallies(&self) -> Vec<(String, Tally)> {
        let map = self.inner.outcomes.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, Tally)> = map.iter().map(|(k, v)| (k.clone(), *v)).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn tally(&self, results: &[(jobs::Job, Outcome)]) {
        let mut map = self.inner.outcomes.lock().unwrap_or_else(|p| p.into_inner());
        for (job, outcome) in results {
            let host = job.partition_key.clone().unwrap_or_default();
            let key = if map.contains_key(&host) || map.len() < TALLIED_INSTANCES {
                host
            } else {
                "other".to_owned()
            };
            let tally = map.entry(key).or_default();
            match outcome {
                Outcome::Delivered => tally.delivered += 1,
                Outcome::Retry(_) => tally.retried += 1,
                Outcome::GaveUp(_) => tally.gave_up += 1,
            }
        }
    }

    /// Sends one activity to one inbox, within the global and per-instance limits, unless its
    /// host is among the batch's `suspended` hosts.
    async fn deliver(&self, activity: &OutboxActivity, inbox: &str, suspended: &HashSet<String>) -> Outcome {
        let Some(inbox) = Url::parse(inbox).ok().filter(|u| u.domain().is_some()) else {
            return Outcome::GaveUp(format!("bad inbox URL {inbox} (a domain name is required)"));
        };
        if suspended.contains(&crate::objects::actor::authority(&inbox)) {
            return Outcome::GaveUp("the domain is suspended here".into());
        }
        let key = match self.signing_key(activity.actor_id).await {
            Ok(k) => k,
            Err(e) => return Outcome::GaveUp(format!("no signing key: {e}")),
        };
        // The instance's own limit first: deliveries queued behind a slow instance wait there,
        // holding none of the global permits the other instances' deliveries need.
        let instance = self.instance_limit(&inbox);
        let Ok(_local) = instance.acquire().await else { return Outcome::Retry("shutting down".into()) };
        let Ok(_global) = self.inner.global.acquire().await else {
            return Outcome::Retry("shutting down".into());
        };
        self.post(&inbox, activity.json.as_bytes().to_vec(), &key).await
    }

    async fn post(&self, inbox: &Url, body: Vec<u8>, key: &(String, SigningKey)) -> Outcome {
        let headers = match signing::sign("POST", inbox, Some(&body), &key.0, &key.1) {
            Ok(h) => h,
            Err(e) => return Outcome::GaveUp(e.to_string()),
        };
        let mut request = self.inner.client.post(inbox.clone()).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => classify(response.status(), retry_after(&response)),
            Err(e) => Outcome::Retry(format!("{}: {}", inbox, error_chain(&e))),
        }
    }

    fn instance_limit(&self, inbox: &Url) -> Arc<Semaphore> {
        let host = signing::host_header(inbox);
        let mut map = self.inner.per_instance.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(host).or_insert_with(|| Arc::new(Semaphore::new(PER_INSTANCE_CONCURRENCY))).clone()
    }

    async fn signing_key(&self, actor_id: i64) -> Result<Arc<(String, SigningKey)>, FedError> {
        if let Some(key) = self.inner.keys.lock().unwrap_or_else(|p| p.into_inner()).get(&actor_id) {
            return Ok(key.clone());
        }
        let (actor, pem) = self
            .inner
            .db
            .run(move |c| Ok((actors::get(c, actor_id)?, actors::private_key(c, actor_id)?)))
            .await?;
        let key_id = actor.public_key_id.unwrap_or_else(|| format!("{}#main-key", actor.ap_id));
        let key = if self.inner.rsa_crate_signing {
            SigningKey::from_pem_rsa_crate(&pem)
        } else {
            SigningKey::from_pem(&pem)
        }
        .map_err(|e| FedError::Internal(e.to_string()))?;
        let key = Arc::new((key_id, key));
        self.inner.keys.lock().unwrap_or_else(|p| p.into_inner()).insert(actor_id, key.clone());
        Ok(key)
    }

    /// Records a batch's outcomes: completes the delivered jobs in one statement (recording
    /// the success of instances that were failing), reschedules or fails the others, updates
    /// reachability, and handles 410.
    async fn record_all(
        &self,
        results: Vec<(jobs::Job, Outcome)>,
        failing: Vec<String>,
        worker: &str,
    ) -> Result<(), FedError> {
        let worker = worker.to_owned();
        self.inner
            .db
            .run(move |c| {
                // What was delivered first: it must never be sent again, whatever fails after.
                let delivered: Vec<i64> =
                    results.iter().filter(|(_, o)| *o == Outcome::Delivered).map(|(j, _)| j.id).collect();
                jobs::complete_many(c, &delivered, &worker)?;
                let failing: HashSet<String> = failing.into_iter().collect();
                let mut recovered = HashSet::new();
                for (job, outcome) in &results {
                    let domain = job.partition_key.clone().unwrap_or_default();
                    let recorded = match outcome {
                        Outcome::Delivered => {
                            if failing.contains(&domain) {
                                recovered.insert(domain);
                            }
                            Ok(())
                        }
                        Outcome::Retry(error) => record_retry(c, job, &worker, &domain, error),
                        Outcome::GaveUp(error) => record_give_up(c, job, &worker, error),
                    };
                    // One outcome that cannot be recorded (its job gone, say) does not keep
                    // the others from being recorded; it is tried again after its lease.
                    if let Err(e) = recorded {
                        tracing::warn!(job = job.id, error = %e, "could not record a delivery's outcome");
                    }
                }
                for domain in recovered {
                    let instance = instances::get_or_create(c, &domain)?;
                    instances::record_success(c, instance.id)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}

/// A failed delivery to try again later; the instance's failure count (its breaker) goes up.
fn record_retry(
    c: &mut guildhall_storage::DbConnection,
    job: &jobs::Job,
    worker: &str,
    domain: &str,
    error: &str,
) -> guildhall_storage::StorageResult<()> {
    let at = now() + backoff(job.attempts, retry_after_of(error));
    jobs::retry(c, job.id, worker, at, error)?;
    let instance = instances::get_or_create(c, domain)?;
    let failures = instance.failure_count + 1;
    let until = (failures >= BREAKER_THRESHOLD).then(|| now() + breaker_pause(failures));
    instances::record_failure(c, instance.id, until)?;
    Ok(())
}

/// A delivery given up for good; 410 from a personal inbox also forgets the actor.
fn record_give_up(
    c: &mut guildhall_storage::DbConnection,
    job: &jobs::Job,
    worker: &str,
    error: &str,
) -> guildhall_storage::StorageResult<()> {
    jobs::fail(c, job.id, worker, error)?;
    if error.starts_with("410") {
        gone(c, job)?;
    }
    Ok(())
}

/// The hosts of `deliveries` that are suspended here (or not allowed, in allowlist mode),
/// checked once per host for a whole batch rather than once per delivery.
fn suspended_hosts(
    c: &mut guildhall_storage::DbConnection,
    deliveries: &[Delivery],
) -> guildhall_storage::StorageResult<HashSet<String>> {
    let hosts: HashSet<String> = deliveries
        .iter()
        .filter_map(|d| Url::parse(&d.inbox).ok())
        .map(|url| crate::objects::actor::authority(&url))
        .collect();
    let mut suspended = HashSet::new();
    for host in hosts {
        if guildhall_storage::instance_blocks::is_suspended(c, &host)? {
            suspended.insert(host);
        }
    }
    Ok(suspended)
}

/// 410 from a personal inbox: the actor is gone; forget it and its follows.
fn gone(c: &mut guildhall_storage::DbConnection, job: &jobs::Job) -> guildhall_storage::StorageResult<()> {
    let Ok(delivery) = serde_json::from_str::<Delivery>(&job.payload) else { return Ok(()) };
    for actor in actors::find_by_inbox(c, &delivery.inbox)? {
        actors::mark_deleted(c, actor.id)?;
        follows::remove_all_of(c, actor.id)?;
    }
    Ok(())
}

/// Maps a response status to an outcome.
pub fn classify(status: reqwest::StatusCode, retry_after: Option<Duration>) -> Outcome {
    let code = status.as_u16();
    match code {
        200..=299 => Outcome::Delivered,
        408 | 429 | 500..=599 => {
            let hint = retry_after.map(|d| format!(" retry-after={}", d.as_secs())).unwrap_or_default();
            Outcome::Retry(format!("{code}{hint}"))
        }
        _ => Outcome::GaveUp(format!("{code}")),
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    at.duration_since(std::time::SystemTime::now()).ok()
}

fn retry_after_of(error: &str) -> Option<Duration> {
    let secs = error.split("retry-after=").nth(1)?.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// Delay before attempt `attempts + 1`: 30 s doubling per attempt, capped at 16 h, with up to
/// 25 % jitter, and never less than the server's `Retry-After`. Twenty attempts span about a
/// week.
pub fn backoff(attempts: i32, retry_after: Option<Duration>) -> chrono::Duration {
    let exp = u32::try_from(attempts.clamp(0, 30)).unwrap_or(0);
    let base = 30u64.saturating_mul(1u64 << exp.min(20)).min(16 * 3600);
    let jitter = rand::thread_rng().gen_range(0..=base / 4);
    let secs = (base + jitter).max(retry_after.map_or(0, |d| d.as_secs()));
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2))
}

/// How long an open circuit breaker keeps an instance closed: 1 minute doubling per failure
/// past the threshold, at most an hour.
pub fn breaker_pause(failures: i32) -> chrono::Duration {
    let over = u32::try_from((failures - BREAKER_THRESHOLD).clamp(0, 6)).unwrap_or(0);
    chrono::Duration::minutes(i64::from(1u32 << over).min(60))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_outcomes() {
        let ok = reqwest::StatusCode::ACCEPTED;
        assert_eq!(classify(ok, None), Outcome::Delivered);
        assert!(matches!(classify(reqwest::StatusCode::SERVICE_UNAVAILABLE, None), Outcome::Retry(_)));
        assert!(matches!(classify(reqwest::StatusCode::TOO_MANY_REQUESTS, None), Outcome::Retry(_)));
        assert!(matches!(classify(reqwest::StatusCode::REQUEST_TIMEOUT, None), Outcome::Retry(_)));
        assert_eq!(classify(reqwest::StatusCode::GONE, None), Outcome::GaveUp("410".into()));
        assert_eq!(classify(reqwest::StatusCode::UNAUTHORIZED, None), Outcome::GaveUp("401".into()));
        let hinted = classify(reqwest::StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(900)));
        assert_eq!(hinted, Outcome::Retry("429 retry-after=900".into()));
        assert_eq!(retry_after_of("429 retry-after=900"), Some(Duration::from_secs(900)));
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let first = backoff(1, None).num_seconds();
        assert!((60..=75).contains(&first), "{first}");
        let late = backoff(25, None).num_seconds();
        assert!((16 * 3600..=20 * 3600).contains(&late), "{late}");
        assert!(backoff(0, Some(Duration::from_secs(3600))).num_seconds() >= 3600);
        let week: i64 = (1..=20).map(|a| backoff(a, None).num_seconds()).sum();
        assert!((5 * 86_400..=10 * 86_400).contains(&week), "{week}");
    }

    #[test]
    fn breaker_pauses_grow_to_an_hour() {
        assert_eq!(breaker_pause(BREAKER_THRESHOLD), chrono::Duration::minutes(1));
        assert_eq!(breaker_pause(BREAKER_THRESHOLD + 3), chrono::Duration::minutes(8));
        assert_eq!(breaker_pause(100), chrono::Duration::minutes(60));
    }
}

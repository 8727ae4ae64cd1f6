//! The streaming API: `GET /api/v1/streaming` over WebSocket and the server-sent-events paths
//! (`/api/v1/streaming/user`, `/public`, `/hashtag`, …), as Mastodon documents them.
//!
//! One poller per process reads what changed in the database (new statuses and notifications,
//! deletions, edits) while someone is listening, and hands the changes to every open stream;
//! each stream decides what its viewer may see, with the same visibility rules as the
//! timelines. Reading the database rather than an in-process channel means that several
//! processes sharing one PostgreSQL database all stream what any of them stored.
//!
//! The poller looks every [`POLL_EVERY`]; on PostgreSQL it is instead woken by the database's
//! notifications (`guildhall_storage::wakeups`) as soon as a change commits in any process,
//! and looks on its own only every [`POLL_FALLBACK`], for a notification lost while the
//! listening connection was down.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::{self, Bytes, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use guildhall_core::Id;
use guildhall_core::model::Visibility;
use guildhall_storage::notifications::Notification;
use guildhall_storage::statuses::Status;
use guildhall_storage::{Db, DbConnection, StorageResult, changes, status_parts, timelines};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::auth::{Auth, has_scope};
use super::ctx;
use super::entities::{Ctx, status};
use crate::{ApiError, AppState};

/// How often the poller looks for changes while streams are open, with nothing to wake it.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// How often it looks on its own when notifications wake it.
pub const POLL_FALLBACK: Duration = Duration::from_secs(5);
/// The least time between two looks, however often it is woken (bounds the database work a
/// busy instance's notifications cause to a few queries this often).
const POLL_SPACING: Duration = Duration::from_millis(50);
/// How far back each look reaches again, for rows committed late (ids are time-ordered).
const LOOKBACK_MILLIS: i64 = 3_000;
/// Rows read per kind per look.
const PAGE: i64 = 500;
/// Most streams one connection may subscribe to.
const MAX_SUBSCRIPTIONS: usize = 64;
/// Longest hashtag a stream may follow.
const MAX_TAG_CHARS: usize = 100;
/// Comment lines that keep idle connections open (and, for a signed-in stream, when its
/// token is checked again).
const HEARTBEAT: Duration = Duration::from_secs(15);

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/streaming/health", web::get().to(health))
        .route("/api/v1/streaming", web::get().to(websocket))
        .route("/api/v1/streaming/{stream:.*}", web::get().to(server_sent_events));
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("OK")
}

/// One change in the database.
#[derive(Debug, Clone)]
pub enum Change {
    /// A status was stored.
    New(Status),
    /// A status was edited.
    Edited(Status),
    /// A status was deleted (the row, to decide who may hear of it).
    Deleted(Status),
    /// A notification was created.
    Notified(Notification),
}

/// A change as handed to every stream, with what a stranger sees of it worked out once for
/// all anonymous streams together (not once per listener).
#[derive(Debug)]
pub struct Broadcast {
    change: Change,
    public_view: tokio::sync::OnceCell<Arc<PublicView>>,
}

/// What an anonymous listener may know of a change.
#[derive(Debug, Default)]
struct PublicView {
    /// The status entity a stranger sees, for a public original status a stranger may see.
    rendered: Option<String>,
    local: bool,
    has_media: bool,
    tags: Vec<String>,
    /// The id of a deleted public or unlisted status.
    deleted: Option<i64>,
}

impl PublicView {
    fn of(c: &mut DbConnection, ctx: &Ctx, change: &Change) -> StorageResult<PublicView> {
        Ok(match change {
            Change::New(s) | Change::Edited(s) => {
                let public_original = s.is(Visibility::Public) && s.reblog_of_id.is_none();
                if !(public_original
                    && timelines::may_see(c, s, None)?
                    && !guildhall_storage::instance_blocks::kept_from_public(c, s)?)
                {
                    return Ok(PublicView::default());
                }
                PublicView {
                    rendered: Some(status(c, ctx, s, None)?.to_string()),
                    local: s.local,
                    has_media: !status_parts::attachments(c, s.id)?.is_empty(),
                    tags: status_parts::tags(c, s.id)?,
                    deleted: None,
                }
            }
            Change::Deleted(s) => PublicView {
                deleted: matches!(s.visibility()?, Visibility::Public | Visibility::Unlisted).then_some(s.id),
                ..PublicView::default()
            },
            Change::Notified(_) => PublicView::default(),
        })
    }
}

/// The per-process change feed.
#[derive(Debug)]
pub struct Streamer {
    db: Db,
    tx: broadcast::Sender<Arc<Broadcast>>,
    /// Bounds on open streams.
    slots: Arc<super::stream_slots::StreamSlots>,
    polling: Mutex<bool>,
    closing: tokio::sync::watch::Sender<bool>,
    /// Woken when something changed (by the database's notifications, where there are any).
    wakeup: Arc<tokio::sync::Notify>,
    /// How long the poller waits when not woken.
    every: Duration,
    /// Looks taken because something woke the poller, and because its timer ran out.
    looks: [std::sync::atomic::AtomicU64; 2],
}

/// Why the poller looked at the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookCause {
    /// A change committed (a notification woke it).
    Woken,
    /// Its timer ran out.
    Timer,
}

impl Streamer {
    /// A feed over `db` that looks every [`POLL_EVERY`]; it polls only while someone listens.
    pub fn new(db: Db) -> Streamer {
        Streamer::polling_every(db, POLL_EVERY)
    }

    /// A feed over `db` that something wakes through [`Streamer::wakeup`] when a change
    /// commits, and that looks on its own only every [`POLL_FALLBACK`].
    pub fn woken(db: Db) -> Streamer {
        Streamer::polling_every(db, POLL_FALLBACK)
    }

    fn polling_every(db: Db, every: Duration) -> Streamer {
        let (tx, _) = broadcast::channel(1024);
        let (closing, _) = tokio::sync::watch::channel(false);
        let wakeup = Arc::default();
        let looks = Default::default();
        Streamer { db, tx, polling: Mutex::new(false), closing, slots: Arc::default(), wakeup, every, looks }
    }

    /// How many times the poller looked for changes, for each cause, since start.
    pub fn looks(&self, cause: LookCause) -> u64 {
        self.looks[cause as usize].load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What to notify when a change has committed.
    pub fn wakeup(&self) -> Arc<tokio::sync::Notify> {
        self.wakeup.clone()
    }

    /// Ends every open stream (the server is shutting down: streams would otherwise hold the
    /// graceful shutdown open until its timeout).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// How many streams are open in this process.
    pub fn open_streams(&self) -> usize {
        self.slots.open()
    }

    /// Listens to the feed, starting the poller when it is idle.
    pub fn subscribe(self: &Arc<Self>) -> broadcast::Receiver<Arc<Broadcast>> {
        let rx = self.tx.subscribe();
        let mut polling = self.polling.lock().unwrap_or_else(|e| e.into_inner());
        if !*polling {
            *polling = true;
            tokio::spawn(Arc::clone(self).poll());
        }
        rx
    }

    async fn poll(self: Arc<Self>) {
        let mut cursor = match self.db.run(Cursor::start).await {
            Ok(cursor) => cursor,
            Err(e) => {
                tracing::warn!(error = %e, "streaming poller could not start");
                *self.polling.lock().unwrap_or_else(|e| e.into_inner()) = false;
                return;
            }
        };
        let mut last = tokio::time::Instant::now();
        loop {
            let cause = tokio::select! {
                _ = tokio::time::sleep(self.every) => LookCause::Timer,
                _ = self.wakeup.notified() => LookCause::Woken,
            };
            self.looks[cause as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep_until(last + POLL_SPACING).await;
            last = tokio::time::Instant::now();
            {
                let mut polling = self.polling.lock().unwrap_or_else(|e| e.into_inner());
                if self.tx.receiver_count() == 0 {
                    *polling = false;
                    return;
                }
            }
            let snapshot = cursor.clone();
            let result = self
                .db
                .run(move |c| {
                    let mut next = snapshot;
                    let found = next.read(c)?;
                    Ok((next, found))
                })
                .await;
            match result {
                Ok((next, found)) => {
                    cursor = next;
                    for change in found {
                        let broadcast = Broadcast { change, public_view: tokio::sync::OnceCell::new() };
                        let _ = self.tx.send(Arc::new(broadcast));
                    }
                }
                // Tried again at the next tick from where it stood.
                Err(e) => tracing::warn!(error = %e, "streaming poll failed"),
            }
        }
    }
}

/// Where the poller stands, and what it already reported (so overlapping looks report once).
#[derive(Debug, Clone)]
struct Cursor {
    status_id: i64,
    notification_id: i64,
    deleted: changes::Mark,
    edited: changes::Mark,
    seen: HashSet<(char, i64, i64)>,
}

impl Cursor {
    fn start(c: &mut DbConnection) -> StorageResult<Cursor> {
        let (status_id, notification_id) = changes::high_water(c)?;
        let now = guildhall_storage::now();
        let mark = (now, i64::MAX);
        Ok(Cursor { status_id, notification_id, deleted: mark, edited: mark, seen: HashSet::new() })
    }

    /// Reports each change once; stamps are ids or microseconds.
    fn first_time(&mut self, kind: char, id: i64, stamp: i64) -> bool {
        self.seen.insert((kind, id, stamp))
    }

    fn read(&mut self, c: &mut DbConnection) -> StorageResult<Vec<Change>> {
        let lookback = LOOKBACK_MILLIS << 16;
        let window = chrono::Duration::milliseconds(LOOKBACK_MILLIS);
        let now = guildhall_storage::now();
        let mut out = Vec::new();
        // New rows past the cursor (which always moves on), then the window before it again
        // for rows whose transaction committed late.
        let (status_from, notification_from) = (self.status_id, self.notification_id);
        let mut statuses = changes::statuses_after(c, status_from, PAGE)?;
        statuses.extend(changes::statuses_between(c, status_from - lookback, status_from, PAGE)?);
        for s in statuses {
            self.status_id = self.status_id.max(s.id);
            if self.first_time('s', s.id, 0) {
                out.push(Change::New(s));
            }
        }
        let mut notifications = changes::notifications_after(c, notification_from, PAGE)?;
        notifications.extend(changes::notifications_between(
            c,
            notification_from - lookback,
            notification_from,
            PAGE,
        )?);
        for n in notifications {
            self.notification_id = self.notification_id.max(n.id);
            if self.first_time('n', n.id, 0) {
                out.push(Change::Notified(n));
            }
        }
        // Deletions and edits likewise, by (time, status id) since many statuses can share a
        // time: a page past the cursor, then a page of the window before it, so a burst larger
        // than a page is read over the next polls, never skipped.
        for (change, kind) in [(changes::StatusChange::Deleted, 'd'), (changes::StatusChange::Edited, 'e')] {
            let mark = match change {
                changes::StatusChange::Deleted => &mut self.deleted,
                changes::StatusChange::Edited => &mut self.edited,
            };
            let from = *mark;
            let mut found = changes::changed_after(c, change, from, PAGE)?;
            found.extend(changes::changed_before(c, change, from.0 - window, from, PAGE)?);
            let mut reported = Vec::new();
            for s in found {
                let at = match change {
                    changes::StatusChange::Deleted => s.deleted_at,
                    changes::StatusChange::Edited => s.edited_at,
                };
                let Some(at) = at else { continue };
                // A remote server's clock may run ahead: never move past our own now.
                *mark = (*mark).max((at.min(now), s.id));
                reported.push((at, s));
            }
            for (at, s) in reported {
                if self.first_time(kind, s.id, at.and_utc().timestamp_micros()) {
                    out.push(match change {
                        changes::StatusChange::Deleted => Change::Deleted(s),
                        changes::StatusChange::Edited => Change::Edited(s),
                    });
                }
            }
        }
        self.forget_old();
        Ok(out)
    }

    /// Forgets what each kind's window no longer reaches.
    fn forget_old(&mut self) {
        let keep = 2 * LOOKBACK_MILLIS;
        let status_floor = Id::lower_bound_at(Id(self.status_id).millis() - keep).0;
        let notification_floor = Id::lower_bound_at(Id(self.notification_id).millis() - keep).0;
        let micros = |t: chrono::NaiveDateTime| {
            (t - chrono::Duration::milliseconds(keep)).and_utc().timestamp_micros()
        };
        let (deleted_floor, edited_floor) = (micros(self.deleted.0), micros(self.edited.0));
        self.seen.retain(|(kind, id, stamp)| match kind {
            's' => *id >= status_floor,
            'n' => *id >= notification_floor,
            'd' => *stamp >= deleted_floor,
            _ => *stamp >= edited_floor,
        });
    }
}

/// A stream a client asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Stream {
    User,
    UserNotification,
    Public { local: Option<bool>, only_media: bool },
    Hashtag { tag: String, local: bool },
    List(i64),
    Direct,
}

impl Stream {
    /// Parses Mastodon's stream names (`public:local:media`, `hashtag` with `tag`, `list` with
    /// `list`).
    fn parse(name: &str, tag: Option<&str>, list: Option<&str>) -> Result<Stream, ApiError> {
        let unknown = || ApiError::BadRequest(format!("Unknown stream type: {name}"));
        Ok(match name {
            "user" => Stream::User,
            "user:notification" => Stream::UserNotification,
            "public" => Stream::Public { local: None, only_media: false },
            "public:media" => Stream::Public { local: None, only_media: true },
            "public:local" => Stream::Public { local: Some(true), only_media: false },
            "public:local:media" => Stream::Public { local: Some(true), only_media: true },
            "public:remote" => Stream::Public { local: Some(false), only_media: false },
            "public:remote:media" => Stream::Public { local: Some(false), only_media: true },
            "hashtag" | "hashtag:local" => Stream::Hashtag {
                tag: tag
                    .filter(|t| !t.is_empty() && t.chars().count() <= MAX_TAG_CHARS)
                    .ok_or_else(|| ApiError::BadRequest("Missing or overlong tag".into()))?
                    .to_lowercase(),
                local: name.ends_with(":local"),
            },
            "list" => Stream::List(
                list.and_then(|l| l.parse().ok())
                    .ok_or_else(|| ApiError::BadRequest("Missing list".into()))?,
            ),
            "direct" => Stream::Direct,
            _ => return Err(unknown()),
        })
    }

    /// The name Mastodon puts in WebSocket messages.
    fn names(&self) -> Vec<String> {
        match self {
            Stream::User => vec!["user".into()],
            Stream::UserNotification => vec!["user:notification".into()],
            Stream::Public { local, only_media } => {
                let mut name = match local {
                    None => "public".to_owned(),
                    Some(true) => "public:local".to_owned(),
                    Some(false) => "public:remote".to_owned(),
                };
                if *only_media {
                    name.push_str(":media");
                }
                vec![name]
            }
            Stream::Hashtag { tag, local } => {
                vec![if *local { "hashtag:local".into() } else { "hashtag".into() }, tag.clone()]
            }
            Stream::List(id) => vec!["list".into(), id.to_string()],
            Stream::Direct => vec!["direct".into()],
        }
    }

    /// The filter context of what this stream shows.
    fn filter_context(&self) -> &'static str {
        match self {
            Stream::User | Stream::List(_) | Stream::Direct => "home",
            _ => "public",
        }
    }

    /// The scope reading this stream needs (`None`: public streams, open to anyone).
    fn scope(&self) -> Option<&'static str> {
        match self {
            Stream::User | Stream::Direct => Some("read:statuses"),
            Stream::UserNotification => Some("read:notifications"),
            Stream::List(_) => Some("read:lists"),
            _ => None,
        }
    }
}

/// One event to send: `(stream names, event, payload)`.
type Event = (Vec<String>, &'static str, String);

/// Who is listening and to what.
#[derive(Clone)]
struct Listener {
    viewer: Option<i64>,
    scopes: String,
    /// The token's hash, to check on every heartbeat that it still holds.
    token_hash: Option<String>,
    streams: Vec<Stream>,
    lists: HashMap<i64, guildhall_storage::lists::List>,
}

impl Listener {
    fn new(auth: Option<&Auth>) -> Listener {
        Listener {
            viewer: auth.and_then(|a| a.user.as_ref()).map(|u| u.actor.id),
            scopes: auth.map(|a| a.token.scopes.clone()).unwrap_or_default(),
            token_hash: auth.map(|a| a.token.token_hash.clone()),
            streams: Vec::new(),
            lists: HashMap::new(),
        }
    }

    /// Whether statuses are shown to this listener as its viewer sees them: only with
    /// `read:statuses` (a `profile` token reads what a stranger reads, as elsewhere).
    fn reads_statuses(&self) -> bool {
        self.viewer.is_some() && has_scope(&self.scopes, "read:statuses")
    }

    /// Whether the token (and its user) still may read: a revoked token, a new password, a
    /// closed or disabled account end the stream.
    async fn still_allowed(&self, state: &AppState) -> bool {
        let Some(hash) = self.token_hash.clone() else { return true };
        let found = state
            .db
            .run(move |c| {
                let Some(token) = guildhall_storage::oauth::find_token(c, &hash)? else { return Ok(false) };
                Ok(match token.user_id {
                    Some(uid) => guildhall_storage::accounts::find_by_user_id(c, uid)?
                        .is_some_and(|a| super::auth::login_refusal(&a.user).is_none()),
                    None => true,
                })
            })
            .await;
        // A database that does not answer is no reason to cut a stream off.
        found.unwrap_or(true)
    }

    /// Adds a stream after checking the caller may read it.
    async fn add(&mut self, state: &AppState, stream: Stream) -> Result<(), ApiError> {
        if let Some(scope) = stream.scope() {
            if self.viewer.is_none() {
                return Err(ApiError::Unauthorized("Error: Missing access token".into()));
            }
            if !has_scope(&self.scopes, scope) {
                return Err(ApiError::Forbidden("This action is outside the authorized scopes".into()));
            }
        }
        if let (Stream::List(id), Some(owner)) = (&stream, self.viewer) {
            let id = *id;
            let list = state.db.run(move |c| guildhall_storage::lists::get(c, owner, id)).await?;
            self.lists.insert(id, list);
        }
        if !self.streams.contains(&stream) {
            if self.streams.len() >= MAX_SUBSCRIPTIONS {
                return Err(ApiError::TooManyRequests(format!(
                    "A connection may follow at most {MAX_SUBSCRIPTIONS} streams"
                )));
            }
            self.streams.push(stream);
        }
        Ok(())
    }

    fn remove(&mut self, stream: &Stream) {
        self.streams.retain(|s| s != stream);
    }

    /// The events `change` makes on this listener's streams.
    fn events(&self, c: &mut DbConnection, ctx: &Ctx, change: &Change) -> StorageResult<Vec<Event>> {
        let mut out = Vec::new();
        match change {
            Change::New(s) | Change::Edited(s) => {
                let event = if matches!(change, Change::New(_)) { "update" } else { "status.update" };
                // Rendered once per filter context (filters differ between home and public).
                let mut rendered: HashMap<&'static str, Option<String>> = HashMap::new();
                for stream in &self.streams {
                    if self.shows(c, stream, s)? {
                        let context = stream.filter_context();
                        if !rendered.contains_key(context) {
                            let payload = self.render(c, ctx, s, context)?;
                            rendered.insert(context, payload);
                        }
                        if let Some(Some(payload)) = rendered.get(context) {
                            out.push((stream.names(), event, payload.clone()));
                        }
                    }
                }
            }
            Change::Deleted(s) => {
                // Only whoever could have seen the status hears that it is gone.
                let alive = Status { deleted_at: None, ..s.clone() };
                if timelines::may_see(c, &alive, self.viewer)? {
                    for stream in self.streams.iter().filter(|s| **s != Stream::UserNotification) {
                        out.push((stream.names(), "delete", s.id.to_string()));
                    }
                }
            }
            Change::Notified(n) => {
                // Held back by the recipient's policy: a request, not a notification yet.
                if Some(n.recipient_id) != self.viewer || n.filtered {
                    return Ok(out);
                }
                let muted = guildhall_storage::mutes::notification_muted(c, n.recipient_id)?;
                if muted.contains(&n.from_actor_id) {
                    return Ok(out);
                }
                let wanted: Vec<&Stream> = self
                    .streams
                    .iter()
                    .filter(|s| matches!(s, Stream::User | Stream::UserNotification))
                    .collect();
                if !wanted.is_empty() {
                    let rendered = super::notifications::render(c, ctx, n, n.recipient_id)?.to_string();
                    for stream in wanted {
                        out.push((stream.names(), "notification", rendered.clone()));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The events of an anonymous listener, from what a stranger sees of the change (no
    /// database work of its own).
    fn public_events(&self, change: &Change, view: &PublicView) -> Vec<Event> {
        let event = if matches!(change, Change::Edited(_)) { "status.update" } else { "update" };
        let mut out = Vec::new();
        if let Some(id) = view.deleted {
            for stream in self.streams.iter().filter(|s| **s != Stream::UserNotification) {
                out.push((stream.names(), "delete", id.to_string()));
            }
        }
        let Some(rendered) = &view.rendered else { return out };
        for stream in &self.streams {
            let shows = match stream {
                Stream::Public { local, only_media } => {
                    local.is_none_or(|l| l == view.local) && (!only_media || view.has_media)
                }
                Stream::Hashtag { tag, local } => (!local || view.local) && view.tags.contains(tag),
                _ => false,
            };
            if shows {
                out.push((stream.names(), event, rendered.clone()));
            }
        }
        out
    }

    /// Whether `s` belongs on `stream` for this viewer (the timelines' own rules).
    fn shows(&self, c: &mut DbConnection, stream: &Stream, s: &Status) -> StorageResult<bool> {
        let around =
            timelines::Page { max_id: Some(s.id + 1), since_id: Some(s.id - 1), min_id: None, limit: 1 };
        let public_original = s.is(Visibility::Public) && s.reblog_of_id.is_none();
        Ok(match stream {
            Stream::User => match self.viewer {
                Some(v) => timelines::home(c, v, &around)?.iter().any(|h| h.id == s.id),
                None => false,
            },
            Stream::UserNotification => false,
            Stream::Public { local, only_media } => {
                public_original
                    && local.is_none_or(|l| l == s.local)
                    && (!only_media || !status_parts::attachments(c, s.id)?.is_empty())
                    && timelines::may_see(c, s, self.viewer)?
                    && !guildhall_storage::instance_blocks::kept_from_public(c, s)?
            }
            Stream::Hashtag { tag, local } => {
                public_original
                    && (!local || s.local)
                    && status_parts::tags(c, s.id)?.contains(tag)
                    && timelines::may_see(c, s, self.viewer)?
                    && !guildhall_storage::instance_blocks::kept_from_public(c, s)?
            }
            Stream::List(id) => match self.lists.get(id) {
                Some(list) => timelines::in_list(c, list, s)?,
                None => false,
            },
            Stream::Direct => {
                s.is(Visibility::Direct) && self.viewer.is_some() && timelines::may_see(c, s, self.viewer)?
            }
        })
    }

    /// The status entity as JSON text, with the viewer's filters for `context` (`None` when a
    /// `hide` filter takes it out).
    fn render(
        &self,
        c: &mut DbConnection,
        ctx: &Ctx,
        s: &Status,
        context: &str,
    ) -> StorageResult<Option<String>> {
        let value = status(c, ctx, s, self.viewer)?;
        let Some(viewer) = self.viewer else { return Ok(Some(value.to_string())) };
        Ok(super::filters::apply(c, viewer, context, vec![(s.clone(), value)])?.pop().map(|v| v.to_string()))
    }
}

/// The token of a streaming request: `Authorization`, `access_token`, or (browsers cannot set
/// headers on WebSockets) `Sec-WebSocket-Protocol`.
async fn authenticate(req: &HttpRequest, state: &web::Data<AppState>) -> Result<Option<Auth>, ApiError> {
    let protocol = req.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")));
    let token = header
        .map(str::to_owned)
        .or_else(|| query.iter().find(|(k, _)| k == "access_token").map(|(_, v)| v.clone()))
        .or_else(|| protocol.map(|p| p.trim().to_owned()));
    match token {
        Some(token) => Ok(Some(super::auth::authenticate(state.clone(), token).await?)),
        None => Ok(None),
    }
}

fn query_value(req: &HttpRequest, key: &str) -> Option<String> {
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    query.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// `GET /api/v1/streaming/{stream}`: server-sent events.
async fn server_sent_events(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner().replace('/', ":");
    let stream =
        Stream::parse(&name, query_value(&req, "tag").as_deref(), query_value(&req, "list").as_deref())?;
    let auth = authenticate(&req, &state).await?;
    let slot = take_slot(&req, &state, auth.as_ref())?;
    let mut listener = Listener::new(auth.as_ref());
    listener.add(&state, stream).await?;
    let rx = state.streams.subscribe();
    let (tx, out) = tokio::sync::mpsc::channel::<Bytes>(64);
    actix_web::rt::spawn(pump(state.clone(), listener, rx, Sink::Sse(tx), slot));
    let body = futures::stream::unfold(out, |mut out| async move {
        let chunk = out.recv().await?;
        Some((Ok::<_, actix_web::Error>(chunk), out))
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// `GET /api/v1/streaming`: the WebSocket, with `stream` (and `tag`/`list`) in the query and
/// `subscribe`/`unsubscribe` messages.
async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let auth = authenticate(&req, &state).await?;
    let slot = take_slot(&req, &state, auth.as_ref())?;
    let mut listener = Listener::new(auth.as_ref());
    if let Some(name) = query_value(&req, "stream") {
        let stream =
            Stream::parse(&name, query_value(&req, "tag").as_deref(), query_value(&req, "list").as_deref())?;
        listener.add(&state, stream).await?;
    }
    let (mut response, session, messages) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::BadRequest(format!("not a WebSocket request: {e}")))?;
    if let Some(protocol) = req.headers().get("Sec-WebSocket-Protocol") {
        response.headers_mut().insert(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL, protocol.clone());
    }
    let rx = state.streams.subscribe();
    actix_web::rt::spawn(pump(state.clone(), listener, rx, Sink::Ws(session, messages), slot));
    Ok(response)
}

enum Sink {
    Sse(tokio::sync::mpsc::Sender<Bytes>),
    Ws(actix_ws::Session, actix_ws::MessageStream),
}

/// Feeds one connection until it closes.
async fn pump(
    state: web::Data<AppState>,
    mut listener: Listener,
    mut rx: broadcast::Receiver<Arc<Broadcast>>,
    mut sink: Sink,
    _slot: super::stream_slots::Slot,
) {
    use futures::StreamExt;
    let ctx = ctx(&state);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut closing = state.streams.closing.subscribe();
    if *closing.borrow() {
        return;
    }
    if let Sink::Sse(tx) = &sink
        && tx.send(Bytes::from_static(b":)\n\n")).await.is_err()
    {
        return;
    }
    loop {
        let incoming = async {
            match &mut sink {
                Sink::Ws(_, messages) => messages.next().await,
                Sink::Sse(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            change = rx.recv() => {
                let change = match change {
                    Ok(change) => change,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(skipped = n, "stream lagged");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                // Statuses reach a listener without read:statuses as a stranger sees them.
                let personal = listener.reads_statuses() || matches!(change.change, Change::Notified(_));
                let events = if !personal {
                    public_view(&state, &ctx, &change).await.map(|view| listener.public_events(&change.change, &view))
                } else {
                    let (ctx, change) = (ctx.clone(), Arc::clone(&change));
                    let snapshot = listener.clone();
                    state.db.run(move |c| snapshot.events(c, &ctx, &change.change)).await
                };
                let events = match events {
                    Ok(events) => events,
                    Err(e) => {
                        tracing::debug!(error = %e, "stream event skipped");
                        continue;
                    }
                };
                for event in events {
                    if !send(&mut sink, event).await {
                        return;
                    }
                }
            }
            message = incoming => {
                let Some(Ok(message)) = message else { return };
                let Sink::Ws(session, _) = &mut sink else { continue };
                match message {
                    actix_ws::Message::Ping(bytes) if session.pong(&bytes).await.is_err() => return,
                    actix_ws::Message::Close(_) => return,
                    actix_ws::Message::Text(text) => {
                        if let Err(e) = command(&state, &mut listener, &text).await {
                            let error = json!({ "error": e.to_string() }).to_string();
                            if session.text(error).await.is_err() {
                                return;
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ = closing.changed() => {
                if let Sink::Ws(session, _) = sink {
                    let _ = session.close(Some(actix_ws::CloseCode::Away.into())).await;
                }
                return;
            }
            _ = heartbeat.tick() => {
                if !listener.still_allowed(&state).await {
                    if let Sink::Ws(session, _) = sink {
                        let _ = session.close(Some(actix_ws::CloseCode::Policy.into())).await;
                    }
                    return;
                }
                let alive = match &mut sink {
                    Sink::Sse(tx) => tx.send(Bytes::from_static(b":thump\n\n")).await.is_ok(),
                    Sink::Ws(session, _) => session.ping(b"").await.is_ok(),
                };
                if !alive {
                    return;
                }
            }
        }
    }
}

/// What a stranger sees of `broadcast`, worked out by the first anonymous stream to ask.
async fn public_view(
    state: &AppState,
    ctx: &Ctx,
    broadcast: &Arc<Broadcast>,
) -> StorageResult<Arc<PublicView>> {
    let view =
        broadcast
            .public_view
            .get_or_try_init(|| {
                let (ctx, broadcast) = (ctx.clone(), Arc::clone(broadcast));
                async move {
                    state.db.run(move |c| PublicView::of(c, &ctx, &broadcast.change)).await.map(Arc::new)
                }
            })
            .await?;
    Ok(Arc::clone(view))
}

/// A slot for a new stream, bounded per address, per token and in total (429 beyond).
fn take_slot(
    req: &HttpRequest,
    state: &AppState,
    auth: Option<&Auth>,
) -> Result<super::stream_slots::Slot, ApiError> {
    let address = crate::server::client_address(req);
    state.streams.slots.take(&address, auth.map(|a| a.token.id))
}

/// A client's `{"type": "subscribe"|"unsubscribe", "stream": …, "tag"?, "list"?}`.
async fn command(state: &AppState, listener: &mut Listener, text: &str) -> Result<(), ApiError> {
    let message: Value =
        serde_json::from_str(text).map_err(|_| ApiError::BadRequest("Malformed message".into()))?;
    let name = message["stream"].as_str().ok_or_else(|| ApiError::BadRequest("Missing stream".into()))?;
    let list = match &message["list"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let stream = Stream::parse(name, message["tag"].as_str(), list.as_deref())?;
    match message["type"].as_str() {
        Some("subscribe") => listener.add(state, stream).await,
        Some("unsubscribe") => {
            listener.remove(&stream);
            Ok(())
        }
        _ => Err(ApiError::BadRequest("Unknown message type".into())),
    }
}

/// Sends one event; false when the connection is gone.
async fn send(sink: &mut Sink, (stream, event, payload): Event) -> bool {
    match sink {
        Sink::Sse(tx) => {
            let data = payload.replace('\n', "\ndata: ");
            tx.send(Bytes::from(format!("event: {event}\ndata: {data}\n\n"))).await.is_ok()
        }
        Sink::Ws(session, _) => {
            let message = json!({ "stream": stream, "event": event, "payload": payload });
            session.text(message.to_string()).await.is_ok()
        }
    }
}

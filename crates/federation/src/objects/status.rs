//! Statuses as ActivityPub objects: rendering ours as `Note`, storing theirs.

use activitypub_federation::config::Data;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::protocol::verification::verify_domains_match;
use activitypub_federation::traits::Object;
use guildhall_core::Id;
use guildhall_core::model::Visibility;
use guildhall_core::text::{sanitize_html, strip_html};
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::status_parts::{self, RemoteMedia};
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{DbConnection, StorageResult, now};
use url::Url;

use crate::error::FedError;
use crate::objects::actor::DbActor;
use crate::protocol::note::{ApNote, Attachment, ChoiceCount, PollChoice, STATUS_TYPES, Tag};
use crate::protocol::{PUBLIC, is_public};
use crate::state::FedState;

/// A status row with its parsed id.
#[derive(Debug, Clone)]
pub struct DbStatus {
    /// The stored row.
    pub row: Status,
    id: Url,
}

impl DbStatus {
    /// Wraps a row; fails when its stored id is not a URL.
    pub fn new(row: Status) -> Result<DbStatus, FedError> {
        let id = Url::parse(&row.ap_id).map_err(|e| FedError::Internal(format!("stored status id: {e}")))?;
        Ok(DbStatus { row, id })
    }
}

/// The `to` and `cc` of a status with this visibility.
pub fn addressing(
    visibility: Visibility,
    followers: &str,
    mentioned: &[String],
) -> (Vec<String>, Vec<String>) {
    let mentions = mentioned.to_vec();
    match visibility {
        Visibility::Public => (vec![PUBLIC.into()], [vec![followers.into()], mentions].concat()),
        Visibility::Unlisted => (vec![followers.into()], [vec![PUBLIC.into()], mentions].concat()),
        Visibility::Private => ([vec![followers.into()], mentions].concat(), vec![]),
        Visibility::Direct => (mentions, vec![]),
    }
}

/// Reads the visibility of an incoming object from its addressing.
pub fn visibility_of(to: &[String], cc: &[String], followers: Option<&str>) -> Visibility {
    if to.iter().any(|a| is_public(a)) {
        Visibility::Public
    } else if cc.iter().any(|a| is_public(a)) {
        Visibility::Unlisted
    } else if followers.is_some_and(|f| to.iter().chain(cc).any(|a| a == f)) {
        Visibility::Private
    } else {
        Visibility::Direct
    }
}

/// Everything needed to render a local status.
#[derive(Debug, Clone)]
pub struct NoteParts {
    /// The status.
    pub status: Status,
    /// Its author.
    pub author: Actor,
    /// Mentioned actors.
    pub mentions: Vec<Actor>,
    /// Hashtags.
    pub tags: Vec<String>,
    /// The parent's id.
    pub in_reply_to: Option<String>,
    /// The group it was posted into.
    pub audience: Option<String>,
    /// Media attachments, in order.
    pub attachments: Vec<status_parts::Attachment>,
    /// Its poll, if it is a `Question`.
    pub poll: Option<guildhall_storage::polls::Poll>,
    /// Its event fields and counts, if it is an `Event`.
    pub event: Option<(guildhall_storage::events::Event, guildhall_storage::events::Counts)>,
}

/// Loads what [`render_note`] needs.
pub fn load_parts(c: &mut DbConnection, status: Status) -> StorageResult<NoteParts> {
    let author = actors::get(c, status.actor_id)?;
    let mentions = status_parts::mentions(c, status.id)?
        .into_iter()
        .map(|id| actors::get(c, id))
        .collect::<StorageResult<Vec<_>>>()?;
    let tags = status_parts::tags(c, status.id)?;
    let in_reply_to = match status.in_reply_to_id {
        Some(parent) => Some(statuses::get(c, parent)?.ap_id),
        None => status.in_reply_to_ap_id.clone(),
    };
    let audience = status.group_id.map(|g| actors::get(c, g)).transpose()?.map(|g| g.ap_id);
    let attachments = status_parts::attachments(c, status.id)?;
    let poll = guildhall_storage::polls::find(c, status.id)?;
    // Only an Event has event fields: other statuses (nearly all) skip the two queries.
    let event = match status.kind == "Event" {
        true => match guildhall_storage::events::find(c, status.id)? {
            Some(event) => Some((event, guildhall_storage::events::counts(c, status.id)?)),
            None => None,
        },
        false => None,
    };
    Ok(NoteParts { status, author, mentions, tags, in_reply_to, audience, attachments, poll, event })
}

/// The `@user@domain` handle of an actor, `local_domain` standing in for local actors.
pub fn handle(actor: &Actor, local_domain: &str) -> String {
    format!("@{}@{}", actor.username, actor.domain.as_deref().unwrap_or(local_domain))
}

/// Renders a local status as a `Note`.
pub fn render_note(parts: &NoteParts, base_url: &str, local_domain: &str) -> Result<ApNote, FedError> {
    let s = &parts.status;
    let followers = parts.author.followers_url.clone().unwrap_or_default();
    let mentioned: Vec<String> = parts.mentions.iter().map(|m| m.ap_id.clone()).collect();
    let (to, cc) = addressing(s.visibility()?, &followers, &mentioned);
    let mut tag: Vec<Tag> = parts
        .mentions
        .iter()
        .map(|m| Tag {
            kind: "Mention".into(),
            href: Some(m.ap_id.clone()),
            name: Some(handle(m, local_domain)),
        })
        .collect();
    tag.extend(parts.tags.iter().map(|t| Tag {
        kind: "Hashtag".into(),
        href: Some(format!("{base_url}/tags/{t}")),
        name: Some(format!("#{t}")),
    }));
    let mut note = ApNote {
        kind: s.kind.clone(),
        id: Url::parse(&s.ap_id)?,
        attributed_to: Url::parse(&parts.author.ap_id)?.into(),
        to,
        cc,
        audience: parts.audience.as_deref().map(Url::parse).transpose()?,
        in_reply_to: parts.in_reply_to.as_deref().map(Url::parse).transpose()?,
        name: s.title.clone(),
        summary: Some(s.spoiler_text.clone()).filter(|t| !t.is_empty()),
        sensitive: Some(s.sensitive),
        content: Some(s.content.clone()),
        content_map: s.language.clone().map(|l| [(l, s.content.clone())].into_iter().collect()),
        source: s.source.clone().map(|text| serde_json::json!({"content": text, "mediaType": "text/plain"})),
        published: Some(s.published_at.and_utc()),
        updated: s.edited_at.map(|t| t.and_utc()),
        url: s.url.as_deref().map(Url::parse).transpose()?.into(),
        tag,
        attachment: parts.attachments.iter().map(|m| document(m, base_url)).collect::<Result<_, _>>()?,
        one_of: None,
        any_of: None,
        end_time: None,
        closed: None,
        voters_count: None,
        event: Default::default(),
    };
    if let Some(poll) = &parts.poll {
        add_poll(&mut note, poll);
    }
    if let Some((event, counts)) = &parts.event {
        // Mastodon shows an Event as its name, its summary and a link: the summary says when
        // and where, in plain text.
        note.kind = "Event".into();
        note.name = Some(event.name.clone());
        note.summary = Some(crate::events::summary_text(event));
        note.end_time = event.ends_at.map(|t| t.and_utc());
        note.event = crate::events::fields_for(event, Some(*counts), &parts.author.ap_id);
        // A group's event is the group's too (Mobilizon attributes it to the group).
        note.attributed_to.group = note.audience.clone();
    }
    Ok(note)
}

/// Makes `note` the `Question` of `poll`, with its counts.
fn add_poll(note: &mut ApNote, poll: &guildhall_storage::polls::Poll) {
    let choices: Vec<PollChoice> = poll
        .options
        .iter()
        .map(|o| PollChoice {
            kind: "Note".into(),
            name: o.title.clone(),
            replies: Some(ChoiceCount { kind: "Collection".into(), total_items: o.votes_count }),
        })
        .collect();
    note.kind = "Question".into();
    if poll.row.multiple {
        note.any_of = Some(choices);
    } else {
        note.one_of = Some(choices);
    }
    note.end_time = poll.row.expires_at.map(|t| t.and_utc());
    note.closed = poll
        .row
        .closed_at
        .map(|t| serde_json::json!(t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    note.voters_count = Some(poll.row.voters_count);
}

/// A media attachment as a `Document`, as Mastodon sends them.
fn document(media: &status_parts::Attachment, base_url: &str) -> Result<Attachment, FedError> {
    let url = match (&media.remote_url, &media.file_path) {
        (Some(remote), _) => remote.clone(),
        (None, Some(file)) => crate::urls::media_url(base_url, file),
        (None, None) => return Err(FedError::Internal(format!("media {} has no file", media.id))),
    };
    Ok(Attachment {
        kind: "Document".into(),
        url: Some(Url::parse(&url)?),
        media_type: media.media_type.clone(),
        name: media.description.clone(),
        blurhash: media.blurhash.clone(),
        width: media.width.map(i64::from),
        height: media.height.map(i64::from),
    })
}

/// Stores (or refreshes) a remote object as a status: author fetched if unknown, HTML
/// sanitized, visibility read from the addressing, mentions, hashtags and attachments kept,
/// the parent linked (and fetched, within the request's fetch budget) when known.
pub async fn store_remote(note: ApNote, data: &Data<FedState>) -> Result<DbStatus, FedError> {
    store_remote_then(note, data, |_, _| Ok(())).await
}

/// Stores a note that the remote group `group` relayed (fetched from its origin, or taken on
/// the group's word where that is allowed), and places it in the group
/// ([`crate::groups::claim_for_group`]).
pub async fn store_relayed(note: ApNote, group: &Actor, data: &Data<FedState>) -> Result<DbStatus, FedError> {
    let named = crate::groups::names_group(&note, &group.ap_id);
    let group = group.clone();
    store_remote_then(note, data, move |c, status| crate::groups::claim_for_group(c, status, &group, named))
        .await
}

/// [`store_remote`], running `then` on the stored status in the same transaction (a group
/// decides about a post as it is stored, so nobody sees it in between).
pub async fn store_remote_then(
    note: ApNote,
    data: &Data<FedState>,
    then: impl FnOnce(&mut DbConnection, &Status) -> StorageResult<()> + Send + 'static,
) -> Result<DbStatus, FedError> {
    if !STATUS_TYPES.contains(&note.kind.as_str()) {
        return Err(FedError::BadRequest(format!("{} is not shown as a status", note.kind)));
    }
    let author = ObjectId::<DbActor>::from(note.attributed_to.author.clone()).dereference(data).await?;
    let stored = store_remote_by(note, author, None, data, then).await?;
    stored.ok_or_else(|| FedError::Internal("a status stored without a receipt was not stored".into()))
}

/// [`store_remote_then`] for a note whose author is already loaded: the verified sender of the
/// `Create` it came in, which the caller checked is its `attributedTo` (one database call
/// fewer for each received post).
///
/// `receipt`: the id of the activity that carried the note, when its replay guard is left to
/// this transaction (the inbox's own write for it saved). `None` comes back when that id was
/// already received: a replay, or the same activity arriving twice at once.
pub async fn store_remote_by(
    note: ApNote,
    author: DbActor,
    receipt: Option<String>,
    data: &Data<FedState>,
    then: impl FnOnce(&mut DbConnection, &Status) -> StorageResult<()> + Send + 'static,
) -> Result<Option<DbStatus>, FedError> {
    if !STATUS_TYPES.contains(&note.kind.as_str()) {
        return Err(FedError::BadRequest(format!("{} is not shown as a status", note.kind)));
    }
    verify_domains_match(&note.id, &note.attributed_to)?;
    let parent = match &note.in_reply_to {
        Some(parent_id) => fetch_parent(parent_id, data).await,
        None => None,
    };
    let row = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                if let Some(id) = &receipt
                    && !guildhall_storage::received::record(c, id)?
                {
                    return Ok(None);
                }
                let (status, is_new) = upsert_status(c, &note, &author.row, parent.as_ref())?;
                write_parts(c, &note, &status, &author.row)?;
                statuses::adopt_orphans(c, &status)?;
                if is_new {
                    guildhall_storage::notifications::mentioned(c, &status)?;
                    guildhall_storage::notifications::subscribed(c, &status)?;
                }
                then(c, &status)?;
                statuses::get(c, status.id).map(Some)
            })
        })
        .await?;
    row.map(DbStatus::new).transpose()
}

async fn fetch_parent(parent_id: &Url, data: &Data<FedState>) -> Option<Status> {
    match ObjectId::<DbStatus>::from(parent_id.clone()).dereference(data).await {
        Ok(parent) => Some(parent.row),
        Err(e) => {
            tracing::debug!(parent = %parent_id, error = %e, "parent not fetched");
            None
        }
    }
}

/// Inserts or updates the status of `note`; returns it and whether it is new.
fn upsert_status(
    c: &mut DbConnection,
    note: &ApNote,
    author: &Actor,
    parent: Option<&Status>,
) -> StorageResult<(Status, bool)> {
    let existing = statuses::find_by_ap_id(c, note.id.as_str())?;
    let stamp = now();
    let visibility = visibility_of(&note.to, &note.cc, author.followers_url.as_deref());
    let id = existing.as_ref().map_or_else(|| Id::generate().0, |s| s.id);
    // An event's summary says when and where (not a content warning); its text leads with it.
    let event = crate::events::from_note(note, id).filter(|_| note.kind == "Event");
    let mut content = sanitize_html(&note.html());
    if let Some(event) = &event {
        let page = note.url.page.as_ref().map(Url::to_string);
        content = crate::events::event_html(event, &content, page.as_deref());
    }
    let row = Status {
        id,
        ap_id: note.id.to_string(),
        url: note.url.page.as_ref().map(Url::to_string),
        actor_id: author.id,
        local: false,
        kind: note.kind.clone(),
        in_reply_to_id: parent.map(|p| p.id),
        in_reply_to_ap_id: note.in_reply_to.as_ref().map(Url::to_string),
        in_reply_to_actor_id: parent.map(|p| p.actor_id),
        reblog_of_id: None,
        // A stored status keeps its group (a local group may have refused it); a new one is
        // in none until a group takes it (ours) or relays it (another server's).
        group_id: existing.as_ref().and_then(|s| s.group_id),
        visibility: visibility.as_str().to_owned(),
        title: note.name.as_deref().map(strip_html),
        content,
        source: None,
        spoiler_text: match event {
            Some(_) => String::new(),
            None => note.summary.as_deref().map(strip_html).unwrap_or_default(),
        },
        sensitive: note.sensitive.unwrap_or(false),
        language: note.language(),
        published_at: note.published.map_or(stamp, |t| t.naive_utc()),
        edited_at: existing.as_ref().and(note.updated.map(|t| t.naive_utc())),
        deleted_at: None,
        created_at: existing.as_ref().map_or(stamp, |s| s.created_at),
        updated_at: stamp,
    };
    let is_new = existing.is_none();
    match existing {
        Some(_) => statuses::update(c, &row)?,
        None => statuses::insert(c, &row)?,
    }
    Ok((statuses::get(c, row.id)?, is_new))
}

/// Most mentions (addressees included) and most hashtags read from a remote note: each is
/// looked up or written inside the store's transaction, which on SQLite holds the one writer,
/// so a stranger's note must not make it arbitrarily long. Real posts stay far below.
const MAX_REMOTE_PARTS: usize = 200;

/// Most attachments kept from a remote note, for the same reason: a post shows a handful
/// (Mastodon keeps at most 16 of a remote post's too), and each is a row written and read.
const MAX_REMOTE_ATTACHMENTS: usize = 16;

fn write_parts(c: &mut DbConnection, note: &ApNote, status: &Status, author: &Actor) -> StorageResult<()> {
    let mut mentioned = Vec::new();
    let hrefs = note.tag.iter().filter(|t| t.is_mention()).filter_map(|t| t.href.clone());
    // Direct statuses name their recipients in to/cc; treat known ones as mentioned. The
    // public collection and the author's followers are never actors: no lookup for them.
    let collection = |addr: &String| {
        crate::protocol::is_public(addr) || author.followers_url.as_deref() == Some(addr.as_str())
    };
    let recipients = note.to.iter().chain(&note.cc).filter(|a| !collection(a)).cloned();
    for href in hrefs.chain(recipients).take(MAX_REMOTE_PARTS) {
        if let Some(actor) = actors::find_by_ap_id(c, &href)? {
            mentioned.push(actor.id);
        }
    }
    status_parts::replace_mentions(c, status.id, &mentioned)?;
    let tags: Vec<String> = note
        .tag
        .iter()
        .filter(|t| t.is_hashtag())
        .filter_map(|t| t.name.clone())
        .map(|n| n.trim_start_matches('#').to_owned())
        .take(MAX_REMOTE_PARTS)
        .collect();
    status_parts::replace_tags(c, status.id, &tags)?;
    let media: Vec<RemoteMedia> = note
        .media()
        .iter()
        .filter_map(|a| {
            Some(RemoteMedia {
                url: a.url.as_ref()?.to_string(),
                media_type: a.media_type.clone(),
                description: a.name.clone(),
                blurhash: a.blurhash.clone(),
                width: a.width.and_then(|w| i32::try_from(w).ok()),
                height: a.height.and_then(|h| i32::try_from(h).ok()),
            })
        })
        .take(MAX_REMOTE_ATTACHMENTS)
        .collect();
    status_parts::replace_attachments(c, status.id, status.actor_id, &media)?;
    if note.kind == "Event" {
        crate::events::store_remote(c, note, status)?;
    }
    if let Some(poll) = note.poll() {
        let before = guildhall_storage::polls::find(c, status.id)?.and_then(|p| p.row.expires_at);
        guildhall_storage::polls::upsert(c, status.id, &poll)?;
        // Our voters hear of the end even when the origin never tells us; a moved end gets
        // its own job (the old one then does nothing).
        if let Some(end) = poll.expires_at
            && poll.expires_at != before
            && poll.closed_at.is_none()
        {
            guildhall_storage::polls::schedule_close(c, status.id, end)?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Object for DbStatus {
    type DataType = FedState;
    type Kind = ApNote;
    type Error = FedError;

    fn id(&self) -> &Url {
        &self.id
    }

    async fn read_from_id(object_id: Url, data: &Data<FedState>) -> Result<Option<Self>, FedError> {
        let id = object_id.to_string();
        let row = data.db.run(move |c| statuses::find_by_ap_id(c, &id)).await?;
        row.map(DbStatus::new).transpose()
    }

    fn is_deleted(&self) -> bool {
        self.row.deleted_at.is_some()
    }

    async fn into_json(self, data: &Data<FedState>) -> Result<ApNote, FedError> {
        let parts = data.db.run(move |c| load_parts(c, self.row)).await?;
        render_note(&parts, data.urls.base(), &data.config.domain.to_string())
    }

    async fn verify(json: &ApNote, expected_domain: &Url, _data: &Data<FedState>) -> Result<(), FedError> {
        verify_domains_match(&json.id, expected_domain)?;
        verify_domains_match(&json.attributed_to, expected_domain)?;
        Ok(())
    }

    async fn from_json(json: ApNote, data: &Data<FedState>) -> Result<Self, FedError> {
        store_remote(json, data).await
    }
}

//! What local actors do: follow, post, reply, edit, delete, like, boost, block, update their
//! profile, delete their account. One door for the client API and the tests. Each change and
//! the activity announcing it are written in one transaction; the delivery worker sends it.

use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::fetch::webfinger::webfinger_resolve_actor;
use guildhall_core::Id;
use guildhall_core::model::{ActorKind, FollowState, Visibility};
use guildhall_core::text::{self, MentionRef, ResolvedMention};
use guildhall_storage::actors::{self, Actor, ProfileField};
use guildhall_storage::follows::Follow;
use guildhall_storage::notifications::NotificationKind;
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{
    DbConnection, StorageError, StorageResult, blocks, favourites, follows, notifications, now, status_parts,
};
use serde_json::{Value, json};

use crate::error::FedError;
use crate::objects::actor::DbActor;
use crate::objects::status::{DbStatus, NoteParts, load_parts, render_note};
use crate::outgoing::{envelope, network_inboxes, new_activity_id, publish, status_inboxes};
use crate::protocol::PUBLIC;
use crate::state::FedData;

/// Finds an actor by `@user@domain`, `user@domain`, a local `user`, or an actor URL, fetching
/// it (WebFinger, then a signed fetch) when unknown.
pub async fn resolve_actor(data: &FedData, query: &str) -> Result<Actor, FedError> {
    let query = query.trim().trim_start_matches('@');
    if query.starts_with("http://") || query.starts_with("https://") {
        let url = url::Url::parse(query)?;
        return Ok(ObjectId::<DbActor>::from(url).dereference(data).await?.row);
    }
    let (name, domain) = query.split_once('@').map_or((query, None), |(n, d)| (n, Some(d.to_lowercase())));
    let local = data.config.domain.to_string();
    if domain.as_deref().is_none_or(|d| d == local) {
        let name = name.to_owned();
        return data.db.run(move |c| actors::find_local(c, &name)).await?.ok_or(FedError::NotFound);
    }
    Ok(webfinger_resolve_actor::<_, DbActor>(query, data).await?.row)
}

fn wake(data: &FedData) {
    data.delivery_wakeup.notify_one();
}

/// Follows `target` (or asks to). Local targets are decided at once; remote ones get a
/// `Follow` and stay pending until they `Accept`.
pub async fn follow(data: &FedData, follower: &Actor, target: &Actor) -> Result<Follow, FedError> {
    let (follower, target) = (follower.clone(), target.clone());
    let follow_id = new_activity_id(&data.urls);
    let result = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                if blocks::between(c, follower.id, target.id)? {
                    return Err(StorageError::Conflict("blocked".into()));
                }
                if target.is_local() {
                    let state = match crate::activities::decide_follow(c, &target, &follower)? {
                        crate::activities::Decision::Accept => FollowState::Accepted,
                        crate::activities::Decision::Pending => FollowState::Pending,
                        crate::activities::Decision::Reject => {
                            return Err(StorageError::Conflict("not allowed".into()));
                        }
                    };
                    let follow = follows::upsert(c, follower.id, target.id, state, Some(&follow_id))?;
                    let kind = if state == FollowState::Accepted {
                        NotificationKind::Follow
                    } else {
                        NotificationKind::FollowRequest
                    };
                    notifications::notify(c, target.id, kind, follower.id, None)?;
                    return Ok(follow);
                }
                let follow =
                    follows::upsert(c, follower.id, target.id, FollowState::Pending, Some(&follow_id))?;
                let doc = envelope(
                    &follow_id,
                    "Follow",
                    &follower,
                    json!(target.ap_id),
                    std::slice::from_ref(&target.ap_id),
                    &[],
                );
                publish(c, &follower, &doc, &[target.delivery_inbox().to_owned()])?;
                Ok(follow)
            })
        })
        .await
        .map_err(|e| match e {
            StorageError::Conflict(why) => FedError::Forbidden(why),
            other => other.into(),
        })?;
    wake(data);
    Ok(result)
}

/// Stops following (or withdraws a request); remote targets get `Undo{Follow}`.
pub async fn unfollow(data: &FedData, follower: &Actor, target: &Actor) -> Result<(), FedError> {
    let (follower, target) = (follower.clone(), target.clone());
    let undo_id = new_activity_id(&data.urls);
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let Some(existing) = follows::find(c, follower.id, target.id)? else { return Ok(()) };
                follows::remove(c, follower.id, target.id)?;
                if !target.is_local() {
                    let inner = json!({ "id": existing.ap_id, "type": "Follow", "actor": follower.ap_id, "object": target.ap_id });
                    let doc = envelope(&undo_id, "Undo", &follower, inner, std::slice::from_ref(&target.ap_id), &[]);
                    publish(c, &follower, &doc, &[target.delivery_inbox().to_owned()])?;
                }
                Ok(())
            })
        })
        .await?;
    wake(data);
    Ok(())
}

/// Approves a pending follow request of a local (locked) actor.
pub async fn approve_follower(data: &FedData, target: &Actor, follower: &Actor) -> Result<(), FedError> {
    answer_request(data, target, follower, true).await
}

/// Rejects a pending follow request (or removes a follower).
pub async fn reject_follower(data: &FedData, target: &Actor, follower: &Actor) -> Result<(), FedError> {
    answer_request(data, target, follower, false).await
}

async fn answer_request(
    data: &FedData,
    target: &Actor,
    follower: &Actor,
    accept: bool,
) -> Result<(), FedError> {
    let (target, follower, urls) = (target.clone(), follower.clone(), data.urls.clone());
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let existing = follows::find(c, follower.id, target.id)?.ok_or(StorageError::NotFound)?;
                let follow_doc = json!({ "id": existing.ap_id, "type": "Follow", "actor": follower.ap_id, "object": target.ap_id });
                if accept {
                    follows::accept(c, follower.id, target.id)?;
                } else {
                    follows::remove(c, follower.id, target.id)?;
                }
                crate::activities::respond(c, &urls, &target, &follower, if accept { "Accept" } else { "Reject" }, follow_doc)
            })
        })
        .await?;
    wake(data);
    Ok(())
}

/// A new status as typed by a local user.
#[derive(Debug, Clone)]
pub struct NewPost {
    /// The text as typed.
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
    /// The author's unattached uploads to attach, in order (at most four).
    pub media_ids: Vec<i64>,
    /// The client's `Idempotency-Key`, with the user it belongs to: a retry with the same key
    /// answers the status the first made, and only one of two concurrent ones posts.
    pub idempotency: Option<(i64, String)>,
    /// A poll to attach (checked by the caller).
    pub poll: Option<PollParams>,
}

/// A poll as an app asks for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PollParams {
    /// Option titles, in order.
    pub options: Vec<String>,
    /// Seconds until it ends.
    pub expires_in: i64,
    /// Several choices allowed.
    pub multiple: bool,
}

impl NewPost {
    /// A public post with just text.
    pub fn public(text: &str) -> NewPost {
        NewPost {
            text: text.to_owned(),
            visibility: Visibility::Public,
            in_reply_to: None,
            spoiler_text: String::new(),
            sensitive: false,
            language: Some("en".into()),
            media_ids: Vec::new(),
            idempotency: None,
            poll: None,
        }
    }
}

/// Refuses media the author may not attach to `status_id` (a new status when `None`): more
/// than four, unknown, someone else's, or attached to another status.
async fn check_media(
    data: &FedData,
    author_id: i64,
    ids: &[i64],
    status_id: Option<i64>,
) -> Result<(), FedError> {
    if ids.len() > guildhall_storage::media::MAX_PER_STATUS {
        return Err(FedError::BadRequest(format!(
            "Cannot attach more than {} files",
            guildhall_storage::media::MAX_PER_STATUS
        )));
    }
    let ids = ids.to_vec();
    let bad = data.db.run(move |c| guildhall_storage::media::unusable(c, author_id, &ids, status_id)).await?;
    if bad.is_empty() {
        return Ok(());
    }
    let bad: Vec<String> = bad.iter().map(i64::to_string).collect();
    Err(FedError::BadRequest(format!(
        "Media {} not found or already attached to another post",
        bad.join(", ")
    )))
}

/// Resolves the mentions in typed text (known actors at once, unknown remote ones through
/// WebFinger; failures leave the text as it is).
async fn resolve_mentions(data: &FedData, text: &str) -> Vec<(MentionRef, Actor)> {
    let mut found = Vec::new();
    for m in text::find_mentions(text) {
        let query = match &m.domain {
            Some(d) => format!("{}@{d}", m.username),
            None => m.username.clone(),
        };
        match resolve_actor(data, &query).await {
            Ok(actor) => found.push((m, actor)),
            Err(e) => tracing::debug!(mention = %query, error = %e, "mention not resolved"),
        }
    }
    found
}

/// Renders typed text as a post's HTML, its mentions resolved (events' descriptions).
pub(crate) async fn render_text(data: &FedData, typed: &str) -> text::Rendered {
    let mentioned = resolve_mentions(data, typed).await;
    render(data, typed, &mentioned)
}

fn render(data: &FedData, text: &str, mentioned: &[(MentionRef, Actor)]) -> text::Rendered {
    let local = data.config.domain.to_string();
    let base = data.urls.base().to_owned();
    text::render_plain(
        text,
        |m| {
            mentioned.iter().find(|(r, _)| r == m).map(|(_, a)| ResolvedMention {
                href: a.url.clone().unwrap_or_else(|| a.ap_id.clone()),
                actor_id: a.ap_id.clone(),
                name: crate::objects::status::handle(a, &local),
            })
        },
        |tag| format!("{base}/tags/{}", tag.to_lowercase()),
    )
}

/// Publishes a new status (or reply) and delivers it to exactly its audience.
///
/// Mentioning a group posts into it (a reply in a group's thread stays in it). Posts into a
/// local members-only group are addressed to the group alone, whatever visibility was asked
/// for; a local group relays the post to its members, or refuses it when the author may not
/// post there (nothing is published then).
pub async fn post(data: &FedData, author: &Actor, new: NewPost) -> Result<Status, FedError> {
    post_shaped(data, author, new, Box::new(|_| {}), Box::new(|_, _| Ok(()))).await
}

/// Changes a new status before it is stored (an event's kind, title, page and text).
pub type Shape = Box<dyn FnOnce(&mut Status) + Send>;
/// Runs in the new status's own transaction, after it is stored and before it is announced
/// (an event's fields; a prompt's record, whose unique key stops a second posting).
pub type Then = Box<dyn FnOnce(&mut DbConnection, &Status) -> StorageResult<()> + Send>;

/// [`post`], with the status shaped by `shape` before it is stored and `then` run in its
/// transaction (an error there posts nothing).
pub async fn post_shaped(
    data: &FedData,
    author: &Actor,
    new: NewPost,
    shape: Shape,
    then: Then,
) -> Result<Status, FedError> {
    // A retry answers what the first attempt posted, before its media (attached by then) are
    // checked again; the transaction below settles concurrent attempts.
    if let Some((user, key)) = new.idempotency.clone() {
        let earlier = data
            .db
            .run(move |c| match guildhall_storage::bookmarks::idempotent_status(c, user, &key)? {
                Some(id) => statuses::get(c, id).map(Some),
                None => Ok(None),
            })
            .await?;
        if let Some(earlier) = earlier {
            return Ok(earlier);
        }
    }
    check_media(data, author.id, &new.media_ids, None).await?;
    let mentioned = resolve_mentions(data, &new.text).await;
    let rendered = render(data, &new.text, &mentioned);
    let mention_ids: Vec<i64> = mentioned.iter().map(|(_, a)| a.id).collect();
    let mentioned_group = mentioned.iter().map(|(_, a)| a).find(|a| a.is(ActorKind::Group)).map(|a| a.id);
    let id = Id::generate().0;
    let stamp = now();
    let mut status = Status {
        id,
        ap_id: format!("{}/statuses/{id}", author.ap_id),
        url: Some(format!("{}/@{}/{id}", data.urls.base(), author.username)),
        actor_id: author.id,
        local: true,
        kind: "Note".into(),
        in_reply_to_id: new.in_reply_to,
        in_reply_to_ap_id: None,
        in_reply_to_actor_id: None,
        reblog_of_id: None,
        group_id: mentioned_group,
        visibility: new.visibility.as_str().to_owned(),
        title: None,
        content: rendered.html,
        source: Some(new.text),
        spoiler_text: new.spoiler_text,
        sensitive: new.sensitive,
        language: new.language,
        published_at: stamp,
        edited_at: None,
        deleted_at: None,
        created_at: stamp,
        updated_at: stamp,
    };
    shape(&mut status);
    // Naming a group (by mention, or as an event's host) and being refused there is an error.
    let named_group = status.group_id.is_some();
    let (data2, tags, media_ids, idempotency) = (data.clone(), rendered.tags, new.media_ids, new.idempotency);
    let poll = new.poll.map(|p| guildhall_storage::polls::NewPoll {
        options: p.options,
        multiple: p.multiple,
        expires_at: Some(stamp + chrono::Duration::seconds(p.expires_in)),
        counts: None,
        closed_at: None,
    });
    let stored = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                if let Some((user, key)) = &idempotency
                    && let Some(earlier) = guildhall_storage::bookmarks::idempotent_status(c, *user, key)?
                {
                    return statuses::get(c, earlier);
                }
                let mut status = link_parent(c, status)?;
                // Ours or another server's (its actor says so), a members-only group's posts are
                // addressed to the group alone.
                if status.group_id.map(|g| actors::get(c, g)).transpose()?.is_some_and(|g| g.members_only) {
                    status.visibility = Visibility::Direct.as_str().to_owned();
                }
                statuses::insert(c, &status)?;
                if let Some((user, key)) = &idempotency {
                    // A concurrent retry that got here first makes this fail: nothing is posted.
                    guildhall_storage::bookmarks::remember_idempotent(c, *user, key, status.id)?;
                }
                status_parts::replace_mentions(c, status.id, &mention_ids)?;
                status_parts::replace_tags(c, status.id, &tags)?;
                guildhall_storage::media::attach(c, status.id, status.actor_id, &media_ids)?;
                then(c, &status)?;
                if let Some(poll) = &poll {
                    guildhall_storage::polls::upsert(c, status.id, poll)?;
                    if let Some(end) = poll.expires_at {
                        guildhall_storage::polls::schedule_close(c, status.id, end)?;
                    }
                }
                notifications::mentioned(c, &status)?;
                notifications::subscribed(c, &status)?;
                let parts = load_parts(c, status.clone())?;
                let create = announce_status(c, &data2, &parts, "Create")?;
                // Naming a group one may not post in is an error; a reply in such a group's
                // thread is posted outside the group.
                if let crate::groups::PostOutcome::Refused(why) =
                    crate::groups::on_new_status(c, &data2.urls, &status, &create)?
                    && named_group
                {
                    return Err(StorageError::Conflict(why.to_string()));
                }
                statuses::get(c, status.id)
            })
        })
        .await
        .map_err(|e| match e {
            StorageError::Conflict(why) => FedError::Forbidden(why),
            other => other.into(),
        })?;
    wake(data);
    Ok(stored)
}

fn link_parent(c: &mut DbConnection, mut status: Status) -> StorageResult<Status> {
    if let Some(parent_id) = status.in_reply_to_id {
        let parent = statuses::get(c, parent_id)?;
        if parent.deleted_at.is_some() {
            return Err(StorageError::NotFound);
        }
        status.in_reply_to_ap_id = Some(parent.ap_id);
        status.in_reply_to_actor_id = Some(parent.actor_id);
        // A reply stays in its thread's group, unless it is a direct message.
        if status.visibility != Visibility::Direct.as_str() {
            status.group_id = status.group_id.or(parent.group_id);
        }
    }
    Ok(status)
}

/// A one-paragraph rendering without its paragraph, as profile field values are shown.
fn inline(html: &str) -> String {
    match html.strip_prefix("<p>").and_then(|h| h.strip_suffix("</p>")) {
        Some(inner) if !inner.contains("<p>") => inner.to_owned(),
        _ => html.to_owned(),
    }
}

/// Queues `Create`/`Update` of a status to its audience; returns the activity.
pub(crate) fn announce_status(
    c: &mut DbConnection,
    data: &FedData,
    parts: &NoteParts,
    kind: &str,
) -> StorageResult<Value> {
    let note = render_note(parts, data.urls.base(), &data.config.domain.to_string())
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let (to, cc) = (note.to.clone(), note.cc.clone());
    let object = serde_json::to_value(&note).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let id = match kind {
        "Create" => format!("{}/activity", parts.status.ap_id),
        _ => new_activity_id(&data.urls),
    };
    let doc = envelope(&id, kind, &parts.author, object, &to, &cc);
    let inboxes = status_inboxes(c, parts)?;
    publish(c, &parts.author, &doc, &inboxes)?;
    Ok(doc)
}

/// New alt text or focal point for one of an edited status's media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaAttributes {
    /// The upload.
    pub id: i64,
    /// Alt text (`Some("")` clears it).
    pub description: Option<String>,
    /// Focal point `x,y`.
    pub focus: Option<String>,
}

/// An edit of a status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusEdit {
    /// The new text.
    pub text: String,
    /// The new content warning.
    pub spoiler_text: String,
    /// When given, the attachments in this order (ones attached before and not listed are
    /// detached).
    pub media_ids: Option<Vec<i64>>,
    /// Alt text and focal points to change.
    pub media_attributes: Vec<MediaAttributes>,
    /// Media sensitive, when given.
    pub sensitive: Option<bool>,
    /// A new poll (other options start it afresh; its end is counted from now).
    pub poll: Option<PollParams>,
}

/// Edits a status's text and content warning (`media_ids`, when given, become its attachments,
/// in this order; ones attached before and not listed are detached); sends `Update` to the
/// same audience.
pub async fn edit(
    data: &FedData,
    author: &Actor,
    status_id: i64,
    text: &str,
    spoiler_text: &str,
    media_ids: Option<Vec<i64>>,
) -> Result<Status, FedError> {
    let change = StatusEdit {
        text: text.to_owned(),
        spoiler_text: spoiler_text.to_owned(),
        media_ids,
        ..StatusEdit::default()
    };
    edit_status(data, author, status_id, change).await
}

/// Applies `change` to a status (text, content warning, media and their alt text, in one
/// transaction) and sends `Update` to the same audience.
pub async fn edit_status(
    data: &FedData,
    author: &Actor,
    status_id: i64,
    change: StatusEdit,
) -> Result<Status, FedError> {
    if let Some(ids) = &change.media_ids {
        check_media(data, author.id, ids, Some(status_id)).await?;
    }
    let mentioned = resolve_mentions(data, &change.text).await;
    let rendered = render(data, &change.text, &mentioned);
    let mention_ids: Vec<i64> = mentioned.iter().map(|(_, a)| a.id).collect();
    let (author_id, data2) = (author.id, data.clone());
    let updated = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let mut status = own_live_status(c, author_id, status_id)?;
                status.content = rendered.html;
                status.source = Some(change.text);
                status.spoiler_text = change.spoiler_text;
                if let Some(sensitive) = change.sensitive {
                    status.sensitive = sensitive;
                }
                statuses::update(c, &status)?;
                status_parts::replace_mentions(c, status.id, &mention_ids)?;
                status_parts::replace_tags(c, status.id, &rendered.tags)?;
                if let Some(ids) = &change.media_ids {
                    guildhall_storage::media::attach(c, status.id, author_id, ids)?;
                }
                // As in Mastodon, an edit that leaves the poll out removes it.
                if change.poll.is_none() {
                    guildhall_storage::polls::remove(c, status.id)?;
                }
                if let Some(p) = &change.poll {
                    let poll = guildhall_storage::polls::NewPoll {
                        options: p.options.clone(),
                        multiple: p.multiple,
                        expires_at: Some(now() + chrono::Duration::seconds(p.expires_in)),
                        counts: None,
                        closed_at: None,
                    };
                    guildhall_storage::polls::upsert(c, status.id, &poll)?;
                    if let Some(end) = poll.expires_at {
                        guildhall_storage::polls::schedule_close(c, status.id, end)?;
                    }
                }
                for m in &change.media_attributes {
                    guildhall_storage::media::describe_for_status(
                        c,
                        author_id,
                        status.id,
                        m.id,
                        m.description.as_deref(),
                        m.focus.as_deref(),
                    )?;
                }
                let status = statuses::get(c, status.id)?;
                let parts = load_parts(c, status.clone())?;
                let update = announce_status(c, &data2, &parts, "Update")?;
                crate::groups::on_thread_activity(c, &data2.urls, &status, &update)?;
                Ok(status)
            })
        })
        .await?;
    wake(data);
    Ok(updated)
}

fn own_live_status(c: &mut DbConnection, author_id: i64, status_id: i64) -> StorageResult<Status> {
    let status = statuses::get(c, status_id)?;
    if status.actor_id != author_id || status.deleted_at.is_some() || status.reblog_of_id.is_some() {
        return Err(StorageError::NotFound);
    }
    Ok(status)
}

/// Deletes a status; sends `Delete` (with a Tombstone) to everyone who received it.
pub async fn delete_status(data: &FedData, author: &Actor, status_id: i64) -> Result<(), FedError> {
    let (author_id, urls) = (author.id, data.urls.clone());
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let status = own_live_status(c, author_id, status_id)?;
                let parts = load_parts(c, status.clone())?;
                let inboxes = status_inboxes(c, &parts)?;
                statuses::mark_deleted(c, status.id)?;
                let tombstone = json!({ "id": status.ap_id, "type": "Tombstone" });
                let doc = envelope(
                    &new_activity_id(&urls),
                    "Delete",
                    &parts.author,
                    tombstone,
                    &[PUBLIC.into()],
                    &[],
                );
                publish(c, &parts.author, &doc, &inboxes)?;
                crate::groups::on_thread_activity(c, &urls, &status, &doc)?;
                Ok(())
            })
        })
        .await?;
    wake(data);
    Ok(())
}

/// The status a like or boost is about, with its author; must be live and visible enough.
fn target_status(c: &mut DbConnection, status_id: i64) -> StorageResult<(Status, Actor)> {
    let status = statuses::get(c, status_id)?;
    if status.deleted_at.is_some() || status.reblog_of_id.is_some() {
        return Err(StorageError::NotFound);
    }
    let author = actors::get(c, status.actor_id)?;
    Ok((status, author))
}

/// Likes a status; its remote author gets `Like`.
pub async fn like(data: &FedData, actor: &Actor, status_id: i64) -> Result<(), FedError> {
    let (actor, like_id, urls) = (actor.clone(), new_activity_id(&data.urls), data.urls.clone());
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let (status, author) = target_status(c, status_id)?;
                let (_, new) = favourites::add(c, actor.id, status.id, Some(&like_id))?;
                if !new {
                    return Ok(());
                }
                notifications::notify(c, author.id, NotificationKind::Favourite, actor.id, Some(status.id))?;
                let doc = envelope(
                    &like_id,
                    "Like",
                    &actor,
                    json!(status.ap_id),
                    std::slice::from_ref(&author.ap_id),
                    &[],
                );
                let mut inboxes = Vec::new();
                if !author.is_local() {
                    inboxes.push(author.delivery_inbox().to_owned());
                }
                // A like in a remote group's thread also goes to the group, which relays it.
                if let Some(group) = status.group_id.map(|g| actors::get(c, g)).transpose()?
                    && !group.is_local()
                {
                    inboxes.push(group.delivery_inbox().to_owned());
                }
                // In a group thread the Like is kept (and served) even with no one to send it
                // to: members' servers confirm relayed likes at their origin.
                if !inboxes.is_empty() || status.group_id.is_some() {
                    publish(c, &actor, &doc, &inboxes)?;
                }
                crate::groups::on_thread_activity(c, &urls, &status, &doc)
            })
        })
        .await?;
    wake(data);
    Ok(())
}

/// Takes a like back; its remote author gets `Undo{Like}`.
pub async fn unlike(data: &FedData, actor: &Actor, status_id: i64) -> Result<(), FedError> {
    let (actor, undo_id, urls) = (actor.clone(), new_activity_id(&data.urls), data.urls.clone());
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let (status, author) = target_status(c, status_id)?;
                let Some(existing) = favourites::find(c, actor.id, status.id)? else { return Ok(()) };
                favourites::remove(c, actor.id, status.id)?;
                let inner = json!({ "id": existing.ap_id, "type": "Like", "actor": actor.ap_id, "object": status.ap_id });
                let doc = envelope(&undo_id, "Undo", &actor, inner, std::slice::from_ref(&author.ap_id), &[]);
                let mut inboxes = Vec::new();
                if !author.is_local() {
                    inboxes.push(author.delivery_inbox().to_owned());
                }
                if let Some(group) = status.group_id.map(|g| actors::get(c, g)).transpose()?
                    && !group.is_local()
                {
                    inboxes.push(group.delivery_inbox().to_owned());
                }
                if !inboxes.is_empty() {
                    publish(c, &actor, &doc, &inboxes)?;
                }
                crate::groups::on_thread_activity(c, &urls, &status, &doc)
            })
        })
        .await?;
    wake(data);
    Ok(())
}

/// Boosts a public or unlisted status: `Announce` to our followers and its author.
pub async fn boost(data: &FedData, actor: &Actor, status_id: i64) -> Result<Status, FedError> {
    let actor = actor.clone();
    let boost = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let (status, author) = target_status(c, status_id)?;
                if !matches!(status.visibility()?, Visibility::Public | Visibility::Unlisted) {
                    return Err(StorageError::Conflict("only public posts can be boosted".into()));
                }
                let id = Id::generate().0;
                let stamp = now();
                let boost = Status {
                    id,
                    ap_id: format!("{}/statuses/{id}/activity", actor.ap_id),
                    kind: "Announce".into(),
                    actor_id: actor.id,
                    local: true,
                    reblog_of_id: Some(status.id),
                    content: String::new(),
                    source: None,
                    in_reply_to_id: None,
                    in_reply_to_ap_id: None,
                    in_reply_to_actor_id: None,
                    group_id: None,
                    title: None,
                    url: None,
                    spoiler_text: String::new(),
                    sensitive: false,
                    language: None,
                    visibility: Visibility::Public.as_str().into(),
                    published_at: stamp,
                    edited_at: None,
                    deleted_at: None,
                    created_at: stamp,
                    updated_at: stamp,
                };
                statuses::insert(c, &boost)?;
                notifications::notify(c, author.id, NotificationKind::Reblog, actor.id, Some(status.id))?;
                let followers = actor.followers_url.clone().unwrap_or_default();
                let doc = envelope(
                    &boost.ap_id,
                    "Announce",
                    &actor,
                    json!(status.ap_id),
                    &[PUBLIC.into()],
                    &[author.ap_id.clone(), followers],
                );
                let mut inboxes = follows::follower_inboxes(c, actor.id)?;
                if !author.is_local() {
                    inboxes.push(author.delivery_inbox().to_owned());
                }
                publish(c, &actor, &doc, &inboxes)?;
                Ok(boost)
            })
        })
        .await
        .map_err(|e| match e {
            StorageError::Conflict(why) => FedError::Forbidden(why),
            other => other.into(),
        })?;
    wake(data);
    Ok(boost)
}

/// Takes a boost back: `Undo{Announce}` to the same audience.
pub async fn unboost(data: &FedData, actor: &Actor, status_id: i64) -> Result<(), FedError> {
    let (actor, undo_id) = (actor.clone(), new_activity_id(&data.urls));
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let (status, author) = target_status(c, status_id)?;
                let mine = statuses::boosts_of(c, status.id)?.into_iter().find(|b| b.actor_id == actor.id && b.deleted_at.is_none());
                let Some(boost) = mine else { return Ok(()) };
                statuses::mark_deleted(c, boost.id)?;
                let inner = json!({ "id": boost.ap_id, "type": "Announce", "actor": actor.ap_id, "object": status.ap_id });
                let doc = envelope(&undo_id, "Undo", &actor, inner, &[PUBLIC.into()], &[]);
                let mut inboxes = follows::follower_inboxes(c, actor.id)?;
                if !author.is_local() {
                    inboxes.push(author.delivery_inbox().to_owned());
                }
                publish(c, &actor, &doc, &inboxes)?;
                Ok(())
            })
        })
        .await?;
    wake(data);
    Ok(())
}

/// Changes to a local profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// Display name.
    pub display_name: Option<String>,
    /// Bio, as typed (rendered to HTML).
    pub note: Option<String>,
    /// Locked account.
    pub locked: Option<bool>,
    /// Automated account.
    pub bot: Option<bool>,
    /// Listed in directories.
    pub discoverable: Option<bool>,
    /// Profile fields (name, value as typed).
    pub fields: Option<Vec<(String, String)>>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Header URL.
    pub header_url: Option<String>,
    /// Remove the avatar (back to the stand-in).
    pub remove_avatar: bool,
    /// Remove the header.
    pub remove_header: bool,
}

/// Updates a local profile and sends `Update{Person}` to followers and followed instances.
pub async fn update_profile(data: &FedData, actor: &Actor, update: ProfileUpdate) -> Result<Actor, FedError> {
    let mut row = actor.clone();
    if let Some(name) = update.display_name {
        row.display_name = text::strip_html(&name);
    }
    if let Some(note) = update.note {
        row.summary = render(data, &note, &[]).html;
    }
    row.manually_approves_followers = update.locked.unwrap_or(row.manually_approves_followers);
    row.bot = update.bot.unwrap_or(row.bot);
    row.discoverable = update.discoverable.unwrap_or(row.discoverable);
    if let Some(fields) = update.fields {
        let fields: Vec<ProfileField> = fields
            .into_iter()
            .map(|(n, v)| ProfileField {
                name: text::strip_html(&n),
                value: inline(&render(data, &v, &[]).html),
            })
            .collect();
        row.set_fields(&fields);
    }
    row.avatar_url = if update.remove_avatar { None } else { update.avatar_url.or(row.avatar_url) };
    row.header_url = if update.remove_header { None } else { update.header_url.or(row.header_url) };
    row.updated_at = now();
    let doc_actor = DbActor::new(row.clone())?.to_json()?;
    let object = serde_json::to_value(doc_actor)?;
    let (stored, id) = (row.clone(), new_activity_id(&data.urls));
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                actors::update_local(c, &stored)?;
                let doc = envelope(&id, "Update", &stored, object, &[PUBLIC.into()], &[]);
                let inboxes = network_inboxes(c, &stored)?;
                publish(c, &stored, &doc, &inboxes)?;
                Ok(())
            })
        })
        .await?;
    wake(data);
    Ok(row)
}

/// Deletes a local account: it is marked gone, its statuses go, its follows end, its sign-in
/// and every token end, and `Delete{actor}` reaches every instance that knew it.
pub async fn delete_account(data: &FedData, actor: &Actor) -> Result<(), FedError> {
    let (actor, urls) = (actor.clone(), data.urls.clone());
    data.db.run(move |c| close_account(c, &urls, &actor)).await?;
    wake(data);
    Ok(())
}

/// [`delete_account`] in one transaction on `c` (the command line runs it without a server;
/// the delivery worker sends what it queued).
pub fn close_account(c: &mut DbConnection, urls: &crate::Urls, actor: &Actor) -> StorageResult<()> {
    guildhall_storage::transaction(c, |c| {
        let inboxes = network_inboxes(c, actor)?;
        let doc = envelope(
            &new_activity_id(urls),
            "Delete",
            actor,
            Value::String(actor.ap_id.clone()),
            &[PUBLIC.into()],
            &[],
        );
        publish(c, actor, &doc, &inboxes)?;
        for status in statuses::by_actor(c, actor.id, None, i64::MAX)? {
            statuses::mark_deleted(c, status.id)?;
        }
        follows::remove_all_of(c, actor.id)?;
        if let Some(account) = guildhall_storage::accounts::find_by_actor_id(c, actor.id)? {
            guildhall_storage::accounts::disable(c, account.user.id)?;
            guildhall_storage::oauth::revoke_all_of_user(c, account.user.id)?;
            guildhall_storage::web_sessions::revoke_all(c, account.user.id, None)?;
        }
        actors::mark_deleted(c, actor.id)
    })
}

/// Pins (or, with `pinned` false, unpins) one of `actor`'s own posts, and tells the network
/// with `Add` (or `Remove`) on its `featured` collection. Boosts and direct messages are
/// never pinned. Returns the status.
pub async fn set_pinned(
    data: &FedData,
    actor: &Actor,
    status_id: i64,
    pinned: bool,
) -> Result<Status, FedError> {
    let (actor, urls) = (actor.clone(), data.urls.clone());
    let status = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let s = statuses::get(c, status_id)?;
                if s.actor_id != actor.id || s.deleted_at.is_some() {
                    return Err(StorageError::NotFound);
                }
                let visibility = s.visibility()?;
                if pinned && (s.reblog_of_id.is_some() || visibility == Visibility::Direct) {
                    return Err(StorageError::Conflict("Boosts and direct messages cannot be pinned".into()));
                }
                let changed = if pinned {
                    let before = guildhall_storage::pins::is_pinned(c, actor.id, s.id)?;
                    guildhall_storage::pins::pin(c, actor.id, s.id)?;
                    !before
                } else {
                    guildhall_storage::pins::unpin(c, actor.id, s.id)?
                };
                if changed {
                    // Addressed as the post itself is.
                    let followers = actor.followers_url.clone().unwrap_or_default();
                    let (to, cc) = crate::objects::status::addressing(visibility, &followers, &[]);
                    let kind = if pinned { "Add" } else { "Remove" };
                    let mut doc = envelope(&new_activity_id(&urls), kind, &actor, json!(s.ap_id), &to, &cc);
                    doc["target"] = json!(crate::urls::featured(&actor.ap_id));
                    // A followers-only post's pin is news for its followers alone.
                    let inboxes = match visibility {
                        Visibility::Public | Visibility::Unlisted => network_inboxes(c, &actor)?,
                        _ => follows::follower_inboxes(c, actor.id)?,
                    };
                    publish(c, &actor, &doc, &inboxes)?;
                }
                Ok(s)
            })
        })
        .await
        .map_err(|e| match e {
            StorageError::Conflict(why) => FedError::BadRequest(why),
            other => other.into(),
        })?;
    wake(data);
    Ok(status)
}

/// Blocks an actor: follows both ways end; a remote actor gets `Block`.
pub async fn block(data: &FedData, actor: &Actor, target: &Actor) -> Result<(), FedError> {
    let (actor, target, id) = (actor.clone(), target.clone(), new_activity_id(&data.urls));
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                blocks::add(c, actor.id, target.id, Some(&id))?;
                follows::remove_between(c, actor.id, target.id)?;
                if !target.is_local() {
                    let doc = envelope(
                        &id,
                        "Block",
                        &actor,
                        json!(target.ap_id),
                        std::slice::from_ref(&target.ap_id),
                        &[],
                    );
                    publish(c, &actor, &doc, &[target.delivery_inbox().to_owned()])?;
                }
                Ok(())
            })
        })
        .await?;
    wake(data);
    Ok(())
}

/// Lifts a block; a remote actor gets `Undo{Block}` embedding the original `Block` (its id
/// included, so the receiver finds what it undoes).
pub async fn unblock(data: &FedData, actor: &Actor, target: &Actor) -> Result<(), FedError> {
    let (actor, target, urls) = (actor.clone(), target.clone(), data.urls.clone());
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let original = blocks::ap_id_of(c, actor.id, target.id)?;
                if !blocks::remove(c, actor.id, target.id)? || target.is_local() {
                    return Ok(());
                }
                let mut block = json!({ "type": "Block", "actor": actor.ap_id, "object": target.ap_id });
                if let Some(id) = original {
                    block["id"] = json!(id);
                }
                let doc = envelope(
                    &new_activity_id(&urls),
                    "Undo",
                    &actor,
                    block,
                    std::slice::from_ref(&target.ap_id),
                    &[],
                );
                publish(c, &actor, &doc, &[target.delivery_inbox().to_owned()])?;
                Ok(())
            })
        })
        .await?;
    wake(data);
    Ok(())
}

/// Fetches a remote status by URL (signed by the instance actor) and stores it.
pub async fn resolve_status(data: &FedData, url: &str) -> Result<Status, FedError> {
    let url = url::Url::parse(url)?;
    Ok(ObjectId::<DbStatus>::from(url).dereference(data).await?.row)
}

/// A report by a local user.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// The reported account.
    pub target: Actor,
    /// Reported statuses (theirs).
    pub status_ids: Vec<i64>,
    /// Why.
    pub comment: String,
    /// Also send it to the reported account's server (as our instance, not the reporter).
    pub forward: bool,
}

/// Files a report for this instance's moderators; with `forward`, the reported account's
/// server gets a `Flag` from our instance actor, so the reporter stays anonymous there.
pub async fn report(
    data: &FedData,
    reporter: &Actor,
    new: NewReport,
) -> Result<guildhall_storage::reports::Report, FedError> {
    let (reporter, urls) = (reporter.clone(), data.urls.clone());
    let instance_actor_id = data.urls.instance_actor();
    let stored = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let mut objects = vec![new.target.ap_id.clone()];
                for &id in &new.status_ids {
                    let refused =
                        || StorageError::Conflict("a reported post is not the reported account's".into());
                    let status = statuses::get(c, id).map_err(|e| match e {
                        StorageError::NotFound => refused(),
                        other => other,
                    })?;
                    // What the reporter cannot see, or is not the reported account's, is
                    // refused alike: a report must not tell who wrote what.
                    if status.actor_id != new.target.id
                        || !guildhall_storage::timelines::may_see(c, &status, Some(reporter.id))?
                    {
                        return Err(refused());
                    }
                    objects.push(status.ap_id);
                }
                let report = guildhall_storage::reports::add(
                    c,
                    None,
                    reporter.id,
                    new.target.id,
                    &new.status_ids,
                    &new.comment,
                )?;
                if new.forward && !new.target.is_local() {
                    send_flag(c, &urls, &instance_actor_id, &new.target, objects, &new.comment)?;
                }
                Ok(report)
            })
        })
        .await
        .map_err(|e| match e {
            StorageError::Conflict(why) => FedError::BadRequest(why),
            other => other.into(),
        })?;
    wake(data);
    Ok(stored)
}

/// Queues a `Flag` of `objects` (the account, then its posts) to `target`'s server, from our
/// instance actor: the reporter stays anonymous there.
fn send_flag(
    c: &mut DbConnection,
    urls: &crate::Urls,
    instance_actor_id: &str,
    target: &Actor,
    objects: Vec<String>,
    comment: &str,
) -> StorageResult<()> {
    let instance = actors::find_by_ap_id(c, instance_actor_id)?.ok_or(StorageError::NotFound)?;
    let mut doc = envelope(&new_activity_id(urls), "Flag", &instance, json!(objects), &[], &[]);
    doc["content"] = json!(comment);
    publish(c, &instance, &doc, &[target.delivery_inbox().to_owned()])?;
    Ok(())
}

/// Forwards a stored report about a remote account to that account's server (an admin's
/// decision, for a report the reporter did not forward). `Conflict` for a local account.
pub async fn forward_report(data: &FedData, report_id: i64) -> Result<(), FedError> {
    let (urls, instance_actor_id) = (data.urls.clone(), data.urls.instance_actor());
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let report = guildhall_storage::reports::get(c, report_id)?;
                let target = actors::get(c, report.target_id)?;
                if target.is_local() {
                    return Err(StorageError::Conflict(
                        "the account is ours: there is no server to tell".into(),
                    ));
                }
                let mut objects = vec![target.ap_id.clone()];
                // Only the account's own posts that its server shows anyone.
                for id in report.status_ids() {
                    match statuses::find(c, id)? {
                        Some(s)
                            if s.actor_id == target.id
                                && (s.is(Visibility::Public) || s.is(Visibility::Unlisted)) =>
                        {
                            objects.push(s.ap_id);
                        }
                        _ => {}
                    }
                }
                send_flag(c, &urls, &instance_actor_id, &target, objects, &report.comment)
            })
        })
        .await?;
    wake(data);
    Ok(())
}

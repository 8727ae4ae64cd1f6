//! Mastodon API entities, rendered from storage rows.

use guildhall_core::model::ActorKind;
use guildhall_core::text::strip_html;
use guildhall_storage::actors::Actor;
use guildhall_storage::statuses::Status;
use guildhall_storage::{DbConnection, StorageResult, favourites, follows, status_parts, statuses};
use serde::Serialize;
use serde_json::{Value, json};

/// ISO 8601 with milliseconds, as Mastodon writes timestamps.
pub fn time(t: chrono::NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// What rendering needs to know about the instance.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `https://domain` (or http in insecure mode).
    pub base: String,
}

/// An `Account`.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    id: String,
    username: String,
    acct: String,
    display_name: String,
    locked: bool,
    bot: bool,
    discoverable: bool,
    group: bool,
    created_at: String,
    note: String,
    url: String,
    uri: String,
    avatar: String,
    avatar_static: String,
    header: String,
    header_static: String,
    followers_count: i64,
    following_count: i64,
    statuses_count: i64,
    last_status_at: Option<String>,
    emojis: Vec<Value>,
    fields: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Value>,
}

/// Renders an account; `with_source` adds the `source` block of `verify_credentials`.
pub fn account(c: &mut DbConnection, ctx: &Ctx, actor: &Actor, with_source: bool) -> StorageResult<Account> {
    // A members-only group's member count is for its members (the group API shows it to them).
    let members_only = guildhall_storage::groups::get(c, actor.id)?
        .is_some_and(|g| g.visibility == guildhall_core::model::GroupVisibility::Members.as_str());
    let followers = if members_only {
        0
    } else {
        follows::followers(c, actor.id, guildhall_core::model::FollowState::Accepted)?.len() as i64
    };
    let following = follows::following(c, actor.id)?.len() as i64;
    let statuses_count = statuses::count_public_by_actor(c, actor.id)?;
    let acct = match &actor.domain {
        Some(domain) => format!("{}@{domain}", actor.username),
        None => actor.username.clone(),
    };
    let missing = format!("{}/avatars/original/missing.png", ctx.base);
    let avatar = actor.avatar_url.clone().unwrap_or_else(|| missing.clone());
    let header =
        actor.header_url.clone().unwrap_or_else(|| format!("{}/headers/original/missing.png", ctx.base));
    let fields: Vec<Value> = actor
        .fields()
        .iter()
        .map(|f| json!({"name": f.name, "value": f.value, "verified_at": null}))
        .collect();
    let source = with_source.then(|| {
        json!({
            "note": strip_html(&actor.summary),
            "fields": actor.fields().iter().map(|f| json!({"name": f.name, "value": strip_html(&f.value)})).collect::<Vec<_>>(),
            "privacy": "public", "sensitive": false, "language": "en", "follow_requests_count": 0,
        })
    });
    Ok(Account {
        id: actor.id.to_string(),
        username: actor.username.clone(),
        acct,
        display_name: actor.display_name.clone(),
        locked: actor.manually_approves_followers,
        bot: actor.bot,
        discoverable: actor.discoverable,
        group: actor.kind == ActorKind::Group.as_str(),
        created_at: time(actor.published_at.unwrap_or(actor.created_at)),
        note: actor.summary.clone(),
        url: actor.url.clone().unwrap_or_else(|| actor.ap_id.clone()),
        uri: actor.ap_id.clone(),
        avatar_static: avatar.clone(),
        avatar,
        header_static: header.clone(),
        header,
        followers_count: followers,
        following_count: following,
        statuses_count,
        last_status_at: None,
        emojis: Vec::new(),
        fields,
        source,
    })
}

/// Renders a status (and, for a boost, the boosted status inside it) for `viewer`.
pub fn status(c: &mut DbConnection, ctx: &Ctx, status: &Status, viewer: Option<i64>) -> StorageResult<Value> {
    let author = guildhall_storage::actors::get(c, status.actor_id)?;
    let reblog = match status.reblog_of_id {
        Some(id) => {
            let original = statuses::get(c, id)?;
            Some(self::status(c, ctx, &original, viewer)?)
        }
        None => None,
    };
    let mentions: Vec<Value> = status_parts::mentions(c, status.id)?
        .into_iter()
        .map(|id| guildhall_storage::actors::get(c, id))
        .collect::<StorageResult<Vec<_>>>()?
        .into_iter()
        .map(|a| {
            let acct = a.domain.as_ref().map_or(a.username.clone(), |d| format!("{}@{d}", a.username));
            json!({"id": a.id.to_string(), "username": a.username, "acct": acct, "url": a.url.unwrap_or(a.ap_id)})
        })
        .collect();
    let tags: Vec<Value> = status_parts::tags(c, status.id)?
        .into_iter()
        .map(|t| json!({"name": t, "url": format!("{}/tags/{t}", ctx.base)}))
        .collect();
    let media: Vec<Value> = status_parts::attachments(c, status.id)?
        .into_iter()
        .map(|m| {
            let kind = match m.media_type.as_deref().unwrap_or("") {
                t if t.starts_with("image/gif") => "gifv",
                t if t.starts_with("image/") => "image",
                t if t.starts_with("video/") => "video",
                t if t.starts_with("audio/") => "audio",
                _ => "unknown",
            };
            json!({"id": m.id.to_string(), "type": kind, "url": m.remote_url, "preview_url": m.remote_url,
                   "remote_url": m.remote_url, "description": m.description, "blurhash": m.blurhash, "meta": null})
        })
        .collect();
    let (favourited, reblogged, bookmarked) = match viewer {
        Some(v) => (
            favourites::find(c, v, status.id)?.is_some(),
            statuses::boosted_by(c, status.id, v)?,
            guildhall_storage::bookmarks::exists(c, v, status.id)?,
        ),
        None => (false, false, false),
    };
    let (replies, reblogs) = statuses::reply_and_boost_counts(c, status.id)?;
    let content = match &status.title {
        Some(title) if !title.is_empty() => {
            format!("<p><strong>{}</strong></p>{}", guildhall_core::text::escape(title), status.content)
        }
        _ => status.content.clone(),
    };
    Ok(json!({
        "id": status.id.to_string(),
        "uri": status.ap_id,
        "url": status.url.clone().or_else(|| (status.reblog_of_id.is_none()).then(|| status.ap_id.clone())),
        "created_at": time(status.published_at),
        "edited_at": status.edited_at.map(time),
        "account": account(c, ctx, &author, false)?,
        "content": if reblog.is_some() { String::new() } else { content },
        "visibility": status.visibility,
        "sensitive": status.sensitive,
        "spoiler_text": status.spoiler_text,
        "media_attachments": media,
        "application": null,
        "mentions": mentions,
        "tags": tags,
        "emojis": [],
        "reblogs_count": reblogs,
        "favourites_count": favourites::count(c, status.id)?,
        "replies_count": replies,
        "in_reply_to_id": status.in_reply_to_id.map(|i| i.to_string()),
        "in_reply_to_account_id": status.in_reply_to_actor_id.map(|i| i.to_string()),
        "reblog": reblog,
        "poll": null,
        "card": null,
        "language": status.language,
        "text": null,
        "favourited": favourited,
        "reblogged": reblogged,
        "muted": false,
        "bookmarked": bookmarked,
        "pinned": false,
        "filtered": [],
    }))
}

/// A `Relationship` between `viewer` and `target`.
pub fn relationship(c: &mut DbConnection, viewer: i64, target: i64) -> StorageResult<Value> {
    let following = follows::find(c, viewer, target)?;
    let followed_by = follows::find(c, target, viewer)?;
    let accepted = |f: &Option<follows::Follow>| f.as_ref().is_some_and(|f| f.state == "accepted");
    let pending = |f: &Option<follows::Follow>| f.as_ref().is_some_and(|f| f.state == "pending");
    Ok(json!({
        "id": target.to_string(),
        "following": accepted(&following),
        "showing_reblogs": accepted(&following),
        "notifying": false,
        "languages": null,
        "followed_by": accepted(&followed_by),
        "blocking": guildhall_storage::blocks::exists(c, viewer, target)?,
        "blocked_by": guildhall_storage::blocks::exists(c, target, viewer)?,
        "muting": false,
        "muting_notifications": false,
        "requested": pending(&following),
        "requested_by": pending(&followed_by),
        "domain_blocking": false,
        "endorsed": false,
        "note": "",
    }))
}

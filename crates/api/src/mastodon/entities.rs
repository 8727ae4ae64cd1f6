//! Mastodon API entities, rendered from storage rows.

use guildhall_core::model::{ActorKind, FollowState};
use guildhall_core::text::strip_html;
use guildhall_federation::urls::media_url;
use guildhall_storage::actors::Actor;
use guildhall_storage::statuses::Status;
use guildhall_storage::{DbConnection, StorageResult, favourites, follows, status_parts, statuses};
use serde::Serialize;
use serde_json::{Value, json};

/// ISO 8601 with milliseconds, as Mastodon writes timestamps.
pub fn time(t: chrono::NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// What rendering needs to know about the instance, and the accounts one response already
/// rendered (a timeline page names the same few authors again and again; their counts are
/// the costly part).
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `https://domain` (or http in insecure mode).
    pub base: String,
    /// Accounts rendered for this response, by actor id.
    pub accounts: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<i64, Account>>>,
    /// The parts of the page being rendered, loaded at once ([`Ctx::preload`]).
    pub page: std::sync::Arc<std::sync::OnceLock<guildhall_storage::page_parts::PageParts>>,
}

impl Ctx {
    /// A context for one response.
    pub fn new(base: String) -> Ctx {
        Ctx { base, accounts: Default::default(), page: Default::default() }
    }

    /// Loads what rendering `page` for `viewer` needs, with one query per kind; statuses
    /// rendered afterwards read from it (others still load their own parts).
    pub fn preload(&self, c: &mut DbConnection, page: &[Status], viewer: Option<i64>) -> StorageResult<()> {
        let parts = guildhall_storage::page_parts::load(c, page, viewer)?;
        let _ = self.page.set(parts);
        Ok(())
    }
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
    if !with_source
        && let Some(cached) = ctx.accounts.lock().unwrap_or_else(|e| e.into_inner()).get(&actor.id)
        && cached.updated_for(actor)
    {
        return Ok(cached.clone());
    }
    let rendered = render_account(c, ctx, actor, with_source)?;
    if !with_source {
        ctx.accounts.lock().unwrap_or_else(|e| e.into_inner()).insert(actor.id, rendered.clone());
    }
    Ok(rendered)
}

impl Account {
    /// Whether this rendering is of `actor` as it is now (an update in the same response
    /// renders afresh).
    fn updated_for(&self, actor: &Actor) -> bool {
        self.display_name == actor.display_name
            && self.note == actor.summary
            && self.locked == actor.manually_approves_followers
    }
}

fn render_account(
    c: &mut DbConnection,
    ctx: &Ctx,
    actor: &Actor,
    with_source: bool,
) -> StorageResult<Account> {
    // A members-only group's member count is for its members (the group API shows it to them).
    let members_only = actor.members_only;
    // A page of statuses loaded its authors' counts together.
    let counts = match ctx.page.get().and_then(|p| p.counts.get(&actor.id)) {
        Some(counts) => *counts,
        None => guildhall_storage::page_parts::AccountCounts {
            followers: if members_only { 0 } else { follows::count_followers(c, actor.id)? },
            following: follows::count_following(c, actor.id)?,
            statuses: statuses::count_public_by_actor(c, actor.id)?,
        },
    };
    let followers = if members_only { 0 } else { counts.followers };
    let (following, statuses_count) = (counts.following, counts.statuses);
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
    let source = match with_source && actor.is_local() {
        true => {
            let defaults = guildhall_storage::accounts::posting_defaults(c, actor.id)?;
            let requests = follows::count_pending(c, actor.id)?;
            Some(json!({
                "note": strip_html(&actor.summary),
                "fields": actor.fields().iter().map(|f| json!({"name": f.name, "value": strip_html(&f.value)})).collect::<Vec<_>>(),
                "privacy": defaults.visibility.as_str(), "sensitive": defaults.sensitive,
                "language": defaults.language, "follow_requests_count": requests,
                "hide_collections": false, "discoverable": actor.discoverable, "indexable": false,
            }))
        }
        false => None,
    };
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

/// `Account`s of these actors, in order, leaving out deleted ones.
pub fn accounts(c: &mut DbConnection, ctx: &Ctx, list: &[Actor]) -> StorageResult<Vec<Value>> {
    list.iter().filter(|a| a.deleted_at.is_none()).map(|a| Ok(json!(account(c, ctx, a, false)?))).collect()
}

/// `Account`s of the actors with these ids, in order, leaving out deleted ones.
pub fn accounts_by_id(c: &mut DbConnection, ctx: &Ctx, ids: &[i64]) -> StorageResult<Vec<Value>> {
    let list =
        ids.iter().map(|id| guildhall_storage::actors::get(c, *id)).collect::<StorageResult<Vec<_>>>()?;
    accounts(c, ctx, &list)
}

/// Renders a status (and, for a boost, the boosted status inside it) for `viewer`.
pub fn status(c: &mut DbConnection, ctx: &Ctx, status: &Status, viewer: Option<i64>) -> StorageResult<Value> {
    let page = ctx.page.get().filter(|p| p.viewer == viewer && p.covered.contains(&status.id));
    let author = match page.and_then(|p| p.actors.get(&status.actor_id)) {
        Some(a) => a.clone(),
        None => guildhall_storage::actors::get(c, status.actor_id)?,
    };
    let reblog = match status.reblog_of_id {
        Some(id) => {
            let original = match page.and_then(|p| p.originals.get(&id)) {
                Some(s) => s.clone(),
                None => statuses::get(c, id)?,
            };
            Some(self::status(c, ctx, &original, viewer)?)
        }
        None => None,
    };
    let mentioned: Vec<Actor> = match page {
        Some(p) => p
            .mentions
            .get(&status.id)
            .into_iter()
            .flatten()
            .filter_map(|id| p.actors.get(id).cloned())
            .collect(),
        None => status_parts::mentions(c, status.id)?
            .into_iter()
            .map(|id| guildhall_storage::actors::get(c, id))
            .collect::<StorageResult<Vec<_>>>()?,
    };
    let mentions: Vec<Value> = mentioned
        .into_iter()
        .map(|a| {
            let acct = a.domain.as_ref().map_or(a.username.clone(), |d| format!("{}@{d}", a.username));
            json!({"id": a.id.to_string(), "username": a.username, "acct": acct, "url": a.url.unwrap_or(a.ap_id)})
        })
        .collect();
    let tag_names = match page {
        Some(p) => p.tags.get(&status.id).cloned().unwrap_or_default(),
        None => status_parts::tags(c, status.id)?,
    };
    let tags: Vec<Value> =
        tag_names.into_iter().map(|t| json!({"name": t, "url": format!("{}/tags/{t}", ctx.base)})).collect();
    let media: Vec<Value> = match page {
        Some(p) => p.attachments.get(&status.id).into_iter().flatten().map(|m| attachment(ctx, m)).collect(),
        None => status_parts::attachments(c, status.id)?.iter().map(|m| attachment(ctx, m)).collect(),
    };
    let (favourited, reblogged, bookmarked, pinned) = match (viewer, page) {
        (Some(_), Some(p)) => (
            p.favourited.contains(&status.id),
            p.boosted.contains(&status.id),
            p.bookmarked.contains(&status.id),
            p.pinned.contains(&status.id),
        ),
        (Some(v), None) => (
            favourites::find(c, v, status.id)?.is_some(),
            statuses::boosted_by(c, status.id, v)?,
            guildhall_storage::bookmarks::exists(c, v, status.id)?,
            v == status.actor_id && guildhall_storage::pins::is_pinned(c, v, status.id)?,
        ),
        (None, _) => (false, false, false, false),
    };
    let (replies, reblogs, favourites_count) = match page {
        Some(p) => (
            p.replies.get(&status.id).copied().unwrap_or(0),
            p.boosts.get(&status.id).copied().unwrap_or(0),
            p.favourites.get(&status.id).copied().unwrap_or(0),
        ),
        None => {
            let (replies, reblogs) = statuses::reply_and_boost_counts(c, status.id)?;
            (replies, reblogs, favourites::count(c, status.id)?)
        }
    };
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
        "favourites_count": favourites_count,
        "replies_count": replies,
        "in_reply_to_id": status.in_reply_to_id.map(|i| i.to_string()),
        "in_reply_to_account_id": status.in_reply_to_actor_id.map(|i| i.to_string()),
        "reblog": reblog,
        "poll": match page.is_none_or(|p| p.polled.contains(&status.id)) {
            true => match guildhall_storage::polls::find(c, status.id)? {
                Some(p) => poll(c, &p, viewer)?,
                None => Value::Null,
            },
            false => Value::Null,
        },
        "card": null,
        "language": status.language,
        "text": null,
        "favourited": favourited,
        "reblogged": reblogged,
        "muted": match viewer {
            Some(v) if page.is_none_or(|p| p.mutes_conversations) => {
                guildhall_storage::conversation_mutes::is_muted(c, v, status)?
            }
            _ => false,
        },
        "bookmarked": bookmarked,
        "pinned": pinned,
        "filtered": [],
    }))
}

/// A `Poll` (its id is its status's), with the viewer's votes.
pub fn poll(
    c: &mut DbConnection,
    poll: &guildhall_storage::polls::Poll,
    viewer: Option<i64>,
) -> StorageResult<Value> {
    let mut out = json!({
        "id": poll.row.status_id.to_string(),
        "expires_at": poll.row.expires_at.map(time),
        "expired": poll.expired_at(guildhall_storage::now()),
        "multiple": poll.row.multiple,
        "votes_count": poll.votes_count(),
        "voters_count": poll.row.voters_count,
        "options": poll.options.iter().map(|o| json!({"title": o.title, "votes_count": o.votes_count})).collect::<Vec<_>>(),
        "emojis": [],
    });
    if let Some(v) = viewer {
        let own = guildhall_storage::polls::own_votes(c, poll.row.status_id, v)?;
        out["voted"] = json!(!own.is_empty());
        out["own_votes"] = json!(own);
    }
    Ok(out)
}

/// A `MediaAttachment`. Local files are served from here; remote ones are linked where they
/// are (an image/gif stays an `image`: we do not convert GIFs to video as Mastodon does).
pub fn attachment(ctx: &Ctx, m: &status_parts::Attachment) -> Value {
    let local = |file: &Option<String>| file.as_deref().map(|f| media_url(&ctx.base, f));
    let url = local(&m.file_path).or_else(|| m.remote_url.clone());
    let kind = match m.media_type.as_deref().unwrap_or("") {
        t if t.starts_with("image/") => "image",
        t if t.starts_with("video/") => "video",
        t if t.starts_with("audio/") => "audio",
        _ => "unknown",
    };
    let mut meta = serde_json::Map::new();
    for (key, width, height) in
        [("original", m.width, m.height), ("small", m.preview_width, m.preview_height)]
    {
        if let (Some(w), Some(h)) = (width, height)
            && w > 0
            && h > 0
        {
            let size = json!({"width": w, "height": h, "size": format!("{w}x{h}"), "aspect": f64::from(w) / f64::from(h)});
            meta.insert(key.into(), size);
        }
    }
    if let Some((x, y)) = m.focus.as_deref().and_then(focus) {
        meta.insert("focus".into(), json!({"x": x, "y": y}));
    }
    json!({
        "id": m.id.to_string(),
        "type": kind,
        "url": url,
        "preview_url": local(&m.preview_path).or_else(|| url.clone()),
        "remote_url": m.remote_url,
        "preview_remote_url": null,
        "text_url": null,
        "meta": meta,
        "description": m.description,
        "blurhash": m.blurhash,
    })
}

/// A focal point `x,y`, each in -1..1 (Mastodon's `focus` parameter).
pub fn focus(text: &str) -> Option<(f64, f64)> {
    let (x, y) = text.split_once(',')?;
    let (x, y): (f64, f64) = (x.trim().parse().ok()?, y.trim().parse().ok()?);
    let valid = |v: f64| (-1.0..=1.0).contains(&v);
    (valid(x) && valid(y)).then_some((x, y))
}

/// A `Relationship` between `viewer` and `target`.
pub fn relationship(c: &mut DbConnection, viewer: i64, target: i64) -> StorageResult<Value> {
    let following = follows::find(c, viewer, target)?;
    let followed_by = follows::find(c, target, viewer)?;
    let accepted = |f: &Option<follows::Follow>| f.as_ref().is_some_and(|f| f.is(FollowState::Accepted));
    let pending = |f: &Option<follows::Follow>| f.as_ref().is_some_and(|f| f.is(FollowState::Pending));
    let mute = guildhall_storage::mutes::find(c, viewer, target)?;
    let options = follows::options(c, viewer, target)?;
    Ok(json!({
        "id": target.to_string(),
        "following": accepted(&following),
        "showing_reblogs": accepted(&following) && options.show_reblogs,
        "notifying": accepted(&following) && options.notify,
        "languages": null,
        "followed_by": accepted(&followed_by),
        "blocking": guildhall_storage::blocks::exists(c, viewer, target)?,
        "blocked_by": guildhall_storage::blocks::exists(c, target, viewer)?,
        "muting": mute.is_some(),
        "muting_notifications": mute.as_ref().is_some_and(|m| m.notifications),
        "requested": pending(&following),
        "requested_by": pending(&followed_by),
        "domain_blocking": match guildhall_storage::actors::get(c, target)?.domain {
            Some(domain) => guildhall_storage::domain_blocks::is_blocked(c, viewer, &domain)?,
            None => false,
        },
        "endorsed": false,
        "note": guildhall_storage::account_notes::get(c, viewer, target)?,
    }))
}

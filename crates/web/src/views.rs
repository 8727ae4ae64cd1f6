//! What a page shows of a status or an account, read from storage for a stranger's eyes.

use guildhall_core::text::strip_html;
use guildhall_storage::actors::Actor;
use guildhall_storage::statuses::Status;
use guildhall_storage::{DbConnection, StorageResult, actors, polls};

/// An account as pages show it.
#[derive(Debug, Clone)]
pub struct AuthorView {
    /// Display name (or username).
    pub name: String,
    /// `@user@domain`.
    pub handle: String,
    /// Its page: ours, or its own server's (remote profiles link out).
    pub url: String,
    /// Avatar image.
    pub avatar: String,
}

/// A media attachment as pages show it.
#[derive(Debug, Clone)]
pub struct MediaView {
    /// The image.
    pub url: String,
    /// Its alt text (empty when none).
    pub alt: String,
}

/// A status as pages show it.
#[derive(Debug, Clone)]
pub struct PostView {
    /// Our id.
    pub id: i64,
    /// ActivityPub id.
    pub ap_id: String,
    /// Its page.
    pub url: String,
    /// Who wrote it.
    pub author: AuthorView,
    /// Sanitized HTML (made inert where it entered).
    pub content: String,
    /// Plain text of the first 200 characters (titles, previews).
    pub summary_text: String,
    /// Content warning.
    pub spoiler: String,
    /// `4 December 2026, 10:00 UTC`.
    pub published: String,
    /// RFC 3339.
    pub published_iso: String,
    /// RFC 2822 (feeds).
    pub published_rfc2822: String,
    /// Images.
    pub media: Vec<MediaView>,
    /// Poll options with their counts.
    pub poll: Option<Vec<(String, i64)>>,
    /// What the signed-in viewer can do to it (none for a stranger).
    pub actions: Option<PostActions>,
    /// Who boosted it into the feed it is shown in.
    pub boosted_by: Option<AuthorView>,
    /// It was edited after it was posted.
    pub edited: bool,
}

/// The buttons a signed-in viewer gets under a post.
#[derive(Debug, Clone)]
pub struct PostActions {
    /// The session's CSRF token, for the forms.
    pub csrf: String,
    /// The viewer liked it.
    pub liked: bool,
    /// The viewer boosted it.
    pub boosted: bool,
    /// It is the viewer's own: they may delete it.
    pub own: bool,
    /// It may be boosted (public or unlisted).
    pub boostable: bool,
    /// The local group it was posted in, when the viewer moderates it (`/@group`).
    pub moderated_group: Option<String>,
}

/// A time as pages write it: `4 December 2026, 10:00 UTC`.
pub fn when(t: guildhall_storage::Timestamp) -> String {
    t.and_utc().format("%-d %B %Y, %H:%M UTC").to_string()
}

/// Only http(s) links reach a page.
fn web_link(url: &str) -> Option<String> {
    (url.starts_with("https://") || url.starts_with("http://")).then(|| url.to_owned())
}

/// `@user@domain` of an account (`local_domain` for ours).
pub fn handle(actor: &Actor, local_domain: &str) -> String {
    format!("@{}@{}", actor.username, actor.domain.as_deref().unwrap_or(local_domain))
}

/// An account for a page.
pub fn author(actor: &Actor, base: &str, local_domain: &str) -> AuthorView {
    let page = match actor.is_local() {
        true => format!("{base}/@{}", actor.username),
        false => actor.url.as_deref().and_then(web_link).unwrap_or_else(|| actor.ap_id.clone()),
    };
    AuthorView {
        name: if actor.display_name.is_empty() { actor.username.clone() } else { actor.display_name.clone() },
        handle: handle(actor, local_domain),
        url: page,
        avatar: actor
            .avatar_url
            .as_deref()
            .and_then(web_link)
            .unwrap_or_else(|| format!("{base}/avatars/original/missing.png")),
    }
}

/// A status for a page (see [`posts`] for a list of them).
pub fn post(
    c: &mut DbConnection,
    status: &Status,
    base: &str,
    local_domain: &str,
) -> StorageResult<PostView> {
    let mut one = posts(c, std::slice::from_ref(status), base, local_domain, None)?;
    one.pop().ok_or(guildhall_storage::StorageError::NotFound)
}

/// Statuses for a page, in their order, with the signed-in viewer's buttons when `viewer`
/// (actor id, CSRF token) is given: a handful of queries for the whole list (authors,
/// attachments, the viewer's likes and boosts in one query each), whatever its length.
pub fn posts(
    c: &mut DbConnection,
    list: &[Status],
    base: &str,
    local_domain: &str,
    viewer: Option<(i64, &str)>,
) -> StorageResult<Vec<PostView>> {
    use std::collections::HashMap;
    let parts = guildhall_storage::page_parts::load(c, list, viewer.map(|v| v.0))?;
    let mut rejects: HashMap<String, bool> = HashMap::new();
    let mut moderates: HashMap<i64, Option<String>> = HashMap::new();
    let mut out = Vec::with_capacity(list.len());
    for status in list {
        let writer = match parts.actors.get(&status.actor_id) {
            Some(a) => a.clone(),
            None => actors::get(c, status.actor_id)?,
        };
        // Media from a domain the admins reject is not shown.
        let rejected = match writer.domain.as_deref() {
            Some(host) if !status.local => match rejects.get(host) {
                Some(r) => *r,
                None => {
                    let r = guildhall_storage::instance_blocks::rejects_media(c, host)?;
                    rejects.insert(host.to_owned(), r);
                    r
                }
            },
            _ => false,
        };
        let media = match rejected {
            true => Vec::new(),
            false => {
                parts.attachments.get(&status.id).map(|list| media_views(list, base)).unwrap_or_default()
            }
        };
        let poll = match parts.polled.contains(&status.id) {
            true => polls::find(c, status.id)?
                .map(|p| p.options.into_iter().map(|o| (o.title, o.votes_count)).collect()),
            false => None,
        };
        let mut view = post_view(status, &writer, base, local_domain, media, poll);
        if let Some((me, csrf)) = viewer {
            let moderated_group = match status.group_id {
                Some(g) => match moderates.get(&g) {
                    Some(m) => m.clone(),
                    None => {
                        let m = moderated_group_path(c, g, me)?;
                        moderates.insert(g, m.clone());
                        m
                    }
                },
                None => None,
            };
            view.actions = Some(PostActions {
                csrf: csrf.to_owned(),
                liked: parts.favourited.contains(&status.id),
                boosted: parts.boosted.contains(&status.id),
                own: status.actor_id == me,
                boostable: status.is(guildhall_core::model::Visibility::Public)
                    || status.is(guildhall_core::model::Visibility::Unlisted),
                moderated_group,
            });
        }
        out.push(view);
    }
    Ok(out)
}

/// `/@group` when `viewer` moderates local group `group`.
fn moderated_group_path(c: &mut DbConnection, group: i64, viewer: i64) -> StorageResult<Option<String>> {
    if !guildhall_storage::groups::is_moderator(c, group, viewer)? {
        return Ok(None);
    }
    let group = actors::get(c, group)?;
    Ok(group.is_local().then(|| format!("/@{}", group.username)))
}

fn media_views(list: &[guildhall_storage::status_parts::Attachment], base: &str) -> Vec<MediaView> {
    list.iter()
        .filter_map(|m| {
            let url = match (&m.file_path, &m.remote_url) {
                (Some(file), _) => format!("{base}/media/{file}"),
                (None, Some(remote)) => web_link(remote)?,
                (None, None) => return None,
            };
            Some(MediaView { url, alt: m.description.clone().unwrap_or_default() })
        })
        .collect()
}

fn post_view(
    status: &Status,
    writer: &Actor,
    base: &str,
    local_domain: &str,
    media: Vec<MediaView>,
    poll: Option<Vec<(String, i64)>>,
) -> PostView {
    let page = match status.local {
        true => format!("{base}/@{}/{}", writer.username, status.id),
        false => status.url.as_deref().and_then(web_link).unwrap_or_else(|| status.ap_id.clone()),
    };
    let text = strip_html(&status.content);
    let published = status.published_at.and_utc();
    PostView {
        id: status.id,
        ap_id: status.ap_id.clone(),
        url: page,
        author: author(writer, base, local_domain),
        content: status.content.clone(),
        summary_text: text.chars().take(200).collect(),
        spoiler: status.spoiler_text.clone(),
        published: when(status.published_at),
        published_iso: published.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        published_rfc2822: published.to_rfc2822(),
        media,
        poll,
        actions: None,
        boosted_by: None,
        edited: status.edited_at.is_some(),
    }
}

/// A group in a list.
#[derive(Debug, Clone)]
pub struct GroupCard {
    /// Its page.
    pub url: String,
    /// Display name.
    pub name: String,
    /// `@group@domain`.
    pub handle: String,
    /// How one joins, in words.
    pub joining: &'static str,
    /// Plain text of its description's first 200 characters.
    pub summary_text: String,
}

/// How one joins a group, in words.
pub fn joining(membership: guildhall_core::model::Membership) -> &'static str {
    use guildhall_core::model::Membership as M;
    match membership {
        M::Open => "Anyone can join",
        M::Approval => "Joining needs a moderator's approval",
        M::Invite => "By invitation",
    }
}

/// A group for a list.
pub fn group_card(
    actor: &Actor,
    group: &guildhall_storage::groups::Group,
    base: &str,
    local_domain: &str,
) -> StorageResult<GroupCard> {
    let shown = author(actor, base, local_domain);
    Ok(GroupCard {
        url: shown.url,
        name: shown.name,
        handle: shown.handle,
        joining: joining(group.membership()?),
        summary_text: strip_html(&actor.summary).chars().take(200).collect(),
    })
}

/// The choices of who may see a post, as the compose form offers them.
pub const VISIBILITY_CHOICES: &[(&str, &str)] = &[
    ("public", "Everyone (public)"),
    ("unlisted", "Everyone, but kept out of public timelines"),
    ("private", "Followers and group members only"),
    ("direct", "Only the people mentioned"),
];

/// A compose form (a new post, or a reply).
#[derive(Debug, Clone)]
pub struct ComposeView {
    /// The session's CSRF token.
    pub csrf: String,
    /// The post replied to.
    pub in_reply_to: Option<i64>,
    /// What the text starts with.
    pub text: String,
    /// The visibility selected to begin with.
    pub visibility: String,
    /// Every choice of visibility.
    pub choices: &'static [(&'static str, &'static str)],
}

/// A report as moderators and admins see it.
#[derive(Debug, Clone)]
pub struct ReportView {
    /// Its id.
    pub id: i64,
    /// Who reported (`@user@domain`; for a remote report, the server's actor).
    pub reporter: String,
    /// The reported account.
    pub target: AuthorView,
    /// Why.
    pub comment: String,
    /// The reported posts that still exist.
    pub posts: Vec<PostView>,
    /// When.
    pub when: String,
    /// The reported account is on another server.
    pub remote: bool,
    /// The reported account's actor id.
    pub target_id: i64,
    /// The reported account is limited.
    pub limited: bool,
}

/// Reports for a page; with `viewer` (actor id, CSRF token), their posts carry the viewer's
/// buttons (a group moderator's removal control among them). Who reported is shown only with
/// `show_reporter` (to admins; a group's moderators may be the ones reported on next).
pub fn reports(
    c: &mut DbConnection,
    list: &[guildhall_storage::reports::Report],
    base: &str,
    local_domain: &str,
    viewer: Option<(i64, &str)>,
    show_reporter: bool,
) -> StorageResult<Vec<ReportView>> {
    let mut out = Vec::with_capacity(list.len());
    for r in list {
        let mut shown = Vec::new();
        for id in r.status_ids().into_iter().take(20) {
            if let Some(s) = guildhall_storage::statuses::find(c, id)?.filter(|s| s.deleted_at.is_none()) {
                shown.push(s);
            }
        }
        let posts = posts(c, &shown, base, local_domain, viewer)?;
        let target = actors::get(c, r.target_id)?;
        out.push(ReportView {
            id: r.id,
            reporter: match show_reporter {
                true => handle(&actors::get(c, r.reporter_id)?, local_domain),
                false => "Someone".to_owned(),
            },
            remote: !target.is_local(),
            target_id: target.id,
            limited: target.limited,
            target: author(&target, base, local_domain),
            comment: r.comment.clone(),
            posts,
            when: when(r.created_at),
        });
    }
    Ok(out)
}

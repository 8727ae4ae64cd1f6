//! The page handlers: read what a stranger may see, render a template, or hand an
//! ActivityPub client the JSON it asked for.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use guildhall_core::text::strip_html;
use guildhall_federation::FedData;
use guildhall_federation::routes::wants_activity_json;
use guildhall_storage::statuses::Status;
use guildhall_storage::timelines::{self, Page};
use guildhall_storage::{actors, statuses};

use guildhall_core::model::{ActorKind, FollowState};
use guildhall_storage::actors::Actor;
use guildhall_storage::{follows, groups};

use crate::error::PageError;
use crate::session::{MaybeViewer, Nav};
use crate::views::{self, AuthorView, GroupCard, PostView};

/// Posts on a profile or tag page.
const PAGE_SIZE: i64 = 20;
/// Ancestors shown above a post, and replies below it, at most.
const MAX_ANCESTORS: usize = 40;
const MAX_REPLIES: usize = 200;

/// The content type of every page.
pub const HTML: &str = "text/html; charset=utf-8";

/// A page's response. Profile and post URLs answer HTML or ActivityPub JSON by `Accept`, and
/// pages differ by who is signed in: caches must keep them apart, and never share one.
pub fn html(page: &impl Template) -> Result<HttpResponse, PageError> {
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HTML))
        .insert_header(("Vary", "Accept, Cookie"))
        .insert_header(("Cache-Control", "private, no-cache"))
        .body(page.render()?))
}

/// The base URL and domain of this instance.
pub fn site(data: &FedData) -> (String, String) {
    (data.urls.base().to_owned(), data.config.domain.to_string())
}

/// `GET /static/web.css`.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../static/web.css"))
}

/// A profile as its page shows it.
#[derive(Debug)]
struct ProfileView {
    name: String,
    handle: String,
    url: String,
    ap_id: String,
    avatar: String,
    /// Sanitized HTML.
    summary: String,
    summary_text: String,
    /// Name (plain) and value (sanitized HTML).
    fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    site: String,
    nav: Nav,
    profile: ProfileView,
    posts: Vec<PostView>,
    follow: Option<FollowButton>,
}

/// Follow or unfollow (join or leave, for a group), for a signed-in viewer.
#[derive(Debug)]
struct FollowButton {
    csrf: String,
    /// Following, or a request waiting.
    following: bool,
    /// The local username the form posts to (`/@name/follow`).
    handle: String,
}

/// `GET /@{name}`: a local account's page (its public posts), or its actor document.
pub async fn profile(
    request: HttpRequest,
    name: web::Path<String>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let name = name.into_inner();
    let actor = data.db.run(move |c| actors::find_local(c, &name)).await?.ok_or(PageError::NotFound)?;
    if wants_activity_json(&request) || actor.deleted_at.is_some() {
        return Ok(guildhall_federation::routes::actor_response(&request, actor).await?);
    }
    if actor.is(ActorKind::Group) {
        return group_page(&request, actor, &viewer, &data).await;
    }
    let (base, domain) = site(&data);
    let (base2, domain2, id) = (base.clone(), domain.clone(), actor.id);
    let (me, csrf) = (viewer.id(), viewer.0.as_ref().map(|v| v.csrf.clone()));
    let posts = data
        .db
        .run(move |c| {
            let list = statuses::public_by_actor(c, id, None, PAGE_SIZE)?;
            views::posts(c, &list, &base2, &domain2, me.zip(csrf.as_deref()))
        })
        .await?;
    let author = views::author(&actor, &base, &domain);
    let profile = ProfileView {
        name: author.name,
        handle: author.handle,
        url: author.url,
        ap_id: actor.ap_id.clone(),
        avatar: author.avatar,
        summary_text: strip_html(&actor.summary).chars().take(200).collect(),
        summary: actor.summary.clone(),
        fields: actor.fields().into_iter().map(|f| (f.name, f.value)).collect(),
    };
    let follow = match &viewer.0 {
        Some(v) if v.actor().id != actor.id => {
            let (me, them) = (v.actor().id, actor.id);
            let state = data.db.run(move |c| follows::find(c, me, them)).await?;
            Some(FollowButton {
                csrf: v.csrf.clone(),
                following: state.is_some(),
                handle: actor.username.clone(),
            })
        }
        _ => None,
    };
    html(&ProfilePage { site: domain, nav: viewer.nav(), profile, posts, follow })
}

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadPage {
    site: String,
    nav: Nav,
    post: PostView,
    ancestors: Vec<PostView>,
    replies: Vec<PostView>,
    reply: Option<views::ComposeView>,
}

/// The thread around `status` that `viewer` (or a stranger) may see: ancestors (oldest first) and replies
/// (depth first, in id order).
fn thread(
    c: &mut guildhall_storage::DbConnection,
    status: &Status,
    viewer: Option<i64>,
) -> guildhall_storage::StorageResult<(Vec<Status>, Vec<Status>)> {
    let mut ancestors = Vec::new();
    let mut parent = status.in_reply_to_id;
    // Steps are counted, hidden ones too, and each post is visited once: another server can
    // make a reply chain loop through posts a viewer may not see.
    let mut visited = std::collections::HashSet::from([status.id]);
    while let Some(id) = parent.filter(|id| {
        ancestors.len() < MAX_ANCESTORS && visited.len() <= 4 * MAX_ANCESTORS && visited.insert(*id)
    }) {
        let p = statuses::get(c, id)?;
        parent = p.in_reply_to_id;
        if timelines::may_see(c, &p, viewer)? {
            ancestors.push(p);
        }
    }
    ancestors.reverse();
    // One query per level of the thread, each reading at most MAX_REPLIES posts; a post is
    // visited once, however another server links its replies.
    let mut replies: Vec<Status> = Vec::new();
    let mut frontier = vec![status.id];
    // Hidden replies count against a budget too: another server cannot make one page view
    // check tens of thousands of posts.
    let mut budget = 4 * MAX_REPLIES;
    while !frontier.is_empty() && replies.len() < MAX_REPLIES && budget > 0 {
        let mut next = Vec::new();
        let level = statuses::first_replies_of(c, &frontier, budget.min(MAX_REPLIES) as i64)?;
        budget = budget.saturating_sub(level.len().max(1));
        let fresh: Vec<Status> = level.into_iter().filter(|r| visited.insert(r.id)).collect();
        for r in timelines::visible(c, fresh, viewer)? {
            if replies.len() < MAX_REPLIES {
                next.push(r.id);
                replies.push(r);
            }
        }
        frontier = next;
    }
    replies.sort_by_key(|r| r.id);
    Ok((ancestors, replies))
}

/// `GET /@{name}/{id}`: a post with its thread, or its ActivityPub document.
pub async fn thread_page(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (name, id) = path.into_inner();
    let id: i64 = id.parse().map_err(|_| PageError::NotFound)?;
    let status = data.db.run(move |c| statuses::get(c, id)).await?;
    let author_id = status.actor_id;
    let author = data.db.run(move |c| actors::get(c, author_id)).await?;
    if !author.is_local() || !author.username.eq_ignore_ascii_case(&name) || status.reblog_of_id.is_some() {
        return Err(PageError::NotFound);
    }
    if wants_activity_json(&request) {
        return Ok(guildhall_federation::routes::status_document(&request, status, &data).await?);
    }
    render_thread(status, viewer, &data).await
}

/// `GET /statuses/{id}`: any post the viewer may see, with its thread (a remote post too, so a
/// member can reply to it here). A local post goes to its own page; a remote one, for a
/// stranger, to its server's.
pub async fn any_status(
    id: web::Path<String>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let id: i64 = id.parse().map_err(|_| PageError::NotFound)?;
    let status = data.db.run(move |c| statuses::get(c, id)).await?;
    let shown = status.reblog_of_id.unwrap_or(status.id);
    let (status, author) = data
        .db
        .run(move |c| {
            let s = statuses::get(c, shown)?;
            let a = actors::get(c, s.actor_id)?;
            Ok::<_, guildhall_storage::StorageError>((s, a))
        })
        .await?;
    // Nothing, not even who wrote it or where, is told about a post the viewer may not see.
    let (me, check) = (viewer.id(), status.clone());
    if !data.db.run(move |c| timelines::may_see(c, &check, me)).await? {
        return Err(PageError::NotFound);
    }
    if author.is_local() {
        return Ok(crate::forms::see_other(&format!("/@{}/{}", author.username, status.id)));
    }
    if viewer.0.is_none() {
        // Out to its own server's page, never to another host the remote `url` might name.
        let same_host = |u: &str| {
            guildhall_core::text::is_web_link(u)
                && url_host(u).is_some_and(|h| Some(h) == url_host(&status.ap_id))
        };
        let out = status.url.as_deref().filter(|u| same_host(u)).unwrap_or(&status.ap_id);
        return Ok(HttpResponse::Found().insert_header(("Location", out.to_owned())).finish());
    }
    render_thread(status, viewer, &data).await
}

/// The host of an absolute URL.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())
}

/// The thread page of `status` as `viewer` may see it.
async fn render_thread(
    status: Status,
    viewer: MaybeViewer,
    data: &FedData,
) -> Result<HttpResponse, PageError> {
    let (base, domain) = site(data);
    let (me, csrf) = (viewer.id(), viewer.0.as_ref().map(|v| v.csrf.clone()));
    let nav = viewer.nav();
    let page = data
        .db
        .run(move |c| {
            if status.deleted_at.is_some() || !timelines::may_see(c, &status, me)? {
                return Ok(None);
            }
            let (ancestors, replies) = thread(c, &status, me)?;
            let view = |c: &mut guildhall_storage::DbConnection, list: &[Status]| {
                views::posts(c, list, &base, &domain, me.zip(csrf.as_deref()))
            };
            let post = view(c, std::slice::from_ref(&status))?.remove(0);
            let mention = match Some(status.actor_id) == me {
                true => String::new(),
                false => format!("{} ", post.author.handle),
            };
            let reply = csrf.clone().map(|csrf| views::ComposeView {
                csrf,
                in_reply_to: Some(status.id),
                text: mention,
                visibility: status.visibility.clone(),
                choices: views::VISIBILITY_CHOICES,
            });
            Ok(Some(ThreadPage {
                ancestors: view(c, &ancestors)?,
                replies: view(c, &replies)?,
                post,
                site: domain.clone(),
                nav,
                reply,
            }))
        })
        .await?
        .ok_or(PageError::NotFound)?;
    html(&page)
}

#[derive(Template)]
#[template(path = "tag.html")]
struct TagPage {
    site: String,
    nav: Nav,
    tag: String,
    posts: Vec<PostView>,
    older: Option<String>,
}

/// `GET /tags/{tag}`: public posts with the hashtag, newest first (`?max_id=` pages).
pub async fn tag(
    tag: web::Path<String>,
    query: crate::forms::Query<std::collections::HashMap<String, String>>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let tag = tag.into_inner().to_lowercase();
    if !valid_tag(&tag) {
        return Err(PageError::NotFound);
    }
    let max_id = query.0.get("max_id").and_then(|m| m.parse::<i64>().ok());
    let (base, domain) = site(&data);
    let posts = tagged_posts(&data, tag.clone(), max_id, base.clone(), domain.clone()).await?;
    let older = (posts.len() as i64 == PAGE_SIZE)
        .then(|| posts.last().map(|p| format!("{base}/tags/{tag}?max_id={}", p.id)))
        .flatten();
    html(&TagPage { site: domain, nav: viewer.nav(), tag, posts, older })
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    site: String,
    nav: Nav,
    me: Option<MemberState>,
    /// The group's local username (forms post to `/@username/...`).
    username: String,
    /// Joining is open (no moderator's approval).
    joining_open: bool,
    /// Only those invited may join.
    invite_only: bool,
    group: ProfileView,
    joining: &'static str,
    members: Option<i64>,
    members_only: bool,
    /// Its threads are for members only, and this viewer is not one.
    hidden: bool,
    rules: Vec<String>,
    moderators: Vec<AuthorView>,
    posts: Vec<PostView>,
    feed: String,
    /// Its next events that the viewer may see.
    events: Vec<crate::events::EventCard>,
    /// Its discussion hours, when the viewer may see them.
    hours: crate::hours::GroupHours,
    /// Following by mail (a stranger) or one's mail from the group (a reader).
    mail: Option<crate::mail_pages::MailForm>,
}

/// The signed-in viewer's standing in a group.
#[derive(Debug)]
struct MemberState {
    csrf: String,
    member: bool,
    /// Asked to join; a moderator has not answered yet.
    pending: bool,
    moderator: bool,
    /// A moderator invited them.
    invited: bool,
}

/// A local group's page: what it is, how to join, its rules and moderators, its member count
/// (unless it keeps its membership to itself) and its recent public threads.
async fn group_page(
    request: &HttpRequest,
    actor: Actor,
    viewer: &MaybeViewer,
    data: &FedData,
) -> Result<HttpResponse, PageError> {
    let (base, domain) = site(data);
    let (base2, domain2, row) = (base.clone(), domain.clone(), actor.clone());
    let (me, csrf) = (viewer.id(), viewer.0.as_ref().map(|v| v.csrf.clone()));
    let page = data
        .db
        .run(move |c| {
            let Some(group) = groups::get(c, row.id)? else { return Ok(None) };
            let members_only = row.members_only;
            // A members-only group's threads are for its members and moderators alone.
            let insider = match me {
                Some(v) => groups::is_member(c, row.id, v)? || groups::is_moderator(c, row.id, v)?,
                None => false,
            };
            let page = Page { limit: PAGE_SIZE, ..Page::default() };
            let list = match members_only && !insider {
                true => Vec::new(),
                false => timelines::group_threads(c, row.id, me, &page)?,
            };
            let posts = views::posts(c, &list, &base2, &domain2, me.zip(csrf.as_deref()))?;
            let moderators =
                groups::moderators(c, row.id)?.iter().map(|m| views::author(m, &base2, &domain2)).collect();
            let rules: Vec<String> = serde_json::from_str(&group.rules_json).unwrap_or_default();
            let members = (!members_only).then(|| follows::count_followers(c, row.id)).transpose()?;
            Ok(Some((
                group.membership()?,
                members_only,
                members_only && !insider,
                rules,
                moderators,
                posts,
                members,
            )))
        })
        .await?;
    let Some((membership, members_only, hidden, rules, moderators, posts, members)) = page else {
        return Err(PageError::NotFound);
    };
    let shown = views::author(&actor, &base, &domain);
    let group = ProfileView {
        name: shown.name,
        handle: shown.handle,
        url: shown.url,
        ap_id: actor.ap_id.clone(),
        avatar: shown.avatar,
        summary_text: strip_html(&actor.summary).chars().take(200).collect(),
        summary: actor.summary.clone(),
        fields: Vec::new(),
    };
    let feed = format!("{base}/@{}.rss", actor.username);
    let membership_state = match &viewer.0 {
        Some(v) => {
            let (me, group_id) = (v.actor().id, actor.id);
            let (follow, moderates, invited) = data
                .db
                .run(move |c| {
                    Ok::<_, guildhall_storage::StorageError>((
                        follows::find(c, me, group_id)?,
                        groups::is_moderator(c, group_id, me)?,
                        groups::is_invited(c, group_id, me)?,
                    ))
                })
                .await?;
            Some(MemberState {
                csrf: v.csrf.clone(),
                member: follow.as_ref().is_some_and(|f| f.is(FollowState::Accepted)),
                pending: follow.as_ref().is_some_and(|f| f.is(FollowState::Pending)),
                moderator: moderates,
                invited,
            })
        }
        None => None,
    };
    let events = crate::events::group_upcoming(data, actor.id, viewer.id()).await?;
    let hours = crate::hours::group_hours(data, actor.id, viewer.id()).await?;
    let insider = membership_state.as_ref().is_some_and(|m| m.member || m.moderator);
    let (mail, cookie) =
        crate::mail_pages::group_form(request, data, &actor, viewer.0.as_ref(), insider).await?;
    let mut response = html(&GroupPage {
        site: domain,
        nav: viewer.nav(),
        me: membership_state,
        username: actor.username.clone(),
        joining_open: membership == guildhall_core::model::Membership::Open,
        invite_only: membership == guildhall_core::model::Membership::Invite,
        group,
        joining: views::joining(membership),
        members,
        members_only,
        hidden,
        rules,
        moderators,
        posts,
        feed,
        events,
        hours,
        mail,
    })?;
    if let Some(cookie) = cookie {
        response.add_cookie(&cookie).map_err(|e| PageError::Internal(e.to_string()))?;
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "groups.html")]
struct DirectoryPage {
    site: String,
    nav: Nav,
    q: String,
    /// The membership filter (empty: any).
    membership: String,
    groups: Vec<GroupCard>,
}

/// The directory's search: words in a group's name or description (a discipline, a subject),
/// and how one joins.
#[derive(Debug, serde::Deserialize)]
pub struct DirectoryQuery {
    q: Option<String>,
    membership: Option<String>,
}

/// Groups listed on a directory page.
const DIRECTORY_SIZE: i64 = 50;

/// `GET /groups?q=`: the local groups, newest first, found by name.
pub async fn directory(
    query: crate::forms::Query<DirectoryQuery>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let q: String = query.0.q.as_deref().map(|q| q.trim().chars().take(100).collect()).unwrap_or_default();
    let chosen = query.0.membership.as_deref().unwrap_or("").to_owned();
    let membership = match chosen.as_str() {
        "" => None,
        m => Some(
            guildhall_core::model::Membership::parse(m)
                .ok_or_else(|| PageError::Invalid("membership: open, approval or invite".into()))?,
        ),
    };
    let (base, domain) = site(&data);
    let (q2, domain2) = (q.clone(), domain.clone());
    let groups = data
        .db
        .run(move |c| {
            groups::directory(c, &q2, membership, 0, DIRECTORY_SIZE)?
                .iter()
                .map(|(actor, group)| views::group_card(actor, group, &base, &domain2))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    html(&DirectoryPage { site: domain, nav: viewer.nav(), q, membership: chosen, groups })
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    site: String,
    nav: Nav,
    about: guildhall_storage::instance_settings::InstanceSettings,
    title: String,
    registrations: &'static str,
    sign_up: bool,
    groups: Vec<GroupCard>,
}

/// Groups shown on the home page.
const HOME_GROUPS: i64 = 12;

/// `GET /`: what this server is, whether one can sign up, and its groups.
pub async fn home(viewer: MaybeViewer, data: FedData) -> Result<HttpResponse, PageError> {
    use guildhall_core::config::RegistrationMode as R;
    let (base, domain) = site(&data);
    let domain2 = domain.clone();
    let (groups, about) = data
        .db
        .run(move |c| {
            let groups = groups::directory(c, "", None, 0, HOME_GROUPS)?
                .iter()
                .map(|(actor, group)| views::group_card(actor, group, &base, &domain2))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, guildhall_storage::StorageError>((groups, guildhall_storage::instance_settings::get(c)?))
        })
        .await?;
    let (registrations, sign_up) = match about.registrations_or(data.config.registrations) {
        R::Open => ("Anyone may sign up.", true),
        R::Approval => ("Anyone may ask to join; an admin approves each account.", true),
        R::Closed => ("Sign-ups are closed; an admin creates accounts.", false),
    };
    let title = about.title_or(&domain);
    html(&HomePage { site: domain, nav: viewer.nav(), about, title, registrations, sign_up, groups })
}

/// What a feed is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    /// RSS 2.0 (`.rss`).
    Rss,
    /// Atom (`.atom`).
    Atom,
}

impl FeedFormat {
    fn extension(self) -> &'static str {
        match self {
            FeedFormat::Rss => "rss",
            FeedFormat::Atom => "atom",
        }
    }
}

#[derive(Template)]
#[template(path = "feed.xml")]
struct Feed {
    title: String,
    link: String,
    description: String,
    self_url: String,
    posts: Vec<PostView>,
}

#[derive(Template)]
#[template(path = "feed_atom.xml")]
struct AtomFeed<'a> {
    title: &'a str,
    link: &'a str,
    description: &'a str,
    self_url: &'a str,
    updated: String,
    posts: &'a [PostView],
}

/// Drops what XML 1.0 cannot carry (control characters but tab and line ends): another
/// server's text must not make our feed unreadable.
fn xml_safe(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')).collect()
}

fn render_feed(mut feed: Feed, format: FeedFormat) -> Result<HttpResponse, PageError> {
    for text in [&mut feed.title, &mut feed.description] {
        *text = xml_safe(text);
    }
    for post in &mut feed.posts {
        for text in [&mut post.author.name, &mut post.summary_text, &mut post.content] {
            *text = xml_safe(text);
        }
    }
    let (content_type, body) = match format {
        FeedFormat::Rss => ("application/rss+xml; charset=utf-8", feed.render()?),
        FeedFormat::Atom => {
            let updated = feed.posts.first().map_or_else(
                || chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                |p| p.published_iso.clone(),
            );
            let atom = AtomFeed {
                title: &feed.title,
                link: &feed.link,
                description: &feed.description,
                self_url: &feed.self_url,
                updated,
                posts: &feed.posts,
            };
            ("application/atom+xml; charset=utf-8", atom.render()?)
        }
    };
    Ok(HttpResponse::Ok().insert_header((CONTENT_TYPE, content_type)).body(body))
}

/// `GET /@{name}.rss`.
pub async fn account_rss(name: web::Path<String>, data: FedData) -> Result<HttpResponse, PageError> {
    account_feed(name.into_inner(), data, FeedFormat::Rss).await
}

/// `GET /@{name}.atom`.
pub async fn account_atom(name: web::Path<String>, data: FedData) -> Result<HttpResponse, PageError> {
    account_feed(name.into_inner(), data, FeedFormat::Atom).await
}

/// `GET /tags/{tag}.rss`.
pub async fn tag_rss(tag: web::Path<String>, data: FedData) -> Result<HttpResponse, PageError> {
    tag_feed(tag.into_inner(), data, FeedFormat::Rss).await
}

/// `GET /tags/{tag}.atom`.
pub async fn tag_atom(tag: web::Path<String>, data: FedData) -> Result<HttpResponse, PageError> {
    tag_feed(tag.into_inner(), data, FeedFormat::Atom).await
}

/// An account's feed: its public posts, or a group's public threads (none for a members-only
/// group).
async fn account_feed(name: String, data: FedData, format: FeedFormat) -> Result<HttpResponse, PageError> {
    let actor = data.db.run(move |c| actors::find_local(c, &name)).await?.ok_or(PageError::NotFound)?;
    if actor.deleted_at.is_some() {
        return Err(PageError::NotFound);
    }
    let (base, domain) = site(&data);
    let (base2, domain2, row) = (base.clone(), domain.clone(), actor.clone());
    let posts = data
        .db
        .run(move |c| {
            let statuses = match (row.is(ActorKind::Group), row.members_only) {
                (true, true) => Vec::new(),
                (true, false) => {
                    let page = Page { limit: PAGE_SIZE, ..Page::default() };
                    timelines::group_threads(c, row.id, None, &page)?
                        .into_iter()
                        .filter(|s| s.is(guildhall_core::model::Visibility::Public))
                        .collect()
                }
                (false, _) => statuses::public_by_actor(c, row.id, None, PAGE_SIZE)?,
            };
            let list: Vec<Status> = statuses.into_iter().filter(|s| s.reblog_of_id.is_none()).collect();
            views::posts(c, &list, &base2, &domain2, None)
        })
        .await?;
    let shown = views::author(&actor, &base, &domain);
    let feed = Feed {
        title: format!("{} ({})", shown.name, shown.handle),
        description: strip_html(&actor.summary).chars().take(500).collect(),
        self_url: format!("{base}/@{}.{}", actor.username, format.extension()),
        link: shown.url,
        posts,
    };
    render_feed(feed, format)
}

/// A hashtag's feed: public posts with it.
async fn tag_feed(tag: String, data: FedData, format: FeedFormat) -> Result<HttpResponse, PageError> {
    let tag = tag.to_lowercase();
    if !valid_tag(&tag) {
        return Err(PageError::NotFound);
    }
    let (base, domain) = site(&data);
    let posts = tagged_posts(&data, tag.clone(), None, base.clone(), domain.clone()).await?;
    let feed = Feed {
        title: format!("#{tag} on {domain}"),
        description: format!("Public posts tagged #{tag} on {domain}"),
        self_url: format!("{base}/tags/{tag}.{}", format.extension()),
        link: format!("{base}/tags/{tag}"),
        posts,
    };
    render_feed(feed, format)
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty() && tag.chars().count() <= 100 && tag.chars().all(|c| c.is_alphanumeric() || c == '_')
}

async fn tagged_posts(
    data: &FedData,
    tag: String,
    max_id: Option<i64>,
    base: String,
    domain: String,
) -> Result<Vec<PostView>, PageError> {
    Ok(data
        .db
        .run(move |c| {
            let page = Page { max_id, limit: PAGE_SIZE, ..Page::default() };
            let list: Vec<Status> = timelines::tagged(c, &tag, None, &page)?
                .into_iter()
                .filter(|s| s.reblog_of_id.is_none())
                .collect();
            views::posts(c, &list, &base, &domain, None)
        })
        .await?)
}

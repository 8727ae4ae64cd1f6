//! The page handlers: read what a stranger may see, render a template, or hand an
//! ActivityPub client the JSON it asked for.

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use guildhall_core::text::strip_html;
use guildhall_federation::FedData;
use guildhall_federation::routes::wants_activity_json;
use guildhall_storage::statuses::Status;
use guildhall_storage::timelines::{self, Page};
use guildhall_storage::{StorageError, actors, statuses};

use guildhall_core::model::ActorKind;
use guildhall_storage::actors::Actor;
use guildhall_storage::{follows, groups};

use crate::views::{self, AuthorView, GroupCard, PostView};

/// Posts on a profile or tag page.
const PAGE_SIZE: i64 = 20;
/// Ancestors shown above a post, and replies below it, at most.
const MAX_ANCESTORS: usize = 40;
const MAX_REPLIES: usize = 200;

/// What can go wrong on a page: not there (or not for a stranger's eyes), or our fault.
#[derive(Debug)]
pub enum PageError {
    /// 404.
    NotFound,
    /// 500, logged; the page says nothing of the cause.
    Internal(String),
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::NotFound => f.write_str("not found"),
            PageError::Internal(_) => f.write_str("internal error"),
        }
    }
}

impl From<StorageError> for PageError {
    fn from(e: StorageError) -> PageError {
        match e {
            StorageError::NotFound => PageError::NotFound,
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<guildhall_federation::FedError> for PageError {
    fn from(e: guildhall_federation::FedError) -> PageError {
        use guildhall_federation::FedError as F;
        match e {
            // An unsigned or unauthorised fetch of a private post looks like a missing one.
            F::NotFound | F::Unauthorized(_) | F::Forbidden(_) => PageError::NotFound,
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> PageError {
        PageError::Internal(e.to_string())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    site: &'a str,
    title: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PageError::Internal(cause) = self {
            tracing::error!(error = %cause, "page failed");
        }
        let title = match self {
            PageError::NotFound => "This page does not exist, or is not public",
            PageError::Internal(_) => "Something went wrong on our side",
        };
        let body = ErrorPage { site: "Guildhall", title }.render().unwrap_or_else(|_| title.to_owned());
        HttpResponse::build(self.status_code()).insert_header((CONTENT_TYPE, HTML)).body(body)
    }
}

const HTML: &str = "text/html; charset=utf-8";

fn html(page: &impl Template) -> Result<HttpResponse, PageError> {
    // Profile and post URLs answer HTML or ActivityPub JSON by `Accept`: caches must keep both.
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HTML))
        .insert_header(("Vary", "Accept"))
        .body(page.render()?))
}

/// The base URL and domain of this instance.
fn site(data: &FedData) -> (String, String) {
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
    profile: ProfileView,
    posts: Vec<PostView>,
}

/// `GET /@{name}`: a local account's page (its public posts), or its actor document.
pub async fn profile(
    request: HttpRequest,
    name: web::Path<String>,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let name = name.into_inner();
    let actor = data.db.run(move |c| actors::find_local(c, &name)).await?.ok_or(PageError::NotFound)?;
    if wants_activity_json(&request) || actor.deleted_at.is_some() {
        return Ok(guildhall_federation::routes::actor_response(&request, actor).await?);
    }
    if actor.is(ActorKind::Group) {
        return group_page(actor, &data).await;
    }
    let (base, domain) = site(&data);
    let (base2, domain2, id) = (base.clone(), domain.clone(), actor.id);
    let posts = data
        .db
        .run(move |c| {
            statuses::public_by_actor(c, id, None, PAGE_SIZE)?
                .iter()
                .map(|s| views::post(c, s, &base2, &domain2))
                .collect::<Result<Vec<_>, _>>()
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
    html(&ProfilePage { site: domain, profile, posts })
}

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadPage {
    site: String,
    post: PostView,
    ancestors: Vec<PostView>,
    replies: Vec<PostView>,
}

/// The thread around `status` that a stranger may see: ancestors (oldest first) and replies
/// (depth first, in id order).
fn thread(
    c: &mut guildhall_storage::DbConnection,
    status: &Status,
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
        if timelines::may_see(c, &p, None)? {
            ancestors.push(p);
        }
    }
    ancestors.reverse();
    let mut replies = Vec::new();
    let mut stack = vec![status.id];
    while let Some(id) = stack.pop().filter(|_| replies.len() < MAX_REPLIES) {
        for r in statuses::first_replies(c, id, MAX_REPLIES as i64)? {
            if timelines::may_see(c, &r, None)? {
                stack.push(r.id);
                replies.push(r);
            }
        }
    }
    replies.sort_by_key(|r| r.id);
    Ok((ancestors, replies))
}

/// `GET /@{name}/{id}`: a post with its thread, or its ActivityPub document.
pub async fn thread_page(
    request: HttpRequest,
    path: web::Path<(String, String)>,
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
    let (base, domain) = site(&data);
    let page = data
        .db
        .run(move |c| {
            if status.deleted_at.is_some() || !timelines::may_see(c, &status, None)? {
                return Ok(None);
            }
            let (ancestors, replies) = thread(c, &status)?;
            let view = |c: &mut guildhall_storage::DbConnection, list: &[Status]| {
                list.iter().map(|s| views::post(c, s, &base, &domain)).collect::<Result<Vec<_>, _>>()
            };
            Ok(Some(ThreadPage {
                post: views::post(c, &status, &base, &domain)?,
                ancestors: view(c, &ancestors)?,
                replies: view(c, &replies)?,
                site: domain.clone(),
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
    tag: String,
    posts: Vec<PostView>,
    older: Option<String>,
}

/// `GET /tags/{tag}`: public posts with the hashtag, newest first (`?max_id=` pages).
pub async fn tag(
    tag: web::Path<String>,
    query: web::Query<std::collections::HashMap<String, String>>,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let tag = tag.into_inner().to_lowercase();
    if !valid_tag(&tag) {
        return Err(PageError::NotFound);
    }
    let max_id = query.get("max_id").and_then(|m| m.parse::<i64>().ok());
    let (base, domain) = site(&data);
    let posts = tagged_posts(&data, tag.clone(), max_id, base.clone(), domain.clone()).await?;
    let older = (posts.len() as i64 == PAGE_SIZE)
        .then(|| posts.last().map(|p| format!("{base}/tags/{tag}?max_id={}", p.id)))
        .flatten();
    html(&TagPage { site: domain, tag, posts, older })
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    site: String,
    group: ProfileView,
    joining: &'static str,
    members: Option<i64>,
    members_only: bool,
    rules: Vec<String>,
    moderators: Vec<AuthorView>,
    posts: Vec<PostView>,
    feed: String,
}

/// A local group's page: what it is, how to join, its rules and moderators, its member count
/// (unless it keeps its membership to itself) and its recent public threads.
async fn group_page(actor: Actor, data: &FedData) -> Result<HttpResponse, PageError> {
    let (base, domain) = site(data);
    let (base2, domain2, row) = (base.clone(), domain.clone(), actor.clone());
    let page = data
        .db
        .run(move |c| {
            let Some(group) = groups::get(c, row.id)? else { return Ok(None) };
            let members_only = row.members_only;
            let page = Page { limit: PAGE_SIZE, ..Page::default() };
            let threads = match members_only {
                true => Vec::new(),
                false => timelines::account(c, row.id, None, true, false, &page)?,
            };
            let posts = threads
                .iter()
                .filter(|s| s.reblog_of_id.is_none())
                .map(|s| views::post(c, s, &base2, &domain2))
                .collect::<Result<Vec<_>, _>>()?;
            let moderators =
                groups::moderators(c, row.id)?.iter().map(|m| views::author(m, &base2, &domain2)).collect();
            let rules: Vec<String> = serde_json::from_str(&group.rules_json).unwrap_or_default();
            let members = (!members_only).then(|| follows::count_followers(c, row.id)).transpose()?;
            Ok(Some((group.membership()?, members_only, rules, moderators, posts, members)))
        })
        .await?;
    let Some((membership, members_only, rules, moderators, posts, members)) = page else {
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
    html(&GroupPage {
        site: domain,
        group,
        joining: views::joining(membership),
        members,
        members_only,
        rules,
        moderators,
        posts,
        feed,
    })
}

#[derive(Template)]
#[template(path = "groups.html")]
struct DirectoryPage {
    site: String,
    q: String,
    groups: Vec<GroupCard>,
}

/// Groups listed on a directory page.
const DIRECTORY_SIZE: i64 = 50;

/// `GET /groups?q=`: the local groups, newest first, found by name.
pub async fn directory(
    query: web::Query<std::collections::HashMap<String, String>>,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let q: String = query.get("q").map(|q| q.trim().chars().take(100).collect()).unwrap_or_default();
    let (base, domain) = site(&data);
    let (q2, domain2) = (q.clone(), domain.clone());
    let groups = data
        .db
        .run(move |c| {
            groups::directory(c, &q2, 0, DIRECTORY_SIZE)?
                .iter()
                .map(|(actor, group)| views::group_card(actor, group, &base, &domain2))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    html(&DirectoryPage { site: domain, q, groups })
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    site: String,
    registrations: &'static str,
    sign_up: bool,
    groups: Vec<GroupCard>,
}

/// Groups shown on the home page.
const HOME_GROUPS: i64 = 12;

/// `GET /`: what this server is, whether one can sign up, and its groups.
pub async fn home(data: FedData) -> Result<HttpResponse, PageError> {
    use guildhall_core::config::RegistrationMode as R;
    let (base, domain) = site(&data);
    let domain2 = domain.clone();
    let groups = data
        .db
        .run(move |c| {
            groups::directory(c, "", 0, HOME_GROUPS)?
                .iter()
                .map(|(actor, group)| views::group_card(actor, group, &base, &domain2))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let (registrations, sign_up) = match data.config.registrations {
        R::Open => ("Anyone may sign up.", true),
        R::Approval => ("Anyone may ask to join; an admin approves each account.", true),
        R::Closed => ("Sign-ups are closed; an admin creates accounts.", false),
    };
    html(&HomePage { site: domain, registrations, sign_up, groups })
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

fn rss(feed: &Feed) -> Result<HttpResponse, PageError> {
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/rss+xml; charset=utf-8"))
        .body(feed.render()?))
}

/// `GET /@{name}.rss`: an account's public posts, or a group's public threads (none for a
/// members-only group).
pub async fn account_feed(name: web::Path<String>, data: FedData) -> Result<HttpResponse, PageError> {
    let name = name.into_inner();
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
                    timelines::account(c, row.id, None, true, false, &page)?
                        .into_iter()
                        .filter(|s| s.is(guildhall_core::model::Visibility::Public))
                        .collect()
                }
                (false, _) => statuses::public_by_actor(c, row.id, None, PAGE_SIZE)?,
            };
            statuses
                .iter()
                .filter(|s| s.reblog_of_id.is_none())
                .map(|s| views::post(c, s, &base2, &domain2))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let shown = views::author(&actor, &base, &domain);
    rss(&Feed {
        title: format!("{} ({})", shown.name, shown.handle),
        description: strip_html(&actor.summary).chars().take(500).collect(),
        self_url: format!("{base}/@{}.rss", actor.username),
        link: shown.url,
        posts,
    })
}

/// `GET /tags/{tag}.rss`: public posts with the hashtag.
pub async fn tag_feed(tag: web::Path<String>, data: FedData) -> Result<HttpResponse, PageError> {
    let tag = tag.into_inner().to_lowercase();
    if !valid_tag(&tag) {
        return Err(PageError::NotFound);
    }
    let (base, domain) = site(&data);
    let posts = tagged_posts(&data, tag.clone(), None, base.clone(), domain.clone()).await?;
    rss(&Feed {
        title: format!("#{tag} on {domain}"),
        description: format!("Public posts tagged #{tag} on {domain}"),
        self_url: format!("{base}/tags/{tag}.rss"),
        link: format!("{base}/tags/{tag}"),
        posts,
    })
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
            timelines::tagged(c, &tag, None, &page)?
                .iter()
                .filter(|s| s.reblog_of_id.is_none())
                .map(|s| views::post(c, s, &base, &domain))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?)
}

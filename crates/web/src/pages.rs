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

use crate::views::{self, PostView};

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
        match e {
            guildhall_federation::FedError::NotFound => PageError::NotFound,
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
    Ok(HttpResponse::Ok().insert_header((CONTENT_TYPE, HTML)).body(page.render()?))
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
    while let Some(id) = parent.filter(|_| ancestors.len() < MAX_ANCESTORS) {
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
        for r in statuses::replies(c, id)? {
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
    if tag.is_empty() || tag.chars().count() > 100 || !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(PageError::NotFound);
    }
    let max_id = query.get("max_id").and_then(|m| m.parse::<i64>().ok());
    let (base, domain) = site(&data);
    let (name, base2, domain2) = (tag.clone(), base.clone(), domain.clone());
    let posts = data
        .db
        .run(move |c| {
            let page = Page { max_id, limit: PAGE_SIZE, ..Page::default() };
            timelines::tagged(c, &name, None, &page)?
                .iter()
                .filter(|s| s.reblog_of_id.is_none())
                .map(|s| views::post(c, s, &base2, &domain2))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let older = (posts.len() as i64 == PAGE_SIZE)
        .then(|| posts.last().map(|p| format!("{base}/tags/{tag}?max_id={}", p.id)))
        .flatten();
    html(&TagPage { site: domain, tag, posts, older })
}

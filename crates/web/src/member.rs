//! A member's pages: the home feed with a compose form, posting and replying, liking,
//! boosting and deleting, following people and joining groups, notifications.
//!
//! Every change goes through `guildhall_federation::actions`, as the API's do, so a post from
//! the web federates, notifies and streams exactly as one from an app. Every form carries the
//! session's CSRF token and comes back with a `303` to a page of ours.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use guildhall_core::model::Visibility;
use guildhall_federation::FedData;
use guildhall_federation::actions::{self, NewPost};
use guildhall_federation::uploads::{ImageStore, UploadError};
use guildhall_storage::notification_policy::Decision;
use guildhall_storage::notifications::{self, NotificationKind};
use guildhall_storage::statuses::Status;
use guildhall_storage::timelines::{self, Page};
use guildhall_storage::{DbConnection, StorageResult, actors, statuses};
use serde::Deserialize;

use crate::error::PageError;
use crate::forms;
use crate::pages::{html, site};
use crate::session::{Nav, Viewer};
use crate::views::{self, AuthorView, ComposeView, PostView};

/// Posts on a page of the home feed.
const FEED_PAGE: i64 = 20;
/// Longest post text accepted (as the API).
const MAX_CHARACTERS: usize = 5000;
/// Longest content warning accepted.
const MAX_SPOILER: usize = 500;

#[derive(Template)]
#[template(path = "home_feed.html")]
struct HomeFeed {
    site: String,
    nav: Nav,
    compose: ComposeView,
    posts: Vec<PostView>,
    older: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    max_id: Option<i64>,
}

/// Views of `list` for `viewer`: a boost shows the boosted post, saying who boosted it.
pub fn feed_views(
    c: &mut DbConnection,
    list: &[Status],
    viewer: &Viewer,
    base: &str,
    domain: &str,
) -> StorageResult<Vec<PostView>> {
    let mut shown = Vec::with_capacity(list.len());
    let mut boosters = Vec::with_capacity(list.len());
    for s in list {
        match s.reblog_of_id {
            Some(original) => {
                let Some(o) = statuses::find(c, original)? else { continue };
                if o.deleted_at.is_some() || !timelines::may_see(c, &o, Some(viewer.actor().id))? {
                    continue;
                }
                boosters.push(Some(views::author(&actors::get(c, s.actor_id)?, base, domain)));
                shown.push(o);
            }
            None => {
                boosters.push(None);
                shown.push(s.clone());
            }
        }
    }
    let mut posts = views::posts(c, &shown, base, domain, Some((viewer.actor().id, &viewer.csrf)))?;
    for (post, booster) in posts.iter_mut().zip(boosters) {
        post.boosted_by = booster;
    }
    Ok(posts)
}

/// `GET /home`: the people and groups the member follows, newest first, under a compose form.
pub async fn home_feed(
    query: crate::forms::Query<FeedQuery>,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (base, domain) = site(&data);
    let me = viewer.clone();
    let max_id = query.0.max_id;
    let (posts, last) = data
        .db
        .run(move |c| {
            let page = Page { max_id, limit: FEED_PAGE, ..Page::default() };
            let list = timelines::home(c, me.actor().id, &page)?;
            let last = (list.len() as i64 == FEED_PAGE).then(|| list.last().map(|s| s.id)).flatten();
            Ok::<_, guildhall_storage::StorageError>((feed_views(c, &list, &me, &base, &domain)?, last))
        })
        .await?;
    let compose = ComposeView {
        csrf: viewer.csrf.clone(),
        in_reply_to: None,
        text: String::new(),
        visibility: default_visibility(&data, &viewer).await?,
        choices: views::VISIBILITY_CHOICES,
    };
    html(&HomeFeed {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        compose,
        posts,
        older: last.map(|id| format!("/home?max_id={id}")),
    })
}

/// The member's chosen default visibility (`public` unless they set another).
pub async fn default_visibility(data: &FedData, viewer: &Viewer) -> Result<String, PageError> {
    let id = viewer.actor().id;
    let defaults = data.db.run(move |c| guildhall_storage::accounts::posting_defaults(c, id)).await?;
    Ok(defaults.visibility.as_str().to_owned())
}

#[derive(Debug, Deserialize)]
struct ComposeForm {
    csrf: String,
    status: String,
    #[serde(default)]
    spoiler_text: String,
    visibility: Visibility,
    #[serde(default, deserialize_with = "empty_as_none")]
    in_reply_to_id: Option<i64>,
    /// The image's alt text.
    #[serde(default)]
    image_alt: String,
}

/// An optional number that a form may send empty.
fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) => n.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl ComposeForm {
    /// The post, or a 422 naming the field that is wrong.
    fn into_post(self) -> Result<NewPost, PageError> {
        let text = self.status.trim().to_owned();
        if text.is_empty() {
            return Err(PageError::Invalid("The post is empty: write something in the text field".into()));
        }
        if text.chars().count() > MAX_CHARACTERS {
            return Err(PageError::Invalid(format!("The text is longer than {MAX_CHARACTERS} characters")));
        }
        let spoiler_text = self.spoiler_text.trim().to_owned();
        if spoiler_text.chars().count() > MAX_SPOILER {
            return Err(PageError::Invalid(format!(
                "The content warning is longer than {MAX_SPOILER} characters"
            )));
        }
        Ok(NewPost {
            text,
            visibility: self.visibility,
            in_reply_to: self.in_reply_to_id,
            sensitive: !spoiler_text.is_empty(),
            spoiler_text,
            language: None,
            media_ids: Vec::new(),
            idempotency: None,
            poll: None,
        })
    }
}

/// `POST /statuses`: a new post or a reply, with at most one image and its alt text (a
/// multipart form), or text alone (either encoding). Back to the thread for a reply, to the
/// home feed for a new post.
pub async fn compose(
    request: HttpRequest,
    payload: web::Payload,
    viewer: Viewer,
    data: FedData,
    images: web::Data<dyn ImageStore>,
) -> Result<HttpResponse, PageError> {
    let sent = forms::read(&request, payload).await?;
    let form: ComposeForm = sent.parse()?;
    viewer.check(&request, &data, &form.csrf)?;
    let alt = form.image_alt.trim().to_owned();
    let mut post = form.into_post()?;
    if let Some(parent) = post.in_reply_to {
        // A reply needs sight of what it answers.
        let me = viewer.actor().id;
        let visible = data
            .db
            .run(move |c| match statuses::find(c, parent)? {
                Some(p) => timelines::may_see(c, &p, Some(me)),
                None => Ok(false),
            })
            .await?;
        if !visible {
            return Err(PageError::NotFound);
        }
    }
    // The image is stored last, once everything else was found right.
    if let Some(image) = sent.file("image") {
        let alt = (!alt.is_empty()).then_some(alt);
        let id = images.store_attachment(viewer.actor().id, image, alt).await.map_err(|e| match e {
            UploadError::Invalid(why) => PageError::Invalid(format!("image: {why}")),
            UploadError::TooMany(why) => PageError::TooMany(why),
            UploadError::Internal(why) => PageError::Internal(why),
        })?;
        post.media_ids.push(id);
    }
    let reply_to = post.in_reply_to;
    let status = actions::post(&data, viewer.actor(), post).await?;
    Ok(forms::see_other(&match reply_to {
        Some(parent) => format!("/statuses/{parent}#post-{}", status.id),
        None => "/home".to_owned(),
    }))
}

/// What a button under a post does.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusAction {
    /// Like.
    Favourite,
    /// Take the like back.
    Unfavourite,
    /// Boost.
    Reblog,
    /// Take the boost back.
    Unreblog,
    /// Delete one's own post.
    Delete,
}

/// `POST /statuses/{id}/{action}`: like, boost, or delete; back to the page it was pressed on.
pub async fn status_action(
    request: HttpRequest,
    path: web::Path<(i64, StatusAction)>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (id, action) = path.into_inner();
    viewer.check_form(&request, &data, &body)?;
    let me = viewer.actor().id;
    let status = data.db.run(move |c| statuses::get(c, id)).await?;
    let visible = {
        let s = status.clone();
        data.db.run(move |c| timelines::may_see(c, &s, Some(me))).await?
    };
    if !visible || status.deleted_at.is_some() {
        return Err(PageError::NotFound);
    }
    let actor = viewer.actor();
    match action {
        StatusAction::Favourite => actions::like(&data, actor, id).await?,
        StatusAction::Unfavourite => actions::unlike(&data, actor, id).await?,
        StatusAction::Reblog => {
            actions::boost(&data, actor, id).await?;
        }
        StatusAction::Unreblog => actions::unboost(&data, actor, id).await?,
        StatusAction::Delete => {
            if status.actor_id != me {
                return Err(PageError::Forbidden("Only its author can delete a post".into()));
            }
            actions::delete_status(&data, actor, id).await?;
            return Ok(forms::see_other("/home"));
        }
    }
    Ok(forms::see_other(&back(&request, &data).unwrap_or_else(|| format!("/statuses/{id}"))))
}

/// The page a form was sent from, when it is one of ours.
pub fn back(request: &HttpRequest, data: &FedData) -> Option<String> {
    let referer = request.headers().get("Referer")?.to_str().ok()?;
    let base = data.urls.base().trim_end_matches('/');
    let path = referer.strip_prefix(base)?;
    let local = forms::local_path(Some(path));
    (local == path).then_some(local)
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowAction {
    /// Follow a person, or join (or ask to join) a group.
    Follow,
    /// Unfollow, leave, or withdraw a request.
    Unfollow,
}

/// `POST /@{name}/follow` and `/unfollow`: follow or join, unfollow or leave.
pub async fn follow(
    request: HttpRequest,
    path: web::Path<(String, FollowAction)>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (name, action) = path.into_inner();
    viewer.check_form(&request, &data, &body)?;
    let lookup = name.clone();
    let target = data.db.run(move |c| actors::find_local(c, &lookup)).await?.ok_or(PageError::NotFound)?;
    if target.deleted_at.is_some() || target.id == viewer.actor().id {
        return Err(PageError::NotFound);
    }
    match action {
        FollowAction::Follow => {
            actions::follow(&data, viewer.actor(), &target).await?;
        }
        FollowAction::Unfollow => actions::unfollow(&data, viewer.actor(), &target).await?,
    }
    Ok(forms::see_other(&format!("/@{}", target.username)))
}

/// A notification as its page shows it.
#[derive(Debug)]
struct NotificationView {
    /// What happened, in words.
    what: &'static str,
    from: AuthorView,
    post: Option<PostView>,
    when: String,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    site: String,
    nav: Nav,
    items: Vec<NotificationView>,
    older: Option<String>,
}

fn what(kind: Option<NotificationKind>) -> &'static str {
    use NotificationKind as K;
    match kind {
        Some(K::Mention) => "mentioned you",
        Some(K::Status) => "posted",
        Some(K::Reblog) => "boosted your post",
        Some(K::Follow) => "followed you",
        Some(K::FollowRequest) => "asked to follow you",
        Some(K::Favourite) => "liked your post",
        Some(K::Poll) => "a poll has ended",
        Some(K::Update) => "edited a post you boosted",
        Some(K::EventReminder) => "an event you are going to starts soon",
        Some(K::EventParticipation) => "answered your event",
        None => "did something",
    }
}

/// `GET /notifications`: the newest notifications (`?max_id=` pages).
pub async fn notifications_page(
    query: crate::forms::Query<FeedQuery>,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (base, domain) = site(&data);
    let me = viewer.actor().id;
    let max_id = query.0.max_id;
    let (items, last) = data
        .db
        .run(move |c| {
            let page = Page { max_id, limit: FEED_PAGE, ..Page::default() };
            let list = notifications::list(c, me, None, &page)?;
            let last = (list.len() as i64 == FEED_PAGE).then(|| list.last().map(|n| n.id)).flatten();
            let mut items = Vec::with_capacity(list.len());
            for n in list {
                let from = views::author(&actors::get(c, n.from_actor_id)?, &base, &domain);
                let post = match n.status_id.map(|id| statuses::find(c, id)).transpose()?.flatten() {
                    Some(s) if s.deleted_at.is_none() && timelines::may_see(c, &s, Some(me))? => {
                        Some(views::post(c, &s, &base, &domain)?)
                    }
                    _ => None,
                };
                let when = views::when(n.created_at);
                items.push(NotificationView {
                    what: what(NotificationKind::parse(&n.kind)),
                    from,
                    post,
                    when,
                });
            }
            Ok::<_, guildhall_storage::StorageError>((items, last))
        })
        .await?;
    html(&NotificationsPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        items,
        older: last.map(|id| format!("/notifications?max_id={id}")),
    })
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    site: String,
    nav: Nav,
    csrf: String,
    post: PostView,
    /// The author is on another server: the report may be forwarded there.
    remote: bool,
}

/// The post `id` when `viewer` may see it and it is someone else's.
async fn reportable(data: &FedData, viewer: &Viewer, id: i64) -> Result<Status, PageError> {
    let me = viewer.actor().id;
    let status = data.db.run(move |c| statuses::get(c, id)).await?;
    let s = status.clone();
    let visible = data.db.run(move |c| timelines::may_see(c, &s, Some(me))).await?;
    if !visible || status.deleted_at.is_some() || status.actor_id == me {
        return Err(PageError::NotFound);
    }
    Ok(status)
}

/// `GET /statuses/{id}/report`: why is this post a problem?
pub async fn report_form(
    id: web::Path<i64>,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let status = reportable(&data, &viewer, id.into_inner()).await?;
    let (base, domain) = site(&data);
    let post = data.db.run(move |c| views::post(c, &status, &base, &domain)).await?;
    let remote = !post.url.starts_with(data.urls.base());
    html(&ReportPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        post,
        remote,
    })
}

#[derive(Debug, Deserialize)]
struct ReportForm {
    #[serde(default)]
    comment: String,
    #[serde(default)]
    forward: Option<String>,
}

/// Longest report comment.
const MAX_REPORT_COMMENT: usize = 1000;

/// `POST /statuses/{id}/report`: files the report for this server's moderators (and, when
/// asked, forwards it anonymously to the author's server).
pub async fn report(
    request: HttpRequest,
    id: web::Path<i64>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
    limits: web::Data<guildhall_core::limits::RateLimits>,
) -> Result<HttpResponse, PageError> {
    let form: ReportForm = viewer.form(&request, &data, &body)?;
    if form.comment.chars().count() > MAX_REPORT_COMMENT {
        return Err(PageError::Invalid(format!("comment: at most {MAX_REPORT_COMMENT} characters")));
    }
    let status = reportable(&data, &viewer, id.into_inner()).await?;
    limits.report(viewer.actor().id)?;
    let author_id = status.actor_id;
    let target = data.db.run(move |c| actors::get(c, author_id)).await?;
    let new = actions::NewReport {
        target,
        status_ids: vec![status.id],
        comment: form.comment.trim().to_owned(),
        forward: form.forward.is_some(),
    };
    actions::report(&data, viewer.actor(), new).await?;
    Ok(forms::see_other(&format!("/statuses/{}", status.id)))
}

#[derive(Template)]
#[template(path = "edit.html")]
struct EditPage {
    site: String,
    nav: Nav,
    csrf: String,
    id: i64,
    text: String,
    spoiler: String,
}

/// The viewer's own live, local post `id`.
async fn own_post(data: &FedData, viewer: &Viewer, id: i64) -> Result<Status, PageError> {
    let status = data.db.run(move |c| statuses::get(c, id)).await?;
    if status.actor_id != viewer.actor().id || status.deleted_at.is_some() || status.reblog_of_id.is_some() {
        return Err(PageError::NotFound);
    }
    Ok(status)
}

/// `GET /statuses/{id}/edit`: the author's form, with the text as they typed it.
pub async fn edit_form(id: web::Path<i64>, viewer: Viewer, data: FedData) -> Result<HttpResponse, PageError> {
    let status = own_post(&data, &viewer, id.into_inner()).await?;
    html(&EditPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        id: status.id,
        text: status.source.clone().unwrap_or_else(|| guildhall_core::text::strip_html(&status.content)),
        spoiler: status.spoiler_text.clone(),
    })
}

#[derive(Debug, Deserialize)]
struct EditForm {
    status: String,
    #[serde(default)]
    spoiler_text: String,
}

/// `POST /statuses/{id}/edit`: the new text and content warning; the post's audience gets the
/// `Update`, and its page shows it as edited.
pub async fn edit(
    request: HttpRequest,
    id: web::Path<i64>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: EditForm = viewer.form(&request, &data, &body)?;
    let status = own_post(&data, &viewer, id.into_inner()).await?;
    let text = form.status.trim();
    if text.is_empty() {
        return Err(PageError::Invalid("status: the post is empty".into()));
    }
    if text.chars().count() > MAX_CHARACTERS {
        return Err(PageError::Invalid(format!("status: longer than {MAX_CHARACTERS} characters")));
    }
    if form.spoiler_text.chars().count() > MAX_SPOILER {
        return Err(PageError::Invalid(format!("spoiler_text: longer than {MAX_SPOILER} characters")));
    }
    actions::edit(&data, viewer.actor(), status.id, text, form.spoiler_text.trim(), None).await?;
    Ok(forms::see_other(&format!("/statuses/{}", status.id)))
}

/// A held-back sender on the requests page.
#[derive(Debug)]
struct RequestRow {
    from: AuthorView,
    id: i64,
    count: i64,
    post: Option<PostView>,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    site: String,
    nav: Nav,
    csrf: String,
    requests: Vec<RequestRow>,
    /// The policy's choices, for the form: (field, label, current).
    policy: Vec<(&'static str, &'static str, &'static str)>,
}

/// Requests listed at once.
const REQUESTS_SHOWN: i64 = 40;

/// `GET /notifications/requests`: the notification policy, and the senders it held back.
pub async fn requests_page(viewer: Viewer, data: FedData) -> Result<HttpResponse, PageError> {
    use guildhall_storage::notification_policy as np;
    let (base, domain) = site(&data);
    let me = viewer.actor().id;
    let (requests, policy) = data
        .db
        .run(move |c| {
            let mut rows = Vec::new();
            for r in np::requests(c, me, None, None, REQUESTS_SHOWN)? {
                let post = match r.last_status_id.map(|id| statuses::find(c, id)).transpose()?.flatten() {
                    Some(s) if timelines::may_see(c, &s, Some(me))? => {
                        Some(views::post(c, &s, &base, &domain)?)
                    }
                    _ => None,
                };
                let from = views::author(&actors::get(c, r.from_actor_id)?, &base, &domain);
                rows.push(RequestRow { from, id: r.from_actor_id, count: r.notifications_count, post });
            }
            Ok::<_, guildhall_storage::StorageError>((rows, np::get(c, me)?))
        })
        .await?;
    let policy = vec![
        ("for_not_following", "People you do not follow", policy.for_not_following.as_str()),
        ("for_not_followers", "People who do not follow you", policy.for_not_followers.as_str()),
        ("for_new_accounts", "Accounts younger than 30 days", policy.for_new_accounts.as_str()),
        (
            "for_private_mentions",
            "Private mentions you did not ask for",
            policy.for_private_mentions.as_str(),
        ),
    ];
    html(&RequestsPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        requests,
        policy,
    })
}

#[derive(Debug, Deserialize)]
struct PolicyForm {
    for_not_following: Decision,
    for_not_followers: Decision,
    for_new_accounts: Decision,
    for_private_mentions: Decision,
}

/// `POST /notifications/policy`: what happens to notifications from strangers.
pub async fn set_policy(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    use guildhall_storage::notification_policy as np;
    let form: PolicyForm = viewer.form(&request, &data, &body)?;
    let me = viewer.actor().id;
    data.db
        .run(move |c| {
            let mut policy = np::get(c, me)?;
            policy.for_not_following = form.for_not_following;
            policy.for_not_followers = form.for_not_followers;
            policy.for_new_accounts = form.for_new_accounts;
            policy.for_private_mentions = form.for_private_mentions;
            np::set(c, me, &policy)
        })
        .await?;
    Ok(forms::see_other("/notifications/requests"))
}

/// What a member does with a held-back sender.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestAnswer {
    /// Show their notifications, and let them through from now on.
    Accept,
    /// Drop what they sent.
    Dismiss,
}

/// `POST /notifications/requests/{account}/{accept|dismiss}`.
pub async fn answer_request(
    request: HttpRequest,
    path: web::Path<(i64, RequestAnswer)>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    use guildhall_storage::notification_policy as np;
    viewer.check_form(&request, &data, &body)?;
    let ((sender, answer), me) = (path.into_inner(), viewer.actor().id);
    let done = data
        .db
        .run(move |c| match answer {
            RequestAnswer::Accept => np::accept(c, me, sender),
            RequestAnswer::Dismiss => np::dismiss(c, me, sender),
        })
        .await?;
    if !done {
        return Err(PageError::NotFound);
    }
    Ok(forms::see_other("/notifications/requests"))
}

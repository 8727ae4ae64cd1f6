//! A group's moderation pages, for its moderators only: join requests, invitations, members
//! and bans (with reasons), removing a post with a reason, the group's settings, and the log of
//! every moderation action.
//!
//! Each action is `guildhall_federation::moderation`'s, which checks again that the viewer
//! moderates the group, tells the servers concerned and writes the log, as the API's do.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use guildhall_core::model::{FollowState, GroupVisibility, Membership, PostingPolicy};
use guildhall_federation::moderation::{self as fm, GroupUpdate};
use guildhall_federation::{FedData, actions};
use guildhall_storage::actors::Actor;
use guildhall_storage::reports::{self, Report};
use guildhall_storage::{StorageResult, actors, follows, groups, statuses, timelines};
use serde::Deserialize;

use crate::error::PageError;
use crate::forms;
use crate::pages::{html, site};
use crate::session::{Nav, Viewer};
use crate::views::{self, AuthorView};

/// Members listed on the page at most (the API pages through all of them).
const MEMBERS_SHOWN: usize = 200;
/// Requests listed at most.
const REQUESTS_SHOWN: usize = 100;
/// Log entries shown.
const LOG_SHOWN: i64 = 50;
/// Rules a group may have, and the length of each.
const MAX_RULES: usize = 20;
const MAX_RULE_CHARS: usize = 500;
/// Longest description and reason.
const MAX_DESCRIPTION: usize = 5000;
const MAX_REASON: usize = 1000;

/// The group at `/@{name}` and its settings, when `viewer` moderates it; 404 otherwise (a
/// member does not learn more than a stranger by guessing the URL).
async fn moderated_group(
    data: &FedData,
    viewer: &Viewer,
    name: String,
) -> Result<(Actor, groups::Group), PageError> {
    let group = data.db.run(move |c| actors::find_local(c, &name)).await?.ok_or(PageError::NotFound)?;
    if group.deleted_at.is_some() {
        return Err(PageError::NotFound);
    }
    match fm::check_moderator(data, &group, viewer.actor()).await {
        Ok(settings) => Ok((group, settings)),
        Err(_) => Err(PageError::NotFound),
    }
}

/// An account in a moderation list.
#[derive(Debug)]
struct Row {
    id: i64,
    who: AuthorView,
    /// A ban's reason, or a log entry's.
    note: String,
}

/// A log entry as the page shows it.
#[derive(Debug)]
struct LogRow {
    when: String,
    by: String,
    action: String,
    target: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "moderation.html")]
struct ModerationPage {
    site: String,
    nav: Nav,
    csrf: String,
    group: AuthorView,
    username: String,
    requests: Vec<Row>,
    members: Vec<Row>,
    member_count: usize,
    invited: Vec<Row>,
    moderators: Vec<Row>,
    bans: Vec<Row>,
    log: Vec<LogRow>,
    reports: Vec<views::ReportView>,
    resolve_base: String,
    description: String,
    rules: String,
    membership: &'static str,
    posting: &'static str,
    members_only: bool,
}

/// `GET /@{name}/moderation`.
pub async fn page(name: web::Path<String>, viewer: Viewer, data: FedData) -> Result<HttpResponse, PageError> {
    let (group, settings) = moderated_group(&data, &viewer, name.into_inner()).await?;
    let (base, domain) = site(&data);
    let gid = group.id;
    let (b, d) = (base.clone(), domain.clone());
    let (me, csrf) = (viewer.actor().id, viewer.csrf.clone());
    let (requests, members, member_count, invited, moderators, bans, log, reports) = data
        .db
        .run(move |c| {
            let open = group_reports(c, gid, me)?;
            let reports = views::reports(c, &open, &b, &d, Some((me, &csrf)), false)?;
            let row = |c: &mut guildhall_storage::DbConnection, id: i64, note: String| {
                Ok::<_, guildhall_storage::StorageError>(Row {
                    id,
                    who: views::author(&actors::get(c, id)?, &b, &d),
                    note,
                })
            };
            let pending = follows::followers(c, gid, FollowState::Pending)?;
            let requests = pending
                .iter()
                .take(REQUESTS_SHOWN)
                .map(|id| row(c, *id, String::new()))
                .collect::<Result<Vec<_>, _>>()?;
            let accepted = follows::followers(c, gid, FollowState::Accepted)?;
            let members = accepted
                .iter()
                .take(MEMBERS_SHOWN)
                .map(|id| row(c, *id, String::new()))
                .collect::<Result<Vec<_>, _>>()?;
            let invited = groups::invitations(c, gid)?
                .iter()
                .map(|a| Row { id: a.id, who: views::author(a, &b, &d), note: String::new() })
                .collect();
            let moderators = groups::moderators(c, gid)?
                .iter()
                .map(|a| Row { id: a.id, who: views::author(a, &b, &d), note: String::new() })
                .collect();
            let bans = groups::bans(c, gid)?
                .iter()
                .map(|(a, reason, _)| Row { id: a.id, who: views::author(a, &b, &d), note: reason.clone() })
                .collect();
            let mut log = Vec::new();
            for e in groups::log_entries(c, gid, None, LOG_SHOWN)? {
                let by = views::handle(&actors::get(c, e.moderator_id)?, &d);
                let target = match (e.target_actor_id, e.target_status_id) {
                    (Some(a), _) => views::handle(&actors::get(c, a)?, &d),
                    (None, Some(s)) => format!("post {s}"),
                    (None, None) => String::new(),
                };
                log.push(LogRow {
                    when: views::when(e.created_at),
                    by,
                    action: e.action.replace('_', " "),
                    target,
                    reason: e.reason,
                });
            }
            Ok::<_, guildhall_storage::StorageError>((
                requests,
                members,
                accepted.len(),
                invited,
                moderators,
                bans,
                log,
                reports,
            ))
        })
        .await?;
    let rules: Vec<String> = serde_json::from_str(&settings.rules_json).unwrap_or_default();
    html(&ModerationPage {
        site: domain.clone(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        group: views::author(&group, &base, &domain),
        username: group.username.clone(),
        requests,
        members,
        member_count,
        invited,
        moderators,
        bans,
        log,
        reports,
        resolve_base: format!("/@{}/moderation/reports", group.username),
        description: guildhall_core::text::strip_html(&group.summary),
        rules: rules.join("\n"),
        membership: settings.membership()?.as_str(),
        posting: settings.posting()?.as_str(),
        members_only: settings.visibility()? == GroupVisibility::Members,
    })
}

/// Open reports scanned for a group's queue.
const REPORTS_SCANNED: i64 = 500;

/// The reports in group `gid`'s queue (among the oldest [`REPORTS_SCANNED`] open ones): those
/// about a post in the group, not about one of its moderators (whom the admins judge), and not
/// closed by its moderators. Each keeps only its posts in the group that `moderator` may see,
/// and not who reported it.
fn group_reports(
    c: &mut guildhall_storage::DbConnection,
    gid: i64,
    moderator: i64,
) -> StorageResult<Vec<Report>> {
    let mut mine = Vec::new();
    for mut r in reports::open_first(c, REPORTS_SCANNED)? {
        let mut shown = Vec::new();
        for id in r.status_ids() {
            match statuses::find(c, id)? {
                Some(s) if s.group_id == Some(gid) && timelines::may_see(c, &s, Some(moderator))? => {
                    shown.push(id)
                }
                _ => {}
            }
        }
        if shown.is_empty()
            || groups::is_moderator(c, gid, r.target_id)?
            || reports::closed_for_group(c, gid, r.id)?
        {
            continue;
        }
        r.status_ids_json = serde_json::to_string(&shown).unwrap_or_else(|_| "[]".into());
        mine.push(r);
    }
    Ok(mine)
}

/// `POST /@{name}/moderation/reports/{id}/resolve`: a report on the group's posts is dealt
/// with in the group's queue (the admins keep theirs until they resolve it).
pub async fn resolve_report(
    request: HttpRequest,
    path: web::Path<(String, i64)>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (name, id) = path.into_inner();
    viewer.check_form(&request, &data, &body)?;
    let (group, _) = moderated_group(&data, &viewer, name).await?;
    let (gid, me) = (group.id, viewer.actor().id);
    let done = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                if !group_reports(c, gid, me)?.iter().any(|r| r.id == id) {
                    return Ok(false);
                }
                reports::close_for_group(c, gid, id, me)?;
                groups::log(c, gid, me, "close_report", None, None, "")?;
                Ok(true)
            })
        })
        .await?;
    if !done {
        return Err(PageError::NotFound);
    }
    Ok(back_to(&group))
}

#[derive(Debug, Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

impl ReasonForm {
    fn reason(&self) -> Result<&str, PageError> {
        let reason = self.reason.trim();
        if reason.chars().count() > MAX_REASON {
            return Err(PageError::Invalid(format!("The reason is longer than {MAX_REASON} characters")));
        }
        Ok(reason)
    }
}

/// A moderation action on an account.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestAnswer {
    /// Let them in.
    Approve,
    /// Turn them away.
    Reject,
}

async fn account(data: &FedData, id: i64) -> Result<Actor, PageError> {
    Ok(data.db.run(move |c| actors::get(c, id)).await?)
}

fn back_to(group: &Actor) -> HttpResponse {
    forms::see_other(&format!("/@{}/moderation", group.username))
}

/// `POST /@{name}/moderation/requests/{account}/{approve|reject}`.
pub async fn answer(
    request: HttpRequest,
    path: web::Path<(String, i64, RequestAnswer)>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (name, applicant, answer) = path.into_inner();
    viewer.check_form(&request, &data, &body)?;
    let (group, _) = moderated_group(&data, &viewer, name).await?;
    let applicant = account(&data, applicant).await?;
    let accept = matches!(answer, RequestAnswer::Approve);
    fm::answer_request(&data, viewer.actor(), &group, &applicant, accept).await?;
    Ok(back_to(&group))
}

/// What a moderator does to a member.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberAction {
    /// Remove and keep out, with a reason.
    Ban,
    /// Remove (they may ask to join again), with a reason.
    Remove,
    /// Let back in.
    Unban,
    /// Take back an invitation.
    Uninvite,
    /// Make a member a moderator.
    Appoint,
    /// Take a moderator's powers away (never the owner's).
    Dismiss,
}

/// `POST /@{name}/moderation/members/{account}/{ban|unban|uninvite}` (`reason` for a ban).
pub async fn member(
    request: HttpRequest,
    path: web::Path<(String, i64, MemberAction)>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (name, target, action) = path.into_inner();
    let form: ReasonForm = viewer.form(&request, &data, &body)?;
    let (group, _) = moderated_group(&data, &viewer, name).await?;
    let target = account(&data, target).await?;
    match action {
        MemberAction::Ban => fm::ban(&data, viewer.actor(), &group, &target, form.reason()?).await?,
        MemberAction::Remove => {
            fm::remove_member(&data, viewer.actor(), &group, &target, form.reason()?).await?
        }
        MemberAction::Unban => fm::unban(&data, viewer.actor(), &group, &target).await?,
        MemberAction::Uninvite => fm::revoke_invitation(&data, viewer.actor(), &group, &target).await?,
        MemberAction::Appoint => fm::appoint(&data, viewer.actor(), &group, &target).await?,
        MemberAction::Dismiss => fm::dismiss(&data, viewer.actor(), &group, &target).await?,
    }
    Ok(back_to(&group))
}

#[derive(Debug, Deserialize)]
struct InviteForm {
    handle: String,
}

/// `POST /@{name}/moderation/invitations` (`handle`: `name` here, or `name@server`).
pub async fn invite(
    request: HttpRequest,
    name: web::Path<String>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: InviteForm = viewer.form(&request, &data, &body)?;
    let (group, _) = moderated_group(&data, &viewer, name.into_inner()).await?;
    let handle = form.handle.trim().trim_start_matches('@');
    if handle.is_empty() || handle.len() > 300 {
        return Err(PageError::Invalid("Give the handle of the account to invite".into()));
    }
    let invitee = actions::resolve_actor(&data, handle)
        .await
        .map_err(|_| PageError::Invalid(format!("No account {handle} could be found")))?;
    fm::invite(&data, viewer.actor(), &group, &invitee).await?;
    Ok(back_to(&group))
}

/// `POST /@{name}/moderation/statuses/{id}/remove` (`reason`): takes a post out of the group.
pub async fn remove_status(
    request: HttpRequest,
    path: web::Path<(String, i64)>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (name, id) = path.into_inner();
    let form: ReasonForm = viewer.form(&request, &data, &body)?;
    let (group, _) = moderated_group(&data, &viewer, name).await?;
    let status = data.db.run(move |c| statuses::get(c, id)).await?;
    if status.group_id != Some(group.id) {
        return Err(PageError::NotFound);
    }
    fm::remove_status(&data, viewer.actor(), &group, id, form.reason()?).await?;
    Ok(back_to(&group))
}

#[derive(Debug, Deserialize)]
struct SettingsForm {
    description: String,
    #[serde(default)]
    rules: String,
    membership: Membership,
    posting: PostingPolicy,
    #[serde(default)]
    members_only: Option<String>,
}

/// `POST /@{name}/moderation/settings`: description, rules (one per line), how one joins, who
/// may post, and whether posts are for members only.
pub async fn settings(
    request: HttpRequest,
    name: web::Path<String>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: SettingsForm = viewer.form(&request, &data, &body)?;
    let (group, _) = moderated_group(&data, &viewer, name.into_inner()).await?;
    if form.description.chars().count() > MAX_DESCRIPTION {
        return Err(PageError::Invalid(format!(
            "The description is longer than {MAX_DESCRIPTION} characters"
        )));
    }
    let rules: Vec<String> =
        form.rules.lines().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect();
    if rules.len() > MAX_RULES || rules.iter().any(|r| r.chars().count() > MAX_RULE_CHARS) {
        return Err(PageError::Invalid(format!(
            "rules: at most {MAX_RULES} rules of at most {MAX_RULE_CHARS} characters each"
        )));
    }
    let update = GroupUpdate {
        description: Some(form.description.trim().to_owned()),
        rules: Some(rules),
        membership: Some(form.membership),
        posting: Some(form.posting),
        visibility: Some(if form.members_only.is_some() {
            GroupVisibility::Members
        } else {
            GroupVisibility::Public
        }),
        ..GroupUpdate::default()
    };
    fm::update_group(&data, viewer.actor(), &group, update).await?;
    Ok(back_to(&group))
}

//! Discussion hours on the web: an hour's page (its schedule, prompts and archive), an
//! edition's live page (the intro, then each posted prompt with its answers), and the short
//! list on a group's page.
//!
//! Who may read them is the API's rule (`guildhall_api::guildhall::hours`), the rule of the
//! group's threads: a public group's hours are for everyone, a members-only group's for its
//! members and moderators alone; anyone else gets a 404 that tells nothing. Each status shown
//! (intro, prompt, answer) is then passed through [`timelines::visible`] for the viewer. On the
//! live page a prompt's text appears only once the group posted it. Hours are scheduled
//! through the API (`POST /api/guildhall/v1/groups/{id}/hours`); the pages only read.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Duration;
use guildhall_core::calendar;
use guildhall_core::model::GroupVisibility;
use guildhall_federation::FedData;
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::hours::{self, Edition, Hour};
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{DbConnection, StorageResult, Timestamp, groups, now, timelines};

use crate::error::PageError;
use crate::pages::{html, site};
use crate::session::{MaybeViewer, Nav};
use crate::views::{self, AuthorView, PostView};

/// Editions in an hour's archive, newest first (as the API shows).
const EDITIONS_SHOWN: i64 = 20;
/// Editions read to find the next one (only the latest few can be to come).
const EDITIONS_SCANNED: i64 = 5;
/// Hours listed on a group's page.
const GROUP_HOURS: usize = 20;
/// Seconds between two loads of a live page.
const REFRESH_SECONDS: u32 = 30;

/// Where an edition stands. What the group posted counts as much as the clock: a step that
/// ran (the scheduler's clock) or one still queued (a busy server) moves it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Upcoming,
    Live,
    Over,
}

impl Phase {
    fn of(edition: &Edition, prompts_posted: bool, at: Timestamp) -> Phase {
        if edition.recap_status_id.is_some() || at >= edition.ends_at {
            Phase::Over
        } else if prompts_posted || edition.intro_status_id.is_some() || at >= edition.starts_at {
            Phase::Live
        } else {
            Phase::Upcoming
        }
    }

    fn words(self) -> &'static str {
        match self {
            Phase::Upcoming => "upcoming",
            Phase::Live => "live now",
            Phase::Over => "over",
        }
    }
}

/// Whether `viewer` may read the group's hours: whoever may read its threads (the API's rule).
fn may_read(c: &mut DbConnection, group_id: i64, viewer: Option<i64>) -> StorageResult<bool> {
    let Some(settings) = groups::get(c, group_id)? else { return Ok(false) };
    if settings.visibility()? == GroupVisibility::Public {
        return Ok(true);
    }
    Ok(match viewer {
        Some(v) => groups::is_member(c, group_id, v)? || groups::is_moderator(c, group_id, v)?,
        None => false,
    })
}

/// The hour `id` and its group, when `viewer` may read them.
fn readable(c: &mut DbConnection, id: i64, viewer: Option<i64>) -> StorageResult<Option<(Hour, Actor)>> {
    let Some(hour) = hours::find(c, id)? else { return Ok(None) };
    if !may_read(c, hour.group_id, viewer)? {
        return Ok(None);
    }
    let group = actors::get(c, hour.group_id)?;
    Ok(group.deleted_at.is_none().then_some((hour, group)))
}

fn parse_id(text: &str) -> Result<i64, PageError> {
    text.parse().map_err(|_| PageError::NotFound)
}

/// "Tuesday 8 December 2026, 20:00–21:00 (Europe/London)": on the hour's clock.
fn when(hour: &Hour, edition: &Edition) -> String {
    calendar::when_text(edition.starts_at, Some(edition.ends_at), Some(&hour.timezone))
}

fn iso(at: Timestamp) -> String {
    at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// "+5 min", "+1 min 30 s", or "at the start".
fn offset_words(seconds: i64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, 0) => "at the start".to_owned(),
        (m, 0) => format!("+{m} min"),
        (0, s) => format!("+{s} s"),
        (m, s) => format!("+{m} min {s} s"),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A simple rule in words ("Every week on Tuesday", "Every 2 days"); `None` for a rule with
/// parts these words do not cover (it is shown as given anyway).
fn rule_words(rrule: &str) -> Option<String> {
    let (mut freq, mut interval, mut days) = (None, 1_u32, Vec::new());
    for part in rrule.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=')?;
        match key.trim().to_ascii_uppercase().as_str() {
            "FREQ" => freq = Some(value.trim().to_ascii_uppercase()),
            "INTERVAL" => interval = value.trim().parse().ok().filter(|n| *n > 0)?,
            "BYDAY" => {
                for day in value.split(',') {
                    days.push(day_name(day.trim())?);
                }
            }
            "WKST" | "BYHOUR" | "BYMINUTE" | "BYSECOND" => {}
            _ => return None,
        }
    }
    let (one, many) = match freq?.as_str() {
        "DAILY" => ("day", "days"),
        "WEEKLY" => ("week", "weeks"),
        "MONTHLY" => ("month", "months"),
        "YEARLY" => ("year", "years"),
        _ => return None,
    };
    let mut text = match interval {
        1 => format!("Every {one}"),
        n => format!("Every {n} {many}"),
    };
    if !days.is_empty() {
        text.push_str(&format!(" on {}", days.join(", ")));
    }
    Some(text)
}

fn day_name(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "MO" => "Monday",
        "TU" => "Tuesday",
        "WE" => "Wednesday",
        "TH" => "Thursday",
        "FR" => "Friday",
        "SA" => "Saturday",
        "SU" => "Sunday",
        _ => return None,
    })
}

/// The edition live now, else the soonest still to come, with its phase.
fn current(c: &mut DbConnection, hour: &Hour, at: Timestamp) -> StorageResult<Option<(Edition, Phase)>> {
    let mut found: Option<(Edition, Phase)> = None;
    for edition in hours::editions(c, hour.id, EDITIONS_SCANNED)? {
        let posted = !hours::prompts_posted(c, edition.id)?.is_empty();
        match Phase::of(&edition, posted, at) {
            Phase::Live => return Ok(Some((edition, Phase::Live))),
            Phase::Upcoming => found = Some((edition, Phase::Upcoming)),
            Phase::Over => {}
        }
    }
    Ok(found)
}

/// Most answers a page shows for one prompt.
const MAX_ANSWERS_SHOWN: usize = 100;

/// The answers of an edition that `viewer` may see, with their prompt's number, in order
/// (the first [`MAX_ANSWERS_SHOWN`] of each prompt).
fn visible_answers(
    c: &mut DbConnection,
    edition: &Edition,
    viewer: Option<i64>,
) -> StorageResult<Vec<(i32, Status)>> {
    // A page shows at most so many answers a prompt (anyone may post "A1 #tag").
    let mut per_prompt: HashMap<i32, usize> = HashMap::new();
    let answers: Vec<hours::Answer> = hours::answers(c, edition)?
        .into_iter()
        .filter(|a| {
            let seen = per_prompt.entry(a.number).or_default();
            *seen += 1;
            *seen <= MAX_ANSWERS_SHOWN
        })
        .collect();
    let numbers: HashMap<i64, i32> = answers.iter().map(|a| (a.status.id, a.number)).collect();
    let shown = timelines::visible(c, answers.into_iter().map(|a| a.status).collect(), viewer)?;
    Ok(shown.into_iter().filter_map(|s| Some((*numbers.get(&s.id)?, s))).collect())
}

/// The statuses `ids` that `viewer` (actor id, CSRF token) may see, for a page.
fn shown_posts(
    c: &mut DbConnection,
    ids: &[i64],
    viewer: Option<(i64, &str)>,
    (base, domain): (&str, &str),
) -> StorageResult<Vec<PostView>> {
    let mut list = Vec::with_capacity(ids.len());
    for id in ids {
        list.extend(statuses::find(c, *id)?);
    }
    let list = timelines::visible(c, list, viewer.map(|v| v.0))?;
    views::posts(c, &list, base, domain, viewer)
}

/// An edition in a list.
#[derive(Debug)]
struct EditionRow {
    id: i64,
    when: String,
    starts_iso: String,
    phase: &'static str,
    recap: Option<i64>,
}

/// A prompt of an hour, as its page lists them.
#[derive(Debug)]
struct PromptLine {
    offset: String,
    text: String,
}

#[derive(Template)]
#[template(path = "hour.html")]
struct HourPage {
    site: String,
    nav: Nav,
    id: i64,
    title: String,
    group: AuthorView,
    rule_words: Option<String>,
    rrule: String,
    timezone: String,
    /// The edition live now or next, its time and whether it is live.
    next: Option<(i64, String, String, bool)>,
    duration: String,
    hashtag: String,
    /// The hashtag as its page's path (`/tags/…` is lower case).
    tag_path: String,
    intro: String,
    prompts: Vec<PromptLine>,
    cancelled: bool,
    archive: Vec<EditionRow>,
}

/// The editions that started, newest first. Their answers are counted in their recaps and
/// shown on their own pages: a public page must not read twenty editions' answers per visit.
fn archive(c: &mut DbConnection, hour: &Hour, at: Timestamp) -> StorageResult<Vec<EditionRow>> {
    let mut rows = Vec::new();
    for edition in hours::editions(c, hour.id, EDITIONS_SHOWN)? {
        let posted = !hours::prompts_posted(c, edition.id)?.is_empty();
        let phase = Phase::of(&edition, posted, at);
        if phase == Phase::Upcoming {
            continue;
        }
        rows.push(EditionRow {
            id: edition.id,
            when: when(hour, &edition),
            starts_iso: iso(edition.starts_at),
            phase: phase.words(),
            recap: edition.recap_status_id,
        });
    }
    Ok(rows)
}

fn hour_page(
    c: &mut DbConnection,
    hour: Hour,
    group: &Actor,
    (base, domain): (&str, &str),
) -> StorageResult<HourPage> {
    let at = now();
    let next = match hour.is_cancelled() {
        true => None,
        false => current(c, &hour, at)?
            .map(|(e, phase)| (e.id, when(&hour, &e), iso(e.starts_at), phase == Phase::Live)),
    };
    let prompts = hour
        .prompts()?
        .into_iter()
        .map(|p| PromptLine { offset: offset_words(p.offset_seconds), text: p.text })
        .collect();
    Ok(HourPage {
        site: domain.to_owned(),
        nav: Nav::default(),
        id: hour.id,
        group: views::author(group, base, domain),
        rule_words: rule_words(&hour.rrule),
        next,
        duration: plural(usize::try_from(hour.duration_minutes).unwrap_or(0), "minute", "minutes"),
        tag_path: hour.hashtag.to_lowercase(),
        prompts,
        cancelled: hour.is_cancelled(),
        archive: archive(c, &hour, at)?,
        title: hour.title,
        rrule: hour.rrule,
        timezone: hour.timezone,
        hashtag: hour.hashtag,
        intro: hour.intro,
    })
}

/// `GET /hours/{id}`: an hour, its prompts, its next edition and its archive.
pub async fn page(
    id: web::Path<String>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let id = parse_id(&id)?;
    let (base, domain) = site(&data);
    let me = viewer.id();
    let mut page = data
        .db
        .run(move |c| match readable(c, id, me)? {
            Some((hour, group)) => hour_page(c, hour, &group, (&base, &domain)).map(Some),
            None => Ok(None),
        })
        .await?
        .ok_or(PageError::NotFound)?;
    page.nav = viewer.nav();
    html(&page)
}

/// A prompt of an edition: posted (with the answers the viewer may see) or still to come.
#[derive(Debug)]
struct PromptBlock {
    number: i32,
    /// When it is posted, on the hour's clock ("20:25").
    at: String,
    /// The prompt as posted (none: not posted yet, or not to be seen).
    post: Option<PostView>,
    /// Why there is no post: "" (to come), "was not posted", "was removed".
    note: &'static str,
    /// Each answer with its replies counted ("2 replies").
    answers: Vec<(PostView, String)>,
}

#[derive(Template)]
#[template(path = "hour_edition.html")]
struct EditionPage {
    site: String,
    nav: Nav,
    hour_id: i64,
    edition_id: i64,
    title: String,
    group: AuthorView,
    hashtag: String,
    tag_path: String,
    when: String,
    starts_iso: String,
    phase: &'static str,
    live: bool,
    refresh: u32,
    /// The reader asked for the page to reload itself.
    auto: bool,
    cancelled: bool,
    intro: Option<PostView>,
    prompts: Vec<PromptBlock>,
    recap: Option<i64>,
}

/// The answers `viewer` may see as posts with their replies counted, by prompt number.
fn answer_views(
    c: &mut DbConnection,
    edition: &Edition,
    viewer: Option<(i64, &str)>,
    site: (&str, &str),
) -> StorageResult<HashMap<i32, Vec<(PostView, String)>>> {
    let (numbers, list): (Vec<i32>, Vec<Status>) =
        visible_answers(c, edition, viewer.map(|v| v.0))?.into_iter().unzip();
    let ids: Vec<i64> = list.iter().map(|s| s.id).collect();
    let counts: HashMap<i64, i64> = guildhall_storage::statuses::reply_counts(c, &ids)?.into_iter().collect();
    let posts = views::posts(c, &list, site.0, site.1, viewer)?;
    let mut by_number: HashMap<i32, Vec<(PostView, String)>> = HashMap::new();
    for (number, post) in numbers.into_iter().zip(posts) {
        let replies = usize::try_from(counts.get(&post.id).copied().unwrap_or(0)).unwrap_or(0);
        by_number.entry(number).or_default().push((post, plural(replies, "reply", "replies")));
    }
    Ok(by_number)
}

/// Every prompt of the edition in order: the posted ones with their answers, the others as
/// their time alone (their text is revealed when posted).
fn prompt_blocks(
    c: &mut DbConnection,
    hour: &Hour,
    edition: &Edition,
    phase: Phase,
    viewer: Option<(i64, &str)>,
    site: (&str, &str),
) -> StorageResult<Vec<PromptBlock>> {
    let posted: HashMap<i32, i64> = hours::prompts_posted(c, edition.id)?.into_iter().collect();
    let mut answers = answer_views(c, edition, viewer, site)?;
    let mut blocks = Vec::new();
    for (i, prompt) in hour.prompts()?.iter().enumerate() {
        let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let at = edition.starts_at + Duration::seconds(prompt.offset_seconds);
        let post = match posted.get(&number) {
            Some(id) => shown_posts(c, &[*id], viewer, site)?.pop(),
            None => None,
        };
        let note = match (posted.contains_key(&number), phase) {
            (true, _) => "was removed",
            (false, Phase::Over) => "was not posted",
            (false, _) => "",
        };
        blocks.push(PromptBlock {
            number,
            at: calendar::local(at, Some(&hour.timezone)).format("%H:%M").to_string(),
            post,
            note,
            answers: answers.remove(&number).unwrap_or_default(),
        });
    }
    Ok(blocks)
}

fn edition_page(
    c: &mut DbConnection,
    (hour, group): (Hour, Actor),
    edition: &Edition,
    viewer: Option<(i64, &str)>,
    site: (&str, &str),
) -> StorageResult<EditionPage> {
    let posted = !hours::prompts_posted(c, edition.id)?.is_empty();
    let phase = Phase::of(edition, posted, now());
    let intro = match edition.intro_status_id {
        Some(id) => shown_posts(c, &[id], viewer, site)?.pop(),
        None => None,
    };
    Ok(EditionPage {
        site: site.1.to_owned(),
        nav: Nav::default(),
        hour_id: hour.id,
        edition_id: edition.id,
        group: views::author(&group, site.0, site.1),
        tag_path: hour.hashtag.to_lowercase(),
        when: when(&hour, edition),
        starts_iso: iso(edition.starts_at),
        phase: phase.words(),
        live: phase == Phase::Live,
        refresh: REFRESH_SECONDS,
        auto: false,
        cancelled: hour.is_cancelled(),
        intro,
        prompts: prompt_blocks(c, &hour, edition, phase, viewer, site)?,
        recap: edition.recap_status_id.filter(|_| phase == Phase::Over),
        title: hour.title,
        hashtag: hour.hashtag,
    })
}

/// `GET /hours/{id}/editions/{edition_id}`: an edition's live page (the intro links here).
pub async fn edition(
    path: web::Path<(String, String)>,
    query: crate::forms::Query<LiveQuery>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (hour_id, edition_id) = (parse_id(&path.0)?, parse_id(&path.1)?);
    let (base, domain) = site(&data);
    let (me, csrf) = (viewer.id(), viewer.0.as_ref().map(|v| v.csrf.clone()));
    let mut page = data
        .db
        .run(move |c| {
            let Some(readable) = readable(c, hour_id, me)? else { return Ok(None) };
            let Some(edition) = hours::find_edition(c, edition_id)?.filter(|e| e.hour_id == hour_id) else {
                return Ok(None);
            };
            edition_page(c, readable, &edition, me.zip(csrf.as_deref()), (&base, &domain)).map(Some)
        })
        .await?
        .ok_or(PageError::NotFound)?;
    page.nav = viewer.nav();
    // Reloading on its own only when the reader asked for it (WCAG 2.2.1: a timed refresh the
    // reader can turn off), and only while the hour is on.
    page.auto = page.live && query.0.auto;
    html(&page)
}

/// The live page's query: `?auto=true` reloads it every few seconds while the hour is on.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LiveQuery {
    #[serde(default)]
    auto: bool,
}

/// An hour in a group's list.
#[derive(Debug)]
pub struct HourCard {
    /// The hour's id (its page is `/hours/{id}`).
    pub id: i64,
    /// Its name.
    pub title: String,
    /// The edition live now or next: its id, its time, and whether it is live.
    pub next: Option<(i64, String, bool)>,
    /// No further edition runs.
    pub cancelled: bool,
}

/// A group's hours as its page lists them.
#[derive(Debug, Default)]
pub struct GroupHours {
    /// Running hours first, then cancelled ones; `None` when the viewer may not see them.
    pub list: Option<Vec<HourCard>>,
    /// The viewer moderates the group (and may schedule hours).
    pub moderator: bool,
}

fn group_cards(c: &mut DbConnection, group_id: i64, viewer: Option<i64>) -> StorageResult<GroupHours> {
    let moderator = match viewer {
        Some(v) => groups::is_moderator(c, group_id, v)?,
        None => false,
    };
    if !may_read(c, group_id, viewer)? {
        return Ok(GroupHours { list: None, moderator });
    }
    let mut list = hours::of_group(c, group_id)?;
    list.sort_by_key(Hour::is_cancelled);
    let at = now();
    let mut cards = Vec::new();
    for hour in list.into_iter().take(GROUP_HOURS) {
        let next = match hour.is_cancelled() {
            true => None,
            false => current(c, &hour, at)?.map(|(e, phase)| (e.id, when(&hour, &e), phase == Phase::Live)),
        };
        cards.push(HourCard { id: hour.id, cancelled: hour.is_cancelled(), title: hour.title, next });
    }
    Ok(GroupHours { list: Some(cards), moderator })
}

/// The hours of a group that `viewer` may see (its page's "Discussion hours").
pub async fn group_hours(
    data: &FedData,
    group_id: i64,
    viewer: Option<i64>,
) -> Result<GroupHours, PageError> {
    Ok(data.db.run(move |c| group_cards(c, group_id, viewer)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_offsets_in_words() {
        assert_eq!(rule_words("FREQ=WEEKLY;BYDAY=TU").as_deref(), Some("Every week on Tuesday"));
        assert_eq!(rule_words("freq=daily;interval=2").as_deref(), Some("Every 2 days"));
        assert_eq!(rule_words("FREQ=MONTHLY;BYDAY=1MO"), None);
        assert_eq!(rule_words("FREQ=WEEKLY;COUNT=3"), None);
        assert_eq!(offset_words(0), "at the start");
        assert_eq!(offset_words(300), "+5 min");
        assert_eq!(offset_words(90), "+1 min 30 s");
    }
}

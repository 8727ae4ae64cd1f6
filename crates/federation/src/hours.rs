//! Discussion hours: a group's recurring hour, checked ([`HourRequest::validate`]), dated
//! ([`next_starts`], an RRULE in a timezone) and run ([`run_step`]).
//!
//! Storage ([`guildhall_storage::hours`]) queues one job per step of an edition; the
//! scheduler hands each to [`run_step`], which has the group post the intro, each numbered
//! prompt (`Q1`, `Q2`…), and after the hour a recap `Article`, then dates the next edition.
//! Each post records itself in its own transaction, whose unique record makes a second
//! posting fail and roll back: a step run twice (a restart, a lease that ran out, a second
//! process) posts once.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use guildhall_core::model::{GroupVisibility, Visibility};
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::hours::{self, Answer, Edition, Hour, NewHour, Prompt, Step, StepKind};
use guildhall_storage::statuses::Status;
use guildhall_storage::{DbConnection, StorageResult, Timestamp, groups, now};
use serde::{Deserialize, Serialize};

use crate::actions::{self, NewPost, Shape, Then};
use crate::error::FedError;
use crate::objects::status::handle;
use crate::state::FedData;

/// Most prompts an hour may have.
pub const MAX_PROMPTS: usize = 40;
/// Longest prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 500;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest intro, in characters.
pub const MAX_INTRO_CHARS: usize = 2000;
/// Longest hashtag, in characters.
pub const MAX_HASHTAG_CHARS: usize = 100;
/// Longest edition, in minutes (twelve hours).
pub const MAX_DURATION_MINUTES: i64 = 720;
/// Most hours one group may run at once (each keeps jobs queued).
pub const MAX_HOURS_PER_GROUP: usize = 20;
/// Answers a recap names as the most replied.
const TOP_ANSWERS: usize = 3;
/// First-time participants a recap names (the rest are counted).
const NAMED_NEWCOMERS: usize = 20;
/// An intro or prompt still unposted this long after its edition ended (the server was down
/// all along) is skipped rather than posted into a finished hour.
const STALE_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// A field of an hour that is not acceptable, and why. Its text names the field first
/// (`rrule: …`, `timezone: …`), so it can be shown as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct HourError {
    /// The request field at fault (`title`, `hashtag`, `rrule`, `dtstart`, `timezone`,
    /// `duration_minutes`, `intro`, `prompts`, `host`).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl HourError {
    fn new(field: &'static str, message: impl Into<String>) -> HourError {
        HourError { field, message: message.into() }
    }
}

impl From<HourError> for FedError {
    fn from(e: HourError) -> Self {
        FedError::BadRequest(e.to_string())
    }
}

/// A new hour as `POST /api/guildhall/v1/groups/:id/hours` receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourRequest {
    /// Its name.
    pub title: String,
    /// Its hashtag (a leading `#` is dropped).
    pub hashtag: String,
    /// The recurrence rule (`FREQ=WEEKLY;BYDAY=TU`, with or without `RRULE:`).
    pub rrule: String,
    /// The first start, wall-clock time in `timezone` (`2026-12-08T18:00`, seconds optional).
    pub dtstart: String,
    /// IANA timezone (`Europe/London`).
    pub timezone: String,
    /// Length of an edition, 1 to 720.
    pub duration_minutes: i64,
    /// The intro the group posts at the start.
    #[serde(default)]
    pub intro: String,
    /// The prompts, in order, each at its offset from the start (offsets must not decrease).
    #[serde(default)]
    pub prompts: Vec<Prompt>,
    /// The usual host (a member), set by the caller once it resolved who was named.
    #[serde(skip)]
    pub host_id: Option<i64>,
}

/// A request whose every field was checked and normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedHour {
    /// Its name, trimmed.
    pub title: String,
    /// Its hashtag, without `#`.
    pub hashtag: String,
    /// The rule, without `RRULE:`.
    pub rrule: String,
    /// The first start, wall-clock time.
    pub dtstart: NaiveDateTime,
    /// The timezone's IANA name.
    pub timezone: String,
    /// Length of an edition.
    pub duration_minutes: i32,
    /// The intro, trimmed.
    pub intro: String,
    /// The prompts, texts trimmed.
    pub prompts: Vec<Prompt>,
    /// The usual host.
    pub host_id: Option<i64>,
}

impl HourRequest {
    /// Checks every field; the first fault found is the error.
    pub fn validate(&self) -> Result<CheckedHour, HourError> {
        let title = text_field("title", &self.title, MAX_TITLE_CHARS, false)?;
        let hashtag = parse_hashtag(&self.hashtag)?;
        let zone = parse_timezone(&self.timezone)?;
        let dtstart = parse_dtstart(&self.dtstart, zone)?;
        let rrule = rule_text(&self.rrule)?;
        rule_set(&rrule, dtstart, zone)?;
        let duration_minutes = parse_duration(self.duration_minutes)?;
        let intro = text_field("intro", &self.intro, MAX_INTRO_CHARS, true)?;
        let prompts = check_prompts(&self.prompts, i64::from(duration_minutes) * 60)?;
        Ok(CheckedHour {
            title,
            hashtag,
            rrule,
            dtstart,
            timezone: zone.name().to_owned(),
            duration_minutes,
            intro,
            prompts,
            host_id: self.host_id,
        })
    }
}

fn text_field(field: &'static str, text: &str, max: usize, may_be_empty: bool) -> Result<String, HourError> {
    let text = text.trim();
    if text.is_empty() && !may_be_empty {
        return Err(HourError::new(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(HourError::new(field, format!("at most {max} characters")));
    }
    Ok(text.to_owned())
}

/// A hashtag without its `#`: 1 to 100 of `A-Z a-z 0-9 _`.
pub fn parse_hashtag(text: &str) -> Result<String, HourError> {
    let tag = text.trim().trim_start_matches('#');
    let fits = (1..=MAX_HASHTAG_CHARS).contains(&tag.len())
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !fits {
        return Err(HourError::new(
            "hashtag",
            format!("1 to {MAX_HASHTAG_CHARS} letters A-Z, digits or underscores"),
        ));
    }
    Ok(tag.to_owned())
}

fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, HourError> {
    name.trim().parse::<chrono_tz::Tz>().map_err(|_| {
        HourError::new(
            "timezone",
            format!("unknown timezone '{name}' (use an IANA name such as Europe/London)"),
        )
    })
}

/// The first start as wall-clock time in `zone`: given as such, or as an RFC 3339 instant
/// (`2026-12-07T20:00:00Z`), read on the zone's clock.
fn parse_dtstart(text: &str, zone: chrono_tz::Tz) -> Result<NaiveDateTime, HourError> {
    const FORMATS: [&str; 4] =
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"];
    let text = text.trim();
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(text) {
        let wall = instant.with_timezone(&zone).naive_local();
        return Ok(chrono::Timelike::with_nanosecond(&wall, 0).unwrap_or(wall));
    }
    let parsed = FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(text, f).ok());
    let parsed = parsed.ok_or_else(|| {
        HourError::new("dtstart", "a local date and time such as 2026-12-08T18:00, or an RFC 3339 time")
    })?;
    // The recurrence works in whole seconds.
    Ok(chrono::Timelike::with_nanosecond(&parsed, 0).unwrap_or(parsed))
}

fn parse_duration(minutes: i64) -> Result<i32, HourError> {
    i32::try_from(minutes)
        .ok()
        .filter(|m| (1..=MAX_DURATION_MINUTES).contains(&i64::from(*m)))
        .ok_or_else(|| HourError::new("duration_minutes", format!("1 to {MAX_DURATION_MINUTES} minutes")))
}

fn check_prompts(prompts: &[Prompt], duration_seconds: i64) -> Result<Vec<Prompt>, HourError> {
    if prompts.len() > MAX_PROMPTS {
        return Err(HourError::new("prompts", format!("at most {MAX_PROMPTS} prompts")));
    }
    let mut checked: Vec<Prompt> = Vec::with_capacity(prompts.len());
    for (i, prompt) in prompts.iter().enumerate() {
        let n = i + 1;
        if !(0..=duration_seconds).contains(&prompt.offset_seconds) {
            return Err(HourError::new(
                "prompts",
                format!("Q{n}: the offset must be within the hour's duration"),
            ));
        }
        if checked.last().is_some_and(|p| p.offset_seconds > prompt.offset_seconds) {
            return Err(HourError::new("prompts", format!("Q{n}: offsets must not decrease")));
        }
        let text = text_field("prompts", &prompt.text, MAX_PROMPT_CHARS, false)
            .map_err(|e| HourError::new("prompts", format!("Q{n}: {}", e.message)))?;
        checked.push(Prompt { offset_seconds: prompt.offset_seconds, text });
    }
    Ok(checked)
}

/// The rule without `RRULE:`; one line, one rule.
fn rule_text(rrule: &str) -> Result<String, HourError> {
    let text = rrule.trim();
    let text = match text.get(..6) {
        Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &text[6..],
        _ => text,
    };
    if text.is_empty() || text.contains([':', '\n', '\r']) {
        return Err(HourError::new("rrule", "one recurrence rule, such as FREQ=WEEKLY;BYDAY=TU"));
    }
    Ok(text.to_owned())
}

/// The recurrence of `rrule` from `dtstart` (wall-clock time in `zone`), refused when it
/// repeats more often than once a day.
fn rule_set(rrule: &str, dtstart: NaiveDateTime, zone: chrono_tz::Tz) -> Result<rrule::RRuleSet, HourError> {
    use rrule::Frequency;
    let start = zone.from_local_datetime(&dtstart).earliest().ok_or_else(|| {
        HourError::new("dtstart", format!("{dtstart} does not exist in {zone} (the clocks go forward then)"))
    })?;
    let rule: rrule::RRule<rrule::Unvalidated> = rule_text(rrule)?
        .parse()
        .map_err(|e| HourError::new("rrule", format!("not a recurrence rule: {e}")))?;
    if matches!(rule.get_freq(), Frequency::Hourly | Frequency::Minutely | Frequency::Secondly) {
        return Err(HourError::new(
            "rrule",
            "an hour repeats at most daily (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)",
        ));
    }
    let set = rule
        .build(start.with_timezone(&rrule::Tz::Tz(zone)))
        .map_err(|e| HourError::new("rrule", format!("not a usable recurrence rule: {e}")))?;
    let several = |r: &rrule::RRule| {
        r.get_by_hour().len() > 1 || r.get_by_minute().len() > 1 || r.get_by_second().len() > 1
    };
    if set.get_rrule().iter().any(several) {
        return Err(HourError::new(
            "rrule",
            "one start a day at most: give at most one BYHOUR, BYMINUTE and BYSECOND",
        ));
    }
    Ok(set)
}

/// The next `n` starts (UTC) strictly after `after` of the hour repeating by `rrule` (with or
/// without `RRULE:`) from `dtstart_local`, wall-clock time in `tz`. Fewer when the rule ends.
pub fn next_starts(
    rrule: &str,
    dtstart_local: NaiveDateTime,
    tz: &str,
    after: DateTime<Utc>,
    n: usize,
) -> Result<Vec<DateTime<Utc>>, HourError> {
    let zone = parse_timezone(tz)?;
    let set = rule_set(rrule, dtstart_local, zone)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    // `after` is inclusive in the rrule crate: one more, then the equal one is dropped.
    let limit = u16::try_from(n.saturating_add(1)).unwrap_or(u16::MAX);
    let dates = set.after(after.with_timezone(&rrule::Tz::Tz(zone))).all(limit).dates;
    Ok(dates.into_iter().map(|d| d.with_timezone(&Utc)).filter(|d| *d > after).take(n).collect())
}

/// Schedules an hour of `group`, asked for by `by` (one of its moderators): checks the
/// request, dates the first edition strictly after now and stores the hour with it and its
/// jobs. A host must be a member or moderator of the group.
pub async fn create(data: &FedData, group: &Actor, by: &Actor, req: HourRequest) -> Result<Hour, FedError> {
    let checked = req.validate()?;
    let first = next_starts(&checked.rrule, checked.dtstart, &checked.timezone, Utc::now(), 1)?
        .into_iter()
        .next()
        .ok_or_else(|| HourError::new("rrule", "the rule has no start after now"))?;
    let (group_id, by_id, host_id) = (group.id, by.id, checked.host_id);
    if let Some(refused) = data.db.run(move |c| refusal(c, group_id, by_id, host_id)).await? {
        return Err(refused);
    }
    let new = NewHour {
        group_id,
        title: checked.title,
        hashtag: checked.hashtag,
        rrule: checked.rrule,
        dtstart: checked.dtstart,
        timezone: checked.timezone,
        duration_minutes: checked.duration_minutes,
        intro: checked.intro,
        prompts: checked.prompts,
        host_id,
        created_by: Some(by_id),
    };
    let (hour, _) = data.db.run(move |c| hours::create(c, new, first.naive_utc())).await?;
    Ok(hour)
}

/// Why `by` may not schedule an hour in the group (with `host_id` as host), if they may not.
fn refusal(
    c: &mut DbConnection,
    group_id: i64,
    by: i64,
    host_id: Option<i64>,
) -> StorageResult<Option<FedError>> {
    let Some(group) = groups::get(c, group_id)? else { return Ok(Some(FedError::NotFound)) };
    let moderates = |c: &mut DbConnection, who: i64| -> StorageResult<bool> {
        Ok(group.owner_id == who || groups::is_moderator(c, group_id, who)?)
    };
    if !moderates(c, by)? {
        return Ok(Some(FedError::Forbidden("only the group's moderators may schedule its hours".into())));
    }
    if let Some(host) = host_id
        && !(moderates(c, host)? || groups::is_member(c, group_id, host)?)
    {
        return Ok(Some(HourError::new("host", "the host must be a member of the group").into()));
    }
    let running = hours::of_group(c, group_id)?.iter().filter(|h| !h.is_cancelled()).count();
    if running >= MAX_HOURS_PER_GROUP {
        let why = format!("a group may run at most {MAX_HOURS_PER_GROUP} hours at once");
        return Ok(Some(FedError::BadRequest(why)));
    }
    Ok(None)
}

/// What a step acts on.
struct Ctx {
    hour: Hour,
    edition: Edition,
    group: Actor,
    members_only: bool,
}

/// Runs one step job (its payload is a [`Step`]). A step of a cancelled hour, a removed
/// edition or a gone group does nothing; a step already done does nothing again. Jobs are
/// claimed when due, so `as_of` only matters to dating the next edition: starts missed while
/// the server was down are skipped.
pub async fn run_step(data: &FedData, job_payload: &str, as_of: Timestamp) -> Result<(), FedError> {
    let step: Step = serde_json::from_str(job_payload)?;
    let edition_id = step.edition_id;
    let Some(ctx) = data.db.run(move |c| load(c, edition_id)).await? else { return Ok(()) };
    match step.step {
        StepKind::Intro => post_intro(data, &ctx).await,
        StepKind::Prompt { number } => post_prompt(data, &ctx, number).await,
        StepKind::Recap => post_recap(data, &ctx).await,
        StepKind::Next => schedule_next(data, &ctx, as_of).await,
    }
}

fn load(c: &mut DbConnection, edition_id: i64) -> StorageResult<Option<Ctx>> {
    let Some(edition) = hours::find_edition(c, edition_id)? else { return Ok(None) };
    let Some(hour) = hours::find(c, edition.hour_id)?.filter(|h| !h.is_cancelled()) else { return Ok(None) };
    let group = actors::get(c, hour.group_id)?;
    let Some(settings) = groups::get(c, group.id)? else { return Ok(None) };
    if group.deleted_at.is_some() {
        return Ok(None);
    }
    let members_only = settings.visibility()? == GroupVisibility::Members;
    Ok(Some(Ctx { hour, edition, group, members_only }))
}

/// Whether the edition ended long enough ago that its intro and prompts are better skipped.
fn stale(edition: &Edition) -> bool {
    now() > edition.ends_at + STALE_AFTER
}

/// The group posts `text` into itself (an `Article` titled `title` when given), with `then`
/// run in the post's transaction. A failed post whose step is `done` meanwhile (another run
/// posted it: `then` found it recorded) is a success.
async fn post_step<F>(
    data: &FedData,
    ctx: &Ctx,
    text: String,
    title: Option<String>,
    then: Then,
    done: F,
) -> Result<(), FedError>
where
    F: FnOnce(&mut DbConnection) -> StorageResult<bool> + Send + 'static,
{
    let mut new = NewPost::public(&text);
    if ctx.members_only {
        new.visibility = Visibility::Private;
    }
    let group_id = ctx.group.id;
    let shape: Shape = Box::new(move |status: &mut Status| {
        status.group_id = Some(group_id);
        if let Some(title) = title {
            status.kind = "Article".into();
            status.title = Some(title);
        }
    });
    match actions::post_shaped(data, &ctx.group, new, shape, then).await {
        Ok(_) => Ok(()),
        Err(e) if data.db.run(done).await? => {
            tracing::debug!(error = %e, "an hour's step was posted by another run");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

async fn post_intro(data: &FedData, ctx: &Ctx) -> Result<(), FedError> {
    if ctx.edition.intro_status_id.is_some() || stale(&ctx.edition) {
        return Ok(());
    }
    let host_id = ctx.edition.host_id.or(ctx.hour.host_id);
    let host = match host_id {
        Some(id) => Some(data.db.run(move |c| actors::get(c, id)).await?),
        None => None,
    };
    let host = host.filter(|a| a.deleted_at.is_none()).map(|a| handle(&a, &data.config.domain.to_string()));
    let text = intro_text(&ctx.hour, &ctx.edition, host.as_deref(), data.urls.base());
    let edition_id = ctx.edition.id;
    let then: Then = Box::new(move |c, status| hours::set_intro(c, edition_id, status.id));
    let done = move |c: &mut DbConnection| Ok(hours::edition(c, edition_id)?.intro_status_id.is_some());
    post_step(data, ctx, text, None, then, done).await
}

/// The intro post: the intro (or the title), the host, the hashtag and the live page.
pub fn intro_text(hour: &Hour, edition: &Edition, host: Option<&str>, base_url: &str) -> String {
    let opening = if hour.intro.trim().is_empty() { hour.title.as_str() } else { hour.intro.as_str() };
    let mut text = format!("{opening}\n\n");
    if let Some(host) = host {
        text.push_str(&format!("Hosted by {host}\n"));
    }
    text.push_str(&format!(
        "#{}\nLive page: {base_url}/hours/{}/editions/{}",
        hour.hashtag, hour.id, edition.id
    ));
    text
}

async fn post_prompt(data: &FedData, ctx: &Ctx, number: i32) -> Result<(), FedError> {
    let edition_id = ctx.edition.id;
    let posted = move |c: &mut DbConnection| {
        Ok(hours::prompts_posted(c, edition_id)?.iter().any(|(n, _)| *n == number))
    };
    if stale(&ctx.edition) || data.db.run(posted).await? {
        return Ok(());
    }
    let prompts = ctx.hour.prompts()?;
    let Some(prompt) = usize::try_from(number - 1).ok().and_then(|i| prompts.get(i)) else { return Ok(()) };
    let text = prompt_text(number, &prompt.text, &ctx.hour.hashtag);
    let then: Then = Box::new(move |c, status| hours::record_prompt(c, edition_id, number, status.id));
    post_step(data, ctx, text, None, then, posted).await
}

/// A prompt post: `Q{n} {text} #{hashtag}` and how to answer it.
pub fn prompt_text(number: i32, text: &str, hashtag: &str) -> String {
    format!("Q{number} {text} #{hashtag}\n\nAnswer with A{number} and #{hashtag}, or reply to this post.")
}

/// What a recap says.
#[derive(Debug, Clone, PartialEq)]
pub struct RecapFacts {
    /// Each posted prompt: number, text, answers.
    pub prompts: Vec<(i32, String, usize)>,
    /// How many people answered.
    pub people: usize,
    /// Handles of those who answered for the first time (at most twenty).
    pub newcomers: Vec<String>,
    /// First-time participants beyond those named.
    pub more_newcomers: usize,
    /// The most-replied answers: URL and replies.
    pub top: Vec<(String, i64)>,
}

async fn post_recap(data: &FedData, ctx: &Ctx) -> Result<(), FedError> {
    if ctx.edition.recap_status_id.is_some() {
        return Ok(());
    }
    let (hour, edition, domain) = (ctx.hour.clone(), ctx.edition.clone(), data.config.domain.to_string());
    let Some(facts) = data.db.run(move |c| recap_facts(c, &hour, &edition, &domain)).await? else {
        return Ok(());
    };
    let text = recap_text(&ctx.hour, &facts);
    let title = format!("{} — recap, {}", ctx.hour.title, local_date(&ctx.hour, ctx.edition.starts_at));
    let edition_id = ctx.edition.id;
    let then: Then = Box::new(move |c, status| hours::set_recap(c, edition_id, status.id));
    let done = move |c: &mut DbConnection| Ok(hours::edition(c, edition_id)?.recap_status_id.is_some());
    post_step(data, ctx, text, Some(title), then, done).await
}

/// Counts an edition's answers and records its participants; `None` when the edition never
/// ran (no intro, no prompt posted: nothing to recap).
fn recap_facts(
    c: &mut DbConnection,
    hour: &Hour,
    edition: &Edition,
    domain: &str,
) -> StorageResult<Option<RecapFacts>> {
    let posted = hours::prompts_posted(c, edition.id)?;
    if posted.is_empty() && edition.intro_status_id.is_none() {
        return Ok(None);
    }
    let answers = hours::answers(c, edition)?;
    let mut people: Vec<i64> = answers.iter().map(|a| a.status.actor_id).collect();
    people.sort_unstable();
    people.dedup();
    let first = hours::record_participants(c, hour.id, edition.id, &people)?;
    let named = hours::people(c, &first[..first.len().min(NAMED_NEWCOMERS)])?;
    let texts = hour.prompts()?;
    let prompts = posted
        .iter()
        .filter_map(|(n, _)| {
            let text = usize::try_from(n - 1).ok().and_then(|i| texts.get(i))?.text.clone();
            Some((*n, text, answers.iter().filter(|a| a.number == *n).count()))
        })
        .collect();
    Ok(Some(RecapFacts {
        prompts,
        people: people.len(),
        newcomers: named.iter().map(|a| handle(a, domain)).collect(),
        more_newcomers: first.len().saturating_sub(NAMED_NEWCOMERS),
        top: top_answers(c, hour, &answers)?,
    }))
}

/// The most-replied answers anyone may be pointed to (public, unlisted, or in the group).
fn top_answers(c: &mut DbConnection, hour: &Hour, answers: &[Answer]) -> StorageResult<Vec<(String, i64)>> {
    let shown: Vec<&Status> = answers
        .iter()
        .map(|a| &a.status)
        .filter(|s| {
            s.is(Visibility::Public) || s.is(Visibility::Unlisted) || s.group_id == Some(hour.group_id)
        })
        .collect();
    let ids: Vec<i64> = shown.iter().map(|s| s.id).collect();
    let mut counts = guildhall_storage::statuses::reply_counts(c, &ids)?;
    counts.sort_by_key(|(id, n)| (std::cmp::Reverse(*n), *id));
    Ok(counts
        .into_iter()
        .take(TOP_ANSWERS)
        .filter_map(|(id, n)| {
            let status = shown.iter().find(|s| s.id == id)?;
            Some((status.url.clone().unwrap_or_else(|| status.ap_id.clone()), n))
        })
        .collect())
}

/// The recap's text: each prompt with its answers, who took part, the most-replied answers.
pub fn recap_text(hour: &Hour, facts: &RecapFacts) -> String {
    let mut text = format!("{} — recap\n\n", hour.title);
    for (n, prompt, answers) in &facts.prompts {
        text.push_str(&format!("Q{n} {prompt} — {}\n", plural(*answers, "answer", "answers")));
    }
    text.push_str(&match facts.people {
        0 => "\nNo one answered this time.\n".to_owned(),
        n => format!("\n{} took part.\n", plural(n, "person", "people")),
    });
    if !facts.newcomers.is_empty() {
        let more = match facts.more_newcomers {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        text.push_str(&format!("First time here: {}{more}. Welcome!\n", facts.newcomers.join(", ")));
    }
    if !facts.top.is_empty() {
        text.push_str("\nMost-replied answers:\n");
        for (url, replies) in &facts.top {
            text.push_str(&format!(
                "{url} ({})\n",
                plural(usize::try_from(*replies).unwrap_or(0), "reply", "replies")
            ));
        }
    }
    text.push_str(&format!("\n#{}", hour.hashtag));
    text
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A start's date in the hour's timezone (`8 December 2026`).
fn local_date(hour: &Hour, at: Timestamp) -> String {
    let utc = at.and_utc();
    match hour.timezone.parse::<chrono_tz::Tz>() {
        Ok(zone) => utc.with_timezone(&zone).format("%-d %B %Y").to_string(),
        Err(_) => utc.format("%-d %B %Y").to_string(),
    }
}

/// Dates the edition after this one (after `as_of` too, skipping starts missed while the
/// server was down), unless the hour was cancelled meanwhile or its rule has ended.
async fn schedule_next(data: &FedData, ctx: &Ctx, as_of: Timestamp) -> Result<(), FedError> {
    let hour = ctx.hour.clone();
    let after = ctx.edition.starts_at.max(as_of).and_utc();
    let Some(start) = next_starts(&hour.rrule, hour.dtstart, &hour.timezone, after, 1)?.into_iter().next()
    else {
        return Ok(());
    };
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                if hours::get(c, hour.id)?.is_cancelled() {
                    return Ok(());
                }
                hours::schedule_edition(c, &hour, start.naive_utc()).map(|_| ())
            })
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;

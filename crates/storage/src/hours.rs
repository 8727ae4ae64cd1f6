//! Discussion hours: a group's recurring hour ([`Hour`]: an RRULE in a timezone, a hashtag, an
//! intro and timed prompts), its dated [`Edition`]s, the prompts each edition posted, and who
//! has taken part.
//!
//! Every step of an edition (intro, each prompt, recap, and scheduling the next edition) is a
//! job of the durable queue ([`crate::jobs`]) on [`STEP_QUEUE`], written with the edition in one
//! transaction, so a restart loses none. What was posted is recorded in the post's own
//! transaction ([`record_prompt`], [`set_intro`], [`set_recap`]), and a second recording fails,
//! so a step run twice (a lease that ran out, a second process) posts once. The federation
//! crate computes the dates and posts; this module only stores.

use chrono::Duration;
use diesel::prelude::*;
use guildhall_core::Id;
use guildhall_core::model::Visibility;
use serde::{Deserialize, Serialize};

use crate::actors::Actor;
use crate::jobs::{self, NewJob};
use crate::schema::{
    actors, discussion_hours, hour_editions, hour_participants, hour_prompts, status_tags, statuses,
};
use crate::statuses::Status;
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now};

/// The job queue that runs the steps of editions.
pub const STEP_QUEUE: &str = "hour_step";
/// Attempts a step gets before it is given up.
const STEP_ATTEMPTS: i32 = 20;
/// How long after an edition's end a hashtag post still counts as an answer, in seconds.
pub const ANSWER_GRACE_SECONDS: i64 = 3600;
/// Most answers of each kind (replies, hashtag posts) one edition reads.
const MAX_ANSWERS: i64 = 5_000;

/// A group's recurring hour.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = discussion_hours)]
pub struct Hour {
    /// Our id.
    pub id: i64,
    /// The group that hosts it and posts its steps.
    pub group_id: i64,
    /// Its name, plain text.
    pub title: String,
    /// Its hashtag, without `#`, as given.
    pub hashtag: String,
    /// The recurrence rule (`FREQ=WEEKLY;BYDAY=TU`, without `RRULE:`).
    pub rrule: String,
    /// The first start, wall-clock time in [`Hour::timezone`].
    pub dtstart: Timestamp,
    /// IANA timezone of the rule.
    pub timezone: String,
    /// Length of an edition.
    pub duration_minutes: i32,
    /// The intro text, plain text.
    pub intro: String,
    /// The prompts as JSON ([`Hour::prompts`]).
    pub prompts: String,
    /// The usual host, a member.
    pub host_id: Option<i64>,
    /// Who scheduled it.
    pub created_by: Option<i64>,
    /// Cancelled at: no further edition runs.
    pub cancelled_at: Option<Timestamp>,
    /// Row creation.
    pub created_at: Timestamp,
    /// Last row change.
    pub updated_at: Timestamp,
}

/// One prompt of an hour: its text, posted `offset_seconds` after an edition starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// Seconds after the start.
    pub offset_seconds: i64,
    /// The question, plain text.
    pub text: String,
}

impl Hour {
    /// The prompts, in order (prompt `n` is at index `n - 1`).
    pub fn prompts(&self) -> StorageResult<Vec<Prompt>> {
        serde_json::from_str(&self.prompts).map_err(|e| StorageError::Corrupt(format!("hour prompts: {e}")))
    }

    /// Length of an edition.
    pub fn duration(&self) -> Duration {
        Duration::minutes(i64::from(self.duration_minutes))
    }

    /// Whether it was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled_at.is_some()
    }
}

/// One dated edition of an hour.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = hour_editions)]
pub struct Edition {
    /// Our id.
    pub id: i64,
    /// The hour.
    pub hour_id: i64,
    /// Start (UTC).
    pub starts_at: Timestamp,
    /// End (UTC).
    pub ends_at: Timestamp,
    /// A guest host for this date (else the hour's host).
    pub host_id: Option<i64>,
    /// The intro the group posted.
    pub intro_status_id: Option<i64>,
    /// The recap the group posted.
    pub recap_status_id: Option<i64>,
    /// Row creation.
    pub created_at: Timestamp,
}

/// A new hour, checked by the caller (the federation crate validates every field).
#[derive(Debug, Clone, PartialEq)]
pub struct NewHour {
    /// The group.
    pub group_id: i64,
    /// Its name.
    pub title: String,
    /// Its hashtag, without `#`.
    pub hashtag: String,
    /// The recurrence rule, without `RRULE:`.
    pub rrule: String,
    /// The first start, wall-clock time in `timezone`.
    pub dtstart: Timestamp,
    /// IANA timezone.
    pub timezone: String,
    /// Length of an edition.
    pub duration_minutes: i32,
    /// The intro.
    pub intro: String,
    /// The prompts, in order.
    pub prompts: Vec<Prompt>,
    /// The usual host.
    pub host_id: Option<i64>,
    /// Who scheduled it.
    pub created_by: Option<i64>,
}

/// A step job's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The edition it belongs to.
    pub edition_id: i64,
    /// What to do.
    pub step: StepKind,
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// Post the intro (at the start).
    Intro,
    /// Post prompt `number` (1-based).
    Prompt {
        /// Which prompt, from 1.
        number: i32,
    },
    /// Post the recap (at the end).
    Recap,
    /// Schedule the following edition (at the start).
    Next,
}

/// Stores an hour with its first edition (starting at `first_start`, UTC) and that edition's
/// jobs, in one transaction. Returns both.
pub fn create(
    conn: &mut DbConnection,
    new: NewHour,
    first_start: Timestamp,
) -> StorageResult<(Hour, Edition)> {
    let prompts = serde_json::to_string(&new.prompts)
        .map_err(|e| StorageError::Corrupt(format!("hour prompts: {e}")))?;
    let stamp = now();
    let hour = Hour {
        id: Id::generate().0,
        group_id: new.group_id,
        title: new.title,
        hashtag: new.hashtag,
        rrule: new.rrule,
        dtstart: new.dtstart,
        timezone: new.timezone,
        duration_minutes: new.duration_minutes,
        intro: new.intro,
        prompts,
        host_id: new.host_id,
        created_by: new.created_by,
        cancelled_at: None,
        created_at: stamp,
        updated_at: stamp,
    };
    crate::transaction(conn, |conn| {
        diesel::insert_into(discussion_hours::table).values(&hour).execute(conn)?;
        let edition = schedule_edition(conn, &hour, first_start)?;
        Ok((hour.clone(), edition))
    })
}

/// Adds the edition of `hour` starting at `starts_at` (UTC) with one job per step: the intro
/// and scheduling the next edition at the start, each prompt at its offset, the recap at the
/// end. An edition already there for that start is returned as it is (nothing is queued
/// again); a concurrent twin fails on the unique (hour, start) and rolls back.
pub fn schedule_edition(
    conn: &mut DbConnection,
    hour: &Hour,
    starts_at: Timestamp,
) -> StorageResult<Edition> {
    crate::transaction(conn, |conn| {
        if let Some(existing) = edition_at(conn, hour.id, starts_at)? {
            return Ok(existing);
        }
        let edition = Edition {
            id: Id::generate().0,
            hour_id: hour.id,
            starts_at,
            ends_at: starts_at + hour.duration(),
            host_id: None,
            intro_status_id: None,
            recap_status_id: None,
            created_at: now(),
        };
        diesel::insert_into(hour_editions::table).values(&edition).execute(conn)?;
        jobs::enqueue_many(conn, step_jobs(hour, &edition)?)?;
        Ok(edition)
    })
}

fn edition_at(conn: &mut DbConnection, hour_id: i64, starts_at: Timestamp) -> StorageResult<Option<Edition>> {
    Ok(hour_editions::table
        .filter(hour_editions::hour_id.eq(hour_id))
        .filter(hour_editions::starts_at.eq(starts_at))
        .select(Edition::as_select())
        .first(conn)
        .optional()?)
}

/// The jobs of an edition's steps, in the order they run.
fn step_jobs(hour: &Hour, edition: &Edition) -> StorageResult<Vec<NewJob>> {
    let start = edition.starts_at;
    let mut steps = vec![(StepKind::Intro, start), (StepKind::Next, start)];
    for (i, prompt) in hour.prompts()?.iter().enumerate() {
        let number = i32::try_from(i + 1).map_err(|_| StorageError::Corrupt("too many prompts".into()))?;
        steps.push((StepKind::Prompt { number }, start + Duration::seconds(prompt.offset_seconds)));
    }
    steps.push((StepKind::Recap, edition.ends_at));
    steps.sort_by_key(|(_, at)| *at);
    steps
        .into_iter()
        .map(|(step, run_at)| {
            let payload = serde_json::to_string(&Step { edition_id: edition.id, step })
                .map_err(|e| StorageError::Corrupt(e.to_string()))?;
            Ok(NewJob {
                queue: STEP_QUEUE.into(),
                payload,
                partition_key: None,
                run_at,
                max_attempts: STEP_ATTEMPTS,
            })
        })
        .collect()
}

/// The hour with this id.
pub fn get(conn: &mut DbConnection, id: i64) -> StorageResult<Hour> {
    Ok(discussion_hours::table.find(id).select(Hour::as_select()).first(conn)?)
}

/// The hour with this id, if it exists.
pub fn find(conn: &mut DbConnection, id: i64) -> StorageResult<Option<Hour>> {
    Ok(discussion_hours::table.find(id).select(Hour::as_select()).first(conn).optional()?)
}

/// A group's hours, newest first, cancelled ones included ([`Hour::is_cancelled`]).
pub fn of_group(conn: &mut DbConnection, group_id: i64) -> StorageResult<Vec<Hour>> {
    Ok(discussion_hours::table
        .filter(discussion_hours::group_id.eq(group_id))
        .order(discussion_hours::id.desc())
        .select(Hour::as_select())
        .load(conn)?)
}

/// The edition with this id.
pub fn edition(conn: &mut DbConnection, id: i64) -> StorageResult<Edition> {
    Ok(hour_editions::table.find(id).select(Edition::as_select()).first(conn)?)
}

/// The edition with this id, if it exists.
pub fn find_edition(conn: &mut DbConnection, id: i64) -> StorageResult<Option<Edition>> {
    Ok(hour_editions::table.find(id).select(Edition::as_select()).first(conn).optional()?)
}

/// An hour's editions, latest start first (the first is the next one to come, once an edition
/// has started: each schedules the following one at its start).
pub fn editions(conn: &mut DbConnection, hour_id: i64, limit: i64) -> StorageResult<Vec<Edition>> {
    Ok(hour_editions::table
        .filter(hour_editions::hour_id.eq(hour_id))
        .order(hour_editions::starts_at.desc())
        .limit(limit.clamp(1, 500))
        .select(Edition::as_select())
        .load(conn)?)
}

/// The prompts an edition posted: `(number, status id)`, by number.
pub fn prompts_posted(conn: &mut DbConnection, edition_id: i64) -> StorageResult<Vec<(i32, i64)>> {
    Ok(hour_prompts::table
        .filter(hour_prompts::edition_id.eq(edition_id))
        .order(hour_prompts::number)
        .select((hour_prompts::number, hour_prompts::status_id))
        .load(conn)?)
}

/// Records that prompt `number` of an edition was posted as `status_id`. Call in the post's
/// transaction: a second recording fails ([`StorageError::Duplicate`]) and rolls it back.
pub fn record_prompt(
    conn: &mut DbConnection,
    edition_id: i64,
    number: i32,
    status_id: i64,
) -> StorageResult<()> {
    diesel::insert_into(hour_prompts::table)
        .values((
            hour_prompts::edition_id.eq(edition_id),
            hour_prompts::number.eq(number),
            hour_prompts::status_id.eq(status_id),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records an edition's intro. Call in the post's transaction: when an intro is recorded
/// already this fails with [`StorageError::Conflict`], rolling the post back.
pub fn set_intro(conn: &mut DbConnection, edition_id: i64, status_id: i64) -> StorageResult<()> {
    let changed = diesel::update(
        hour_editions::table.find(edition_id).filter(hour_editions::intro_status_id.is_null()),
    )
    .set(hour_editions::intro_status_id.eq(Some(status_id)))
    .execute(conn)?;
    once(changed, "the intro of this edition is posted already")
}

/// Records an edition's recap; fails like [`set_intro`] when one is recorded already.
pub fn set_recap(conn: &mut DbConnection, edition_id: i64, status_id: i64) -> StorageResult<()> {
    let changed = diesel::update(
        hour_editions::table.find(edition_id).filter(hour_editions::recap_status_id.is_null()),
    )
    .set(hour_editions::recap_status_id.eq(Some(status_id)))
    .execute(conn)?;
    once(changed, "the recap of this edition is posted already")
}

fn once(changed: usize, why: &str) -> StorageResult<()> {
    if changed == 1 { Ok(()) } else { Err(StorageError::Conflict(why.into())) }
}

/// Cancels an hour: no step of it runs any more, and its editions still to start are removed
/// (the past ones stay in the archive). Returns false when it was cancelled already.
pub fn cancel(conn: &mut DbConnection, hour_id: i64) -> StorageResult<bool> {
    crate::transaction(conn, |conn| {
        let stamp = now();
        let changed = diesel::update(
            discussion_hours::table.find(hour_id).filter(discussion_hours::cancelled_at.is_null()),
        )
        .set((discussion_hours::cancelled_at.eq(Some(stamp)), discussion_hours::updated_at.eq(stamp)))
        .execute(conn)?;
        diesel::delete(
            hour_editions::table
                .filter(hour_editions::hour_id.eq(hour_id))
                .filter(hour_editions::starts_at.gt(stamp))
                .filter(hour_editions::intro_status_id.is_null()),
        )
        .execute(conn)?;
        Ok(changed == 1)
    })
}

/// Sets (or clears, back to the hour's host) the guest host of one edition.
pub fn set_edition_host(conn: &mut DbConnection, edition_id: i64, host_id: Option<i64>) -> StorageResult<()> {
    let changed = diesel::update(hour_editions::table.find(edition_id))
        .set(hour_editions::host_id.eq(host_id))
        .execute(conn)?;
    if changed == 1 { Ok(()) } else { Err(StorageError::NotFound) }
}

/// One answer to one prompt of an edition.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The prompt it answers (from 1).
    pub number: i32,
    /// The answer.
    pub status: Status,
}

/// The answers of an edition, by prompt number then age: live replies to the edition's
/// prompts, and live posts with the hour's hashtag published from the start until
/// [`ANSWER_GRACE_SECONDS`] after the end whose text starts with `A{n}` (any case; leading
/// mentions and hashtags skipped: see [`answer_number`]). The group's own posts, boosts, and
/// direct messages outside the group are not answers. The caller decides who may see each.
pub fn answers(conn: &mut DbConnection, edition: &Edition) -> StorageResult<Vec<Answer>> {
    let hour = get(conn, edition.hour_id)?;
    let count = i32::try_from(hour.prompts()?.len()).unwrap_or(i32::MAX);
    let posted = prompts_posted(conn, edition.id)?;
    let prompt_ids: Vec<i64> = posted.iter().map(|(_, id)| *id).collect();
    let members_only = match crate::groups::get(conn, hour.group_id)? {
        Some(group) => group.visibility()? == guildhall_core::model::GroupVisibility::Members,
        None => false,
    };
    let replies = answer_query(&hour, members_only)
        .filter(statuses::in_reply_to_id.eq_any(&prompt_ids))
        .select(Status::as_select())
        .load(conn)?;
    let until = edition.ends_at + Duration::seconds(ANSWER_GRACE_SECONDS);
    let with_tag = status_tags::table
        .filter(status_tags::tag.eq(hour.hashtag.to_lowercase()))
        .select(status_tags::status_id);
    let tagged = answer_query(&hour, members_only)
        .filter(statuses::id.eq_any(with_tag))
        .filter(statuses::published_at.ge(edition.starts_at))
        .filter(statuses::published_at.le(until))
        .filter(statuses::id.ne_all(&prompt_ids))
        .select(Status::as_select())
        .load(conn)?;
    let mut found: Vec<Answer> = Vec::new();
    for status in replies {
        if let Some(&(number, _)) = posted.iter().find(|(_, id)| Some(*id) == status.in_reply_to_id) {
            found.push(Answer { number, status });
        }
    }
    for status in tagged {
        let number = answer_number(&status_text(&status));
        if let Some(number) = number.filter(|n| (1..=count).contains(n))
            && !found.iter().any(|a| a.status.id == status.id)
        {
            found.push(Answer { number, status });
        }
    }
    found.sort_by_key(|a| (a.number, a.status.id));
    Ok(found)
}

/// Live statuses that may be answers of `hour` (filters common to both kinds).
fn answer_query<'a>(hour: &Hour, members_only: bool) -> statuses::BoxedQuery<'a, crate::MultiBackend> {
    let mut query = statuses::table.into_boxed();
    if members_only {
        // A members-only group's hour counts only what was posted in the group: a stranger's
        // public "A1 #tag" must not reach its recap (and, named there, its members' posts).
        query = query.filter(statuses::group_id.eq(hour.group_id));
    }
    query
        .filter(statuses::deleted_at.is_null())
        .filter(statuses::reblog_of_id.is_null())
        .filter(statuses::actor_id.ne(hour.group_id))
        .filter(statuses::visibility.ne(Visibility::Direct.as_str()).or(statuses::group_id.eq(hour.group_id)))
        .order(statuses::id)
        .limit(MAX_ANSWERS)
}

/// The text of a status as typed (ours) or its content without markup (another server's).
fn status_text(status: &Status) -> String {
    match &status.source {
        Some(source) => source.clone(),
        None => strip_markup(&status.content),
    }
}

fn strip_markup(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(ch),
            _ => {}
        }
    }
    text.replace("&nbsp;", " ")
}

/// The prompt number a text answers: its first word that is not a mention or hashtag is
/// `A{n}` (any case), alone or followed by punctuation (`A1`, `a1.`, `A1:`), with `n` ≥ 1.
///
/// ```
/// use guildhall_storage::hours::answer_number;
/// assert_eq!(answer_number("A2: the archive"), Some(2));
/// assert_eq!(answer_number("@group@example.org a12. yes"), Some(12));
/// assert_eq!(answer_number("Also A1"), None);
/// assert_eq!(answer_number("A1b"), None);
/// ```
pub fn answer_number(text: &str) -> Option<i32> {
    let word = text.split_whitespace().find(|w| !w.starts_with('@') && !w.starts_with('#'))?;
    let rest = word.strip_prefix(['A', 'a'])?;
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || rest[digits..].chars().next().is_some_and(char::is_alphanumeric) {
        return None;
    }
    rest[..digits].parse().ok().filter(|n| *n > 0)
}

/// Records who answered in an edition; returns, sorted, those taking part in the hour for
/// the first time with this edition (asking again for the same edition answers the same).
pub fn record_participants(
    conn: &mut DbConnection,
    hour_id: i64,
    edition_id: i64,
    actor_ids: &[i64],
) -> StorageResult<Vec<i64>> {
    let mut ids = actor_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    crate::transaction(conn, |conn| {
        let mut first = Vec::new();
        for chunk in ids.chunks(1_000) {
            let known: Vec<(i64, i64)> = hour_participants::table
                .filter(hour_participants::hour_id.eq(hour_id))
                .filter(hour_participants::actor_id.eq_any(chunk))
                .select((hour_participants::actor_id, hour_participants::first_edition_id))
                .load(conn)?;
            for &actor_id in chunk {
                match known.iter().find(|(a, _)| *a == actor_id) {
                    Some((_, since)) if *since != edition_id => {}
                    Some(_) => first.push(actor_id),
                    None => {
                        diesel::insert_into(hour_participants::table)
                            .values((
                                hour_participants::hour_id.eq(hour_id),
                                hour_participants::actor_id.eq(actor_id),
                                hour_participants::first_edition_id.eq(edition_id),
                            ))
                            .execute(conn)?;
                        first.push(actor_id);
                    }
                }
            }
        }
        Ok(first)
    })
}

/// The actors with these ids (participants named in a recap), in id order.
pub fn people(conn: &mut DbConnection, ids: &[i64]) -> StorageResult<Vec<Actor>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(1_000) {
        found.extend(actors::table.filter(actors::id.eq_any(chunk)).select(Actor::as_select()).load(conn)?);
    }
    found.sort_by_key(|a: &Actor| a.id);
    Ok(found)
}

#[cfg(test)]
mod tests;

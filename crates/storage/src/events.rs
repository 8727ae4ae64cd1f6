//! Events: a status of kind `Event` with its fields ([`Event`]), and who is coming
//! ([`Participant`]).
//!
//! For our events this table is the truth: a `Join` is decided here (accepted while places
//! remain, else the waiting list, or pending for the organizer in restricted events), and a
//! `Leave` promotes the first on the waiting list in the same transaction. For another
//! server's events we keep the counts its origin tells us and our own members' answers.

use diesel::prelude::*;
use guildhall_core::Id;
use guildhall_core::model::{EventStatus, JoinMode, Participation};

use crate::actors::Actor;
use crate::jobs::{self, NewJob};
use crate::schema::{event_participants, event_reminders_sent, events, statuses};
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now, parse_text};

/// The job queue that sends event reminders.
pub const REMINDER_QUEUE: &str = "event_reminder";
/// The job queue that sends one of our events' new counts to its remote participants.
pub const COUNTS_QUEUE: &str = "event_counts";
/// How long new counts wait for more answers before they go out.
pub const COUNTS_DELAY: chrono::Duration = chrono::Duration::seconds(10);

/// Most places an event may offer (and most a remote count is believed up to).
pub const MAX_CAPACITY: i32 = 1_000_000;

/// An event's own fields; its text, author, group and visibility are its status's.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = events, treat_none_as_null = true)]
pub struct Event {
    /// The status that is the event.
    pub status_id: i64,
    /// Its name, plain text.
    pub name: String,
    /// Start (UTC).
    pub starts_at: Timestamp,
    /// End (UTC).
    pub ends_at: Option<Timestamp>,
    /// IANA timezone the organizer gave.
    pub timezone: Option<String>,
    /// The place's name.
    pub place_name: Option<String>,
    /// Street address.
    pub street: Option<String>,
    /// Town or city.
    pub locality: Option<String>,
    /// Postcode.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// The call or stream to join online.
    pub online_url: Option<String>,
    /// Places; `None` for no limit.
    pub capacity: Option<i32>,
    /// [`JoinMode`] spelling.
    pub join_mode: String,
    /// Where to register (external events).
    pub external_url: Option<String>,
    /// [`EventStatus`] spelling.
    pub event_status: String,
    /// Category (Mobilizon's, free text).
    pub category: Option<String>,
    /// Another server's event: how many are coming, as its origin says.
    pub remote_participants: Option<i32>,
    /// Another server's event: places left, as its origin says.
    pub remote_remaining: Option<i32>,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Event {
    /// How one takes part.
    pub fn join_mode(&self) -> StorageResult<JoinMode> {
        parse_text(&self.join_mode, JoinMode::parse)
    }

    /// Whether it goes ahead.
    pub fn status(&self) -> StorageResult<EventStatus> {
        parse_text(&self.event_status, EventStatus::parse)
    }
}

/// One actor's answer to one event.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = event_participants)]
pub struct Participant {
    /// Our id (time-sortable: the waiting list's order).
    pub id: i64,
    /// The event's status.
    pub event_id: i64,
    /// Who.
    pub actor_id: i64,
    /// [`Participation`] spelling.
    pub state: String,
    /// What they wrote when asking to join.
    pub message: Option<String>,
    /// The `Join` activity's id (ours when a local member joins a remote event).
    pub ap_id: Option<String>,
    /// They agreed to be listed to other attendees and members.
    pub listed: bool,
    /// Asked at.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Participant {
    /// Where they stand.
    pub fn state(&self) -> StorageResult<Participation> {
        parse_text(&self.state, Participation::parse)
    }
}

/// How many stand where, for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Coming.
    pub accepted: i64,
    /// On the waiting list.
    pub waiting: i64,
    /// Waiting for the organizer.
    pub pending: i64,
}

/// Why a `Join` was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefused {
    /// The event registers people elsewhere.
    External,
    /// The event is cancelled or already over.
    Closed,
    /// Only invited people may come.
    InviteOnly,
}

impl std::fmt::Display for JoinRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JoinRefused::External => "this event takes registrations on another site",
            JoinRefused::Closed => "this event is cancelled or over",
            JoinRefused::InviteOnly => "only people the organizer invites may join this event",
        })
    }
}

/// Writes an event's fields (new, or replacing what was there).
pub fn upsert(conn: &mut DbConnection, event: &Event) -> StorageResult<()> {
    let changed = diesel::update(events::table.find(event.status_id)).set(event).execute(conn)?;
    if changed == 0 {
        diesel::insert_into(events::table).values(event).execute(conn)?;
    }
    Ok(())
}

/// Takes the event's row lock (PostgreSQL; SQLite's transactions hold the write lock
/// already), so concurrent joins and leaves of one event count and promote one at a time.
fn lock(conn: &mut DbConnection, event_id: i64) -> StorageResult<()> {
    if let DbConnection::Pg(pg) = conn {
        events::table.find(event_id).select(events::status_id).for_update().first::<i64>(pg).optional()?;
    }
    Ok(())
}

/// The event of this status, if it is one.
pub fn find(conn: &mut DbConnection, status_id: i64) -> StorageResult<Option<Event>> {
    Ok(events::table.find(status_id).select(Event::as_select()).first(conn).optional()?)
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct Range {
    /// Only this group's events.
    pub group_id: Option<i64>,
    /// Only those someone takes part in (accepted, waiting or pending).
    pub attendee: Option<i64>,
    /// Ending (or, without an end, starting) at or after this.
    pub from: Option<Timestamp>,
    /// Starting before this.
    pub to: Option<Timestamp>,
    /// At most this many.
    pub limit: i64,
    /// Public events only (what an anonymous visitor may see, decided in the query rather
    /// than event by event).
    pub public_only: bool,
}

/// Events in a range, soonest first, live statuses only (the caller decides who may see each).
pub fn list(conn: &mut DbConnection, range: &Range) -> StorageResult<Vec<Event>> {
    let mut query = events::table
        .inner_join(statuses::table)
        .filter(statuses::deleted_at.is_null())
        .select(Event::as_select())
        .order((events::starts_at, events::status_id))
        .limit(range.limit.clamp(1, 500))
        .into_boxed();
    if let Some(group) = range.group_id {
        query = query.filter(statuses::group_id.eq(group).or(statuses::actor_id.eq(group)));
    }
    if let Some(from) = range.from {
        query = query
            .filter(events::ends_at.ge(from).or(events::ends_at.is_null().and(events::starts_at.ge(from))));
    }
    if let Some(to) = range.to {
        query = query.filter(events::starts_at.lt(to));
    }
    if range.public_only {
        query = query.filter(statuses::visibility.eq(guildhall_core::model::Visibility::Public.as_str()));
    }
    if range.attendee.is_none() {
        // Unlisted means out of listings, as for posts.
        query = query.filter(statuses::visibility.ne(guildhall_core::model::Visibility::Unlisted.as_str()));
    }
    if let Some(actor) = range.attendee {
        let mine = event_participants::table
            .filter(event_participants::actor_id.eq(actor))
            .filter(event_participants::state.eq_any(COMING))
            .select(event_participants::event_id);
        query = query.filter(events::status_id.eq_any(mine));
    }
    Ok(query.load(conn)?)
}

/// States of someone who means to come (or is waiting to be let in).
const COMING: [&str; 3] = ["accepted", "waiting", "pending"];

/// How many stand where.
pub fn counts(conn: &mut DbConnection, event_id: i64) -> StorageResult<Counts> {
    use diesel::dsl::count_star;
    let rows: Vec<(String, i64)> = event_participants::table
        .filter(event_participants::event_id.eq(event_id))
        .group_by(event_participants::state)
        .select((event_participants::state, count_star()))
        .load(conn)?;
    let mut counts = Counts::default();
    for (state, n) in rows {
        match Participation::parse(&state) {
            Some(Participation::Accepted) => counts.accepted = n,
            Some(Participation::Waiting) => counts.waiting = n,
            Some(Participation::Pending) => counts.pending = n,
            _ => {}
        }
    }
    Ok(counts)
}

/// Places left (`None`: no limit).
pub fn remaining(event: &Event, counts: Counts) -> Option<i64> {
    event.capacity.map(|c| (i64::from(c) - counts.accepted).max(0))
}

/// `actor`'s answer to the event, if any.
pub fn participation(
    conn: &mut DbConnection,
    event_id: i64,
    actor_id: i64,
) -> StorageResult<Option<Participant>> {
    Ok(event_participants::table
        .filter(event_participants::event_id.eq(event_id))
        .filter(event_participants::actor_id.eq(actor_id))
        .select(Participant::as_select())
        .first(conn)
        .optional()?)
}

/// The answer with this id.
pub fn participant(conn: &mut DbConnection, id: i64) -> StorageResult<Option<Participant>> {
    Ok(event_participants::table.find(id).select(Participant::as_select()).first(conn).optional()?)
}

/// The answer recorded under this `Join` id.
pub fn find_by_ap_id(conn: &mut DbConnection, ap_id: &str) -> StorageResult<Option<Participant>> {
    Ok(event_participants::table
        .filter(event_participants::ap_id.eq(ap_id))
        .select(Participant::as_select())
        .first(conn)
        .optional()?)
}

/// What a `Join` asks for.
#[derive(Debug, Clone, Default)]
pub struct JoinRequest {
    /// A message to the organizer.
    pub message: Option<String>,
    /// The `Join` activity's id.
    pub ap_id: Option<String>,
    /// Agrees to be listed to other attendees.
    pub listed: bool,
}

/// Decides a `Join` of one of our events: accepted while places remain, the waiting list
/// when full, pending for the organizer in restricted events. Asking again answers the
/// standing answer (a refused asker may not ask their way back in); a "maybe" is decided
/// like a new ask.
pub fn join_local(
    conn: &mut DbConnection,
    event: &Event,
    actor_id: i64,
    ask: JoinRequest,
) -> StorageResult<Result<Participant, JoinRefused>> {
    crate::transaction(conn, |conn| {
        lock(conn, event.status_id)?;
        let existing = participation(conn, event.status_id, actor_id)?;
        if let Some(p) = &existing
            && p.state()? != Participation::Maybe
        {
            return Ok(Ok(p.clone()));
        }
        let state = match (event.status()?, event.join_mode()?) {
            (EventStatus::Cancelled, _) => return Ok(Err(JoinRefused::Closed)),
            _ if event.ends_at.unwrap_or(event.starts_at) < now() => return Ok(Err(JoinRefused::Closed)),
            (_, JoinMode::External) => return Ok(Err(JoinRefused::External)),
            (_, JoinMode::Invite) => return Ok(Err(JoinRefused::InviteOnly)),
            (_, JoinMode::Restricted) => Participation::Pending,
            (_, JoinMode::Free) => place_or_wait(conn, event)?,
        };
        match existing {
            Some(maybe) => {
                set_state(conn, maybe.id, state)?;
                Ok(Ok(Participant { state: state.as_str().to_owned(), ..maybe }))
            }
            None => Ok(Ok(insert(conn, event.status_id, actor_id, state, ask)?)),
        }
    })
}

/// Records a local member's `Join` of another server's event, pending its answer.
pub fn join_remote(
    conn: &mut DbConnection,
    event_id: i64,
    actor_id: i64,
    ask: JoinRequest,
) -> StorageResult<Participant> {
    match participation(conn, event_id, actor_id)? {
        Some(existing) => Ok(existing),
        None => insert(conn, event_id, actor_id, Participation::Pending, ask),
    }
}

fn place_or_wait(conn: &mut DbConnection, event: &Event) -> StorageResult<Participation> {
    let full = remaining(event, counts(conn, event.status_id)?) == Some(0);
    Ok(if full { Participation::Waiting } else { Participation::Accepted })
}

fn insert(
    conn: &mut DbConnection,
    event_id: i64,
    actor_id: i64,
    state: Participation,
    ask: JoinRequest,
) -> StorageResult<Participant> {
    let stamp = now();
    let row = Participant {
        id: Id::generate().0,
        event_id,
        actor_id,
        state: state.as_str().to_owned(),
        message: ask.message,
        ap_id: ask.ap_id,
        listed: ask.listed,
        created_at: stamp,
        updated_at: stamp,
    };
    diesel::insert_into(event_participants::table).values(&row).execute(conn)?;
    Ok(row)
}

/// Sets where someone stands (an answer from the organizer or from another server).
pub fn set_state(conn: &mut DbConnection, id: i64, state: Participation) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::update(event_participants::table.find(id))
            .set((event_participants::state.eq(state.as_str()), event_participants::updated_at.eq(now())))
            .execute(conn)?;
        Ok(())
    })
}

/// The organizer's answer to a pending asker of one of our events: accepting someone into a
/// full event puts them on the waiting list. Returns the new state.
pub fn decide(conn: &mut DbConnection, event: &Event, id: i64, accept: bool) -> StorageResult<Participation> {
    crate::transaction(conn, |conn| {
        lock(conn, event.status_id)?;
        let state = match accept {
            true => place_or_wait(conn, event)?,
            false => Participation::Rejected,
        };
        set_state(conn, id, state)?;
        Ok(state)
    })
}

/// Someone leaves one of our events; the first on the waiting list takes a freed place (in
/// the same transaction). Returns who left and who was promoted.
pub fn leave_local(
    conn: &mut DbConnection,
    event: &Event,
    actor_id: i64,
) -> StorageResult<(Option<Participant>, Option<Participant>)> {
    crate::transaction(conn, |conn| {
        lock(conn, event.status_id)?;
        let Some(left) = participation(conn, event.status_id, actor_id)? else { return Ok((None, None)) };
        // A refused asker stays refused: leaving must not let them ask again.
        if left.state()? == Participation::Rejected {
            return Ok((None, None));
        }
        diesel::delete(event_participants::table.find(left.id)).execute(conn)?;
        if left.state()? != Participation::Accepted {
            return Ok((Some(left), None));
        }
        let next: Option<Participant> = event_participants::table
            .filter(event_participants::event_id.eq(event.status_id))
            .filter(event_participants::state.eq(Participation::Waiting.as_str()))
            .order(event_participants::id)
            .select(Participant::as_select())
            .first(conn)
            .optional()?;
        let promoted = match next {
            Some(p) if place_or_wait(conn, event)? == Participation::Accepted => {
                set_state(conn, p.id, Participation::Accepted)?;
                Some(Participant { state: Participation::Accepted.as_str().to_owned(), ..p })
            }
            _ => None,
        };
        Ok((Some(left), promoted))
    })
}

/// Removes an answer (a local member leaving another server's event); returns it.
pub fn remove(conn: &mut DbConnection, event_id: i64, actor_id: i64) -> StorageResult<Option<Participant>> {
    let found = participation(conn, event_id, actor_id)?;
    if let Some(p) = &found {
        diesel::delete(event_participants::table.find(p.id)).execute(conn)?;
    }
    Ok(found)
}

/// Queues the sending of an event's counts, unless a send is queued already (a burst of
/// answers sends one `Update`, not one per answer to every participant).
pub fn queue_counts(conn: &mut DbConnection, event_id: i64) -> StorageResult<()> {
    use crate::schema::jobs as queued;
    let payload = serde_json::json!({ "event_id": event_id }).to_string();
    let waiting = diesel::select(diesel::dsl::exists(
        queued::table
            .filter(queued::queue.eq(COUNTS_QUEUE))
            .filter(queued::payload.eq(&payload))
            .filter(queued::locked_by.is_null())
            .filter(queued::failed_at.is_null()),
    ))
    .get_result::<bool>(conn)?;
    if !waiting {
        let run_at = now() + COUNTS_DELAY;
        jobs::enqueue(
            conn,
            NewJob { queue: COUNTS_QUEUE.into(), payload, partition_key: None, run_at, max_attempts: 10 },
        )?;
    }
    Ok(())
}

/// Lets others see (or not) that one is coming.
pub fn set_listed(
    conn: &mut DbConnection,
    event_id: i64,
    actor_id: i64,
    listed: bool,
) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        let changed = diesel::update(
            event_participants::table
                .filter(event_participants::event_id.eq(event_id))
                .filter(event_participants::actor_id.eq(actor_id)),
        )
        .set((event_participants::listed.eq(listed), event_participants::updated_at.eq(now())))
        .execute(conn)?;
        Ok(changed == 1)
    })
}

/// The answers to an event in these states, oldest first, with their actors; only those who
/// agreed to be listed when `listed_only`.
pub fn attendees(
    conn: &mut DbConnection,
    event_id: i64,
    states: &[Participation],
    listed_only: bool,
    limit: i64,
) -> StorageResult<Vec<(Participant, Actor)>> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let mut query = event_participants::table
        .inner_join(crate::schema::actors::table)
        .filter(event_participants::event_id.eq(event_id))
        .filter(event_participants::state.eq_any(states))
        .filter(crate::schema::actors::deleted_at.is_null())
        .order(event_participants::id)
        .limit(limit.clamp(1, 1000))
        .select((Participant::as_select(), Actor::as_select()))
        .into_boxed();
    if listed_only {
        query = query.filter(event_participants::listed.eq(true));
    }
    Ok(query.load(conn)?)
}

/// The remote actors' inboxes among an event's participants (they hear of its changes), all
/// of them, deduplicated by shared inbox.
pub fn remote_inboxes(conn: &mut DbConnection, event_id: i64) -> StorageResult<Vec<String>> {
    use crate::schema::actors;
    let rows: Vec<(String, Option<String>)> = event_participants::table
        .inner_join(actors::table)
        .filter(event_participants::event_id.eq(event_id))
        .filter(event_participants::state.ne(Participation::Rejected.as_str()))
        .filter(actors::domain.is_not_null())
        .filter(actors::deleted_at.is_null())
        .select((actors::inbox_url, actors::shared_inbox_url))
        .load(conn)?;
    let mut inboxes: Vec<String> = rows.into_iter().map(|(inbox, shared)| shared.unwrap_or(inbox)).collect();
    inboxes.sort();
    inboxes.dedup();
    Ok(inboxes)
}

/// The minutes before an event a member wants reminders (none when they chose none).
pub fn reminder_minutes(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Vec<i64>> {
    use crate::schema::users;
    let setting: Option<String> = users::table
        .filter(users::actor_id.eq(actor_id))
        .select(users::event_reminders)
        .first(conn)
        .optional()?;
    Ok(setting.map(|s| parse_minutes(&s)).unwrap_or_default())
}

/// Longest reminder lead: four weeks.
pub const MAX_REMINDER_MINUTES: i64 = 28 * 24 * 60;

/// Minutes from a comma-separated setting (bad entries dropped, at most five).
pub fn parse_minutes(text: &str) -> Vec<i64> {
    let mut minutes: Vec<i64> = text
        .split(',')
        .filter_map(|m| m.trim().parse::<i64>().ok())
        .filter(|m| (1..=MAX_REMINDER_MINUTES).contains(m))
        .collect();
    minutes.sort_unstable();
    minutes.dedup();
    minutes.truncate(5);
    minutes
}

/// Stores a member's reminder setting.
pub fn set_reminder_minutes(conn: &mut DbConnection, actor_id: i64, minutes: &[i64]) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        use crate::schema::users;
        let text: Vec<String> = minutes.iter().map(i64::to_string).collect();
        diesel::update(users::table.filter(users::actor_id.eq(actor_id)))
            .set(users::event_reminders.eq(text.join(",")))
            .execute(conn)?;
        Ok(())
    })
}

/// Queues the reminders of a local participant for an event starting at `starts_at`: one job
/// per lead time still in the future. A job checks, when it runs, that the start did not move
/// (a moved event gets new jobs) and that the person is still coming.
pub fn schedule_reminders(
    conn: &mut DbConnection,
    participant: &Participant,
    starts_at: Timestamp,
) -> StorageResult<()> {
    let stamp = now();
    for minutes in reminder_minutes(conn, participant.actor_id)? {
        let at = starts_at - chrono::Duration::minutes(minutes);
        if at <= stamp {
            continue;
        }
        jobs::enqueue(
            conn,
            NewJob {
                queue: REMINDER_QUEUE.into(),
                payload: serde_json::json!({
                    "participant_id": participant.id,
                    "minutes_before": minutes,
                    "starts_at": starts_at.and_utc().timestamp_micros(),
                })
                .to_string(),
                partition_key: None,
                run_at: at,
                max_attempts: 10,
            },
        )?;
    }
    Ok(())
}

/// Queues reminders for every local participant coming to an event (its start moved).
pub fn reschedule_reminders(conn: &mut DbConnection, event: &Event) -> StorageResult<()> {
    use crate::schema::actors;
    let local: Vec<Participant> = event_participants::table
        .inner_join(actors::table)
        .filter(event_participants::event_id.eq(event.status_id))
        .filter(event_participants::state.eq(Participation::Accepted.as_str()))
        .filter(actors::domain.is_null())
        .select(Participant::as_select())
        .load(conn)?;
    for p in &local {
        schedule_reminders(conn, p, event.starts_at)?;
    }
    Ok(())
}

/// A reminder job's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Reminder {
    /// The answer it reminds of.
    pub participant_id: i64,
    /// Lead time.
    pub minutes_before: i64,
    /// The start it was queued for (µs since the epoch).
    pub starts_at: i64,
}

/// Sends a reminder (a notification) unless the person left, the event moved or was
/// cancelled, or it was sent already; the record of sending is written with the notification,
/// so a job run twice notifies once. Returns whether it notified.
pub fn remind(conn: &mut DbConnection, job: Reminder) -> StorageResult<bool> {
    crate::transaction(conn, |conn| {
        let Some(p) = participant(conn, job.participant_id)? else { return Ok(false) };
        let Some(event) = find(conn, p.event_id)? else { return Ok(false) };
        let status = crate::statuses::get(conn, p.event_id)?;
        let current = event.starts_at.and_utc().timestamp_micros() == job.starts_at;
        if !current
            || p.state()? != Participation::Accepted
            || event.status()? == EventStatus::Cancelled
            || status.deleted_at.is_some()
            || !reminder_minutes(conn, p.actor_id)?.contains(&job.minutes_before)
            || !crate::timelines::may_see(conn, &status, Some(p.actor_id))?
        {
            return Ok(false);
        }
        let minutes = i32::try_from(job.minutes_before).map_err(|_| StorageError::Corrupt("lead".into()))?;
        let already: i64 = event_reminders_sent::table
            .filter(event_reminders_sent::participant_id.eq(p.id))
            .filter(event_reminders_sent::minutes_before.eq(minutes))
            .filter(event_reminders_sent::starts_at.eq(event.starts_at))
            .count()
            .get_result(conn)?;
        if already > 0 {
            return Ok(false);
        }
        // The primary key stops a concurrent twin: its transaction fails and rolls back.
        diesel::insert_into(event_reminders_sent::table)
            .values((
                event_reminders_sent::participant_id.eq(p.id),
                event_reminders_sent::minutes_before.eq(minutes),
                event_reminders_sent::starts_at.eq(event.starts_at),
                event_reminders_sent::created_at.eq(now()),
            ))
            .execute(conn)?;
        crate::notifications::notify(
            conn,
            p.actor_id,
            crate::notifications::NotificationKind::EventReminder,
            status.actor_id,
            Some(status.id),
        )?;
        Ok(true)
    })
}

/// Sets (or, with `None`, clears) the SHA-256 of the secret in a member's calendar feed URL;
/// a new one revokes the old.
pub fn set_calendar_token_hash(
    conn: &mut DbConnection,
    actor_id: i64,
    hash: Option<&str>,
) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        use crate::schema::users;
        diesel::update(users::table.filter(users::actor_id.eq(actor_id)))
            .set(users::calendar_token_hash.eq(hash))
            .execute(conn)?;
        Ok(())
    })
}

/// The actor of the member whose calendar feed secret has this SHA-256 (none for a login that
/// is disabled or not yet approved).
pub fn actor_by_calendar_token_hash(conn: &mut DbConnection, hash: &str) -> StorageResult<Option<i64>> {
    use crate::schema::users;
    Ok(users::table
        .filter(users::calendar_token_hash.eq(hash))
        .filter(users::disabled.eq(false))
        .filter(users::approved.eq(true))
        .select(users::actor_id)
        .first(conn)
        .optional()?)
}

#[cfg(test)]
mod tests;

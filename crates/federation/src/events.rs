//! Events: ours created, edited and cancelled by their organizers, and RSVPs both ways.
//!
//! An event is a status of kind `Event` (it federates, shows and is seen as any status) with
//! its fields in [`guildhall_storage::events`]. Its text is composed here: name, date, place
//! and a link to its page, then the description, so Mastodon and every app show what matters
//! even where they know nothing of events.
//!
//! RSVPs follow Mobilizon: `Join` (with a `participationMessage`) answered by `Accept` or
//! `Reject` embedding the `Join`, and `Leave`. Friendica's `Accept`/`TentativeAccept`/`Reject`
//! of the event itself count as coming, maybe, and not coming. The organizer's server decides
//! and counts; ours does for our events.

use chrono::NaiveDateTime;
use guildhall_core::model::{EventStatus, JoinMode, Participation, Visibility};
use guildhall_core::text::escape;
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::events::{self, Counts, Event, JoinRequest, Participant};
use guildhall_storage::notifications::{self, NotificationKind};
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{DbConnection, StorageError, StorageResult, now};
use serde_json::{Value, json};

use crate::actions::{self, NewPost};
use crate::error::FedError;
use crate::outgoing::{envelope, new_activity_id, publish};
use crate::protocol::event::{EventFields, Where, location_of};
use crate::protocol::note::ApNote;
use crate::state::FedData;

/// An event as its organizer describes it (checked by the caller).
#[derive(Debug, Clone)]
pub struct EventInput {
    /// Name, plain text.
    pub name: String,
    /// Description as typed (mentions and hashtags work as in posts).
    pub description: String,
    /// Start (UTC).
    pub starts_at: NaiveDateTime,
    /// End (UTC).
    pub ends_at: Option<NaiveDateTime>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// Place and online location.
    pub place: Where,
    /// Places, `None` for no limit.
    pub capacity: Option<i32>,
    /// How one takes part.
    pub join_mode: JoinMode,
    /// Where to register (external events).
    pub external_url: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// The hosting group.
    pub group_id: Option<i64>,
    /// Who may see it (a members-only group's events are members-only whatever is asked).
    pub visibility: Visibility,
}

/// The event's web page.
pub fn page_url(base: &str, status_id: i64) -> String {
    format!("{base}/events/{status_id}")
}

/// "Saturday 11 July 2026, 10:00–16:00 (Europe/London)".
pub fn when_text(event: &Event) -> String {
    guildhall_core::calendar::when_text(event.starts_at, event.ends_at, event.timezone.as_deref())
}

/// "British Museum, Great Russell St, London" and/or "online".
pub fn where_text(event: &Event) -> Option<String> {
    let parts: Vec<&str> =
        [&event.place_name, &event.street, &event.locality, &event.postal_code, &event.country]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .filter(|p| !p.is_empty())
            .collect();
    let mut text = parts.join(", ");
    if event.online_url.is_some() {
        text = if text.is_empty() { "Online".into() } else { format!("{text} and online") };
    }
    Some(text).filter(|t| !t.is_empty())
}

/// The plain-text line Mastodon shows for an `Event`: status, date and time, place.
pub fn summary_text(event: &Event) -> String {
    let mut lines = Vec::new();
    match event.status() {
        Ok(EventStatus::Cancelled) => lines.push("CANCELLED".to_owned()),
        Ok(EventStatus::Postponed) => lines.push("POSTPONED".to_owned()),
        Ok(EventStatus::MovedOnline) => lines.push("Moved online".to_owned()),
        _ => {}
    }
    lines.push(when_text(event));
    lines.extend(where_text(event));
    lines.join(" · ")
}

/// The status text of an event: its name, when and where, the page link, then the
/// description. Everything but the description (already sanitized HTML) is escaped here.
pub fn event_html(event: &Event, description_html: &str, page: Option<&str>) -> String {
    let mut html = format!("<p><strong>{}</strong></p><p>", escape(&event.name));
    html.push_str(&escape(&summary_text(event)).replace(" · ", "<br>"));
    html.push_str("</p>");
    html.push_str(description_html);
    if let Some(page) = page.and_then(crate::protocol::web_url) {
        let page = escape(page.as_str());
        html.push_str(&format!("<p><a href=\"{page}\">{page}</a></p>"));
    }
    html
}

/// The event fields we send with one of our events.
pub fn fields_for(event: &Event, counts: Option<Counts>, organizer: &str) -> EventFields {
    let place = Where {
        name: event.place_name.clone(),
        street: event.street.clone(),
        locality: event.locality.clone(),
        postal_code: event.postal_code.clone(),
        country: event.country.clone(),
        online_url: event.online_url.clone(),
    };
    let status = event.status().unwrap_or(EventStatus::Scheduled);
    EventFields {
        start_time: Some(event.starts_at.and_utc()),
        timezone: event.timezone.clone(),
        location: location_of(&place),
        maximum_attendee_capacity: event.capacity.map(i64::from),
        remaining_attendee_capacity: counts.and_then(|c| events::remaining(event, c)),
        participant_count: counts.map(|c| c.accepted),
        join_mode: Some(event.join_mode.clone()),
        external_participation_url: event.external_url.clone(),
        event_status: Some(status.schema_org().to_owned()),
        ical_status: Some(status.ical().to_owned()),
        category: event.category.clone().map(Value::String),
        organizers: Some(json!([organizer])),
        is_online: Some(place.online_url.is_some() && place.name.is_none() && place.street.is_none()),
    }
}

/// The event row of another server's `Event` (none when it has no start).
pub fn from_note(note: &ApNote, status_id: i64) -> Option<Event> {
    let fields = &note.event;
    let whole = guildhall_core::calendar::whole_seconds;
    let starts_at = whole(fields.start_time?.naive_utc());
    let place = fields.place();
    let status = [&fields.event_status, &fields.ical_status]
        .into_iter()
        .flatten()
        .find_map(|s| EventStatus::from_wire(s))
        .unwrap_or(EventStatus::Scheduled);
    let join_mode = fields.join_mode.as_deref().and_then(JoinMode::parse);
    let bound = |n: i64| n.clamp(0, i64::from(events::MAX_CAPACITY)) as i32;
    Some(Event {
        status_id,
        // `name` is plain text (ActivityStreams): kept as written, escaped wherever shown.
        name: note
            .name
            .as_deref()
            .unwrap_or_default()
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect(),
        starts_at,
        // An end before the start, or (to keep lists honest) more than 30 days on, is none.
        ends_at: note
            .end_time
            .map(|t| whole(t.naive_utc()))
            .filter(|e| *e >= starts_at && *e - starts_at <= chrono::Duration::days(30)),
        timezone: fields.timezone.clone().filter(|t| guildhall_core::calendar::timezone(t).is_some()),
        place_name: place.name,
        street: place.street,
        locality: place.locality,
        postal_code: place.postal_code,
        country: place.country,
        online_url: place.online_url,
        capacity: fields.capacity(),
        // Servers that say nothing of joining (Gancio, Friendica) take no `Join`: we record
        // our members' answers ourselves. Stored as `free`; see `answers_joins`.
        join_mode: join_mode.unwrap_or(JoinMode::Free).as_str().to_owned(),
        external_url: fields
            .external_participation_url
            .as_deref()
            .and_then(crate::protocol::web_url)
            .map(|u| u.to_string()),
        event_status: status.as_str().to_owned(),
        category: fields.first_category(),
        remote_participants: fields.participant_count.map(bound),
        remote_remaining: fields.remaining_attendee_capacity.map(bound),
        updated_at: now(),
    })
}

/// Whether another server's event answers `Join`s: those that say how one joins (stored
/// with a count, zero when they sent none; see [`store_remote`]).
fn answers_joins(event: &Event) -> bool {
    event.remote_participants.is_some()
}

fn event_row(input: &EventInput, status_id: i64) -> Event {
    Event {
        status_id,
        name: input.name.clone(),
        starts_at: input.starts_at,
        ends_at: input.ends_at,
        timezone: input.timezone.clone(),
        place_name: input.place.name.clone(),
        street: input.place.street.clone(),
        locality: input.place.locality.clone(),
        postal_code: input.place.postal_code.clone(),
        country: input.place.country.clone(),
        online_url: input.place.online_url.clone(),
        capacity: input.capacity,
        join_mode: input.join_mode.as_str().to_owned(),
        external_url: input.external_url.clone(),
        event_status: EventStatus::Scheduled.as_str().to_owned(),
        category: input.category.clone(),
        remote_participants: None,
        remote_remaining: None,
        updated_at: now(),
    }
}

/// Publishes a new event by `author` (into `input.group_id` when given: the author must be
/// allowed to post there).
pub async fn create(data: &FedData, author: &Actor, input: EventInput) -> Result<Status, FedError> {
    let mut post = NewPost::public(&input.description);
    post.visibility = input.visibility;
    post.language = None;
    let base = data.urls.base().to_owned();
    let shaped = input.clone();
    let shape: actions::Shape = Box::new(move |status: &mut Status| {
        let event = event_row(&shaped, status.id);
        let page = page_url(&base, status.id);
        status.kind = "Event".into();
        status.title = Some(shaped.name.clone());
        status.url = Some(page.clone());
        status.group_id = shaped.group_id.or(status.group_id);
        status.content = event_html(&event, &status.content, Some(&page));
    });
    let then: actions::Then = Box::new(move |c: &mut DbConnection, status: &Status| {
        events::upsert(c, &event_row(&input, status.id))
    });
    actions::post_shaped(data, author, post, shape, then).await
}

/// Who may manage one of our events: its author, or a moderator of its group.
pub fn may_manage(c: &mut DbConnection, status: &Status, actor_id: i64) -> StorageResult<bool> {
    // Another server's event is managed there, whoever moderates a group it was relayed to.
    if !status.local {
        return Ok(false);
    }
    if status.actor_id == actor_id {
        return Ok(true);
    }
    match status.group_id {
        Some(group) => guildhall_storage::groups::is_moderator(c, group, actor_id),
        None => Ok(false),
    }
}

/// One of our live events, with its status, for someone who may manage it.
fn managed(c: &mut DbConnection, event_id: i64, manager: i64) -> StorageResult<(Status, Event)> {
    let status = statuses::get(c, event_id)?;
    let event = events::find(c, event_id)?.ok_or(StorageError::NotFound)?;
    if !status.local || status.deleted_at.is_some() || !may_manage(c, &status, manager)? {
        return Err(StorageError::NotFound);
    }
    Ok((status, event))
}

/// Changes one of our events (its description, time, place, places, join mode) and sends the
/// `Update` to everyone who has it, the participants included. A moved start queues new
/// reminders (the old ones see the move and send nothing).
pub async fn edit(data: &FedData, by: &Actor, event_id: i64, input: EventInput) -> Result<Status, FedError> {
    let (by_id, data2) = (by.id, data.clone());
    let base = data.urls.base().to_owned();
    let rendered = actions::render_text(data, &input.description).await;
    let status = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let (mut status, before) = managed(c, event_id, by_id)?;
                let event =
                    Event { event_status: before.event_status.clone(), ..event_row(&input, event_id) };
                events::upsert(c, &event)?;
                let page = page_url(&base, event_id);
                status.title = Some(event.name.clone());
                status.source = Some(input.description.clone());
                status.content = event_html(&event, &rendered.html, Some(&page));
                status.edited_at = Some(now());
                statuses::update(c, &status)?;
                guildhall_storage::status_parts::replace_tags(c, status.id, &rendered.tags)?;
                if event.starts_at != before.starts_at {
                    events::reschedule_reminders(c, &event)?;
                }
                send_update(c, &data2, &status)?;
                statuses::get(c, event_id)
            })
        })
        .await?;
    data.delivery_wakeup.notify_one();
    Ok(status)
}

/// Cancels one of our events: it stays visible, marked cancelled; reminders stop.
pub async fn set_status(
    data: &FedData,
    by: &Actor,
    event_id: i64,
    to: EventStatus,
) -> Result<Status, FedError> {
    let (by_id, data2) = (by.id, data.clone());
    let base = data.urls.base().to_owned();
    // Checked before anything is done with the text (rendering resolves its mentions).
    let (status, _) = data.db.run(move |c| managed(c, event_id, by_id)).await?;
    let source = status.source.unwrap_or_default();
    let description = actions::render_text(data, &source).await.html;
    let status = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let (mut status, event) = managed(c, event_id, by_id)?;
                let event = Event { event_status: to.as_str().to_owned(), updated_at: now(), ..event };
                events::upsert(c, &event)?;
                status.content = event_html(&event, &description, Some(&page_url(&base, event_id)));
                status.edited_at = Some(now());
                statuses::update(c, &status)?;
                send_update(c, &data2, &status)?;
                statuses::get(c, event_id)
            })
        })
        .await?;
    data.delivery_wakeup.notify_one();
    Ok(status)
}

/// Queues `Update{Event}` of one of our events to its audience and its remote participants.
fn send_update(c: &mut DbConnection, data: &FedData, status: &Status) -> StorageResult<()> {
    let parts = crate::objects::status::load_parts(c, status.clone())?;
    let doc = actions::announce_status(c, data, &parts, "Update")?;
    crate::groups::on_thread_activity(c, &data.urls, status, &doc)?;
    Ok(())
}

/// The organizer's server must hear the new counts: a job (one per burst of answers) sends
/// them to the remote participants.
fn push_counts(c: &mut DbConnection, event_id: i64) -> StorageResult<()> {
    events::queue_counts(c, event_id)
}

/// Sends `Update{Event}` with the current counts to the remote participants only (followers
/// learn the counts at the next change of the event itself). Run by the counts job.
pub fn send_counts(c: &mut DbConnection, data: &FedData, event_id: i64) -> StorageResult<()> {
    let Some(status) = statuses::find(c, event_id)? else { return Ok(()) };
    if status.deleted_at.is_some() || !status.local {
        return Ok(());
    }
    let inboxes = events::remote_inboxes(c, event_id)?;
    if inboxes.is_empty() {
        return Ok(());
    }
    let parts = crate::objects::status::load_parts(c, status)?;
    let author = parts.author.clone();
    let note = crate::objects::status::render_note(&parts, data.urls.base(), &data.config.domain.to_string())
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let object = serde_json::to_value(&note).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let doc = envelope(&new_activity_id(&data.urls), "Update", &author, object, &note.to, &note.cc);
    publish(c, &author, &doc, &inboxes)?;
    Ok(())
}

/// The `Join` a participant's answer stands for (ours or as the asker sent it).
fn join_doc(participant: &Participant, asker: &Actor, event: &Status) -> Value {
    let mut doc = json!({
        "id": participant.ap_id,
        "type": "Join",
        "actor": asker.ap_id,
        "object": event.ap_id,
    });
    if let Some(message) = &participant.message {
        doc["participationMessage"] = json!(message);
    }
    doc
}

/// Queues the organizer's `Accept` or `Reject` of a remote asker's `Join`.
fn answer_remote(
    c: &mut DbConnection,
    data: &FedData,
    event: &Status,
    participant: &Participant,
    kind: &str,
) -> StorageResult<()> {
    let asker = actors::get(c, participant.actor_id)?;
    if asker.is_local() || participant.ap_id.is_none() {
        return Ok(());
    }
    let organizer = actors::get(c, event.actor_id)?;
    let doc = envelope(
        &new_activity_id(&data.urls),
        kind,
        &organizer,
        join_doc(participant, &asker, event),
        std::slice::from_ref(&asker.ap_id),
        &[],
    );
    publish(c, &organizer, &doc, &[asker.delivery_inbox().to_owned()])?;
    Ok(())
}

/// What happens after an answer of one of our events changed: the asker hears it (an
/// `Accept` to a remote asker, reminders for a local one) and the organizer is notified.
fn after_answer(c: &mut DbConnection, data: &FedData, event: &Event, p: &Participant) -> StorageResult<()> {
    let status = statuses::get(c, event.status_id)?;
    match p.state()? {
        Participation::Accepted => {
            answer_remote(c, data, &status, p, "Accept")?;
            if actors::get(c, p.actor_id)?.is_local() {
                events::schedule_reminders(c, p, event.starts_at)?;
            }
        }
        Participation::Rejected => answer_remote(c, data, &status, p, "Reject")?,
        _ => {}
    }
    Ok(())
}

/// Someone (local, or remote through the inbox) joins one of our events.
fn join_ours(
    c: &mut DbConnection,
    data: &FedData,
    event: &Event,
    asker: &Actor,
    ask: JoinRequest,
) -> StorageResult<Result<Participant, events::JoinRefused>> {
    let before = events::participation(c, event.status_id, asker.id)?.map(|b| b.state);
    let answer = events::join_local(c, event, asker.id, ask)?;
    // A new answer (or a "maybe" made firm) is heard of; asking again changes nothing.
    if let Ok(p) = &answer
        && before.as_ref() != Some(&p.state)
    {
        after_answer(c, data, event, p)?;
        let status = statuses::get(c, event.status_id)?;
        notifications::notify(
            c,
            status.actor_id,
            NotificationKind::EventParticipation,
            asker.id,
            Some(status.id),
        )?;
        push_counts(c, event.status_id)?;
    }
    Ok(answer)
}

/// A local member answers "coming" to an event, ours or another server's (the origin decides
/// then; servers that take no `Join` are answered for by us). Answering again only changes
/// whether they are listed.
pub async fn join(
    data: &FedData,
    actor: &Actor,
    event_id: i64,
    ask: JoinRequest,
) -> Result<Participant, FedError> {
    let (data2, actor2) = (data.clone(), actor.clone());
    let joined = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let status = statuses::get(c, event_id)?;
                let event = events::find(c, event_id)?.ok_or(StorageError::NotFound)?;
                if status.deleted_at.is_some()
                    || !guildhall_storage::timelines::may_see(c, &status, Some(actor2.id))?
                {
                    return Err(StorageError::NotFound);
                }
                let listed = ask.listed;
                let mut answer = match status.local {
                    true => join_ours(c, &data2, &event, &actor2, ask)?
                        .map_err(|why| StorageError::Conflict(why.to_string()))?,
                    false => join_theirs(c, &data2, &status, &event, &actor2, ask)?,
                };
                // Answering again changes whether one is listed, and nothing else.
                if answer.listed != listed {
                    events::set_listed(c, event_id, actor2.id, listed)?;
                    answer.listed = listed;
                }
                Ok(answer)
            })
        })
        .await
        .map_err(|e| match e {
            StorageError::Conflict(why) => FedError::Forbidden(why),
            other => other.into(),
        })?;
    data.delivery_wakeup.notify_one();
    Ok(joined)
}

fn join_theirs(
    c: &mut DbConnection,
    data: &FedData,
    status: &Status,
    event: &Event,
    actor: &Actor,
    mut ask: JoinRequest,
) -> StorageResult<Participant> {
    if let Some(existing) = events::participation(c, event.status_id, actor.id)? {
        return Ok(existing);
    }
    if event.join_mode()? == JoinMode::External || event.status()? == EventStatus::Cancelled {
        return Err(StorageError::Conflict("this event takes no answers from here".into()));
    }
    ask.ap_id = Some(new_activity_id(&data.urls));
    let mut p = events::join_remote(c, event.status_id, actor.id, ask)?;
    let organizer = actors::get(c, status.actor_id)?;
    let mut doc = envelope(
        p.ap_id.as_deref().unwrap_or_default(),
        "Join",
        actor,
        json!(status.ap_id),
        std::slice::from_ref(&organizer.ap_id),
        &[],
    );
    if let Some(message) = &p.message {
        doc["participationMessage"] = json!(message);
    }
    publish(c, actor, &doc, &[organizer.delivery_inbox().to_owned()])?;
    if !answers_joins(event) {
        events::set_state(c, p.id, Participation::Accepted)?;
        p.state = Participation::Accepted.as_str().to_owned();
        events::schedule_reminders(c, &p, event.starts_at)?;
    }
    Ok(p)
}

/// A local member takes back their answer.
pub async fn leave(data: &FedData, actor: &Actor, event_id: i64) -> Result<(), FedError> {
    let (data2, actor2) = (data.clone(), actor.clone());
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let status = statuses::get(c, event_id)?;
                let event = events::find(c, event_id)?.ok_or(StorageError::NotFound)?;
                if status.local {
                    return leave_ours(c, &data2, &event, &actor2);
                }
                if events::remove(c, event_id, actor2.id)?.is_some() {
                    let organizer = actors::get(c, status.actor_id)?;
                    let doc = envelope(
                        &new_activity_id(&data2.urls),
                        "Leave",
                        &actor2,
                        json!(status.ap_id),
                        std::slice::from_ref(&organizer.ap_id),
                        &[],
                    );
                    publish(c, &actor2, &doc, &[organizer.delivery_inbox().to_owned()])?;
                }
                Ok(())
            })
        })
        .await?;
    data.delivery_wakeup.notify_one();
    Ok(())
}

fn leave_ours(c: &mut DbConnection, data: &FedData, event: &Event, actor: &Actor) -> StorageResult<()> {
    let (left, promoted) = events::leave_local(c, event, actor.id)?;
    if let Some(p) = &promoted {
        after_answer(c, data, event, p)?;
    }
    if left.is_some() {
        push_counts(c, event.status_id)?;
    }
    Ok(())
}

/// The organizer (or a moderator of the event's group) accepts or refuses an asker.
pub async fn decide(
    data: &FedData,
    by: &Actor,
    event_id: i64,
    participant_id: i64,
    accept: bool,
) -> Result<Participation, FedError> {
    let (data2, by_id) = (data.clone(), by.id);
    let state = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let (_, event) = managed(c, event_id, by_id)?;
                let p = events::participant(c, participant_id)?
                    .filter(|p| p.event_id == event_id)
                    .ok_or(StorageError::NotFound)?;
                let state = events::decide(c, &event, p.id, accept)?;
                let p = events::participant(c, p.id)?.ok_or(StorageError::NotFound)?;
                after_answer(c, &data2, &event, &p)?;
                push_counts(c, event_id)?;
                Ok(state)
            })
        })
        .await?;
    data.delivery_wakeup.notify_one();
    Ok(state)
}

/// What an inbox RSVP says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rsvp {
    /// `Join`, or Friendica's `Accept` of the event.
    Coming,
    /// Friendica's `TentativeAccept`.
    Maybe,
    /// `Leave`, or Friendica's `Reject` of the event.
    NotComing,
}

/// An RSVP from `actor` (verified by the inbox) to one of our events: `Join`, `Leave`, or
/// Friendica's answers to the event. Returns false when `object` is none of our events.
pub async fn received_rsvp(
    data: &FedData,
    actor: &Actor,
    activity_id: &str,
    object: &Value,
    message: Option<String>,
    rsvp: Rsvp,
) -> Result<bool, FedError> {
    let Some(event_ap_id) = crate::protocol::id_of(object).map(String::from) else { return Ok(false) };
    let (data2, actor2, activity_id) = (data.clone(), actor.clone(), activity_id.to_owned());
    let handled = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let Some(status) = statuses::find_by_ap_id(c, &event_ap_id)?.filter(|s| s.local) else {
                    return Ok(false);
                };
                let Some(event) = events::find(c, status.id)? else { return Ok(false) };
                if status.deleted_at.is_some()
                    || !guildhall_storage::timelines::may_see(c, &status, Some(actor2.id))?
                {
                    refuse(c, &data2, &status, &actor2, &activity_id)?;
                    return Ok(true);
                }
                match rsvp {
                    Rsvp::NotComing => leave_ours(c, &data2, &event, &actor2)?,
                    Rsvp::Maybe => {
                        // "Maybe" frees a place someone else can take.
                        leave_ours(c, &data2, &event, &actor2)?;
                        maybe(c, &event, &actor2)?;
                    }
                    Rsvp::Coming => {
                        let ask = JoinRequest {
                            message: message
                                .map(|m| guildhall_core::text::strip_html(&m).chars().take(1000).collect()),
                            ap_id: Some(activity_id.clone()),
                            listed: false,
                        };
                        if join_ours(c, &data2, &event, &actor2, ask)?.is_err() {
                            refuse(c, &data2, &status, &actor2, &activity_id)?;
                        }
                    }
                }
                Ok(true)
            })
        })
        .await?;
    data.delivery_wakeup.notify_one();
    Ok(handled)
}

fn maybe(c: &mut DbConnection, event: &Event, actor: &Actor) -> StorageResult<()> {
    match events::participation(c, event.status_id, actor.id)? {
        // A refused asker stays refused: "maybe" must not become a way back in.
        Some(p) if p.state()? == Participation::Rejected => Ok(()),
        Some(p) => events::set_state(c, p.id, Participation::Maybe),
        None => {
            let p = events::join_remote(c, event.status_id, actor.id, JoinRequest::default())?;
            events::set_state(c, p.id, Participation::Maybe)
        }
    }
}

/// Refuses a `Join` we cannot take (not visible to the asker, closed, external).
fn refuse(
    c: &mut DbConnection,
    data: &FedData,
    event: &Status,
    asker: &Actor,
    join_id: &str,
) -> StorageResult<()> {
    let organizer = actors::get(c, event.actor_id)?;
    let join = json!({ "id": join_id, "type": "Join", "actor": asker.ap_id, "object": event.ap_id });
    let doc = envelope(
        &new_activity_id(&data.urls),
        "Reject",
        &organizer,
        join,
        std::slice::from_ref(&asker.ap_id),
        &[],
    );
    publish(c, &organizer, &doc, &[asker.delivery_inbox().to_owned()])?;
    Ok(())
}

/// The organizer's answer (`Accept`/`Reject` of a `Join`) to one of our members' RSVPs to
/// another server's event. Returns false when it answers none of ours.
pub async fn received_answer(
    data: &FedData,
    actor: &Actor,
    object: &Value,
    accepted: bool,
) -> Result<bool, FedError> {
    let Some(join_id) = crate::protocol::id_of(object).map(String::from) else { return Ok(false) };
    let organizer = actor.id;
    Ok(data
        .db
        .run(move |c| {
            let Some(p) = events::find_by_ap_id(c, &join_id)? else { return Ok(false) };
            let status = statuses::get(c, p.event_id)?;
            let Some(event) = events::find(c, p.event_id)? else { return Ok(false) };
            // Only the organizer (or the group hosting the event) answers.
            if status.local || (status.actor_id != organizer && status.group_id != Some(organizer)) {
                return Ok(false);
            }
            let state = if accepted { Participation::Accepted } else { Participation::Rejected };
            if p.state()? == state {
                return Ok(true);
            }
            events::set_state(c, p.id, state)?;
            if accepted {
                events::schedule_reminders(c, &p, event.starts_at)?;
            }
            Ok(true)
        })
        .await?)
}

/// Stores another server's event fields with its status (called as the status is stored).
pub fn store_remote(c: &mut DbConnection, note: &ApNote, status: &Status) -> StorageResult<()> {
    let Some(event) = from_note(note, status.id) else { return Ok(()) };
    let before = events::find(c, status.id)?;
    // Servers that send no counts take no `Join`s: remember that by leaving them empty.
    let event = Event {
        remote_participants: event.remote_participants.or_else(|| note.event.join_mode.as_ref().map(|_| 0)),
        ..event
    };
    events::upsert(c, &event)?;
    if before.is_some_and(|b| b.starts_at != event.starts_at) {
        events::reschedule_reminders(c, &event)?;
    }
    Ok(())
}

use chrono::Duration;

use super::*;
use crate::testing::{each_backend, rows};

fn event_of(status_id: i64, capacity: Option<i32>, mode: JoinMode) -> Event {
    Event {
        status_id,
        name: "Study day".into(),
        starts_at: now() + Duration::days(3),
        ends_at: Some(now() + Duration::days(3) + Duration::hours(6)),
        timezone: Some("Europe/London".into()),
        place_name: None,
        street: None,
        locality: None,
        postal_code: None,
        country: None,
        online_url: None,
        capacity,
        join_mode: mode.as_str().into(),
        external_url: None,
        event_status: EventStatus::Scheduled.as_str().into(),
        category: None,
        remote_participants: None,
        remote_remaining: None,
        updated_at: now(),
    }
}

fn add(c: &mut DbConnection, actor: Actor) -> StorageResult<Actor> {
    crate::actors::insert_local(c, &actor, "K")?;
    Ok(actor)
}

fn setup(c: &mut DbConnection, capacity: Option<i32>, mode: JoinMode) -> StorageResult<(Event, Vec<i64>)> {
    let organizer = add(c, rows::local("org"))?;
    let status = rows::status(&organizer, "Study day");
    crate::statuses::insert(c, &status)?;
    let event = event_of(status.id, capacity, mode);
    upsert(c, &event)?;
    let people = ["ann", "bob", "cat"]
        .iter()
        .map(|n| add(c, rows::remote(n, "b.example")).map(|a| a.id))
        .collect::<StorageResult<Vec<_>>>()?;
    Ok((event, people))
}

fn state_of(c: &mut DbConnection, event: &Event, actor: i64) -> Option<Participation> {
    participation(c, event.status_id, actor).unwrap().map(|p| p.state().unwrap())
}

#[tokio::test]
async fn a_full_event_keeps_a_waiting_list_and_a_leaver_promotes_the_first() {
    each_backend(|db| async move {
        db.run(|c| {
            let (event, p) = setup(c, Some(1), JoinMode::Free)?;
            for who in &p {
                join_local(c, &event, *who, JoinRequest::default())?.unwrap();
            }
            assert_eq!(state_of(c, &event, p[0]), Some(Participation::Accepted));
            assert_eq!(state_of(c, &event, p[1]), Some(Participation::Waiting));
            assert_eq!(counts(c, event.status_id)?, Counts { accepted: 1, waiting: 2, pending: 0 });
            assert_eq!(remaining(&event, counts(c, event.status_id)?), Some(0));
            let again = join_local(c, &event, p[0], JoinRequest::default())?.unwrap();
            assert_eq!(again.state()?, Participation::Accepted, "asking again answers the standing answer");
            let (left, promoted) = leave_local(c, &event, p[0])?;
            assert_eq!(left.map(|l| l.actor_id), Some(p[0]));
            assert_eq!(promoted.map(|x| x.actor_id), Some(p[1]), "the first waiting takes the place");
            assert_eq!(state_of(c, &event, p[2]), Some(Participation::Waiting));
            let (_, none) = leave_local(c, &event, p[2])?;
            assert!(none.is_none(), "a waiting leaver frees no place");
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn restricted_events_wait_for_the_organizer_and_closed_ones_refuse() {
    each_backend(|db| async move {
        db.run(|c| {
            let (event, p) = setup(c, Some(1), JoinMode::Restricted)?;
            let ask = join_local(
                c,
                &event,
                p[0],
                JoinRequest { message: Some("hi".into()), ..Default::default() },
            )?
            .unwrap();
            assert_eq!(ask.state()?, Participation::Pending);
            assert_eq!(decide(c, &event, ask.id, true)?, Participation::Accepted);
            let second = join_local(c, &event, p[1], JoinRequest::default())?.unwrap();
            assert_eq!(
                decide(c, &event, second.id, true)?,
                Participation::Waiting,
                "full: accepted onto the list"
            );
            let third = join_local(c, &event, p[2], JoinRequest::default())?.unwrap();
            assert_eq!(decide(c, &event, third.id, false)?, Participation::Rejected);
            // A "maybe" asking again is decided like a new ask.
            let maybe = add(c, rows::remote("may", "b.example"))?;
            let unsure = join_remote(c, event.status_id, maybe.id, JoinRequest::default())?;
            set_state(c, unsure.id, Participation::Maybe)?;
            let firm = join_local(c, &event, maybe.id, JoinRequest::default())?.unwrap();
            assert_eq!((firm.id, firm.state()?), (unsure.id, Participation::Pending));
            let cancelled = Event { event_status: EventStatus::Cancelled.as_str().into(), ..event.clone() };
            upsert(c, &cancelled)?;
            let late = add(c, rows::remote("dan", "b.example"))?;
            assert_eq!(join_local(c, &cancelled, late.id, JoinRequest::default())?, Err(JoinRefused::Closed));
            let external = Event { join_mode: JoinMode::External.as_str().into(), ..event };
            assert_eq!(
                join_local(c, &external, late.id, JoinRequest::default())?,
                Err(JoinRefused::External)
            );
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_reminder_is_sent_once_and_not_for_a_moved_event() {
    each_backend(|db| async move {
        db.run(|c| {
            let (event, _) = setup(c, None, JoinMode::Free)?;
            let member = crate::accounts::create(
                c,
                crate::accounts::NewLocalUser {
                    actor: rows::local("mem"),
                    email: "mem@museum.example".into(),
                    password_hash: "x".into(),
                    role: guildhall_core::model::Role::User,
                    private_key_pem: "K".into(),
                },
            )?
            .actor;
            let p = join_local(c, &event, member.id, JoinRequest::default())?.unwrap();
            let job = Reminder {
                participant_id: p.id,
                minutes_before: 60,
                starts_at: event.starts_at.and_utc().timestamp_micros(),
            };
            assert!(remind(c, job)?);
            assert!(!remind(c, job)?, "a second run of the job sends nothing");
            let moved = Reminder { starts_at: job.starts_at - 1, minutes_before: 1440, ..job };
            assert!(!remind(c, moved)?, "a job for the old start sends nothing");
            set_reminder_minutes(c, member.id, &[])?;
            let off = Reminder { minutes_before: 1440, ..job };
            assert!(!remind(c, off)?, "a member who turned reminders off gets none");
            let list = crate::notifications::list(c, member.id, None, &crate::timelines::Page::default())?;
            assert_eq!(list.iter().filter(|n| n.kind == "event_reminder").count(), 1);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[test]
fn reminder_settings_parse_leniently() {
    assert_eq!(parse_minutes("1440, 60,60,x,-5,0"), vec![60, 1440]);
    assert_eq!(parse_minutes(""), Vec::<i64>::new());
}

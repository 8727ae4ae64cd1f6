use chrono::Duration;

use super::*;
use crate::testing::{each_backend, rows};
use crate::{actors, status_parts};

fn new_hour(group_id: i64) -> NewHour {
    NewHour {
        group_id,
        title: "Collections chat".into(),
        hashtag: "MuseumHour".into(),
        rrule: "FREQ=WEEKLY;BYDAY=TU".into(),
        dtstart: now(),
        timezone: "Europe/London".into(),
        duration_minutes: 60,
        intro: "Welcome".into(),
        prompts: vec![
            Prompt { offset_seconds: 300, text: "What do you keep?".into() },
            Prompt { offset_seconds: 900, text: "What do you throw away?".into() },
        ],
        host_id: None,
        created_by: None,
    }
}

fn add(c: &mut DbConnection, actor: Actor) -> StorageResult<Actor> {
    actors::insert_local(c, &actor, "K")?;
    Ok(actor)
}

/// A whole-second start, as the recurrence rule yields.
fn start_in(minutes: i64) -> Timestamp {
    let t = now() + Duration::minutes(minutes);
    t.date().and_hms_opt(chrono::Timelike::hour(&t), chrono::Timelike::minute(&t), 0).unwrap_or(t)
}

fn steps(c: &mut DbConnection) -> Vec<(Step, Timestamp)> {
    jobs::all(c, STEP_QUEUE)
        .unwrap()
        .into_iter()
        .map(|j| (serde_json::from_str(&j.payload).unwrap(), j.run_at))
        .collect()
}

#[tokio::test]
async fn scheduling_an_edition_twice_queues_its_steps_once() {
    each_backend(|db| async move {
        db.run(|c| {
            let group = add(c, rows::local("group"))?;
            let start = start_in(60);
            let (hour, first) = create(c, new_hour(group.id), start)?;
            assert_eq!((first.starts_at, first.ends_at), (start, start + Duration::minutes(60)));
            assert_eq!(hour.prompts()?.len(), 2);
            let queued = steps(c);
            assert_eq!(queued.len(), 5, "intro, next, two prompts, recap");
            let prompt2 = Step { edition_id: first.id, step: StepKind::Prompt { number: 2 } };
            assert!(queued.contains(&(prompt2, start + Duration::seconds(900))));
            let recap = Step { edition_id: first.id, step: StepKind::Recap };
            assert!(queued.contains(&(recap, first.ends_at)));
            let again = schedule_edition(c, &hour, start)?;
            assert_eq!(again, first, "the same start answers the same edition");
            assert_eq!(steps(c).len(), 5, "nothing queued twice");
            let next = schedule_edition(c, &hour, start + Duration::days(7))?;
            assert_eq!(steps(c).len(), 10);
            let listed: Vec<i64> = editions(c, hour.id, 10)?.iter().map(|e| e.id).collect();
            assert_eq!(listed, vec![next.id, first.id], "latest start first");
            assert_eq!(of_group(c, group.id)?, vec![hour.clone()]);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_step_is_recorded_once() {
    each_backend(|db| async move {
        db.run(|c| {
            let group = add(c, rows::local("group"))?;
            let (_, edition) = create(c, new_hour(group.id), start_in(-5))?;
            let (q1, intro) = (rows::status(&group, "Q1"), rows::status(&group, "Intro"));
            crate::statuses::insert(c, &q1)?;
            crate::statuses::insert(c, &intro)?;
            record_prompt(c, edition.id, 1, q1.id)?;
            assert!(record_prompt(c, edition.id, 1, intro.id).is_err(), "a prompt is posted once");
            assert_eq!(prompts_posted(c, edition.id)?, vec![(1, q1.id)]);
            set_intro(c, edition.id, intro.id)?;
            assert!(matches!(set_intro(c, edition.id, q1.id), Err(StorageError::Conflict(_))));
            set_recap(c, edition.id, q1.id)?;
            assert!(matches!(set_recap(c, edition.id, intro.id), Err(StorageError::Conflict(_))));
            let stored = self::edition(c, edition.id)?;
            assert_eq!((stored.intro_status_id, stored.recap_status_id), (Some(intro.id), Some(q1.id)));
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn cancelling_removes_editions_still_to_come() {
    each_backend(|db| async move {
        db.run(|c| {
            let group = add(c, rows::local("group"))?;
            let (hour, now_on) = create(c, new_hour(group.id), start_in(-5))?;
            let later = schedule_edition(c, &hour, start_in(7 * 24 * 60))?;
            set_edition_host(c, later.id, Some(group.id))?;
            assert!(cancel(c, hour.id)?);
            assert!(!cancel(c, hour.id)?, "cancelled once");
            assert!(get(c, hour.id)?.is_cancelled());
            assert_eq!(find_edition(c, later.id)?, None);
            assert_eq!(find_edition(c, now_on.id)?.map(|e| e.id), Some(now_on.id), "the archive stays");
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

/// A status by `author`, published `minutes` from now, with `tags`, stored.
fn post(
    c: &mut DbConnection,
    author: &Actor,
    text: &str,
    minutes: i64,
    tags: &[&str],
) -> StorageResult<Status> {
    let mut status = rows::status(author, text);
    status.published_at = now() + Duration::minutes(minutes);
    crate::statuses::insert(c, &status)?;
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    status_parts::replace_tags(c, status.id, &tags)?;
    Ok(status)
}

fn reply(c: &mut DbConnection, author: &Actor, parent: &Status, text: &str) -> StorageResult<Status> {
    let mut status = rows::status(author, text);
    status.in_reply_to_id = Some(parent.id);
    crate::statuses::insert(c, &status)?;
    Ok(status)
}

#[tokio::test]
async fn answers_are_replies_to_prompts_and_numbered_hashtag_posts_of_the_hour() {
    each_backend(|db| async move {
        db.run(|c| {
            let group = add(c, rows::local("group"))?;
            let (ann, bob) = (add(c, rows::local("ann"))?, add(c, rows::remote("bob", "b.example"))?);
            let (_, edition) = create(c, new_hour(group.id), start_in(-10))?;
            let q1 = post(c, &group, "Q1 What do you keep? #MuseumHour", -5, &["museumhour"])?;
            record_prompt(c, edition.id, 1, q1.id)?;
            let by_reply = reply(c, &ann, &q1, "Everything")?;
            let by_tag = post(c, &bob, "A2: nothing #MuseumHour", 0, &["MuseumHour"])?;
            let mut remote = rows::status(&bob, "");
            (remote.source, remote.content) = (None, "<p><a href=\"x\">@group</a> a1. Labels</p>".into());
            crate::statuses::insert(c, &remote)?;
            status_parts::replace_tags(c, remote.id, &["museumhour".into()])?;
            post(c, &ann, "A2 too early #MuseumHour", -60, &["museumhour"])?;
            post(c, &ann, "A2 long after #MuseumHour", 200, &["museumhour"])?;
            post(c, &ann, "Also #MuseumHour", 0, &["museumhour"])?;
            post(c, &ann, "A2 without the tag", 0, &[])?;
            post(c, &ann, "A9 no such prompt #MuseumHour", 0, &["museumhour"])?;
            post(c, &ann, "A2 #OtherHour", 0, &["otherhour"])?;
            let mut gone = post(c, &ann, "A1 deleted #MuseumHour", 0, &["museumhour"])?;
            gone.deleted_at = Some(now());
            crate::statuses::update(c, &gone)?;
            let found: Vec<(i32, i64)> =
                answers(c, &edition)?.iter().map(|a| (a.number, a.status.id)).collect();
            let mut want = vec![(1, by_reply.id), (1, remote.id), (2, by_tag.id)];
            want.sort();
            assert_eq!(found, want);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn first_timers_are_new_in_their_edition() {
    each_backend(|db| async move {
        db.run(|c| {
            let group = add(c, rows::local("group"))?;
            let people = ["ann", "bob", "cat"]
                .iter()
                .map(|n| add(c, rows::local(n)).map(|a| a.id))
                .collect::<StorageResult<Vec<_>>>()?;
            let (hour, one) = create(c, new_hour(group.id), start_in(-10))?;
            let two = schedule_edition(c, &hour, start_in(7 * 24 * 60))?;
            assert_eq!(
                record_participants(c, hour.id, one.id, &[people[1], people[0], people[0]])?,
                vec![people[0], people[1]]
            );
            assert_eq!(
                record_participants(c, hour.id, one.id, &[people[0], people[1]])?,
                vec![people[0], people[1]],
                "asking again for the same edition answers the same"
            );
            assert_eq!(record_participants(c, hour.id, two.id, &people)?, vec![people[2]]);
            assert_eq!(record_participants(c, hour.id, two.id, &[])?, Vec::<i64>::new());
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn reply_counts_count_live_replies() {
    each_backend(|db| async move {
        db.run(|c| {
            let ann = add(c, rows::local("ann"))?;
            let (a, b) = (post(c, &ann, "A1 x", 0, &[])?, post(c, &ann, "A1 y", 0, &[])?);
            reply(c, &ann, &a, "one")?;
            reply(c, &ann, &a, "two")?;
            assert_eq!(crate::statuses::reply_counts(c, &[a.id, b.id])?, vec![(a.id, 2)]);
            assert_eq!(people(c, &[ann.id])?.len(), 1);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

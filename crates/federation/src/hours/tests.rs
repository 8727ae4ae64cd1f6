use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn local(text: &str) -> NaiveDateTime {
    parse_dtstart(text, chrono_tz::UTC).unwrap()
}

fn request() -> HourRequest {
    HourRequest {
        title: " Collections chat ".into(),
        hashtag: "#Museum_Hour".into(),
        rrule: "RRULE:FREQ=WEEKLY;BYDAY=TU".into(),
        dtstart: "2026-03-24T18:00".into(),
        timezone: "Europe/London".into(),
        duration_minutes: 60,
        intro: "Welcome".into(),
        prompts: vec![
            Prompt { offset_seconds: 300, text: "What do you keep?".into() },
            Prompt { offset_seconds: 900, text: "What do you throw away?".into() },
        ],
        host_id: None,
    }
}

fn field_of(req: HourRequest) -> &'static str {
    req.validate().unwrap_err().field
}

#[test]
fn starts_follow_the_wall_clock_across_a_change_of_summer_time() {
    let start = local("2026-03-24T18:00");
    let starts = next_starts("FREQ=WEEKLY;BYDAY=TU", start, "Europe/London", at("2026-03-20T00:00:00Z"), 2);
    assert_eq!(starts.unwrap(), vec![at("2026-03-24T18:00:00Z"), at("2026-03-31T17:00:00Z")]);
    let strictly =
        next_starts("RRULE:FREQ=WEEKLY;BYDAY=TU", start, "Europe/London", at("2026-03-24T18:00:00Z"), 1);
    assert_eq!(strictly.unwrap(), vec![at("2026-03-31T17:00:00Z")], "strictly after");
    let ended = next_starts("FREQ=DAILY;COUNT=2", start, "Europe/London", at("2026-03-26T00:00:00Z"), 3);
    assert_eq!(ended.unwrap(), Vec::<DateTime<Utc>>::new(), "a rule that ended has no start");
}

#[test]
fn rules_finer_than_daily_and_unknown_zones_are_refused_by_field() {
    let start = local("2026-03-24T18:00");
    let after = at("2026-03-20T00:00:00Z");
    for rule in ["FREQ=HOURLY", "FREQ=MINUTELY;BYSECOND=0", "FREQ=DAILY;BYHOUR=9,18", "nonsense", "", "A:B"] {
        let e = next_starts(rule, start, "Europe/London", after, 1).unwrap_err();
        assert_eq!(e.field, "rrule", "{rule}: {e}");
    }
    let e = next_starts("FREQ=DAILY", start, "Mars/Olympus_Mons", after, 1).unwrap_err();
    assert!(e.to_string().starts_with("timezone: "), "{e}");
    let gap = next_starts("FREQ=DAILY", local("2026-03-29T01:30"), "Europe/London", after, 1);
    assert_eq!(gap.unwrap_err().field, "dtstart", "01:30 does not exist that night");
}

#[test]
fn a_request_is_checked_and_normalized() {
    let checked = request().validate().unwrap();
    assert_eq!((checked.title.as_str(), checked.hashtag.as_str()), ("Collections chat", "Museum_Hour"));
    assert_eq!(checked.rrule, "FREQ=WEEKLY;BYDAY=TU");
    assert_eq!(checked.dtstart, local("2026-03-24T18:00:00"));
    assert_eq!(field_of(HourRequest { hashtag: "two words".into(), ..request() }), "hashtag");
    assert_eq!(field_of(HourRequest { title: " ".into(), ..request() }), "title");
    assert_eq!(field_of(HourRequest { dtstart: "2026-03-24T18:00Z".into(), ..request() }), "dtstart");
    assert_eq!(field_of(HourRequest { timezone: "Nowhere".into(), ..request() }), "timezone");
    assert_eq!(field_of(HourRequest { duration_minutes: 721, ..request() }), "duration_minutes");
    assert_eq!(field_of(HourRequest { intro: "x".repeat(2001), ..request() }), "intro");
    let late = Prompt { offset_seconds: 3601, text: "Late".into() };
    assert_eq!(field_of(HourRequest { prompts: vec![late], ..request() }), "prompts");
    let mut backwards = request();
    backwards.prompts.reverse();
    assert_eq!(field_of(backwards), "prompts");
    let many = vec![Prompt { offset_seconds: 0, text: "Q".into() }; MAX_PROMPTS + 1];
    assert_eq!(field_of(HourRequest { prompts: many, ..request() }), "prompts");
}

#[test]
fn prompts_and_recaps_read_as_the_issue_says() {
    assert_eq!(
        prompt_text(2, "What do you throw away?", "MuseumHour"),
        "Q2 What do you throw away? #MuseumHour\n\nAnswer with A2 and #MuseumHour, or reply to this post."
    );
    let stamp = now();
    let hour = Hour {
        id: 1,
        group_id: 2,
        title: "Collections chat".into(),
        hashtag: "MuseumHour".into(),
        rrule: "FREQ=WEEKLY".into(),
        dtstart: stamp,
        timezone: "Europe/London".into(),
        duration_minutes: 60,
        intro: "Welcome".into(),
        prompts: "[]".into(),
        host_id: None,
        created_by: None,
        cancelled_at: None,
        created_at: stamp,
        updated_at: stamp,
    };
    let facts = RecapFacts {
        prompts: vec![(1, "Keep?".into(), 1), (2, "Throw?".into(), 0)],
        people: 2,
        newcomers: vec!["@ann@b.example".into()],
        more_newcomers: 0,
        top: vec![("https://b.example/1".into(), 3)],
    };
    let text = recap_text(&hour, &facts);
    assert!(text.contains("Q1 Keep? — 1 answer\nQ2 Throw? — 0 answers\n"), "{text}");
    assert!(text.contains("2 people took part.\nFirst time here: @ann@b.example. Welcome!"), "{text}");
    assert!(text.contains("https://b.example/1 (3 replies)") && text.ends_with("#MuseumHour"), "{text}");
    assert_eq!(local_date(&hour, at("2026-06-02T23:30:00Z").naive_utc()), "3 June 2026", "in London");
}

//! Time zones and the plain-text line that says when an event happens.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The IANA time zone named `name` (`Europe/London`), if it is one.
pub fn timezone(name: &str) -> Option<Tz> {
    name.trim().parse::<Tz>().ok()
}

/// A UTC time on the wall clock of `tz` (UTC when none or unknown).
pub fn local(at: NaiveDateTime, tz: Option<&str>) -> DateTime<Tz> {
    let zone = tz.and_then(timezone).unwrap_or(Tz::UTC);
    zone.from_utc_datetime(&at)
}

/// "Saturday 12 December 2026, 10:00–16:00 (Europe/London)": start and end on the
/// organizer's clock, the end's date only when it is another day.
pub fn when_text(starts: NaiveDateTime, ends: Option<NaiveDateTime>, tz: Option<&str>) -> String {
    let start = local(starts, tz);
    let zone = start.timezone().name().to_owned();
    let mut text = start.format("%A %-d %B %Y, %H:%M").to_string();
    if let Some(end) = ends.map(|e| local(e, tz)) {
        if end.date_naive() == start.date_naive() {
            text.push_str(&end.format("–%H:%M").to_string());
        } else {
            text.push_str(&end.format(" – %A %-d %B %Y, %H:%M").to_string());
        }
    }
    format!("{text} ({zone})")
}

/// A time cut to whole seconds (every backend stores those exactly, so times compare equal
/// after a round trip).
pub fn whole_seconds(t: NaiveDateTime) -> NaiveDateTime {
    chrono::Timelike::with_nanosecond(&t, 0).unwrap_or(t)
}

/// The UTC instant of a wall-clock time in `tz`; the earlier one when the clock goes back,
/// and the moment after the gap when it goes forward.
pub fn to_utc(wall: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&wall) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        chrono::LocalResult::None => to_utc(wall + chrono::Duration::hours(1), tz),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn says_when_on_the_organizers_clock() {
        let text = when_text(at("2026-07-11 09:00"), Some(at("2026-07-11 15:00")), Some("Europe/London"));
        assert_eq!(text, "Saturday 11 July 2026, 10:00–16:00 (Europe/London)");
        assert_eq!(when_text(at("2026-12-12 10:00"), None, None), "Saturday 12 December 2026, 10:00 (UTC)");
        assert!(timezone("Mars/Olympus").is_none());
    }

    #[test]
    fn wall_clock_times_in_a_gap_move_forward() {
        let london = timezone("Europe/London").unwrap();
        assert_eq!(to_utc(at("2026-03-29 01:30"), london).naive_utc(), at("2026-03-29 01:30"));
        assert_eq!(to_utc(at("2026-07-01 20:00"), london).naive_utc(), at("2026-07-01 19:00"));
    }
}

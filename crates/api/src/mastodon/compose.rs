//! What an app sends to post or edit a status, parsed into typed values at the edge: the
//! text, visibility, poll, schedule and media attributes, each refused with a 422 naming the
//! field when it is wrong.

use chrono::{DateTime, NaiveDateTime, Utc};
use guildhall_core::model::Visibility;
use guildhall_federation::actions::{MediaAttributes, PollParams};
use guildhall_storage::accounts::PostingDefaults;
use guildhall_storage::polls::{EXPIRY_RANGE, MAX_OPTION_CHARS, MAX_OPTIONS};

use super::params::Params;
use crate::ApiError;

/// Longest status text accepted.
pub const MAX_CHARACTERS: usize = 5000;
/// How far ahead a status must be scheduled (as Mastodon).
pub const MIN_SCHEDULE_AHEAD: chrono::Duration = chrono::Duration::minutes(5);

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(format!("Validation failed: {}", message.into()))
}

/// A new status as the app asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compose {
    /// The text.
    pub text: String,
    /// Uploads to attach, in order.
    pub media_ids: Vec<i64>,
    /// Who may see it (the author's default when not sent).
    pub visibility: Visibility,
    /// The id of the status it replies to, as sent.
    pub in_reply_to_id: Option<String>,
    /// Content warning.
    pub spoiler_text: String,
    /// Media sensitive.
    pub sensitive: bool,
    /// Language tag.
    pub language: Option<String>,
    /// A poll.
    pub poll: Option<PollParams>,
    /// When to publish it, if later.
    pub scheduled_at: Option<Schedule>,
}

/// What `scheduled_at` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// At this time (at least [`MIN_SCHEDULE_AHEAD`] from now).
    At(NaiveDateTime),
    /// A time already past: published at once, as Mastodon does.
    Now,
}

impl Compose {
    /// Parses a post request; `defaults` fill what the app left out.
    pub fn parse(params: &Params, defaults: &PostingDefaults) -> Result<Compose, ApiError> {
        let text = params.get("status").unwrap_or("").to_owned();
        let media_ids = super::media::media_ids(params)?;
        let poll = poll(params)?;
        if text.trim().is_empty() && media_ids.is_empty() {
            return Err(invalid("Text can't be blank"));
        }
        if text.chars().count() > MAX_CHARACTERS {
            return Err(invalid(format!("Text character limit of {MAX_CHARACTERS} exceeded")));
        }
        if poll.is_some() && !media_ids.is_empty() {
            return Err(invalid("poll: Cannot attach files to a poll"));
        }
        let visibility = match params.get("visibility") {
            Some(v) => {
                Visibility::parse(v).ok_or_else(|| invalid(format!("visibility: unknown visibility {v}")))?
            }
            None => defaults.visibility,
        };
        Ok(Compose {
            text,
            media_ids,
            visibility,
            in_reply_to_id: params.get("in_reply_to_id").map(str::to_owned),
            spoiler_text: params.get("spoiler_text").unwrap_or("").to_owned(),
            sensitive: params.flag("sensitive").unwrap_or(defaults.sensitive),
            language: params
                .get("language")
                .map(str::to_owned)
                .or_else(|| defaults.language.clone())
                .or(Some("en".into())),
            poll,
            scheduled_at: scheduled_at(params)?,
        })
    }
}

/// The `poll[...]` of a post (form `poll[options][]`, or JSON `poll: {options, expires_in,
/// multiple}`), checked against the limits the instance advertises.
pub fn poll(params: &Params) -> Result<Option<PollParams>, ApiError> {
    let options = params.all("poll[options]");
    let has_poll = !options.is_empty() || params.has("poll[expires_in]");
    if !has_poll {
        return Ok(None);
    }
    if options.len() < 2 || options.len() > MAX_OPTIONS {
        return Err(invalid(format!("poll[options]: a poll needs from 2 to {MAX_OPTIONS} options")));
    }
    let mut seen: Vec<&str> = Vec::new();
    for option in &options {
        let trimmed = option.trim();
        if trimmed.is_empty() {
            return Err(invalid("poll[options]: an option can't be blank"));
        }
        if trimmed.chars().count() > MAX_OPTION_CHARS {
            return Err(invalid(format!(
                "poll[options]: an option is longer than {MAX_OPTION_CHARS} characters"
            )));
        }
        if seen.contains(&trimmed) {
            return Err(invalid("poll[options]: options must differ"));
        }
        seen.push(trimmed);
    }
    let expires_in = params
        .get("poll[expires_in]")
        .ok_or_else(|| invalid("poll[expires_in]: is missing"))?
        .parse::<f64>()
        .map_err(|_| invalid("poll[expires_in]: must be a number of seconds"))?;
    // Some apps send a float; the range check is on whole seconds.
    let expires_in = expires_in as i64;
    if !EXPIRY_RANGE.contains(&expires_in) {
        return Err(invalid(format!(
            "poll[expires_in]: must be from {} to {} seconds",
            EXPIRY_RANGE.start(),
            EXPIRY_RANGE.end()
        )));
    }
    Ok(Some(PollParams {
        options: options.iter().map(|o| o.trim().to_owned()).collect(),
        expires_in,
        multiple: params.flag("poll[multiple]").unwrap_or(false),
    }))
}

/// The `scheduled_at` of a post: ISO 8601 with a zone.
pub fn scheduled_at(params: &Params) -> Result<Option<Schedule>, ApiError> {
    let Some(raw) = params.get("scheduled_at") else { return Ok(None) };
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| invalid("scheduled_at: must be an ISO 8601 time with a zone"))?
        .with_timezone(&Utc)
        .naive_utc();
    schedule(at).map(Some)
}

/// What a requested time means: later (at least five minutes ahead), or now when past.
pub fn schedule(at: NaiveDateTime) -> Result<Schedule, ApiError> {
    let now = guildhall_storage::now();
    if at <= now {
        return Ok(Schedule::Now);
    }
    if at < now + MIN_SCHEDULE_AHEAD {
        return Err(invalid("scheduled_at: The scheduled date must be at least 5 minutes in the future"));
    }
    Ok(Schedule::At(at))
}

/// The `media_attributes[]` of an edit: JSON `[{id, description, focus}]` (read as
/// `media_attributes[N][field]`), the same indexed in a form, or `media_attributes[][field]`
/// lists matched by position.
pub fn media_attributes(params: &Params) -> Result<Vec<MediaAttributes>, ApiError> {
    let mut out = Vec::new();
    for i in 0..MAX_MEDIA_ATTRIBUTES {
        let key = |field: &str| format!("media_attributes[{i}][{field}]");
        let Some(id) = params.get(&key("id")) else { break };
        out.push(attributes(id, params.raw(&key("description")), params.get(&key("focus")))?);
    }
    let ids = params.all("media_attributes[][id]");
    let descriptions = params.all("media_attributes[][description]");
    let foci = params.all("media_attributes[][focus]");
    for (n, id) in ids.iter().enumerate().take(MAX_MEDIA_ATTRIBUTES) {
        out.push(attributes(id, descriptions.get(n).map(String::as_str), foci.get(n).map(String::as_str))?);
    }
    Ok(out)
}

/// More attributes than a status has media are never needed.
pub const MAX_MEDIA_ATTRIBUTES: usize = guildhall_storage::media::MAX_PER_STATUS;

fn attributes(id: &str, description: Option<&str>, focus: Option<&str>) -> Result<MediaAttributes, ApiError> {
    let id = id.parse::<i64>().map_err(|_| invalid(format!("media_attributes: Media {id} not found")))?;
    if description.is_some_and(|d| d.chars().count() > super::media::MAX_DESCRIPTION) {
        return Err(invalid(format!(
            "media_attributes: Description is too long (maximum is {} characters)",
            super::media::MAX_DESCRIPTION
        )));
    }
    let focus = match focus.filter(|f| !f.is_empty()) {
        Some(raw) => Some(
            super::entities::focus(raw)
                .map(|(x, y)| format!("{x},{y}"))
                .ok_or_else(|| invalid("media_attributes: focus must be x,y with each from -1.0 to 1.0"))?,
        ),
        None => None,
    };
    Ok(MediaAttributes { id, description: description.map(|d| d.trim().to_owned()), focus })
}

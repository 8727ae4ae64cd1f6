//! Objects shown as statuses: Note, and Article, Page and Question.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::protocol::strings;

/// Object types we show as statuses (media objects as a status with their file attached, as
/// Mastodon shows PeerTube videos, Funkwhale tracks and Pixelfed-style images).
pub const STATUS_TYPES: [&str; 8] =
    ["Note", "Article", "Page", "Question", "Event", "Image", "Audio", "Video"];

/// Media object types: their own `url` holds the file.
const MEDIA_TYPES: [&str; 3] = ["Image", "Audio", "Video"];

/// A `url` value: the page to link (an HTML link preferred) and the media files it names
/// (links with an `image/`, `audio/` or `video/` media type). Sent as the page URL alone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Links {
    /// The page.
    pub page: Option<Url>,
    /// Media files among the links, as attachments.
    pub media: Vec<Attachment>,
}

impl From<Option<Url>> for Links {
    fn from(page: Option<Url>) -> Links {
        Links { page, media: Vec::new() }
    }
}

/// A link's media type (Funkwhale names it `mimeType`).
fn type_of(link: &Value) -> Option<&str> {
    link.get("mediaType").or_else(|| link.get("mimeType")).and_then(Value::as_str)
}

impl Serialize for Links {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.page.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Links {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Links, D::Error> {
        let value = Option::<Value>::deserialize(d)?.unwrap_or(Value::Null);
        let mut items = match &value {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        // PeerTube puts the files of an HLS playlist in the playlist link's own `tag`.
        let nested: Vec<Value> =
            items.iter().filter_map(|l| l.get("tag")?.as_array().cloned()).flatten().collect();
        items.extend(nested);
        let media = items
            .iter()
            .filter(|l| {
                type_of(l).is_some_and(|t| ["image/", "audio/", "video/"].iter().any(|p| t.starts_with(p)))
            })
            .filter_map(|l| {
                Some(Attachment {
                    kind: "Document".into(),
                    url: Some(crate::protocol::link_href(l)?),
                    media_type: type_of(l).map(str::to_owned),
                    name: None,
                    blurhash: None,
                    width: l.get("width").and_then(Value::as_i64),
                    height: l.get("height").and_then(Value::as_i64),
                })
            })
            .collect();
        Ok(Links { page: crate::protocol::link_href(&value), media })
    }
}

/// A `tag` entry: `Mention` or `Hashtag` (others are kept as their type with no effect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// `Mention`, `Hashtag`, `Emoji`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Link: the actor for mentions, the tag page for hashtags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// `@user@domain` or `#tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Tag {
    /// A `Mention` of an actor.
    pub fn is_mention(&self) -> bool {
        self.kind == "Mention"
    }

    /// A `Hashtag`.
    pub fn is_hashtag(&self) -> bool {
        self.kind == "Hashtag"
    }
}

/// A media attachment (`Document`, `Image`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// `Document`, `Image`, `Video`, `Audio`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The file.
    #[serde(deserialize_with = "crate::protocol::url_ref", default)]
    pub url: Option<Url>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Alt text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Blurhash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blurhash: Option<String>,
    /// Pixel width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    /// Pixel height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
}

/// A status-like object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApNote {
    /// `Note`, `Article`, `Page`, `Question`.
    #[serde(rename = "type", deserialize_with = "crate::protocol::type_name")]
    pub kind: String,
    /// The object's id.
    pub id: Url,
    /// The author: a string, an object, or (PeerTube) an array of which the Person counts.
    pub attributed_to: Attribution,
    /// Primary audience.
    #[serde(default, deserialize_with = "strings")]
    pub to: Vec<String>,
    /// Secondary audience.
    #[serde(default, deserialize_with = "strings")]
    pub cc: Vec<String>,
    /// FEP-1b12 audience (the group).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::protocol::url_ref")]
    pub audience: Option<Url>,
    /// The parent.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::protocol::url_ref")]
    pub in_reply_to: Option<Url>,
    /// Title (articles, Lemmy pages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Content warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Marked sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive: Option<bool>,
    /// HTML content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Content per language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_map: Option<BTreeMap<String, String>>,
    /// Source as typed (Lemmy sends markdown here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Value>,
    /// When published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    /// When last edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// HTML page (and, for media objects, the files).
    #[serde(default, skip_serializing_if = "links_are_empty")]
    pub url: Links,
    /// Mentions, hashtags, emoji.
    #[serde(default, deserialize_with = "lenient_list")]
    pub tag: Vec<Tag>,
    /// Media.
    #[serde(default, deserialize_with = "lenient_list")]
    pub attachment: Vec<Attachment>,
    /// A single-choice poll's options (`Question`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "choices")]
    pub one_of: Option<Vec<PollChoice>>,
    /// A multiple-choice poll's options (`Question`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "choices")]
    pub any_of: Option<Vec<PollChoice>>,
    /// When the poll ends.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_time")]
    pub end_time: Option<DateTime<Utc>>,
    /// When the poll was closed (some servers send `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Value>,
    /// How many accounts voted (Mastodon's extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voters_count: Option<i64>,
    /// An `Event`'s own fields.
    #[serde(flatten)]
    pub event: crate::protocol::event::EventFields,
}

/// Largest count taken from another server's poll.
const MAX_REMOTE_COUNT: i64 = 1_000_000_000;

/// Longest option title kept from another server's poll.
const MAX_REMOTE_OPTION_CHARS: usize = 500;

/// A poll option: a `Note` named by the option, with its count as `replies.totalItems`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollChoice {
    /// `Note`.
    #[serde(rename = "type", default = "note_type")]
    pub kind: String,
    /// The option's text.
    pub name: String,
    /// The votes for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<ChoiceCount>,
}

fn note_type() -> String {
    "Note".into()
}

/// The `replies` of a poll option: only its count matters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChoiceCount {
    /// `Collection`.
    #[serde(rename = "type", default = "collection_type")]
    pub kind: String,
    /// The number of votes.
    #[serde(default)]
    pub total_items: i64,
}

fn collection_type() -> String {
    "Collection".into()
}

/// A poll's options as sent, dropping ones that do not parse and keeping at most
/// [`guildhall_storage::polls::MAX_REMOTE_OPTIONS`].
fn choices<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<PollChoice>>, D::Error> {
    let items: Vec<PollChoice> = lenient_list(d)?;
    if items.is_empty() {
        return Ok(None);
    }
    Ok(Some(items.into_iter().take(guildhall_storage::polls::MAX_REMOTE_OPTIONS).collect()))
}

/// A time, or nothing when it does not parse.
fn lenient_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

fn links_are_empty(links: &Links) -> bool {
    links.page.is_none()
}

/// `attributedTo`: the author (a string, an object, or (PeerTube) an array of which the
/// Person counts), and the group hosting it, sent after the author as PeerTube does (a group's
/// event is attributed to both, as Mobilizon attributes it to the group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// The author.
    pub author: Url,
    /// The hosting group, when sent with it.
    pub group: Option<Url>,
}

impl From<Url> for Attribution {
    fn from(author: Url) -> Attribution {
        Attribution { author, group: None }
    }
}

impl std::ops::Deref for Attribution {
    type Target = Url;

    fn deref(&self) -> &Url {
        &self.author
    }
}

impl Serialize for Attribution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.group {
            Some(group) => [&self.author, group].serialize(s),
            None => self.author.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Attribution {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Attribution, D::Error> {
        let value = Value::deserialize(d)?;
        let kind = |v: &&Value| v.get("type").and_then(Value::as_str).map(str::to_owned);
        let person = match &value {
            Value::Array(items) => items
                .iter()
                .find(|v| kind(v).as_deref() == Some("Person"))
                .or_else(|| items.first())
                .and_then(crate::protocol::id_of),
            other => crate::protocol::id_of(other),
        };
        let group = match &value {
            Value::Array(items) => {
                items.iter().find(|v| kind(v).as_deref() == Some("Group")).and_then(crate::protocol::id_of)
            }
            _ => None,
        };
        let author = person.ok_or_else(|| serde::de::Error::custom("attributedTo has no actor id"))?;
        Ok(Attribution { author, group })
    }
}

fn lenient_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<Value>::deserialize(d)?;
    let items = match value {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    };
    Ok(items.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect())
}

impl ApNote {
    /// The HTML content: `content`, else the first `contentMap` entry.
    pub fn html(&self) -> String {
        self.content
            .clone()
            .or_else(|| self.content_map.as_ref().and_then(|m| m.values().next().cloned()))
            .unwrap_or_default()
    }

    /// The media to attach: the `attachment` list, or for a media object (`Video`, `Audio`,
    /// `Image`) without one, the files its `url` names (a bare `url` of an `Image` is the
    /// image).
    pub fn media(&self) -> Vec<Attachment> {
        if !self.attachment.is_empty() || !MEDIA_TYPES.contains(&self.kind.as_str()) {
            return self.attachment.clone();
        }
        if let Some(file) = self.url.media.first() {
            // One file, as Mastodon shows it (the others are other sizes of the same).
            return vec![file.clone()];
        }
        match (&self.url.page, self.kind.as_str()) {
            (Some(image), "Image") => vec![Attachment {
                kind: "Image".into(),
                url: Some(image.clone()),
                media_type: None,
                name: self.name.clone(),
                blurhash: None,
                width: None,
                height: None,
            }],
            _ => Vec::new(),
        }
    }

    /// The poll this object carries (a `Question`'s options), if any: the titles (plain text),
    /// whether several may be chosen, the counts and voters as the origin says.
    pub fn poll(&self) -> Option<guildhall_storage::polls::NewPoll> {
        let (choices, multiple) = match (&self.one_of, &self.any_of) {
            (Some(one), _) => (one, false),
            (None, Some(any)) => (any, true),
            (None, None) => return None,
        };
        // Another server's numbers, bounded so that sums cannot overflow.
        let bound = |n: i64| n.clamp(0, MAX_REMOTE_COUNT);
        let counts: Vec<i64> =
            choices.iter().map(|c| c.replies.as_ref().map_or(0, |r| bound(r.total_items))).collect();
        let voters =
            bound(self.voters_count.unwrap_or_else(|| if multiple { 0 } else { counts.iter().sum() }));
        // Closed at a time (not later than now), or just closed.
        let now = Utc::now().naive_utc();
        let closed_at = match &self.closed {
            Some(Value::String(at)) => DateTime::parse_from_rfc3339(at).ok().map(|t| t.naive_utc().min(now)),
            Some(Value::Bool(true)) => Some(self.end_time.map_or(now, |t| t.naive_utc().min(now))),
            _ => None,
        };
        Some(guildhall_storage::polls::NewPoll {
            options: choices
                .iter()
                .map(|c| {
                    // Cut before and after stripping: the raw name is a stranger's length.
                    let raw: String = c.name.chars().take(MAX_REMOTE_OPTION_CHARS * 4).collect();
                    guildhall_core::text::strip_html(&raw).chars().take(MAX_REMOTE_OPTION_CHARS).collect()
                })
                .collect(),
            multiple,
            expires_at: self.end_time.map(|t| t.naive_utc()),
            counts: Some((counts, voters)),
            closed_at,
        })
    }

    /// A vote: a `Note` with a `name` (the option), no content, in reply to a poll.
    pub fn is_vote(&self) -> bool {
        self.kind == "Note"
            && self.name.is_some()
            && self.in_reply_to.is_some()
            && self.html().trim().is_empty()
            && self.attachment.is_empty()
    }

    /// The language, from the first `contentMap` key.
    pub fn language(&self) -> Option<String> {
        self.content_map.as_ref().and_then(|m| m.keys().next().cloned()).filter(|l| l.len() <= 16)
    }
}

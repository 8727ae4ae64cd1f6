//! Activities as received: the envelope read leniently, the `object` kept as JSON and
//! interpreted by each handler.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::protocol::{id_of, strings};

/// An incoming activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// The activity's id.
    pub id: Url,
    /// Its type.
    #[serde(rename = "type", deserialize_with = "crate::protocol::type_name")]
    pub kind: String,
    /// Who did it (a URL, or an embedded actor of which the id counts).
    #[serde(deserialize_with = "actor_id")]
    pub actor: Url,
    /// What it acts on: an id or an embedded object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
    /// Where (`Move`, `Add`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Value>,
    /// Primary audience.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "strings")]
    pub to: Vec<String>,
    /// Secondary audience.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "strings")]
    pub cc: Vec<String>,
    /// Free text (`Flag` comments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A `Join`'s message to the organizer (Mobilizon).
    #[serde(default, rename = "participationMessage", skip_serializing_if = "Option::is_none")]
    pub participation_message: Option<String>,
}

fn actor_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    let value = Value::deserialize(d)?;
    id_of(&value).ok_or_else(|| serde::de::Error::custom("actor has no id"))
}

impl Activity {
    /// The id of `object`, whether given as a URL or embedded.
    pub fn object_id(&self) -> Option<Url> {
        self.object.as_ref().and_then(id_of)
    }

    /// The activity as JSON, to pass on (a group relays what its members send).
    pub fn to_json(&self) -> Value {
        crate::protocol::with_context(serde_json::to_value(self).unwrap_or(Value::Null))
    }

    /// The embedded object's `type`, when the object is embedded.
    pub fn object_type(&self) -> Option<&str> {
        self.object.as_ref().and_then(|o| o.get("type")).and_then(Value::as_str)
    }
}

/// The activity types we act on (anything else is accepted and ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityKind {
    /// Asks to follow.
    Follow,
    /// Accepts a follow (or, from Friendica, an event).
    Accept,
    /// Refuses a follow or a post into a group.
    Reject,
    /// Takes back an earlier activity.
    Undo,
    /// A new object.
    Create,
    /// A changed object or actor.
    Update,
    /// A removed object or actor.
    Delete,
    /// A favourite.
    Like,
    /// Misskey's reaction: a like with an emoji, kept as a like.
    EmojiReact,
    /// A boost, or a group's relay.
    Announce,
    /// A block.
    Block,
    /// An account moving.
    Move,
    /// A report.
    Flag,
    /// An RSVP: coming to an event (Mobilizon).
    Join,
    /// Taking an RSVP back (Mobilizon).
    Leave,
    /// Friendica's "maybe" to an event.
    TentativeAccept,
}

impl ActivityKind {
    /// Every kind we act on.
    pub const ALL: [ActivityKind; 16] = [
        ActivityKind::Follow,
        ActivityKind::Accept,
        ActivityKind::Reject,
        ActivityKind::Undo,
        ActivityKind::Create,
        ActivityKind::Update,
        ActivityKind::Delete,
        ActivityKind::Like,
        ActivityKind::EmojiReact,
        ActivityKind::Announce,
        ActivityKind::Block,
        ActivityKind::Move,
        ActivityKind::Flag,
        ActivityKind::Join,
        ActivityKind::Leave,
        ActivityKind::TentativeAccept,
    ];

    /// The kind named `name` (ActivityStreams spelling), if we act on it.
    pub fn parse(name: &str) -> Option<ActivityKind> {
        ActivityKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The ActivityStreams name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Follow => "Follow",
            ActivityKind::Accept => "Accept",
            ActivityKind::Reject => "Reject",
            ActivityKind::Undo => "Undo",
            ActivityKind::Create => "Create",
            ActivityKind::Update => "Update",
            ActivityKind::Delete => "Delete",
            ActivityKind::Like => "Like",
            ActivityKind::EmojiReact => "EmojiReact",
            ActivityKind::Announce => "Announce",
            ActivityKind::Block => "Block",
            ActivityKind::Move => "Move",
            ActivityKind::Flag => "Flag",
            ActivityKind::Join => "Join",
            ActivityKind::Leave => "Leave",
            ActivityKind::TentativeAccept => "TentativeAccept",
        }
    }
}

impl Activity {
    /// This activity's kind, when we act on it.
    pub fn kind(&self) -> Option<ActivityKind> {
        ActivityKind::parse(&self.kind)
    }

    /// The kind of the embedded object, when it is an activity we act on.
    pub fn object_kind(&self) -> Option<ActivityKind> {
        self.object_type().and_then(ActivityKind::parse)
    }
}

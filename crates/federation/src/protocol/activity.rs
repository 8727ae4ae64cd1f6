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

//! Actors: Person, Group, Application, Service, Organization.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

/// `publicKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    /// Key id, usually `<actor>#main-key`.
    pub id: String,
    /// The actor owning the key (some servers leave it out; it is then the actor itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Url>,
    /// SPKI PEM.
    pub public_key_pem: String,
}

/// `endpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// The shared inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_inbox: Option<Url>,
}

/// An `Image` (avatar or header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// Always `Image`.
    #[serde(rename = "type", default = "image_type")]
    pub kind: String,
    /// The file.
    #[serde(deserialize_with = "crate::protocol::url_ref", default)]
    pub url: Option<Url>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

fn image_type() -> String {
    "Image".into()
}

/// A profile field (`PropertyValue`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyValue {
    /// Always `PropertyValue`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Label.
    pub name: String,
    /// Value, HTML.
    pub value: String,
}

/// An actor document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApActor {
    /// `Person`, `Group`, `Application`, `Service` or `Organization`.
    #[serde(rename = "type", deserialize_with = "crate::protocol::type_name")]
    pub kind: String,
    /// The actor's id.
    pub id: Url,
    /// Handle name (when missing, the last segment of the id stands in).
    #[serde(default)]
    pub preferred_username: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Bio, HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Personal inbox.
    pub inbox: Url,
    /// Outbox collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<Url>,
    /// Followers collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<Url>,
    /// Following collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub following: Option<Url>,
    /// Lemmy-style moderators collection (groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderators: Option<Url>,
    /// Mastodon's pinned posts collection.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::protocol::url_ref")]
    pub featured: Option<Url>,
    /// Shared inbox and friends (a non-object value is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_endpoints")]
    pub endpoints: Option<Endpoints>,
    /// The signing key; an actor without one cannot sign anything we would accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKey>,
    /// Locked account / approval-only group.
    #[serde(default, deserialize_with = "crate::protocol::lenient_bool")]
    pub manually_approves_followers: Option<bool>,
    /// Listed in directories.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::protocol::lenient_bool"
    )]
    pub discoverable: Option<bool>,
    /// Avatar.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_image")]
    pub icon: Option<Image>,
    /// Header.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_image")]
    pub image: Option<Image>,
    /// Profile fields (other attachment types are skipped).
    #[serde(default, deserialize_with = "property_values")]
    pub attachment: Vec<PropertyValue>,
    /// When the actor was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    /// Profile page.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::protocol::url_ref")]
    pub url: Option<Url>,
    /// Where the account moved to.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::protocol::url_ref")]
    pub moved_to: Option<Url>,
    /// Lemmy: only moderators may post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posting_restricted_to_mods: Option<bool>,
    /// Guildhall: a group whose posts reach its members only (posting into it is addressed to
    /// the group alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_only: Option<bool>,
}

fn lenient_endpoints<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Endpoints>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.filter(Value::is_object).and_then(|v| serde_json::from_value(v).ok()))
}

fn lenient_image<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Image>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    let first = match value {
        Some(Value::Array(items)) => items.into_iter().next(),
        other => other,
    };
    Ok(first.and_then(|v| serde_json::from_value(v).ok()).filter(|i: &Image| i.url.is_some()))
}

fn property_values<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PropertyValue>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    let items = match value {
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    Ok(items
        .into_iter()
        .filter(|v| v.get("type").and_then(Value::as_str) == Some("PropertyValue"))
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}

impl ApActor {
    /// The shared inbox, when advertised.
    pub fn shared_inbox(&self) -> Option<&Url> {
        self.endpoints.as_ref().and_then(|e| e.shared_inbox.as_ref())
    }

    /// The handle name: `preferredUsername`, else the last path segment of the id.
    pub fn username(&self) -> String {
        if !self.preferred_username.is_empty() {
            return self.preferred_username.clone();
        }
        self.id.path_segments().and_then(|mut s| s.rfind(|p| !p.is_empty())).unwrap_or("unknown").to_owned()
    }

    /// The public key PEM, if the actor has one.
    pub fn public_key_pem(&self) -> Option<&str> {
        self.public_key.as_ref().map(|k| k.public_key_pem.as_str())
    }
}

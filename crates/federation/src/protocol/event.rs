//! The fields an `Event` adds to a status-like object (Mobilizon, FEP-8a8e, Gancio,
//! Friendica), read leniently and written as Mobilizon and Mastodon expect.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// An event's own fields, flattened into [`super::note::ApNote`] (whose `name`, `content`,
/// `summary`, `url` and `endTime` it shares).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFields {
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub start_time: Option<DateTime<Utc>>,
    /// The organizer's IANA time zone.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub timezone: Option<String>,
    /// A `Place`, a `VirtualLocation`, or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Value>,
    /// Places (0 or absent: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub maximum_attendee_capacity: Option<i64>,
    /// Places left.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub remaining_attendee_capacity: Option<i64>,
    /// People coming (Mobilizon).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub participant_count: Option<i64>,
    /// `free`, `restricted`, `invite`, `external`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub join_mode: Option<String>,
    /// Where to register when `external`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub external_participation_url: Option<String>,
    /// schema.org `eventStatus`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub event_status: Option<String>,
    /// Mobilizon's `ical:status`.
    #[serde(
        rename = "ical:status",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub ical_status: Option<String>,
    /// One category or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Value>,
    /// Who organizes it (FEP-8a8e).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizers: Option<Value>,
    /// Happens online only (Mobilizon).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub is_online: Option<bool>,
}

fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

/// Where an event happens, as read from its `location`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Where {
    /// The place's name.
    pub name: Option<String>,
    /// Street (or the whole address, when given as one string).
    pub street: Option<String>,
    /// Town.
    pub locality: Option<String>,
    /// Postcode.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// The online location.
    pub online_url: Option<String>,
}

/// Longest place field kept from another server.
const MAX_FIELD: usize = 300;

fn text(value: Option<&Value>) -> Option<String> {
    let raw = value?.as_str()?;
    let cut: String = raw.chars().take(MAX_FIELD * 4).collect();
    let plain: String = guildhall_core::text::strip_html(&cut).trim().chars().take(MAX_FIELD).collect();
    Some(plain).filter(|t| !t.is_empty())
}

impl EventFields {
    /// The place and online location, from one `location` or several.
    pub fn place(&self) -> Where {
        let mut found = Where::default();
        let items = match &self.location {
            Some(Value::Array(items)) => items.clone(),
            Some(other @ Value::Object(_)) => vec![other.clone()],
            _ => Vec::new(),
        };
        for item in &items {
            match item.get("type").and_then(Value::as_str) {
                Some("VirtualLocation" | "Link") => {
                    let url = item.get("url").or_else(|| item.get("href")).and_then(crate::protocol::id_of);
                    found.online_url = found.online_url.or(url.map(|u| u.to_string()));
                }
                _ if found.name.is_none() && found.street.is_none() => read_place(item, &mut found),
                _ => {}
            }
        }
        found
    }

    /// The capacity, when limited (0 means none, as Mobilizon sends it).
    pub fn capacity(&self) -> Option<i32> {
        self.maximum_attendee_capacity
            .filter(|c| *c > 0)
            .map(|c| c.min(i64::from(guildhall_storage::events::MAX_CAPACITY)) as i32)
    }

    /// The first category, plain text.
    pub fn first_category(&self) -> Option<String> {
        match &self.category {
            Some(Value::Array(items)) => text(items.first()),
            other => text(other.as_ref()),
        }
    }
}

fn read_place(item: &Value, found: &mut Where) {
    found.name = text(item.get("name"));
    match item.get("address") {
        Some(Value::String(_)) => found.street = text(item.get("address")),
        Some(address @ Value::Object(_)) => {
            found.street = text(address.get("streetAddress"));
            found.locality = text(address.get("addressLocality"));
            found.postal_code = text(address.get("postalCode"));
            found.country = text(address.get("addressCountry"));
        }
        _ => {}
    }
}

/// The `location` we send: a `Place` with its `PostalAddress`, and the call as a
/// `VirtualLocation` (both in an array when there are both).
pub fn location_of(place: &Where) -> Option<Value> {
    let mut items = Vec::new();
    if place.name.is_some() || place.street.is_some() || place.locality.is_some() {
        items.push(json!({
            "type": "Place",
            "name": place.name.clone().or_else(|| place.locality.clone()),
            "address": {
                "type": "PostalAddress",
                "streetAddress": place.street,
                "addressLocality": place.locality,
                "postalCode": place.postal_code,
                "addressCountry": place.country,
            }
        }));
    }
    if let Some(url) = &place.online_url {
        items.push(json!({ "type": "VirtualLocation", "url": url }));
    }
    match items.len() {
        0 => None,
        1 => items.pop(),
        _ => Some(Value::Array(items)),
    }
}

/// The `@context` terms events use (Mobilizon's `mz:`, schema.org's `sc:`, `ical:`).
pub fn context_terms() -> Value {
    json!({
        "sc": "http://schema.org#",
        "ical": "http://www.w3.org/2002/12/cal/ical#",
        "mz": "https://joinmobilizon.org/ns#",
        "Place": "sc:Place",
        "PostalAddress": "sc:PostalAddress",
        "VirtualLocation": "sc:VirtualLocation",
        "address": "sc:address",
        "streetAddress": "sc:streetAddress",
        "addressLocality": "sc:addressLocality",
        "postalCode": "sc:postalCode",
        "addressCountry": "sc:addressCountry",
        "category": "sc:category",
        "maximumAttendeeCapacity": "sc:maximumAttendeeCapacity",
        "remainingAttendeeCapacity": "sc:remainingAttendeeCapacity",
        "eventStatus": { "@id": "sc:eventStatus", "@type": "@id" },
        "joinMode": { "@id": "mz:joinMode", "@type": "mz:joinModeType" },
        "joinModeType": { "@id": "mz:joinModeType", "@type": "rdfs:Class" },
        "participantCount": { "@id": "mz:participantCount", "@type": "sc:Integer" },
        "participationMessage": { "@id": "mz:participationMessage", "@type": "sc:Text" },
        "externalParticipationUrl": { "@id": "mz:externalParticipationUrl", "@type": "sc:URL" },
        "timezone": { "@id": "mz:timezone", "@type": "sc:Text" },
        "isOnline": { "@id": "mz:isOnline", "@type": "sc:Boolean" }
    })
}

/// True for a document about an event: an `Event`, an activity on one, or an RSVP.
pub fn is_about_events(doc: &Value) -> bool {
    let kind = |v: &Value| v.get("type").and_then(Value::as_str).map(str::to_owned);
    matches!(kind(doc).as_deref(), Some("Event" | "Join" | "Leave"))
        || doc
            .get("object")
            .and_then(kind)
            .as_deref()
            .is_some_and(|k| matches!(k, "Event" | "Join" | "Leave"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_places_given_as_objects_strings_and_lists() {
        let fields: EventFields = serde_json::from_value(json!({
            "location": [
                {"type": "Place", "name": "<b>Uni</b>", "address": "15 Fediverse Street"},
                {"type": "VirtualLocation", "url": "https://bbb.example/room"},
                {"type": "VirtualLocation", "url": "javascript:alert(1)"}
            ],
            "maximumAttendeeCapacity": 0,
            "startTime": "2025-03-14T21:30:00.000+01:00",
            "category": ["MEETING", "ART"]
        }))
        .unwrap();
        let place = fields.place();
        assert_eq!(place.name.as_deref(), Some("Uni"));
        assert_eq!(place.street.as_deref(), Some("15 Fediverse Street"));
        assert_eq!(place.online_url.as_deref(), Some("https://bbb.example/room"));
        assert_eq!(fields.capacity(), None, "0 places means no limit");
        assert_eq!(fields.start_time.unwrap().to_rfc3339(), "2025-03-14T20:30:00+00:00");
        assert_eq!(fields.first_category().as_deref(), Some("MEETING"));
    }

    #[test]
    fn a_bad_field_is_dropped_not_fatal() {
        let fields: EventFields =
            serde_json::from_value(json!({"startTime": "soon", "maximumAttendeeCapacity": "many"})).unwrap();
        assert_eq!((fields.start_time, fields.capacity()), (None, None));
    }
}

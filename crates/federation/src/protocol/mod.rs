//! Wire types: what we send and what we accept.
//!
//! Incoming documents are read leniently (one-or-many values, ids given as strings or embedded
//! objects, missing optional fields), outgoing ones are shaped as Mastodon, Lemmy and
//! GoToSocial expect.

pub mod activity;
pub mod actor;
pub mod event;
pub mod note;

use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use url::Url;

/// The `as:Public` collection, in its three spellings.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// True when `addr` means "everyone".
pub fn is_public(addr: &str) -> bool {
    matches!(addr, PUBLIC | "as:Public" | "Public")
}

/// Guildhall's own vocabulary (`membersOnly` on groups), so JSON-LD readers keep its terms.
pub const GUILDHALL_NS: &str = "https://w3id.org/guildhall/ns#";

/// The `@context` of every document we publish.
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "sensitive": "as:sensitive",
            "Hashtag": "as:Hashtag",
            "toot": "http://joinmastodon.org/ns#",
            "discoverable": "toot:discoverable",
            "featured": { "@id": "toot:featured", "@type": "@id" },
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value",
            "lemmy": "https://join-lemmy.org/ns#",
            "moderators": { "@id": "lemmy:moderators", "@type": "@id" },
            "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
            "guildhall": GUILDHALL_NS,
            "membersOnly": "guildhall:membersOnly"
        }
    ])
}

/// Adds our `@context` to a JSON object.
pub fn with_context(mut value: Value) -> Value {
    let about_events = event::is_about_events(&value);
    if let Value::Object(map) = &mut value {
        let mut out = serde_json::Map::new();
        let mut ctx = context();
        if about_events && let Some(items) = ctx.as_array_mut() {
            items.push(event::context_terms());
        }
        out.insert("@context".into(), ctx);
        out.extend(std::mem::take(map));
        return Value::Object(out);
    }
    value
}

/// `text` as a URL when it is `http` or `https`: the only schemes we store from another
/// server, so a `javascript:` or `data:` URL can never reach a link we render.
pub fn web_url(text: &str) -> Option<Url> {
    Url::parse(text).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// The id of a value that is either a URL string or an object with an `id` (or `href`);
/// http(s) only.
pub fn id_of(value: &Value) -> Option<Url> {
    match value {
        Value::String(s) => web_url(s),
        Value::Object(map) => map.get("id").or_else(|| map.get("href")).and_then(id_of),
        Value::Array(items) => items.iter().find_map(id_of),
        _ => None,
    }
}

/// Reads a `type` given as a string or as an array of strings (the first one that is not a
/// prefixed extension type, such as `vcard:individual`, counts).
pub fn type_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = Value::deserialize(deserializer)?;
    name_of_type(&value)
        .ok_or_else(|| serde::de::Error::custom("type must be a string or an array of strings"))
}

/// The `type` of an object, read as [`type_name`] reads it (`["Note", "Article"]` is a Note).
pub fn type_of(object: &Value) -> Option<String> {
    object.get("type").and_then(name_of_type)
}

fn name_of_type(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            names.iter().find(|n| !n.contains(':')).or(names.first()).map(|n| (*n).to_owned())
        }
        _ => None,
    }
}

/// Reads a boolean that some servers send as a string (`"true"`); anything else is `None`.
pub fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    })
}

/// Reads strings given as one string, an array of strings, or objects with ids.
pub fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(string_of).collect(),
        Some(other) => string_of(&other).into_iter().collect(),
    })
}

fn string_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => map.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// Reads a URL given as a string or as an object with an id or href (first of an array).
pub fn url_ref<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Url>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(link_href))
}

/// The first http(s) URL of a `url` value: a string, a Link object, or an array of them
/// (preferring `text/html` links).
pub fn link_href(value: &Value) -> Option<Url> {
    match value {
        Value::String(s) => web_url(s),
        Value::Object(map) => {
            map.get("href").or_else(|| map.get("id")).or_else(|| map.get("url")).and_then(link_href)
        }
        Value::Array(items) => {
            let html = items.iter().find(|v| v.get("mediaType").and_then(Value::as_str) == Some("text/html"));
            html.and_then(link_href).or_else(|| items.iter().find_map(link_href))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_we_add_is_defined_in_our_context() {
        let context = context().to_string();
        for term in ["membersOnly", "postingRestrictedToMods", "discoverable", "sensitive"] {
            assert!(context.contains(&format!("\"{term}\":")), "{term} is not defined");
        }
    }

    #[test]
    fn only_web_urls_are_read_from_other_servers() {
        for bad in
            ["javascript:alert(1)", "data:text/html,<script>x</script>", "file:///etc/passwd", "vbscript:x"]
        {
            assert_eq!(link_href(&json!(bad)), None, "{bad}");
            assert_eq!(id_of(&json!({"id": bad})), None, "{bad}");
        }
        let mixed = json!([{"href": "javascript:x", "mediaType": "text/html"}, "https://a.example/@x"]);
        assert_eq!(link_href(&mixed).map(String::from).as_deref(), Some("https://a.example/@x"));
    }

    #[test]
    fn ids_and_links_are_read_in_every_shape() {
        assert_eq!(
            id_of(&json!("https://a.example/1")).map(String::from),
            Some("https://a.example/1".into())
        );
        assert_eq!(
            id_of(&json!({"id": "https://a.example/2"})).map(String::from),
            Some("https://a.example/2".into())
        );
        assert!(id_of(&json!(3)).is_none());
        let links = json!([{"type": "Link", "mediaType": "image/png", "href": "https://a.example/i.png"},
                           {"type": "Link", "mediaType": "text/html", "href": "https://a.example/@x"}]);
        assert_eq!(link_href(&links).map(String::from), Some("https://a.example/@x".into()));
        assert!(is_public("as:Public") && !is_public("https://a.example/followers"));
    }

    #[test]
    fn context_comes_first() {
        let doc = with_context(json!({"id": "x"}));
        assert_eq!(doc.as_object().and_then(|m| m.keys().next().cloned()), Some("@context".into()));
    }
}

//! Where local actors and objects live: the one place that knows our URL layout.

use guildhall_core::Config;
use guildhall_core::model::ActorKind;
use guildhall_storage::actors::ActorUrls;

/// Builds this instance's URLs from its configured scheme and domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    base: String,
}

impl Urls {
    /// The URL layout of the instance described by `config`.
    pub fn new(config: &Config) -> Urls {
        Urls { base: config.base_url() }
    }

    /// `https://domain` (or `http://` in insecure mode), without trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The shared inbox every local actor advertises.
    pub fn shared_inbox(&self) -> String {
        format!("{}/inbox", self.base)
    }

    /// Where a stored media file (named relative to the media directory) is served.
    pub fn media(&self, file: &str) -> String {
        media_url(&self.base, file)
    }

    /// The instance actor's id (an `Application` that signs our fetches).
    pub fn instance_actor(&self) -> String {
        format!("{}/actor", self.base)
    }

    /// The URLs of a local person or group. People live under `/users/`, groups under
    /// `/groups/`; the profile page is `/@name` for both, as names share one namespace.
    pub fn actor(&self, kind: ActorKind, username: &str) -> ActorUrls {
        let ap_id = match kind {
            ActorKind::Group => format!("{}/groups/{username}", self.base),
            ActorKind::Application => self.instance_actor(),
            _ => format!("{}/users/{username}", self.base),
        };
        let collections = kind != ActorKind::Application;
        ActorUrls {
            inbox: format!("{ap_id}/inbox"),
            shared_inbox: Some(self.shared_inbox()),
            outbox: Some(format!("{ap_id}/outbox")),
            followers: collections.then(|| format!("{ap_id}/followers")),
            following: collections.then(|| format!("{ap_id}/following")),
            profile: Some(match kind {
                ActorKind::Application => format!("{}/about", self.base),
                _ => format!("{}/@{username}", self.base),
            }),
            ap_id,
        }
    }
}

/// A local actor's pinned posts (Mastodon's `featured` collection).
pub fn featured(actor_ap_id: &str) -> String {
    format!("{actor_ap_id}/collections/featured")
}

/// `base/media/file`: where a stored media file is served (for renderers that only hold the base).
pub fn media_url(base: &str, file: &str) -> String {
    format!("{base}/media/{file}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_scheme_and_domain() {
        let urls = Urls::new(&Config::defaults());
        let person = urls.actor(ActorKind::Person, "ada");
        assert_eq!(person.ap_id, "http://localhost:8080/users/ada");
        assert_eq!(person.inbox, "http://localhost:8080/users/ada/inbox");
        assert_eq!(person.shared_inbox.as_deref(), Some("http://localhost:8080/inbox"));
        assert_eq!(person.profile.as_deref(), Some("http://localhost:8080/@ada"));
        let group = urls.actor(ActorKind::Group, "curators");
        assert_eq!(group.followers.as_deref(), Some("http://localhost:8080/groups/curators/followers"));
        let app = urls.actor(ActorKind::Application, "localhost");
        assert_eq!((app.ap_id.as_str(), app.followers), ("http://localhost:8080/actor", None));
    }

    #[test]
    fn secure_domains_use_https() {
        let env = vec![("GUILDHALL_DOMAIN".to_string(), "museums.example".to_string())];
        let config = Config::load(None, env).unwrap();
        assert_eq!(
            Urls::new(&config).actor(ActorKind::Person, "ada").ap_id,
            "https://museums.example/users/ada"
        );
    }
}

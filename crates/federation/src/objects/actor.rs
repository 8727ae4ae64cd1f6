//! Actors as ActivityPub objects.

use activitypub_federation::config::Data;
use activitypub_federation::protocol::verification::verify_domains_match;
use activitypub_federation::traits::{Actor as ApActorTrait, Object};
use chrono::{DateTime, Utc};
use guildhall_core::model::ActorKind;
use guildhall_core::text::{sanitize_html, strip_html};
use guildhall_storage::actors::{self, Actor, ProfileField};
use guildhall_storage::{instances, now};
use url::Url;

use crate::error::FedError;
use crate::protocol::actor::{ApActor, Endpoints, Image, PropertyValue, PublicKey};
use crate::state::FedState;

/// An actor row with its parsed id (and, for signing, its private key).
#[derive(Debug, Clone)]
pub struct DbActor {
    /// The stored row.
    pub row: Actor,
    id: Url,
    private_key: Option<String>,
}

impl DbActor {
    /// Wraps a row; fails when its stored id is not a URL.
    pub fn new(row: Actor) -> Result<DbActor, FedError> {
        let id = Url::parse(&row.ap_id).map_err(|e| FedError::Internal(format!("stored actor id: {e}")))?;
        Ok(DbActor { row, id, private_key: None })
    }

    /// Wraps a local row together with its private key (for signing).
    pub fn with_private_key(row: Actor, private_key: String) -> Result<DbActor, FedError> {
        Ok(DbActor { private_key: Some(private_key), ..DbActor::new(row)? })
    }

    /// The ActivityPub type name of a stored kind.
    pub fn type_name(kind: ActorKind) -> &'static str {
        match kind {
            ActorKind::Person => "Person",
            ActorKind::Group => "Group",
            ActorKind::Application => "Application",
            ActorKind::Service => "Service",
            ActorKind::Organization => "Organization",
        }
    }

    /// Renders a local actor document.
    pub fn to_json(&self) -> Result<ApActor, FedError> {
        let row = &self.row;
        let parse = |s: &Option<String>| s.as_deref().and_then(|u| Url::parse(u).ok());
        let kind = row.kind()?;
        Ok(ApActor {
            kind: Self::type_name(kind).to_owned(),
            id: self.id.clone(),
            preferred_username: row.username.clone(),
            name: Some(row.display_name.clone()).filter(|n| !n.is_empty()),
            summary: Some(row.summary.clone()),
            inbox: Url::parse(&row.inbox_url)?,
            outbox: parse(&row.outbox_url),
            followers: parse(&row.followers_url),
            following: parse(&row.following_url),
            moderators: (kind == ActorKind::Group)
                .then(|| self.id.join(&format!("{}/moderators", row.username)).ok())
                .flatten(),
            featured: (row.is_local() && kind != ActorKind::Application)
                .then(|| Url::parse(&crate::urls::featured(&row.ap_id)).ok())
                .flatten(),
            endpoints: Some(Endpoints { shared_inbox: parse(&row.shared_inbox_url) }),
            public_key: Some(PublicKey {
                id: row.public_key_id.clone().unwrap_or_else(|| format!("{}#main-key", row.ap_id)),
                owner: Some(self.id.clone()),
                public_key_pem: row.public_key_pem.clone().unwrap_or_default(),
            }),
            manually_approves_followers: Some(row.manually_approves_followers),
            discoverable: Some(row.discoverable),
            icon: parse(&row.avatar_url).map(|url| Image {
                kind: "Image".into(),
                url: Some(url),
                media_type: None,
            }),
            image: parse(&row.header_url).map(|url| Image {
                kind: "Image".into(),
                url: Some(url),
                media_type: None,
            }),
            attachment: row
                .fields()
                .into_iter()
                .map(|f| PropertyValue { kind: "PropertyValue".into(), name: f.name, value: f.value })
                .collect(),
            published: row.published_at.map(|t| t.and_utc()),
            url: parse(&row.url),
            moved_to: parse(&row.moved_to_ap_id),
            posting_restricted_to_mods: None,
            members_only: (kind == ActorKind::Group && row.members_only).then_some(true),
        })
    }
}

/// Turns a fetched actor document into a row for `domain`'s instance (sanitizing HTML).
pub fn remote_row(json: &ApActor, instance_id: i64, domain: &str) -> Actor {
    let stamp = now();
    let kind = match json.kind.as_str() {
        "Group" => ActorKind::Group,
        "Application" => ActorKind::Application,
        "Service" => ActorKind::Service,
        "Organization" => ActorKind::Organization,
        _ => ActorKind::Person,
    };
    let fields: Vec<ProfileField> = json
        .attachment
        .iter()
        .map(|f| ProfileField { name: strip_html(&f.name), value: sanitize_html(&f.value) })
        .collect();
    let mut row = Actor {
        id: guildhall_core::Id::generate().0,
        kind: kind.as_str().to_owned(),
        username: json.username(),
        username_key: json.username().to_lowercase(),
        domain: Some(domain.to_owned()),
        instance_id: Some(instance_id),
        ap_id: json.id.to_string(),
        url: json.url.as_ref().map(Url::to_string),
        inbox_url: json.inbox.to_string(),
        shared_inbox_url: json.shared_inbox().map(Url::to_string),
        outbox_url: json.outbox.as_ref().map(Url::to_string),
        followers_url: json.followers.as_ref().map(Url::to_string),
        following_url: json.following.as_ref().map(Url::to_string),
        display_name: json.name.as_deref().map(strip_html).unwrap_or_default(),
        summary: json.summary.as_deref().map(sanitize_html).unwrap_or_default(),
        fields_json: String::new(),
        avatar_url: json.icon.as_ref().and_then(|i| i.url.as_ref()).map(Url::to_string),
        header_url: json.image.as_ref().and_then(|i| i.url.as_ref()).map(Url::to_string),
        public_key_id: json.public_key.as_ref().map(|k| k.id.clone()),
        public_key_pem: json.public_key_pem().map(str::to_owned),
        manually_approves_followers: json.manually_approves_followers.unwrap_or(false),
        discoverable: json.discoverable.unwrap_or(false),
        bot: matches!(kind, ActorKind::Application | ActorKind::Service),
        moved_to_ap_id: json.moved_to.as_ref().map(Url::to_string),
        published_at: json.published.map(|t| t.naive_utc()),
        last_fetched_at: Some(stamp),
        deleted_at: None,
        created_at: stamp,
        updated_at: stamp,
        members_only: kind == ActorKind::Group && json.members_only.unwrap_or(false),
        limited: false,
    };
    row.set_fields(&fields);
    row
}

/// `host[:port]` of a URL.
pub fn authority(url: &Url) -> String {
    crate::signing::host_header(url).to_lowercase()
}

#[async_trait::async_trait]
impl Object for DbActor {
    type DataType = FedState;
    type Kind = ApActor;
    type Error = FedError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn last_refreshed_at(&self) -> Option<DateTime<Utc>> {
        self.row.last_fetched_at.map(|t| t.and_utc())
    }

    async fn read_from_id(object_id: Url, data: &Data<FedState>) -> Result<Option<Self>, FedError> {
        let id = object_id.to_string();
        let row = data.db.run(move |c| actors::find_by_ap_id(c, &id)).await?;
        row.filter(|r| r.deleted_at.is_none()).map(DbActor::new).transpose()
    }

    fn is_deleted(&self) -> bool {
        self.row.deleted_at.is_some()
    }

    async fn into_json(self, _data: &Data<FedState>) -> Result<ApActor, FedError> {
        self.to_json()
    }

    async fn verify(json: &ApActor, expected_domain: &Url, _data: &Data<FedState>) -> Result<(), FedError> {
        verify_domains_match(&json.id, expected_domain)?;
        verify_domains_match(&json.inbox, expected_domain)?;
        if let Some(shared) = json.shared_inbox() {
            verify_domains_match(shared, expected_domain)?;
        }
        if let Some(owner) = json.public_key.as_ref().and_then(|k| k.owner.as_ref())
            && owner != &json.id
        {
            return Err(FedError::BadRequest("publicKey.owner is not the actor".into()));
        }
        Ok(())
    }

    async fn from_json(json: ApActor, data: &Data<FedState>) -> Result<Self, FedError> {
        let domain = authority(&json.id);
        if data.config.domain.to_string() == domain {
            return Err(FedError::BadRequest("a remote document claims a local actor".into()));
        }
        let row = data
            .db
            .run(move |c| {
                let instance = instances::get_or_create(c, &domain)?;
                actors::upsert_remote(c, &remote_row(&json, instance.id, &domain))
            })
            .await?;
        DbActor::new(row)
    }
}

impl ApActorTrait for DbActor {
    fn public_key_pem(&self) -> &str {
        self.row.public_key_pem.as_deref().unwrap_or("")
    }

    fn private_key_pem(&self) -> Option<String> {
        self.private_key.clone()
    }

    fn inbox(&self) -> Url {
        Url::parse(&self.row.inbox_url).unwrap_or_else(|_| self.id.clone())
    }

    fn shared_inbox(&self) -> Option<Url> {
        self.row.shared_inbox_url.as_deref().and_then(|u| Url::parse(u).ok())
    }
}

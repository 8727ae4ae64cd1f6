//! Actors: local people and groups, the instance actor, and remote actors of every kind.
//!
//! Local actors have `domain = NULL`; their usernames share one namespace, unique regardless
//! of case (`username_key` is the lower-cased name, with a partial unique index).

use diesel::prelude::*;
use guildhall_core::Id;
use guildhall_core::model::ActorKind;

use crate::schema::{actor_keys, actors};
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now, parse_text};

/// One actor row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = actors, treat_none_as_null = true)]
pub struct Actor {
    /// Our id.
    pub id: i64,
    /// [`ActorKind`] spelling; see [`Actor::kind`].
    pub kind: String,
    /// `preferredUsername`, as the actor spells it.
    pub username: String,
    /// Lower-cased username, for case-insensitive lookups.
    pub username_key: String,
    /// `host[:port]` of a remote actor; `None` for local actors.
    pub domain: Option<String>,
    /// The remote instance row, for remote actors.
    pub instance_id: Option<i64>,
    /// The ActivityPub id (URL).
    pub ap_id: String,
    /// Profile page for people.
    pub url: Option<String>,
    /// Personal inbox.
    pub inbox_url: String,
    /// `endpoints.sharedInbox`, when the server has one.
    pub shared_inbox_url: Option<String>,
    /// Outbox collection.
    pub outbox_url: Option<String>,
    /// Followers collection.
    pub followers_url: Option<String>,
    /// Following collection.
    pub following_url: Option<String>,
    /// Display name (may be empty).
    pub display_name: String,
    /// Profile text, sanitized HTML.
    pub summary: String,
    /// Profile fields as a JSON array of `{"name","value"}` objects.
    pub fields_json: String,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// Header image URL.
    pub header_url: Option<String>,
    /// `publicKey.id`.
    pub public_key_id: Option<String>,
    /// `publicKey.publicKeyPem`.
    pub public_key_pem: Option<String>,
    /// Locked account / approval-only group.
    pub manually_approves_followers: bool,
    /// Listed in directories.
    pub discoverable: bool,
    /// Automated account.
    pub bot: bool,
    /// Where the actor moved to (`Move`).
    pub moved_to_ap_id: Option<String>,
    /// When the actor says it was created.
    pub published_at: Option<Timestamp>,
    /// When we last fetched a remote actor.
    pub last_fetched_at: Option<Timestamp>,
    /// When the actor was deleted.
    pub deleted_at: Option<Timestamp>,
    /// Row creation.
    pub created_at: Timestamp,
    /// Last row change.
    pub updated_at: Timestamp,
    /// A group whose posts reach its members only.
    pub members_only: bool,
    /// Limited by an admin: out of public timelines; strangers' notification policies apply.
    /// Never written by a whole-row update (a remote refetch must not undo an admin's limit):
    /// [`set_limited`] alone changes it.
    #[diesel(skip_update)]
    pub limited: bool,
}

/// The URLs of an actor, as the federation layer lays them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorUrls {
    /// The ActivityPub id.
    pub ap_id: String,
    /// Personal inbox.
    pub inbox: String,
    /// Shared inbox.
    pub shared_inbox: Option<String>,
    /// Outbox.
    pub outbox: Option<String>,
    /// Followers collection.
    pub followers: Option<String>,
    /// Following collection.
    pub following: Option<String>,
    /// Profile page.
    pub profile: Option<String>,
}

/// A profile field: label and (HTML) value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProfileField {
    /// Label.
    pub name: String,
    /// Value, HTML.
    pub value: String,
}

impl Actor {
    /// The profile fields.
    pub fn fields(&self) -> Vec<ProfileField> {
        serde_json::from_str(&self.fields_json).unwrap_or_default()
    }

    /// Replaces the profile fields.
    pub fn set_fields(&mut self, fields: &[ProfileField]) {
        self.fields_json = serde_json::to_string(fields).unwrap_or_else(|_| "[]".into());
    }

    /// A fresh local actor row with defaults for everything but identity, URLs and key.
    pub fn new_local(kind: ActorKind, username: &str, urls: ActorUrls, public_key_pem: String) -> Actor {
        let created = now();
        Actor {
            id: Id::generate().0,
            kind: kind.as_str().to_owned(),
            username: username.to_owned(),
            username_key: username.to_lowercase(),
            domain: None,
            instance_id: None,
            public_key_id: Some(format!("{}#main-key", urls.ap_id)),
            ap_id: urls.ap_id,
            url: urls.profile,
            inbox_url: urls.inbox,
            shared_inbox_url: urls.shared_inbox,
            outbox_url: urls.outbox,
            followers_url: urls.followers,
            following_url: urls.following,
            display_name: String::new(),
            summary: String::new(),
            fields_json: "[]".to_owned(),
            avatar_url: None,
            header_url: None,
            public_key_pem: Some(public_key_pem),
            manually_approves_followers: false,
            discoverable: true,
            bot: false,
            moved_to_ap_id: None,
            published_at: Some(created),
            last_fetched_at: None,
            deleted_at: None,
            created_at: created,
            updated_at: created,
            members_only: false,
            limited: false,
        }
    }

    /// The actor's kind.
    pub fn kind(&self) -> StorageResult<ActorKind> {
        parse_text(&self.kind, ActorKind::parse)
    }

    /// Whether this actor is of `kind` (a stored kind we cannot read is none).
    pub fn is(&self, kind: ActorKind) -> bool {
        self.kind().is_ok_and(|k| k == kind)
    }

    /// True for actors of this instance.
    pub fn is_local(&self) -> bool {
        self.domain.is_none()
    }

    /// The inbox deliveries should go to: the shared inbox when there is one.
    pub fn delivery_inbox(&self) -> &str {
        self.shared_inbox_url.as_deref().unwrap_or(&self.inbox_url)
    }
}

/// True when a local actor (person, group or instance actor) already has this name.
pub fn local_username_taken(conn: &mut DbConnection, username: &str) -> StorageResult<bool> {
    let key = username.to_lowercase();
    let found = actors::table
        .filter(actors::username_key.eq(key))
        .filter(actors::domain.is_null())
        .select(actors::id)
        .first::<i64>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Inserts a local actor and its private key. Fails with a conflict naming `username` when
/// the name is taken (checked first for a clear error, and by the unique index for races).
pub fn insert_local(conn: &mut DbConnection, actor: &Actor, private_key_pem: &str) -> StorageResult<()> {
    if local_username_taken(conn, &actor.username)? {
        return Err(StorageError::Conflict(format!("username '{}' is already taken", actor.username)));
    }
    diesel::insert_into(actors::table).values(actor).execute(conn)?;
    diesel::insert_into(actor_keys::table)
        .values((
            actor_keys::actor_id.eq(actor.id),
            actor_keys::private_key_pem.eq(private_key_pem),
            actor_keys::created_at.eq(actor.created_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The private key PEM of a local actor.
pub fn private_key(conn: &mut DbConnection, actor_id: i64) -> StorageResult<String> {
    Ok(actor_keys::table.find(actor_id).select(actor_keys::private_key_pem).first(conn)?)
}

/// The actor with this id.
pub fn get(conn: &mut DbConnection, id: i64) -> StorageResult<Actor> {
    // `get_result`, not `first`: a unique key needs no `LIMIT ?`, whose bound value makes
    // SQLite prepare the statement again on every run (a hot lookup: 46 µs against 10).
    Ok(actors::table.find(id).select(Actor::as_select()).get_result(conn)?)
}

/// The actor with this ActivityPub id, if known.
pub fn find_by_ap_id(conn: &mut DbConnection, ap_id: &str) -> StorageResult<Option<Actor>> {
    // `get_result`, not `first`: a unique key needs no `LIMIT ?`, whose bound value makes
    // SQLite prepare the statement again on every run (a hot lookup: 46 µs against 10).
    Ok(actors::table
        .filter(actors::ap_id.eq(ap_id))
        .select(Actor::as_select())
        .get_result(conn)
        .optional()?)
}

/// The live local actor with this name (any case).
pub fn find_local(conn: &mut DbConnection, username: &str) -> StorageResult<Option<Actor>> {
    Ok(actors::table
        .filter(actors::username_key.eq(username.to_lowercase()))
        .filter(actors::domain.is_null())
        .filter(actors::deleted_at.is_null())
        .select(Actor::as_select())
        .first(conn)
        .optional()?)
}

/// The local actor with this name (any case), deleted ones included (their ids answer 410).
pub fn find_local_any(conn: &mut DbConnection, username: &str) -> StorageResult<Option<Actor>> {
    Ok(actors::table
        .filter(actors::username_key.eq(username.to_lowercase()))
        .filter(actors::domain.is_null())
        .select(Actor::as_select())
        .first(conn)
        .optional()?)
}

/// Live people and groups whose name or display name starts with `q` (any case), local first.
pub fn search(conn: &mut DbConnection, q: &str, limit: i64) -> StorageResult<Vec<Actor>> {
    let prefix = format!("{}%", q.to_lowercase().replace(['%', '_'], ""));
    Ok(actors::table
        .filter(actors::deleted_at.is_null())
        .filter(actors::kind.eq_any(["person", "group"]))
        .filter(actors::username_key.like(prefix.clone()).or(actors::display_name.like(prefix)))
        .order((actors::domain.is_not_null(), actors::username_key))
        .limit(limit)
        .select(Actor::as_select())
        .load(conn)?)
}

/// Whether any of the actors `ids` lives on `domain` (an instance actor may fetch what one of
/// its users may see).
pub fn any_on_domain(conn: &mut DbConnection, ids: &[i64], domain: &str) -> StorageResult<bool> {
    for chunk in ids.chunks(10_000) {
        let found: i64 = actors::table
            .filter(actors::id.eq_any(chunk))
            .filter(actors::domain.eq(domain))
            .count()
            .get_result(conn)?;
        if found > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The remote actors known as `username@domain` (any case; Lemmy lets a person and a
/// community share a name, so there may be more than one).
pub fn find_remote(conn: &mut DbConnection, username: &str, domain: &str) -> StorageResult<Vec<Actor>> {
    Ok(actors::table
        .filter(actors::username_key.eq(username.to_lowercase()))
        .filter(actors::domain.eq(domain.to_lowercase()))
        .filter(actors::deleted_at.is_null())
        .order(actors::id)
        .select(Actor::as_select())
        .load(conn)?)
}

/// Live remote actors whose personal inbox is `inbox`.
pub fn find_by_inbox(conn: &mut DbConnection, inbox: &str) -> StorageResult<Vec<Actor>> {
    Ok(actors::table
        .filter(actors::inbox_url.eq(inbox))
        .filter(actors::domain.is_not_null())
        .filter(actors::deleted_at.is_null())
        .select(Actor::as_select())
        .load(conn)?)
}

/// Stores a remote actor fetched from its server: inserts it, or updates the row with the same
/// `ap_id` (keeping our id and creation time). Returns the stored row.
pub fn upsert_remote(conn: &mut DbConnection, actor: &Actor) -> StorageResult<Actor> {
    if actor.domain.is_none() {
        return Err(StorageError::Corrupt("a remote actor needs a domain".into()));
    }
    crate::transaction(conn, |conn| match find_by_ap_id(conn, &actor.ap_id)? {
        Some(existing) => {
            let updated = Actor {
                id: existing.id,
                created_at: existing.created_at,
                updated_at: now(),
                // Ours to decide, not the other server's (and never in the update).
                limited: existing.limited,
                ..actor.clone()
            };
            diesel::update(actors::table.find(existing.id)).set(&updated).execute(conn)?;
            Ok(updated)
        }
        None => {
            diesel::insert_into(actors::table).values(actor).execute(conn)?;
            Ok(actor.clone())
        }
    })
}

/// Limits (or lifts the limit on) an account; false when it already was so.
pub fn set_limited(conn: &mut DbConnection, id: i64, limited: bool) -> StorageResult<bool> {
    let n = diesel::update(actors::table.find(id).filter(actors::limited.ne(limited)))
        .set(actors::limited.eq(limited))
        .execute(conn)?;
    Ok(n > 0)
}

/// Saves the editable profile of a local actor (display name, bio, fields, flags, images).
pub fn update_local(conn: &mut DbConnection, actor: &Actor) -> StorageResult<()> {
    let changed = diesel::update(actors::table.find(actor.id).filter(actors::domain.is_null()))
        .set((
            actors::display_name.eq(&actor.display_name),
            actors::summary.eq(&actor.summary),
            actors::fields_json.eq(&actor.fields_json),
            actors::manually_approves_followers.eq(actor.manually_approves_followers),
            actors::bot.eq(actor.bot),
            actors::discoverable.eq(actor.discoverable),
            actors::avatar_url.eq(&actor.avatar_url),
            actors::header_url.eq(&actor.header_url),
            actors::updated_at.eq(now()),
        ))
        .execute(conn)?;
    if changed == 0 { Err(StorageError::NotFound) } else { Ok(()) }
}

/// Marks an actor deleted (its rows stay for threads and moderation records).
pub fn mark_deleted(conn: &mut DbConnection, id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        let changed = diesel::update(actors::table.find(id))
            .set((actors::deleted_at.eq(Some(now())), actors::updated_at.eq(now())))
            .execute(conn)?;
        if changed == 0 { Err(StorageError::NotFound) } else { Ok(()) }
    })
}

/// How many live local actors of a kind exist.
pub fn count_local(conn: &mut DbConnection, kind: ActorKind) -> StorageResult<i64> {
    Ok(actors::table
        .filter(actors::domain.is_null())
        .filter(actors::deleted_at.is_null())
        .filter(actors::kind.eq(kind.as_str()))
        .count()
        .get_result(conn)?)
}

#[cfg(test)]
pub(crate) mod tests;

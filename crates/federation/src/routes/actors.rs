//! Actor documents, their collections, and the HTML profile page browsers are sent to.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use guildhall_core::model::{ActorKind, FollowState, GroupVisibility, Visibility};
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::{follows, statuses};
use serde::Deserialize;
use serde_json::json;

use super::{activity_json, tombstone, wants_activity_json};
use crate::error::FedError;
use crate::objects::actor::DbActor;
use crate::objects::status::{load_parts, render_note};
use crate::protocol::with_context;
use crate::state::FedData;

/// Page size of outbox pages.
const PAGE: i64 = 20;

async fn local_actor(data: &FedData, name: String, kind: ActorKind) -> Result<Actor, FedError> {
    let actor = data.db.run(move |c| actors::find_local_any(c, &name)).await?.ok_or(FedError::NotFound)?;
    let actual = actor.kind()?;
    let same_path = match kind {
        ActorKind::Group => actual == ActorKind::Group,
        _ => actual != ActorKind::Group && actual != ActorKind::Application,
    };
    if !same_path {
        return Err(FedError::NotFound);
    }
    Ok(actor)
}

/// An actor's document for ActivityPub clients (a Tombstone once deleted); browsers are sent
/// to its page.
pub async fn actor_response(request: &HttpRequest, actor: Actor) -> Result<HttpResponse, FedError> {
    if actor.deleted_at.is_some() {
        return Ok(tombstone(&actor.ap_id));
    }
    if !wants_activity_json(request) {
        let page = actor.url.clone().unwrap_or_else(|| actor.ap_id.clone());
        return Ok(HttpResponse::Found().insert_header((LOCATION, page)).finish());
    }
    let doc = serde_json::to_value(DbActor::new(actor)?.to_json()?)?;
    Ok(activity_json(&with_context(doc)))
}

/// `GET /{users|groups}/{name}/collections/featured`: the pinned posts, newest pin first,
/// those that anyone may read (as Mastodon serves it, the notes embedded).
pub async fn featured(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    data: FedData,
) -> Result<HttpResponse, FedError> {
    let (kind, name) = path.into_inner();
    let actor = local_actor(&data, name, kind_of(&kind)).await?;
    members_only_check(&request, &actor, &data).await?;
    let (id, collection) = (actor.id, crate::urls::featured(&actor.ap_id));
    let (base, domain) = (data.urls.base().to_owned(), data.config.domain.to_string());
    let parts = data
        .db
        .run(move |c| {
            let mut parts = Vec::new();
            for status_id in guildhall_storage::pins::pinned(c, id)? {
                let s = statuses::get(c, status_id)?;
                let public = matches!(s.visibility()?, Visibility::Public | Visibility::Unlisted);
                if public && s.deleted_at.is_none() {
                    parts.push(load_parts(c, s)?);
                }
            }
            Ok(parts)
        })
        .await?;
    let items = parts.iter().map(|p| render_note(p, &base, &domain)).collect::<Result<Vec<_>, _>>()?;
    let doc = json!({ "id": collection, "type": "OrderedCollection", "totalItems": items.len(),
                      "orderedItems": items });
    Ok(activity_json(&with_context(doc)))
}

/// `GET /users/{name}`.
pub async fn person(
    request: HttpRequest,
    name: web::Path<String>,
    data: FedData,
) -> Result<HttpResponse, FedError> {
    let actor = local_actor(&data, name.into_inner(), ActorKind::Person).await?;
    actor_response(&request, actor).await
}

/// `GET /groups/{name}`.
pub async fn group(
    request: HttpRequest,
    name: web::Path<String>,
    data: FedData,
) -> Result<HttpResponse, FedError> {
    let actor = local_actor(&data, name.into_inner(), ActorKind::Group).await?;
    actor_response(&request, actor).await
}

/// `GET /actor`: the instance actor (always JSON; it has no page).
pub async fn instance_actor(data: FedData) -> Result<HttpResponse, FedError> {
    let id = data.urls.instance_actor();
    let actor = data.db.run(move |c| actors::find_by_ap_id(c, &id)).await?.ok_or(FedError::NotFound)?;
    let doc = serde_json::to_value(DbActor::new(actor)?.to_json()?)?;
    Ok(activity_json(&with_context(doc)))
}

fn kind_of(path_kind: &str) -> ActorKind {
    if path_kind == "groups" { ActorKind::Group } else { ActorKind::Person }
}

/// For a members-only group, the signed fetch of a member (or of a member's instance actor);
/// 401/403 otherwise. Anything else is public.
async fn members_only_check(request: &HttpRequest, actor: &Actor, data: &FedData) -> Result<(), FedError> {
    let group_id = actor.id;
    let settings = data.db.run(move |c| guildhall_storage::groups::get(c, group_id)).await?;
    if settings.is_none_or(|g| g.visibility != GroupVisibility::Members.as_str()) {
        return Ok(());
    }
    let signer = super::objects::signed_fetcher(request, data).await?.row;
    let allowed = data
        .db
        .run(move |c| {
            let members = follows::followers(c, group_id, FollowState::Accepted)?;
            if members.contains(&signer.id) {
                return Ok(true);
            }
            match (&signer.domain, signer.is(ActorKind::Application)) {
                (Some(domain), true) => actors::any_on_domain(c, &members, domain),
                _ => Ok(false),
            }
        })
        .await?;
    if allowed { Ok(()) } else { Err(FedError::Forbidden("members only".into())) }
}

/// `GET /{users|groups}/{name}/followers`: the count (members are not listed publicly; a
/// members-only group's count only to its members).
pub async fn followers(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    data: FedData,
) -> Result<HttpResponse, FedError> {
    let (kind, name) = path.into_inner();
    let actor = local_actor(&data, name, kind_of(&kind)).await?;
    members_only_check(&request, &actor, &data).await?;
    let id = actor.id;
    let total = data.db.run(move |c| Ok(follows::followers(c, id, FollowState::Accepted)?.len())).await?;
    Ok(activity_json(&collection(actor.followers_url.as_deref().unwrap_or_default(), total)))
}

/// `GET /{users|groups}/{name}/following`: the count.
pub async fn following(path: web::Path<(String, String)>, data: FedData) -> Result<HttpResponse, FedError> {
    let (kind, name) = path.into_inner();
    let actor = local_actor(&data, name, kind_of(&kind)).await?;
    let id = actor.id;
    let total = data.db.run(move |c| Ok(follows::following(c, id)?.len())).await?;
    Ok(activity_json(&collection(actor.following_url.as_deref().unwrap_or_default(), total)))
}

/// `GET /groups/{name}/moderators`: who moderates the group (Lemmy reads this), owner first.
pub async fn moderators(name: web::Path<String>, data: FedData) -> Result<HttpResponse, FedError> {
    let group = local_actor(&data, name.into_inner(), ActorKind::Group).await?;
    let group_id = group.id;
    let moderators = data.db.run(move |c| guildhall_storage::groups::moderators(c, group_id)).await?;
    let items: Vec<&str> = moderators.iter().map(|m| m.ap_id.as_str()).collect();
    let id = format!("{}/moderators", group.ap_id);
    let doc =
        json!({ "id": id, "type": "OrderedCollection", "totalItems": items.len(), "orderedItems": items });
    Ok(activity_json(&with_context(doc)))
}

fn collection(id: &str, total: usize) -> serde_json::Value {
    with_context(json!({ "id": id, "type": "OrderedCollection", "totalItems": total }))
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<bool>,
    max_id: Option<i64>,
}

/// `GET /{users|groups}/{name}/outbox`: public posts as `Create` activities, newest first.
pub async fn outbox(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
    data: FedData,
) -> Result<HttpResponse, FedError> {
    let (kind, name) = path.into_inner();
    let actor = local_actor(&data, name, kind_of(&kind)).await?;
    members_only_check(&request, &actor, &data).await?;
    let outbox_id = actor.outbox_url.clone().unwrap_or_default();
    let id = actor.id;
    if query.page != Some(true) {
        let total = data.db.run(move |c| statuses::count_public_by_actor(c, id)).await?;
        let doc = json!({ "id": outbox_id, "type": "OrderedCollection", "totalItems": total,
                          "first": format!("{outbox_id}?page=true") });
        return Ok(activity_json(&with_context(doc)));
    }
    let max_id = query.max_id;
    let (base, domain) = (data.urls.base().to_owned(), data.config.domain.to_string());
    let parts = data
        .db
        .run(move |c| {
            let page = statuses::public_by_actor(c, id, max_id, PAGE)?;
            page.into_iter().map(|s| load_parts(c, s)).collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let mut items = Vec::new();
    for p in &parts {
        let note = render_note(p, &base, &domain)?;
        items.push(json!({
            "id": format!("{}/activity", note.id), "type": "Create", "actor": note.attributed_to,
            "published": note.published, "to": note.to, "cc": note.cc, "object": note,
        }));
    }
    let mut doc = json!({ "id": format!("{outbox_id}?page=true"), "type": "OrderedCollectionPage",
                          "partOf": outbox_id, "orderedItems": items });
    if let Some(last) = parts.last().filter(|_| parts.len() as i64 == PAGE) {
        doc["next"] = json!(format!("{outbox_id}?page=true&max_id={}", last.status.id));
    }
    Ok(activity_json(&with_context(doc)))
}

//! Statuses and activities at their ids. Public and unlisted ones are served to anyone;
//! followers-only and direct ones only to a signed fetch by an actor allowed to see them.

use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::traits::Actor as _;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use guildhall_core::model::{ActorKind, FollowState, Visibility};
use guildhall_storage::statuses::Status;
use guildhall_storage::{actors, follows, outbox, status_parts, statuses};

use super::{activity_json, tombstone, wants_activity_json};
use crate::error::FedError;
use crate::objects::actor::DbActor;
use crate::objects::status::{load_parts, render_note};
use crate::protocol::{is_public, with_context};
use crate::signing::IncomingSignature;
use crate::state::FedData;

/// `GET /{users|groups}/{name}/statuses/{id}`: the status for ActivityPub clients; browsers
/// are sent to its page.
pub async fn status(
    request: HttpRequest,
    path: web::Path<(String, String, i64)>,
    data: FedData,
) -> Result<HttpResponse, FedError> {
    let (_, name, id) = path.into_inner();
    let status = data.db.run(move |c| statuses::get(c, id)).await?;
    let author = {
        let author_id = status.actor_id;
        data.db.run(move |c| actors::get(c, author_id)).await?
    };
    if !status.local || !author.username.eq_ignore_ascii_case(&name) || status.reblog_of_id.is_some() {
        return Err(FedError::NotFound);
    }
    if !wants_activity_json(&request) {
        // Browsers see public and unlisted posts only: a redirect would tell that another exists.
        if !matches!(status.visibility()?, Visibility::Public | Visibility::Unlisted)
            || status.deleted_at.is_some()
        {
            return Err(FedError::NotFound);
        }
        let page = format!("{}/@{}/{}", data.urls.base(), author.username, status.id);
        return Ok(HttpResponse::Found().insert_header((LOCATION, page)).finish());
    }
    status_document(&request, status, &data).await
}

/// A local status as ActivityPub JSON: public and unlisted ones to anyone, others only to a
/// signed fetch by an actor allowed to see them (404 otherwise); a deleted one is a Tombstone.
pub async fn status_document(
    request: &HttpRequest,
    status: Status,
    data: &FedData,
) -> Result<HttpResponse, FedError> {
    if !status.local || status.reblog_of_id.is_some() {
        return Err(FedError::NotFound);
    }
    if status.deleted_at.is_some() {
        return Ok(tombstone(&status.ap_id));
    }
    let visibility = status.visibility()?;
    if !matches!(visibility, Visibility::Public | Visibility::Unlisted) {
        let signer = signed_fetcher(request, data).await?;
        if !may_see(&status, visibility, &signer, data).await? {
            return Err(FedError::NotFound);
        }
    }
    let (base, domain) = (data.urls.base().to_owned(), data.config.domain.to_string());
    let parts = data.db.run(move |c| load_parts(c, status)).await?;
    let note = render_note(&parts, &base, &domain)?;
    Ok(activity_json(&with_context(serde_json::to_value(note)?)))
}

/// The actor that signed this GET; 401 when unsigned or the signature does not verify.
pub(crate) async fn signed_fetcher(request: &HttpRequest, data: &FedData) -> Result<DbActor, FedError> {
    let headers = crate::signing::header_map(request);
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let signature = IncomingSignature::parse("GET", path, headers, None, &data.config.domain.to_string())?;
    let key = url::Url::parse(signature.key_id()).map_err(|_| FedError::Unauthorized("bad keyId".into()))?;
    let mut actor_url = key.clone();
    actor_url.set_fragment(None);
    let actor = ObjectId::<DbActor>::from(actor_url).dereference(data).await.map_err(|e| {
        tracing::debug!(error = %e, "signer of a fetch not fetched");
        FedError::Unauthorized("cannot fetch the signer".into())
    })?;
    signature.verify(actor.public_key_pem())?;
    Ok(actor)
}

/// Followers-only: accepted followers and mentioned actors (or their instance's actor);
/// direct: mentioned actors (or their instance's actor); and for a post in a group, the
/// group's members (or their instance's actor).
async fn may_see(
    status: &Status,
    visibility: Visibility,
    signer: &DbActor,
    data: &FedData,
) -> Result<bool, FedError> {
    let (status_id, author, group) = (status.id, status.actor_id, status.group_id);
    let signer_row = signer.row.clone();
    Ok(data
        .db
        .run(move |c| {
            let mut allowed = status_parts::mentions(c, status_id)?;
            if visibility == Visibility::Private {
                allowed.extend(follows::followers(c, author, FollowState::Accepted)?);
            }
            if let Some(group) = group {
                allowed.push(group);
                allowed.extend(follows::followers(c, group, FollowState::Accepted)?);
            }
            if allowed.contains(&signer_row.id) {
                return Ok(true);
            }
            match (&signer_row.domain, signer_row.is(ActorKind::Application)) {
                (Some(domain), true) => actors::any_on_domain(c, &allowed, domain),
                _ => Ok(false),
            }
        })
        .await?)
}

/// `GET /activities/{id}`: one of our published activities. An activity about a status (a
/// group's relay, a `Like`) is served as that status would be: to anyone when the status is
/// public or unlisted and the activity is addressed publicly (or is a `Like`), otherwise only
/// to a signed fetch by an actor allowed to see the status.
pub async fn activity(
    request: HttpRequest,
    path: web::Path<String>,
    data: FedData,
) -> Result<HttpResponse, FedError> {
    let ap_id = format!("{}/activities/{}", data.urls.base(), path.into_inner());
    let found = data.db.run(move |c| outbox::find_by_ap_id(c, &ap_id)).await?.ok_or(FedError::NotFound)?;
    let doc: serde_json::Value = serde_json::from_str(&found.json)?;
    let is_like = doc["type"] == "Like";
    // Likes are served too: a group's members' servers confirm relayed likes here, and learn
    // from a 410 that one was taken back.
    if is_like {
        let id = found.ap_id.clone();
        if data.db.run(move |c| guildhall_storage::favourites::find_by_ap_id(c, &id)).await?.is_none() {
            return Ok(tombstone(&found.ap_id));
        }
    }
    let addressed = doc["to"].as_array().into_iter().chain(doc["cc"].as_array()).flatten();
    let public_outer = is_like || addressed.filter_map(|a| a.as_str()).any(is_public);
    let concerned = match concerned_status_id(&doc) {
        Some(id) => data.db.run(move |c| statuses::find_by_ap_id(c, &id)).await?,
        None => None,
    };
    let public_inner = match &concerned {
        Some(s) => matches!(s.visibility()?, Visibility::Public | Visibility::Unlisted),
        None => true,
    };
    if !(public_outer && public_inner) {
        let Some(status) = concerned else { return Err(FedError::NotFound) };
        let signer = signed_fetcher(&request, &data).await?;
        let visibility = status.visibility()?;
        if !may_see(&status, visibility, &signer, &data).await? {
            return Err(FedError::NotFound);
        }
    }
    Ok(activity_json(&doc))
}

/// The status an activity is about: the object of a `Like`, `Create`, `Update` or `Delete`
/// (embedded or by id), looked through an `Announce` (a group's relay).
fn concerned_status_id(doc: &serde_json::Value) -> Option<String> {
    let mut object = &doc["object"];
    if doc["type"] == "Announce" && object.is_object() {
        object = &object["object"];
    }
    crate::protocol::id_of(object).map(String::from)
}

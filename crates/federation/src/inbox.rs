//! The inbox (personal and shared): signature, digest, origin checks, deduplication, then the
//! activity handlers — answering within a few seconds whatever remote fetches are needed.

use std::time::Duration;

use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::traits::Actor as _;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use guildhall_storage::actors;
use url::Url;

use crate::activities;
use crate::error::FedError;
use crate::objects::actor::{DbActor, authority};
use crate::protocol::activity::Activity;
use crate::signing::IncomingSignature;
use crate::state::FedData;

/// How long the sender waits at most; slower work continues after we answered 202.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(3);

/// Handles one POST to an inbox.
pub async fn receive(request: &HttpRequest, body: Bytes, data: FedData) -> Result<HttpResponse, FedError> {
    let signature = parse_signature(request, &body, &data.config.domain.to_string())?;
    let activity: Activity = serde_json::from_slice(&body)?;
    check_origin(&activity, signature.key_id(), &data)?;
    let host = authority(&activity.actor);
    if data.db.run(move |c| guildhall_storage::instance_blocks::is_suspended(c, &host)).await? {
        return Err(FedError::Forbidden("the sender's domain is suspended here".into()));
    }
    let Some(actor) = signer(&activity, &signature, &data).await? else {
        return Ok(HttpResponse::Accepted().finish());
    };
    process_in_time(activity, actor, data).await
}

fn parse_signature(
    request: &HttpRequest,
    body: &[u8],
    our_host: &str,
) -> Result<IncomingSignature, FedError> {
    let headers = crate::signing::header_map(request);
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    Ok(IncomingSignature::parse("POST", path, headers, Some(body), our_host)?)
}

/// The activity must come from the actor's own server, the key must be the actor's, and no
/// remote server may speak for a local actor.
fn check_origin(activity: &Activity, key_id: &str, data: &FedData) -> Result<(), FedError> {
    let actor_host = authority(&activity.actor);
    if authority(&activity.id) != actor_host {
        return Err(FedError::BadRequest("the activity id is not on the actor's server".into()));
    }
    if actor_host == data.config.domain.to_string() {
        return Err(FedError::Forbidden("a remote server cannot act for a local actor".into()));
    }
    let key_owner = Url::parse(key_id).map_err(|_| FedError::Unauthorized("keyId is not a URL".into()))?;
    if authority(&key_owner) != actor_host {
        return Err(FedError::Unauthorized("the signing key is not the actor's".into()));
    }
    Ok(())
}

/// The verified signer: the activity's actor, fetched if unknown (and refetched once when the
/// key does not match, in case it rotated). `None` for a `Delete` of an actor we never knew.
async fn signer(
    activity: &Activity,
    signature: &IncomingSignature,
    data: &FedData,
) -> Result<Option<DbActor>, FedError> {
    let actor_id = ObjectId::<DbActor>::from(activity.actor.clone());
    let actor = match tokio::time::timeout(ANSWER_WITHIN, actor_id.dereference(data)).await {
        Ok(Ok(actor)) => actor,
        _ if is_self_delete_of_unknown(activity, data).await? => return Ok(None),
        Ok(Err(e)) => {
            tracing::debug!(actor = %activity.actor, error = %e, "signer's key not fetched");
            return Err(FedError::Unauthorized("cannot fetch the signer's key".into()));
        }
        Err(_) => return Err(FedError::Unauthorized("fetching the signer's key timed out".into())),
    };
    if !key_matches(&actor, signature.key_id()) {
        return Err(FedError::Unauthorized("the signing key is not the actor's".into()));
    }
    if signature.verify(actor.public_key_pem()).is_ok() {
        return Ok(Some(actor));
    }
    let refreshed =
        actor_id.dereference_forced(data).await.map_err(|e| FedError::Unauthorized(e.to_string()))?;
    signature.verify(refreshed.public_key_pem())?;
    Ok(Some(refreshed))
}

fn key_matches(actor: &DbActor, key_id: &str) -> bool {
    actor.row.public_key_id.as_deref() == Some(key_id)
        || key_id.split('#').next() == Some(actor.row.ap_id.as_str())
}

async fn is_self_delete_of_unknown(activity: &Activity, data: &FedData) -> Result<bool, FedError> {
    let is_delete = activity.kind() == Some(crate::protocol::activity::ActivityKind::Delete);
    if !is_delete || activity.object_id().as_ref() != Some(&activity.actor) {
        return Ok(false);
    }
    let id = activity.actor.to_string();
    Ok(data.db.run(move |c| actors::find_by_ap_id(c, &id)).await?.is_none())
}

/// Runs the handler; answers with its result when it finishes in time, else 202 while it
/// carries on. The handler takes care of the replay guard (`activities::receive`): a replay
/// is answered 202 with no effect, and a failure on our side leaves the id unrecorded so the
/// sender's retry is processed.
async fn process_in_time(
    activity: Activity,
    actor: DbActor,
    data: FedData,
) -> Result<HttpResponse, FedError> {
    let id = activity.id.to_string();
    let kind = activity.kind.clone();
    let task = tokio::spawn(async move {
        let data = data.reset_request_count();
        let result = activities::receive(activity, actor, &data, Some(id.clone())).await;
        if let Err(e) = &result {
            tracing::info!(%id, %kind, error = %e, "activity refused");
        }
        result
    });
    match tokio::time::timeout(ANSWER_WITHIN, task).await {
        Ok(Ok(Ok(()))) | Err(_) => Ok(HttpResponse::Accepted().finish()),
        Ok(Ok(Err(FedError::Federation(e)))) => {
            tracing::debug!(error = %e, "activity needed a fetch that failed");
            Ok(HttpResponse::Accepted().finish())
        }
        Ok(Ok(Err(e))) => Err(e),
        Ok(Err(join)) => Err(FedError::Internal(format!("activity handler panicked: {join}"))),
    }
}

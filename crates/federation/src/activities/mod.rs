//! Handlers for received activities, after the inbox has verified the signature. Each
//! activity is deduplicated by id here ([`receive`]; a `Create`'s id is recorded as its status
//! is stored). Each handler checks that the signer may do what the activity says (only the
//! author edits or deletes, only the followed accepts) and ignores what concerns nothing we
//! know.

mod account;
mod content;
mod events;
mod social;

use crate::events::Rsvp;

pub use social::{Decision, decide as decide_follow, respond};

use guildhall_storage::received;

use crate::error::FedError;
use crate::objects::actor::DbActor;
use crate::protocol::activity::{Activity, ActivityKind};
use crate::state::FedData;

/// Applies a verified activity from `actor`.
///
/// `unrecorded`: the activity's id, to record as received (the inbox's replay guard; `None`
/// records nothing). A `Create`'s handler records it in the transaction that stores its
/// status; any other kind is recorded here first.
pub async fn receive(
    activity: Activity,
    actor: DbActor,
    data: &FedData,
    unrecorded: Option<String>,
) -> Result<(), FedError> {
    match unrecorded {
        Some(id) if activity.kind() != Some(ActivityKind::Create) => {
            recorded_first(data, id, dispatch(activity, actor, data, None)).await
        }
        unrecorded => dispatch(activity, actor, data, unrecorded).await,
    }
}

/// Records `id` as received, then runs `handle`; a replay is ignored. A failure on our side
/// forgets the id again, so the sender's retry is processed. Only what this call recorded is
/// forgotten: a receipt taken inside a store transaction goes with its rollback.
pub(crate) async fn recorded_first(
    data: &FedData,
    id: String,
    handle: impl std::future::Future<Output = Result<(), FedError>>,
) -> Result<(), FedError> {
    let key = id.clone();
    if !data.db.run(move |c| received::record(c, &key)).await? {
        tracing::debug!(%id, "replayed activity ignored");
        return Ok(());
    }
    let result = handle.await;
    if matches!(result, Err(FedError::Storage(_) | FedError::Internal(_))) {
        let _ = data.db.run(move |c| received::forget(c, &id)).await;
    }
    result
}

async fn dispatch(
    activity: Activity,
    actor: DbActor,
    data: &FedData,
    unrecorded: Option<String>,
) -> Result<(), FedError> {
    use ActivityKind as K;
    match activity.kind() {
        Some(K::Follow) => social::follow(activity, actor, data).await,
        Some(K::Accept) => match events::answer(&activity, &actor, data, Rsvp::Coming).await? {
            true => Ok(()),
            false => social::accept(activity, actor, data).await,
        },
        Some(K::Reject) => match events::answer(&activity, &actor, data, Rsvp::NotComing).await? {
            true => Ok(()),
            false => social::reject(activity, actor, data).await,
        },
        Some(K::TentativeAccept) => events::answer(&activity, &actor, data, Rsvp::Maybe).await.map(|_| ()),
        Some(K::Join) => events::rsvp(&activity, &actor, data, Rsvp::Coming).await,
        Some(K::Leave) => events::rsvp(&activity, &actor, data, Rsvp::NotComing).await,
        Some(K::Block) => social::block(activity, actor, data).await,
        Some(K::Undo) => undo(activity, actor, data).await,
        Some(K::Create) => content::create(activity, actor, data, unrecorded).await,
        Some(K::Update) => update(activity, actor, data).await,
        Some(K::Delete) => delete(activity, actor, data).await,
        // A reaction counts as a like, as its Undo does.
        Some(K::Like | K::EmojiReact) => content::like(activity, actor, data).await,
        Some(K::Announce) => content::announce(activity, actor, data).await,
        Some(K::Move) => account::moved(activity, actor, data).await,
        Some(K::Flag) => account::flag(activity, actor, data).await,
        None => {
            tracing::debug!(kind = %activity.kind, "ignored activity type");
            Ok(())
        }
    }
}

async fn undo(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    use ActivityKind as K;
    let inner = match activity.object_type() {
        Some(_) => activity.object_kind(),
        None => lookup_kind_of_undone(&activity, data).await?,
    };
    match inner {
        Some(K::Follow) => social::undo_follow(activity, actor, data).await,
        Some(K::Block) => social::undo_block(activity, actor, data).await,
        Some(K::Like | K::EmojiReact) => content::undo_like(activity, actor, data).await,
        Some(K::Announce) => content::undo_announce(activity, actor, data).await,
        Some(K::Join) => events::rsvp(&activity, &actor, data, Rsvp::NotComing).await,
        _ => Ok(()),
    }
}

/// An `Undo` that names the undone activity only by id: find what we stored under that id.
async fn lookup_kind_of_undone(
    activity: &Activity,
    data: &FedData,
) -> Result<Option<ActivityKind>, FedError> {
    let Some(id) = activity.object_id().map(String::from) else { return Ok(None) };
    data.db
        .run(move |c| {
            use guildhall_storage::{favourites, follows, statuses};
            Ok(if follows::find_by_ap_id(c, &id)?.is_some() {
                Some(ActivityKind::Follow)
            } else if favourites::find_by_ap_id(c, &id)?.is_some() {
                Some(ActivityKind::Like)
            } else if statuses::find_by_ap_id(c, &id)?.is_some_and(|s| s.reblog_of_id.is_some()) {
                Some(ActivityKind::Announce)
            } else {
                None
            })
        })
        .await
        .map_err(FedError::from)
}

async fn update(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    match activity.object_type() {
        Some("Person" | "Group" | "Service" | "Application" | "Organization") => {
            account::update_actor(activity, actor, data).await
        }
        _ => content::update_note(activity, actor, data).await,
    }
}

async fn delete(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let object = activity.object_id().ok_or_else(|| FedError::BadRequest("Delete without object".into()))?;
    if object.as_str() == actor.row.ap_id {
        account::delete_actor(actor, data).await
    } else {
        content::delete_note(&activity, object, actor, data).await
    }
}

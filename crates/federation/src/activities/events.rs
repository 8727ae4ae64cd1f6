//! RSVPs in the inbox: `Join`/`Leave` of our events, the organizers' answers to our members,
//! and Friendica's `Accept`/`TentativeAccept`/`Reject` of an event.

use crate::error::FedError;
use crate::events::{self, Rsvp};
use crate::objects::actor::DbActor;
use crate::protocol::activity::Activity;
use crate::state::FedData;

/// `Join` or `Leave` (or `Undo{Join}`) of one of our events; anything else is ignored.
pub async fn rsvp(activity: &Activity, actor: &DbActor, data: &FedData, rsvp: Rsvp) -> Result<(), FedError> {
    let Some(object) = &activity.object else { return Ok(()) };
    // `Undo{Join}` names the event inside the Join.
    let object = match object.get("type").and_then(serde_json::Value::as_str) {
        Some("Join") => object.get("object").cloned().unwrap_or_default(),
        _ => object.clone(),
    };
    let message = activity.participation_message.clone();
    events::received_rsvp(data, &actor.row, activity.id.as_str(), &object, message, rsvp).await?;
    Ok(())
}

/// `Accept`/`Reject`/`TentativeAccept`: an organizer answering one of our members' `Join`,
/// or (Friendica) someone answering one of our events. Returns false when it is neither (a
/// follow's answer, then).
pub async fn answer(
    activity: &Activity,
    actor: &DbActor,
    data: &FedData,
    rsvp: Rsvp,
) -> Result<bool, FedError> {
    let Some(object) = &activity.object else { return Ok(false) };
    if rsvp != Rsvp::Maybe && events::received_answer(data, &actor.row, object, rsvp == Rsvp::Coming).await? {
        return Ok(true);
    }
    events::received_rsvp(data, &actor.row, activity.id.as_str(), object, None, rsvp).await
}

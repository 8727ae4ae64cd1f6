//! A user's own domain blocks: besides hiding the domain (storage and timelines do that),
//! blocking severs every follow with accounts there, both ways, telling their server (`Undo`
//! of our follows, `Reject` of theirs), as Mastodon does.

use guildhall_storage::actors::{self, Actor};
use guildhall_storage::{domain_blocks, follows};
use serde_json::json;

use crate::error::FedError;
use crate::outgoing::{envelope, new_activity_id, publish};
use crate::state::FedData;

/// Blocks `domain` for `actor` and severs its follows with accounts there, in one transaction.
/// Returns false when it was blocked already (nothing else happens then).
pub async fn block(data: &FedData, actor: &Actor, domain: &str) -> Result<bool, FedError> {
    let (actor, domain, urls) = (actor.clone(), domain.to_owned(), data.urls.clone());
    let added = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                if !domain_blocks::add(c, actor.id, &domain)? {
                    return Ok(false);
                }
                let (followed, followers) = domain_blocks::relationships_with(c, actor.id, &domain)?;
                for target in followed {
                    let target = actors::get(c, target)?;
                    let Some(follow) = follows::find(c, actor.id, target.id)? else { continue };
                    follows::remove(c, actor.id, target.id)?;
                    let inner = json!({ "id": follow.ap_id, "type": "Follow", "actor": actor.ap_id, "object": target.ap_id });
                    let doc = envelope(&new_activity_id(&urls), "Undo", &actor, inner, std::slice::from_ref(&target.ap_id), &[]);
                    publish(c, &actor, &doc, &[target.delivery_inbox().to_owned()])?;
                }
                for follower in followers {
                    let follower = actors::get(c, follower)?;
                    let Some(follow) = follows::find(c, follower.id, actor.id)? else { continue };
                    follows::remove(c, follower.id, actor.id)?;
                    let inner = json!({ "id": follow.ap_id, "type": "Follow", "actor": follower.ap_id, "object": actor.ap_id });
                    crate::activities::respond(c, &urls, &actor, &follower, "Reject", inner)?;
                }
                Ok(true)
            })
        })
        .await?;
    data.delivery_wakeup.notify_one();
    Ok(added)
}

//! Polls both ways: our users' votes (counted here, or sent to the poll's server as Mastodon
//! does, one `Create{Note}` per choice named by the option), other servers' votes on our polls,
//! the counts sent back as `Update{Question}`, and a poll's end.

use guildhall_core::Id;
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::notifications::{self, NotificationKind};
use guildhall_storage::polls::{self, Poll, VoteRefused};
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{DbConnection, StorageError, StorageResult};
use serde_json::json;

use crate::error::FedError;
use crate::objects::status::{load_parts, render_note};
use crate::outgoing::{envelope, new_activity_id, publish, status_inboxes};
use crate::protocol::note::ApNote;
use crate::state::FedData;

pub use guildhall_storage::polls::COUNTS_QUEUE;

/// Sends the poll's new counts to everyone who got the poll and to every remote voter.
fn publish_counts(c: &mut DbConnection, data: &FedData, status: &Status) -> StorageResult<()> {
    let parts = load_parts(c, status.clone())?;
    let note = render_note(&parts, data.urls.base(), &data.config.domain.to_string())
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let (to, cc) = (note.to.clone(), note.cc.clone());
    let object = serde_json::to_value(&note).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let doc = envelope(&new_activity_id(&data.urls), "Update", &parts.author, object, &to, &cc);
    let mut inboxes = status_inboxes(c, &parts)?;
    for voter in polls::voters(c, status.id)? {
        let voter = actors::get(c, voter)?;
        if !voter.is_local() && voter.deleted_at.is_none() {
            inboxes.push(voter.delivery_inbox().to_owned());
        }
    }
    inboxes.sort();
    inboxes.dedup();
    publish(c, &parts.author, &doc, &inboxes)?;
    Ok(())
}

/// Sends the current counts of our poll `status_id` (a job queued by votes).
pub fn send_counts(c: &mut DbConnection, data: &FedData, status_id: i64) -> StorageResult<()> {
    let Some(status) = statuses::find(c, status_id)? else { return Ok(()) };
    if !status.local || status.deleted_at.is_some() || polls::find(c, status_id)?.is_none() {
        return Ok(());
    }
    guildhall_storage::transaction(c, |c| publish_counts(c, data, &status))
}

/// A local user votes. On our own poll the vote counts at once and the new counts go out; on
/// another server's poll each choice goes to the poll's author as a `Note` named by the
/// option. A refused vote is a [`FedError::BadRequest`] saying why.
pub async fn vote(
    data: &FedData,
    voter: &Actor,
    status_id: i64,
    choices: Vec<i32>,
) -> Result<Poll, FedError> {
    let voter = voter.clone();
    let outcome = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let status = statuses::get(c, status_id)?;
                let author = actors::get(c, status.actor_id)?;
                let poll = polls::find(c, status_id)?.ok_or(StorageError::NotFound)?;
                let ids: Vec<(i32, Option<String>)> = choices
                    .iter()
                    .map(|&choice| (choice, (!author.is_local()).then(|| vote_id(&voter))))
                    .collect();
                let counted = match polls::vote(c, status_id, voter.id, &ids)? {
                    Ok(counted) => counted,
                    Err(refused) => return Ok(Err(refused)),
                };
                if author.is_local() {
                    // A burst of votes sends the counts once, a little later.
                    polls::queue_counts(c, status.id)?;
                } else {
                    send_votes(c, &voter, &author, &status, &poll, &ids)?;
                }
                Ok(Ok(counted))
            })
        })
        .await?;
    data.delivery_wakeup.notify_one();
    outcome.map_err(|refused: VoteRefused| FedError::BadRequest(refused.to_string()))
}

fn vote_id(voter: &Actor) -> String {
    format!("{}#votes/{}", voter.ap_id, Id::generate())
}

fn send_votes(
    c: &mut DbConnection,
    voter: &Actor,
    author: &Actor,
    status: &Status,
    poll: &Poll,
    choices: &[(i32, Option<String>)],
) -> StorageResult<()> {
    for (choice, id) in choices {
        let Some(option) = poll.options.iter().find(|o| o.position == *choice) else { continue };
        let id = id.clone().unwrap_or_else(|| vote_id(voter));
        let note = json!({
            "id": id, "type": "Note", "name": option.title, "attributedTo": voter.ap_id,
            "inReplyTo": status.ap_id, "to": [author.ap_id],
        });
        let doc = envelope(
            &format!("{id}/activity"),
            "Create",
            voter,
            note,
            std::slice::from_ref(&author.ap_id),
            &[],
        );
        publish(c, voter, &doc, std::slice::from_ref(&author.inbox_url))?;
    }
    Ok(())
}

/// Whether `note` is a vote on one of our polls: then it is counted (and the new counts sent)
/// and `true` returned; otherwise nothing happens and it is an ordinary note.
pub async fn receive_vote(data: &FedData, voter: &Actor, note: &ApNote) -> Result<bool, FedError> {
    let (Some(name), Some(poll_id)) = (note.name.clone(), note.in_reply_to.clone()) else { return Ok(false) };
    if !note.is_vote() {
        return Ok(false);
    }
    let (voter, vote_ap_id) = (voter.clone(), note.id.to_string());
    let counted = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let Some(status) = statuses::find_by_ap_id(c, poll_id.as_str())? else { return Ok(false) };
                if !status.local {
                    return Ok(false);
                }
                // A vote on one of our statuses that has no poll (any more) is dropped, never
                // kept as an empty message.
                let Some(poll) = polls::find(c, status.id)?.filter(|_| status.deleted_at.is_none()) else {
                    return Ok(true);
                };
                // Only someone who may see the poll votes in it (ids can be guessed).
                if !guildhall_storage::timelines::may_see(c, &status, Some(voter.id))? {
                    return Ok(true);
                }
                let Some(option) = poll.options.iter().find(|o| o.title == name) else {
                    return Ok(true);
                };
                match polls::vote(c, status.id, voter.id, &[(option.position, Some(vote_ap_id))])? {
                    Ok(_) => polls::queue_counts(c, status.id)?,
                    Err(refused) => tracing::debug!(voter = %voter.ap_id, why = %refused, "vote refused"),
                }
                Ok(true)
            })
        })
        .await?;
    if counted {
        data.delivery_wakeup.notify_one();
    }
    Ok(counted)
}

/// A poll's end (a job of the durable queue, queued for the end at `expected`, in
/// microseconds): closes it, tells its local voters and its local author (`poll`
/// notifications, once), and sends the final counts of our own polls. A job for an end the
/// poll no longer has (it was edited) does nothing.
pub fn close(
    c: &mut DbConnection,
    data: &FedData,
    status_id: i64,
    expected: Option<i64>,
) -> StorageResult<()> {
    guildhall_storage::transaction(c, |c| {
        let Some(status) = statuses::find(c, status_id)? else { return Ok(()) };
        let Some(poll) = polls::find(c, status_id)? else { return Ok(()) };
        let end = poll.row.expires_at.map(|t| t.and_utc().timestamp_micros());
        if status.deleted_at.is_some() || (expected.is_some() && end != expected) {
            return Ok(());
        }
        // A remote poll may have been closed by its origin's Update already; its voters still
        // hear of the end, once however often the end moves or the job runs.
        let newly_closed = polls::close(c, status_id)?;
        if !polls::mark_notified(c, status_id)? {
            if newly_closed && status.local {
                publish_counts(c, data, &status)?;
            }
            return Ok(());
        }
        let author = actors::get(c, status.actor_id)?;
        let mut told: Vec<i64> = Vec::new();
        for voter in polls::local_voters(c, status_id)? {
            if !told.contains(&voter) {
                notifications::notify(c, voter, NotificationKind::Poll, author.id, Some(status_id))?;
                told.push(voter);
            }
        }
        if author.is_local() {
            if !told.contains(&author.id) {
                notifications::notify(c, author.id, NotificationKind::Poll, author.id, Some(status_id))?;
            }
            if newly_closed {
                publish_counts(c, data, &status)?;
            }
        }
        Ok(())
    })
}

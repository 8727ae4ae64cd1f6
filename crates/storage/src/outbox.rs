//! The outbox: activities we publish, written in the same transaction as the change that caused
//! them, with one delivery job per distinct inbox.

use diesel::prelude::*;
use guildhall_core::Id;
use serde::{Deserialize, Serialize};

use crate::jobs::{self, NewJob};
use crate::schema::outbox_activities;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// The job queue deliveries go through.
pub const DELIVER_QUEUE: &str = "deliver";

/// Attempts before a delivery is given up (backoff spreads them over about a week).
pub const DELIVERY_ATTEMPTS: i32 = 20;

/// One published activity.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox_activities)]
pub struct OutboxActivity {
    /// Our id.
    pub id: i64,
    /// The activity's ActivityPub id.
    pub ap_id: String,
    /// The local actor that signs it.
    pub actor_id: i64,
    /// Activity type (`Create`, `Follow`, …).
    pub kind: String,
    /// The activity document, JSON.
    pub json: String,
    /// When it was published.
    pub created_at: Timestamp,
}

/// The payload of a delivery job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The [`OutboxActivity`] to send.
    pub activity_id: i64,
    /// The inbox to POST it to.
    pub inbox: String,
}

/// An activity to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    /// The activity's ActivityPub id.
    pub ap_id: String,
    /// The local actor that signs it.
    pub actor_id: i64,
    /// Activity type.
    pub kind: String,
    /// The activity document, JSON.
    pub json: String,
}

/// Stores `activity` and queues one delivery per distinct inbox in `inboxes` (each inbox's
/// `host[:port]` is its partition, for the per-instance circuit breaker). Returns the activity.
pub fn publish(
    conn: &mut DbConnection,
    activity: NewActivity,
    inboxes: &[String],
) -> StorageResult<OutboxActivity> {
    crate::transaction(conn, |conn| {
        let row = OutboxActivity {
            id: Id::generate().0,
            ap_id: activity.ap_id,
            actor_id: activity.actor_id,
            kind: activity.kind,
            json: activity.json,
            created_at: now(),
        };
        diesel::insert_into(outbox_activities::table).values(&row).execute(conn)?;
        let mut targets: Vec<&String> = inboxes.iter().collect();
        targets.sort();
        targets.dedup();
        let mut new_jobs = Vec::with_capacity(targets.len());
        for inbox in targets {
            let payload = Delivery { activity_id: row.id, inbox: inbox.clone() };
            let payload =
                serde_json::to_string(&payload).map_err(|e| crate::StorageError::Corrupt(e.to_string()))?;
            new_jobs.push(NewJob {
                queue: DELIVER_QUEUE.to_owned(),
                payload,
                partition_key: authority(inbox),
                run_at: row.created_at,
                max_attempts: DELIVERY_ATTEMPTS,
            });
        }
        jobs::enqueue_many(conn, new_jobs)?;
        Ok(row)
    })
}

/// `host[:port]` of a URL, lower-cased.
fn authority(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_lowercase();
    Some(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// The published activity with this id.
pub fn get(conn: &mut DbConnection, id: i64) -> StorageResult<OutboxActivity> {
    Ok(outbox_activities::table.find(id).select(OutboxActivity::as_select()).first(conn)?)
}

/// The published activities with these ids (missing ones are left out).
pub fn get_many(conn: &mut DbConnection, ids: &[i64]) -> StorageResult<Vec<OutboxActivity>> {
    Ok(outbox_activities::table
        .filter(outbox_activities::id.eq_any(ids))
        .select(OutboxActivity::as_select())
        .load(conn)?)
}

/// The published activity with this ActivityPub id, if any.
pub fn find_by_ap_id(conn: &mut DbConnection, ap_id: &str) -> StorageResult<Option<OutboxActivity>> {
    Ok(outbox_activities::table
        .filter(outbox_activities::ap_id.eq(ap_id))
        .select(OutboxActivity::as_select())
        .first(conn)
        .optional()?)
}

/// The latest activity of `kind` that `actor_id` published about `object` (an ActivityPub id
/// in its `object`): the original an `Undo` embeds.
pub fn latest_about(
    conn: &mut DbConnection,
    actor_id: i64,
    kind: &str,
    object: &str,
) -> StorageResult<Option<serde_json::Value>> {
    let rows: Vec<String> = outbox_activities::table
        .filter(outbox_activities::actor_id.eq(actor_id))
        .filter(outbox_activities::kind.eq(kind))
        .order(outbox_activities::id.desc())
        .select(outbox_activities::json)
        .load(conn)?;
    Ok(rows
        .iter()
        .filter_map(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .find(|doc| doc["object"] == object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows};
    use crate::{StorageError, actors};

    #[tokio::test]
    async fn publish_stores_once_and_queues_one_delivery_per_inbox() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let inboxes = [
                    "https://a.example/inbox".to_string(),
                    "http://localhost:8081/inbox".to_string(),
                    "https://a.example/inbox".to_string(),
                ];
                let new = NewActivity {
                    ap_id: "http://localhost:8080/activities/1".into(),
                    actor_id: ada.id,
                    kind: "Create".into(),
                    json: r#"{"type":"Create"}"#.into(),
                };
                let activity = publish(c, new, &inboxes)?;
                assert_eq!(get(c, activity.id)?, activity);
                assert_eq!(get_many(c, &[activity.id, 42])?, vec![activity.clone()]);
                assert_eq!(find_by_ap_id(c, &activity.ap_id)?.map(|a| a.id), Some(activity.id));
                let claimed = jobs::claim(
                    c,
                    DELIVER_QUEUE,
                    "w",
                    10,
                    now(),
                    now() + chrono::Duration::seconds(30),
                    &[],
                )?;
                let mut got: Vec<(Option<String>, Delivery)> = claimed
                    .iter()
                    .map(|j| (j.partition_key.clone(), serde_json::from_str(&j.payload).unwrap()))
                    .collect();
                got.sort_by(|a, b| a.1.inbox.cmp(&b.1.inbox));
                let expect = |host: &str, inbox: &str| {
                    (Some(host.to_string()), Delivery { activity_id: activity.id, inbox: inbox.into() })
                };
                assert_eq!(
                    got,
                    vec![
                        expect("localhost:8081", "http://localhost:8081/inbox"),
                        expect("a.example", "https://a.example/inbox"),
                    ]
                );
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn a_failed_publish_leaves_no_deliveries() {
        each_backend(|db| async move {
            db.run(|c| {
                let new = NewActivity {
                    ap_id: "x".into(),
                    actor_id: 999,
                    kind: "Create".into(),
                    json: "{}".into(),
                };
                let err = publish(c, new, &["https://a.example/inbox".to_string()]).unwrap_err();
                assert!(
                    matches!(err, StorageError::Database(_)),
                    "unknown actor violates the foreign key: {err}"
                );
                assert_eq!(jobs::pending_count(c, DELIVER_QUEUE)?, 0, "rolled back with the activity");
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

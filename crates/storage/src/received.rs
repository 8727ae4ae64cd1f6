//! Ids of activities already received: the inbox's replay guard.

use diesel::prelude::*;

use crate::schema::received_activities;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// Records `ap_id` as received. Returns `true` the first time, `false` for a replay; safe
/// when two processes receive the same activity at once (the primary key decides).
pub fn record(conn: &mut DbConnection, ap_id: &str) -> StorageResult<bool> {
    crate::write(conn, |conn| record_in(conn, ap_id))
}

fn record_in(conn: &mut DbConnection, ap_id: &str) -> StorageResult<bool> {
    let row = (received_activities::ap_id.eq(ap_id), received_activities::received_at.eq(now()));
    let inserted = match conn {
        DbConnection::Pg(c) => {
            diesel::insert_into(received_activities::table).values(row).on_conflict_do_nothing().execute(c)?
        }
        DbConnection::Sqlite(c) => {
            diesel::insert_into(received_activities::table).values(row).on_conflict_do_nothing().execute(c)?
        }
    };
    Ok(inserted == 1)
}

/// Forgets one id, so the activity is processed if it arrives again (after a failure on our
/// side).
pub fn forget(conn: &mut DbConnection, ap_id: &str) -> StorageResult<()> {
    crate::write(conn, |conn| {
        diesel::delete(received_activities::table.find(ap_id)).execute(conn)?;
        Ok(())
    })
}

/// Forgets ids received before `before` (replays that old are refused by date anyway).
pub fn prune(conn: &mut DbConnection, before: Timestamp) -> StorageResult<usize> {
    crate::write(conn, |conn| {
        Ok(diesel::delete(received_activities::table.filter(received_activities::received_at.lt(before)))
            .execute(conn)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::each_backend;

    #[tokio::test]
    async fn replay_is_detected_and_old_ids_pruned() {
        each_backend(|db| async move {
            db.run(|c| {
                assert!(record(c, "https://a.example/activities/1")?);
                assert!(!record(c, "https://a.example/activities/1")?);
                assert!(record(c, "https://a.example/activities/2")?);
                forget(c, "https://a.example/activities/2")?;
                assert!(record(c, "https://a.example/activities/2")?, "forgotten ids count as new");
                assert_eq!(prune(c, now() + chrono::Duration::seconds(1))?, 2);
                assert!(record(c, "https://a.example/activities/1")?, "forgotten after pruning");
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

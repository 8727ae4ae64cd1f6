//! Read markers: where a user stopped reading the home timeline and notifications, shared
//! between their apps.

use diesel::prelude::*;

use crate::schema::markers;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// A timeline's read position.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = markers)]
pub struct Marker {
    /// The user.
    pub user_id: i64,
    /// `home` or `notifications`.
    pub timeline: String,
    /// The last status (or notification) read.
    pub last_read_id: i64,
    /// Incremented on each change.
    pub version: i32,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// The user's markers for these timelines (missing ones left out).
pub fn get(conn: &mut DbConnection, user_id: i64, timelines: &[String]) -> StorageResult<Vec<Marker>> {
    Ok(markers::table
        .filter(markers::user_id.eq(user_id))
        .filter(markers::timeline.eq_any(timelines))
        .select(Marker::as_select())
        .load(conn)?)
}

/// Moves a marker (creating it at version 1).
pub fn set(
    conn: &mut DbConnection,
    user_id: i64,
    timeline: &str,
    last_read_id: i64,
) -> StorageResult<Marker> {
    crate::transaction(conn, |conn| {
        let existing = get(conn, user_id, &[timeline.to_owned()])?.pop();
        let marker = Marker {
            user_id,
            timeline: timeline.to_owned(),
            last_read_id,
            version: existing.as_ref().map_or(1, |m| m.version + 1),
            updated_at: now(),
        };
        match existing {
            Some(_) => {
                diesel::update(markers::table.find((user_id, timeline)))
                    .set((
                        markers::last_read_id.eq(last_read_id),
                        markers::version.eq(marker.version),
                        markers::updated_at.eq(marker.updated_at),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(markers::table).values(&marker).execute(conn)?;
            }
        }
        Ok(marker)
    })
}

//! Edit history: each earlier version of an edited status.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::status_edits;
use crate::statuses::Status;
use crate::{DbConnection, StorageResult, Timestamp};

/// One earlier version.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = status_edits)]
pub struct Edit {
    /// Its id (time-ordered).
    pub id: i64,
    /// The status.
    pub status_id: i64,
    /// The HTML it had.
    pub content: String,
    /// The content warning it had.
    pub spoiler_text: String,
    /// Whether it was marked sensitive.
    pub sensitive: bool,
    /// When this version was current from.
    pub created_at: Timestamp,
}

/// Keeps `before` (the version an edit replaces) in the history.
pub fn record(conn: &mut DbConnection, before: &Status) -> StorageResult<()> {
    let edit = Edit {
        id: Id::generate().0,
        status_id: before.id,
        content: before.content.clone(),
        spoiler_text: before.spoiler_text.clone(),
        sensitive: before.sensitive,
        created_at: before.edited_at.unwrap_or(before.published_at),
    };
    diesel::insert_into(status_edits::table).values(&edit).execute(conn)?;
    Ok(())
}

/// The earlier versions of a status, oldest first.
pub fn history(conn: &mut DbConnection, status_id: i64) -> StorageResult<Vec<Edit>> {
    Ok(status_edits::table
        .filter(status_edits::status_id.eq(status_id))
        .order(status_edits::id.asc())
        .select(Edit::as_select())
        .load(conn)?)
}

//! Reports (`Flag`) for the instance's moderators.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::reports;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// One report.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = reports)]
pub struct Report {
    /// Our id.
    pub id: i64,
    /// The `Flag` activity's id, for remote reports.
    pub ap_id: Option<String>,
    /// Who reported (for remote reports usually the other instance's actor).
    pub reporter_id: i64,
    /// Who is reported.
    pub target_id: i64,
    /// Ids of the reported statuses, JSON array.
    pub status_ids_json: String,
    /// The reporter's explanation.
    pub comment: String,
    /// When a moderator dealt with it.
    pub resolved_at: Option<Timestamp>,
    /// When it arrived.
    pub created_at: Timestamp,
}

/// Stores a report; a repeated `Flag` with the same id is stored once.
pub fn add(
    conn: &mut DbConnection,
    ap_id: Option<&str>,
    reporter_id: i64,
    target_id: i64,
    status_ids: &[i64],
    comment: &str,
) -> StorageResult<Report> {
    crate::transaction(conn, |conn| {
        if let Some(id) = ap_id
            && let Some(existing) = reports::table
                .filter(reports::ap_id.eq(id))
                .select(Report::as_select())
                .first(conn)
                .optional()?
        {
            return Ok(existing);
        }
        let row = Report {
            id: Id::generate().0,
            ap_id: ap_id.map(str::to_owned),
            reporter_id,
            target_id,
            status_ids_json: serde_json::to_string(status_ids).unwrap_or_else(|_| "[]".into()),
            comment: comment.to_owned(),
            resolved_at: None,
            created_at: now(),
        };
        diesel::insert_into(reports::table).values(&row).execute(conn)?;
        crate::mail::on_report(conn, row.id)?;
        Ok(row)
    })
}

impl Report {
    /// The reported statuses' ids.
    pub fn status_ids(&self) -> Vec<i64> {
        serde_json::from_str(&self.status_ids_json).unwrap_or_default()
    }
}

/// At most `limit` unresolved reports, oldest first.
pub fn open_first(conn: &mut DbConnection, limit: i64) -> StorageResult<Vec<Report>> {
    Ok(reports::table
        .filter(reports::resolved_at.is_null())
        .order(reports::id)
        .limit(limit)
        .select(Report::as_select())
        .load(conn)?)
}

/// The report with this id.
pub fn get(conn: &mut DbConnection, id: i64) -> StorageResult<Report> {
    Ok(reports::table.find(id).select(Report::as_select()).first(conn)?)
}

/// Marks a report resolved; false when it was not open.
pub fn resolve(conn: &mut DbConnection, id: i64) -> StorageResult<bool> {
    let n = diesel::update(reports::table.find(id).filter(reports::resolved_at.is_null()))
        .set(reports::resolved_at.eq(Some(now())))
        .execute(conn)?;
    Ok(n > 0)
}

/// Closes report `id` in group `group_id`'s queue (the admins' list keeps it); false when it
/// was closed there already.
pub fn close_for_group(
    conn: &mut DbConnection,
    group_id: i64,
    id: i64,
    moderator_id: i64,
) -> StorageResult<bool> {
    use crate::schema::group_report_closures as g;
    let row = (
        g::group_id.eq(group_id),
        g::report_id.eq(id),
        g::moderator_id.eq(Some(moderator_id)),
        g::created_at.eq(now()),
    );
    let n = match conn {
        DbConnection::Pg(c) => {
            diesel::insert_into(g::table).values(row).on_conflict_do_nothing().execute(c)?
        }
        DbConnection::Sqlite(c) => {
            diesel::insert_into(g::table).values(row).on_conflict_do_nothing().execute(c)?
        }
    };
    Ok(n > 0)
}

/// True when group `group_id`'s moderators closed report `id`.
pub fn closed_for_group(conn: &mut DbConnection, group_id: i64, id: i64) -> StorageResult<bool> {
    use crate::schema::group_report_closures as g;
    Ok(diesel::select(diesel::dsl::exists(
        g::table.filter(g::group_id.eq(group_id)).filter(g::report_id.eq(id)),
    ))
    .get_result(conn)?)
}

/// Unresolved reports, oldest first.
pub fn open(conn: &mut DbConnection) -> StorageResult<Vec<Report>> {
    Ok(reports::table
        .filter(reports::resolved_at.is_null())
        .order(reports::id)
        .select(Report::as_select())
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors;
    use crate::testing::{each_backend, rows};

    #[tokio::test]
    async fn flags_are_stored_once() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
                let first = add(c, Some("https://r.example/flags/1"), eve.id, ada.id, &[1, 2], "spam")?;
                let again = add(c, Some("https://r.example/flags/1"), eve.id, ada.id, &[], "")?;
                assert_eq!(first.id, again.id);
                assert_eq!(open(c)?.len(), 1);
                assert_eq!(open(c)?[0].status_ids_json, "[1,2]");
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

//! Rows as JSON: read from one side, brought into one spelling, written to the other.

use chrono::NaiveDateTime;
use diesel::connection::DefaultLoadingMode;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::{Map, Value};

use super::catalog::{Kind, Table, quoted};
use super::{BATCH_ROWS, Side, TransferError};

/// How timestamps are spelled: diesel's own format for SQLite, which PostgreSQL reads too.
const TIMESTAMP_FORMAT: &str = "%F %T%.f";
/// The spellings of a timestamp without zone that are read (`%.f` also reads no fraction).
const TIMESTAMP_INPUTS: [&str; 4] = ["%F %T%.f", "%FT%T%.f", "%F %R", "%FT%R"];

#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Text)]
    row: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// True when `table` has at least one row.
pub(super) fn any(side: &mut Side<'_>, table: &Table) -> Result<bool, TransferError> {
    let sql = format!("SELECT 1 AS n FROM {} LIMIT 1", quoted(&table.name));
    let found: Vec<Count> = match side {
        Side::Sqlite(c) => diesel::sql_query(sql).load(*c)?,
        Side::Pg(c) => {
            diesel::sql_query(format!("SELECT 1::bigint AS n FROM {} LIMIT 1", quoted(&table.name)))
                .load(*c)?
        }
    };
    Ok(!found.is_empty())
}

/// How many rows `table` has.
pub(super) fn count(side: &mut Side<'_>, table: &Table) -> Result<i64, TransferError> {
    let sql = format!("SELECT COUNT(*) AS n FROM {}", quoted(&table.name));
    let found: Count = match side {
        Side::Sqlite(c) => diesel::sql_query(sql).get_result(*c)?,
        Side::Pg(c) => diesel::sql_query(sql).get_result(*c)?,
    };
    Ok(found.n)
}

/// Copies every row of `table` from `source` to `target`, [`BATCH_ROWS`] at a time; returns
/// how many.
pub(super) fn copy_table(
    source: &mut Side<'_>,
    target: &mut Side<'_>,
    table: &Table,
) -> Result<i64, TransferError> {
    let insert = insert_sql(target, table);
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut copied = 0;
    each_row(source, table, |raw| {
        batch.push(Value::Object(canonical_row(table, &raw)?));
        if batch.len() == BATCH_ROWS {
            copied += write(target, &insert, &batch)?;
            batch.clear();
        }
        Ok(())
    })?;
    copied += write(target, &insert, &batch)?;
    Ok(copied)
}

/// Calls `f` with each row of `table` as a JSON object, in primary-key order, reading one row
/// at a time.
pub(super) fn each_row(
    side: &mut Side<'_>,
    table: &Table,
    mut f: impl FnMut(String) -> Result<(), TransferError>,
) -> Result<(), TransferError> {
    let order = match table.key.is_empty() {
        true => String::new(),
        false => format!(" ORDER BY {}", table.key.iter().map(|k| quoted(k)).collect::<Vec<_>>().join(", ")),
    };
    let name = quoted(&table.name);
    match side {
        Side::Sqlite(c) => {
            let pairs: Vec<String> = table
                .columns
                .iter()
                .map(|col| format!("'{}', {}", col.name.replace('\'', "''"), quoted(&col.name)))
                .collect();
            let sql = format!("SELECT json_object({}) AS row FROM {name}{order}", pairs.join(", "));
            for row in diesel::sql_query(sql).load_iter::<JsonRow, DefaultLoadingMode>(*c)? {
                f(row?.row)?;
            }
        }
        Side::Pg(c) => {
            let sql =
                format!("SELECT row_to_json(source_row.*)::text AS row FROM {name} AS source_row{order}");
            for row in diesel::sql_query(sql).load_iter::<JsonRow, PgRowByRowLoadingMode>(*c)? {
                f(row?.row)?;
            }
        }
    }
    Ok(())
}

/// The statement inserting a JSON array of rows (bound as its one parameter) into `table`.
fn insert_sql(target: &Side<'_>, table: &Table) -> String {
    let name = quoted(&table.name);
    let columns: Vec<String> = table.columns.iter().map(|c| quoted(&c.name)).collect();
    let columns = columns.join(", ");
    match target {
        Side::Pg(_) => format!(
            "INSERT INTO {name} ({columns}) SELECT {columns} FROM json_populate_recordset(NULL::{name}, $1::json)"
        ),
        Side::Sqlite(_) => {
            let values: Vec<String> = table
                .columns
                .iter()
                .map(|c| format!("json_extract(value, '$.\"{}\"')", c.name.replace('\'', "''")))
                .collect();
            format!(
                "INSERT INTO {name} ({columns}) SELECT {} FROM json_each(?) ORDER BY key",
                values.join(", ")
            )
        }
    }
}

fn write(target: &mut Side<'_>, insert: &str, batch: &[Value]) -> Result<i64, TransferError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let json = serde_json::to_string(batch)
        .map_err(|e| TransferError::Database(crate::StorageError::Corrupt(e.to_string())))?;
    let query = diesel::sql_query(insert).bind::<Text, _>(json);
    let inserted = match target {
        Side::Pg(c) => query.execute(*c)?,
        Side::Sqlite(c) => query.execute(*c)?,
    };
    Ok(inserted as i64)
}

/// A row read as JSON, with every column's value in its kind's one spelling.
pub(super) fn canonical_row(table: &Table, raw: &str) -> Result<Map<String, Value>, TransferError> {
    let fail = |column: &str, detail: String| TransferError::Value {
        table: table.name.clone(),
        column: column.to_owned(),
        detail,
    };
    let mut row: Map<String, Value> =
        serde_json::from_str(raw).map_err(|e| fail("*", format!("the row does not read as JSON: {e}")))?;
    for column in &table.columns {
        let value = row.get_mut(&column.name).ok_or_else(|| fail(&column.name, "it is missing".into()))?;
        *value = canonical(column.kind, value.take()).map_err(|detail| fail(&column.name, detail))?;
    }
    Ok(row)
}

/// `value` spelled as `kind` is: booleans as `true`/`false`, timestamps in [`TIMESTAMP_FORMAT`].
fn canonical(kind: Kind, value: Value) -> Result<Value, String> {
    match (kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        (Kind::Int, Value::Number(n)) if n.is_i64() => Ok(Value::Number(n)),
        (Kind::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
        (Kind::Bool, Value::Number(n)) if matches!(n.as_i64(), Some(0 | 1)) => {
            Ok(Value::Bool(n.as_i64() == Some(1)))
        }
        (Kind::Timestamp, Value::String(s)) => {
            timestamp(&s).map(|t| Value::String(t.format(TIMESTAMP_FORMAT).to_string()))
        }
        (Kind::Text, Value::String(s)) => Ok(Value::String(s)),
        (kind, other) => {
            let mut shown = other.to_string();
            if shown.len() > 40 {
                shown = format!("{}…", shown.chars().take(40).collect::<String>());
            }
            Err(format!("{shown} is not a {kind:?} value"))
        }
    }
}

fn timestamp(text: &str) -> Result<NaiveDateTime, String> {
    TIMESTAMP_INPUTS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .ok_or_else(|| format!("'{text}' is not a timestamp without time zone"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_take_one_spelling_whatever_the_backend_wrote() {
        let ts = |s: &str| canonical(Kind::Timestamp, Value::String(s.into())).unwrap();
        assert_eq!(ts("2026-05-01 09:30:00.123456"), "2026-05-01 09:30:00.123456");
        assert_eq!(ts("2026-05-01T09:30:00.123456"), "2026-05-01 09:30:00.123456");
        assert_eq!(ts("2026-05-01T09:30:00.12"), "2026-05-01 09:30:00.120");
        assert_eq!(ts("2026-05-01 09:30:00"), "2026-05-01 09:30:00");
        assert_eq!(ts("2026-05-01T09:30:00"), "2026-05-01 09:30:00");
        assert!(canonical(Kind::Timestamp, Value::String("May 1st".into())).is_err());
        assert_eq!(canonical(Kind::Bool, 1.into()).unwrap(), true);
        assert_eq!(canonical(Kind::Bool, 0.into()).unwrap(), false);
        assert!(canonical(Kind::Bool, 2.into()).is_err());
        assert_eq!(canonical(Kind::Int, i64::MAX.into()).unwrap(), i64::MAX);
        assert!(canonical(Kind::Int, "7".into()).is_err());
        assert!(canonical(Kind::Text, 7.into()).is_err());
        assert_eq!(canonical(Kind::Text, Value::Null).unwrap(), Value::Null);
    }
}

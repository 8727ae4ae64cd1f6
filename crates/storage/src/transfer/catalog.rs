//! What a database holds, read from its own catalog: tables, their columns and keys, the
//! migrations applied, foreign keys.

use std::collections::{BTreeMap, BTreeSet};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};
use diesel::{PgConnection, SqliteConnection};

use super::{Side, TransferError};

/// The diesel table that records migrations: each side keeps its own.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

/// How a column's values are spelled in the JSON that carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An integer (BIGINT, INTEGER).
    Int,
    /// A boolean (SQLite stores 0/1).
    Bool,
    /// A timestamp without zone (SQLite stores text).
    Timestamp,
    /// Text.
    Text,
}

impl Kind {
    fn of_sqlite(declared: &str) -> Option<Kind> {
        let declared = declared.to_ascii_uppercase();
        let has = |s: &str| declared.contains(s);
        match () {
            _ if has("INT") => Some(Kind::Int),
            _ if has("BOOL") => Some(Kind::Bool),
            _ if has("TIMESTAMP") || has("DATETIME") => Some(Kind::Timestamp),
            _ if has("TEXT") || has("CHAR") || has("CLOB") => Some(Kind::Text),
            _ => None,
        }
    }

    fn of_postgres(data_type: &str) -> Option<Kind> {
        match data_type {
            "bigint" | "integer" | "smallint" => Some(Kind::Int),
            "boolean" => Some(Kind::Bool),
            "timestamp without time zone" => Some(Kind::Timestamp),
            "text" | "character varying" | "character" => Some(Kind::Text),
            _ => None,
        }
    }
}

/// A column: its name and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Column {
    pub name: String,
    pub kind: Kind,
}

/// A table: its name, columns (in the catalog's order) and primary-key columns (in key order).
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub key: Vec<String>,
}

/// `name` as an SQL identifier.
pub(super) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    declared: String,
    /// The column's position in the primary key, from 1; 0 when not in it.
    #[diesel(sql_type = Integer)]
    key: i32,
    /// Filled by the database itself (a sequence, an identity, a generated column).
    #[diesel(sql_type = Bool)]
    generated: bool,
}

/// Every table of ours in the database, sorted by name (in byte order).
pub(super) fn tables(side: &mut Side<'_>) -> Result<Vec<Table>, TransferError> {
    let names: Vec<Name> = match side {
        Side::Sqlite(c) => diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name <> ? ORDER BY name",
        )
        .bind::<Text, _>(MIGRATIONS_TABLE)
        .load(*c)?,
        Side::Pg(c) => diesel::sql_query(
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> $1 \
             ORDER BY table_name",
        )
        .bind::<Text, _>(MIGRATIONS_TABLE)
        .load(*c)?,
    };
    let mut names: Vec<String> = names.into_iter().map(|n| n.name).collect();
    // In byte order on both sides, whatever PostgreSQL's collation.
    names.sort();
    names.into_iter().map(|name| table(side, name)).collect()
}

fn table(side: &mut Side<'_>, name: String) -> Result<Table, TransferError> {
    let rows = column_rows(side, &name)?;
    let mut key: Vec<(i32, String)> =
        rows.iter().filter(|c| c.key > 0).map(|c| (c.key, c.name.clone())).collect();
    key.sort();
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        let kind = match side {
            Side::Sqlite(_) => Kind::of_sqlite(&row.declared),
            Side::Pg(_) => Kind::of_postgres(&row.declared),
        };
        let problem = match kind {
            _ if row.generated => Some("takes its values from a sequence or an expression".to_owned()),
            None => Some(format!("has the type {}", row.declared)),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            let detail = format!("its column {} {problem}, which this copy does not carry over", row.name);
            return Err(TransferError::Schema { table: name, detail });
        }
        columns.extend(kind.map(|kind| Column { name: row.name, kind }));
    }
    Ok(Table { name, columns, key: key.into_iter().map(|(_, k)| k).collect() })
}

fn column_rows(side: &mut Side<'_>, table: &str) -> Result<Vec<ColumnRow>, TransferError> {
    let rows = match side {
        Side::Sqlite(c) => diesel::sql_query(
            "SELECT name, type AS declared, pk AS key, 0 AS generated FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind::<Text, _>(table)
        .load(*c)?,
        Side::Pg(c) => diesel::sql_query(
            "SELECT c.column_name::text AS name, c.data_type::text AS declared, \
                 COALESCE(k.ordinal_position, 0)::int AS key, \
                 (COALESCE(c.column_default LIKE 'nextval(%', false) OR c.is_identity = 'YES' \
                  OR c.is_generated = 'ALWAYS') AS generated \
             FROM information_schema.columns c \
             LEFT JOIN (SELECT u.column_name, u.ordinal_position \
                 FROM information_schema.table_constraints t \
                 JOIN information_schema.key_column_usage u ON u.constraint_schema = t.constraint_schema \
                     AND u.constraint_name = t.constraint_name AND u.table_name = t.table_name \
                 WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = current_schema() \
                     AND t.table_name = $1) k ON k.column_name = c.column_name \
             WHERE c.table_schema = current_schema() AND c.table_name = $1 \
             ORDER BY c.ordinal_position",
        )
        .bind::<Text, _>(table)
        .load(*c)?,
    };
    Ok(rows)
}

/// Fails unless both sides have the same tables, each with the same columns of the same kinds.
pub(super) fn compare(source: &[Table], target: &[Table]) -> Result<(), TransferError> {
    let by_name = |tables: &[Table]| -> BTreeMap<String, BTreeMap<String, Kind>> {
        let columns = |t: &Table| t.columns.iter().map(|c| (c.name.clone(), c.kind)).collect();
        tables.iter().map(|t| (t.name.clone(), columns(t))).collect()
    };
    let (source, target) = (by_name(source), by_name(target));
    let names: BTreeSet<&String> = source.keys().chain(target.keys()).collect();
    for name in names {
        let detail = match (source.get(name), target.get(name)) {
            (Some(_), None) => "it is in the source database but not in the target".to_owned(),
            (None, Some(_)) => "it is in the target database but not in the source".to_owned(),
            (Some(s), Some(t)) if s != t => column_differences(s, t),
            _ => continue,
        };
        return Err(TransferError::Schema { table: name.clone(), detail });
    }
    Ok(())
}

fn column_differences(source: &BTreeMap<String, Kind>, target: &BTreeMap<String, Kind>) -> String {
    let mut found = Vec::new();
    for (name, kind) in source {
        match target.get(name) {
            None => found.push(format!("column {name} is only in the source")),
            Some(other) if other != kind => {
                found.push(format!("column {name} is {kind:?} in the source but {other:?} in the target"))
            }
            Some(_) => {}
        }
    }
    found.extend(
        target
            .keys()
            .filter(|n| !source.contains_key(*n))
            .map(|n| format!("column {n} is only in the target")),
    );
    found.join("; ")
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// The versions of the migrations applied, oldest first.
pub(super) fn migrations(side: &mut Side<'_>) -> Result<Vec<String>, TransferError> {
    let sql = format!("SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version");
    let found: Vec<Version> = match side {
        Side::Sqlite(c) => diesel::sql_query(sql).load(*c)?,
        Side::Pg(c) => diesel::sql_query(sql).load(*c)?,
    };
    Ok(found.into_iter().map(|v| v.version).collect())
}

/// A PostgreSQL foreign key, as its table and definition.
#[derive(QueryableByName)]
pub(super) struct ForeignKey {
    /// The table, as PostgreSQL spells it in SQL.
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

/// Drops every foreign key of the current schema (inside the copy's transaction) and returns
/// them, for [`add_foreign_keys`] to add back once the rows are in.
pub(super) fn drop_foreign_keys(pg: &mut PgConnection) -> Result<Vec<ForeignKey>, TransferError> {
    let keys: Vec<ForeignKey> = diesel::sql_query(
        "SELECT c.conrelid::regclass::text AS table, c.conname::text AS name, \
             pg_get_constraintdef(c.oid) AS definition \
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE c.contype = 'f' AND n.nspname = current_schema() ORDER BY 1, 2",
    )
    .load(pg)?;
    for key in &keys {
        pg.batch_execute(&format!("ALTER TABLE {} DROP CONSTRAINT {}", key.table, quoted(&key.name)))?;
    }
    Ok(keys)
}

/// Adds the foreign keys back; PostgreSQL checks every row as it does.
pub(super) fn add_foreign_keys(pg: &mut PgConnection, keys: &[ForeignKey]) -> Result<(), TransferError> {
    for key in keys {
        let sql =
            format!("ALTER TABLE {} ADD CONSTRAINT {} {}", key.table, quoted(&key.name), key.definition);
        pg.batch_execute(&sql)
            .map_err(|e| TransferError::ForeignKey { table: key.table.clone(), detail: e.to_string() })?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Orphan {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

/// Fails when a row of the SQLite database points at a row that does not exist.
pub(super) fn check_sqlite_foreign_keys(c: &mut SqliteConnection) -> Result<(), TransferError> {
    let orphans: Vec<Orphan> =
        diesel::sql_query("SELECT \"table\" AS child, parent FROM pragma_foreign_key_check LIMIT 1")
            .load(c)?;
    match orphans.into_iter().next() {
        None => Ok(()),
        Some(o) => Err(TransferError::ForeignKey {
            table: o.child,
            detail: format!("a row refers to a row of {} that is not there", o.parent),
        }),
    }
}

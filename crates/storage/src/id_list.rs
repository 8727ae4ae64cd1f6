//! Statements of one shape, so that each connection prepares them once: `column IN (ids)`
//! however many ids there are, templates with their values bound, fixed SQL pieces.
//!
//! diesel's `eq_any` writes one placeholder per id on SQLite (`IN (?, ?, …)`), and marks such a
//! statement as never to be cached: SQLite parses and plans it again on every call. A page of a
//! timeline asks a dozen of them. [`in_ids`] binds the whole list as one value instead: a JSON
//! array read by `json_each` on SQLite, an array compared with `= ANY` on PostgreSQL. The
//! statement text no longer depends on the list, so each connection prepares it once.

use diesel::QueryResult;
use diesel::expression::{AppearsOnTable, Expression, ValidGrouping, is_aggregate};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
use diesel::sqlite::Sqlite;

type Multi = <crate::DbConnection as diesel::Connection>::Backend;

/// The id columns [`in_ids`] applies to.
pub trait IdType {}
impl IdType for BigInt {}
impl IdType for Nullable<BigInt> {}

/// `column` is one of `ids` (never true of NULL, nor of an empty list).
#[derive(Debug, Clone)]
pub struct InIds<C> {
    column: C,
    ids: Vec<i64>,
    json: String,
}

/// `column` is one of `ids`, in a statement prepared once per connection.
pub fn in_ids<C>(column: C, ids: &[i64]) -> InIds<C>
where
    C: Expression,
    C::SqlType: IdType,
{
    InIds { column, ids: ids.to_vec(), json: json_array(ids) }
}

/// `ids` as a JSON array, for `json_each`.
fn json_array(ids: &[i64]) -> String {
    let mut json = String::with_capacity(ids.len() * 20 + 2);
    json.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&id.to_string());
    }
    json.push(']');
    json
}

impl<C: Expression> Expression for InIds<C> {
    type SqlType = Bool;
}

impl<C, QS> AppearsOnTable<QS> for InIds<C> where C: AppearsOnTable<QS> {}

impl<C> ValidGrouping<()> for InIds<C> {
    type IsAggregate = is_aggregate::Never;
}

// No static query id: diesel then caches the statement by its text, which is fixed.
impl<C> QueryId for InIds<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C: QueryFragment<Sqlite>> QueryFragment<Sqlite> for InIds<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C: QueryFragment<Pg>> QueryFragment<Pg> for InIds<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<Array<BigInt>, _>(&self.ids)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<C> QueryFragment<Multi> for InIds<C>
where
    C: QueryFragment<Sqlite> + QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Multi>) -> QueryResult<()> {
        Multi::walk_variant_ast(self, pass)
    }
}

/// A statement of ours whose text is fixed: `{viewer}` marks where `viewer` is bound, and
/// `{ids}` where "is one of `ids`" goes (as in [`in_ids`]). Loaded by column name, as
/// `sql_query` is, but prepared once per connection and text (diesel never caches
/// `sql_query`, and a statement with its values written in is parsed and planned every time).
#[derive(Debug, Clone)]
pub struct ViewerQuery {
    text: &'static str,
    viewer: i64,
    ids: Vec<i64>,
    json: String,
}

impl ViewerQuery {
    /// `text` with `viewer` and `ids` bound where it says.
    pub fn new(text: &'static str, viewer: i64, ids: &[i64]) -> ViewerQuery {
        ViewerQuery { text, viewer, ids: ids.to_vec(), json: json_array(ids) }
    }

    fn walk<'b, DB>(
        &'b self,
        mut out: AstPass<'_, 'b, DB>,
        mut ids: impl FnMut(&mut AstPass<'_, 'b, DB>) -> QueryResult<()>,
    ) -> QueryResult<()>
    where
        DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<BigInt>,
        i64: diesel::serialize::ToSql<BigInt, DB>,
    {
        for (i, part) in self.text.split("{ids}").enumerate() {
            if i > 0 {
                ids(&mut out)?;
            }
            for (j, piece) in part.split("{viewer}").enumerate() {
                if j > 0 {
                    out.push_bind_param::<BigInt, _>(&self.viewer)?;
                }
                out.push_sql(piece);
            }
        }
        Ok(())
    }
}

impl QueryId for ViewerQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for ViewerQuery {
    type SqlType = diesel::sql_types::Untyped;
}

impl QueryFragment<Sqlite> for ViewerQuery {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.walk(out, |out| {
            out.push_sql("IN (SELECT value FROM json_each(");
            out.push_bind_param::<Text, _>(&self.json)?;
            out.push_sql("))");
            Ok(())
        })
    }
}

impl QueryFragment<Pg> for ViewerQuery {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.walk(out, |out| {
            out.push_sql("= ANY(");
            out.push_bind_param::<Array<BigInt>, _>(&self.ids)?;
            out.push_sql(")");
            Ok(())
        })
    }
}

impl QueryFragment<Multi> for ViewerQuery {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Multi>) -> QueryResult<()> {
        Multi::walk_variant_ast(self, pass)
    }
}

impl<Conn> diesel::RunQueryDsl<Conn> for ViewerQuery {}

/// A fixed piece of SQL as a boolean expression. `diesel::dsl::sql` marks every statement it
/// is part of as never to be cached; a `'static` text cannot vary, so this one does not.
/// Nothing but constants may go in (the type asks for `&'static str` for that reason).
#[derive(Debug, Clone, Copy)]
pub struct StaticSql(pub &'static str);

impl Expression for StaticSql {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for StaticSql {}

impl<QS> diesel::expression::SelectableExpression<QS> for StaticSql {}

impl ValidGrouping<()> for StaticSql {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for StaticSql {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: diesel::backend::Backend> QueryFragment<DB> for StaticSql {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::in_ids;
    use crate::schema::statuses;
    use crate::testing::{each_backend, rows};
    use crate::{actors, statuses as status_rows};

    #[tokio::test]
    async fn matches_eq_any_for_any_list() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let mut ids = Vec::new();
                for n in 0..5 {
                    let mut post = rows::status(&ada, &format!("post {n}"));
                    post.in_reply_to_id = ids.first().copied();
                    status_rows::insert(c, &post)?;
                    ids.push(post.id);
                }
                for list in [vec![], vec![ids[1]], vec![ids[0], ids[3], 12345], ids.clone()] {
                    let ours: Vec<i64> = statuses::table
                        .filter(in_ids(statuses::id, &list))
                        .order(statuses::id)
                        .select(statuses::id)
                        .load(c)?;
                    let theirs: Vec<i64> = statuses::table
                        .filter(statuses::id.eq_any(&list))
                        .order(statuses::id)
                        .select(statuses::id)
                        .load(c)?;
                    assert_eq!(ours, theirs, "{list:?}");
                    // A nullable column: NULL is in no list.
                    let replies: i64 = statuses::table
                        .filter(in_ids(statuses::in_reply_to_id, &list))
                        .count()
                        .get_result(c)?;
                    assert_eq!(replies, if list.contains(&ids[0]) { 4 } else { 0 }, "{list:?}");
                }
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

//! Filters (Mastodon's v2 filters): keywords and statuses a user does not want to see, in
//! chosen contexts, either hidden or shown behind a warning.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::{filter_keywords, filter_statuses, filters};
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now};

/// The contexts a filter applies in.
pub const CONTEXTS: [&str; 5] = ["home", "notifications", "public", "thread", "account"];

/// A filter.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = filters)]
pub struct Filter {
    /// Its id.
    pub id: i64,
    /// The local actor owning it.
    pub owner_id: i64,
    /// Its name.
    pub title: String,
    /// Comma-separated [`CONTEXTS`].
    pub contexts: String,
    /// `warn` or `hide`.
    pub action: String,
    /// When it stops applying.
    pub expires_at: Option<Timestamp>,
    /// When it was made.
    pub created_at: Timestamp,
}

impl Filter {
    /// The contexts as a list.
    pub fn context_list(&self) -> Vec<String> {
        self.contexts.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect()
    }

    /// Whether it still applies.
    pub fn is_live(&self) -> bool {
        self.expires_at.is_none_or(|at| at > now())
    }
}

/// A keyword of a filter.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = filter_keywords)]
pub struct Keyword {
    /// Its id.
    pub id: i64,
    /// The filter.
    pub filter_id: i64,
    /// The text matched (case-insensitive).
    pub keyword: String,
    /// Matches whole words only.
    pub whole_word: bool,
}

/// A filter with its keywords and filtered status ids (`(id, status_id)`).
#[derive(Debug, Clone, PartialEq)]
pub struct FullFilter {
    /// The filter.
    pub filter: Filter,
    /// Its keywords.
    pub keywords: Vec<Keyword>,
    /// Its filtered statuses: `(entry id, status id)`.
    pub statuses: Vec<(i64, i64)>,
}

/// Creates a filter with its keywords (`(keyword, whole_word)`).
pub fn create(
    conn: &mut DbConnection,
    owner_id: i64,
    title: &str,
    contexts: &[String],
    action: &str,
    expires_at: Option<Timestamp>,
    keywords: &[(String, bool)],
) -> StorageResult<FullFilter> {
    crate::transaction(conn, |conn| {
        let filter = Filter {
            id: Id::generate().0,
            owner_id,
            title: title.to_owned(),
            contexts: contexts.join(","),
            action: action.to_owned(),
            expires_at,
            created_at: now(),
        };
        diesel::insert_into(filters::table).values(&filter).execute(conn)?;
        for (keyword, whole_word) in keywords {
            add_keyword(conn, filter.id, keyword, *whole_word)?;
        }
        load(conn, filter)
    })
}

fn load(conn: &mut DbConnection, filter: Filter) -> StorageResult<FullFilter> {
    let keywords = filter_keywords::table
        .filter(filter_keywords::filter_id.eq(filter.id))
        .order(filter_keywords::id.asc())
        .select(Keyword::as_select())
        .load(conn)?;
    let statuses = filter_statuses::table
        .filter(filter_statuses::filter_id.eq(filter.id))
        .order(filter_statuses::id.asc())
        .select((filter_statuses::id, filter_statuses::status_id))
        .load(conn)?;
    Ok(FullFilter { filter, keywords, statuses })
}

/// The filter with this id when `owner_id` owns it.
pub fn get(conn: &mut DbConnection, owner_id: i64, id: i64) -> StorageResult<FullFilter> {
    let filter: Filter = filters::table.find(id).select(Filter::as_select()).first(conn)?;
    if filter.owner_id != owner_id {
        return Err(StorageError::NotFound);
    }
    load(conn, filter)
}

/// A user's filters, oldest first.
pub fn of_owner(conn: &mut DbConnection, owner_id: i64) -> StorageResult<Vec<FullFilter>> {
    let all: Vec<Filter> = filters::table
        .filter(filters::owner_id.eq(owner_id))
        .order(filters::id.asc())
        .select(Filter::as_select())
        .load(conn)?;
    all.into_iter().map(|f| load(conn, f)).collect()
}

/// A user's live filters that apply in `context`.
pub fn active(conn: &mut DbConnection, owner_id: i64, context: &str) -> StorageResult<Vec<FullFilter>> {
    Ok(of_owner(conn, owner_id)?
        .into_iter()
        .filter(|f| f.filter.is_live() && f.filter.context_list().iter().any(|c| c == context))
        .collect())
}

/// Changes title, contexts, action and expiry.
pub fn update(conn: &mut DbConnection, filter: &Filter) -> StorageResult<()> {
    diesel::update(filters::table.find(filter.id))
        .set((
            filters::title.eq(&filter.title),
            filters::contexts.eq(&filter.contexts),
            filters::action.eq(&filter.action),
            filters::expires_at.eq(filter.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes a filter (with its keywords and statuses).
pub fn delete(conn: &mut DbConnection, owner_id: i64, id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        get(conn, owner_id, id)?;
        diesel::delete(filters::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// Adds a keyword.
pub fn add_keyword(
    conn: &mut DbConnection,
    filter_id: i64,
    keyword: &str,
    whole_word: bool,
) -> StorageResult<Keyword> {
    crate::atomic(conn, |conn| {
        let row = Keyword { id: Id::generate().0, filter_id, keyword: keyword.to_owned(), whole_word };
        diesel::insert_into(filter_keywords::table).values(&row).execute(conn)?;
        Ok(row)
    })
}

/// The keyword with this id, with its filter's owner.
pub fn keyword(conn: &mut DbConnection, id: i64) -> StorageResult<(Keyword, i64)> {
    let row: Keyword = filter_keywords::table.find(id).select(Keyword::as_select()).first(conn)?;
    let owner: i64 = filters::table.find(row.filter_id).select(filters::owner_id).first(conn)?;
    Ok((row, owner))
}

/// Changes a keyword.
pub fn update_keyword(conn: &mut DbConnection, row: &Keyword) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::update(filter_keywords::table.find(row.id))
            .set((filter_keywords::keyword.eq(&row.keyword), filter_keywords::whole_word.eq(row.whole_word)))
            .execute(conn)?;
        Ok(())
    })
}

/// Removes a keyword.
pub fn remove_keyword(conn: &mut DbConnection, id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::delete(filter_keywords::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// Adds a status to a filter; returns the entry id.
pub fn add_status(conn: &mut DbConnection, filter_id: i64, status_id: i64) -> StorageResult<i64> {
    crate::atomic(conn, |conn| {
        let id = Id::generate().0;
        diesel::insert_into(filter_statuses::table)
            .values((
                filter_statuses::id.eq(id),
                filter_statuses::filter_id.eq(filter_id),
                filter_statuses::status_id.eq(status_id),
            ))
            .execute(conn)?;
        Ok(id)
    })
}

/// The status entry with this id: `(filter id, status id, owner)`.
pub fn status_entry(conn: &mut DbConnection, id: i64) -> StorageResult<(i64, i64, i64)> {
    let (filter_id, status_id): (i64, i64) = filter_statuses::table
        .find(id)
        .select((filter_statuses::filter_id, filter_statuses::status_id))
        .first(conn)?;
    let owner: i64 = filters::table.find(filter_id).select(filters::owner_id).first(conn)?;
    Ok((filter_id, status_id, owner))
}

/// Removes a status entry.
pub fn remove_status(conn: &mut DbConnection, id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::delete(filter_statuses::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// The keywords of `filter` that `text` (plain text, any case) matches.
pub fn matching_keywords(filter: &FullFilter, text: &str) -> Vec<String> {
    let haystack = text.to_lowercase();
    filter
        .keywords
        .iter()
        .filter(|k| {
            let needle = k.keyword.to_lowercase();
            if needle.is_empty() {
                return false;
            }
            if !k.whole_word {
                return haystack.contains(&needle);
            }
            haystack.match_indices(&needle).any(|(at, _)| {
                let before = haystack[..at].chars().next_back();
                let after = haystack[at + needle.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
            })
        })
        .map(|k| k.keyword.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(keywords: &[(&str, bool)]) -> FullFilter {
        FullFilter {
            filter: Filter {
                id: 1,
                owner_id: 1,
                title: "t".into(),
                contexts: "home".into(),
                action: "warn".into(),
                expires_at: None,
                created_at: now(),
            },
            keywords: keywords
                .iter()
                .enumerate()
                .map(|(i, (k, w))| Keyword {
                    id: i as i64,
                    filter_id: 1,
                    keyword: (*k).into(),
                    whole_word: *w,
                })
                .collect(),
            statuses: vec![],
        }
    }

    #[test]
    fn keywords_match_words_or_parts_without_regard_to_case() {
        let f = filter(&[("cat", true), ("Spoil", false)]);
        assert_eq!(matching_keywords(&f, "My CAT sleeps"), vec!["cat"]);
        assert!(matching_keywords(&f, "concatenate").is_empty(), "whole words only");
        assert_eq!(matching_keywords(&f, "no spoilers please"), vec!["Spoil"]);
        assert!(matching_keywords(&f, "").is_empty());
    }
}

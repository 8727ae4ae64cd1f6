//! Storage errors.

use thiserror::Error;

/// What can go wrong in the storage layer. The HTTP edge maps [`StorageError::NotFound`] to 404
/// and [`StorageError::Conflict`] and [`StorageError::Duplicate`] to 422; everything else is
/// an unexpected 500.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A rule of ours was broken; the message, written by us, is meant for the client.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The database refused a duplicate row. The detail (a constraint name or the database's
    /// own words) is for logs and for code that tells which rule it was, never for a client.
    #[error("already exists")]
    Duplicate(String),
    /// The acting account may not do this (checked where the rule lives in storage, such as
    /// group moderation).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A stored value could not be interpreted (such as an unknown enum name).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The database could not be reached or opened.
    #[error("database connection failed: {0}")]
    Connection(String),
    /// Waiting for a pooled connection (or, on SQLite, for the writer's turn) timed out, or
    /// the pool is closed.
    #[error("database pool: {0}")]
    Pool(String),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for StorageError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => StorageError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                let what = info.constraint_name().map(str::to_owned);
                StorageError::Duplicate(what.unwrap_or_else(|| info.message().to_owned()))
            }
            other => StorageError::Database(other),
        }
    }
}

/// Shorthand for storage results.
pub type StorageResult<T> = Result<T, StorageError>;

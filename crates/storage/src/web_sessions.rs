//! Browser sign-ins. The caller hashes the cookie's token (`guildhall_core::keys::token_hash`);
//! only the hash is stored, so a copy of the database signs no one in.

use chrono::Duration;
use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::web_sessions;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// Sessions one account keeps at most: past it, the least recently used go.
pub const MAX_PER_USER: i64 = 50;
/// How long a session without "remember me" lives while unused.
pub const SHORT_LIFE: Duration = Duration::hours(12);
/// How long a remembered session lives while unused.
pub const LONG_LIFE: Duration = Duration::days(30);
/// The longest any session lives, however often it is used: then its owner signs in again.
pub const MAX_LIFE: Duration = Duration::days(90);
/// A session's use is written back at most this often (a page view is not a write).
const TOUCH_EVERY: Duration = Duration::minutes(5);

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = web_sessions)]
pub struct Session {
    /// Our id (shown in the session list, used to revoke).
    pub id: i64,
    /// Whose.
    pub user_id: i64,
    /// SHA-256 of the cookie's token.
    pub token_hash: String,
    /// The browser's `User-Agent` when it signed in (at most 200 characters).
    pub user_agent: String,
    /// The address it signed in from.
    pub ip: String,
    /// "Remember me" was ticked.
    pub remember: bool,
    /// When it signed in.
    pub created_at: Timestamp,
    /// Last request (to within five minutes).
    pub last_used_at: Timestamp,
    /// When it ends unless used again.
    pub expires_at: Timestamp,
}

impl Session {
    /// How long it lives unused.
    pub fn life(&self) -> Duration {
        if self.remember { LONG_LIFE } else { SHORT_LIFE }
    }
}

/// What a new session records.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// SHA-256 of the cookie's token.
    pub token_hash: &'a str,
    /// Whose.
    pub user_id: i64,
    /// The browser.
    pub user_agent: &'a str,
    /// The address.
    pub ip: &'a str,
    /// "Remember me".
    pub remember: bool,
}

/// Starts a session; the owner's oldest sessions beyond [`MAX_PER_USER`] end.
pub fn create(conn: &mut DbConnection, new: &NewSession<'_>) -> StorageResult<Session> {
    let at = now();
    let mut row = Session {
        id: Id::generate().0,
        user_id: new.user_id,
        token_hash: new.token_hash.to_owned(),
        user_agent: new.user_agent.chars().take(200).collect(),
        ip: new.ip.chars().take(64).collect(),
        remember: new.remember,
        created_at: at,
        last_used_at: at,
        expires_at: at,
    };
    row.expires_at = at + row.life();
    crate::transaction(conn, |c| {
        // The owner's ended sessions go as a new one starts (no sweeper needed).
        diesel::delete(
            web_sessions::table
                .filter(web_sessions::user_id.eq(new.user_id))
                .filter(web_sessions::expires_at.le(at).or(web_sessions::created_at.le(at - MAX_LIFE))),
        )
        .execute(c)?;
        diesel::insert_into(web_sessions::table).values(&row).execute(c)?;
        let keep: Vec<i64> = web_sessions::table
            .filter(web_sessions::user_id.eq(new.user_id))
            .order((web_sessions::last_used_at.desc(), web_sessions::id.desc()))
            .limit(MAX_PER_USER)
            .select(web_sessions::id)
            .load(c)?;
        diesel::delete(
            web_sessions::table
                .filter(web_sessions::user_id.eq(new.user_id))
                .filter(web_sessions::id.ne_all(keep)),
        )
        .execute(c)?;
        Ok(row)
    })
}

/// The live session with this token hash; its use is recorded (at most every five minutes),
/// which also pushes its end forward.
pub fn find_live(conn: &mut DbConnection, token_hash: &str) -> StorageResult<Option<Session>> {
    let at = now();
    let found = web_sessions::table
        .filter(web_sessions::token_hash.eq(token_hash))
        .filter(web_sessions::expires_at.gt(at))
        .filter(web_sessions::created_at.gt(at - MAX_LIFE))
        .select(Session::as_select())
        .first(conn)
        .optional()?;
    let Some(mut session) = found else { return Ok(None) };
    if at - session.last_used_at >= TOUCH_EVERY {
        session.last_used_at = at;
        session.expires_at = at + session.life();
        let touch = diesel::update(web_sessions::table.find(session.id)).set((
            web_sessions::last_used_at.eq(session.last_used_at),
            web_sessions::expires_at.eq(session.expires_at),
        ));
        crate::write(conn, |conn| Ok(touch.execute(conn)?))?;
    }
    Ok(Some(session))
}

/// The owner's live sessions, most recently used first.
pub fn list(conn: &mut DbConnection, user_id: i64) -> StorageResult<Vec<Session>> {
    let at = now();
    Ok(web_sessions::table
        .filter(web_sessions::user_id.eq(user_id))
        .filter(web_sessions::expires_at.gt(at))
        .filter(web_sessions::created_at.gt(at - MAX_LIFE))
        .order((web_sessions::last_used_at.desc(), web_sessions::id.desc()))
        .select(Session::as_select())
        .load(conn)?)
}

/// Ends one of the owner's sessions; false when it is not theirs or already over.
pub fn revoke(conn: &mut DbConnection, user_id: i64, id: i64) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        let n = diesel::delete(
            web_sessions::table.filter(web_sessions::id.eq(id)).filter(web_sessions::user_id.eq(user_id)),
        )
        .execute(conn)?;
        Ok(n > 0)
    })
}

/// Ends the session with this token hash (sign-out).
pub fn revoke_by_hash(conn: &mut DbConnection, token_hash: &str) -> StorageResult<()> {
    diesel::delete(web_sessions::table.filter(web_sessions::token_hash.eq(token_hash))).execute(conn)?;
    Ok(())
}

/// Ends every session of `user_id` but `except` (a password change, a suspension).
pub fn revoke_all(conn: &mut DbConnection, user_id: i64, except: Option<i64>) -> StorageResult<usize> {
    let mine = web_sessions::table.filter(web_sessions::user_id.eq(user_id));
    Ok(match except {
        Some(keep) => diesel::delete(mine.filter(web_sessions::id.ne(keep))).execute(conn)?,
        None => diesel::delete(mine).execute(conn)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts;
    use crate::testing::{each_backend, rows};

    fn user(c: &mut DbConnection, name: &str) -> StorageResult<i64> {
        let new = accounts::NewLocalUser {
            actor: rows::local(name),
            email: format!("{name}@example.test"),
            password_hash: "x".into(),
            role: guildhall_core::model::Role::User,
            private_key_pem: "K".into(),
        };
        Ok(accounts::create(c, new)?.user.id)
    }

    #[tokio::test]
    async fn sessions_are_found_by_hash_listed_bounded_and_revoked() {
        each_backend(|db| async move {
            db.run(|c| {
                let uid = user(c, "ada")?;
                let new = |hash: &'static str| NewSession {
                    token_hash: hash,
                    user_id: uid,
                    user_agent: "Firefox",
                    ip: "127.0.0.1",
                    remember: false,
                };
                let first = create(c, &new("h1"))?;
                assert_eq!(find_live(c, "h1")?.map(|s| s.id), Some(first.id));
                assert!(find_live(c, "nope")?.is_none());
                let second = create(c, &new("h2"))?;
                assert_eq!(list(c, uid)?.len(), 2);
                assert!(!revoke(c, uid + 1, second.id)?, "not someone else's");
                assert!(revoke(c, uid, second.id)?);
                assert!(find_live(c, "h2")?.is_none());
                for i in 0..(MAX_PER_USER + 5) {
                    let hash: &'static str = Box::leak(format!("bulk{i}").into_boxed_str());
                    create(c, &new(hash))?;
                }
                assert_eq!(list(c, uid)?.len() as i64, MAX_PER_USER, "bounded per user");
                assert_eq!(revoke_all(c, uid, None)?, MAX_PER_USER as usize);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

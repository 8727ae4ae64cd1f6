//! Local user accounts: an actor, a login (e-mail, password hash, role) and a key pair.

use diesel::prelude::*;
use guildhall_core::Id;
use guildhall_core::model::Role;

use crate::actors::{self, Actor};
use crate::schema::{actors as actors_t, users};
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now, parse_text};

/// A local user's login record.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    /// Our id for the login.
    pub id: i64,
    /// The user's actor.
    pub actor_id: i64,
    /// Lower-cased e-mail address.
    pub email: String,
    /// Argon2id PHC string. A secret: never log it.
    pub password_hash: String,
    /// [`Role`] spelling; see [`User::role`].
    pub role: String,
    /// Approved by an admin (for approval-mode sign-ups).
    pub approved: bool,
    /// Disabled by an admin: may not sign in.
    pub disabled: bool,
    /// Preferred interface language.
    pub locale: Option<String>,
    /// Last successful sign-in.
    pub last_sign_in_at: Option<Timestamp>,
    /// Row creation.
    pub created_at: Timestamp,
    /// Last row change.
    pub updated_at: Timestamp,
    /// What the person wrote when asking to join (approval-mode sign-ups).
    pub sign_up_reason: Option<String>,
    /// When the address was confirmed; a sign-up waits until it is.
    pub email_confirmed_at: Option<Timestamp>,
}

impl User {
    /// The user's role.
    pub fn role(&self) -> StorageResult<Role> {
        parse_text(&self.role, Role::parse)
    }

    /// Why this user may not sign in or act right now (Mastodon's wording), or `None` when
    /// they may: a sign-up waiting for approval, or a login disabled by an admin.
    pub fn refusal(&self) -> Option<&'static str> {
        if self.disabled {
            Some("Your login is currently disabled")
        } else if self.email_confirmed_at.is_none() {
            Some("Your login is missing a confirmed e-mail address")
        } else if !self.approved {
            Some("Your login is currently pending approval")
        } else {
            None
        }
    }
}

/// A local user with their actor.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalAccount {
    /// The public face: the Person actor.
    pub actor: Actor,
    /// The login.
    pub user: User,
}

/// What is needed to create a local user; hashing and key generation happen before.
#[derive(Debug, Clone)]
pub struct NewLocalUser {
    /// The Person actor row ([`Actor::new_local`]).
    pub actor: Actor,
    /// Lower-cased e-mail address.
    pub email: String,
    /// Argon2id hash of the password.
    pub password_hash: String,
    /// Role on the instance.
    pub role: Role,
    /// Private key PEM matching the actor's public key.
    pub private_key_pem: String,
}

/// How a new login starts out.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// Waits for an admin's approval before it may sign in.
    pub pending: bool,
    /// Preferred interface language.
    pub locale: Option<String>,
    /// Why the person wants to join.
    pub reason: Option<String>,
    /// Waits until the address is confirmed (a sign-up, as on Mastodon); an account an admin
    /// makes is confirmed.
    pub unconfirmed: bool,
}

/// Creates an approved user: the actor, login and key in one transaction. A taken username
/// or e-mail is a [`StorageError::Conflict`] and writes nothing.
pub fn create(conn: &mut DbConnection, new: NewLocalUser) -> StorageResult<LocalAccount> {
    register(conn, new, Registration::default())
}

/// Like [`create`], for a sign-up: possibly pending approval, with its locale and reason.
pub fn register(
    conn: &mut DbConnection,
    new: NewLocalUser,
    registration: Registration,
) -> StorageResult<LocalAccount> {
    crate::transaction(conn, |conn| {
        if email_taken(conn, &new.email)? {
            return Err(StorageError::Conflict(format!("e-mail address '{}' is already in use", new.email)));
        }
        actors::insert_local(conn, &new.actor, &new.private_key_pem)?;
        let created = new.actor.created_at;
        let user = User {
            id: Id::generate().0,
            actor_id: new.actor.id,
            email: new.email,
            password_hash: new.password_hash,
            role: new.role.as_str().to_owned(),
            approved: !registration.pending,
            disabled: false,
            locale: registration.locale,
            last_sign_in_at: None,
            created_at: created,
            updated_at: created,
            sign_up_reason: registration.reason,
            email_confirmed_at: (!registration.unconfirmed).then_some(created),
        };
        diesel::insert_into(users::table).values(&user).execute(conn)?;
        if user.email_confirmed_at.is_none() {
            crate::mail::enqueue_account_mail(
                conn,
                &crate::mail::AccountMail::ConfirmAddress { user_id: user.id },
            )?;
        }
        Ok(LocalAccount { actor: new.actor, user })
    })
}

fn email_taken(conn: &mut DbConnection, email: &str) -> StorageResult<bool> {
    let found =
        users::table.filter(users::email.eq(email)).select(users::id).first::<i64>(conn).optional()?;
    Ok(found.is_some())
}

/// True when a local user has this (lower-cased) e-mail address.
pub fn email_in_use(conn: &mut DbConnection, email: &str) -> StorageResult<bool> {
    email_taken(conn, email)
}

/// Approves a pending user (and mails them so); false when they were approved already.
pub fn approve(conn: &mut DbConnection, user_id: i64) -> StorageResult<bool> {
    crate::transaction(conn, |conn| {
        let changed = diesel::update(users::table.find(user_id).filter(users::approved.eq(false)))
            .set((users::approved.eq(true), users::updated_at.eq(now())))
            .execute(conn)?;
        if changed == 1 {
            crate::mail::enqueue_account_mail(conn, &crate::mail::AccountMail::Approved { user_id })?;
        }
        Ok(changed == 1)
    })
}

/// Deletes a user who is still pending approval (a rejected sign-up), with their actor, key
/// and tokens, so the name and address are free again. False when the user is approved
/// (they are never deleted here) or gone.
pub fn delete_pending(conn: &mut DbConnection, user_id: i64) -> StorageResult<bool> {
    crate::transaction(conn, |conn| {
        let found = users::table
            .find(user_id)
            .filter(users::approved.eq(false))
            .inner_join(actors_t::table.on(actors_t::id.eq(users::actor_id)))
            .select((users::actor_id, users::email, actors_t::username, users::email_confirmed_at))
            .first::<(i64, String, String, Option<Timestamp>)>(conn)
            .optional()?;
        let Some((actor_id, email, username, confirmed)) = found else { return Ok(false) };
        if confirmed.is_some() {
            // An unconfirmed address may not be the asker's: it is never written to.
            crate::mail::enqueue_account_mail(conn, &crate::mail::AccountMail::Rejected { email, username })?;
        }
        // The login, key and tokens go with the actor (ON DELETE CASCADE).
        diesel::delete(actors_t::table.find(actor_id)).execute(conn)?;
        Ok(true)
    })
}

/// Which local users [`list`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountFilter {
    /// Waiting for approval.
    Pending,
    /// Approved and not disabled.
    Active,
    /// Disabled by an admin.
    Disabled,
    /// Everyone.
    All,
}

/// Live local users matching `filter`, newest first, at most `limit`.
pub fn list(conn: &mut DbConnection, filter: AccountFilter, limit: i64) -> StorageResult<Vec<LocalAccount>> {
    let mut query = live_accounts();
    query = match filter {
        AccountFilter::Pending => query.filter(users::approved.eq(false)),
        AccountFilter::Active => query.filter(users::approved.eq(true)).filter(users::disabled.eq(false)),
        AccountFilter::Disabled => query.filter(users::disabled.eq(true)),
        AccountFilter::All => query,
    };
    let rows = query.order(users::id.desc()).limit(limit).load::<(Actor, User)>(conn)?;
    Ok(rows.into_iter().map(|(actor, user)| LocalAccount { actor, user }).collect())
}

/// The live local user with this username (any case).
pub fn find_by_username(conn: &mut DbConnection, username: &str) -> StorageResult<Option<LocalAccount>> {
    let key = username.to_lowercase();
    first(conn, live_accounts().filter(actors_t::username_key.eq(key)))
}

/// The live local user with this login id.
pub fn find_by_user_id(conn: &mut DbConnection, user_id: i64) -> StorageResult<Option<LocalAccount>> {
    first(conn, live_accounts().filter(users::id.eq(user_id)))
}

/// The live local user whose actor is `actor_id`.
pub fn find_by_actor_id(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Option<LocalAccount>> {
    first(conn, live_accounts().filter(users::actor_id.eq(actor_id)))
}

/// The live local user whose username or e-mail is `login` (any case), for sign-in.
pub fn find_by_login(conn: &mut DbConnection, login: &str) -> StorageResult<Option<LocalAccount>> {
    let login = login.trim().to_lowercase();
    if login.contains('@') {
        first(conn, live_accounts().filter(users::email.eq(login)))
    } else {
        find_by_username(conn, &login)
    }
}

type AccountQuery = diesel::helper_types::IntoBoxed<
    'static,
    diesel::dsl::Filter<
        diesel::dsl::Select<
            diesel::dsl::InnerJoin<users::table, actors_t::table>,
            (
                diesel::dsl::AsSelect<Actor, crate::MultiBackend>,
                diesel::dsl::AsSelect<User, crate::MultiBackend>,
            ),
        >,
        diesel::dsl::IsNull<actors_t::deleted_at>,
    >,
    crate::MultiBackend,
>;

fn live_accounts() -> AccountQuery {
    users::table
        .inner_join(actors_t::table)
        .select((Actor::as_select(), User::as_select()))
        .filter(actors_t::deleted_at.is_null())
        .into_boxed()
}

fn first(conn: &mut DbConnection, query: AccountQuery) -> StorageResult<Option<LocalAccount>> {
    let row = query.first::<(Actor, User)>(conn).optional()?;
    Ok(row.map(|(actor, user)| LocalAccount { actor, user }))
}

/// Replaces the password hash of the local user `username`.
pub fn set_password(conn: &mut DbConnection, username: &str, password_hash: &str) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        let account = find_by_username(conn, username)?.ok_or(StorageError::NotFound)?;
        diesel::update(users::table.find(account.user.id))
            .set((users::password_hash.eq(password_hash), users::updated_at.eq(now())))
            .execute(conn)?;
        // Whoever knew the old password keeps no app or browser signed in.
        crate::oauth::revoke_all_of_user(conn, account.user.id)?;
        crate::web_sessions::revoke_all(conn, account.user.id, None)?;
        Ok(())
    })
}

/// Lets a disabled user sign in again; true when it was disabled.
pub fn enable(conn: &mut DbConnection, user_id: i64) -> StorageResult<bool> {
    // A closed account (its actor deleted) stays closed.
    if find_by_user_id(conn, user_id)?.is_none() {
        return Ok(false);
    }
    let n = diesel::update(users::table.find(user_id).filter(users::disabled.eq(true)))
        .set((users::disabled.eq(false), users::updated_at.eq(now())))
        .execute(conn)?;
    Ok(n > 0)
}

/// Disables a user's sign-in (a closed account); true when it was enabled.
pub fn disable(conn: &mut DbConnection, user_id: i64) -> StorageResult<bool> {
    let n = diesel::update(users::table.find(user_id).filter(users::disabled.eq(false)))
        .set((users::disabled.eq(true), users::updated_at.eq(now())))
        .execute(conn)?;
    Ok(n > 0)
}

/// Records a successful sign-in.
pub fn touch_sign_in(conn: &mut DbConnection, user_id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set(users::last_sign_in_at.eq(Some(now())))
            .execute(conn)?;
        Ok(())
    })
}

/// Number of live local users who signed in or posted since `since` (NodeInfo's active users).
pub fn count_active(conn: &mut DbConnection, since: Timestamp) -> StorageResult<i64> {
    use crate::schema::statuses;
    let posted = statuses::table
        .filter(statuses::local.eq(true))
        .filter(statuses::created_at.ge(since))
        .select(statuses::actor_id)
        .distinct();
    Ok(users::table
        .inner_join(actors_t::table)
        .filter(actors_t::deleted_at.is_null())
        .filter(users::last_sign_in_at.ge(since).or(users::actor_id.eq_any(posted)))
        .count()
        .get_result(conn)?)
}

/// Number of local users whose actor is live (for NodeInfo).
pub fn count(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(users::table
        .inner_join(actors_t::table)
        .filter(actors_t::deleted_at.is_null())
        .count()
        .get_result(conn)?)
}

/// What a user's new posts default to (Mastodon's `source[privacy]`, `source[sensitive]`,
/// `source[language]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingDefaults {
    /// Visibility of new posts.
    pub visibility: guildhall_core::model::Visibility,
    /// Media marked sensitive.
    pub sensitive: bool,
    /// Language of new posts (ISO 639), if chosen.
    pub language: Option<String>,
}

/// The posting defaults of the user whose actor is `actor_id`.
pub fn posting_defaults(conn: &mut DbConnection, actor_id: i64) -> StorageResult<PostingDefaults> {
    let (visibility, sensitive, language): (String, bool, Option<String>) = users::table
        .filter(users::actor_id.eq(actor_id))
        .select((users::default_visibility, users::default_sensitive, users::default_language))
        .first(conn)?;
    Ok(PostingDefaults {
        visibility: parse_text(&visibility, guildhall_core::model::Visibility::parse)?,
        sensitive,
        language,
    })
}

/// Replaces the posting defaults of the user whose actor is `actor_id`.
pub fn set_posting_defaults(
    conn: &mut DbConnection,
    actor_id: i64,
    defaults: &PostingDefaults,
) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::update(users::table.filter(users::actor_id.eq(actor_id)))
            .set((
                users::default_visibility.eq(defaults.visibility.as_str()),
                users::default_sensitive.eq(defaults.sensitive),
                users::default_language.eq(&defaults.language),
                users::updated_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows};

    fn new_user(name: &str, email: &str) -> NewLocalUser {
        NewLocalUser {
            actor: rows::local(name),
            email: email.into(),
            password_hash: "$argon2id$fake".into(),
            role: Role::User,
            private_key_pem: "PRIVATE".into(),
        }
    }

    #[tokio::test]
    async fn create_then_find_by_username_or_email() {
        each_backend(|db| async move {
            db.run(|c| {
                let created = create(c, new_user("Ada", "ada@museum.example"))?;
                let by_name = find_by_login(c, "ADA")?.unwrap();
                let by_mail = find_by_login(c, " Ada@Museum.Example")?.unwrap();
                assert_eq!(by_name, created);
                assert_eq!(by_mail, created);
                assert_eq!(created.user.role()?, Role::User);
                assert!(find_by_login(c, "nobody")?.is_none());
                assert_eq!(count(c)?, 1);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn duplicates_are_conflicts_and_write_nothing() {
        each_backend(|db| async move {
            db.run(|c| {
                create(c, new_user("ada", "ada@museum.example"))?;
                let dup_name = create(c, new_user("ADA", "other@museum.example")).unwrap_err();
                assert!(
                    matches!(dup_name, StorageError::Conflict(ref m) if m.contains("username")),
                    "{dup_name}"
                );
                let dup_mail = create(c, new_user("grace", "ada@museum.example")).unwrap_err();
                assert!(
                    matches!(dup_mail, StorageError::Conflict(ref m) if m.contains("e-mail")),
                    "{dup_mail}"
                );
                assert!(find_by_username(c, "grace")?.is_none(), "nothing written for grace");
                assert!(!actors::local_username_taken(c, "grace")?);
                assert_eq!(count(c)?, 1);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn sign_ups_wait_for_approval_or_are_deleted() {
        each_backend(|db| async move {
            db.run(|c| {
                let pending = Registration {
                    pending: true,
                    locale: Some("fr".into()),
                    reason: Some("I curate".into()),
                    unconfirmed: false,
                };
                let ada = register(c, new_user("ada", "ada@museum.example"), pending.clone())?;
                let grace = register(c, new_user("grace", "grace@museum.example"), pending)?;
                let cy = create(c, new_user("cy", "cy@museum.example"))?;
                assert!(!ada.user.approved && cy.user.approved);
                let stored = find_by_username(c, "ada")?.unwrap();
                assert_eq!(stored.user.locale.as_deref(), Some("fr"));
                assert_eq!(stored.user.sign_up_reason.as_deref(), Some("I curate"));
                let names =
                    |list: Vec<LocalAccount>| list.into_iter().map(|a| a.actor.username).collect::<Vec<_>>();
                assert_eq!(names(list(c, AccountFilter::Pending, 10)?), ["grace", "ada"]);
                assert_eq!(names(list(c, AccountFilter::Active, 10)?), ["cy"]);
                assert!(approve(c, ada.user.id)?);
                assert!(!approve(c, ada.user.id)?, "approving twice changes nothing");
                assert!(find_by_username(c, "ada")?.unwrap().user.approved);
                assert!(!delete_pending(c, ada.user.id)?, "approved users are never deleted here");
                assert!(delete_pending(c, grace.user.id)?);
                assert!(find_by_username(c, "grace")?.is_none());
                assert!(!email_in_use(c, "grace@museum.example")? && email_in_use(c, "cy@museum.example")?);
                assert!(!actors::local_username_taken(c, "grace")?, "the name is free again");
                assert_eq!(list(c, AccountFilter::All, 10)?.len(), 2);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn set_password_and_sign_in() {
        each_backend(|db| async move {
            db.run(|c| {
                let account = create(c, new_user("ada", "ada@museum.example"))?;
                set_password(c, "Ada", "$argon2id$new")?;
                assert_eq!(count_active(c, now() - chrono::Duration::days(30))?, 0);
                touch_sign_in(c, account.user.id)?;
                assert_eq!(count_active(c, now() - chrono::Duration::days(30))?, 1);
                assert_eq!(count_active(c, now() + chrono::Duration::days(1))?, 0);
                let after = find_by_username(c, "ada")?.unwrap();
                assert_eq!(after.user.password_hash, "$argon2id$new");
                assert!(after.user.last_sign_in_at.is_some());
                assert!(matches!(set_password(c, "nobody", "x"), Err(StorageError::NotFound)));
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

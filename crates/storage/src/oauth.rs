//! OAuth 2: registered apps, access tokens and authorization codes. Tokens and codes are kept
//! only as hashes (the caller hashes; see `guildhall_core::keys::token_hash`).

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::{oauth_apps, oauth_codes, oauth_tokens};
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now};

/// A registered client application.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_apps)]
pub struct App {
    /// Our id.
    pub id: i64,
    /// Shown on the consent page.
    pub name: String,
    /// The app's homepage.
    pub website: Option<String>,
    /// Allowed redirect URIs, one per line.
    pub redirect_uris: String,
    /// Scopes the app may ask for, space-separated.
    pub scopes: String,
    /// Public identifier.
    pub client_id: String,
    /// Secret. Shown to the app once, at registration.
    pub client_secret: String,
    /// When registered.
    pub created_at: Timestamp,
}

impl App {
    /// The allowed redirect URIs.
    pub fn redirect_uri_list(&self) -> Vec<&str> {
        self.redirect_uris.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
    }
}

/// An access token (its hash).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_tokens)]
pub struct Token {
    /// Our id.
    pub id: i64,
    /// SHA-256 of the token.
    pub token_hash: String,
    /// The app it was issued to.
    pub app_id: i64,
    /// The user it acts for (none for client credentials).
    pub user_id: Option<i64>,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// When issued.
    pub created_at: Timestamp,
    /// Last use.
    pub last_used_at: Option<Timestamp>,
    /// When revoked.
    pub revoked_at: Option<Timestamp>,
}

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_codes)]
pub struct Code {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The app.
    pub app_id: i64,
    /// The user who consented.
    pub user_id: i64,
    /// The redirect URI it was issued for (must match at exchange).
    pub redirect_uri: String,
    /// Granted scopes.
    pub scopes: String,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method (`S256`).
    pub code_challenge_method: Option<String>,
    /// Codes are short-lived.
    pub expires_at: Timestamp,
    /// Codes are single-use.
    pub used_at: Option<Timestamp>,
}

/// Registers an app.
pub fn create_app(conn: &mut DbConnection, app: &App) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::insert_into(oauth_apps::table).values(app).execute(conn)?;
        Ok(())
    })
}

/// The app with this client id.
pub fn find_app(conn: &mut DbConnection, client_id: &str) -> StorageResult<Option<App>> {
    Ok(oauth_apps::table
        .filter(oauth_apps::client_id.eq(client_id))
        .select(App::as_select())
        .first(conn)
        .optional()?)
}

/// The app with this id.
pub fn get_app(conn: &mut DbConnection, id: i64) -> StorageResult<App> {
    Ok(oauth_apps::table.find(id).select(App::as_select()).first(conn)?)
}

/// An app a user has let act for them: its live tokens and when one was last used.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorized {
    /// The app.
    pub app: App,
    /// Scopes of its newest live token.
    pub scopes: String,
    /// When the user first authorized it (its oldest live token).
    pub since: Timestamp,
    /// Last use of any of its tokens.
    pub last_used_at: Option<Timestamp>,
}

/// The apps holding live tokens of `user_id`, most recently authorized first.
pub fn authorized_apps(conn: &mut DbConnection, user_id: i64) -> StorageResult<Vec<Authorized>> {
    let tokens: Vec<Token> = oauth_tokens::table
        .filter(oauth_tokens::user_id.eq(user_id))
        .filter(oauth_tokens::revoked_at.is_null())
        .order(oauth_tokens::id.desc())
        .limit(1000)
        .select(Token::as_select())
        .load(conn)?;
    let mut out: Vec<Authorized> = Vec::new();
    for t in tokens {
        match out.iter_mut().find(|a| a.app.id == t.app_id) {
            Some(a) => {
                a.since = a.since.min(t.created_at);
                a.last_used_at = a.last_used_at.max(t.last_used_at);
            }
            None => out.push(Authorized {
                app: get_app(conn, t.app_id)?,
                scopes: t.scopes.clone(),
                since: t.created_at,
                last_used_at: t.last_used_at,
            }),
        }
    }
    Ok(out)
}

/// Revokes every token `app_id` holds for `user_id`; the count revoked.
pub fn revoke_app_for_user(conn: &mut DbConnection, user_id: i64, app_id: i64) -> StorageResult<usize> {
    crate::atomic(conn, |conn| {
        Ok(diesel::update(
            oauth_tokens::table
                .filter(oauth_tokens::user_id.eq(user_id))
                .filter(oauth_tokens::app_id.eq(app_id))
                .filter(oauth_tokens::revoked_at.is_null()),
        )
        .set(oauth_tokens::revoked_at.eq(Some(now())))
        .execute(conn)?)
    })
}

/// Stores a new token (its hash).
pub fn create_token(
    conn: &mut DbConnection,
    token_hash: &str,
    app_id: i64,
    user_id: Option<i64>,
    scopes: &str,
) -> StorageResult<Token> {
    crate::atomic(conn, |conn| {
        let row = Token {
            id: Id::generate().0,
            token_hash: token_hash.to_owned(),
            app_id,
            user_id,
            scopes: scopes.to_owned(),
            created_at: now(),
            last_used_at: None,
            revoked_at: None,
        };
        diesel::insert_into(oauth_tokens::table).values(&row).execute(conn)?;
        Ok(row)
    })
}

/// The live (not revoked) token with this hash.
pub fn find_token(conn: &mut DbConnection, token_hash: &str) -> StorageResult<Option<Token>> {
    Ok(oauth_tokens::table
        .filter(oauth_tokens::token_hash.eq(token_hash))
        .filter(oauth_tokens::revoked_at.is_null())
        .select(Token::as_select())
        .first(conn)
        .optional()?)
}

/// Revokes a token of `app_id`; returns whether one was revoked.
pub fn revoke_token(conn: &mut DbConnection, token_hash: &str, app_id: i64) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        let n = diesel::update(
            oauth_tokens::table
                .filter(oauth_tokens::token_hash.eq(token_hash))
                .filter(oauth_tokens::app_id.eq(app_id)),
        )
        .set(oauth_tokens::revoked_at.eq(Some(now())))
        .execute(conn)?;
        Ok(n > 0)
    })
}

/// Replaces every client secret still stored as itself (rows from before secrets were
/// hashed) with its hash; returns how many. Run at start-up, after the migrations.
pub fn hash_plain_secrets(conn: &mut DbConnection) -> StorageResult<usize> {
    use guildhall_core::keys::{HASHED_SECRET_PREFIX, secret_hash};
    let plain: Vec<(i64, String)> = oauth_apps::table
        .filter(oauth_apps::client_secret.not_like(format!("{HASHED_SECRET_PREFIX}%")))
        .select((oauth_apps::id, oauth_apps::client_secret))
        .load(conn)?;
    for (id, secret) in &plain {
        diesel::update(oauth_apps::table.find(id))
            .set(oauth_apps::client_secret.eq(secret_hash(secret)))
            .execute(conn)?;
    }
    Ok(plain.len())
}

/// Revokes every token of `user_id` and voids their unused codes (a new password signs every
/// app out); returns how many tokens.
pub fn revoke_all_of_user(conn: &mut DbConnection, user_id: i64) -> StorageResult<usize> {
    let n = diesel::update(
        oauth_tokens::table
            .filter(oauth_tokens::user_id.eq(user_id))
            .filter(oauth_tokens::revoked_at.is_null()),
    )
    .set(oauth_tokens::revoked_at.eq(Some(now())))
    .execute(conn)?;
    diesel::update(
        oauth_codes::table.filter(oauth_codes::user_id.eq(user_id)).filter(oauth_codes::used_at.is_null()),
    )
    .set(oauth_codes::used_at.eq(Some(now())))
    .execute(conn)?;
    Ok(n)
}

/// Stores an authorization code.
pub fn create_code(conn: &mut DbConnection, code: &Code) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::insert_into(oauth_codes::table).values(code).execute(conn)?;
        Ok(())
    })
}

/// Takes a code for exchange: it must exist, be unused and unexpired; it is then used up.
pub fn take_code(conn: &mut DbConnection, code_hash: &str) -> StorageResult<Code> {
    crate::transaction(conn, |conn| {
        let code: Code = oauth_codes::table.find(code_hash).select(Code::as_select()).first(conn)?;
        if code.used_at.is_some() || code.expires_at < now() {
            return Err(StorageError::NotFound);
        }
        diesel::update(oauth_codes::table.find(code_hash))
            .set(oauth_codes::used_at.eq(Some(now())))
            .execute(conn)?;
        Ok(code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows};
    use crate::{accounts, actors};

    fn app() -> App {
        App {
            id: Id::generate().0,
            name: "Tusky".into(),
            website: None,
            redirect_uris: "urn:ietf:wg:oauth:2.0:oob\ncom.keylesspalace.tusky://oauth".into(),
            scopes: "read write follow".into(),
            client_id: format!("cid{}", Id::generate().0),
            client_secret: "secret".into(),
            created_at: now(),
        }
    }

    #[tokio::test]
    async fn apps_tokens_and_single_use_codes() {
        each_backend(|db| async move {
            db.run(|c| {
                let app = app();
                create_app(c, &app)?;
                assert_eq!(find_app(c, &app.client_id)?.map(|a| a.id), Some(app.id));
                assert_eq!(
                    app.redirect_uri_list(),
                    vec!["urn:ietf:wg:oauth:2.0:oob", "com.keylesspalace.tusky://oauth"]
                );
                let ada = rows::local("ada");
                let account = accounts::create(
                    c,
                    accounts::NewLocalUser {
                        actor: ada,
                        email: "ada@m.example".into(),
                        password_hash: "x".into(),
                        role: guildhall_core::model::Role::User,
                        private_key_pem: "K".into(),
                    },
                )?;
                let token = create_token(c, "hash1", app.id, Some(account.user.id), "read")?;
                assert_eq!(find_token(c, "hash1")?.map(|t| t.id), Some(token.id));
                assert!(!revoke_token(c, "hash1", app.id + 1)?, "only the issuing app revokes");
                assert!(revoke_token(c, "hash1", app.id)?);
                assert!(find_token(c, "hash1")?.is_none());
                let code = Code {
                    code_hash: "c1".into(),
                    app_id: app.id,
                    user_id: account.user.id,
                    redirect_uri: "urn:ietf:wg:oauth:2.0:oob".into(),
                    scopes: "read".into(),
                    code_challenge: None,
                    code_challenge_method: None,
                    expires_at: now() + chrono::Duration::minutes(10),
                    used_at: None,
                };
                create_code(c, &code)?;
                assert_eq!(take_code(c, "c1")?.user_id, account.user.id);
                assert!(matches!(take_code(c, "c1"), Err(StorageError::NotFound)), "single use");
                let expired =
                    Code { code_hash: "c2".into(), expires_at: now() - chrono::Duration::seconds(1), ..code };
                create_code(c, &expired)?;
                assert!(matches!(take_code(c, "c2"), Err(StorageError::NotFound)), "expired");
                let _ = actors::count_local(c, guildhall_core::model::ActorKind::Person)?;
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

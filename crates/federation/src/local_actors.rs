//! Creating local actors: people, groups and the instance actor, each with a fresh key pair.
//!
//! One door for the CLI (`guildhall admin …`) and, later, the client API's sign-up and group
//! creation, so the rules (valid, unique names; password policy; keys) hold everywhere.

use guildhall_core::model::{ActorKind, GroupVisibility, Membership, PostingPolicy, Role};
use guildhall_core::{Email, Username, keys, password};
use guildhall_storage::accounts::{self, LocalAccount, NewLocalUser, Registration};
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::groups::{self, Group, NewLocalGroup};
use guildhall_storage::{Db, StorageError};
use thiserror::Error;

use crate::Urls;

/// Why a local actor could not be created or changed.
#[derive(Debug, Error)]
pub enum LocalActorError {
    /// The username is not valid.
    #[error(transparent)]
    Username(#[from] guildhall_core::username::UsernameError),
    /// The e-mail address is not valid.
    #[error(transparent)]
    Email(#[from] guildhall_core::email::EmailError),
    /// The password breaks the password rules.
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    /// The name or e-mail address is already in use.
    #[error("{0}")]
    Taken(String),
    /// No local user has that name.
    #[error("no local user named '{0}'")]
    NoSuchUser(String),
    /// Key generation failed.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// The database failed.
    #[error(transparent)]
    Storage(StorageError),
}

impl LocalActorError {
    /// True when the caller's input was at fault (as opposed to the server).
    pub fn is_invalid_input(&self) -> bool {
        !matches!(self, LocalActorError::Keys(_) | LocalActorError::Storage(_))
    }
}

impl From<StorageError> for LocalActorError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(what) | StorageError::Duplicate(what) => LocalActorError::Taken(what),
            other => LocalActorError::Storage(other),
        }
    }
}

/// A request to create a local person.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Wanted username.
    pub username: &'a str,
    /// E-mail address.
    pub email: &'a str,
    /// Password in clear; only its hash is stored.
    pub password: &'a str,
    /// Role on the instance.
    pub role: Role,
}

/// Validates, hashes, generates keys and stores a new local person. Nothing is written when
/// any check fails.
pub async fn create_user(db: &Db, urls: &Urls, new: NewUser<'_>) -> Result<LocalAccount, LocalActorError> {
    register_user(db, urls, new, Registration::default()).await
}

/// Like [`create_user`], for a sign-up: the account may wait for approval, and keeps the
/// locale and the reason given.
pub async fn register_user(
    db: &Db,
    urls: &Urls,
    new: NewUser<'_>,
    registration: Registration,
) -> Result<LocalAccount, LocalActorError> {
    let username = Username::parse(new.username)?;
    let email = Email::parse(new.email)?;
    let password = new.password.to_owned();
    let (hash, keys) =
        tokio_blocking(move || Ok::<_, LocalActorError>((password::hash(&password)?, keys::generate()?)))
            .await?;
    let actor = Actor::new_local(
        ActorKind::Person,
        username.as_str(),
        urls.actor(ActorKind::Person, username.as_str()),
        keys.public_pem,
    );
    let record = NewLocalUser {
        actor,
        email: email.as_str().to_owned(),
        password_hash: hash,
        role: new.role,
        private_key_pem: keys.private_pem,
    };
    Ok(db.run(move |c| accounts::register(c, record, registration)).await?)
}

/// Approves a local user's sign-up; false when they were approved already.
pub async fn approve_user(db: &Db, username: &str) -> Result<bool, LocalActorError> {
    let name = username.to_owned();
    let account = db
        .run(move |c| accounts::find_by_username(c, &name))
        .await?
        .ok_or_else(|| LocalActorError::NoSuchUser(username.to_owned()))?;
    let user_id = account.user.id;
    Ok(db.run(move |c| accounts::approve(c, user_id)).await?)
}

/// Replaces a local user's password.
pub async fn set_password(db: &Db, username: &str, new_password: &str) -> Result<(), LocalActorError> {
    let password = new_password.to_owned();
    let hash = tokio_blocking(move || password::hash(&password).map_err(LocalActorError::from)).await?;
    let name = username.to_owned();
    db.run(move |c| accounts::set_password(c, &name, &hash)).await.map_err(|e| match e {
        StorageError::NotFound => LocalActorError::NoSuchUser(username.to_owned()),
        other => other.into(),
    })
}

/// Closes the account of local user `username` ([`crate::actions::close_account`]): what
/// `guildhall admin delete-user` does. The running server's delivery worker sends the
/// `Delete` to every instance that knew the account.
pub async fn delete_user(db: &Db, urls: &Urls, username: &str) -> Result<(), LocalActorError> {
    let (name, urls) = (username.to_owned(), urls.clone());
    db.run(move |c| {
        let account = accounts::find_by_username(c, &name)?.ok_or(StorageError::NotFound)?;
        crate::actions::close_account(c, &urls, &account.actor)
    })
    .await
    .map_err(|e| match e {
        StorageError::NotFound => LocalActorError::NoSuchUser(username.to_owned()),
        other => other.into(),
    })
}

/// The longest login (username or e-mail address) that can belong to an account.
const MAX_LOGIN_CHARS: usize = 320;

/// Checks a sign-in: the account when `login` (username or e-mail) and `password` match.
pub async fn check_password(
    db: &Db,
    login: &str,
    password: &str,
) -> Result<Option<LocalAccount>, LocalActorError> {
    // No account has a longer login (an e-mail address is at most 254 characters) or a longer
    // password: such a sign-in fails at once, costing neither a query nor a hash.
    if login.chars().count() > MAX_LOGIN_CHARS || password.chars().count() > password::MAX_PASSWORD_LEN {
        return Ok(None);
    }
    let login = login.to_owned();
    let candidate = password.to_owned();
    let Some(account) = db.run(move |c| accounts::find_by_login(c, &login)).await? else {
        // As slow as a wrong password for a real account: timing tells nothing.
        tokio_blocking(move || Ok::<_, LocalActorError>(password::verify_nobody(&candidate))).await?;
        return Ok(None);
    };
    let hash = account.user.password_hash.clone();
    let matches =
        tokio_blocking(move || Ok::<_, LocalActorError>(password::verify(&candidate, &hash))).await?;
    Ok(matches.then_some(account))
}

/// A request to create a local group.
#[derive(Debug, Clone)]
pub struct NewGroup<'a> {
    /// Wanted name (shares the namespace of people).
    pub name: &'a str,
    /// Username of the local person who will own it.
    pub owner: &'a str,
    /// Display name; the name when absent.
    pub display_name: Option<&'a str>,
    /// How accounts join.
    pub membership: Membership,
    /// Who may post.
    pub posting: PostingPolicy,
    /// Who can read.
    pub visibility: GroupVisibility,
}

/// Creates a local group owned by an existing local person (who becomes its first moderator).
pub async fn create_group(
    db: &Db,
    urls: &Urls,
    new: NewGroup<'_>,
) -> Result<(Actor, Group), LocalActorError> {
    let name = Username::parse(new.name)?;
    let owner_name = new.owner.to_owned();
    let owner = db
        .run(move |c| accounts::find_by_username(c, &owner_name))
        .await?
        .ok_or_else(|| LocalActorError::NoSuchUser(new.owner.to_owned()))?;
    let keys = tokio_blocking(|| keys::generate().map_err(LocalActorError::from)).await?;
    let mut actor = Actor::new_local(
        ActorKind::Group,
        name.as_str(),
        urls.actor(ActorKind::Group, name.as_str()),
        keys.public_pem,
    );
    actor.display_name = new.display_name.unwrap_or(name.as_str()).to_owned();
    let record = NewLocalGroup {
        actor,
        owner_id: owner.actor.id,
        membership: new.membership,
        posting: new.posting,
        visibility: new.visibility,
        private_key_pem: keys.private_pem,
    };
    Ok(db.run(move |c| groups::create(c, record)).await?)
}

/// The instance actor, created with its key on first call. Its username is the domain, which
/// no person or group can take (usernames have no dots).
pub async fn ensure_instance_actor(db: &Db, urls: &Urls, domain: &str) -> Result<Actor, LocalActorError> {
    let ap_id = urls.instance_actor();
    let lookup = ap_id.clone();
    if let Some(actor) = db.run(move |c| actors::find_by_ap_id(c, &lookup)).await? {
        return Ok(actor);
    }
    let keys = tokio_blocking(|| keys::generate().map_err(LocalActorError::from)).await?;
    let mut actor = Actor::new_local(
        ActorKind::Application,
        domain,
        urls.actor(ActorKind::Application, domain),
        keys.public_pem,
    );
    actor.manually_approves_followers = true;
    actor.discoverable = false;
    actor.bot = true;
    let stored = actor.clone();
    let inserted = db.run(move |c| actors::insert_local(c, &stored, &keys.private_pem)).await;
    match inserted {
        Ok(()) => Ok(actor),
        // Another process created it first: use theirs.
        Err(StorageError::Conflict(_) | StorageError::Duplicate(_)) => db
            .run(move |c| actors::find_by_ap_id(c, &ap_id))
            .await?
            .ok_or(LocalActorError::Storage(StorageError::NotFound)),
        Err(e) => Err(e.into()),
    }
}

/// Runs CPU-heavy work (Argon2, RSA key generation) off the async threads.
/// Threads that hash passwords and make keys. Each Argon2 run takes 19 MiB and a core for
/// tens of milliseconds. On the shared blocking pool (up to 512 threads) sign-in attempts by
/// strangers could run hundreds at once, and every thread's allocator arena kept its 19 MiB:
/// 10,000 refused sign-ins left 540 MiB behind. Four long-lived threads bound both.
const PASSWORD_THREADS: usize = 4;

type Job = Box<dyn FnOnce() + Send>;

/// The queue of the password threads, started on first use.
fn password_queue() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<Job>> {
    static QUEUE: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for n in 0..PASSWORD_THREADS {
            let rx = std::sync::Arc::clone(&rx);
            let spawned = std::thread::Builder::new().name(format!("password-{n}")).spawn(move || {
                loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        // A job that panics loses its answer (its caller gets an error), not
                        // the thread.
                        Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "a password thread could not start");
            }
        }
        std::sync::Mutex::new(tx)
    })
}

/// Runs password hashing (or key making) on the password threads, off the async ones.
async fn tokio_blocking<T, F>(f: F) -> Result<T, LocalActorError>
where
    F: FnOnce() -> Result<T, LocalActorError> + Send + 'static,
    T: Send + 'static,
{
    let failed = |what: &str| LocalActorError::Storage(StorageError::Pool(format!("password work {what}")));
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(f());
    });
    password_queue().lock().unwrap_or_else(|p| p.into_inner()).send(job).map_err(|_| failed("stopped"))?;
    result.await.map_err(|_| failed("failed"))?
}

#[cfg(test)]
mod tests;

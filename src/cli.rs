//! The command line: `guildhall serve | migrate | admin …`.
//!
//! Exit codes: 0 success; 2 bad configuration or bad input (one clear line on stderr, nothing
//! written); 1 anything else.

use std::io::BufRead;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use guildhall_core::Config;
use guildhall_core::config::LogFormat;
use guildhall_core::model::{GroupVisibility, Membership, PostingPolicy, Role};
use guildhall_federation::local_actors::{self, NewGroup, NewUser};
use guildhall_federation::{LocalActorError, Urls};
use guildhall_storage::{Db, backup};

use crate::{Instance, ProcessRole};

/// Guildhall: a federated ActivityPub server for sector groups.
#[derive(Debug, Parser)]
#[command(name = "guildhall", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Every key can also be set as GUILDHALL_<KEY>.
    #[arg(long, global = true, env = "GUILDHALL_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply database migrations, then serve HTTP until SIGINT/SIGTERM.
    Serve {
        /// What this process does: `web` (HTTP only), `worker` (the queues only) or `all`.
        /// Several processes need PostgreSQL; see the README's "Several processes".
        #[arg(long, value_enum, default_value_t = ProcessRole::All, env = "GUILDHALL_ROLE")]
        role: ProcessRole,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Copy every table of the SQLite database into an empty PostgreSQL database (stop the
    /// server first). Runs the PostgreSQL migrations there, copies all rows in one transaction,
    /// checks the row counts and prints the database_url to set. The SQLite file is untouched.
    MigrateToPostgres {
        /// The PostgreSQL database to fill: postgres://USER:PASSWORD@HOST/DATABASE.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// The way back: copy every table of the PostgreSQL database into a new SQLite file (stop
    /// every server first). PATH must not exist.
    MigrateToSqlite {
        /// The SQLite file to create.
        #[arg(long, value_name = "PATH")]
        to: PathBuf,
    },
    /// Manage users and groups.
    #[command(subcommand)]
    Admin(Admin),
    /// Mail: take in replies by e-mail.
    #[command(subcommand)]
    Mail(MailCommand),
}

/// Mail commands.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Read one message on standard input (for an MTA's pipe) and post it if it is a member's
    /// reply. Exit codes follow sysexits: 0 posted (or an automatic message dropped), 65 not a
    /// readable message, 67 refused (not our reply address, another sender), 75 try again.
    Receive {
        /// The envelope recipient(s), as the MTA knows them (Postfix: `${recipient}`).
        #[arg(long = "recipient", value_name = "ADDRESS")]
        recipients: Vec<String>,
    },
}

/// Administration commands.
#[derive(Debug, Subcommand)]
pub enum Admin {
    /// Create a local user.
    CreateUser {
        /// Username: 1–30 ASCII letters, digits or underscores, unique regardless of case.
        username: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Password (at least 8 characters); `-` reads it from the first line of stdin.
        #[arg(long)]
        password: String,
        /// Make the user an instance administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Delete a local user for good: their posts go, their sign-in and apps end, and every
    /// instance that knew them is told.
    DeleteUser {
        /// The user's username.
        username: String,
        /// Confirms that this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Set a local user's password.
    SetPassword {
        /// The user's username.
        username: String,
        /// New password (at least 8 characters); `-` reads it from the first line of stdin.
        #[arg(long)]
        password: String,
    },
    /// Approve a sign-up that waits for approval (registrations = "approval").
    ApproveUser {
        /// The user's username.
        username: String,
    },
    /// List the sign-ups waiting for approval, oldest first, with the reason each gave.
    PendingUsers,
    /// Create a local group owned by a local user.
    CreateGroup {
        /// Group name: shares the namespace of usernames.
        name: String,
        /// Username of the owner.
        #[arg(long)]
        owner: String,
        /// Display name (defaults to the name).
        #[arg(long)]
        display_name: Option<String>,
        /// How accounts join.
        #[arg(long, value_enum, default_value_t = MembershipArg::Open)]
        membership: MembershipArg,
        /// Only moderators may post (an announcement channel).
        #[arg(long)]
        moderators_only: bool,
        /// Posts reach members only and never appear in public timelines.
        #[arg(long)]
        members_only: bool,
    },
    /// Back up the SQLite database and the media into PATH, while the server keeps running.
    ///
    /// Takes a consistent copy of the live database (SQLite's VACUUM INTO) and copies every
    /// media file, then writes PATH/backup.json describing them. PATH must not exist yet (its
    /// parent must), or be an empty directory; a backup that fails leaves nothing that looks
    /// complete. On PostgreSQL this refuses: use `pg_dump -Fc` (and `pg_restore`) and copy the
    /// media directory.
    Backup {
        /// Where to write the backup: a new path, or an empty directory.
        path: PathBuf,
    },
    /// Bring back a backup made by `admin backup`. Stop the server first.
    ///
    /// Checks the backup (its backup.json, its media files, the database's integrity, that
    /// this Guildhall knows its migrations), copies it into place under temporary names and
    /// renames them in, then applies pending migrations. A running server's database is
    /// refused. An existing database or media directory is refused unless --force.
    Restore {
        /// The backup's directory (the one holding backup.json).
        path: PathBuf,
        /// Replace the existing database and media directory: they are moved aside under
        /// timestamped names (NAME.before-restore-TIME), not deleted.
        #[arg(long)]
        force: bool,
    },
}

/// `--membership` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MembershipArg {
    /// Joins are accepted at once.
    Open,
    /// Moderators approve each request.
    Approval,
    /// Only invited accounts may join.
    Invite,
}

impl From<MembershipArg> for Membership {
    fn from(value: MembershipArg) -> Self {
        match value {
            MembershipArg::Open => Membership::Open,
            MembershipArg::Approval => Membership::Approval,
            MembershipArg::Invite => Membership::Invite,
        }
    }
}

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failure {
    /// 2 for bad configuration or input, 1 otherwise.
    pub code: u8,
    /// One line for stderr.
    pub message: String,
}

impl Failure {
    fn usage(message: impl std::fmt::Display) -> Failure {
        Failure { code: 2, message: message.to_string() }
    }

    fn other(e: impl std::fmt::Display) -> Failure {
        Failure { code: 1, message: e.to_string() }
    }
}

impl From<LocalActorError> for Failure {
    fn from(e: LocalActorError) -> Self {
        Failure { code: if e.is_invalid_input() { 2 } else { 1 }, message: e.to_string() }
    }
}

/// Reads the configuration file (if any) and the environment.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config, Failure> {
    let text = match path {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| Failure::usage(format!("cannot read config file {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let file = path.map(|p| p.display().to_string());
    let file_arg = file.as_deref().zip(text.as_deref());
    Config::load(file_arg, std::env::vars()).map_err(Failure::usage)
}

/// Sets up `tracing`: `RUST_LOG` filters (default `info`), `log_format` chooses text or JSON.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let config = load_config(cli.config.as_ref())?;
    init_logging(config.log_format);
    for name in Config::unknown_env(std::env::vars()) {
        tracing::warn!(variable = %name, "unknown GUILDHALL_ environment variable ignored");
    }
    match cli.command {
        Command::Serve { role } => serve(config, role).await,
        Command::Migrate => {
            let applied = crate::migrate(&config).await.map_err(Failure::other)?;
            println!("applied {applied} migration(s) to {}", config.database_url);
            Ok(())
        }
        Command::MigrateToPostgres { to } => crate::transfer_cli::to_postgres(&config, &to).await,
        Command::MigrateToSqlite { to } => crate::transfer_cli::to_sqlite(&config, &to).await,
        Command::Admin(admin) => run_admin(config, admin).await,
        Command::Mail(MailCommand::Receive { recipients }) => receive_mail(config, recipients).await,
    }
}

/// The largest message `mail receive` reads from stdin.
const MAX_INBOUND: u64 = 25 * 1024 * 1024;

async fn receive_mail(config: Config, recipients: Vec<String>) -> Result<(), Failure> {
    use guildhall_mail::receive::{Outcome, ReceiveError};
    use std::io::Read;
    let mut raw = Vec::new();
    std::io::stdin().lock().take(MAX_INBOUND + 1).read_to_end(&mut raw).map_err(Failure::other)?;
    let (receiver, db) =
        crate::mail_receiver(&config).await.map_err(|e| Failure { code: 75, message: format!("{e:#}") })?;
    let outcome = receiver.receive(&raw, &recipients).await;
    db.close();
    match outcome {
        Ok(Outcome::Posted { status_id }) => {
            println!("posted as status {status_id}");
            Ok(())
        }
        Ok(Outcome::Dropped(why)) => {
            println!("dropped: {why}");
            Ok(())
        }
        Ok(Outcome::Refused(why)) => Err(Failure { code: 67, message: format!("refused: {why}") }),
        Err(ReceiveError::Unreadable(e)) => Err(Failure { code: 65, message: e.to_string() }),
        Err(ReceiveError::Temporary(why)) => Err(Failure { code: 75, message: why }),
    }
}

async fn serve(config: Config, role: ProcessRole) -> Result<(), Failure> {
    if role != ProcessRole::All && !config.database_url.is_postgres() {
        return Err(Failure {
            code: 2,
            message: format!(
                "--role {} needs PostgreSQL: on SQLite one process does everything (leave --role out)",
                role.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default()
            ),
        });
    }
    if config.insecure {
        tracing::warn!(
            "INSECURE MODE: own URLs are http:// and federation may reach loopback and private \
             addresses. Use only for local trials and tests (set GUILDHALL_INSECURE=false)."
        );
    }
    let instance = Instance::start_as(config, role, Default::default())
        .await
        .map_err(|e| Failure::other(format!("{e:#}")))?;
    instance.wait().await.map_err(|e| Failure::other(format!("{e:#}")))?;
    tracing::info!("guildhall stopped");
    Ok(())
}

async fn run_admin(config: Config, admin: Admin) -> Result<(), Failure> {
    match admin {
        Admin::Backup { path } => return backup(&config, path).await,
        Admin::Restore { path, force } => return restore(&config, path, force).await,
        _ => {}
    }
    let (db, _) = Db::connect_and_migrate(&config.database_url).await.map_err(Failure::other)?;
    let urls = Urls::new(&config);
    let result = admin_command(&db, &urls, config.password_min_length, admin).await;
    db.close();
    result
}

async fn admin_command(db: &Db, urls: &Urls, min_password: usize, admin: Admin) -> Result<(), Failure> {
    match admin {
        Admin::CreateUser { username, email, password, admin } => {
            let password = read_password(password, min_password)?;
            let role = if admin { Role::Admin } else { Role::User };
            let new = NewUser { username: &username, email: &email, password: &password, role };
            let account = local_actors::create_user(db, urls, new).await?;
            println!("created {} user {} ({})", role, account.actor.username, account.actor.ap_id);
        }
        Admin::SetPassword { username, password } => {
            let password = read_password(password, min_password)?;
            local_actors::set_password(db, &username, &password).await?;
            println!("password of {username} changed");
        }
        Admin::DeleteUser { username, yes } => {
            if !yes {
                return Err(Failure::usage(format!(
                    "deleting {username} removes their posts and cannot be undone: add --yes"
                )));
            }
            local_actors::delete_user(db, urls, &username).await?;
            println!(
                "deleted {username}: their posts are gone, and the network is told when the server runs"
            );
        }
        Admin::ApproveUser { username } => match local_actors::approve_user(db, &username).await? {
            true => println!("approved {username}: they can sign in now"),
            false => println!("{username} was already approved"),
        },
        Admin::PendingUsers => pending_users(db).await?,
        Admin::CreateGroup { name, owner, display_name, membership, moderators_only, members_only } => {
            let new = NewGroup {
                name: &name,
                owner: &owner,
                display_name: display_name.as_deref(),
                membership: membership.into(),
                posting: if moderators_only { PostingPolicy::Moderators } else { PostingPolicy::Members },
                visibility: if members_only { GroupVisibility::Members } else { GroupVisibility::Public },
            };
            let (actor, group) = local_actors::create_group(db, urls, new).await?;
            println!("created group {} ({}), membership {}", actor.username, actor.ap_id, group.membership);
        }
        Admin::Backup { .. } | Admin::Restore { .. } => {
            return Err(Failure::other("backup and restore do not run on an open database"));
        }
    }
    Ok(())
}

/// `admin backup`: copies the live database and media (off the async threads).
async fn backup(config: &Config, path: PathBuf) -> Result<(), Failure> {
    let (url, media_dir) = (config.database_url.clone(), config.media_dir.clone());
    let media_url = Urls::new(config).media("");
    let created = tokio::task::spawn_blocking(move || {
        let source = backup::Source {
            database_url: &url,
            media_dir: &media_dir,
            media_url: &media_url,
            version: env!("CARGO_PKG_VERSION"),
        };
        backup::create(&source, &path)
    })
    .await
    .map_err(Failure::other)?
    .map_err(backup_failure)?;
    let manifest = &created.manifest;
    if !manifest.media.missing.is_empty() {
        eprintln!(
            "warning: {} media file(s) named by the database are missing from the media directory \
             itself, so the backup lacks them too (listed under media.missing in backup.json): {}",
            manifest.media.missing.len(),
            manifest.media.missing.join(", ")
        );
    }
    println!("backed up into {}", created.path.display());
    println!("{}", summary(manifest));
    Ok(())
}

/// `admin restore`: brings a backup back, then applies pending migrations.
async fn restore(config: &Config, path: PathBuf, force: bool) -> Result<(), Failure> {
    let (url, media_dir) = (config.database_url.clone(), config.media_dir.clone());
    let restored = tokio::task::spawn_blocking(move || backup::restore(&path, &url, &media_dir, force))
        .await
        .map_err(Failure::other)?
        .map_err(backup_failure)?;
    let manifest = &restored.manifest;
    println!(
        "restored the backup of {} (Guildhall {})",
        manifest.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        manifest.guildhall_version
    );
    println!("{}", summary(manifest));
    println!("database: {}; media: {}", restored.database.display(), restored.media_dir.display());
    for aside in &restored.moved_aside {
        println!("kept what was there before as {}", aside.display());
    }
    let (db, applied) = Db::connect_and_migrate(&config.database_url).await.map_err(|e| {
        Failure::other(format!("the backup is in place, but applying migrations failed: {e}"))
    })?;
    db.close();
    println!("applied {applied} migration(s); the server can be started");
    Ok(())
}

/// One line on what a backup holds.
fn summary(manifest: &backup::Manifest) -> String {
    let rows = |table: &str| manifest.database.rows.get(table).copied().unwrap_or(0);
    format!(
        "{} accounts, {} statuses, {} media attachments in the database ({:.1} MB); {} media files ({:.1} MB)",
        rows("accounts"),
        rows("statuses"),
        rows("media_attachments"),
        megabytes(manifest.database.bytes),
        manifest.media.count,
        megabytes(manifest.media.bytes),
    )
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn backup_failure(e: backup::BackupError) -> Failure {
    Failure { code: if e.is_invalid_input() { 2 } else { 1 }, message: e.to_string() }
}

/// Prints one line per pending sign-up: username, e-mail, when, and the reason given.
async fn pending_users(db: &Db) -> Result<(), Failure> {
    use guildhall_storage::accounts::{self, AccountFilter};
    let mut pending =
        db.run(|c| accounts::list(c, AccountFilter::Pending, 10_000)).await.map_err(Failure::other)?;
    pending.reverse();
    if pending.is_empty() {
        println!("no sign-ups are waiting for approval");
    }
    for a in pending {
        let reason = a.user.sign_up_reason.unwrap_or_default().replace(['\r', '\n'], " ");
        println!(
            "{}\t{}\t{}\t{reason}",
            a.actor.username,
            a.user.email,
            a.user.created_at.format("%Y-%m-%d %H:%M")
        );
    }
    Ok(())
}

/// The password argument, or the first line of stdin for `-`; at least `min` characters
/// (the `password_min_length` setting).
fn read_password(arg: String, min: usize) -> Result<String, Failure> {
    let password = if arg == "-" {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(Failure::other)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        arg
    };
    if password.chars().count() < min {
        return Err(Failure::usage(format!("the password must be at least {min} characters long")));
    }
    Ok(password)
}

//! The real binary, run as an operator would.

use std::process::{Command, Output};

use guildhall_core::Config;
use guildhall_storage::{Db, accounts};

fn guildhall(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .args(args)
        .env_clear()
        .env("GUILDHALL_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn open(dir: &std::path::Path) -> Db {
    let env = vec![("GUILDHALL_DATA_DIR".to_string(), dir.display().to_string())];
    let config = Config::load(None, env).unwrap();
    Db::connect_and_migrate(&config.database_url).await.unwrap().0
}

#[tokio::test]
async fn create_user_then_sign_in_and_duplicate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = guildhall(
        dir.path(),
        &[
            "admin",
            "create-user",
            "ada",
            "--email",
            "ada@museum.example",
            "--password",
            "correct horse",
            "--admin",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let dup = guildhall(
        dir.path(),
        &["admin", "create-user", "Ada", "--email", "other@museum.example", "--password", "correct horse"],
    );
    assert_eq!(dup.status.code(), Some(2));
    assert!(stderr(&dup).contains("username 'Ada' is already taken"), "{}", stderr(&dup));

    let db = open(dir.path()).await;
    let found =
        guildhall_federation::local_actors::check_password(&db, "ada", "correct horse").await.unwrap();
    let account = found.expect("password works");
    assert_eq!(account.user.role().unwrap(), guildhall_core::model::Role::Admin);
    assert_eq!(db.run(accounts::count).await.unwrap(), 1, "the duplicate wrote nothing");
    let other = db.run(|c| accounts::find_by_login(c, "other@museum.example")).await.unwrap();
    assert!(other.is_none());
}

#[tokio::test]
async fn set_password_and_create_group() {
    let dir = tempfile::tempdir().unwrap();
    let ok = |out: Output| assert!(out.status.success(), "{}", stderr(&out));
    ok(guildhall(
        dir.path(),
        &["admin", "create-user", "ada", "--email", "ada@museum.example", "--password", "correct horse"],
    ));
    ok(guildhall(dir.path(), &["admin", "set-password", "ada", "--password", "battery staple"]));
    ok(guildhall(
        dir.path(),
        &[
            "admin",
            "create-group",
            "Curators",
            "--owner",
            "ada",
            "--membership",
            "approval",
            "--display-name",
            "Museum curators",
        ],
    ));
    let clash = guildhall(dir.path(), &["admin", "create-group", "ADA", "--owner", "ada"]);
    assert_eq!(clash.status.code(), Some(2), "groups share the namespace of people");
    let weak = guildhall(dir.path(), &["admin", "set-password", "ada", "--password", "short"]);
    assert_eq!(weak.status.code(), Some(2));
    assert!(stderr(&weak).contains("at least 8 characters"));

    let db = open(dir.path()).await;
    let fed = guildhall_federation::local_actors::check_password(&db, "ada", "battery staple").await.unwrap();
    assert!(fed.is_some());
    let group = db.run(|c| guildhall_storage::actors::find_local(c, "curators")).await.unwrap().unwrap();
    assert_eq!(group.display_name, "Museum curators");
    let settings = db.run(move |c| guildhall_storage::groups::get(c, group.id)).await.unwrap().unwrap();
    assert_eq!(settings.membership, "approval");
}

#[tokio::test]
async fn approve_user_lets_a_pending_sign_up_in() {
    use guildhall_federation::local_actors::{NewUser, check_password, register_user};
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let config = Config::load(None, vec![("GUILDHALL_DATA_DIR".into(), dir.path().display().to_string())]);
    let urls = guildhall_federation::Urls::new(&config.unwrap());
    let ada = NewUser {
        username: "ada",
        email: "ada@museum.example",
        password: "correct horse",
        role: guildhall_core::model::Role::User,
    };
    let pending = accounts::Registration {
        pending: true,
        locale: None,
        reason: Some("curator".into()),
        unconfirmed: false,
    };
    register_user(&db, &urls, ada, pending).await.unwrap();

    let listed = guildhall(dir.path(), &["admin", "pending-users"]);
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("ada\tada@museum.example\t"));
    let unknown = guildhall(dir.path(), &["admin", "approve-user", "nobody"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no local user named 'nobody'"), "{}", stderr(&unknown));
    let out = guildhall(dir.path(), &["admin", "approve-user", "Ada"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("approved Ada"));
    let again = guildhall(dir.path(), &["admin", "approve-user", "ada"]);
    assert!(again.status.success() && String::from_utf8_lossy(&again.stdout).contains("already approved"));
    let listed = guildhall(dir.path(), &["admin", "pending-users"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("no sign-ups are waiting"));
    let account = check_password(&db, "ada", "correct horse").await.unwrap().unwrap();
    assert!(account.user.approved);

    // Admin-set passwords follow password_min_length too.
    let short = Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .args(["admin", "set-password", "ada", "--password", "correct horse"])
        .env_clear()
        .env("GUILDHALL_DATA_DIR", dir.path())
        .env("GUILDHALL_PASSWORD_MIN_LENGTH", "16")
        .output()
        .unwrap();
    assert_eq!(short.status.code(), Some(2));
    assert!(stderr(&short).contains("at least 16 characters"), "{}", stderr(&short));
}

#[test]
fn bad_configuration_exits_2_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .args(["migrate"])
        .env_clear()
        .env("GUILDHALL_DATA_DIR", dir.path())
        .env("GUILDHALL_INSECURE", "sometimes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        r#"error: invalid value "sometimes" for GUILDHALL_INSECURE: expected true or false"#
    );
    let toml = dir.path().join("g.toml");
    std::fs::write(&toml, "listen = \"127.0.0.1:1\"\ncolour = \"blue\"\n").unwrap();
    let out = guildhall(dir.path(), &["--config", toml.to_str().unwrap(), "migrate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown key 'colour'"), "{}", stderr(&out));
}

/// Splitting the work between processes needs a database they can share.
#[test]
fn a_role_other_than_all_needs_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    for role in ["web", "worker"] {
        let out = guildhall(dir.path(), &["serve", "--role", role]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let said = stderr(&out);
        assert!(said.contains(&format!("--role {role} needs PostgreSQL")), "{said}");
    }
    let out = guildhall(dir.path(), &["serve", "--role", "cook"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("web, worker, all"), "{}", stderr(&out));
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["admin", "--help"],
        &["admin", "create-user", "--help"],
        &["admin", "set-password", "--help"],
        &["admin", "create-group", "--help"],
        &["admin", "approve-user", "--help"],
        &["admin", "pending-users", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_guildhall")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: guildhall"), "{args:?}");
    }
}

#[tokio::test]
async fn delete_user_closes_the_account_and_asks_to_be_sure() {
    let dir = tempfile::tempdir().unwrap();
    let create =
        ["admin", "create-user", "ada", "--email", "ada@museum.example", "--password", "correct horse"];
    assert!(guildhall(dir.path(), &create).status.success());
    let unsure = guildhall(dir.path(), &["admin", "delete-user", "ada"]);
    assert_eq!(unsure.status.code(), Some(2), "{}", stderr(&unsure));
    assert!(stderr(&unsure).contains("--yes"));
    let nobody = guildhall(dir.path(), &["admin", "delete-user", "nobody", "--yes"]);
    assert_ne!(nobody.status.code(), Some(0));
    let out = guildhall(dir.path(), &["admin", "delete-user", "ada", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let db = open(dir.path()).await;
    assert!(db.run(|c| accounts::find_by_username(c, "ada")).await.unwrap().is_none(), "the account is gone");
    let signed_in =
        guildhall_federation::local_actors::check_password(&db, "ada", "correct horse").await.unwrap();
    assert!(signed_in.is_none(), "a closed account cannot sign in");
}

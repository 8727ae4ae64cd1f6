//! Test support: fresh databases on both backends.
//!
//! PostgreSQL tests read `GUILDHALL_TEST_POSTGRES_URL`; without it they are skipped with a
//! printed notice, so `cargo test` passes on a machine with no PostgreSQL — except in CI
//! (`CI` set), where a part that cannot run fails the run ([`cannot_run`]).

#[cfg(test)]
use std::future::Future;

use diesel::connection::SimpleConnection;
use guildhall_core::config::DatabaseUrl;

#[cfg(test)]
use crate::Db;
use crate::DbConnection;

/// Runs `test` against every available backend, each with a migrated, empty database.
#[cfg(test)]
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = DatabaseUrl::Sqlite(dir.path().join("test.db"));
    let (db, _) = Db::connect_and_migrate(&sqlite).await.expect("sqlite");
    test(db).await;
    match postgres_url() {
        Some(url) => {
            let (db, _) = Db::connect_and_migrate(&url).await.expect("postgres");
            test(db).await;
        }
        None => cannot_run("GUILDHALL_TEST_POSTGRES_URL not set: PostgreSQL half"),
    }
}

/// Says that part of a test cannot run here (`what`, such as "PostgreSQL half"): a printed
/// notice on a developer's machine, a failure in CI, where every test must run.
///
/// # Panics
/// When the `CI` variable is set (to anything but `false` or `0`).
pub fn cannot_run(what: &str) {
    let in_ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    assert!(!in_ci, "{what} cannot run, and CI runs every test");
    eprintln!("{what}: skipped");
}

/// A URL for a fresh, empty schema on the test PostgreSQL server, or `None` without one.
///
/// # Panics
/// When the variable is set but the server cannot be reached: a configured backend that does
/// not answer is a failure, not a skip.
#[allow(clippy::expect_used)]
pub fn postgres_url() -> Option<DatabaseUrl> {
    let base = std::env::var("GUILDHALL_TEST_POSTGRES_URL").ok()?;
    let schema = format!("t{}", guildhall_core::Id::generate().0);
    let mut conn = DbConnection::open(&DatabaseUrl::Postgres(base.clone()))
        .expect("GUILDHALL_TEST_POSTGRES_URL is set but PostgreSQL does not answer");
    conn.batch_execute(&format!("CREATE SCHEMA {schema}")).expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(DatabaseUrl::Postgres(format!("{base}{sep}options=-csearch_path%3D{schema}")))
}

/// Test rows: a local person and a remote person, ready to insert.
#[cfg(test)]
pub mod rows {
    use guildhall_core::model::ActorKind;

    use crate::actors::{Actor, ActorUrls};

    /// URLs of a local actor at `http://localhost:8080`.
    pub fn urls(base: &str, name: &str) -> ActorUrls {
        let ap_id = format!("{base}/users/{name}");
        ActorUrls {
            inbox: format!("{ap_id}/inbox"),
            shared_inbox: Some(format!("{base}/inbox")),
            outbox: Some(format!("{ap_id}/outbox")),
            followers: Some(format!("{ap_id}/followers")),
            following: Some(format!("{ap_id}/following")),
            profile: Some(format!("{base}/@{name}")),
            ap_id,
        }
    }

    /// A local person named `name`.
    pub fn local(name: &str) -> Actor {
        Actor::new_local(ActorKind::Person, name, urls("http://localhost:8080", name), "PUB".into())
    }

    /// A remote person `name@domain`.
    pub fn remote(name: &str, domain: &str) -> Actor {
        let mut actor =
            Actor::new_local(ActorKind::Person, name, urls(&format!("https://{domain}"), name), "PUB".into());
        actor.domain = Some(domain.to_owned());
        actor
    }

    /// A public Note by `author`, ready to insert.
    pub fn status(author: &crate::actors::Actor, text: &str) -> crate::statuses::Status {
        let id = guildhall_core::Id::generate().0;
        let stamp = crate::now();
        crate::statuses::Status {
            id,
            ap_id: format!("{}/statuses/{id}", author.ap_id),
            url: None,
            actor_id: author.id,
            local: author.is_local(),
            kind: "Note".into(),
            in_reply_to_id: None,
            in_reply_to_ap_id: None,
            in_reply_to_actor_id: None,
            reblog_of_id: None,
            group_id: None,
            visibility: guildhall_core::model::Visibility::Public.as_str().into(),
            title: None,
            content: format!("<p>{text}</p>"),
            source: Some(text.into()),
            spoiler_text: String::new(),
            sensitive: false,
            language: Some("en".into()),
            published_at: stamp,
            edited_at: None,
            deleted_at: None,
            created_at: stamp,
            updated_at: stamp,
        }
    }
}

use guildhall_core::model::Role;
use guildhall_federation::Urls;
use guildhall_federation::local_actors::{self, NewUser};
use guildhall_storage::actors;

use crate::support::{Backend, http, start_in};

/// Data written before a stop is there after a start on the same SQLite file.
#[tokio::test]
async fn restart_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_in(dir.path(), &Backend::Sqlite).await;
    let urls = Urls::new(first.config());
    let new =
        NewUser { username: "ada", email: "ada@museum.example", password: "correct horse", role: Role::User };
    let created = local_actors::create_user(first.db(), &urls, new).await.unwrap();
    let instance_actor = first.db().run(|c| actors::find_local(c, "localhost")).await.unwrap();
    first.stop().await.unwrap();

    let second = start_in(dir.path(), &Backend::Sqlite).await;
    let found = local_actors::check_password(second.db(), "ada", "correct horse").await.unwrap();
    assert_eq!(found.map(|a| a.actor.id), Some(created.actor.id));
    let health = http().get(format!("http://localhost:{}/health", second.port())).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let domain = second.config().domain.to_string();
    let actor_after = second.db().run(move |c| actors::find_local(c, &domain)).await.unwrap();
    assert!(actor_after.is_some(), "the instance actor exists after restart");
    assert!(instance_actor.is_none(), "the instance actor is named after the domain, with port");
    second.stop().await.unwrap();
}

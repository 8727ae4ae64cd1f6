use guildhall_core::Config;
use guildhall_core::config::DatabaseUrl;
use guildhall_storage::testing::postgres_url;

use super::*;

async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Db, Urls) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let urls = Urls::new(&Config::defaults());
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::connect_and_migrate(&DatabaseUrl::Sqlite(dir.path().join("t.db"))).await.unwrap();
    test(db, urls.clone()).await;
    if let Some(url) = postgres_url() {
        let (db, _) = Db::connect_and_migrate(&url).await.unwrap();
        test(db, urls).await;
    }
}

fn ada() -> NewUser<'static> {
    NewUser { username: "ada", email: "ada@museum.example", password: "correct horse", role: Role::Admin }
}

#[tokio::test]
async fn created_user_can_sign_in_with_username_or_email() {
    each_backend(|db, urls| async move {
        let account = create_user(&db, &urls, ada()).await.unwrap();
        assert_eq!(account.actor.ap_id, "http://localhost:8080/users/ada");
        assert_eq!(account.user.role().unwrap(), Role::Admin);
        assert!(account.actor.public_key_pem.as_deref().unwrap_or("").contains("BEGIN PUBLIC KEY"));
        let by_name = check_password(&db, "ADA", "correct horse").await.unwrap();
        assert_eq!(by_name.map(|a| a.actor.id), Some(account.actor.id));
        assert!(check_password(&db, "ada@museum.example", "correct horse").await.unwrap().is_some());
        assert!(check_password(&db, "ada", "wrong horse").await.unwrap().is_none());
        assert!(check_password(&db, "nobody", "correct horse").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn invalid_or_taken_input_is_refused_and_writes_nothing() {
    each_backend(|db, urls| async move {
        create_user(&db, &urls, ada()).await.unwrap();
        let cases = [
            NewUser { username: "Ada", email: "other@museum.example", ..ada() },
            NewUser { username: "grace", email: "ADA@museum.example", ..ada() },
            NewUser { username: "gr ace", email: "g@museum.example", ..ada() },
            NewUser { username: "grace", email: "not-an-email", ..ada() },
            NewUser { username: "grace", email: "g@museum.example", password: "short", ..ada() },
        ];
        for case in cases {
            let err = create_user(&db, &urls, case.clone()).await.unwrap_err();
            assert!(err.is_invalid_input(), "{case:?}: {err}");
        }
        let count = db.run(guildhall_storage::accounts::count).await.unwrap();
        assert_eq!(count, 1);
    })
    .await;
}

#[tokio::test]
async fn set_password_replaces_the_old_one() {
    each_backend(|db, urls| async move {
        create_user(&db, &urls, ada()).await.unwrap();
        set_password(&db, "ada", "battery staple").await.unwrap();
        assert!(check_password(&db, "ada", "correct horse").await.unwrap().is_none());
        assert!(check_password(&db, "ada", "battery staple").await.unwrap().is_some());
        assert!(matches!(
            set_password(&db, "nobody", "battery staple").await,
            Err(LocalActorError::NoSuchUser(_))
        ));
        assert!(matches!(set_password(&db, "ada", "short").await, Err(LocalActorError::Password(_))));
    })
    .await;
}

#[tokio::test]
async fn groups_need_an_owner_and_a_free_name() {
    each_backend(|db, urls| async move {
        create_user(&db, &urls, ada()).await.unwrap();
        let new = NewGroup {
            name: "Curators",
            owner: "ada",
            display_name: None,
            membership: Membership::Invite,
            posting: PostingPolicy::Members,
            visibility: GroupVisibility::Public,
        };
        let (actor, group) = create_group(&db, &urls, new.clone()).await.unwrap();
        assert_eq!(actor.ap_id, "http://localhost:8080/groups/Curators");
        assert_eq!((actor.display_name.as_str(), actor.kind().unwrap()), ("Curators", ActorKind::Group));
        assert_eq!(group.membership().unwrap(), Membership::Invite);
        assert!(matches!(create_group(&db, &urls, new.clone()).await, Err(LocalActorError::Taken(_))));
        let clash = NewGroup { name: "ADA", ..new.clone() };
        assert!(matches!(create_group(&db, &urls, clash).await, Err(LocalActorError::Taken(_))));
        let orphan = NewGroup { name: "other", owner: "nobody", ..new };
        assert!(matches!(create_group(&db, &urls, orphan).await, Err(LocalActorError::NoSuchUser(_))));
    })
    .await;
}

#[tokio::test]
async fn instance_actor_is_created_once() {
    each_backend(|db, urls| async move {
        let first = ensure_instance_actor(&db, &urls, "localhost:8080").await.unwrap();
        let second = ensure_instance_actor(&db, &urls, "localhost:8080").await.unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(first.kind().unwrap(), ActorKind::Application);
        assert_eq!(first.ap_id, "http://localhost:8080/actor");
        let key = db.run(move |c| actors::private_key(c, first.id)).await.unwrap();
        assert!(key.contains("BEGIN PRIVATE KEY"));
    })
    .await;
}

use super::*;
use crate::testing::{each_backend, rows};

#[tokio::test]
async fn local_names_are_unique_regardless_of_case() {
    each_backend(|db| async move {
        db.run(|c| {
            insert_local(c, &rows::local("Ada"), "KEY")?;
            assert!(local_username_taken(c, "ada")?);
            let err = insert_local(c, &rows::local("ADA"), "KEY").unwrap_err();
            assert!(matches!(err, StorageError::Conflict(ref m) if m.contains("already taken")), "{err}");
            assert_eq!(find_local(c, "aDa")?.map(|a| a.username), Some("Ada".into()));
            assert_eq!(count_local(c, ActorKind::Person)?, 1);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn unique_index_catches_what_the_check_misses() {
    each_backend(|db| async move {
        let err = db
            .run(|c| {
                diesel::insert_into(actors::table).values(&rows::local("bob")).execute(c)?;
                diesel::insert_into(actors::table).values(&rows::local("BOB")).execute(c)?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::Duplicate(_)), "{err}");
    })
    .await;
}

#[tokio::test]
async fn private_key_is_stored_with_the_actor() {
    each_backend(|db| async move {
        let actor = rows::local("keyed");
        let id = actor.id;
        db.run(move |c| insert_local(c, &actor, "PRIVATE")).await.unwrap();
        assert_eq!(db.run(move |c| private_key(c, id)).await.unwrap(), "PRIVATE");
        let missing = db.run(|c| private_key(c, 1)).await.unwrap_err();
        assert!(matches!(missing, StorageError::NotFound));
    })
    .await;
}

#[tokio::test]
async fn remote_actors_upsert_by_ap_id() {
    each_backend(|db| async move {
        db.run(|c| {
            let first = upsert_remote(c, &rows::remote("Eve", "museum.example"))?;
            let mut changed = rows::remote("Eve", "museum.example");
            changed.display_name = "Eve at the museum".into();
            let second = upsert_remote(c, &changed)?;
            assert_eq!(second.id, first.id, "same ap_id keeps our id");
            let stored = get(c, first.id)?;
            assert_eq!(stored.display_name, "Eve at the museum");
            assert!(!stored.is_local());
            assert_eq!(find_remote(c, "eve", "MUSEUM.example")?.len(), 1);
            assert_eq!(find_by_ap_id(c, &first.ap_id)?.map(|a| a.id), Some(first.id));
            assert!(find_local(c, "eve")?.is_none(), "a remote name is not a local one");
            assert!(upsert_remote(c, &rows::local("notremote")).is_err());
            let by_inbox = find_by_inbox(c, "https://museum.example/users/Eve/inbox")?;
            assert_eq!(by_inbox.iter().map(|a| a.id).collect::<Vec<_>>(), vec![first.id]);
            assert!(
                find_by_inbox(c, "https://museum.example/inbox")?.is_empty(),
                "a shared inbox is nobody's own"
            );
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn deleted_actors_disappear_from_lookups() {
    each_backend(|db| async move {
        db.run(|c| {
            let actor = rows::local("gone");
            insert_local(c, &actor, "K")?;
            mark_deleted(c, actor.id)?;
            assert!(find_local(c, "gone")?.is_none());
            assert!(get(c, actor.id)?.deleted_at.is_some());
            assert!(local_username_taken(c, "gone")?, "a deleted name is not reused");
            assert!(matches!(mark_deleted(c, 42), Err(StorageError::NotFound)));
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[test]
fn delivery_prefers_the_shared_inbox() {
    let mut actor = rows::remote("x", "a.example");
    assert_eq!(actor.delivery_inbox(), "https://a.example/inbox");
    actor.shared_inbox_url = None;
    assert_eq!(actor.delivery_inbox(), "https://a.example/users/x/inbox");
}

use super::*;
use crate::actors;
use crate::testing::{each_backend, rows, rows::status};

#[tokio::test]
async fn post_edit_reply_and_list() {
    each_backend(|db| async move {
        db.run(|c| {
            let ada = rows::local("ada");
            actors::insert_local(c, &ada, "K")?;
            let first = status(&ada, "hello");
            insert(c, &first)?;
            let mut reply = status(&ada, "replying");
            reply.in_reply_to_id = Some(first.id);
            reply.visibility = Visibility::Unlisted.as_str().into();
            insert(c, &reply)?;
            let mut edited = first.clone();
            edited.content = "<p>hello, edited</p>".into();
            edited.spoiler_text = "museums".into();
            update(c, &edited)?;
            let stored = get(c, first.id)?;
            assert_eq!(
                (stored.content.as_str(), stored.spoiler_text.as_str()),
                ("<p>hello, edited</p>", "museums")
            );
            assert!(stored.edited_at.is_some());
            assert_eq!(get(c, reply.id)?.visibility()?, Visibility::Unlisted);
            assert_eq!(replies(c, first.id)?.iter().map(|s| s.id).collect::<Vec<_>>(), vec![reply.id]);
            assert_eq!(reply_and_boost_counts(c, first.id)?, (1, 0));
            let newest_first: Vec<i64> = by_actor(c, ada.id, None, 10)?.iter().map(|s| s.id).collect();
            assert_eq!(newest_first, vec![reply.id, first.id]);
            assert_eq!(by_actor(c, ada.id, Some(reply.id), 10)?.len(), 1, "max_id pages back");
            assert_eq!(find_by_ap_id(c, &reply.ap_id)?.map(|s| s.id), Some(reply.id));
            assert_eq!(count_local(c)?, 2);
            assert_eq!(
                public_by_actor(c, ada.id, None, 10)?.iter().map(|s| s.id).collect::<Vec<_>>(),
                vec![first.id]
            );
            assert_eq!(count_public_by_actor(c, ada.id)?, 1, "the unlisted reply is not public");
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn delete_blanks_content_and_takes_boosts_along() {
    each_backend(|db| async move {
        db.run(|c| {
            let ada = rows::local("ada");
            actors::insert_local(c, &ada, "K")?;
            let eve = actors::upsert_remote(c, &rows::remote("eve", "remote.example"))?;
            let original = status(&eve, "remote words");
            insert(c, &original)?;
            let mut boost = status(&ada, "");
            boost.reblog_of_id = Some(original.id);
            insert(c, &boost)?;
            mark_deleted(c, original.id)?;
            let gone = get(c, original.id)?;
            assert!(gone.deleted_at.is_some() && gone.content.is_empty());
            assert!(get(c, boost.id)?.deleted_at.is_some());
            assert_eq!(reply_and_boost_counts(c, original.id)?, (0, 0));
            assert!(!boosted_by(c, original.id, ada.id)?);
            assert!(by_actor(c, ada.id, None, 10)?.is_empty());
            assert!(matches!(mark_deleted(c, 7), Err(StorageError::NotFound)));
            assert!(matches!(update(c, &status(&ada, "never stored")), Err(StorageError::NotFound)));
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_reply_arriving_before_its_parent_is_linked_later() {
    each_backend(|db| async move {
        db.run(|c| {
            let eve = actors::upsert_remote(c, &rows::remote("eve", "remote.example"))?;
            let parent = status(&eve, "parent");
            let mut early = status(&eve, "reply first");
            early.in_reply_to_ap_id = Some(parent.ap_id.clone());
            insert(c, &early)?;
            insert(c, &parent)?;
            assert_eq!(adopt_orphans(c, &parent)?, 1);
            assert_eq!(get(c, early.id)?.in_reply_to_id, Some(parent.id));
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

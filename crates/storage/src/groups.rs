//! Groups (FEP-1b12): a Group actor plus its settings and owner.

use diesel::prelude::*;
use guildhall_core::model::{GroupVisibility, Membership, PostingPolicy};

use crate::actors::{self, Actor};
use crate::schema::groups;
use crate::{DbConnection, StorageResult, Timestamp, parse_text};

/// A local group's settings.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = groups)]
pub struct Group {
    /// The Group actor.
    pub actor_id: i64,
    /// The local person who owns the group.
    pub owner_id: i64,
    /// [`Membership`] spelling.
    pub membership: String,
    /// [`PostingPolicy`] spelling.
    pub posting: String,
    /// [`GroupVisibility`] spelling.
    pub visibility: String,
    /// Group rules as a JSON array of strings.
    pub rules_json: String,
    /// Row creation.
    pub created_at: Timestamp,
    /// Last row change.
    pub updated_at: Timestamp,
}

impl Group {
    /// How accounts join.
    pub fn membership(&self) -> StorageResult<Membership> {
        parse_text(&self.membership, Membership::parse)
    }

    /// Who may post.
    pub fn posting(&self) -> StorageResult<PostingPolicy> {
        parse_text(&self.posting, PostingPolicy::parse)
    }

    /// Who can read.
    pub fn visibility(&self) -> StorageResult<GroupVisibility> {
        parse_text(&self.visibility, GroupVisibility::parse)
    }
}

/// What is needed to create a local group.
#[derive(Debug, Clone)]
pub struct NewLocalGroup {
    /// The Group actor row ([`Actor::new_local`] with [`guildhall_core::model::ActorKind::Group`]).
    pub actor: Actor,
    /// The owning local person's actor id.
    pub owner_id: i64,
    /// How accounts join.
    pub membership: Membership,
    /// Who may post.
    pub posting: PostingPolicy,
    /// Who can read.
    pub visibility: GroupVisibility,
    /// Private key PEM matching the actor's public key.
    pub private_key_pem: String,
}

/// Creates the Group actor, its key and settings in one transaction; a taken name is a
/// conflict (groups share the namespace of people).
pub fn create(conn: &mut DbConnection, new: NewLocalGroup) -> StorageResult<(Actor, Group)> {
    crate::transaction(conn, |conn| {
        let mut actor = new.actor;
        actor.manually_approves_followers = new.membership != Membership::Open;
        actors::insert_local(conn, &actor, &new.private_key_pem)?;
        let group = Group {
            actor_id: actor.id,
            owner_id: new.owner_id,
            membership: new.membership.as_str().to_owned(),
            posting: new.posting.as_str().to_owned(),
            visibility: new.visibility.as_str().to_owned(),
            rules_json: "[]".to_owned(),
            created_at: actor.created_at,
            updated_at: actor.created_at,
        };
        diesel::insert_into(groups::table).values(&group).execute(conn)?;
        Ok((actor, group))
    })
}

/// The settings of the local group whose actor is `actor_id`, if it is one.
pub fn get(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Option<Group>> {
    Ok(groups::table.find(actor_id).select(Group::as_select()).first(conn).optional()?)
}

#[cfg(test)]
mod tests {
    use guildhall_core::model::ActorKind;

    use super::*;
    use crate::StorageError;
    use crate::testing::{each_backend, rows};

    #[tokio::test]
    async fn group_shares_the_namespace_of_people() {
        each_backend(|db| async move {
            db.run(|c| {
                let owner = rows::local("curator");
                actors::insert_local(c, &owner, "K")?;
                let mut actor = rows::local("MuseumComputing");
                actor.kind = ActorKind::Group.as_str().into();
                let new = NewLocalGroup {
                    actor,
                    owner_id: owner.id,
                    membership: Membership::Approval,
                    posting: PostingPolicy::Members,
                    visibility: GroupVisibility::Members,
                    private_key_pem: "K".into(),
                };
                let (actor, group) = create(c, new.clone())?;
                assert!(actor.manually_approves_followers);
                assert_eq!(get(c, actor.id)?, Some(group.clone()));
                assert_eq!(group.membership()?, Membership::Approval);
                assert_eq!(group.visibility()?, GroupVisibility::Members);
                assert_eq!(group.posting()?, PostingPolicy::Members);
                let mut clash = new;
                clash.actor = rows::local("curator");
                assert!(matches!(create(c, clash), Err(StorageError::Conflict(_))));
                assert_eq!(get(c, owner.id)?, None, "a person is not a group");
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

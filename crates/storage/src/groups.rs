//! Groups (FEP-1b12): a Group actor plus its settings and owner.

use diesel::prelude::*;
use guildhall_core::model::{GroupVisibility, Membership, PostingPolicy};

use guildhall_core::Id;
use guildhall_core::model::FollowState;

use crate::actors::{self, Actor};
use crate::schema::{
    actors as actors_table, group_bans, group_invitations, group_log, group_moderators, groups,
};
use crate::{DbConnection, StorageResult, Timestamp, follows, now, parse_text};

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
        actor.members_only = new.visibility == GroupVisibility::Members;
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
        add_moderator(conn, actor.id, new.owner_id)?;
        Ok((actor, group))
    })
}

/// The settings of the local group whose actor is `actor_id`, if it is one.
pub fn get(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Option<Group>> {
    Ok(groups::table.find(actor_id).select(Group::as_select()).first(conn).optional()?)
}

/// Changes a group's settings (the actor row is updated separately).
pub fn update(conn: &mut DbConnection, group: &Group) -> StorageResult<()> {
    diesel::update(groups::table.find(group.actor_id))
        .set((
            groups::membership.eq(&group.membership),
            groups::posting.eq(&group.posting),
            groups::visibility.eq(&group.visibility),
            groups::rules_json.eq(&group.rules_json),
            groups::updated_at.eq(now()),
        ))
        .execute(conn)?;
    diesel::update(actors_table::table.find(group.actor_id))
        .set((
            actors_table::manually_approves_followers.eq(group.membership != Membership::Open.as_str()),
            actors_table::members_only.eq(group.visibility == GroupVisibility::Members.as_str()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Local groups, newest first, whose name, display name or description contains `q` (any case;
/// empty: all), joined the `membership` way when given. Members-only groups are listed too:
/// their existence is public, their posts are not.
pub fn directory(
    conn: &mut DbConnection,
    q: &str,
    membership: Option<Membership>,
    offset: i64,
    limit: i64,
) -> StorageResult<Vec<(Actor, Group)>> {
    let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
    let mut query = groups::table
        .inner_join(actors_table::table.on(actors_table::id.eq(groups::actor_id)))
        .filter(actors_table::deleted_at.is_null())
        .filter(
            actors_table::username_key
                .like(pattern.clone())
                .or(diesel::dsl::sql::<diesel::sql_types::Text>("lower(actors.display_name)")
                    .like(pattern.clone()))
                .or(diesel::dsl::sql::<diesel::sql_types::Text>("lower(actors.summary)").like(pattern)),
        )
        .into_boxed();
    if let Some(m) = membership {
        query = query.filter(groups::membership.eq(m.as_str()));
    }
    Ok(query
        .order(actors_table::id.desc())
        .offset(offset)
        .limit(limit)
        .select((Actor::as_select(), Group::as_select()))
        .load(conn)?)
}

/// Makes `actor_id` a moderator of the group (no-op when it is one).
pub fn add_moderator(conn: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<bool> {
    crate::transaction(conn, |conn| {
        if is_moderator(conn, group_id, actor_id)? {
            return Ok(false);
        }
        diesel::insert_into(group_moderators::table)
            .values((
                group_moderators::group_id.eq(group_id),
                group_moderators::actor_id.eq(actor_id),
                group_moderators::created_at.eq(now()),
            ))
            .execute(conn)?;
        let source = crate::feeds::Source::Moderated(group_id);
        crate::feeds::lock_source(conn, source)?;
        crate::feeds::backfill(conn, actor_id, source)?;
        Ok(true)
    })
}

/// Dismisses a moderator; the owner cannot be dismissed.
pub fn remove_moderator(conn: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<bool> {
    if get(conn, group_id)?.is_some_and(|g| g.owner_id == actor_id) {
        return Err(crate::StorageError::Conflict("the owner is always a moderator".into()));
    }
    crate::transaction(conn, |conn| {
        let n = diesel::delete(
            group_moderators::table
                .filter(group_moderators::group_id.eq(group_id))
                .filter(group_moderators::actor_id.eq(actor_id)),
        )
        .execute(conn)?;
        let source = crate::feeds::Source::Moderated(group_id);
        crate::feeds::lock_source(conn, source)?;
        crate::feeds::prune(conn, actor_id, source)?;
        Ok(n > 0)
    })
}

/// The groups `actor_id` moderates.
pub fn moderated_by(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Vec<i64>> {
    Ok(group_moderators::table
        .filter(group_moderators::actor_id.eq(actor_id))
        .order(group_moderators::group_id)
        .select(group_moderators::group_id)
        .load(conn)?)
}

/// Whether `actor_id` moderates group `group_id`.
pub fn is_moderator(conn: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        group_moderators::table
            .filter(group_moderators::group_id.eq(group_id))
            .filter(group_moderators::actor_id.eq(actor_id)),
    ))
    .get_result(conn)?)
}

/// The group's moderators, in the order they were appointed.
pub fn moderators(conn: &mut DbConnection, group_id: i64) -> StorageResult<Vec<Actor>> {
    Ok(group_moderators::table
        .inner_join(actors_table::table.on(actors_table::id.eq(group_moderators::actor_id)))
        .filter(group_moderators::group_id.eq(group_id))
        .order(group_moderators::created_at.asc())
        .select(Actor::as_select())
        .load(conn)?)
}

/// Whether `actor_id` is a member: an accepted follower of the group.
pub fn is_member(conn: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<bool> {
    Ok(follows::find(conn, actor_id, group_id)?.is_some_and(|f| f.state == FollowState::Accepted.as_str()))
}

/// Bans an account: its membership (or request) and invitation end, and it cannot join again.
pub fn ban(conn: &mut DbConnection, group_id: i64, actor_id: i64, reason: &str) -> StorageResult<()> {
    follows::remove(conn, actor_id, group_id)?;
    crate::mail::remove_member(conn, group_id, actor_id)?;
    revoke_invitation(conn, group_id, actor_id)?;
    remove_moderator(conn, group_id, actor_id)?;
    if !is_banned(conn, group_id, actor_id)? {
        diesel::insert_into(group_bans::table)
            .values((
                group_bans::group_id.eq(group_id),
                group_bans::actor_id.eq(actor_id),
                group_bans::reason.eq(reason),
                group_bans::created_at.eq(now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Lifts a ban.
pub fn unban(conn: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<bool> {
    let n = diesel::delete(
        group_bans::table.filter(group_bans::group_id.eq(group_id)).filter(group_bans::actor_id.eq(actor_id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Whether `actor_id` is banned from the group.
pub fn is_banned(conn: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        group_bans::table.filter(group_bans::group_id.eq(group_id)).filter(group_bans::actor_id.eq(actor_id)),
    ))
    .get_result(conn)?)
}

/// The banned accounts with the reasons given, newest first.
pub fn bans(conn: &mut DbConnection, group_id: i64) -> StorageResult<Vec<(Actor, String, Timestamp)>> {
    Ok(group_bans::table
        .inner_join(actors_table::table.on(actors_table::id.eq(group_bans::actor_id)))
        .filter(group_bans::group_id.eq(group_id))
        .order(group_bans::created_at.desc())
        .select((Actor::as_select(), group_bans::reason, group_bans::created_at))
        .load(conn)?)
}

/// Invites an account (no-op when invited already).
pub fn invite(conn: &mut DbConnection, group_id: i64, actor_id: i64, invited_by: i64) -> StorageResult<()> {
    if is_invited(conn, group_id, actor_id)? {
        return Ok(());
    }
    diesel::insert_into(group_invitations::table)
        .values((
            group_invitations::group_id.eq(group_id),
            group_invitations::actor_id.eq(actor_id),
            group_invitations::invited_by.eq(invited_by),
            group_invitations::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Withdraws an invitation.
pub fn revoke_invitation(conn: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<bool> {
    let n = diesel::delete(
        group_invitations::table
            .filter(group_invitations::group_id.eq(group_id))
            .filter(group_invitations::actor_id.eq(actor_id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Whether `actor_id` holds an invitation to the group.
pub fn is_invited(conn: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        group_invitations::table
            .filter(group_invitations::group_id.eq(group_id))
            .filter(group_invitations::actor_id.eq(actor_id)),
    ))
    .get_result(conn)?)
}

/// The invited accounts, newest first.
pub fn invitations(conn: &mut DbConnection, group_id: i64) -> StorageResult<Vec<Actor>> {
    Ok(group_invitations::table
        .inner_join(actors_table::table.on(actors_table::id.eq(group_invitations::actor_id)))
        .filter(group_invitations::group_id.eq(group_id))
        .order(group_invitations::created_at.desc())
        .select(Actor::as_select())
        .load(conn)?)
}

/// One entry of a group's moderation log.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = group_log)]
pub struct LogEntry {
    /// Entry id (time-ordered).
    pub id: i64,
    /// The group.
    pub group_id: i64,
    /// Who acted.
    pub moderator_id: i64,
    /// What was done (`approve`, `reject`, `invite`, `revoke_invitation`, `ban`, `unban`,
    /// `remove_status`, `appoint`, `dismiss`, `update`).
    pub action: String,
    /// The account acted on.
    pub target_actor_id: Option<i64>,
    /// The status acted on.
    pub target_status_id: Option<i64>,
    /// Why, as given.
    pub reason: String,
    /// When.
    pub created_at: Timestamp,
}

/// Records a moderation action.
pub fn log(
    conn: &mut DbConnection,
    group_id: i64,
    moderator_id: i64,
    action: &str,
    target_actor_id: Option<i64>,
    target_status_id: Option<i64>,
    reason: &str,
) -> StorageResult<LogEntry> {
    let entry = LogEntry {
        id: Id::generate().0,
        group_id,
        moderator_id,
        action: action.to_owned(),
        target_actor_id,
        target_status_id,
        reason: reason.to_owned(),
        created_at: now(),
    };
    diesel::insert_into(group_log::table).values(&entry).execute(conn)?;
    Ok(entry)
}

/// The moderation log, newest first, entries older than `max_id` when given.
pub fn log_entries(
    conn: &mut DbConnection,
    group_id: i64,
    max_id: Option<i64>,
    limit: i64,
) -> StorageResult<Vec<LogEntry>> {
    let mut query = group_log::table.filter(group_log::group_id.eq(group_id)).into_boxed();
    if let Some(max) = max_id {
        query = query.filter(group_log::id.lt(max));
    }
    Ok(query.order(group_log::id.desc()).limit(limit).select(LogEntry::as_select()).load(conn)?)
}

/// Why an account may not post into a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a member.
    NotMember,
    /// Banned.
    Banned,
    /// Only moderators post here.
    ModeratorsOnly,
    /// A public post into a members-only group.
    PublicInMembersOnly,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::NotMember => "only members may post in this group",
            Refusal::Banned => "banned from this group",
            Refusal::ModeratorsOnly => "only moderators may post in this group",
            Refusal::PublicInMembersOnly => "posts in this members-only group must not be public",
        })
    }
}

/// Whether `actor_id` may post into the local group; replies in existing threads follow the
/// same rule. Moderators always may; banned accounts never.
pub fn may_post(conn: &mut DbConnection, group: &Group, actor_id: i64) -> StorageResult<Result<(), Refusal>> {
    if is_banned(conn, group.actor_id, actor_id)? {
        return Ok(Err(Refusal::Banned));
    }
    if is_moderator(conn, group.actor_id, actor_id)? {
        return Ok(Ok(()));
    }
    if !is_member(conn, group.actor_id, actor_id)? {
        return Ok(Err(Refusal::NotMember));
    }
    if group.posting()? == PostingPolicy::Moderators {
        return Ok(Err(Refusal::ModeratorsOnly));
    }
    Ok(Ok(()))
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
                assert!(is_moderator(c, actor.id, owner.id)?, "the owner moderates");
                assert!(remove_moderator(c, actor.id, owner.id).is_err(), "and stays a moderator");
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

#[cfg(test)]
mod moderation_tests {
    use guildhall_core::model::ActorKind;

    use super::*;
    use crate::testing::{each_backend, rows};

    #[tokio::test]
    async fn bans_end_membership_and_posting_follows_the_policy() {
        each_backend(|db| async move {
            db.run(|c| {
                let owner = rows::local("owner");
                actors::insert_local(c, &owner, "K")?;
                let member = rows::remote("member", "r.example");
                actors::upsert_remote(c, &member)?;
                let outsider = rows::remote("outsider", "r.example");
                actors::upsert_remote(c, &outsider)?;
                let mut actor = rows::local("circle");
                actor.kind = ActorKind::Group.as_str().into();
                let new = NewLocalGroup {
                    actor,
                    owner_id: owner.id,
                    membership: Membership::Open,
                    posting: PostingPolicy::Members,
                    visibility: GroupVisibility::Public,
                    private_key_pem: "K".into(),
                };
                let (group_actor, mut group) = create(c, new)?;
                let g = group_actor.id;
                follows::upsert(c, member.id, g, FollowState::Accepted, None)?;
                assert_eq!(may_post(c, &group, member.id)?, Ok(()));
                assert_eq!(may_post(c, &group, outsider.id)?, Err(Refusal::NotMember));
                assert_eq!(may_post(c, &group, owner.id)?, Ok(()), "moderators need not follow");

                group.posting = PostingPolicy::Moderators.as_str().into();
                update(c, &group)?;
                let group = get(c, g)?.expect("group");
                assert_eq!(may_post(c, &group, member.id)?, Err(Refusal::ModeratorsOnly));

                ban(c, g, member.id, "spam")?;
                assert!(!is_member(c, g, member.id)?, "a ban ends membership");
                assert_eq!(may_post(c, &group, member.id)?, Err(Refusal::Banned));
                assert_eq!(bans(c, g)?.len(), 1);
                assert!(unban(c, g, member.id)?);
                assert!(!is_banned(c, g, member.id)?);

                invite(c, g, outsider.id, owner.id)?;
                invite(c, g, outsider.id, owner.id)?;
                assert_eq!(invitations(c, g)?.len(), 1, "inviting twice is one invitation");
                assert!(revoke_invitation(c, g, outsider.id)?);
                assert!(!is_invited(c, g, outsider.id)?);

                let first = log(c, g, owner.id, "ban", Some(member.id), None, "spam")?;
                let second = log(c, g, owner.id, "unban", Some(member.id), None, "")?;
                let entries = log_entries(c, g, None, 10)?;
                assert_eq!(entries.iter().map(|e| e.id).collect::<Vec<_>>(), vec![second.id, first.id]);
                assert_eq!(log_entries(c, g, Some(second.id), 10)?, vec![first]);

                assert_eq!(directory(c, "IRC", None, 0, 10)?.len(), 1, "found by part of the name");
                assert!(directory(c, "nothing", None, 0, 10)?.is_empty());
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

/// Live, discoverable local people and groups for the profile directory (`/api/v1/directory`),
/// skipping disabled or unapproved users: newest first, or with `by_activity` those with the
/// most recent post first (for a group, the newest post in it), never-posted ones last.
pub fn local_directory(
    conn: &mut DbConnection,
    by_activity: bool,
    offset: i64,
    limit: i64,
) -> StorageResult<Vec<Actor>> {
    use crate::schema::{statuses, users};
    let last_post = statuses::table
        .filter(statuses::deleted_at.is_null())
        .filter(
            statuses::actor_id.eq(actors_table::id).or(statuses::group_id.eq(actors_table::id.nullable())),
        )
        .select(diesel::dsl::max(statuses::published_at))
        .single_value();
    let barred = users::table
        .filter(users::actor_id.eq(actors_table::id))
        .filter(users::disabled.eq(true).or(users::approved.eq(false)));
    let query = actors_table::table
        .filter(actors_table::domain.is_null())
        .filter(actors_table::deleted_at.is_null())
        .filter(actors_table::discoverable.eq(true))
        .filter(actors_table::kind.eq_any(["person", "group"]))
        .filter(diesel::dsl::not(diesel::dsl::exists(barred)))
        .into_boxed();
    let query = if by_activity {
        query.order((last_post.is_null().asc(), last_post.desc(), actors_table::id.desc()))
    } else {
        query.order(actors_table::id.desc())
    };
    Ok(query.offset(offset).limit(limit).select(Actor::as_select()).load(conn)?)
}

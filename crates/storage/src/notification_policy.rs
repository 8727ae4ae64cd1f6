//! Notification policies: what happens to notifications from people the recipient does not
//! know (accept them, hold them back as notification requests, or drop them), and the
//! requests themselves.

use diesel::prelude::*;
use guildhall_core::model::{FollowState, Visibility};

use crate::actors::Actor;
use crate::schema::{notification_permissions, notification_policies, notifications};
use crate::statuses::Status;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// What a policy does with a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Shown as usual.
    Accept,
    /// Held back as a notification request.
    Filter,
    /// Never stored.
    Drop,
}

impl Decision {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Filter => "filter",
            Decision::Drop => "drop",
        }
    }

    /// Parses the API's spelling.
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "accept" => Some(Decision::Accept),
            "filter" => Some(Decision::Filter),
            "drop" => Some(Decision::Drop),
            _ => None,
        }
    }
}

/// A recipient's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// From accounts the recipient does not follow.
    pub for_not_following: Decision,
    /// From accounts that do not follow the recipient.
    pub for_not_followers: Decision,
    /// From accounts younger than 30 days.
    pub for_new_accounts: Decision,
    /// Private mentions that are not replies to the recipient, from accounts it does not follow.
    pub for_private_mentions: Decision,
    /// From accounts an admin limited.
    pub for_limited_accounts: Decision,
}

impl Default for Policy {
    /// Everything shown: a network's members mostly hear from people they do not follow yet.
    fn default() -> Policy {
        Policy {
            for_not_following: Decision::Accept,
            for_not_followers: Decision::Accept,
            for_new_accounts: Decision::Accept,
            for_private_mentions: Decision::Accept,
            for_limited_accounts: Decision::Accept,
        }
    }
}

/// Accounts younger than this are new.
const NEW_ACCOUNT: chrono::Duration = chrono::Duration::days(30);

type PolicyRow = (String, String, String, String, String);

fn parse_row(row: PolicyRow) -> Policy {
    let d = |s: &str| Decision::parse(s).unwrap_or(Decision::Accept);
    Policy {
        for_not_following: d(&row.0),
        for_not_followers: d(&row.1),
        for_new_accounts: d(&row.2),
        for_private_mentions: d(&row.3),
        for_limited_accounts: d(&row.4),
    }
}

/// `actor_id`'s policy (the default when never set).
pub fn get(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Policy> {
    let row: Option<PolicyRow> = notification_policies::table
        .find(actor_id)
        .select((
            notification_policies::for_not_following,
            notification_policies::for_not_followers,
            notification_policies::for_new_accounts,
            notification_policies::for_private_mentions,
            notification_policies::for_limited_accounts,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(parse_row).unwrap_or_default())
}

/// Replaces `actor_id`'s policy.
pub fn set(conn: &mut DbConnection, actor_id: i64, policy: &Policy) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        diesel::delete(notification_policies::table.find(actor_id)).execute(conn)?;
        diesel::insert_into(notification_policies::table)
            .values((
                notification_policies::actor_id.eq(actor_id),
                notification_policies::for_not_following.eq(policy.for_not_following.as_str()),
                notification_policies::for_not_followers.eq(policy.for_not_followers.as_str()),
                notification_policies::for_new_accounts.eq(policy.for_new_accounts.as_str()),
                notification_policies::for_private_mentions.eq(policy.for_private_mentions.as_str()),
                notification_policies::for_limited_accounts.eq(policy.for_limited_accounts.as_str()),
                notification_policies::updated_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    })
}

fn follows(conn: &mut DbConnection, follower: i64, target: i64) -> StorageResult<bool> {
    Ok(crate::follows::find(conn, follower, target)?.is_some_and(|f| f.is(FollowState::Accepted)))
}

fn permitted(conn: &mut DbConnection, recipient: i64, sender: i64) -> StorageResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(notification_permissions::table.find((recipient, sender))))
        .get_result(conn)?)
}

/// What `recipient`'s policy does with a notification from `sender` (about `status`; the
/// private-mention rule is for mentions only). Accounts
/// the recipient follows, and senders whose requests it accepted, always pass.
pub fn decide(
    conn: &mut DbConnection,
    recipient: i64,
    sender: &Actor,
    status: Option<&Status>,
    is_mention: bool,
) -> StorageResult<Decision> {
    let policy = get(conn, recipient)?;
    if policy == Policy::default()
        || follows(conn, recipient, sender.id)?
        || permitted(conn, recipient, sender.id)?
    {
        return Ok(Decision::Accept);
    }
    let mut decision = policy.for_not_following;
    if !follows(conn, sender.id, recipient)? {
        decision = decision.max(policy.for_not_followers);
    }
    let born = sender.published_at.unwrap_or(sender.created_at);
    if born > now() - NEW_ACCOUNT {
        decision = decision.max(policy.for_new_accounts);
    }
    if sender.limited {
        decision = decision.max(policy.for_limited_accounts);
    }
    if let Some(s) = status
        && is_mention
        && s.is(Visibility::Direct)
        && s.in_reply_to_actor_id != Some(recipient)
    {
        decision = decision.max(policy.for_private_mentions);
    }
    Ok(decision)
}

/// A notification request: the filtered notifications from one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The sender (the request's id is the sender's id).
    pub from_actor_id: i64,
    /// Its newest filtered notification.
    pub last_notification_id: i64,
    /// Its newest status, if any.
    pub last_status_id: Option<i64>,
    /// How many notifications wait.
    pub notifications_count: i64,
    /// Its first notification's time.
    pub created_at: Timestamp,
    /// Its newest notification's time.
    pub updated_at: Timestamp,
}

#[derive(QueryableByName)]
struct RequestRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    from_actor_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    first_at: Timestamp,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    last_at: Timestamp,
}

/// `recipient`'s notification requests (one per sender), newest first, below `max_id` (a
/// last notification id) when given; only the requests of `sender` when given.
pub fn requests(
    conn: &mut DbConnection,
    recipient: i64,
    max_id: Option<i64>,
    sender: Option<i64>,
    limit: i64,
) -> StorageResult<Vec<Request>> {
    let below = max_id.map_or(String::new(), |m| format!(" HAVING MAX(id) < {m}"));
    let only = sender.map_or(String::new(), |s| format!(" AND from_actor_id = {s}"));
    // Every value formatted in is our own integer.
    let sql = format!(
        "SELECT from_actor_id, MAX(id) AS last_id, COUNT(*) AS count, MIN(created_at) AS first_at, \
                MAX(created_at) AS last_at \
         FROM notifications WHERE recipient_id = {recipient} AND filtered = TRUE{only} \
         GROUP BY from_actor_id{below} ORDER BY last_id DESC LIMIT {limit}",
        limit = limit.max(0),
    );
    let rows: Vec<RequestRow> = diesel::sql_query(sql).load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let last_status_id = notifications::table
            .filter(notifications::recipient_id.eq(recipient))
            .filter(notifications::filtered.eq(true))
            .filter(notifications::from_actor_id.eq(r.from_actor_id))
            .filter(notifications::status_id.is_not_null())
            .order(notifications::id.desc())
            .select(notifications::status_id)
            .first::<Option<i64>>(conn)
            .optional()?
            .flatten();
        out.push(Request {
            from_actor_id: r.from_actor_id,
            last_notification_id: r.last_id,
            last_status_id,
            notifications_count: r.count,
            created_at: r.first_at,
            updated_at: r.last_at,
        });
    }
    Ok(out)
}

/// Accepts the request from `sender`: its notifications show, and later ones are never
/// filtered. Returns false when there was no such request.
pub fn accept(conn: &mut DbConnection, recipient: i64, sender: i64) -> StorageResult<bool> {
    crate::transaction(conn, |conn| {
        let shown = diesel::update(
            notifications::table
                .filter(notifications::recipient_id.eq(recipient))
                .filter(notifications::from_actor_id.eq(sender))
                .filter(notifications::filtered.eq(true)),
        )
        .set(notifications::filtered.eq(false))
        .execute(conn)?;
        if !permitted(conn, recipient, sender)? {
            diesel::insert_into(notification_permissions::table)
                .values((
                    notification_permissions::actor_id.eq(recipient),
                    notification_permissions::from_actor_id.eq(sender),
                    notification_permissions::created_at.eq(now()),
                ))
                .execute(conn)?;
        }
        Ok(shown > 0)
    })
}

/// Dismisses the request from `sender`: its notifications are deleted. Returns false when
/// there was no such request.
pub fn dismiss(conn: &mut DbConnection, recipient: i64, sender: i64) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        let gone = diesel::delete(
            notifications::table
                .filter(notifications::recipient_id.eq(recipient))
                .filter(notifications::from_actor_id.eq(sender))
                .filter(notifications::filtered.eq(true)),
        )
        .execute(conn)?;
        Ok(gone > 0)
    })
}

/// How many requests wait, and how many notifications they hold.
pub fn summary(conn: &mut DbConnection, recipient: i64) -> StorageResult<(i64, i64)> {
    let filtered = notifications::table
        .filter(notifications::recipient_id.eq(recipient))
        .filter(notifications::filtered.eq(true));
    let senders: i64 = filtered
        .select(diesel::dsl::count(notifications::from_actor_id).aggregate_distinct())
        .get_result(conn)?;
    let count: i64 = filtered.count().get_result(conn)?;
    Ok((senders, count))
}

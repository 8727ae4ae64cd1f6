//! Notifications for local users: mentions, follows, follow requests, likes, boosts, edits.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::notifications;
use crate::{DbConnection, StorageResult, Timestamp, actors, now};

/// Notification types, as the Mastodon API spells them.
pub const KINDS: [&str; 10] = [
    "mention",
    "status",
    "reblog",
    "follow",
    "follow_request",
    "favourite",
    "poll",
    "update",
    "event_reminder",
    "event_participation",
];

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// Someone mentioned the recipient.
    Mention,
    /// Someone the recipient gets notified about posted.
    Status,
    /// Someone boosted the recipient's status.
    Reblog,
    /// Someone followed the recipient (or joined its group).
    Follow,
    /// Someone asks to follow the recipient.
    FollowRequest,
    /// Someone liked the recipient's status.
    Favourite,
    /// A poll the recipient wrote or voted in has ended.
    Poll,
    /// A status the recipient boosted was edited.
    Update,
    /// An event the recipient is coming to starts soon.
    EventReminder,
    /// Someone answered the recipient's event (joined, asked to join, or left).
    EventParticipation,
}

impl NotificationKind {
    /// The kind spelled `text` (as stored), if any.
    pub fn parse(text: &str) -> Option<NotificationKind> {
        use NotificationKind as K;
        [
            K::Mention,
            K::Status,
            K::Reblog,
            K::Follow,
            K::FollowRequest,
            K::Favourite,
            K::Poll,
            K::Update,
            K::EventReminder,
            K::EventParticipation,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Mention => "mention",
            NotificationKind::Status => "status",
            NotificationKind::Reblog => "reblog",
            NotificationKind::Follow => "follow",
            NotificationKind::FollowRequest => "follow_request",
            NotificationKind::Favourite => "favourite",
            NotificationKind::Poll => "poll",
            NotificationKind::Update => "update",
            NotificationKind::EventReminder => "event_reminder",
            NotificationKind::EventParticipation => "event_participation",
        }
    }

    /// Kinds that a sender's standing (the notification policy) may filter; a poll's end and
    /// an edit are never held back.
    fn filterable(self) -> bool {
        !matches!(self, NotificationKind::Poll | NotificationKind::Update | NotificationKind::EventReminder)
    }

    /// Kinds that group (API v2): likes and boosts of one status, follows.
    fn groups(self) -> bool {
        matches!(self, NotificationKind::Favourite | NotificationKind::Reblog | NotificationKind::Follow)
    }
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    /// Our id (time-sortable).
    pub id: i64,
    /// The local actor notified.
    pub recipient_id: i64,
    /// One of [`KINDS`].
    pub kind: String,
    /// Who caused it.
    pub from_actor_id: i64,
    /// The status concerned.
    pub status_id: Option<i64>,
    /// When.
    pub created_at: Timestamp,
    /// Notifications with one key show as one group (API v2); `None`: on its own.
    pub group_key: Option<String>,
    /// Held back by the recipient's notification policy, as a notification request.
    pub filtered: bool,
}

impl Notification {
    /// The key it groups under in API v2 (`ungrouped-ID` when it stands alone).
    pub fn group_key(&self) -> String {
        self.group_key.clone().unwrap_or_else(|| format!("ungrouped-{}", self.id))
    }
}

/// Likes, boosts and follows an hour apart or less group together, for at most this long.
const MAXIMUM_GROUP_SPAN_HOURS: i64 = 12;

/// The group key of a new notification: `favourite-STATUS-HOUR` (`follow-HOUR`), where HOUR
/// is the hour of the group's first notification, so a group spans at most 12 hours.
fn group_key_for(
    conn: &mut DbConnection,
    recipient: i64,
    kind: NotificationKind,
    status_id: Option<i64>,
    at: Timestamp,
) -> StorageResult<Option<String>> {
    if !kind.groups() {
        return Ok(None);
    }
    let prefix = match status_id {
        Some(s) => format!("{}-{s}-", kind.as_str()),
        None => format!("{}-", kind.as_str()),
    };
    // Keys of one prefix sort by hour (same number of digits for the next few millennia).
    let mut above = prefix.clone();
    above.pop();
    above.push('.');
    let latest: Option<String> = notifications::table
        .filter(notifications::recipient_id.eq(recipient))
        .filter(notifications::group_key.ge(&prefix))
        .filter(notifications::group_key.lt(&above))
        .order(notifications::group_key.desc())
        .select(notifications::group_key)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten();
    let hour = at.and_utc().timestamp() / 3600;
    let previous = latest.and_then(|k| k.strip_prefix(&prefix)?.parse::<i64>().ok());
    let bucket = match previous {
        Some(p) if hour < p + MAXIMUM_GROUP_SPAN_HOURS => p,
        _ => hour,
    };
    Ok(Some(format!("{prefix}{bucket}")))
}

/// Notifies `recipient` when it is a live local actor other than `from` (a poll's end
/// notifies its author too), unless it blocks `from` or `from`'s domain, muted the
/// conversation, or its notification policy drops it; a policy may also hold it back
/// (filtered) as a notification request.
pub fn notify(
    conn: &mut DbConnection,
    recipient: i64,
    kind: NotificationKind,
    from: i64,
    status_id: Option<i64>,
) -> StorageResult<()> {
    if recipient == from && !matches!(kind, NotificationKind::Poll | NotificationKind::EventReminder) {
        return Ok(());
    }
    crate::atomic(conn, |conn| {
        let target = actors::get(conn, recipient)?;
        if !target.is_local() || target.deleted_at.is_some() || crate::blocks::exists(conn, recipient, from)?
        {
            return Ok(());
        }
        let sender = actors::get(conn, from)?;
        if let Some(domain) = &sender.domain
            && crate::domain_blocks::is_blocked(conn, recipient, domain)?
        {
            return Ok(());
        }
        let status = status_id.map(|id| crate::statuses::get(conn, id)).transpose()?;
        if let Some(status) = &status
            && crate::conversation_mutes::is_muted(conn, recipient, status)?
        {
            return Ok(());
        }
        let filtered = match kind.filterable() && recipient != from {
            true => match crate::notification_policy::decide(
                conn,
                recipient,
                &sender,
                status.as_ref(),
                kind == NotificationKind::Mention,
            )? {
                crate::notification_policy::Decision::Drop => return Ok(()),
                decision => decision == crate::notification_policy::Decision::Filter,
            },
            false => false,
        };
        let stamp = now();
        let group_key = match filtered {
            true => None,
            false => group_key_for(conn, recipient, kind, status_id, stamp)?,
        };
        let row = Notification {
            id: Id::generate().0,
            recipient_id: recipient,
            kind: kind.as_str().to_owned(),
            from_actor_id: from,
            status_id,
            created_at: stamp,
            group_key,
            filtered,
        };
        diesel::insert_into(notifications::table).values(&row).execute(conn)?;
        crate::wakeups::mark(crate::wakeups::Change::Streams);
        crate::mail::on_notification(conn, &row)
    })
}

/// Notifies every local actor a new status mentions (its author excepted).
pub fn mentioned(conn: &mut DbConnection, status: &crate::statuses::Status) -> StorageResult<()> {
    for actor in crate::status_parts::mentions(conn, status.id)? {
        notify(conn, actor, NotificationKind::Mention, status.actor_id, Some(status.id))?;
    }
    Ok(())
}

/// Notifies the local followers who asked for it (the bell) of a new post of the account
/// they follow: not of direct messages, boosts, or replies to someone else.
pub fn subscribed(conn: &mut DbConnection, status: &crate::statuses::Status) -> StorageResult<()> {
    let reply_to_other = status.in_reply_to_actor_id.is_some_and(|a| a != status.actor_id)
        || (status.in_reply_to_ap_id.is_some() && status.in_reply_to_actor_id.is_none());
    if status.is(guildhall_core::model::Visibility::Direct) || status.reblog_of_id.is_some() || reply_to_other
    {
        return Ok(());
    }
    let mentioned = crate::status_parts::mentions(conn, status.id)?;
    for follower in crate::follows::subscribers(conn, status.actor_id)? {
        if !mentioned.contains(&follower) {
            notify(conn, follower, NotificationKind::Status, status.actor_id, Some(status.id))?;
        }
    }
    Ok(())
}

/// A page of notifications, newest first.
pub fn list(
    conn: &mut DbConnection,
    recipient: i64,
    kinds: Option<&[String]>,
    page: &crate::timelines::Page,
) -> StorageResult<Vec<Notification>> {
    let mut query = notifications::table
        .filter(notifications::recipient_id.eq(recipient))
        .filter(notifications::filtered.eq(false))
        .into_boxed();
    if let Some(kinds) = kinds {
        query = query.filter(notifications::kind.eq_any(kinds.to_vec()));
    }
    if let Some(max) = page.max_id {
        query = query.filter(notifications::id.lt(max));
    }
    if let Some(since) = page.since_id {
        query = query.filter(notifications::id.gt(since));
    }
    let rows: Vec<Notification> = match page.min_id {
        Some(min) => {
            let mut up: Vec<Notification> = query
                .filter(notifications::id.gt(min))
                .order(notifications::id.asc())
                .limit(page.limit)
                .select(Notification::as_select())
                .load(conn)?;
            up.reverse();
            up
        }
        None => query
            .order(notifications::id.desc())
            .limit(page.limit)
            .select(Notification::as_select())
            .load(conn)?,
    };
    Ok(rows)
}

/// A group of notifications as API v2 shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Its key (`ungrouped-ID` for one that stands alone).
    pub key: String,
    /// The newest notification of the group within the page.
    pub latest: Notification,
    /// Notifications in the group, up to the newest.
    pub count: i64,
    /// The oldest notification of the group within the page.
    pub page_min_id: i64,
    /// Up to eight senders, newest first.
    pub sample_account_ids: Vec<i64>,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    top: i64,
}

/// Notifications looked at for one page of groups: a page groups what happened lately, not
/// the whole history below `max_id`.
const GROUPING_WINDOW: i64 = 2_000;

/// SQL: the senders whose notifications `recipient` muted (our own integer formatted in).
fn muted_senders(recipient: i64) -> String {
    format!("SELECT target_id FROM mutes WHERE actor_id = {recipient} AND notifications = TRUE")
}

/// Senders shown per group.
const SAMPLE_ACCOUNTS: usize = 8;
/// Notifications of one group read for a page (its count is exact beyond it).
const GROUP_READ: i64 = 200;

/// SQL text of a kind list; only kinds named in [`KINDS`] get in.
fn kind_list(kinds: &[String]) -> String {
    let known: Vec<String> =
        kinds.iter().filter(|k| KINDS.contains(&k.as_str())).map(|k| format!("'{k}'")).collect();
    if known.is_empty() { "''".into() } else { known.join(", ") }
}

/// A page of `recipient`'s notification groups (API v2), newest first: notifications of
/// `kinds` (filtered ones and muted senders' left out), those of `grouped` kinds by their
/// group key, the rest one by one. Paging bounds apply to notification ids.
pub fn groups(
    conn: &mut DbConnection,
    recipient: i64,
    kinds: &[String],
    grouped: &[String],
    page: &crate::timelines::Page,
) -> StorageResult<Vec<Group>> {
    let mut bounds = String::new();
    if let Some(max) = page.max_id {
        bounds.push_str(&format!(" AND id < {max}"));
    }
    for lower in [page.since_id, page.min_id].into_iter().flatten() {
        bounds.push_str(&format!(" AND id > {lower}"));
    }
    let order = if page.min_id.is_some() { "ASC" } else { "DESC" };
    // Every value formatted in is our own integer or a kind from KINDS.
    let sql = format!(
        "SELECT CASE WHEN group_key IS NOT NULL AND kind IN ({grouped}) THEN group_key \
                ELSE 'ungrouped-' || CAST(id AS TEXT) END AS key, MAX(id) AS top \
         FROM (SELECT id, kind, group_key FROM notifications \
               WHERE recipient_id = {recipient} AND filtered = FALSE AND kind IN ({kinds}){bounds} \
                 AND from_actor_id NOT IN ({muted}) \
               ORDER BY id {order} LIMIT {window}) AS recent \
         GROUP BY 1 ORDER BY top {order} LIMIT {limit}",
        grouped = kind_list(grouped),
        kinds = kind_list(kinds),
        limit = page.limit.max(0),
        muted = muted_senders(recipient),
        window = GROUPING_WINDOW,
    );
    let mut keys: Vec<KeyRow> = diesel::sql_query(sql).load(conn)?;
    if page.min_id.is_some() {
        keys.reverse();
    }
    let lower = page.since_id.into_iter().chain(page.min_id).max().unwrap_or(0);
    keys.into_iter().map(|k| load_group(conn, recipient, k, lower)).collect()
}

fn load_group(conn: &mut DbConnection, recipient: i64, k: KeyRow, lower: i64) -> StorageResult<Group> {
    let latest = get(conn, recipient, k.top)?;
    if k.key.starts_with("ungrouped-") {
        return Ok(Group {
            key: k.key,
            page_min_id: latest.id,
            count: 1,
            sample_account_ids: vec![latest.from_actor_id],
            latest,
        });
    }
    let in_group = || {
        notifications::table
            .filter(notifications::recipient_id.eq(recipient))
            .filter(notifications::group_key.eq(k.key.clone()))
            .filter(notifications::filtered.eq(false))
            .filter(notifications::id.le(k.top))
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "from_actor_id NOT IN ({})",
                muted_senders(recipient)
            )))
    };
    let members: Vec<(i64, i64)> = in_group()
        .filter(notifications::id.gt(lower))
        .order(notifications::id.desc())
        .limit(GROUP_READ)
        .select((notifications::id, notifications::from_actor_id))
        .load(conn)?;
    let count: i64 = in_group().count().get_result(conn)?;
    let mut sample = Vec::new();
    for (_, from) in &members {
        if !sample.contains(from) && sample.len() < SAMPLE_ACCOUNTS {
            sample.push(*from);
        }
    }
    Ok(Group {
        page_min_id: members.last().map_or(latest.id, |m| m.0),
        key: k.key,
        count,
        sample_account_ids: sample,
        latest,
    })
}

/// The newest notification of group `key` (an `ungrouped-ID` key names one notification).
pub fn group(conn: &mut DbConnection, recipient: i64, key: &str) -> StorageResult<Group> {
    let top = match key.strip_prefix("ungrouped-") {
        Some(id) => id.parse::<i64>().map_err(|_| crate::StorageError::NotFound)?,
        None => notifications::table
            .filter(notifications::recipient_id.eq(recipient))
            .filter(notifications::group_key.eq(key))
            .filter(notifications::filtered.eq(false))
            .select(diesel::dsl::max(notifications::id))
            .first::<Option<i64>>(conn)?
            .ok_or(crate::StorageError::NotFound)?,
    };
    load_group(conn, recipient, KeyRow { key: key.to_owned(), top }, 0)
}

/// Every sender of group `key`, newest first (at most `limit`).
pub fn group_senders(
    conn: &mut DbConnection,
    recipient: i64,
    key: &str,
    limit: i64,
) -> StorageResult<Vec<i64>> {
    if key.starts_with("ungrouped-") {
        return Ok(group(conn, recipient, key)?.sample_account_ids);
    }
    let rows: Vec<i64> = notifications::table
        .filter(notifications::recipient_id.eq(recipient))
        .filter(notifications::group_key.eq(key))
        .filter(notifications::filtered.eq(false))
        .order(notifications::id.desc())
        .limit(limit.saturating_mul(4))
        .select(notifications::from_actor_id)
        .load(conn)?;
    let mut out: Vec<i64> = Vec::new();
    for from in rows {
        if !out.contains(&from) && out.len() < usize::try_from(limit).unwrap_or(0) {
            out.push(from);
        }
    }
    Ok(out)
}

/// Dismisses every notification of group `key`; returns whether any existed.
pub fn dismiss_group(conn: &mut DbConnection, recipient: i64, key: &str) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        if let Some(id) = key.strip_prefix("ungrouped-") {
            let id = id.parse::<i64>().map_err(|_| crate::StorageError::NotFound)?;
            return dismiss(conn, recipient, id);
        }
        let n = diesel::delete(
            notifications::table
                .filter(notifications::recipient_id.eq(recipient))
                .filter(notifications::group_key.eq(key)),
        )
        .execute(conn)?;
        Ok(n > 0)
    })
}

/// Notifications (or, `grouped`, groups) of `kinds` newer than `after`, counted up to `limit`.
pub fn unread_count(
    conn: &mut DbConnection,
    recipient: i64,
    kinds: &[String],
    grouped: Option<&[String]>,
    after: i64,
    limit: i64,
) -> StorageResult<i64> {
    let page = crate::timelines::Page { max_id: None, since_id: Some(after), min_id: None, limit };
    match grouped {
        Some(grouped) => {
            Ok(i64::try_from(groups_keys_only(conn, recipient, kinds, grouped, &page)?).unwrap_or(0))
        }
        None => Ok(i64::try_from(list(conn, recipient, Some(kinds), &page)?.len()).unwrap_or(0)),
    }
}

fn groups_keys_only(
    conn: &mut DbConnection,
    recipient: i64,
    kinds: &[String],
    grouped: &[String],
    page: &crate::timelines::Page,
) -> StorageResult<usize> {
    let sql = format!(
        "SELECT CASE WHEN group_key IS NOT NULL AND kind IN ({grouped}) THEN group_key \
                ELSE 'ungrouped-' || CAST(id AS TEXT) END AS key, MAX(id) AS top \
         FROM notifications WHERE recipient_id = {recipient} AND filtered = FALSE AND kind IN ({kinds}) \
           AND id > {after} AND from_actor_id NOT IN ({muted}) GROUP BY 1 LIMIT {limit}",
        muted = muted_senders(recipient),
        grouped = kind_list(grouped),
        kinds = kind_list(kinds),
        after = page.since_id.unwrap_or(0),
        limit = page.limit.max(0),
    );
    Ok(diesel::sql_query(sql).load::<KeyRow>(conn)?.len())
}

/// One notification of `recipient`.
pub fn get(conn: &mut DbConnection, recipient: i64, id: i64) -> StorageResult<Notification> {
    Ok(notifications::table
        .filter(notifications::id.eq(id))
        .filter(notifications::recipient_id.eq(recipient))
        .select(Notification::as_select())
        .first(conn)?)
}

/// Dismisses one notification; returns whether it existed.
pub fn dismiss(conn: &mut DbConnection, recipient: i64, id: i64) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        let n = diesel::delete(
            notifications::table
                .filter(notifications::id.eq(id))
                .filter(notifications::recipient_id.eq(recipient)),
        )
        .execute(conn)?;
        Ok(n > 0)
    })
}

/// Dismisses all of a recipient's notifications.
pub fn clear(conn: &mut DbConnection, recipient: i64) -> StorageResult<usize> {
    crate::atomic(conn, |conn| {
        Ok(diesel::delete(notifications::table.filter(notifications::recipient_id.eq(recipient)))
            .execute(conn)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows};
    use crate::timelines::Page;

    #[tokio::test]
    async fn notify_list_filter_page_and_dismiss() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
                notify(c, ada.id, NotificationKind::Follow, eve.id, None)?;
                notify(c, ada.id, NotificationKind::Favourite, eve.id, None)?;
                notify(c, ada.id, NotificationKind::Mention, ada.id, None)?;
                notify(c, eve.id, NotificationKind::Mention, ada.id, None)?;
                let all = list(c, ada.id, None, &Page::default())?;
                assert_eq!(
                    all.iter().map(|n| n.kind.as_str()).collect::<Vec<_>>(),
                    vec!["favourite", "follow"]
                );
                let follows = list(c, ada.id, Some(&["follow".to_string()]), &Page::default())?;
                assert_eq!(follows.len(), 1);
                let older = list(c, ada.id, None, &Page { max_id: Some(all[0].id), ..Page::default() })?;
                assert_eq!(older.iter().map(|n| n.id).collect::<Vec<_>>(), vec![all[1].id]);
                let newer = list(c, ada.id, None, &Page { min_id: Some(all[1].id), ..Page::default() })?;
                assert_eq!(newer.iter().map(|n| n.id).collect::<Vec<_>>(), vec![all[0].id]);
                assert_eq!(get(c, ada.id, all[0].id)?.kind, "favourite");
                assert!(dismiss(c, ada.id, all[0].id)?);
                assert_eq!(clear(c, ada.id)?, 1);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn groups_requests_and_unread_counts_on_both_backends() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
                let max = actors::upsert_remote(c, &rows::remote("max", "r.example"))?;
                let s = rows::status(&ada, "hello");
                crate::statuses::insert(c, &s)?;
                for from in [eve.id, max.id] {
                    notify(c, ada.id, NotificationKind::Favourite, from, Some(s.id))?;
                }
                notify(c, ada.id, NotificationKind::Mention, eve.id, Some(s.id))?;
                let kinds: Vec<String> = KINDS.iter().map(|k| (*k).to_owned()).collect();
                let grouped = vec!["favourite".to_owned()];
                let page = Page::default();
                let found = groups(c, ada.id, &kinds, &grouped, &page)?;
                assert_eq!(found.len(), 2);
                assert_eq!((found[1].count, found[1].sample_account_ids.len()), (2, 2));
                assert!(found[0].key.starts_with("ungrouped-"));
                assert_eq!(unread_count(c, ada.id, &kinds, Some(&grouped), 0, 100)?, 2);
                assert_eq!(unread_count(c, ada.id, &kinds, None, 0, 100)?, 3);
                // A policy that holds back strangers makes a request.
                let policy = crate::notification_policy::Policy {
                    for_not_following: crate::notification_policy::Decision::Filter,
                    ..Default::default()
                };
                crate::notification_policy::set(c, ada.id, &policy)?;
                notify(c, ada.id, NotificationKind::Mention, max.id, Some(s.id))?;
                let requests = crate::notification_policy::requests(c, ada.id, None, None, 10)?;
                assert_eq!(requests.len(), 1);
                assert_eq!((requests[0].from_actor_id, requests[0].notifications_count), (max.id, 1));
                assert_eq!(groups(c, ada.id, &kinds, &grouped, &page)?.len(), 2, "held back");
                assert!(crate::notification_policy::accept(c, ada.id, max.id)?);
                assert_eq!(groups(c, ada.id, &kinds, &grouped, &page)?.len(), 3);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

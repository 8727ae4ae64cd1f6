//! Mail's rows: the instance's signing secret, members' notification-mail choices, group mail
//! subscriptions (members' digests and every-post mail, and addresses without an account),
//! and the jobs that compose and send mail.
//!
//! Every mail starts as a job queued in the transaction of the change that causes it (a
//! notification, a post accepted into a group, a sign-up), so a rollback sends nothing and a
//! crash loses nothing; the mail worker composes it into a `mail_send` job and sends that.

use diesel::prelude::*;
use guildhall_core::Id;
use guildhall_core::mail::{GroupMailMode, MailCategory};
use serde::{Deserialize, Serialize};

use crate::jobs::{self, NewJob};
use crate::notifications::{Notification, NotificationKind};
use crate::schema::{group_mail_subscriptions as subs, mail_secret, users};
use crate::{DbConnection, StorageResult, Timestamp, now, parse_text};

/// Composed mail, ready for SMTP: one job per message.
pub const SEND_QUEUE: &str = "mail_send";
/// A notification or report to mail to members who want it.
pub const NOTICE_QUEUE: &str = "mail_notice";
/// Account mail: confirm an address, reset a password, approval, sign-ups to review.
pub const ACCOUNT_QUEUE: &str = "mail_account";
/// A post accepted into a group, to mail to its every-post readers.
pub const GROUP_POST_QUEUE: &str = "mail_group_post";
/// One reader's digest of one group.
pub const DIGEST_QUEUE: &str = "mail_digest";
/// Every mail queue, composing first.
pub const QUEUES: [&str; 5] = [ACCOUNT_QUEUE, NOTICE_QUEUE, GROUP_POST_QUEUE, DIGEST_QUEUE, SEND_QUEUE];

/// Attempts before a composing job gives up.
const COMPOSE_ATTEMPTS: i32 = 5;

/// The instance's secret for signing mailed links and reply addresses, made on first use.
pub fn secret(conn: &mut DbConnection) -> StorageResult<Vec<u8>> {
    if let Some(secret) = read_secret(conn)? {
        return Ok(secret);
    }
    // 256 random bits, base64url-encoded; the text's bytes are the HMAC key.
    let fresh = guildhall_core::keys::token_hash(&guildhall_core::keys::random_token());
    let row = (mail_secret::id.eq(1), mail_secret::secret.eq(&fresh), mail_secret::created_at.eq(now()));
    match conn {
        DbConnection::Pg(pg) => {
            diesel::insert_into(mail_secret::table).values(row).on_conflict_do_nothing().execute(pg)?
        }
        DbConnection::Sqlite(sqlite) => {
            diesel::insert_or_ignore_into(mail_secret::table).values(row).execute(sqlite)?
        }
    };
    // Another process may have won the race: its secret is the one.
    read_secret(conn)?.ok_or_else(|| crate::StorageError::Corrupt("the mail secret was not stored".into()))
}

fn read_secret(conn: &mut DbConnection) -> StorageResult<Option<Vec<u8>>> {
    let hex: Option<String> = mail_secret::table
        .filter(mail_secret::id.eq(1))
        .select(mail_secret::secret)
        .first(conn)
        .optional()?;
    Ok(hex.map(String::into_bytes))
}

/// Which notifications a member receives by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailPrefs {
    /// Mentions and replies.
    pub mentions: bool,
    /// Follow requests, and join requests for groups one moderates.
    pub follow_requests: bool,
    /// Reports, for moderators and admins.
    pub reports: bool,
    /// Reminders of events one is coming to.
    pub event_reminders: bool,
}

impl Default for MailPrefs {
    /// What a new account starts with (the columns' defaults).
    fn default() -> MailPrefs {
        MailPrefs { mentions: true, follow_requests: true, reports: true, event_reminders: false }
    }
}

impl MailPrefs {
    /// Whether `category` is on.
    pub fn wants(&self, category: MailCategory) -> bool {
        match category {
            MailCategory::Mentions => self.mentions,
            MailCategory::FollowRequests => self.follow_requests,
            MailCategory::Reports => self.reports,
            MailCategory::EventReminders => self.event_reminders,
        }
    }

    /// These choices with `category` set to `on`.
    pub fn with(mut self, category: MailCategory, on: bool) -> MailPrefs {
        match category {
            MailCategory::Mentions => self.mentions = on,
            MailCategory::FollowRequests => self.follow_requests = on,
            MailCategory::Reports => self.reports = on,
            MailCategory::EventReminders => self.event_reminders = on,
        }
        self
    }
}

/// A local person's mail choices and address; `None` for anyone else (groups, remote actors,
/// closed accounts).
pub fn prefs(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Option<(String, MailPrefs)>> {
    let row: Option<(String, bool, bool, bool, bool)> = users::table
        .filter(users::actor_id.eq(actor_id))
        .filter(users::disabled.eq(false))
        .filter(users::email_confirmed_at.is_not_null())
        .select((
            users::email,
            users::mail_mentions,
            users::mail_follow_requests,
            users::mail_reports,
            users::mail_event_reminders,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(email, mentions, follow_requests, reports, event_reminders)| {
        (email, MailPrefs { mentions, follow_requests, reports, event_reminders })
    }))
}

/// Stores a member's mail choices; false when there is no such local person.
pub fn set_prefs(conn: &mut DbConnection, actor_id: i64, prefs: MailPrefs) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        let n = diesel::update(users::table.filter(users::actor_id.eq(actor_id)))
            .set((
                users::mail_mentions.eq(prefs.mentions),
                users::mail_follow_requests.eq(prefs.follow_requests),
                users::mail_reports.eq(prefs.reports),
                users::mail_event_reminders.eq(prefs.event_reminders),
            ))
            .execute(conn)?;
        Ok(n > 0)
    })
}

/// What a notice job mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// A notification, to its recipient (a group's: to its moderators).
    Notification {
        /// The notification.
        notification_id: i64,
    },
    /// A report, to the admins (and a group's moderators when it is about a group's post).
    Report {
        /// The report.
        report_id: i64,
    },
}

/// The mail category a notification kind belongs to, if it is mailed at all.
pub fn category_of(kind: NotificationKind) -> Option<MailCategory> {
    match kind {
        NotificationKind::Mention => Some(MailCategory::Mentions),
        NotificationKind::FollowRequest => Some(MailCategory::FollowRequests),
        NotificationKind::EventReminder => Some(MailCategory::EventReminders),
        _ => None,
    }
}

/// Queues the mail for a new notification when its recipient (or, for a group, anyone)
/// might want it; the worker decides per reader. Called in the notification's transaction.
pub(crate) fn on_notification(conn: &mut DbConnection, n: &Notification) -> StorageResult<()> {
    if n.filtered {
        return Ok(());
    }
    let Some(category) = NotificationKind::parse(&n.kind).and_then(category_of) else { return Ok(()) };
    let wanted = match prefs(conn, n.recipient_id)? {
        Some((_, prefs)) => prefs.wants(category),
        // A group's join requests go to its moderators; its mentions are its posts, which
        // reach readers as group mail.
        None => {
            category == MailCategory::FollowRequests && crate::groups::get(conn, n.recipient_id)?.is_some()
        }
    };
    if wanted {
        enqueue_notice(conn, Notice::Notification { notification_id: n.id })?;
    }
    Ok(())
}

/// Queues the mail for a new report. Called in the report's transaction.
pub fn on_report(conn: &mut DbConnection, report_id: i64) -> StorageResult<()> {
    enqueue_notice(conn, Notice::Report { report_id })
}

fn enqueue_notice(conn: &mut DbConnection, notice: Notice) -> StorageResult<()> {
    let payload = serde_json::to_string(&notice).map_err(|e| crate::StorageError::Corrupt(e.to_string()))?;
    compose_job(conn, NOTICE_QUEUE, payload, None, now())
}

fn compose_job(
    conn: &mut DbConnection,
    queue: &str,
    payload: String,
    partition_key: Option<String>,
    run_at: Timestamp,
) -> StorageResult<()> {
    jobs::enqueue(
        conn,
        NewJob { queue: queue.into(), payload, partition_key, run_at, max_attempts: COMPOSE_ATTEMPTS },
    )?;
    Ok(())
}

/// Account mail to compose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountMail {
    /// Confirm the address of a new sign-up.
    ConfirmAddress {
        /// The login.
        user_id: i64,
    },
    /// A link to set a new password.
    ResetPassword {
        /// The login.
        user_id: i64,
    },
    /// The sign-up was approved.
    Approved {
        /// The login.
        user_id: i64,
    },
    /// The sign-up was refused (the account is gone, so its address and name travel here).
    Rejected {
        /// Where to write.
        email: String,
        /// The name they asked for.
        username: String,
    },
    /// Someone signed up and waits for approval: to every admin who wants reports.
    NewSignUp {
        /// The login waiting.
        user_id: i64,
    },
    /// An address asked to follow a group by mail: the double opt-in.
    ConfirmFollow {
        /// The subscription waiting.
        subscription_id: i64,
    },
}

/// How often a stranger may have one account mailed a reset or confirmation link.
pub const ACCOUNT_MAIL_COOLDOWN: chrono::Duration = chrono::Duration::minutes(15);

/// Queues `mail` (a reset or a new confirmation link, which anyone may ask for) unless the
/// account was sent one within [`ACCOUNT_MAIL_COOLDOWN`]; true when queued. The check and the
/// stamp are one conditional update, so concurrent requests queue one mail.
pub fn enqueue_requested_mail(
    conn: &mut DbConnection,
    user_id: i64,
    mail: &AccountMail,
) -> StorageResult<bool> {
    crate::transaction(conn, |conn| {
        let stamp = now();
        let claimed = diesel::update(users::table.filter(users::id.eq(user_id)).filter(
            users::account_mail_at.is_null().or(users::account_mail_at.lt(stamp - ACCOUNT_MAIL_COOLDOWN)),
        ))
        .set(users::account_mail_at.eq(stamp))
        .execute(conn)?;
        if claimed == 1 {
            enqueue_account_mail(conn, mail)?;
        }
        Ok(claimed == 1)
    })
}

/// Queues account mail; call in the transaction of the change it reports.
pub fn enqueue_account_mail(conn: &mut DbConnection, mail: &AccountMail) -> StorageResult<()> {
    let payload = serde_json::to_string(mail).map_err(|e| crate::StorageError::Corrupt(e.to_string()))?;
    compose_job(conn, ACCOUNT_QUEUE, payload, None, now())
}

/// Marks a login's address confirmed; false when it already was (or is gone). A sign-up
/// that waits for approval is announced to the admins now, when its address is known good.
pub fn confirm_address(conn: &mut DbConnection, user_id: i64) -> StorageResult<bool> {
    crate::transaction(conn, |conn| {
        let n = diesel::update(
            users::table.filter(users::id.eq(user_id)).filter(users::email_confirmed_at.is_null()),
        )
        .set(users::email_confirmed_at.eq(now()))
        .execute(conn)?;
        let pending: bool =
            users::table.find(user_id).select(users::approved).first::<bool>(conn).optional()? == Some(false);
        if n > 0 && pending {
            enqueue_account_mail(conn, &AccountMail::NewSignUp { user_id })?;
        }
        Ok(n > 0)
    })
}

/// A reader of a group's mail.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = subs)]
pub struct Subscription {
    /// Our id.
    pub id: i64,
    /// The group.
    pub group_id: i64,
    /// A member with an account…
    pub actor_id: Option<i64>,
    /// …or an address without one.
    pub email: Option<String>,
    /// [`GroupMailMode`] spelling.
    pub mode: String,
    /// The reader's IANA timezone, for the digest hour.
    pub timezone: String,
    /// The hour (0–23) digests go out.
    pub hour: i32,
    /// When an address confirmed (members need not).
    pub confirmed_at: Option<Timestamp>,
    /// The end of the period the last digest covered.
    pub digest_through: Option<Timestamp>,
    /// Row creation.
    pub created_at: Timestamp,
    /// Last row change.
    pub updated_at: Timestamp,
}

/// Who reads a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// A local member.
    Member(i64),
    /// An address without an account: sees what a stranger sees.
    Address(String),
}

impl Subscription {
    /// How mail reaches the reader.
    pub fn mode(&self) -> StorageResult<GroupMailMode> {
        parse_text(&self.mode, GroupMailMode::parse)
    }

    /// Who reads it.
    pub fn reader(&self) -> Reader {
        match (&self.actor_id, &self.email) {
            (Some(actor), _) => Reader::Member(*actor),
            (None, email) => Reader::Address(email.clone().unwrap_or_default()),
        }
    }

    /// Whether mail may go to it: members always, addresses once confirmed.
    pub fn active(&self) -> bool {
        self.actor_id.is_some() || self.confirmed_at.is_some()
    }
}

/// How a reader wants a group's mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Every post or a digest.
    pub mode: GroupMailMode,
    /// IANA timezone.
    pub timezone: String,
    /// Hour of the day for digests.
    pub hour: u32,
}

/// One subscription.
pub fn subscription(conn: &mut DbConnection, id: i64) -> StorageResult<Option<Subscription>> {
    Ok(subs::table.find(id).select(Subscription::as_select()).first(conn).optional()?)
}

/// A member's subscription to a group.
pub fn member_subscription(
    conn: &mut DbConnection,
    group_id: i64,
    actor_id: i64,
) -> StorageResult<Option<Subscription>> {
    Ok(subs::table
        .filter(subs::group_id.eq(group_id))
        .filter(subs::actor_id.eq(actor_id))
        .select(Subscription::as_select())
        .first(conn)
        .optional()?)
}

/// Every group mail a member gets.
pub fn member_subscriptions(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Vec<Subscription>> {
    Ok(subs::table
        .filter(subs::actor_id.eq(actor_id))
        .order(subs::id)
        .select(Subscription::as_select())
        .load(conn)?)
}

/// Sets (or with `None` stops) a member's mail from a group; a digest is scheduled at once.
pub fn set_member(
    conn: &mut DbConnection,
    group_id: i64,
    actor_id: i64,
    delivery: Option<Delivery>,
) -> StorageResult<Option<Subscription>> {
    crate::transaction(conn, |conn| {
        let existing = member_subscription(conn, group_id, actor_id)?;
        let Some(delivery) = delivery else {
            if let Some(old) = &existing {
                remove(conn, old.id)?;
            }
            return Ok(None);
        };
        let stamp = now();
        let row = match existing {
            // Kept in place, so the unsubscribe links of earlier mails still name it.
            Some(old) => {
                // A reader moving from every post to a digest has had everything so far.
                let through = match old.mode()?.is_digest() {
                    true => old.digest_through,
                    false => Some(stamp),
                };
                let row = Subscription {
                    digest_through: through,
                    mode: delivery.mode.as_str().into(),
                    timezone: delivery.timezone,
                    hour: i32::try_from(delivery.hour).unwrap_or(0),
                    updated_at: stamp,
                    ..old
                };
                diesel::update(subs::table.find(row.id))
                    .set((
                        subs::mode.eq(&row.mode),
                        subs::timezone.eq(&row.timezone),
                        subs::hour.eq(row.hour),
                        subs::digest_through.eq(row.digest_through),
                        subs::updated_at.eq(stamp),
                    ))
                    .execute(conn)?;
                row
            }
            None => {
                let row = Subscription {
                    id: Id::generate().0,
                    group_id,
                    actor_id: Some(actor_id),
                    email: None,
                    mode: delivery.mode.as_str().into(),
                    timezone: delivery.timezone,
                    hour: i32::try_from(delivery.hour).unwrap_or(0),
                    confirmed_at: Some(stamp),
                    // A digest covers what is new from now on.
                    digest_through: Some(stamp),
                    created_at: stamp,
                    updated_at: stamp,
                };
                diesel::insert_into(subs::table).values(&row).execute(conn)?;
                row
            }
        };
        jobs::cancel_partition(conn, DIGEST_QUEUE, &digest_partition(row.id))?;
        schedule_digest(conn, &row)?;
        Ok(Some(row))
    })
}

/// Asks for a group's mail at an address without an account: an unconfirmed row (or the
/// existing one, with the new choice). Returns it.
pub fn subscribe_address(
    conn: &mut DbConnection,
    group_id: i64,
    email: &str,
    delivery: Delivery,
) -> StorageResult<Subscription> {
    crate::transaction(conn, |conn| {
        let existing: Option<Subscription> = subs::table
            .filter(subs::group_id.eq(group_id))
            .filter(subs::email.eq(email))
            .select(Subscription::as_select())
            .first(conn)
            .optional()?;
        let stamp = now();
        if let Some(old) = existing {
            // A second request changes nothing: a stranger typing someone's address must not
            // alter what they receive. An unconfirmed one is asked again at most hourly.
            if old.confirmed_at.is_none() && old.updated_at < stamp - chrono::Duration::hours(1) {
                diesel::update(subs::table.find(old.id)).set(subs::updated_at.eq(stamp)).execute(conn)?;
                enqueue_account_mail(conn, &AccountMail::ConfirmFollow { subscription_id: old.id })?;
            }
            return Ok(old);
        }
        // One address is asked to confirm at most three follows a day, across all groups, so
        // the form cannot be used to flood someone's inbox.
        let asked: i64 = subs::table
            .filter(subs::email.eq(email))
            .filter(subs::confirmed_at.is_null())
            .filter(subs::created_at.gt(stamp - chrono::Duration::days(1)))
            .count()
            .get_result(conn)?;
        let row = Subscription {
            id: Id::generate().0,
            group_id,
            actor_id: None,
            email: Some(email.to_owned()),
            mode: delivery.mode.as_str().into(),
            timezone: delivery.timezone,
            hour: i32::try_from(delivery.hour).unwrap_or(0),
            confirmed_at: None,
            digest_through: None,
            created_at: stamp,
            updated_at: stamp,
        };
        diesel::insert_into(subs::table).values(&row).execute(conn)?;
        if asked < MAX_FOLLOW_CONFIRMATIONS_A_DAY {
            enqueue_account_mail(conn, &AccountMail::ConfirmFollow { subscription_id: row.id })?;
        }
        Ok(row)
    })
}

/// Confirmation mails one address may be sent a day for following groups by mail.
pub const MAX_FOLLOW_CONFIRMATIONS_A_DAY: i64 = 3;

/// Drops follows by mail never confirmed within three days (and their rows' addresses).
pub fn purge_unconfirmed(conn: &mut DbConnection) -> StorageResult<usize> {
    crate::atomic(conn, |conn| {
        Ok(diesel::delete(
            subs::table
                .filter(subs::actor_id.is_null())
                .filter(subs::confirmed_at.is_null())
                .filter(subs::created_at.lt(now() - chrono::Duration::days(3))),
        )
        .execute(conn)?)
    })
}

/// Ends every group mail of an actor (an account closed or deleted).
pub fn remove_all_of(conn: &mut DbConnection, actor_id: i64) -> StorageResult<()> {
    for sub in member_subscriptions(conn, actor_id)? {
        remove(conn, sub.id)?;
    }
    Ok(())
}

/// Ends a member's mail from a group (a ban, leaving).
pub fn remove_member(conn: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<()> {
    if let Some(sub) = member_subscription(conn, group_id, actor_id)? {
        remove(conn, sub.id)?;
    }
    Ok(())
}

/// Confirms an address's subscription (double opt-in); false when it already was.
pub fn confirm(conn: &mut DbConnection, id: i64) -> StorageResult<bool> {
    crate::transaction(conn, |conn| {
        let stamp = now();
        let n = diesel::update(subs::table.find(id).filter(subs::confirmed_at.is_null()))
            .set((subs::confirmed_at.eq(stamp), subs::digest_through.eq(stamp), subs::updated_at.eq(stamp)))
            .execute(conn)?;
        if n > 0
            && let Some(row) = subscription(conn, id)?
        {
            schedule_digest(conn, &row)?;
        }
        Ok(n > 0)
    })
}

/// Ends a subscription and its pending digest; false when it was gone.
pub fn remove(conn: &mut DbConnection, id: i64) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        jobs::cancel_partition(conn, DIGEST_QUEUE, &digest_partition(id))?;
        Ok(diesel::delete(subs::table.find(id)).execute(conn)? > 0)
    })
}

fn digest_partition(id: i64) -> String {
    format!("digest:{id}")
}

/// A digest job: which subscription, covering up to when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestJob {
    /// The subscription.
    pub subscription_id: i64,
}

/// Queues the subscription's next digest (none for every-post mail).
pub fn schedule_digest(conn: &mut DbConnection, sub: &Subscription) -> StorageResult<()> {
    let after = sub.digest_through.unwrap_or(sub.created_at).max(now());
    schedule_digest_after(conn, sub, after)
}

/// Queues the subscription's first digest after `after`, replacing any other waiting one.
pub fn schedule_digest_after(
    conn: &mut DbConnection,
    sub: &Subscription,
    after: Timestamp,
) -> StorageResult<()> {
    jobs::cancel_partition(conn, DIGEST_QUEUE, &digest_partition(sub.id))?;
    let Some(due) = next_digest_of(sub, after)? else { return Ok(()) };
    let payload = serde_json::to_string(&DigestJob { subscription_id: sub.id })
        .map_err(|e| crate::StorageError::Corrupt(e.to_string()))?;
    compose_job(conn, DIGEST_QUEUE, payload, Some(digest_partition(sub.id)), due)
}

/// When the subscription's first digest after `after` falls due (none for every-post mail).
pub fn next_digest_of(sub: &Subscription, after: Timestamp) -> StorageResult<Option<Timestamp>> {
    let hour = u32::try_from(sub.hour).unwrap_or(0);
    Ok(guildhall_core::mail::next_digest(sub.mode()?, &sub.timezone, hour, after))
}

/// Records that a digest covered everything up to `through`.
pub fn digest_sent(conn: &mut DbConnection, id: i64, through: Timestamp) -> StorageResult<()> {
    diesel::update(subs::table.find(id))
        .set((subs::digest_through.eq(through), subs::updated_at.eq(now())))
        .execute(conn)?;
    Ok(())
}

/// A post to mail to a group's every-post readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPostJob {
    /// The status.
    pub status_id: i64,
}

/// Queues every-post mail for a status accepted into a local group, when anyone reads the
/// group that way. Called in the transaction that puts the status in the group.
pub fn on_group_post(conn: &mut DbConnection, group_id: i64, status_id: i64) -> StorageResult<()> {
    let readers: i64 = subs::table
        .filter(subs::group_id.eq(group_id))
        .filter(subs::mode.eq(GroupMailMode::EveryPost.as_str()))
        .filter(subs::actor_id.is_not_null().or(subs::confirmed_at.is_not_null()))
        .count()
        .get_result(conn)?;
    // Once per status: a Create received again (under a new activity id) mails nothing,
    // even to readers who subscribed in between.
    let row = (
        crate::schema::group_mail_posts::status_id.eq(status_id),
        crate::schema::group_mail_posts::created_at.eq(now()),
    );
    let first = match conn {
        DbConnection::Pg(pg) => diesel::insert_into(crate::schema::group_mail_posts::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConnection::Sqlite(sqlite) => diesel::insert_or_ignore_into(crate::schema::group_mail_posts::table)
            .values(row)
            .execute(sqlite)?,
    };
    if first == 1 && readers > 0 {
        let payload = serde_json::to_string(&GroupPostJob { status_id })
            .map_err(|e| crate::StorageError::Corrupt(e.to_string()))?;
        compose_job(conn, GROUP_POST_QUEUE, payload, None, now())?;
    }
    Ok(())
}

/// A group's active every-post readers.
pub fn every_post_readers(conn: &mut DbConnection, group_id: i64) -> StorageResult<Vec<Subscription>> {
    Ok(subs::table
        .filter(subs::group_id.eq(group_id))
        .filter(subs::mode.eq(GroupMailMode::EveryPost.as_str()))
        .filter(subs::actor_id.is_not_null().or(subs::confirmed_at.is_not_null()))
        .order(subs::id)
        .select(Subscription::as_select())
        .load(conn)?)
}

/// A composed message for SMTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The envelope recipient.
    pub to: String,
    /// The whole message (RFC 5322), 7-bit.
    pub message: String,
}

/// Attempts at handing one message to SMTP (with backoff, about two days).
pub const SEND_ATTEMPTS: i32 = 12;

/// Queues composed messages for sending.
pub fn enqueue_send(conn: &mut DbConnection, mails: Vec<Outgoing>) -> StorageResult<usize> {
    let stamp = now();
    let mut jobs = Vec::with_capacity(mails.len());
    for mail in mails {
        let payload =
            serde_json::to_string(&mail).map_err(|e| crate::StorageError::Corrupt(e.to_string()))?;
        jobs.push(NewJob {
            queue: SEND_QUEUE.into(),
            payload,
            partition_key: None,
            run_at: stamp,
            max_attempts: SEND_ATTEMPTS,
        });
    }
    jobs::enqueue_many(conn, jobs)
}

/// Local staff (admins and moderators) who want `category` mailed, as (actor id, address).
/// New sign-ups go to admins only (`admins_only`).
pub fn staff(conn: &mut DbConnection, admins_only: bool) -> StorageResult<Vec<(i64, String)>> {
    use guildhall_core::model::Role;
    let roles: Vec<&str> = match admins_only {
        true => vec![Role::Admin.as_str()],
        false => vec![Role::Admin.as_str(), Role::Moderator.as_str()],
    };
    Ok(users::table
        .filter(users::role.eq_any(roles))
        .filter(users::disabled.eq(false))
        .filter(users::email_confirmed_at.is_not_null())
        .filter(users::mail_reports.eq(true))
        .select((users::actor_id, users::email))
        .load(conn)?)
}

/// A notification by id (whoever it is for).
pub fn notification(conn: &mut DbConnection, id: i64) -> StorageResult<Option<Notification>> {
    use crate::schema::notifications;
    Ok(notifications::table.find(id).select(Notification::as_select()).first(conn).optional()?)
}

/// The live statuses of a group created in `(from, to]`, oldest first, at most `limit`.
pub fn group_statuses_between(
    conn: &mut DbConnection,
    group_id: i64,
    from: Timestamp,
    to: Timestamp,
    limit: i64,
) -> StorageResult<Vec<crate::statuses::Status>> {
    use crate::schema::statuses;
    Ok(statuses::table
        .filter(statuses::group_id.eq(group_id).or(statuses::actor_id.eq(group_id)))
        .filter(statuses::created_at.gt(from))
        .filter(statuses::created_at.le(to))
        .filter(statuses::deleted_at.is_null())
        .filter(statuses::reblog_of_id.is_null())
        .order(statuses::id)
        .limit(limit)
        .select(crate::statuses::Status::as_select())
        .load(conn)?)
}

/// Which of `ids` are discussion hours' recaps.
pub fn recaps_among(conn: &mut DbConnection, ids: &[i64]) -> StorageResult<Vec<i64>> {
    use crate::schema::hour_editions;
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let found: Vec<Option<i64>> = hour_editions::table
            .filter(hour_editions::recap_status_id.eq_any(chunk))
            .select(hour_editions::recap_status_id)
            .load(conn)?;
        out.extend(found.into_iter().flatten());
    }
    Ok(out)
}

/// The chain of statuses a status replies to, nearest first, at most `depth` (stopping at
/// one we do not have).
pub fn ancestors(
    conn: &mut DbConnection,
    status: &crate::statuses::Status,
    depth: usize,
) -> StorageResult<Vec<crate::statuses::Status>> {
    let mut chain = Vec::new();
    let mut next = status.in_reply_to_id;
    while let Some(id) = next {
        if chain.len() >= depth {
            break;
        }
        let Ok(parent) = crate::statuses::get(conn, id) else { break };
        next = parent.in_reply_to_id;
        chain.push(parent);
    }
    Ok(chain)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use guildhall_core::model::Role;

    use super::*;
    use crate::accounts::{self, NewLocalUser, Registration};
    use crate::testing::{each_backend, rows};

    fn user(c: &mut DbConnection, name: &str, unconfirmed: bool) -> accounts::LocalAccount {
        let new = NewLocalUser {
            actor: rows::local(name),
            email: format!("{name}@museum.example"),
            password_hash: "$argon2id$fake".into(),
            role: Role::User,
            private_key_pem: "PRIVATE".into(),
        };
        accounts::register(c, new, Registration { unconfirmed, ..Registration::default() }).unwrap()
    }

    fn queued(c: &mut DbConnection, queue: &str) -> Vec<String> {
        jobs::all(c, queue).unwrap().into_iter().map(|j| j.payload).collect()
    }

    #[tokio::test]
    async fn the_secret_is_made_once() {
        each_backend(|db| async move {
            db.run(|c| {
                let first = secret(c)?;
                assert!(first.len() >= 32);
                assert_eq!(secret(c)?, first);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn sign_ups_wait_for_their_address_and_a_stranger_cannot_flood_one() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = user(c, "ada", true);
                assert!(ada.user.email_confirmed_at.is_none());
                assert_eq!(ada.user.refusal(), Some("Your login is missing a confirmed e-mail address"));
                assert_eq!(
                    queued(c, ACCOUNT_QUEUE).len(),
                    1,
                    "the confirmation mail is queued with the account"
                );
                assert!(
                    prefs(c, ada.actor.id)?.is_none(),
                    "nothing else is mailed to an unconfirmed address"
                );
                assert!(confirm_address(c, ada.user.id)?);
                assert!(!confirm_address(c, ada.user.id)?);
                assert!(prefs(c, ada.actor.id)?.unwrap().1.mentions);

                let reset = AccountMail::ResetPassword { user_id: ada.user.id };
                assert!(enqueue_requested_mail(c, ada.user.id, &reset)?);
                assert!(!enqueue_requested_mail(c, ada.user.id, &reset)?, "one per quarter hour");
                assert_eq!(queued(c, ACCOUNT_QUEUE).len(), 2);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn subscriptions_schedule_one_digest_and_addresses_wait_for_confirmation() {
        each_backend(|db| async move {
            db.run(|c| {
                let group = rows::local("mcg");
                crate::actors::insert_local(c, &group, "KEY")?;
                let ada = user(c, "ada", false);
                let daily =
                    Delivery { mode: GroupMailMode::Daily, timezone: "Europe/London".into(), hour: 7 };
                set_member(c, group.id, ada.actor.id, Some(daily.clone()))?;
                set_member(c, group.id, ada.actor.id, Some(daily.clone()))?;
                assert_eq!(queued(c, DIGEST_QUEUE).len(), 1, "a change replaces the waiting digest");
                let every = Delivery { mode: GroupMailMode::EveryPost, ..daily.clone() };
                set_member(c, group.id, ada.actor.id, Some(every))?;
                assert!(queued(c, DIGEST_QUEUE).is_empty());
                set_member(c, group.id, ada.actor.id, None)?;
                assert!(member_subscription(c, group.id, ada.actor.id)?.is_none());

                let sub = subscribe_address(c, group.id, "reader@library.example", daily.clone())?;
                assert!(!sub.active());
                let again = subscribe_address(c, group.id, "reader@library.example", daily)?;
                assert_eq!(again.id, sub.id);
                assert_eq!(queued(c, ACCOUNT_QUEUE).len(), 1, "one confirmation mail, not one per request");
                assert!(every_post_readers(c, group.id)?.is_empty());
                assert!(confirm(c, sub.id)?);
                assert_eq!(queued(c, DIGEST_QUEUE).len(), 1);
                assert!(remove(c, sub.id)?);
                assert!(queued(c, DIGEST_QUEUE).is_empty(), "its digest goes with it");

                // A post is mailed to every-post readers once, however often it arrives.
                let every = Delivery { mode: GroupMailMode::EveryPost, timezone: "UTC".into(), hour: 8 };
                set_member(c, group.id, ada.actor.id, Some(every))?;
                let post = rows::status(&ada.actor, "hello");
                crate::statuses::insert(c, &post)?;
                on_group_post(c, group.id, post.id)?;
                on_group_post(c, group.id, post.id)?;
                assert_eq!(queued(c, GROUP_POST_QUEUE).len(), 1);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}

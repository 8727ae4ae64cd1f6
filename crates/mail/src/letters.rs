//! What each mail says: account mail, notifications, every-post mail and digests. Each
//! function reads what it needs inside one database call and returns composed messages; the
//! worker queues them for sending in the same transaction as its bookkeeping.

use std::collections::{BTreeMap, HashMap};

use guildhall_core::mail::{GroupMailMode, MailCategory, MailFrom, Purpose, Signer, Unsubscribe};
use guildhall_core::model::{GroupVisibility, Visibility};
use guildhall_storage::actors::Actor;
use guildhall_storage::mail::{self as store, AccountMail, Notice, Outgoing, Reader, Subscription};
use guildhall_storage::notifications::NotificationKind;
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{
    DbConnection, StorageError, StorageResult, Timestamp, accounts, actors, events, groups, now,
};

use crate::compose::{Letter, ListHeaders, compose};
use crate::render::{Body, Item, Link, Quote, Section, first_words, render, status_text};

/// How long a link to confirm an address works.
const CONFIRM_FOR: i64 = 3 * 24 * 3600;
/// How long a link to set a new password works.
const RESET_FOR: i64 = 2 * 3600;
/// Threads listed per digest section.
const DIGEST_ITEMS: usize = 30;
/// Statuses a digest reads from its period at most.
const DIGEST_SCAN: i64 = 2_000;

/// What composing needs: where we are, who we are, and the signing key.
#[derive(Debug)]
pub struct Context {
    /// `https://domain`.
    pub base: String,
    /// The instance's host (Message-IDs, List-Ids).
    pub host: String,
    /// The instance's name, as mail signs it.
    pub site: String,
    /// Our sender.
    pub from: MailFrom,
    /// Signs links and reply addresses.
    pub signer: Signer,
}

fn fail(e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

impl Context {
    /// The composed message; `None` (logged) when this one recipient's mail cannot be
    /// composed (an address lettre refuses), so one bad address never holds up the others.
    fn finish(&self, letter: Letter, body: &Body) -> StorageResult<Option<Outgoing>> {
        let (text, html) = render(body).map_err(fail)?;
        match compose(Letter { text, html, ..letter }, &self.from) {
            Ok(out) => Ok(Some(out)),
            Err(e) => {
                tracing::warn!(error = %e, "a mail was left out");
                Ok(None)
            }
        }
    }

    fn unsubscribe_url(&self, what: Unsubscribe) -> String {
        format!("{}/mail/unsubscribe/{}", self.base, self.signer.unsubscribe_key(what))
    }

    fn status_url(&self, author: &Actor, status: &Status) -> String {
        match author.is_local() {
            true => format!("{}/@{}/{}", self.base, author.username, status.id),
            false => status.url.clone().unwrap_or_else(|| status.ap_id.clone()),
        }
    }

    fn message_id(&self, status_id: i64) -> String {
        format!("status-{status_id}@{}", self.host)
    }

    fn random_id(&self, kind: &str) -> String {
        format!("{kind}-{}-{:016x}@{}", now().and_utc().timestamp_micros(), rand::random::<u64>(), self.host)
    }

    fn plain_letter(&self, to: &str, subject: String, kind: &str) -> Letter {
        Letter {
            to: to.to_owned(),
            from_name: None,
            subject,
            text: String::new(),
            html: String::new(),
            message_id: self.random_id(kind),
            in_reply_to: None,
            references: Vec::new(),
            reply_to: None,
            list: None,
        }
    }

    fn notices_list(&self, actor_id: i64, category: MailCategory) -> ListHeaders {
        ListHeaders {
            id: format!("\"{} notifications\" <notifications.{}>", list_name(&self.site), self.host),
            unsubscribe: self.unsubscribe_url(Unsubscribe::Notifications { actor_id, category }),
            archive: Some(format!("{}/notifications", self.base)),
        }
    }
}

/// A List-Id phrase: printable ASCII without quotes or backslashes (RFC 2919 puts it in a
/// quoted string, where encoded words are not allowed).
fn list_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .filter(|c| !matches!(c, '"' | '\\'))
        .collect();
    let kept = kept.trim().to_owned();
    if kept.is_empty() { "Guildhall".into() } else { kept }
}

/// The name shown for an actor: its display name, else its handle.
fn shown(actor: &Actor) -> String {
    let name = actor.display_name.trim();
    if name.is_empty() { handle(actor) } else { name.to_owned() }
}

fn handle(actor: &Actor) -> String {
    match &actor.domain {
        Some(domain) => format!("@{}@{domain}", actor.username),
        None => format!("@{}", actor.username),
    }
}

/// Account mail.
pub fn account(c: &mut DbConnection, cx: &Context, mail: &AccountMail) -> StorageResult<Vec<Outgoing>> {
    let stamp = now().and_utc().timestamp();
    let user = |c: &mut DbConnection, id: i64| accounts::find_by_user_id(c, id);
    let out = match mail {
        AccountMail::ConfirmAddress { user_id } => {
            let Some(account) = user(c, *user_id)? else { return Ok(vec![]) };
            if account.user.email_confirmed_at.is_some() {
                return Ok(vec![]);
            }
            let key = cx.signer.expiring_key(
                Purpose::ConfirmAddress,
                *user_id,
                &account.user.email,
                stamp + CONFIRM_FOR,
            );
            let body = Body {
                title: format!("Confirm your address for {}", cx.site),
                intro: vec![
                    format!("Someone (we hope you) signed up as @{} at {}.", account.actor.username, cx.base),
                    "Confirm that this address is yours to finish signing up. The link works for three days."
                        .into(),
                ],
                action: Some(Link {
                    label: "Confirm my address".into(),
                    url: format!("{}/auth/confirmation?confirmation_token={key}", cx.base),
                }),
                footer: vec![
                    "If you did not sign up, ignore this mail: nothing happens without the link.".into(),
                ],
                ..Body::default()
            };
            let letter = cx.plain_letter(
                &account.user.email,
                format!("Confirm your address for {}", cx.site),
                "confirm",
            );
            cx.finish(letter, &body)?.into_iter().collect()
        }
        AccountMail::ResetPassword { user_id } => {
            let Some(account) = user(c, *user_id)? else { return Ok(vec![]) };
            let key = cx.signer.expiring_key(
                Purpose::ResetPassword,
                *user_id,
                &account.user.password_hash,
                stamp + RESET_FOR,
            );
            let body = Body {
                title: "Set a new password".into(),
                intro: vec![
                    format!("Someone asked to reset the password of @{} at {}.", account.actor.username, cx.base),
                    "The link works once, for two hours. Setting a new password signs every browser and app out."
                        .into(),
                ],
                action: Some(Link {
                    label: "Set a new password".into(),
                    url: format!("{}/auth/password/edit?reset_password_token={key}", cx.base),
                }),
                footer: vec!["If you did not ask, ignore this mail: your password stays as it is.".into()],
                ..Body::default()
            };
            let letter =
                cx.plain_letter(&account.user.email, format!("Reset your password on {}", cx.site), "reset");
            cx.finish(letter, &body)?.into_iter().collect()
        }
        AccountMail::Approved { user_id } => {
            let Some(account) = user(c, *user_id)? else { return Ok(vec![]) };
            if account.user.email_confirmed_at.is_none() {
                // An unconfirmed address may not be the asker's: it is never written to.
                return Ok(vec![]);
            }
            let body = Body {
                title: format!("Welcome to {}", cx.site),
                intro: vec![format!(
                    "Your sign-up as @{} was approved. You can sign in now.",
                    account.actor.username
                )],
                action: Some(Link { label: "Sign in".into(), url: format!("{}/auth/sign_in", cx.base) }),
                ..Body::default()
            };
            let letter = cx.plain_letter(
                &account.user.email,
                format!("Your account on {} is ready", cx.site),
                "approved",
            );
            cx.finish(letter, &body)?.into_iter().collect()
        }
        AccountMail::Rejected { email, username } => {
            let body = Body {
                title: format!("Your sign-up at {}", cx.site),
                intro: vec![format!(
                    "Your request to join as @{username} was not accepted. The name and address are free again."
                )],
                ..Body::default()
            };
            let letter = cx.plain_letter(email, format!("Your sign-up at {}", cx.site), "rejected");
            cx.finish(letter, &body)?.into_iter().collect()
        }
        AccountMail::NewSignUp { user_id } => {
            let Some(account) = user(c, *user_id)? else { return Ok(vec![]) };
            if account.user.approved {
                return Ok(vec![]);
            }
            let reason = account.user.sign_up_reason.clone().unwrap_or_default();
            let mut out = Vec::new();
            for (_, email) in store::staff(c, true)? {
                let mut intro =
                    vec![format!("@{} signed up and waits for approval.", account.actor.username)];
                if !reason.is_empty() {
                    intro.push(format!("They wrote: {reason}"));
                }
                let body = Body {
                    title: "A sign-up to review".into(),
                    intro,
                    action: Some(Link { label: "Review sign-ups".into(), url: format!("{}/admin", cx.base) }),
                    footer: vec!["You get this as an admin who has report mail on (settings).".into()],
                    ..Body::default()
                };
                let subject = format!("New sign-up to review: @{}", account.actor.username);
                out.extend(cx.finish(cx.plain_letter(&email, subject, "signup"), &body)?);
            }
            out
        }
        AccountMail::ConfirmFollow { subscription_id } => match store::subscription(c, *subscription_id)? {
            Some(sub) if sub.confirmed_at.is_none() => confirm_follow(c, cx, &sub)?.into_iter().collect(),
            _ => vec![],
        },
    };
    Ok(out)
}

/// A notification or report, to each reader who wants it and may see what it is about.
pub fn notice(c: &mut DbConnection, cx: &Context, notice: &Notice) -> StorageResult<Vec<Outgoing>> {
    match notice {
        Notice::Notification { notification_id } => notification(c, cx, *notification_id),
        Notice::Report { report_id } => report(c, cx, *report_id),
    }
}

fn readers_of(
    c: &mut DbConnection,
    recipient: i64,
    category: MailCategory,
) -> StorageResult<Vec<(i64, String)>> {
    let direct = store::prefs(c, recipient)?;
    let candidates = match direct {
        Some((email, prefs)) => {
            return Ok(if prefs.wants(category) { vec![(recipient, email)] } else { vec![] });
        }
        None if groups::get(c, recipient)?.is_some() => groups::moderators(c, recipient)?,
        None => return Ok(vec![]),
    };
    let mut out = Vec::new();
    for moderator in candidates {
        if let Some((email, prefs)) = store::prefs(c, moderator.id)?
            && prefs.wants(category)
        {
            out.push((moderator.id, email));
        }
    }
    Ok(out)
}

fn notification(c: &mut DbConnection, cx: &Context, id: i64) -> StorageResult<Vec<Outgoing>> {
    let Some(n) = store::notification(c, id)? else { return Ok(vec![]) };
    let Some(kind) = NotificationKind::parse(&n.kind) else { return Ok(vec![]) };
    let Some(category) = store::category_of(kind) else { return Ok(vec![]) };
    let from = actors::get(c, n.from_actor_id)?;
    let mut out = Vec::new();
    for (reader, email) in readers_of(c, n.recipient_id, category)? {
        let letter = match kind {
            NotificationKind::Mention => {
                let Some(id) = n.status_id else { continue };
                let status = statuses::get(c, id)?;
                if !guildhall_storage::timelines::may_see(c, &status, Some(reader))? {
                    continue;
                }
                status_letter(c, cx, &status, &from, reader, &email, category)?
            }
            NotificationKind::FollowRequest => {
                let target = actors::get(c, n.recipient_id)?;
                let (title, url) = match target.id == reader {
                    true => {
                        (format!("{} asks to follow you", shown(&from)), format!("{}/notifications", cx.base))
                    }
                    false => (
                        format!("{} asks to join {}", shown(&from), shown(&target)),
                        format!("{}/@{}/moderation", cx.base, target.username),
                    ),
                };
                let body = Body {
                    title: title.clone(),
                    intro: vec![format!("{} ({}) is waiting for an answer.", shown(&from), handle(&from))],
                    action: Some(Link { label: "Answer the request".into(), url }),
                    footer: footer(cx, "follow and join requests"),
                    unsubscribe: Some(
                        cx.unsubscribe_url(Unsubscribe::Notifications { actor_id: reader, category }),
                    ),
                    ..Body::default()
                };
                let mut letter = cx.plain_letter(&email, title, "request");
                letter.list = Some(cx.notices_list(reader, category));
                cx.finish(letter, &body)?
            }
            NotificationKind::EventReminder => {
                let Some(id) = n.status_id else { continue };
                let Some(event) = events::find(c, id)? else { continue };
                // A reminder says nothing of an event the reader may no longer see.
                let status = statuses::get(c, id)?;
                if !guildhall_storage::timelines::may_see(c, &status, Some(reader))? {
                    continue;
                }
                let when = guildhall_core::calendar::when_text(
                    event.starts_at,
                    event.ends_at,
                    event.timezone.as_deref(),
                );
                let title = format!("Reminder: {}", event.name);
                let body = Body {
                    title: title.clone(),
                    intro: vec![format!("{} starts {when}.", event.name)],
                    action: Some(Link {
                        label: "See the event".into(),
                        url: format!("{}/events/{id}", cx.base),
                    }),
                    footer: footer(cx, "event reminders"),
                    unsubscribe: Some(
                        cx.unsubscribe_url(Unsubscribe::Notifications { actor_id: reader, category }),
                    ),
                    ..Body::default()
                };
                let mut letter = cx.plain_letter(&email, title, "reminder");
                letter.list = Some(cx.notices_list(reader, category));
                cx.finish(letter, &body)?
            }
            _ => continue,
        };
        out.extend(letter);
    }
    Ok(out)
}

fn footer(cx: &Context, what: &str) -> Vec<String> {
    vec![
        format!("You get this because mail for {what} is on in your settings at {}.", cx.site),
        format!("Change what you receive: {}/settings#mail", cx.base),
    ]
}

/// The `References` of a status: its ancestors' Message-IDs, oldest first.
fn threading(
    c: &mut DbConnection,
    cx: &Context,
    status: &Status,
) -> StorageResult<(Option<String>, Vec<String>)> {
    let chain = store::ancestors(c, status, 20)?;
    let parent = chain.first().map(|p| cx.message_id(p.id));
    let refs = chain.iter().rev().map(|p| cx.message_id(p.id)).collect();
    Ok((parent, refs))
}

/// A thread's root (the status itself when it is one).
fn root_of(c: &mut DbConnection, status: &Status) -> StorageResult<Status> {
    Ok(store::ancestors(c, status, 50)?.pop().unwrap_or_else(|| status.clone()))
}

fn words_of(status: &Status) -> String {
    let words = match &status.title {
        Some(title) if !title.trim().is_empty() => title.clone(),
        _ if !status.spoiler_text.trim().is_empty() => status.spoiler_text.clone(),
        _ => first_words(&status_text(&status.content), 70),
    };
    if words.is_empty() { "(no text)".to_owned() } else { words }
}

/// The subject of a mail about `status` for `reader` (none: a stranger): the thread's first
/// words, or the status's own when the reader may not see the root (it says nothing of what
/// they may not read).
fn subject_for(
    c: &mut DbConnection,
    root: &Status,
    status: &Status,
    reader: Option<i64>,
) -> StorageResult<String> {
    if root.id == status.id {
        return Ok(words_of(status));
    }
    let shown = match guildhall_storage::timelines::may_see(c, root, reader)? {
        true => root,
        false => status,
    };
    Ok(format!("Re: {}", words_of(shown)))
}

/// A mention or reply, with the post quoted, threaded and answerable.
fn status_letter(
    c: &mut DbConnection,
    cx: &Context,
    status: &Status,
    author: &Actor,
    reader: i64,
    email: &str,
    category: MailCategory,
) -> StorageResult<Option<Outgoing>> {
    let replying_to_reader = match status.in_reply_to_id {
        Some(parent) => statuses::get(c, parent).is_ok_and(|p| p.actor_id == reader),
        None => false,
    };
    let title = match replying_to_reader {
        true => format!("{} replied to you", shown(author)),
        false => format!("{} mentioned you", shown(author)),
    };
    let (in_reply_to, references) = threading(c, cx, status)?;
    let body = Body {
        title: title.clone(),
        quote: Some(quote(cx, status, author)),
        reply_hint: true,
        footer: footer(cx, "mentions and replies"),
        unsubscribe: Some(cx.unsubscribe_url(Unsubscribe::Notifications { actor_id: reader, category })),
        ..Body::default()
    };
    let letter = Letter {
        to: email.to_owned(),
        from_name: Some(format!("{} ({})", shown(author), cx.site)),
        subject: {
            let root = root_of(c, status)?;
            subject_for(c, &root, status, Some(reader))?
        },
        text: String::new(),
        html: String::new(),
        message_id: cx.message_id(status.id),
        in_reply_to,
        references,
        reply_to: Some(cx.from.reply_address(&cx.signer.reply_key(
            status.id,
            reader,
            guildhall_core::mail::day_of(now()),
        ))),
        list: Some(cx.notices_list(reader, category)),
    };
    cx.finish(letter, &body)
}

fn quote(cx: &Context, status: &Status, author: &Actor) -> Quote {
    let mut text = status_text(&status.content);
    if !status.spoiler_text.trim().is_empty() {
        text = format!("[{}]\n\n{text}", status.spoiler_text.trim());
    }
    Quote {
        author: format!("{} ({})", shown(author), handle(author)),
        text,
        url: cx.status_url(author, status),
    }
}

fn report(c: &mut DbConnection, cx: &Context, id: i64) -> StorageResult<Vec<Outgoing>> {
    let report = guildhall_storage::reports::get(c, id)?;
    let target = actors::get(c, report.target_id)?;
    let mut readers: BTreeMap<i64, (String, String)> = store::staff(c, false)?
        .into_iter()
        .map(|(actor, email)| (actor, (email, format!("{}/admin", cx.base))))
        .collect();
    // A report about a post in one of our groups also reaches that group's moderators.
    for status_id in report.status_ids() {
        let Ok(status) = statuses::get(c, status_id) else { continue };
        let Some(group_id) = status.group_id else { continue };
        let group = actors::get(c, group_id)?;
        if !group.is_local() {
            continue;
        }
        for moderator in groups::moderators(c, group_id)? {
            if let Some((email, prefs)) = store::prefs(c, moderator.id)?
                && prefs.reports
            {
                readers
                    .entry(moderator.id)
                    .or_insert((email, format!("{}/@{}/moderation", cx.base, group.username)));
            }
        }
    }
    let mut out = Vec::new();
    for (reader, (email, url)) in readers {
        let mut intro = vec![format!("A report about {} ({}).", shown(&target), handle(&target))];
        if !report.comment.trim().is_empty() {
            intro.push(format!("The reporter wrote: {}", report.comment.trim()));
        }
        let count = report.status_ids().len();
        if count > 0 {
            intro.push(format!("It names {count} post{}.", if count == 1 { "" } else { "s" }));
        }
        let body = Body {
            title: format!("New report about {}", handle(&target)),
            intro,
            action: Some(Link { label: "Review the report".into(), url }),
            footer: footer(cx, "reports"),
            unsubscribe: Some(cx.unsubscribe_url(Unsubscribe::Notifications {
                actor_id: reader,
                category: MailCategory::Reports,
            })),
            ..Body::default()
        };
        let mut letter = cx.plain_letter(&email, format!("New report about {}", handle(&target)), "report");
        letter.list = Some(cx.notices_list(reader, MailCategory::Reports));
        out.extend(cx.finish(letter, &body)?);
    }
    Ok(out)
}

fn group_list(cx: &Context, group: &Actor, subscription: i64) -> ListHeaders {
    let name = list_name(&shown(group));
    ListHeaders {
        id: format!("\"{name}\" <{}.{}>", group.username.to_ascii_lowercase(), cx.host),
        unsubscribe: cx.unsubscribe_url(Unsubscribe::Group(subscription)),
        archive: Some(format!("{}/@{}", cx.base, group.username)),
    }
}

/// Whether a reader may be mailed `status`: the rule of [`visible_to`] for one status.
fn reader_may_see(
    c: &mut DbConnection,
    status: &Status,
    group: &guildhall_storage::groups::Group,
    reader: &Reader,
) -> StorageResult<bool> {
    Ok(!visible_to(c, vec![status.clone()], group, reader)?.is_empty())
}

fn reader_id(reader: &Reader) -> Option<i64> {
    match reader {
        Reader::Member(actor) => Some(*actor),
        Reader::Address(_) => None,
    }
}

fn reader_address(c: &mut DbConnection, reader: &Reader) -> StorageResult<Option<String>> {
    Ok(match reader {
        Reader::Member(actor) => store::prefs(c, *actor)?.map(|(email, _)| email),
        Reader::Address(email) => Some(email.clone()),
    })
}

/// A post accepted into a group, to each every-post reader who may see it.
pub fn group_post(c: &mut DbConnection, cx: &Context, status_id: i64) -> StorageResult<Vec<Outgoing>> {
    let status = statuses::get(c, status_id)?;
    let Some(group_id) = status.group_id else { return Ok(vec![]) };
    let Some(settings) = groups::get(c, group_id)? else { return Ok(vec![]) };
    let group = actors::get(c, group_id)?;
    let author = actors::get(c, status.actor_id)?;
    let root = root_of(c, &status)?;
    let (in_reply_to, references) = threading(c, cx, &status)?;
    let mut out = Vec::new();
    for sub in store::every_post_readers(c, group_id)? {
        let reader = sub.reader();
        if reader == Reader::Member(status.actor_id) || !reader_may_see(c, &status, &settings, &reader)? {
            continue;
        }
        let Some(email) = reader_address(c, &reader)? else { continue };
        let member = matches!(reader, Reader::Member(_));
        let subject = subject_for(c, &root, &status, reader_id(&reader))?;
        let mut footer = vec![format!("You get every post of {} by mail.", shown(&group))];
        if !member {
            footer.push(format!("To take part, join the group: {}/@{}", cx.base, group.username));
        }
        let body = Body {
            title: format!("{} in {}", shown(&author), shown(&group)),
            quote: Some(quote(cx, &status, &author)),
            reply_hint: member,
            footer,
            unsubscribe: Some(cx.unsubscribe_url(Unsubscribe::Group(sub.id))),
            ..Body::default()
        };
        let letter = Letter {
            to: email,
            from_name: Some(format!("{} via {}", shown(&author), shown(&group))),
            subject,
            text: String::new(),
            html: String::new(),
            message_id: cx.message_id(status.id),
            in_reply_to: in_reply_to.clone(),
            references: references.clone(),
            reply_to: match reader {
                Reader::Member(actor) => Some(cx.from.reply_address(&cx.signer.reply_key(
                    status.id,
                    actor,
                    guildhall_core::mail::day_of(now()),
                ))),
                Reader::Address(_) => None,
            },
            list: Some(group_list(cx, &group, sub.id)),
        };
        out.extend(cx.finish(letter, &body)?);
    }
    Ok(out)
}

/// What a digest found, before it is written for a reader.
#[derive(Debug, Default)]
pub struct DigestContent {
    /// Top-level posts of the period: (status, replies so far).
    pub new_threads: Vec<(Status, i64)>,
    /// Older threads that had replies in the period: (root, new replies).
    pub active_threads: Vec<(Status, usize)>,
    /// New threads asking something that nobody answered yet.
    pub unanswered: Vec<Status>,
    /// The group's events in the coming week.
    pub events: Vec<events::Event>,
    /// The group's hour recaps of the period.
    pub recaps: Vec<Status>,
}

impl DigestContent {
    fn is_empty(&self) -> bool {
        self.new_threads.is_empty()
            && self.active_threads.is_empty()
            && self.events.is_empty()
            && self.recaps.is_empty()
    }
}

/// The statuses of `list` the reader may see: members as the one place decides (blocks read
/// in one query), addresses as a stranger and only from a group that is not members-only.
fn visible_to(
    c: &mut DbConnection,
    list: Vec<Status>,
    group: &guildhall_storage::groups::Group,
    reader: &Reader,
) -> StorageResult<Vec<Status>> {
    match reader {
        Reader::Member(actor) => guildhall_storage::timelines::visible(c, list, Some(*actor)),
        Reader::Address(_) if group.visibility()? != GroupVisibility::Public => Ok(vec![]),
        Reader::Address(_) => {
            let public = list.into_iter().filter(|s| s.is(Visibility::Public)).collect();
            guildhall_storage::timelines::visible(c, public, None)
        }
    }
}

/// The root of a reply's thread, walking through `known` statuses before asking storage.
fn root_in(
    c: &mut DbConnection,
    known: &HashMap<i64, Status>,
    status: &Status,
) -> StorageResult<Option<Status>> {
    let mut current = status.clone();
    for _ in 0..50 {
        let Some(parent) = current.in_reply_to_id else { break };
        current = match known.get(&parent) {
            Some(found) => found.clone(),
            None => match store::ancestors(c, &current, 50)?.pop() {
                Some(root) => return Ok(Some(root)),
                None => break,
            },
        };
    }
    Ok((current.id != status.id).then_some(current))
}

/// Reads what happened in a group in `(from, to]`, as `reader` may see it.
pub fn digest_content(
    c: &mut DbConnection,
    group_id: i64,
    settings: &guildhall_storage::groups::Group,
    reader: &Reader,
    from: Timestamp,
    to: Timestamp,
) -> StorageResult<DigestContent> {
    let mut content = DigestContent::default();
    let period = store::group_statuses_between(c, group_id, from, to, DIGEST_SCAN)?;
    // Parents are looked up here first: most replies answer a post of the same period.
    let by_id: HashMap<i64, Status> = period.iter().map(|s| (s.id, s.clone())).collect();
    let visible = visible_to(c, period, settings, reader)?;
    let is_root = |s: &Status| s.in_reply_to_id.is_none() && s.in_reply_to_ap_id.is_none();
    let roots: Vec<i64> = visible.iter().filter(|s| is_root(s)).map(|s| s.id).collect();
    let counts: HashMap<i64, i64> =
        guildhall_storage::statuses::reply_counts(c, &roots)?.into_iter().collect();
    let recaps = store::recaps_among(c, &roots)?;
    let mut replies_by_root: BTreeMap<i64, (Option<Status>, usize)> = BTreeMap::new();
    for status in &visible {
        if recaps.contains(&status.id) {
            content.recaps.push(status.clone());
        } else if is_root(status) {
            let n = counts.get(&status.id).copied().unwrap_or(0);
            if n == 0 && status_text(&status.content).contains('?') {
                content.unanswered.push(status.clone());
            }
            content.new_threads.push((status.clone(), n));
        } else if let Some(root) = root_in(c, &by_id, status)? {
            if roots.contains(&root.id) {
                continue;
            }
            let entry = replies_by_root.entry(root.id).or_insert((None, 0));
            entry.1 += 1;
            if entry.0.is_none() && reader_may_see(c, &root, settings, reader)? {
                entry.0 = Some(root);
            }
        }
    }
    content.active_threads =
        replies_by_root.into_values().filter_map(|(root, n)| root.map(|r| (r, n))).collect();
    content.active_threads.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let range = events::Range {
        group_id: Some(group_id),
        attendee: None,
        from: Some(to),
        to: Some(to + chrono::Duration::days(7)),
        limit: 20,
        public_only: false,
    };
    for event in events::list(c, &range)? {
        let status = statuses::get(c, event.status_id)?;
        if reader_may_see(c, &status, settings, reader)? {
            content.events.push(event);
        }
    }
    Ok(content)
}

/// One reader's digest of one group for `(from, to]`; `None` when nothing happened.
pub fn digest(
    c: &mut DbConnection,
    cx: &Context,
    sub: &Subscription,
    from: Timestamp,
    to: Timestamp,
) -> StorageResult<Option<Outgoing>> {
    let Some(settings) = groups::get(c, sub.group_id)? else { return Ok(None) };
    let group = actors::get(c, sub.group_id)?;
    let reader = sub.reader();
    let Some(email) = reader_address(c, &reader)? else { return Ok(None) };
    let content = digest_content(c, sub.group_id, &settings, &reader, from, to)?;
    if content.is_empty() {
        return Ok(None);
    }
    let mut ids: Vec<i64> = content.new_threads.iter().map(|(s, _)| s.actor_id).collect();
    ids.extend(content.active_threads.iter().map(|(s, _)| s.actor_id));
    ids.extend(content.recaps.iter().map(|s| s.actor_id));
    ids.sort_unstable();
    ids.dedup();
    let mut authors: HashMap<i64, Actor> =
        guildhall_storage::timelines::actors_by_id(c, &ids)?.into_iter().map(|a| (a.id, a)).collect();
    let mut item = |c: &mut DbConnection, status: &Status, meta: String| -> StorageResult<Item> {
        let author = match authors.get(&status.actor_id) {
            Some(a) => a.clone(),
            None => {
                let a = actors::get(c, status.actor_id)?;
                authors.insert(a.id, a.clone());
                a
            }
        };
        let title = match &status.title {
            Some(t) if !t.trim().is_empty() => t.clone(),
            _ => first_words(&status_text(&status.content), 90),
        };
        Ok(Item { title, meta: format!("{} · {meta}", shown(&author)), url: cx.status_url(&author, status) })
    };
    let plural = |n: i64, one: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") };
    let mut sections = Vec::new();
    let mut items = Vec::new();
    for (status, n) in content.new_threads.iter().take(DIGEST_ITEMS) {
        items.push(item(c, status, plural(*n, "reply"))?);
    }
    if !items.is_empty() {
        sections.push(Section { title: "New threads".into(), items: std::mem::take(&mut items) });
    }
    for (status, n) in content.active_threads.iter().take(DIGEST_ITEMS) {
        items.push(item(c, status, format!("{} new", plural(i64::try_from(*n).unwrap_or(0), "reply")))?);
    }
    if !items.is_empty() {
        sections
            .push(Section { title: "Threads with new replies".into(), items: std::mem::take(&mut items) });
    }
    for status in content.unanswered.iter().take(DIGEST_ITEMS) {
        items.push(item(c, status, "no answer yet".into())?);
    }
    if !items.is_empty() {
        sections.push(Section { title: "Unanswered questions".into(), items: std::mem::take(&mut items) });
    }
    for event in &content.events {
        items.push(Item {
            title: event.name.clone(),
            meta: guildhall_core::calendar::when_text(
                event.starts_at,
                event.ends_at,
                event.timezone.as_deref(),
            ),
            url: format!("{}/events/{}", cx.base, event.status_id),
        });
    }
    if !items.is_empty() {
        sections.push(Section { title: "Coming up".into(), items: std::mem::take(&mut items) });
    }
    for status in &content.recaps {
        items.push(item(c, status, "recap".into())?);
    }
    if !items.is_empty() {
        sections.push(Section { title: "Discussion hour recaps".into(), items: std::mem::take(&mut items) });
    }
    let period = match sub.mode()? {
        GroupMailMode::Weekly => "week",
        _ => "day",
    };
    let threads = i64::try_from(content.new_threads.len()).unwrap_or(0);
    let title = format!("{}: {} this {period}", shown(&group), plural(threads, "new thread"));
    let body = Body {
        title: title.clone(),
        sections,
        footer: vec![
            format!(
                "You get a {} digest of {}.",
                if period == "week" { "weekly" } else { "daily" },
                shown(&group)
            ),
            format!("The group: {}/@{}", cx.base, group.username),
        ],
        unsubscribe: Some(cx.unsubscribe_url(Unsubscribe::Group(sub.id))),
        ..Body::default()
    };
    let mut letter = cx.plain_letter(&email, title, "digest");
    letter.list = Some(group_list(cx, &group, sub.id));
    letter.from_name = Some(shown(&group));
    cx.finish(letter, &body)
}

/// The mail that asks an address to confirm following a group by mail.
pub fn confirm_follow(
    c: &mut DbConnection,
    cx: &Context,
    sub: &Subscription,
) -> StorageResult<Option<Outgoing>> {
    let Some(email) = &sub.email else { return Ok(None) };
    let group = actors::get(c, sub.group_id)?;
    let key = cx.signer.expiring_key(
        Purpose::ConfirmFollow,
        sub.id,
        email,
        now().and_utc().timestamp() + CONFIRM_FOR,
    );
    let how = guildhall_core::mail::delivery_words(sub.mode()?, sub.hour, &sub.timezone);
    let body = Body {
        title: format!("Confirm: follow {} by mail", shown(&group)),
        intro: vec![
            format!("Someone (we hope you) asked to receive {how} of {} at this address.", shown(&group)),
            "Nothing is sent until you confirm. The link works for three days.".into(),
        ],
        action: Some(Link { label: "Confirm".into(), url: format!("{}/mail/confirm/{key}", cx.base) }),
        footer: vec!["If this was not you, ignore this mail.".into()],
        ..Body::default()
    };
    let letter = cx.plain_letter(email, format!("Confirm: follow {} by mail", shown(&group)), "follow");
    cx.finish(letter, &body)
}

//! Mail's pages: asking for a new password and setting it from the mailed link, confirming an
//! address, one-click unsubscribing (RFC 8058), following a group by mail and confirming it, a
//! member's mail from a group, and the notification-mail choices in the settings.
//!
//! A mailed link carries a key signed with the instance's secret ([`Signer`]); the key alone
//! is the authority for what it names, so its pages need no session. A `GET` never acts (mail
//! scanners follow links): it shows one button that posts. The one-click unsubscribe post takes
//! no cookie, token or origin, as mail clients send it. The anonymous forms (asking for a new
//! password, following a group by mail) carry a random token that must match a
//! `SameSite=Strict` cookie scoped to the form's path, are rate limited per client address,
//! and answer the same whether or not an address is known, so nobody can probe for one. A
//! member's forms go through [`Viewer::form`]. A wrong field is a 422 that names it.

mod account;
mod group_mail;

pub(crate) use account::{
    confirm_address, confirmation_page, new_password_form, request_reset, reset_form, set_new_password,
};
pub(crate) use group_mail::{
    MailForm, confirm_follow, confirm_follow_page, follow_by_mail, group_form, member_mail,
};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use guildhall_core::keys::{constant_time_eq, random_token};
use guildhall_core::mail::{KeyError, MailCategory, Signer, Unsubscribe};
use guildhall_federation::FedData;
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::mail::{self, MailPrefs};
use guildhall_storage::{DbConnection, StorageResult};
use serde::Deserialize;

use crate::error::PageError;
use crate::forms;
use crate::pages::html;
use crate::session::{MaybeViewer, Nav, Viewer};

/// The anonymous forms' own CSRF cookie, scoped to the path the form posts to.
const FORM_COOKIE: &str = "guildhall_form";

/// Longest key a link may carry (ours are far shorter).
const MAX_KEY: usize = 200;

/// A page with a title, a few sentences, perhaps one button that posts and perhaps a link.
#[derive(Template)]
#[template(path = "mail_notice.html")]
struct Notice {
    site: String,
    nav: Nav,
    title: String,
    paragraphs: Vec<String>,
    button: Option<Button>,
    link: Option<(String, String)>,
}

/// A form that is only a button (and hidden fields).
struct Button {
    action: String,
    fields: Vec<(&'static str, String)>,
    label: &'static str,
}

impl Notice {
    fn new(data: &FedData, nav: Nav, title: impl Into<String>) -> Notice {
        let site = data.config.domain.to_string();
        Notice { site, nav, title: title.into(), paragraphs: Vec::new(), button: None, link: None }
    }

    fn say(mut self, paragraph: impl Into<String>) -> Notice {
        self.paragraphs.push(paragraph.into());
        self
    }

    fn button(mut self, action: String, fields: Vec<(&'static str, String)>, label: &'static str) -> Notice {
        self.button = Some(Button { action, fields, label });
        self
    }

    fn link(mut self, href: impl Into<String>, label: impl Into<String>) -> Notice {
        self.link = Some((href.into(), label.into()));
        self
    }

    fn respond(self, status: StatusCode) -> Result<HttpResponse, PageError> {
        with_status(html(&self)?, status)
    }
}

/// `response` with `status`; a page reached from a mailed link never tells another site its
/// address (which holds the key).
fn with_status(mut response: HttpResponse, status: StatusCode) -> Result<HttpResponse, PageError> {
    *response.status_mut() = status;
    response.headers_mut().insert(
        actix_web::http::header::REFERRER_POLICY,
        actix_web::http::header::HeaderValue::from_static("same-origin"),
    );
    Ok(response)
}

/// The token of an anonymous form: the one this browser's cookie holds already (so two open
/// tabs both work), or a new one.
fn form_token(request: &HttpRequest) -> String {
    request
        .cookie(FORM_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| {
            (32..=100).contains(&v.len())
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .unwrap_or_else(random_token)
}

/// The cookie carrying `token` for the forms posting under `path`.
fn form_cookie(data: &FedData, token: &str, path: &str) -> Cookie<'static> {
    Cookie::build(FORM_COOKIE, token.to_owned())
        .path(path.to_owned())
        .http_only(true)
        .secure(!data.config.insecure)
        .same_site(SameSite::Strict)
        .finish()
}

/// 403 unless the form comes from our origin and carries its cookie's token.
fn check_anonymous(request: &HttpRequest, data: &FedData, sent: &str) -> Result<(), PageError> {
    forms::same_origin(request, data)?;
    let cookie = request.cookie(FORM_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    if cookie.is_empty() || !constant_time_eq(cookie.as_bytes(), sent.as_bytes()) {
        return Err(PageError::Forbidden("This form has expired; reload the page and try again".into()));
    }
    Ok(())
}

fn signer(c: &mut DbConnection) -> StorageResult<Signer> {
    Ok(Signer::new(&mail::secret(c)?))
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The id an expiring key claims, when it looks like one of ours.
fn claimed_id(key: &str) -> Option<i64> {
    (key.len() <= MAX_KEY).then(|| Signer::expiring_key_id(key).ok()).flatten()
}

/// Words for a category of notification mail.
fn category_words(category: MailCategory) -> &'static str {
    match category {
        MailCategory::Mentions => "mentions and replies",
        MailCategory::FollowRequests => "follow requests and requests to join groups you moderate",
        MailCategory::Reports => "reports",
        MailCategory::EventReminders => "reminders of events",
    }
}

/// What an unsubscribe key stops, in words, and the page to go on to; `None` when it is
/// stopped already (the subscription is gone).
fn unsubscribe_words(c: &mut DbConnection, what: Unsubscribe) -> StorageResult<Option<(String, String)>> {
    match what {
        Unsubscribe::Group(id) => {
            let Some(sub) = mail::subscription(c, id)? else { return Ok(None) };
            let group = actors::get(c, sub.group_id)?;
            Ok(Some((format!("mail from {}", shown(&group)), format!("/@{}", group.username))))
        }
        Unsubscribe::Notifications { category, .. } => {
            Ok(Some((format!("mail about {}", category_words(category)), "/settings#mail".to_owned())))
        }
    }
}

/// A group's name as a page shows it.
fn shown(group: &Actor) -> String {
    match group.display_name.trim() {
        "" => format!("@{}", group.username),
        name => name.to_owned(),
    }
}

fn how_of(sub: &mail::Subscription) -> Result<String, PageError> {
    Ok(guildhall_core::mail::delivery_words(sub.mode()?, sub.hour, &sub.timezone))
}

fn unsubscribe_refused(data: &FedData) -> Result<HttpResponse, PageError> {
    Notice::new(data, Nav::default(), "This unsubscribe link is not valid")
        .say("Check that the whole link was copied from the mail. Every mail we send has its own link.")
        .respond(StatusCode::NOT_FOUND)
}

async fn open_unsubscribe(data: &FedData, key: String) -> Result<Result<Unsubscribe, KeyError>, PageError> {
    if key.len() > MAX_KEY {
        return Ok(Err(KeyError::Invalid));
    }
    Ok(data.db.run(move |c| Ok(signer(c)?.open_unsubscribe_key(&key))).await?)
}

/// `GET /mail/unsubscribe/{key}`: what the link stops, and a button that stops it.
pub async fn unsubscribe_page(
    key: web::Path<String>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let key = key.into_inner();
    let Ok(what) = open_unsubscribe(&data, key.clone()).await? else { return unsubscribe_refused(&data) };
    let Some((words, _)) = data.db.run(move |c| unsubscribe_words(c, what)).await? else {
        return Notice::new(&data, viewer.nav(), "You are unsubscribed")
            .say("This mail is stopped already.")
            .respond(StatusCode::OK);
    };
    Notice::new(&data, viewer.nav(), "Unsubscribe")
        .say(format!("This stops {words}."))
        .button(format!("/mail/unsubscribe/{key}"), Vec::new(), "Unsubscribe")
        .respond(StatusCode::OK)
}

/// `POST /mail/unsubscribe/{key}`: RFC 8058's one click. No session, cookie or token: mail
/// clients post `List-Unsubscribe=One-Click` themselves. A second post answers the same.
pub async fn unsubscribe(key: web::Path<String>, data: FedData) -> Result<HttpResponse, PageError> {
    let Ok(what) = open_unsubscribe(&data, key.into_inner()).await? else {
        return unsubscribe_refused(&data);
    };
    let said = data
        .db
        .run(move |c| {
            let said = unsubscribe_words(c, what)?;
            match what {
                Unsubscribe::Group(id) => {
                    mail::remove(c, id)?;
                }
                Unsubscribe::Notifications { actor_id, category } => {
                    if let Some((_, prefs)) = mail::prefs(c, actor_id)? {
                        mail::set_prefs(c, actor_id, prefs.with(category, false))?;
                    }
                }
            }
            Ok(said)
        })
        .await?;
    let notice = Notice::new(&data, Nav::default(), "You are unsubscribed");
    let notice = match said {
        Some((words, next)) => notice.say(format!("You will no longer receive {words}.")).link(next, "Go on"),
        None => notice.say("This mail is stopped."),
    };
    notice.respond(StatusCode::OK)
}

/// A checkbox of the mail settings.
#[derive(Debug)]
pub struct CategoryChoice {
    /// The field name (the category's spelling).
    pub name: &'static str,
    /// What it sends.
    pub label: &'static str,
    /// On.
    pub checked: bool,
}

/// A group whose mail the member receives.
#[derive(Debug)]
pub struct GroupMailRow {
    /// The group's name.
    pub name: String,
    /// Its page's mail section, to change the choice.
    pub url: String,
    /// How the mail comes, in words.
    pub how: String,
}

/// The mail section of the settings page.
#[derive(Debug)]
pub struct MailSettings {
    /// Where mail goes.
    pub email: String,
    /// The notification categories.
    pub categories: Vec<CategoryChoice>,
    /// Groups' mail.
    pub groups: Vec<GroupMailRow>,
}

fn category_label(category: MailCategory) -> &'static str {
    match category {
        MailCategory::Mentions => "Mentions and replies",
        MailCategory::FollowRequests => "Follow requests, and requests to join groups you moderate",
        MailCategory::Reports => "Reports, when you moderate a group or this server",
        MailCategory::EventReminders => "Reminders of events you are going to",
    }
}

/// The mail section of `viewer`'s settings.
pub(crate) async fn settings_section(data: &FedData, viewer: &Viewer) -> Result<MailSettings, PageError> {
    let (me, email) = (viewer.actor().id, viewer.account.user.email.clone());
    let (prefs, groups) = data
        .db
        .run(move |c| {
            let prefs = mail::prefs(c, me)?.map(|(_, p)| p);
            let mut rows = Vec::new();
            for sub in mail::member_subscriptions(c, me)? {
                let group = actors::get(c, sub.group_id)?;
                rows.push((sub, group));
            }
            Ok((prefs, rows))
        })
        .await?;
    let prefs = prefs.unwrap_or_default();
    let categories = MailCategory::ALL
        .into_iter()
        .map(|c| CategoryChoice { name: c.as_str(), label: category_label(c), checked: prefs.wants(c) })
        .collect();
    let groups = groups
        .into_iter()
        .filter(|(_, g)| g.deleted_at.is_none())
        .map(|(sub, group)| {
            Ok(GroupMailRow {
                name: shown(&group),
                url: format!("/@{}#mail", group.username),
                how: how_of(&sub)?,
            })
        })
        .collect::<Result<Vec<_>, PageError>>()?;
    Ok(MailSettings { email, categories, groups })
}

#[derive(Debug, Deserialize)]
struct MailSettingsForm {
    #[serde(default)]
    mentions: Option<String>,
    #[serde(default)]
    follow_requests: Option<String>,
    #[serde(default)]
    reports: Option<String>,
    #[serde(default)]
    event_reminders: Option<String>,
}

/// `POST /settings/mail`: which notifications come by mail.
pub async fn settings(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: MailSettingsForm = viewer.form(&request, &data, &body)?;
    let prefs = MailPrefs {
        mentions: form.mentions.is_some(),
        follow_requests: form.follow_requests.is_some(),
        reports: form.reports.is_some(),
        event_reminders: form.event_reminders.is_some(),
    };
    let me = viewer.actor().id;
    data.db.run(move |c| mail::set_prefs(c, me, prefs)).await?;
    Ok(forms::see_other("/settings#mail"))
}

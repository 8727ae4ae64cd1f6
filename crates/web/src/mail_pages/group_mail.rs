//! Following a public group by mail without an account (with its double opt-in), and a
//! reader's own mail from a group.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use guildhall_core::email::Email;
use guildhall_core::limits::RateLimits;
use guildhall_core::mail::{GroupMailMode, KeyError, Purpose};
use guildhall_core::model::{ActorKind, GroupVisibility};
use guildhall_federation::FedData;
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::groups;
use guildhall_storage::mail::{self, Delivery};
use serde::Deserialize;

use super::{Notice, check_anonymous, claimed_id, form_cookie, form_token, how_of, now_unix, shown, signer};
use crate::error::PageError;
use crate::event_forms::invalid;
use crate::forms;
use crate::session::{MaybeViewer, Nav, Viewer, client_address};

/// What the rate limiter counts a request for a group's mail as: a failed sign-in, from the
/// client's address, of a login no account can have (see `account::RESET_LIMIT`).
const FOLLOW_LIMIT: &str = "follow by mail";

/// The digest hour a form starts at.
const DEFAULT_HOUR: u32 = 8;

/// How mail from a group can come, to someone without an account.
const MODES: &[(&str, &str)] = &[
    ("every_post", "Every post, as it is posted"),
    ("daily", "A daily digest"),
    ("weekly", "A weekly digest (Mondays)"),
];

/// The same, for a member, who may also have none.
const MEMBER_MODES: &[(&str, &str)] = &[
    ("off", "No mail"),
    ("every_post", "Every post, as it is posted"),
    ("daily", "A daily digest"),
    ("weekly", "A weekly digest (Mondays)"),
];

/// The address subscription a follow key names, with its group, when the key is ours, still
/// bound to the address and not expired.
async fn follow_by_key(
    data: &FedData,
    key: &str,
) -> Result<Result<(mail::Subscription, Actor), KeyError>, PageError> {
    let Some(id) = claimed_id(key) else { return Ok(Err(KeyError::Invalid)) };
    let key = key.to_owned();
    Ok(data
        .db
        .run(move |c| {
            let signer = signer(c)?;
            let Some(sub) = mail::subscription(c, id)? else { return Ok(Err(KeyError::Invalid)) };
            let Some(email) = sub.email.clone() else { return Ok(Err(KeyError::Invalid)) };
            if let Err(why) = signer.open_expiring_key(Purpose::ConfirmFollow, &key, &email, now_unix()) {
                return Ok(Err(why));
            }
            let group = actors::get(c, sub.group_id)?;
            Ok(Ok((sub, group)))
        })
        .await?)
}

fn follow_refused(data: &FedData, why: KeyError) -> Result<HttpResponse, PageError> {
    match why {
        KeyError::Invalid => Notice::new(data, Nav::default(), "This link is not valid")
            .say("Check that the whole link was copied from the mail.")
            .respond(StatusCode::NOT_FOUND),
        KeyError::Expired => Notice::new(data, Nav::default(), "This link has expired")
            .say("A link to confirm works for three days. Ask again from the group's page.")
            .respond(StatusCode::GONE),
    }
}

/// `GET /mail/confirm/{key}`: what following by mail sends, and a button that confirms it.
pub async fn confirm_follow_page(
    key: web::Path<String>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let key = key.into_inner();
    let (sub, group) = match follow_by_key(&data, &key).await? {
        Ok(found) => found,
        Err(why) => return follow_refused(&data, why),
    };
    let what = format!("{} of {} at {}", how_of(&sub)?, shown(&group), sub.email.clone().unwrap_or_default());
    if sub.confirmed_at.is_some() {
        return Notice::new(&data, viewer.nav(), "Confirmed already")
            .say(format!("You receive {what}."))
            .link(format!("/@{}", group.username), format!("Go to {}", shown(&group)))
            .respond(StatusCode::OK);
    }
    Notice::new(&data, viewer.nav(), format!("Follow {} by mail", shown(&group)))
        .say(format!("Confirm to receive {what}."))
        .button(format!("/mail/confirm/{key}"), Vec::new(), "Confirm")
        .respond(StatusCode::OK)
}

/// `POST /mail/confirm/{key}`: confirms the subscription (the double opt-in). No session.
pub async fn confirm_follow(key: web::Path<String>, data: FedData) -> Result<HttpResponse, PageError> {
    let (sub, group) = match follow_by_key(&data, &key.into_inner()).await? {
        Ok(found) => found,
        Err(why) => return follow_refused(&data, why),
    };
    let id = sub.id;
    data.db.run(move |c| mail::confirm(c, id)).await?;
    let what = format!("{} of {} at {}", how_of(&sub)?, shown(&group), sub.email.clone().unwrap_or_default());
    Notice::new(&data, Nav::default(), "You are following by mail")
        .say(format!("You will receive {what}."))
        .say("Every mail has a link at its end that stops it with one click.")
        .link(format!("/@{}", group.username), format!("Go to {}", shown(&group)))
        .respond(StatusCode::OK)
}

/// The group mail form on a group's page: following by mail for a stranger, a member's own
/// choice for someone signed in.
#[derive(Debug)]
pub struct MailForm {
    /// The heading of the section.
    pub heading: &'static str,
    /// What the form does.
    pub intro: &'static str,
    /// Where it posts.
    pub action: String,
    /// Its CSRF token (the session's, or the anonymous form cookie's).
    pub csrf: String,
    /// Asks for an address (a stranger).
    pub ask_email: bool,
    /// The choices of how mail comes.
    pub modes: &'static [(&'static str, &'static str)],
    /// The chosen one.
    pub mode: String,
    /// Hours of the day (value, label).
    pub hours: Vec<(u32, String)>,
    /// The chosen hour.
    pub hour: u32,
    /// The chosen time zone.
    pub timezone: String,
    /// Suggested time zones.
    pub zones: &'static [&'static str],
    /// The button's words.
    pub button: &'static str,
}

fn hours() -> Vec<(u32, String)> {
    (0..24).map(|h| (h, format!("{h:02}:00"))).collect()
}

/// The mail form `group`'s page shows its viewer, and the cookie to set with it: a stranger
/// may follow a public group by mail; a signed-in viewer who may read the group (anyone for a
/// public group, members for a members-only one) chooses their own mail from it.
pub(crate) async fn group_form(
    request: &HttpRequest,
    data: &FedData,
    group: &Actor,
    viewer: Option<&Viewer>,
    insider: bool,
) -> Result<(Option<MailForm>, Option<Cookie<'static>>), PageError> {
    let action = format!("/@{}/mail", group.username);
    let Some(viewer) = viewer else {
        if group.members_only {
            return Ok((None, None));
        }
        let csrf = form_token(request);
        let cookie = form_cookie(data, &csrf, &action);
        let form = MailForm {
            heading: "Follow by e-mail",
            intro: "Receive this group's public posts by mail, without an account. We mail you a link to confirm first.",
            action: format!("{action}/subscribe"),
            csrf,
            ask_email: true,
            modes: MODES,
            mode: GroupMailMode::Daily.as_str().into(),
            hours: hours(),
            hour: DEFAULT_HOUR,
            timezone: "UTC".into(),
            zones: crate::event_forms::ZONES,
            button: "Follow by e-mail",
        };
        return Ok((Some(form), Some(cookie)));
    };
    if group.members_only && !insider {
        return Ok((None, None));
    }
    let (group_id, me) = (group.id, viewer.actor().id);
    let current = data.db.run(move |c| mail::member_subscription(c, group_id, me)).await?;
    let form = MailForm {
        heading: "Mail from this group",
        intro: "Receive this group's posts by mail, as they come or as a digest. Every mail has a link that stops it.",
        action,
        csrf: viewer.csrf.clone(),
        ask_email: false,
        modes: MEMBER_MODES,
        mode: current.as_ref().map_or_else(|| "off".to_owned(), |s| s.mode.clone()),
        hours: hours(),
        hour: current.as_ref().and_then(|s| u32::try_from(s.hour).ok()).unwrap_or(DEFAULT_HOUR),
        timezone: current.map_or_else(|| "UTC".to_owned(), |s| s.timezone),
        zones: crate::event_forms::ZONES,
        button: "Save mail choice",
    };
    Ok((Some(form), None))
}

/// A digest's hour and zone from a form: the hour 0–23 (empty: the default), an IANA zone
/// (empty: UTC).
fn digest_time(hour: &str, timezone: &str) -> Result<(u32, String), PageError> {
    let hour = match hour.trim() {
        "" => DEFAULT_HOUR,
        h => h
            .parse::<u32>()
            .ok()
            .filter(|h| *h < 24)
            .ok_or_else(|| invalid("hour", "a whole hour from 0 to 23"))?,
    };
    let timezone = match timezone.trim() {
        "" => "UTC".to_owned(),
        tz => guildhall_core::calendar::timezone(tz)
            .map(|z| z.name().to_owned())
            .ok_or_else(|| invalid("timezone", "an IANA time zone such as Europe/London, or UTC"))?,
    };
    Ok((hour, timezone))
}

/// The local group named `name`, when it is live.
async fn local_group(data: &FedData, name: String) -> Result<(Actor, GroupVisibility), PageError> {
    let found = data
        .db
        .run(move |c| {
            let Some(actor) = actors::find_local(c, &name)? else { return Ok(None) };
            let Some(group) = groups::get(c, actor.id)? else { return Ok(None) };
            Ok(Some((actor, group.visibility()?)))
        })
        .await?;
    found.filter(|(a, _)| a.is(ActorKind::Group) && a.deleted_at.is_none()).ok_or(PageError::NotFound)
}

#[derive(Debug, Deserialize)]
struct FollowByMailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    hour: String,
    #[serde(default)]
    timezone: String,
}

/// `POST /@{name}/mail/subscribe`: an address asks for a public group's mail; we mail it a
/// link to confirm. The answer is the same whether or not the address follows already.
pub async fn follow_by_mail(
    request: HttpRequest,
    name: web::Path<String>,
    body: Bytes,
    data: FedData,
    limits: web::Data<RateLimits>,
) -> Result<HttpResponse, PageError> {
    let form: FollowByMailForm = forms::parse(&body)?;
    check_anonymous(&request, &data, &form.csrf)?;
    let (group, visibility) = local_group(&data, name.into_inner()).await?;
    if visibility != GroupVisibility::Public {
        return Err(PageError::NotFound);
    }
    limits.attempt(FOLLOW_LIMIT, &client_address(&request, &data))?;
    let email = Email::parse(&form.email)
        .map_err(|_| invalid("email", "an e-mail address such as name@example.org"))?;
    let mode = GroupMailMode::parse(form.mode.trim())
        .ok_or_else(|| invalid("mode", "every_post, daily or weekly"))?;
    let (hour, timezone) = digest_time(&form.hour, &form.timezone)?;
    let (group_id, address) = (group.id, email.as_str().to_owned());
    let delivery = Delivery { mode, timezone, hour };
    data.db.run(move |c| mail::subscribe_address(c, group_id, &address, delivery)).await?;
    Notice::new(&data, Nav::default(), "Check your inbox to confirm")
        .say(format!(
            "Unless {} receives mail from {} already, a mail with a link to confirm is on its way to it.",
            email.as_str(),
            shown(&group)
        ))
        .say("Nothing is sent until the link is opened; it works for three days.")
        .link(format!("/@{}", group.username), format!("Back to {}", shown(&group)))
        .respond(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct MemberMailForm {
    mode: String,
    #[serde(default)]
    hour: String,
    #[serde(default)]
    timezone: String,
}

/// `POST /@{name}/mail`: a signed-in member's mail from a group (off, every post, a daily or
/// weekly digest). A members-only group's mail is for its members alone.
pub async fn member_mail(
    request: HttpRequest,
    name: web::Path<String>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: MemberMailForm = viewer.form(&request, &data, &body)?;
    let (group, visibility) = local_group(&data, name.into_inner()).await?;
    let delivery = match form.mode.trim() {
        "off" => None,
        mode => {
            let mode = GroupMailMode::parse(mode)
                .ok_or_else(|| invalid("mode", "off, every_post, daily or weekly"))?;
            let (hour, timezone) = digest_time(&form.hour, &form.timezone)?;
            Some(Delivery { mode, timezone, hour })
        }
    };
    let (group_id, me) = (group.id, viewer.actor().id);
    let allowed = data
        .db
        .run(move |c| {
            if visibility == GroupVisibility::Public {
                return Ok(true);
            }
            Ok(groups::is_member(c, group_id, me)? || groups::is_moderator(c, group_id, me)?)
        })
        .await?;
    if !allowed {
        return Err(PageError::Forbidden("Only this group's members can receive its mail".into()));
    }
    data.db.run(move |c| mail::set_member(c, group_id, me, delivery)).await?;
    Ok(forms::see_other(&format!("/@{}#mail", group.username)))
}

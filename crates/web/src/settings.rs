//! A member's settings: profile (name, bio, fields, default visibility), password, mail
//! (`mail_pages`), signed-in browsers, and the apps allowed to act for them, each revocable.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use guildhall_core::model::Visibility;
use guildhall_federation::FedData;
use guildhall_federation::actions::{self, ProfileUpdate};
use guildhall_federation::uploads::{ImageStore, ProfileImage, UploadError};
use guildhall_storage::{accounts, oauth, web_sessions};
use serde::Deserialize;

use crate::error::PageError;
use crate::forms;
use crate::pages::html;
use crate::session::{Nav, Viewer};
use crate::views;
use crate::views::when;

/// Profile fields a member may have, and their length (as the API).
const MAX_FIELDS: usize = 4;
const MAX_FIELD_CHARS: usize = 255;
/// Longest display name and bio.
const MAX_NAME_CHARS: usize = 100;
const MAX_BIO_CHARS: usize = 5000;

/// A signed-in browser in the list.
#[derive(Debug)]
struct SessionRow {
    id: i64,
    browser: String,
    ip: String,
    signed_in: String,
    last_used: String,
    current: bool,
}

/// An authorized app in the list.
#[derive(Debug)]
struct AppRow {
    id: i64,
    name: String,
    website: Option<String>,
    scopes: String,
    since: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    site: String,
    nav: Nav,
    csrf: String,
    display_name: String,
    bio: String,
    fields: Vec<(String, String)>,
    visibility: String,
    choices: &'static [(&'static str, &'static str)],
    locked: bool,
    /// When to be reminded of events (the checkboxes).
    reminders: Vec<crate::event_forms::ReminderChoice>,
    /// Notification mail and mail from groups.
    mail: crate::mail_pages::MailSettings,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    site: String,
    nav: Nav,
    csrf: String,
    sessions: Vec<SessionRow>,
    apps: Vec<AppRow>,
}

/// `GET /settings`: the profile form and the password form.
pub async fn page(viewer: Viewer, data: FedData) -> Result<HttpResponse, PageError> {
    let actor = viewer.actor().clone();
    let mut fields: Vec<(String, String)> =
        actor.fields().into_iter().map(|f| (f.name, guildhall_core::text::strip_html(&f.value))).collect();
    fields.resize(MAX_FIELDS, (String::new(), String::new()));
    html(&SettingsPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        display_name: actor.display_name.clone(),
        bio: guildhall_core::text::strip_html(&actor.summary),
        fields,
        visibility: crate::member::default_visibility(&data, &viewer).await?,
        choices: views::VISIBILITY_CHOICES,
        locked: actor.manually_approves_followers,
        reminders: crate::event_forms::reminder_choices(&data, actor.id).await?,
        mail: crate::mail_pages::settings_section(&data, &viewer).await?,
    })
}

#[derive(Debug, Deserialize)]
struct ProfileForm {
    csrf: String,
    display_name: String,
    bio: String,
    visibility: Visibility,
    #[serde(default)]
    locked: Option<String>,
    #[serde(default)]
    field_name_0: String,
    #[serde(default)]
    field_value_0: String,
    #[serde(default)]
    field_name_1: String,
    #[serde(default)]
    field_value_1: String,
    #[serde(default)]
    field_name_2: String,
    #[serde(default)]
    field_value_2: String,
    #[serde(default)]
    field_name_3: String,
    #[serde(default)]
    field_value_3: String,
}

impl ProfileForm {
    fn fields(&self) -> Result<Vec<(String, String)>, PageError> {
        let pairs = [
            (&self.field_name_0, &self.field_value_0),
            (&self.field_name_1, &self.field_value_1),
            (&self.field_name_2, &self.field_value_2),
            (&self.field_name_3, &self.field_value_3),
        ];
        let fields: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .filter(|(n, v)| !n.is_empty() || !v.is_empty())
            .collect();
        if fields
            .iter()
            .any(|(n, v)| n.chars().count() > MAX_FIELD_CHARS || v.chars().count() > MAX_FIELD_CHARS)
        {
            return Err(PageError::Invalid(format!(
                "fields: names and values are at most {MAX_FIELD_CHARS} characters"
            )));
        }
        Ok(fields)
    }
}

/// `POST /settings/profile`: display name, bio, fields, default visibility, locked account,
/// and a new avatar or header when one is chosen (a multipart form). Followers' servers get the
/// `Update`.
pub async fn profile(
    request: HttpRequest,
    payload: web::Payload,
    viewer: Viewer,
    data: FedData,
    images: web::Data<dyn ImageStore>,
) -> Result<HttpResponse, PageError> {
    let sent = forms::read(&request, payload).await?;
    let form: ProfileForm = sent.parse()?;
    viewer.check(&request, &data, &form.csrf)?;
    if form.display_name.chars().count() > MAX_NAME_CHARS {
        return Err(PageError::Invalid(format!("display_name: at most {MAX_NAME_CHARS} characters")));
    }
    if form.bio.chars().count() > MAX_BIO_CHARS {
        return Err(PageError::Invalid(format!("bio: at most {MAX_BIO_CHARS} characters")));
    }
    let fields = form.fields()?;
    // The pictures are stored last, once the rest of the form was found right.
    let mut pictures = [None, None];
    for (slot, (field, kind)) in
        pictures.iter_mut().zip([("avatar", ProfileImage::Avatar), ("header", ProfileImage::Header)])
    {
        if let Some(bytes) = sent.file(field) {
            let stored = images.store_profile_image(viewer.actor().id, bytes, kind).await;
            *slot = Some(stored.map_err(|e| match e {
                UploadError::Invalid(why) => PageError::Invalid(format!("{field}: {why}")),
                UploadError::TooMany(why) => PageError::TooMany(why),
                UploadError::Internal(why) => PageError::Internal(why),
            })?);
        }
    }
    let [avatar_url, header_url] = pictures;
    let update = ProfileUpdate {
        display_name: Some(form.display_name.trim().to_owned()),
        note: Some(form.bio.trim().to_owned()),
        locked: Some(form.locked.is_some()),
        fields: Some(fields),
        avatar_url,
        header_url,
        ..ProfileUpdate::default()
    };
    actions::update_profile(&data, viewer.actor(), update).await?;
    let (id, visibility) = (viewer.actor().id, form.visibility);
    data.db
        .run(move |c| {
            let mut defaults = accounts::posting_defaults(c, id)?;
            defaults.visibility = visibility;
            accounts::set_posting_defaults(c, id, &defaults)
        })
        .await?;
    Ok(forms::see_other("/settings"))
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// `POST /settings/password`: the current password again, the new one twice. Every app and
/// browser is signed out, this one too; the member signs in with the new password.
pub async fn password(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
    limits: web::Data<guildhall_core::limits::RateLimits>,
) -> Result<HttpResponse, PageError> {
    let form: PasswordForm = viewer.form(&request, &data, &body)?;
    let login = viewer.account.user.email.clone();
    let address = crate::session::client_address(&request, &data);
    limits.attempt(&login, &address)?;
    let confirmed = guildhall_federation::local_actors::check_password(&data.db, &login, &form.current)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    if confirmed.is_none_or(|a| a.user.id != viewer.account.user.id) {
        return Err(PageError::Forbidden("current: the current password is wrong".into()));
    }
    limits.succeeded(&login, &address);
    if form.new != form.confirm {
        return Err(PageError::Invalid("confirm: the new passwords do not match".into()));
    }
    let hash =
        guildhall_core::password::hash(&form.new).map_err(|e| PageError::Invalid(format!("new: {e}")))?;
    let username = viewer.actor().username.clone();
    data.db.run(move |c| accounts::set_password(c, &username, &hash)).await?;
    Ok(forms::see_other("/auth/sign_in?next=%2Fsettings"))
}

/// `GET /settings/sessions`: signed-in browsers and authorized apps.
pub async fn sessions(viewer: Viewer, data: FedData) -> Result<HttpResponse, PageError> {
    let (uid, current) = (viewer.account.user.id, viewer.session.id);
    let (sessions, apps) = data
        .db
        .run(move |c| {
            Ok::<_, guildhall_storage::StorageError>((
                web_sessions::list(c, uid)?,
                oauth::authorized_apps(c, uid)?,
            ))
        })
        .await?;
    let sessions = sessions
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            browser: if s.user_agent.is_empty() { "Unknown browser".into() } else { s.user_agent },
            ip: s.ip,
            signed_in: when(s.created_at),
            last_used: when(s.last_used_at),
            current: s.id == current,
        })
        .collect();
    let apps = apps
        .into_iter()
        .map(|a| AppRow {
            id: a.app.id,
            name: a.app.name,
            website: a.app.website.filter(|w| guildhall_core::text::is_web_link(w)),
            scopes: a.scopes,
            since: when(a.since),
            last_used: a.last_used_at.map(when).unwrap_or_else(|| "never".into()),
        })
        .collect();
    html(&SessionsPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        sessions,
        apps,
    })
}

/// `POST /settings/sessions/{id}/revoke`: signs a browser out.
pub async fn revoke_session(
    request: HttpRequest,
    id: web::Path<i64>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    viewer.check_form(&request, &data, &body)?;
    let (uid, id) = (viewer.account.user.id, id.into_inner());
    if !data.db.run(move |c| web_sessions::revoke(c, uid, id)).await? {
        return Err(PageError::NotFound);
    }
    Ok(forms::see_other("/settings/sessions"))
}

/// `POST /settings/apps/{id}/revoke`: every token of an app for this member ends.
pub async fn revoke_app(
    request: HttpRequest,
    id: web::Path<i64>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    viewer.check_form(&request, &data, &body)?;
    let (uid, id) = (viewer.account.user.id, id.into_inner());
    if data.db.run(move |c| oauth::revoke_app_for_user(c, uid, id)).await? == 0 {
        return Err(PageError::NotFound);
    }
    Ok(forms::see_other("/settings/sessions"))
}

/// Posts an export holds at most (newest first); a larger archive is a job for the API.
const EXPORT_POSTS: i64 = 5_000;

fn download(content_type: &str, name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Content-Type", content_type))
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .insert_header(("Cache-Control", "private, no-store"))
        .body(body)
}

/// `GET /settings/export/following.csv`: the accounts the member follows, in the CSV Mastodon
/// imports (`Account address,Show boosts,Notify on new posts,Languages`).
pub async fn export_following(viewer: Viewer, data: FedData) -> Result<HttpResponse, PageError> {
    let (me, domain) = (viewer.actor().id, data.config.domain.to_string());
    let csv = data
        .db
        .run(move |c| {
            let mut csv = String::from("Account address,Show boosts,Notify on new posts,Languages\n");
            for id in guildhall_storage::follows::following(c, me)? {
                let who = guildhall_storage::actors::get(c, id)?;
                let options = guildhall_storage::follows::options(c, me, id)?;
                // Another server's username is not trusted: one that could break the CSV (a comma,
                // a line break) or start a spreadsheet formula is left out.
                let safe = |s: &str| {
                    !s.is_empty()
                        && s.chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-' | ':'))
                };
                let server = who.domain.as_deref().unwrap_or(&domain);
                if !safe(&who.username) || !safe(server) || who.username.starts_with('-') {
                    continue;
                }
                let address = format!("{}@{server}", who.username);
                csv.push_str(&format!("{address},{},{},\n", options.show_reblogs, options.notify));
            }
            Ok::<_, guildhall_storage::StorageError>(csv)
        })
        .await?;
    Ok(download("text/csv; charset=utf-8", "following.csv", csv))
}

/// `GET /settings/export/outbox.json`: the member's posts as ActivityPub Notes in an
/// `OrderedCollection`, newest first (what other servers and archive tools read).
pub async fn export_posts(viewer: Viewer, data: FedData) -> Result<HttpResponse, PageError> {
    use guildhall_federation::objects::status::{load_parts, render_note};
    let (me, base, domain) = (viewer.actor().id, data.urls.base().to_owned(), data.config.domain.to_string());
    let parts = data
        .db
        .run(move |c| {
            let mut parts = Vec::new();
            for s in guildhall_storage::statuses::by_actor(c, me, None, EXPORT_POSTS)? {
                if s.reblog_of_id.is_none() {
                    parts.push(load_parts(c, s)?);
                }
            }
            Ok::<_, guildhall_storage::StorageError>(parts)
        })
        .await?;
    let items = parts.iter().map(|p| render_note(p, &base, &domain)).collect::<Result<Vec<_>, _>>()?;
    let doc = serde_json::json!({
        "type": "OrderedCollection",
        "totalItems": items.len(),
        "orderedItems": items,
    });
    let doc = guildhall_federation::protocol::with_context(doc);
    Ok(download("application/activity+json", "outbox.json", doc.to_string()))
}

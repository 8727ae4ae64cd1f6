//! The form a group's moderators schedule a discussion hour with: `/@{group}/hours/new`.
//!
//! It asks what `POST /api/guildhall/v1/groups/{id}/hours` asks, with the prompts typed one
//! per line as `minutes | text`, and is checked by the same code
//! ([`guildhall_federation::hours::create`]): a wrong field is a 422 that names it.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use guildhall_core::model::ActorKind;
use guildhall_federation::FedData;
use guildhall_federation::hours::{self as fed_hours, HourRequest};
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::hours::Prompt;
use guildhall_storage::{StorageError, groups};
use serde::Deserialize;

use crate::error::PageError;
use crate::event_forms::invalid;
use crate::forms;
use crate::pages::html;
use crate::session::{Nav, Viewer};

/// Most prompt lines read (the hour itself allows fewer; it says so).
const MAX_LINES: usize = 100;

/// The form's fields, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HourForm {
    title: String,
    hashtag: String,
    rrule: String,
    starts: String,
    timezone: String,
    duration: String,
    intro: String,
    prompts: String,
}

/// `minutes | text` lines as prompts (blank lines skipped).
fn prompts(text: &str) -> Result<Vec<Prompt>, PageError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate().take(MAX_LINES) {
        let (minutes, text) = line
            .split_once('|')
            .ok_or_else(|| invalid("prompts", format!("line {}: write it as 'minutes | text'", n + 1)))?;
        let minutes: i64 = minutes.trim().parse().map_err(|_| {
            invalid("prompts", format!("line {}: '{}' is not a number of minutes", n + 1, minutes.trim()))
        })?;
        out.push(Prompt { offset_seconds: minutes.saturating_mul(60), text: text.trim().to_owned() });
    }
    Ok(out)
}

impl HourForm {
    fn request(&self) -> Result<HourRequest, PageError> {
        let duration = self
            .duration
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid("duration_minutes", "a whole number of minutes"))?;
        Ok(HourRequest {
            title: self.title.clone(),
            hashtag: self.hashtag.clone(),
            rrule: self.rrule.clone(),
            dtstart: self.starts.clone(),
            timezone: self.timezone.clone(),
            duration_minutes: duration,
            intro: self.intro.clone(),
            prompts: prompts(&self.prompts)?,
            host_id: None,
        })
    }
}

/// The local group named `name` that `viewer` moderates; 404 otherwise.
async fn moderated(data: &FedData, name: &str, viewer: &Viewer) -> Result<Actor, PageError> {
    let (name, me) = (name.to_owned(), viewer.actor().id);
    data.db
        .run(move |c| {
            let Some(group) = actors::find_local(c, &name)? else { return Ok(None) };
            let live = group.is(ActorKind::Group)
                && group.deleted_at.is_none()
                && groups::get(c, group.id)?.is_some();
            Ok::<_, StorageError>((live && groups::is_moderator(c, group.id, me)?).then_some(group))
        })
        .await?
        .ok_or(PageError::NotFound)
}

#[derive(Template)]
#[template(path = "hour_form.html")]
struct HourFormPage {
    site: String,
    nav: Nav,
    csrf: String,
    username: String,
    group_name: String,
}

/// `GET /@{name}/hours/new`: the form, for the group's moderators.
pub async fn new_form(
    name: web::Path<String>,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let group = moderated(&data, &name, &viewer).await?;
    let group_name =
        if group.display_name.is_empty() { group.username.clone() } else { group.display_name.clone() };
    html(&HourFormPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        username: group.username,
        group_name,
    })
}

/// `POST /@{name}/hours`: schedules the hour; on to its page.
pub async fn create(
    request: HttpRequest,
    name: web::Path<String>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: HourForm = viewer.form(&request, &data, &body)?;
    let group = moderated(&data, &name, &viewer).await?;
    let hour = fed_hours::create(&data, &group, viewer.actor(), form.request()?).await?;
    Ok(forms::see_other(&format!("/hours/{}", hour.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_lines_read_minutes_and_text_and_name_the_bad_line() {
        let read = prompts("5 | What is it for?\n\n 15|Who looks after it? ").unwrap();
        assert_eq!(read[1].offset_seconds, 900);
        assert_eq!(read[1].text, "Who looks after it?");
        let Err(PageError::Invalid(why)) = prompts("5 | ok\nsoon | later") else { panic!() };
        assert!(why.starts_with("prompts: line 2"), "{why}");
    }
}

//! Following across servers from a browser.
//!
//! Outbound: a visitor on one of our pages gives their handle elsewhere (`you@your.server`) and
//! is sent to their own server's `authorize_interaction` page with our actor's id, where they
//! follow or join while signed in there (Mastodon, Pleroma and Akkoma answer it).
//!
//! Inbound: our WebFinger advertises `/authorize_interaction?uri={uri}` as the OStatus
//! subscribe template; a member who arrives there from another server's page sees who they are
//! about to follow and confirms with a button (a signed, CSRF-checked form), never by a link.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use guildhall_core::domain::Domain;
use guildhall_federation::{FedData, actions};
use serde::Deserialize;

use crate::error::PageError;
use crate::forms;
use crate::pages::{html, site};
use crate::session::{Nav, Viewer};
use crate::views::{self, AuthorView};

#[derive(Debug, Deserialize)]
struct RemoteFollowForm {
    /// Our actor's id.
    uri: String,
    /// `user@server` (a leading `@` is fine).
    handle: String,
}

/// `POST /remote_follow`: off to the visitor's own server to follow `uri` there. Only from our
/// own pages: another site must not use us to send its visitors to a server of its choosing.
pub async fn remote_follow(
    request: HttpRequest,
    body: Bytes,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    forms::same_origin(&request, &data)?;
    let form: RemoteFollowForm = forms::parse(&body)?;
    let ours = data.urls.base().trim_end_matches('/').to_owned();
    if !form.uri.starts_with(&format!("{ours}/")) {
        return Err(PageError::Invalid(
            "uri: only our own accounts and groups can be followed from here".into(),
        ));
    }
    let handle = form.handle.trim().trim_start_matches('@');
    let server = handle
        .split_once('@')
        .map(|(_, server)| server)
        .and_then(|server| Domain::parse(server).ok())
        .ok_or_else(|| PageError::Invalid("handle: write your handle as you@your.server".into()))?;
    let scheme = if data.config.insecure { "http" } else { "https" };
    let to = format!("{scheme}://{server}/authorize_interaction?uri={}", forms::encode(&form.uri));
    Ok(HttpResponse::SeeOther().insert_header(("Location", to)).finish())
}

#[derive(Debug, Deserialize)]
pub struct InteractionQuery {
    uri: String,
}

#[derive(Template)]
#[template(path = "authorize_interaction.html")]
struct ConfirmPage {
    site: String,
    nav: Nav,
    csrf: String,
    uri: String,
    /// The account, when we already know it (an unknown one is fetched only on the button).
    who: Option<AuthorView>,
    group: bool,
}

/// `GET /authorize_interaction?uri=`: who the member is about to follow or join, with a button.
pub async fn confirm(
    query: crate::forms::Query<InteractionQuery>,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let uri = query.0.uri;
    if uri.trim().is_empty() || uri.len() > 2000 {
        return Err(PageError::Invalid("uri: give the account to follow".into()));
    }
    // A GET fetches nothing: another site's link must not make us call out for a member.
    let target = known(&data, &uri).await?;
    let (base, domain) = site(&data);
    html(&ConfirmPage {
        site: domain.clone(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        group: target.as_ref().is_some_and(|t| t.is(guildhall_core::model::ActorKind::Group)),
        who: target.as_ref().map(|t| views::author(t, &base, &domain)),
        uri,
    })
}

#[derive(Debug, Deserialize)]
struct FollowForm {
    uri: String,
}

/// `POST /authorize_interaction`: follows (or asks to join) the account at `uri`.
pub async fn follow(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: FollowForm = viewer.form(&request, &data, &body)?;
    let target = resolve(&data, &form.uri).await?;
    if target.id == viewer.actor().id {
        return Err(PageError::Invalid("uri: that is your own account".into()));
    }
    actions::follow(&data, viewer.actor(), &target).await?;
    Ok(forms::see_other("/home"))
}

/// The account behind `uri` when we hold it already (an actor id, or a local name).
async fn known(data: &FedData, uri: &str) -> Result<Option<guildhall_storage::actors::Actor>, PageError> {
    let uri = uri.trim().trim_start_matches("acct:").trim_start_matches('@').to_owned();
    let ours = data.config.domain.to_string();
    Ok(data
        .db
        .run(move |c| {
            if uri.starts_with("https://") || uri.starts_with("http://") {
                return guildhall_storage::actors::find_by_ap_id(c, &uri);
            }
            match uri.split_once('@') {
                None => guildhall_storage::actors::find_local(c, &uri),
                Some((name, server)) if server.eq_ignore_ascii_case(&ours) => {
                    guildhall_storage::actors::find_local(c, name)
                }
                Some(_) => Ok(None),
            }
        })
        .await?
        .filter(|a| a.deleted_at.is_none()))
}

/// The account behind `uri` (an actor id, a profile URL or `user@server`), fetched if need be.
async fn resolve(data: &FedData, uri: &str) -> Result<guildhall_storage::actors::Actor, PageError> {
    let uri = uri.trim().trim_start_matches("acct:");
    if uri.is_empty() || uri.len() > 2000 {
        return Err(PageError::Invalid("uri: give the account to follow".into()));
    }
    actions::resolve_actor(data, uri)
        .await
        .map_err(|_| PageError::Invalid(format!("uri: no account could be found at {uri}")))
}

//! Timelines: home, public (local, remote), hashtag.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_storage::timelines::{self, Scope};

use super::auth::{Auth, MaybeAuth};
use super::entities::status;
use super::params::Params;
use super::{ctx, page, paged_response};
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/timelines/home", web::get().to(home))
        .route("/api/v1/timelines/public", web::get().to(public))
        .route("/api/v1/timelines/tag/{tag}", web::get().to(tag));
}

async fn home(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:statuses")?.actor.id;
    let page = page(&params, 20, 40)?;
    let ctx = ctx(&state);
    let (items, ids) = state
        .db
        .run(move |c| {
            guildhall_storage::mutes::prune_expired(c, viewer)?;
            let rows = timelines::home(c, viewer, &page)?;
            let ids = rows.iter().map(|s| s.id).collect::<Vec<_>>();
            let items = render(c, &ctx, rows, Some(viewer), "home")?;
            Ok((items, ids))
        })
        .await?;
    Ok(paged_response("/api/v1/timelines/home", &state, items, &ids))
}

async fn public(
    auth: MaybeAuth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let scope = match (params.flag("local").unwrap_or(false), params.flag("remote").unwrap_or(false)) {
        (true, _) => Scope::Local,
        (false, true) => Scope::Remote,
        _ => Scope::All,
    };
    let only_media = params.flag("only_media").unwrap_or(false);
    let viewer = auth.viewer("read:statuses");
    let page = page(&params, 20, 40)?;
    let ctx = ctx(&state);
    let (items, ids) = state
        .db
        .run(move |c| {
            let mut rows = timelines::public(c, scope, viewer, &page)?;
            if only_media {
                rows.retain(|s| {
                    guildhall_storage::status_parts::attachments(c, s.id).is_ok_and(|a| !a.is_empty())
                });
            }
            let ids = rows.iter().map(|s| s.id).collect::<Vec<_>>();
            let items = render(c, &ctx, rows, viewer, "public")?;
            Ok((items, ids))
        })
        .await?;
    Ok(paged_response("/api/v1/timelines/public", &state, items, &ids))
}

async fn tag(
    name: web::Path<String>,
    auth: MaybeAuth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let tag = name.into_inner().to_lowercase();
    let viewer = auth.viewer("read:statuses");
    let page = page(&params, 20, 40)?;
    let ctx = ctx(&state);
    let path = format!("/api/v1/timelines/tag/{tag}");
    let (items, ids) = state
        .db
        .run(move |c| {
            let rows = timelines::tagged(c, &tag, viewer, &page)?;
            let ids = rows.iter().map(|s| s.id).collect::<Vec<_>>();
            let items = render(c, &ctx, rows, viewer, "public")?;
            Ok((items, ids))
        })
        .await?;
    Ok(paged_response(&path, &state, items, &ids))
}

/// Renders a page of statuses for `viewer`, with its filters for `context` applied.
pub(super) fn render(
    c: &mut guildhall_storage::DbConnection,
    ctx: &super::entities::Ctx,
    rows: Vec<guildhall_storage::statuses::Status>,
    viewer: Option<i64>,
    context: &str,
) -> guildhall_storage::StorageResult<Vec<serde_json::Value>> {
    ctx.preload(c, &rows, viewer)?;
    let rendered = rows
        .into_iter()
        .map(|s| {
            let value = status(c, ctx, &s, viewer)?;
            Ok((s, value))
        })
        .collect::<guildhall_storage::StorageResult<Vec<_>>>()?;
    match viewer {
        Some(viewer) => super::filters::apply(c, viewer, context, rendered),
        None => Ok(rendered.into_iter().map(|(_, v)| v).collect()),
    }
}

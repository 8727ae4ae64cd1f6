//! Filters: v2 CRUD (filters, keywords, statuses), the v1 read view, and applying them to
//! timelines and notifications (`warn` marks a status `filtered`, `hide` leaves it out).

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_core::text::strip_html;
use guildhall_storage::filters::{self, CONTEXTS, FullFilter};
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{DbConnection, StorageResult, now};
use serde_json::{Map, Value, json};

use super::auth::Auth;
use super::entities::time;
use super::params::Params;
use super::parse_id;
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/filters", web::get().to(v1_index))
        .route("/api/v2/filters", web::get().to(index))
        .route("/api/v2/filters", web::post().to(create))
        .route("/api/v2/filters/keywords/{id}", web::get().to(keyword_show))
        .route("/api/v2/filters/keywords/{id}", web::put().to(keyword_update))
        .route("/api/v2/filters/keywords/{id}", web::delete().to(keyword_delete))
        .route("/api/v2/filters/statuses/{id}", web::get().to(status_show))
        .route("/api/v2/filters/statuses/{id}", web::delete().to(status_delete))
        .route("/api/v2/filters/{id}", web::get().to(show))
        .route("/api/v2/filters/{id}", web::put().to(update))
        .route("/api/v2/filters/{id}", web::delete().to(remove))
        .route("/api/v2/filters/{id}/keywords", web::get().to(keywords))
        .route("/api/v2/filters/{id}/keywords", web::post().to(keyword_create))
        .route("/api/v2/filters/{id}/statuses", web::get().to(filter_statuses))
        .route("/api/v2/filters/{id}/statuses", web::post().to(status_create));
}

/// Mastodon's `Filter` entity (v2).
pub fn entity(f: &FullFilter) -> Value {
    json!({
        "id": f.filter.id.to_string(),
        "title": f.filter.title,
        "context": f.filter.context_list(),
        "expires_at": f.filter.expires_at.map(time),
        "filter_action": f.filter.action,
        "keywords": f.keywords.iter().map(keyword_entity).collect::<Vec<_>>(),
        "statuses": f.statuses.iter().map(|(id, s)| status_entity(*id, *s)).collect::<Vec<_>>(),
    })
}

fn keyword_entity(k: &filters::Keyword) -> Value {
    json!({ "id": k.id.to_string(), "keyword": k.keyword, "whole_word": k.whole_word })
}

fn status_entity(id: i64, status_id: i64) -> Value {
    json!({ "id": id.to_string(), "status_id": status_id.to_string() })
}

/// Marks `rows` (statuses with their rendered entities) with the viewer's filters for
/// `context`: `warn` filters fill `filtered`, `hide` filters drop the status.
pub fn apply(
    c: &mut DbConnection,
    viewer: i64,
    context: &str,
    rows: Vec<(Status, Value)>,
) -> StorageResult<Vec<Value>> {
    let active = filters::active(c, viewer, context)?;
    if active.is_empty() {
        return Ok(rows.into_iter().map(|(_, v)| v).collect());
    }
    let mut out = Vec::with_capacity(rows.len());
    for (status, mut value) in rows {
        match results(c, &active, &status)? {
            None => continue,
            Some(found) => {
                if value["reblog"].is_object() {
                    value["reblog"]["filtered"] = json!(found.clone());
                }
                value["filtered"] = json!(found);
                out.push(value);
            }
        }
    }
    Ok(out)
}

/// The `FilterResult`s of `status` (a boost is judged by what it boosts); `None` when a `hide`
/// filter matches.
pub fn results(
    c: &mut DbConnection,
    active: &[FullFilter],
    status: &Status,
) -> StorageResult<Option<Vec<Value>>> {
    let target = match status.reblog_of_id {
        Some(id) => statuses::get(c, id)?,
        None => status.clone(),
    };
    let text = format!(
        "{} {} {}",
        target.title.as_deref().unwrap_or(""),
        strip_html(&target.content),
        target.spoiler_text
    );
    let mut found = Vec::new();
    for f in active {
        let keywords = filters::matching_keywords(f, &text);
        let statuses: Vec<String> =
            f.statuses.iter().filter(|(_, s)| *s == target.id).map(|(_, s)| s.to_string()).collect();
        if keywords.is_empty() && statuses.is_empty() {
            continue;
        }
        if f.filter.action == "hide" {
            return Ok(None);
        }
        found.push(json!({
            "filter": entity(f),
            "keyword_matches": if keywords.is_empty() { Value::Null } else { json!(keywords) },
            "status_matches": if statuses.is_empty() { Value::Null } else { json!(statuses) },
        }));
    }
    Ok(Some(found))
}

/// Entries of a nested list parameter (`keywords_attributes`), as apps send them: a JSON array
/// of objects, `name[][field]` pairs, or `name[0][field]` pairs.
fn nested(params: &Params, name: &str) -> Vec<Map<String, Value>> {
    let mut out: Vec<Map<String, Value>> = params
        .all(name)
        .iter()
        .filter_map(|raw| serde_json::from_str::<Value>(raw).ok())
        .filter_map(|v| v.as_object().cloned())
        .collect();
    let mut indexed: std::collections::BTreeMap<String, Map<String, Value>> = Default::default();
    let prefix = format!("{name}[");
    for key in params.keys().filter(|k| k.starts_with(&prefix)).map(str::to_owned).collect::<Vec<_>>() {
        let rest = &key[prefix.len()..];
        let Some((index, field)) = rest.split_once("][") else { continue };
        let field = field.trim_end_matches(']').to_owned();
        if index.is_empty() {
            for (i, value) in params.all(&key).into_iter().enumerate() {
                indexed.entry(format!("~{i:06}")).or_default().insert(field.clone(), json!(value));
            }
        } else if let Some(value) = params.raw(&key) {
            indexed.entry(index.to_owned()).or_default().insert(field, json!(value));
        }
    }
    out.extend(indexed.into_values());
    out
}

fn text_of(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn truthy(map: &Map<String, Value>, key: &str) -> Option<bool> {
    text_of(map, key).map(|v| matches!(v.as_str(), "true" | "1" | "on" | "yes"))
}

fn contexts(params: &Params) -> Result<Option<Vec<String>>, ApiError> {
    let given = params.all("context");
    if given.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = given.iter().find(|c| !CONTEXTS.contains(&c.as_str())) {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: Context {bad} is not one of {}",
            CONTEXTS.join(", ")
        )));
    }
    Ok(Some(given))
}

fn action(params: &Params) -> Result<Option<String>, ApiError> {
    match params.get("filter_action") {
        Some(a) if a != "warn" && a != "hide" => {
            Err(ApiError::Unprocessable("Validation failed: filter_action must be warn or hide".into()))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

fn expiry(params: &Params) -> Result<Option<Option<chrono::NaiveDateTime>>, ApiError> {
    match params.raw("expires_in") {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(raw) => {
            let seconds: i64 = raw
                .parse()
                .map_err(|_| ApiError::Unprocessable("expires_in must be a number of seconds".into()))?;
            if seconds <= 0 {
                return Err(ApiError::Unprocessable("expires_in must be positive".into()));
            }
            Ok(Some(Some(now() + chrono::Duration::seconds(seconds))))
        }
    }
}

async fn index(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let owner = auth.user("read:filters")?.actor.id;
    let all = state.db.run(move |c| filters::of_owner(c, owner)).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(entity).collect::<Vec<_>>()))
}

/// `GET /api/v1/filters`: each keyword as a v1 filter.
async fn v1_index(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let owner = auth.user("read:filters")?.actor.id;
    let all = state.db.run(move |c| filters::of_owner(c, owner)).await?;
    let v1: Vec<Value> = all
        .iter()
        .flat_map(|f| {
            f.keywords.iter().map(move |k| {
                json!({
                    "id": k.id.to_string(), "phrase": k.keyword, "context": f.filter.context_list(),
                    "whole_word": k.whole_word, "expires_at": f.filter.expires_at.map(time),
                    "irreversible": f.filter.action == "hide",
                })
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(v1))
}

async fn create(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let owner = auth.user("write:filters")?.actor.id;
    let title = params
        .get("title")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unprocessable("Validation failed: Title can't be blank".into()))?
        .to_owned();
    let contexts = contexts(&params)?
        .ok_or_else(|| ApiError::Unprocessable("Validation failed: Context can't be blank".into()))?;
    let action = action(&params)?.unwrap_or_else(|| "warn".into());
    let expires_at = expiry(&params)?.flatten();
    let mut keywords = Vec::new();
    for entry in nested(&params, "keywords_attributes") {
        let keyword = text_of(&entry, "keyword").filter(|k| !k.trim().is_empty()).ok_or_else(|| {
            ApiError::Unprocessable("Validation failed: Keywords keyword can't be blank".into())
        })?;
        keywords.push((keyword, truthy(&entry, "whole_word").unwrap_or(true)));
    }
    let created = state
        .db
        .run(move |c| filters::create(c, owner, &title, &contexts, &action, expires_at, &keywords))
        .await?;
    Ok(HttpResponse::Ok().json(entity(&created)))
}

async fn owned(auth: &Auth, scope: &str, state: &AppState, id: &str) -> Result<FullFilter, ApiError> {
    let owner = auth.user(scope)?.actor.id;
    let id = parse_id(id)?;
    Ok(state.db.run(move |c| filters::get(c, owner, id)).await?)
}

async fn show(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(entity(&owned(&auth, "read:filters", &state, &id).await?)))
}

/// `PUT /api/v2/filters/:id`: settings, and keywords to add, change (`id`) or drop (`_destroy`).
async fn update(
    id: web::Path<String>,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let full = owned(&auth, "write:filters", &state, &id).await?;
    let mut filter = full.filter.clone();
    if let Some(title) = params.get("title").map(str::trim).filter(|t| !t.is_empty()) {
        filter.title = title.to_owned();
    }
    if let Some(contexts) = contexts(&params)? {
        filter.contexts = contexts.join(",");
    }
    if let Some(action) = action(&params)? {
        filter.action = action;
    }
    if let Some(expires_at) = expiry(&params)? {
        filter.expires_at = expires_at;
    }
    let entries = nested(&params, "keywords_attributes");
    let owner = filter.owner_id;
    let updated = state
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                filters::update(c, &filter)?;
                for entry in entries {
                    let existing = text_of(&entry, "id").and_then(|i| i.parse::<i64>().ok());
                    match existing {
                        Some(kid) => {
                            let (mut row, kw_owner) = filters::keyword(c, kid)?;
                            if kw_owner != owner || row.filter_id != filter.id {
                                return Err(guildhall_storage::StorageError::NotFound);
                            }
                            if truthy(&entry, "_destroy").unwrap_or(false) {
                                filters::remove_keyword(c, kid)?;
                                continue;
                            }
                            if let Some(k) = text_of(&entry, "keyword").filter(|k| !k.trim().is_empty()) {
                                row.keyword = k;
                            }
                            row.whole_word = truthy(&entry, "whole_word").unwrap_or(row.whole_word);
                            filters::update_keyword(c, &row)?;
                        }
                        None => {
                            if let Some(k) = text_of(&entry, "keyword").filter(|k| !k.trim().is_empty()) {
                                filters::add_keyword(
                                    c,
                                    filter.id,
                                    &k,
                                    truthy(&entry, "whole_word").unwrap_or(true),
                                )?;
                            }
                        }
                    }
                }
                filters::get(c, owner, filter.id)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(entity(&updated)))
}

async fn remove(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let full = owned(&auth, "write:filters", &state, &id).await?;
    state.db.run(move |c| filters::delete(c, full.filter.owner_id, full.filter.id)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

async fn keywords(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let full = owned(&auth, "read:filters", &state, &id).await?;
    Ok(HttpResponse::Ok().json(full.keywords.iter().map(keyword_entity).collect::<Vec<_>>()))
}

async fn keyword_create(
    id: web::Path<String>,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let full = owned(&auth, "write:filters", &state, &id).await?;
    let keyword = params
        .get("keyword")
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| ApiError::Unprocessable("Validation failed: Keyword can't be blank".into()))?
        .to_owned();
    let whole_word = params.flag("whole_word").unwrap_or(true);
    let row = state.db.run(move |c| filters::add_keyword(c, full.filter.id, &keyword, whole_word)).await?;
    Ok(HttpResponse::Ok().json(keyword_entity(&row)))
}

async fn own_keyword(
    auth: &Auth,
    scope: &str,
    state: &AppState,
    id: &str,
) -> Result<filters::Keyword, ApiError> {
    let owner = auth.user(scope)?.actor.id;
    let id = parse_id(id)?;
    let (row, kw_owner) = state.db.run(move |c| filters::keyword(c, id)).await?;
    if kw_owner != owner {
        return Err(ApiError::NotFound("Record not found".into()));
    }
    Ok(row)
}

async fn keyword_show(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(keyword_entity(&own_keyword(&auth, "read:filters", &state, &id).await?)))
}

async fn keyword_update(
    id: web::Path<String>,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut row = own_keyword(&auth, "write:filters", &state, &id).await?;
    if let Some(k) = params.get("keyword").filter(|k| !k.trim().is_empty()) {
        row.keyword = k.to_owned();
    }
    row.whole_word = params.flag("whole_word").unwrap_or(row.whole_word);
    let stored = row.clone();
    state.db.run(move |c| filters::update_keyword(c, &stored)).await?;
    Ok(HttpResponse::Ok().json(keyword_entity(&row)))
}

async fn keyword_delete(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let row = own_keyword(&auth, "write:filters", &state, &id).await?;
    state.db.run(move |c| filters::remove_keyword(c, row.id)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

async fn filter_statuses(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let full = owned(&auth, "read:filters", &state, &id).await?;
    Ok(HttpResponse::Ok().json(full.statuses.iter().map(|(i, s)| status_entity(*i, *s)).collect::<Vec<_>>()))
}

async fn status_create(
    id: web::Path<String>,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let full = owned(&auth, "write:filters", &state, &id).await?;
    let status_id = parse_id(params.required("status_id")?)?;
    let viewer = full.filter.owner_id;
    let entry = state
        .db
        .run(move |c| {
            let status = statuses::get(c, status_id)?;
            if !guildhall_storage::timelines::may_see(c, &status, Some(viewer))? {
                return Err(guildhall_storage::StorageError::NotFound);
            }
            filters::add_status(c, full.filter.id, status_id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(status_entity(entry, status_id)))
}

async fn own_status_entry(
    auth: &Auth,
    scope: &str,
    state: &AppState,
    id: &str,
) -> Result<(i64, i64), ApiError> {
    let owner = auth.user(scope)?.actor.id;
    let id = parse_id(id)?;
    let (_, status_id, entry_owner) = state.db.run(move |c| filters::status_entry(c, id)).await?;
    if entry_owner != owner {
        return Err(ApiError::NotFound("Record not found".into()));
    }
    Ok((id, status_id))
}

async fn status_show(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (id, status_id) = own_status_entry(&auth, "read:filters", &state, &id).await?;
    Ok(HttpResponse::Ok().json(status_entity(id, status_id)))
}

async fn status_delete(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = own_status_entry(&auth, "write:filters", &state, &id).await?;
    state.db.run(move |c| filters::remove_status(c, id)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

//! Guildhall's own client API, `/api/guildhall/v1/...`: what Mastodon has no endpoint for
//! (group administration), described by the OpenAPI document served at
//! `/api/guildhall/v1/openapi.json` — plus Mastodon's `/api/v1/directory`, which lists groups
//! beside people.
//!
//! Scopes: reads need `read:groups` (granted by `read`), changes need `write:groups` (granted
//! by `write`). Errors follow the house policy: 401 without a valid token, 403 for a missing
//! scope or when the caller does not moderate the group, 404 for unknown ids (and ids that are
//! not local groups), 422 for invalid content, 400 for malformed query numbers.

mod account;
mod directory;
mod entities;
mod events;
mod groups;
mod hours;
mod mail;
mod moderation;

use actix_web::http::Method;
use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, Handler, HttpResponse, Responder};
use guildhall_federation::FedData;
use guildhall_federation::actions;
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::groups::Group;
use guildhall_storage::{DbConnection, StorageResult};

use crate::mastodon::auth::MaybeAuth;
use crate::mastodon::entities::Ctx;
use crate::mastodon::params::Params;
use crate::mastodon::{ctx, parse_id};
use crate::{ApiError, AppState};

/// The scope reads need.
const READ: &str = "read:groups";
/// The scope changes need.
const WRITE: &str = "write:groups";

/// The OpenAPI 3.1 document of this API.
const OPENAPI: &str = include_str!("openapi.json");

/// Registers every route of this API.
pub fn configure(cfg: &mut ServiceConfig) {
    routes(&mut Routes { cfg: Some(cfg), listed: Vec::new() });
}

/// `(method, path)` of every route [`configure`] registers, in actix path syntax (which is
/// OpenAPI's path template syntax too).
pub fn route_list() -> Vec<(String, String)> {
    let mut list = Routes { cfg: None, listed: Vec::new() };
    routes(&mut list);
    list.listed.into_iter().map(|(m, p)| (m.to_string(), p.to_owned())).collect()
}

/// The one table of routes: registering and listing both read it, so the list cannot drift.
fn routes(r: &mut Routes<'_>) {
    use Method as M;
    use moderation as m;
    r.add(M::GET, "/api/guildhall/v1/openapi.json", openapi)
        .add(M::GET, "/api/v1/directory", directory::list)
        .add(M::GET, "/api/guildhall/v1/groups", groups::list)
        .add(M::POST, "/api/guildhall/v1/groups", groups::create)
        .add(M::GET, "/api/guildhall/v1/groups/{id}", groups::get)
        .add(M::PATCH, "/api/guildhall/v1/groups/{id}", groups::update)
        .add(M::GET, "/api/guildhall/v1/groups/{id}/members", m::members)
        .add(M::GET, "/api/guildhall/v1/groups/{id}/requests", m::requests)
        .add(M::POST, "/api/guildhall/v1/groups/{id}/requests/{account_id}/approve", m::approve)
        .add(M::POST, "/api/guildhall/v1/groups/{id}/requests/{account_id}/reject", m::reject)
        .add(M::GET, "/api/guildhall/v1/groups/{id}/invitations", m::invitations)
        .add(M::POST, "/api/guildhall/v1/groups/{id}/invitations", m::invite)
        .add(M::DELETE, "/api/guildhall/v1/groups/{id}/invitations/{account_id}", m::revoke_invitation)
        .add(M::GET, "/api/guildhall/v1/groups/{id}/bans", m::bans)
        .add(M::POST, "/api/guildhall/v1/groups/{id}/bans", m::ban)
        .add(M::DELETE, "/api/guildhall/v1/groups/{id}/bans/{account_id}", m::unban)
        .add(M::GET, "/api/guildhall/v1/groups/{id}/moderators", m::moderators)
        .add(M::POST, "/api/guildhall/v1/groups/{id}/moderators", m::appoint)
        .add(M::DELETE, "/api/guildhall/v1/groups/{id}/moderators/{account_id}", m::dismiss)
        .add(M::POST, "/api/guildhall/v1/groups/{id}/statuses/{status_id}/remove", m::remove_status)
        .add(M::GET, "/api/guildhall/v1/groups/{id}/log", m::log)
        .add(M::DELETE, "/api/guildhall/v1/accounts/me", account::delete_me)
        .add(M::GET, "/api/guildhall/v1/events", events::list)
        .add(M::POST, "/api/guildhall/v1/events", events::create)
        .add(M::GET, "/api/guildhall/v1/events/{id}", events::get)
        .add(M::PATCH, "/api/guildhall/v1/events/{id}", events::update)
        .add(M::POST, "/api/guildhall/v1/events/{id}/cancel", events::cancel)
        .add(M::POST, "/api/guildhall/v1/events/{id}/join", events::join)
        .add(M::POST, "/api/guildhall/v1/events/{id}/leave", events::leave)
        .add(M::GET, "/api/guildhall/v1/events/{id}/attendees", events::attendees)
        .add(M::POST, "/api/guildhall/v1/events/{id}/participants/{participant_id}/accept", events::accept)
        .add(M::POST, "/api/guildhall/v1/events/{id}/participants/{participant_id}/reject", events::reject)
        .add(M::GET, "/api/guildhall/v1/groups/{id}/hours", hours::list)
        .add(M::POST, "/api/guildhall/v1/groups/{id}/hours", hours::create)
        .add(M::GET, "/api/guildhall/v1/hours/{id}", hours::get)
        .add(M::DELETE, "/api/guildhall/v1/hours/{id}", hours::cancel)
        .add(M::PUT, "/api/guildhall/v1/hours/{id}/editions/{edition_id}/host", hours::set_host)
        .add(M::DELETE, "/api/guildhall/v1/hours/{id}/editions/{edition_id}/host", hours::clear_host)
        .add(M::GET, "/api/guildhall/v1/preferences/reminders", events::reminders)
        .add(M::PATCH, "/api/guildhall/v1/preferences/reminders", events::set_reminders)
        .add(M::GET, "/api/guildhall/v1/preferences/email", mail::get)
        .add(M::PATCH, "/api/guildhall/v1/preferences/email", mail::set);
}

/// Registers routes (when given a [`ServiceConfig`]) and remembers them.
struct Routes<'a> {
    cfg: Option<&'a mut ServiceConfig>,
    listed: Vec<(Method, &'static str)>,
}

impl Routes<'_> {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        if let Some(cfg) = self.cfg.as_deref_mut() {
            cfg.route(path, web::method(method.clone()).to(handler));
        }
        self.listed.push((method, path));
        self
    }
}

/// `GET /api/guildhall/v1/openapi.json`.
async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(OPENAPI)
}

fn not_found() -> ApiError {
    ApiError::NotFound("Record not found".into())
}

/// A 422 for invalid content, `what` naming the field.
fn invalid(what: impl std::fmt::Display) -> ApiError {
    ApiError::Unprocessable(format!("Validation failed: {what}"))
}

/// Runs `f` with a connection and the rendering context.
async fn with_ctx<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut DbConnection, &Ctx) -> StorageResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    let ctx = ctx(state);
    Ok(state.db.run(move |c| f(c, &ctx)).await?)
}

/// The live local group with this id: its actor and settings; 404 for anything else.
async fn load_group(state: &AppState, id: &str) -> Result<(Actor, Group), ApiError> {
    let id = parse_id(id)?;
    state
        .db
        .run(move |c| {
            let Some(settings) = guildhall_storage::groups::get(c, id)? else { return Ok(None) };
            let actor = actors::get(c, id)?;
            Ok(actor.deleted_at.is_none().then_some((actor, settings)))
        })
        .await?
        .ok_or_else(not_found)
}

/// The live person or group with this account id; 404 for anything else.
async fn load_account(state: &AppState, id: &str) -> Result<Actor, ApiError> {
    let id = parse_id(id)?;
    live_account(state.db.run(move |c| actors::get(c, id)).await?)
}

/// `actor`, when it is a live person or group (not an instance actor); 404 otherwise.
fn live_account(actor: Actor) -> Result<Actor, ApiError> {
    match actor.deleted_at.is_none() && matches!(actor.kind.as_str(), "person" | "group") {
        true => Ok(actor),
        false => Err(not_found()),
    }
}

/// The account a request body names, by `account_id` or by `acct` (`user@domain`, resolved
/// through WebFinger when not known yet); 422 when neither is given.
async fn named_account(params: &Params, state: &AppState, fed: &FedData) -> Result<Actor, ApiError> {
    if let Some(id) = params.get("account_id") {
        return load_account(state, id).await;
    }
    let acct = params
        .get("acct")
        .ok_or_else(|| ApiError::Unprocessable("Validation failed: account_id or acct is required".into()))?;
    let actor = actions::resolve_actor(fed, acct).await.map_err(|e| match e {
        guildhall_federation::FedError::NotFound => not_found(),
        other => other.into(),
    })?;
    live_account(actor)
}

/// The signed-in viewer whose token may read groups (anonymous otherwise).
fn viewer(auth: &MaybeAuth) -> Option<i64> {
    auth.viewer(READ)
}

/// `limit` (1..=`max`, default `default`) and `offset` (at least 0) from the query.
fn limit_offset(params: &Params, default: i64, max: i64) -> Result<(i64, i64), ApiError> {
    let limit = params.number("limit")?.unwrap_or(default).clamp(1, max);
    let offset = params.number("offset")?.unwrap_or(0).max(0);
    Ok((limit, offset))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        let doc = document();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")));
        for schema in ["Group", "GroupRelationship", "Membership", "LogEntry", "Ban", "Account", "Error"] {
            assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema}");
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let doc = document();
        let routes = route_list();
        for (method, path) in &routes {
            let operation = &doc["paths"][path][method.to_lowercase()];
            assert!(operation.is_object(), "{method} {path} is not in openapi.json");
            assert!(operation["responses"].is_object(), "{method} {path} has no responses");
        }
        let paths = doc["paths"].as_object().expect("paths");
        for (path, item) in paths {
            for method in item.as_object().expect("path item").keys().filter(|k| *k != "parameters") {
                let registered = routes.iter().any(|(m, p)| p == path && m.eq_ignore_ascii_case(method));
                assert!(registered, "{method} {path} is documented but not registered");
            }
        }
    }

    #[test]
    fn every_path_parameter_is_declared() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let names: Vec<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
            for (method, operation) in
                item.as_object().expect("item").iter().filter(|(k, _)| *k != "parameters")
            {
                for name in &names {
                    let declared = [&item["parameters"], &operation["parameters"]].iter().any(|list| {
                        list.as_array().is_some_and(|l| {
                            l.iter().any(|p| {
                                let p = resolve(&doc, p);
                                p["in"] == "path" && p["name"] == *name
                            })
                        })
                    });
                    assert!(declared, "{method} {path}: path parameter {name} is not declared");
                }
            }
        }
    }

    /// Follows a local `$ref`.
    fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
        match v["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
            Some(pointer) => doc.pointer(&format!("/{pointer}")).unwrap_or(v),
            None => v,
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
        }
    }

    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}

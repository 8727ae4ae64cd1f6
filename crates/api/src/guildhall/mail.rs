//! `/api/guildhall/v1/preferences/email`: what a member receives by mail — the notification
//! categories, and each group's mail (every post or a digest at an hour in a timezone).

use actix_web::{HttpResponse, web};
use guildhall_core::mail::{GroupMailMode, MailCategory};
use guildhall_core::model::GroupVisibility;
use guildhall_storage::mail::{self as store, Delivery, Subscription};
use guildhall_storage::{DbConnection, StorageResult, actors, groups};
use serde_json::{Value, json};

use super::{invalid, not_found};
use crate::mastodon::auth::Auth;
use crate::mastodon::params::Params;
use crate::mastodon::parse_id;
use crate::{ApiError, AppState};

fn view(c: &mut DbConnection, actor: i64) -> StorageResult<Value> {
    let prefs = store::prefs(c, actor)?.map(|(_, p)| p);
    let subscriptions: Vec<Value> = store::member_subscriptions(c, actor)?
        .iter()
        .map(|s| subscription_json(c, s))
        .collect::<StorageResult<_>>()?;
    let mut out = json!({ "groups": subscriptions });
    for category in MailCategory::ALL {
        out[category.as_str()] = json!(prefs.is_some_and(|p| p.wants(category)));
    }
    Ok(out)
}

fn subscription_json(c: &mut DbConnection, s: &Subscription) -> StorageResult<Value> {
    let group = actors::get(c, s.group_id)?;
    Ok(json!({
        "group_id": s.group_id.to_string(),
        "group": group.username,
        "mode": s.mode,
        "hour": s.hour,
        "timezone": s.timezone,
    }))
}

/// `GET /api/guildhall/v1/preferences/email`.
pub async fn get(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("read:accounts")?.actor.id;
    let body = state.db.run(move |c| view(c, actor)).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// A group's mail as asked for: `None` stops it.
struct GroupChange {
    group_id: i64,
    delivery: Option<Delivery>,
}

fn group_change(params: &Params) -> Result<Option<GroupChange>, ApiError> {
    let Some(raw_group) = params.get("group_id") else {
        for field in ["mode", "hour", "timezone"] {
            if params.has(field) {
                return Err(invalid(format!("{field} needs group_id")));
            }
        }
        return Ok(None);
    };
    let group_id = parse_id(raw_group).map_err(|_| invalid("group_id is not a group's id"))?;
    let mode = params
        .get("mode")
        .ok_or_else(|| invalid("mode is required with group_id (off, every_post, daily or weekly)"))?;
    if mode == "off" {
        return Ok(Some(GroupChange { group_id, delivery: None }));
    }
    let mode =
        GroupMailMode::parse(mode).ok_or_else(|| invalid("mode must be off, every_post, daily or weekly"))?;
    let hour = match params.get("hour") {
        None => 8,
        Some(h) => h
            .parse::<u32>()
            .ok()
            .filter(|h| *h <= 23)
            .ok_or_else(|| invalid("hour must be a whole hour from 0 to 23"))?,
    };
    let timezone = params.get("timezone").unwrap_or("UTC");
    if guildhall_core::calendar::timezone(timezone).is_none() {
        return Err(invalid("timezone must be an IANA timezone such as Europe/London"));
    }
    Ok(Some(GroupChange {
        group_id,
        delivery: Some(Delivery { mode, timezone: timezone.trim().to_owned(), hour }),
    }))
}

/// `PATCH /api/guildhall/v1/preferences/email`: any of `mentions`, `follow_requests`,
/// `reports`, `event_reminders` (booleans); and one group's mail with `group_id`, `mode`
/// (`off`, `every_post`, `daily`, `weekly`), `hour` (0–23, default 8) and `timezone` (IANA,
/// default UTC).
pub async fn set(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("write:accounts")?.actor.id;
    let mut flags = Vec::new();
    for category in MailCategory::ALL {
        if let Some(raw) = params.get(category.as_str()) {
            let on = match raw {
                "true" | "1" | "on" | "yes" => true,
                "false" | "0" | "off" | "no" => false,
                _ => return Err(invalid(format!("{} must be true or false", category.as_str()))),
            };
            flags.push((category, on));
        }
    }
    let change = group_change(&params)?;
    if let Some(change) = &change {
        let (group_id, want) = (change.group_id, change.delivery.is_some());
        let allowed = state
            .db
            .run(move |c| {
                let Some(settings) = groups::get(c, group_id)? else { return Ok(None) };
                let member =
                    groups::is_member(c, group_id, actor)? || groups::is_moderator(c, group_id, actor)?;
                Ok(Some(member || settings.visibility()? == GroupVisibility::Public || !want))
            })
            .await?;
        match allowed {
            None => return Err(not_found()),
            Some(false) => {
                return Err(ApiError::Forbidden("only members receive a members-only group's mail".into()));
            }
            Some(true) => {}
        }
    }
    let body = state
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                if let Some((_, mut prefs)) = store::prefs(c, actor)? {
                    for (category, on) in flags {
                        prefs = prefs.with(category, on);
                    }
                    store::set_prefs(c, actor, prefs)?;
                }
                if let Some(change) = change {
                    store::set_member(c, change.group_id, actor, change.delivery)?;
                }
                view(c, actor)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

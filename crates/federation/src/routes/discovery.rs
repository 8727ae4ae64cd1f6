//! WebFinger, host-meta and NodeInfo.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpResponse, web};
use guildhall_core::model::ActorKind;
use guildhall_storage::{accounts, actors, statuses};
use serde::Deserialize;
use serde_json::json;

use crate::error::FedError;
use crate::state::FedData;

#[derive(Debug, Deserialize)]
pub struct WebfingerQuery {
    resource: Option<String>,
}

/// `GET /.well-known/webfinger?resource=acct:name@domain` (or the actor's URL).
pub async fn webfinger(query: web::Query<WebfingerQuery>, data: FedData) -> Result<HttpResponse, FedError> {
    let resource = query.resource.as_deref().unwrap_or("").trim();
    let name = local_name(resource, &data)?;
    let actor = data.db.run(move |c| actors::find_local(c, &name)).await?.ok_or(FedError::NotFound)?;
    let kind = actor.kind()?;
    if !matches!(kind, ActorKind::Person | ActorKind::Group) {
        return Err(FedError::NotFound);
    }
    let profile = actor.url.clone().unwrap_or_else(|| actor.ap_id.clone());
    let mut doc = json!({
        "subject": format!("acct:{}@{}", actor.username, data.config.domain),
        "aliases": [actor.ap_id, profile],
        "links": [
            { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": profile },
            { "rel": "self", "type": crate::AP_CONTENT_TYPE, "href": actor.ap_id },
            // Remote follow: a stranger's page elsewhere sends its visitor here to follow.
            { "rel": "http://ostatus.org/schema/1.0/subscribe",
              "template": format!("{}/authorize_interaction?uri={{uri}}", data.urls.base()) },
        ],
    });
    if kind == ActorKind::Group {
        doc["properties"] = json!({ "https://www.w3.org/ns/activitystreams#type": "Group" });
    }
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/jrd+json; charset=utf-8"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(doc.to_string()))
}

/// The local name a WebFinger resource asks for: `acct:name@ourdomain`, `name@ourdomain`, or
/// one of our actor or profile URLs.
fn local_name(resource: &str, data: &FedData) -> Result<String, FedError> {
    let domain = data.config.domain.to_string();
    if resource.is_empty() {
        return Err(FedError::BadRequest("the resource parameter is required".into()));
    }
    if resource.starts_with("http://") || resource.starts_with("https://") {
        let url = url::Url::parse(resource)
            .map_err(|_| FedError::BadRequest("resource is not a valid URL".into()))?;
        if crate::signing::host_header(&url).to_lowercase() != domain {
            return Err(FedError::NotFound);
        }
        let path = url.path();
        let name = path
            .strip_prefix("/users/")
            .or_else(|| path.strip_prefix("/groups/"))
            .or_else(|| path.strip_prefix("/@"))
            .ok_or(FedError::NotFound)?;
        return Ok(name.trim_end_matches('/').to_owned());
    }
    let acct = resource.strip_prefix("acct:").unwrap_or(resource);
    let (name, host) = acct
        .trim_start_matches('@')
        .rsplit_once('@')
        .ok_or_else(|| FedError::BadRequest("resource must be acct:name@domain or an actor URL".into()))?;
    if name.is_empty() || !host.eq_ignore_ascii_case(&domain) {
        return Err(if name.is_empty() {
            FedError::BadRequest("empty name".into())
        } else {
            FedError::NotFound
        });
    }
    Ok(name.to_owned())
}

/// `GET /.well-known/host-meta`: where WebFinger lives (XRD).
pub async fn host_meta(data: FedData) -> HttpResponse {
    let base = data.urls.base();
    HttpResponse::Ok().insert_header((CONTENT_TYPE, "application/xrd+xml; charset=utf-8")).body(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="lrdd" template="{base}/.well-known/webfinger?resource={{uri}}"/>
</XRD>
"#
    ))
}

/// `GET /.well-known/nodeinfo`: links to both schema versions.
pub async fn nodeinfo_links(data: FedData) -> HttpResponse {
    let base = data.urls.base();
    HttpResponse::Ok().json(json!({
        "links": [
            { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{base}/nodeinfo/2.0") },
            { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": format!("{base}/nodeinfo/2.1") },
        ]
    }))
}

/// `GET /nodeinfo/2.0` and `/nodeinfo/2.1`, with real usage counts.
pub async fn nodeinfo(version: web::Path<String>, data: FedData) -> Result<HttpResponse, FedError> {
    let version = version.into_inner();
    if version != "2.0" && version != "2.1" {
        return Err(FedError::NotFound);
    }
    let (users, month, halfyear, groups, posts) = data
        .db
        .run(|c| {
            let now = guildhall_storage::now();
            Ok((
                accounts::count(c)?,
                accounts::count_active(c, now - chrono::Duration::days(30))?,
                accounts::count_active(c, now - chrono::Duration::days(180))?,
                actors::count_local(c, ActorKind::Group)?,
                statuses::count_local(c)?,
            ))
        })
        .await?;
    let mut software = json!({ "name": "guildhall", "version": crate::VERSION });
    if version == "2.1" {
        software["repository"] = json!("https://example.invalid/guildhall");
    }
    let schema = format!("http://nodeinfo.diaspora.software/ns/schema/{version}#");
    Ok(HttpResponse::Ok().insert_header((CONTENT_TYPE, format!("application/json; profile=\"{schema}\""))).body(
        json!({
            "version": version,
            "software": software,
            "protocols": ["activitypub"],
            "services": { "inbound": [], "outbound": [] },
            "openRegistrations": false,
            "usage": { "users": { "total": users, "activeMonth": month, "activeHalfyear": halfyear }, "localPosts": posts },
            "metadata": { "nodeName": data.config.domain.to_string(), "groups": groups },
        })
        .to_string(),
    ))
}

//! Learning what software a remote instance runs, from its NodeInfo (groups send
//! Mastodon-family servers a plain form of what they relay).

use chrono::Duration;
use guildhall_storage::actors::Actor;
use guildhall_storage::{instances, now};
use serde_json::Value;

use crate::error::FedError;
use crate::state::FedData;

/// How long a NodeInfo answer is trusted.
pub const REFRESH_AFTER: Duration = Duration::days(1);

/// Records the software of `actor`'s instance unless it was learned recently. Failures are
/// logged and leave the instance as it was.
pub async fn learn_software(data: &FedData, actor: &Actor) {
    if let Err(e) = try_learn(data, actor).await {
        tracing::debug!(actor = %actor.ap_id, error = %e, "nodeinfo not learned");
    }
}

async fn try_learn(data: &FedData, actor: &Actor) -> Result<(), FedError> {
    let (Some(domain), Some(instance_id)) = (actor.domain.clone(), actor.instance_id) else { return Ok(()) };
    let known = data.db.run(move |c| instances::find(c, &domain)).await?;
    if known.as_ref().and_then(|i| i.nodeinfo_fetched_at).is_some_and(|at| now() - at < REFRESH_AFTER) {
        return Ok(());
    }
    let mut base = url::Url::parse(&actor.ap_id)?;
    base.set_path("/.well-known/nodeinfo");
    base.set_query(None);
    base.set_fragment(None);
    if !matches!(base.host(), Some(url::Host::Domain(_))) {
        return Err(FedError::BadRequest("an instance named by IP address has no NodeInfo we read".into()));
    }
    let client = crate::state::http_client(data.config.insecure)?;
    let links: Value = get_json(&client, base.as_str()).await?;
    let href = links["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["rel"].as_str().is_some_and(|r| r.contains("nodeinfo.diaspora.software/ns/schema/2")))
        .filter_map(|l| l["href"].as_str())
        .next_back()
        .ok_or_else(|| FedError::BadRequest("no NodeInfo 2.x link".into()))?
        .to_owned();
    let href = same_server(&base, &href)?;
    let doc: Value = get_json(&client, href.as_str()).await?;
    let name = doc["software"]["name"]
        .as_str()
        .ok_or_else(|| FedError::BadRequest("NodeInfo names no software".into()))?
        .to_owned();
    let version = doc["software"]["version"].as_str().map(str::to_owned);
    data.db.run(move |c| instances::set_software(c, instance_id, &name, version.as_deref())).await?;
    Ok(())
}

/// Largest NodeInfo answer read; reading stops there.
const MAX_NODEINFO_BYTES: usize = 256 * 1024;

/// `href` when it is an http(s) URL on the server `base` is on: the document is that
/// server's own, and a stranger's NodeInfo cannot point us at an internal address or any
/// other host (IP literals are refused in every mode, as activitypub_federation refuses them
/// for actors).
fn same_server(base: &url::Url, href: &str) -> Result<url::Url, FedError> {
    let url = crate::protocol::web_url(href)
        .ok_or_else(|| FedError::BadRequest("NodeInfo link is not http(s)".into()))?;
    if !matches!(url.host(), Some(url::Host::Domain(_))) {
        return Err(FedError::BadRequest("NodeInfo link names an IP address".into()));
    }
    if url.host_str() != base.host_str() || url.port_or_known_default() != base.port_or_known_default() {
        return Err(FedError::BadRequest("NodeInfo link points to another server".into()));
    }
    Ok(url)
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, FedError> {
    let response = client
        .get(url)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| FedError::Internal(format!("fetching {url}: {e}")))?;
    if !response.status().is_success() {
        return Err(FedError::BadRequest(format!("{url} answered {}", response.status())));
    }
    let too_large = || FedError::BadRequest("NodeInfo document too large".into());
    if response.content_length().is_some_and(|n| n > MAX_NODEINFO_BYTES as u64) {
        return Err(too_large());
    }
    let mut response = response;
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| FedError::Internal(e.to_string()))? {
        if bytes.len() + chunk.len() > MAX_NODEINFO_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(serde_json::from_slice(&bytes)?)
}

#[cfg(test)]
mod tests {
    use crate::groups::is_mastodon_family;

    #[test]
    fn nodeinfo_links_stay_on_the_actors_server() {
        let base =
            url::Url::parse("https://museum.example/.well-known/nodeinfo").unwrap_or_else(|e| panic!("{e}"));
        assert!(super::same_server(&base, "https://museum.example/nodeinfo/2.1").is_ok());
        for bad in [
            "http://127.0.0.1/nodeinfo",
            "https://[::1]/nodeinfo",
            "https://169.254.169.254/latest/meta-data",
            "https://elsewhere.example/nodeinfo",
            "https://museum.example:8443/nodeinfo",
            "file:///etc/passwd",
        ] {
            assert!(super::same_server(&base, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mastodon_family_is_read_from_nodeinfo_names() {
        for name in ["mastodon", "Mastodon", "gotosocial", "akkoma", "pleroma", "glitch-soc", "hometown"] {
            assert!(is_mastodon_family(Some(name)), "{name}");
        }
        for name in ["lemmy", "guildhall", "friendica", "mbin"] {
            assert!(!is_mastodon_family(Some(name)), "{name}");
        }
        assert!(!is_mastodon_family(None));
    }
}

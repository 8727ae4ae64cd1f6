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
    let doc: Value = get_json(&client, &href).await?;
    let name = doc["software"]["name"]
        .as_str()
        .ok_or_else(|| FedError::BadRequest("NodeInfo names no software".into()))?
        .to_owned();
    let version = doc["software"]["version"].as_str().map(str::to_owned);
    data.db.run(move |c| instances::set_software(c, instance_id, &name, version.as_deref())).await?;
    Ok(())
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
    let bytes = response.bytes().await.map_err(|e| FedError::Internal(e.to_string()))?;
    if bytes.len() > 256 * 1024 {
        return Err(FedError::BadRequest("NodeInfo document too large".into()));
    }
    Ok(serde_json::from_slice(&bytes)?)
}

#[cfg(test)]
mod tests {
    use crate::groups::is_mastodon_family;

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

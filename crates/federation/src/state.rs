//! The federation context every handler and worker shares, and the activitypub_federation
//! configuration built from it.

use std::sync::Arc;
use std::time::Duration;

use activitypub_federation::config::{Data, FederationConfig, UrlVerifier};
use activitypub_federation::traits::Actor as _;
use guildhall_core::Config;
use guildhall_storage::Db;
use tokio::sync::Notify;
use url::Url;

use crate::Urls;
use crate::error::FedError;
use crate::objects::actor::DbActor;

/// Outgoing requests (fetches and deliveries) give up after this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Shared state of the federation layer.
#[derive(Debug, Clone)]
pub struct FedState {
    /// The database.
    pub db: Db,
    /// Instance configuration.
    pub config: Arc<Config>,
    /// Our URL layout.
    pub urls: Urls,
    /// Wakes the delivery worker when something was queued.
    pub delivery_wakeup: Arc<Notify>,
    /// Signs our fetches as the instance actor (set by [`FedState::federation_config`]).
    pub fetch_signer: Option<crate::fetch_signing::SignFetches>,
}

/// Request-scoped federation data (counts outgoing fetches to bound recursion).
pub type FedData = Data<FedState>;

/// The library configuration.
pub type FedConfig = FederationConfig<FedState>;

/// Refuses URLs outside insecure mode that the library's own checks let through (anything but
/// https; private and loopback addresses are refused by the library's resolver check), and
/// every URL on a domain the admins suspended: nothing is fetched from it.
#[derive(Clone)]
struct SchemeVerifier {
    insecure: bool,
    db: Db,
}

#[async_trait::async_trait]
impl UrlVerifier for SchemeVerifier {
    async fn verify(&self, url: &Url) -> Result<(), activitypub_federation::error::Error> {
        use activitypub_federation::error::Error;
        if !self.insecure && url.scheme() != "https" {
            return Err(Error::UrlVerificationError("only https is allowed"));
        }
        let host = crate::objects::actor::authority(url);
        let suspended =
            self.db.run(move |c| guildhall_storage::instance_blocks::is_suspended(c, &host)).await;
        match suspended {
            Ok(false) => Ok(()),
            Ok(true) => Err(Error::UrlVerificationError("the domain is suspended here")),
            Err(_) => Err(Error::UrlVerificationError("the domain blocks could not be read")),
        }
    }
}

/// The HTTP client for all federation traffic. Outside insecure mode it refuses http and
/// every loopback, private, link-local or otherwise internal address, checked after DNS
/// resolution (so a name that resolves inward is refused too); redirects are not followed.
pub fn http_client(insecure: bool) -> Result<reqwest::Client, FedError> {
    let resolver = activitypub_federation::resolver::ValidatingDnsResolver::new(Vec::new(), !insecure);
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(crate::USER_AGENT)
        .https_only(!insecure)
        .no_proxy()
        .dns_resolver(Arc::new(resolver))
        .build()
        .map_err(|e| FedError::Internal(format!("http client: {e}")))
}

impl FedState {
    /// Builds the library configuration. In insecure mode http, ports and loopback are
    /// allowed; otherwise only https to public addresses. Fetches are signed by the instance
    /// actor, for servers in authorized-fetch mode.
    pub async fn federation_config(mut self, instance_actor: &DbActor) -> Result<FedConfig, FedError> {
        let insecure = self.config.insecure;
        let domain = self.config.domain.to_string();
        let client = http_client(insecure)?;
        let pem = instance_actor
            .private_key_pem()
            .ok_or_else(|| FedError::Internal("the instance actor has no private key".into()))?;
        let key = guildhall_core::keys::SigningKey::from_pem(&pem)
            .map_err(|e| FedError::Internal(format!("instance key: {e}")))?;
        // The key id activitypub_federation gives the instance actor's signatures.
        let key_id = format!("{}#main-key", instance_actor.row.ap_id);
        let signer = crate::fetch_signing::SignFetches::new(key_id, key);
        self.fetch_signer = Some(signer.clone());
        let client = reqwest_middleware::ClientBuilder::new(client).with(signer).build();
        let verifier = SchemeVerifier { insecure, db: self.db.clone() };
        FederationConfig::builder()
            .domain(domain)
            .client(client)
            .app_data(self)
            .debug(insecure)
            .allow_http_urls(insecure)
            .http_fetch_limit(50)
            .request_timeout(REQUEST_TIMEOUT)
            .url_verifier(Box::new(verifier))
            .signed_fetch_actor(instance_actor)
            .build()
            .await
            .map_err(|e| FedError::Internal(format!("federation config: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(inner) = source {
            text.push_str(&format!(": {inner}"));
            source = inner.source();
        }
        text
    }

    #[tokio::test]
    async fn secure_mode_refuses_internal_addresses_and_http() {
        let client = http_client(false).unwrap();
        let err = client.get("https://localhost:9/inbox").send().await.unwrap_err();
        let text = chain(&err).to_lowercase();
        assert!(text.contains("internal") || text.contains("local"), "{text}");
        let err = client.get("http://example.invalid/inbox").send().await.unwrap_err();
        assert!(chain(&err).to_lowercase().contains("http"), "{}", chain(&err));
    }

    #[tokio::test]
    async fn insecure_mode_reaches_loopback() {
        let client = http_client(true).unwrap();
        let err = client.get("http://localhost:9/inbox").send().await.unwrap_err();
        assert!(err.is_connect(), "only the closed port stops it: {}", chain(&err));
    }
}

//! The federation context every handler and worker shares, and the activitypub_federation
//! configuration built from it.

use std::sync::Arc;
use std::time::Duration;

use activitypub_federation::config::{Data, FederationConfig, UrlVerifier};
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
}

/// Request-scoped federation data (counts outgoing fetches to bound recursion).
pub type FedData = Data<FedState>;

/// The library configuration.
pub type FedConfig = FederationConfig<FedState>;

/// Refuses URLs outside insecure mode that the library's own checks let through: anything but
/// https. (Private and loopback addresses are refused by the library's resolver check.)
#[derive(Debug, Clone)]
struct SchemeVerifier {
    insecure: bool,
}

#[async_trait::async_trait]
impl UrlVerifier for SchemeVerifier {
    async fn verify(&self, url: &Url) -> Result<(), activitypub_federation::error::Error> {
        if self.insecure || url.scheme() == "https" {
            Ok(())
        } else {
            Err(activitypub_federation::error::Error::UrlVerificationError("only https is allowed"))
        }
    }
}

impl FedState {
    /// Builds the library configuration. In insecure mode http, ports and loopback are
    /// allowed; otherwise only https to public addresses. Fetches are signed by the instance
    /// actor, for servers in authorized-fetch mode.
    pub async fn federation_config(self, instance_actor: &DbActor) -> Result<FedConfig, FedError> {
        let insecure = self.config.insecure;
        let domain = self.config.domain.to_string();
        FederationConfig::builder()
            .domain(domain)
            .app_data(self)
            .debug(insecure)
            .allow_http_urls(insecure)
            .http_fetch_limit(50)
            .request_timeout(REQUEST_TIMEOUT)
            .url_verifier(Box::new(SchemeVerifier { insecure }))
            .signed_fetch_actor(instance_actor)
            .build()
            .await
            .map_err(|e| FedError::Internal(format!("federation config: {e}")))
    }
}

//! Our signed fetches, signed as Mastodon signs them: `(request-target) host date`.
//!
//! activitypub_federation signs a fetch before the request has a `Host` header, so its
//! signature covers neither the host nor anything that ties it to the server asked. Servers
//! that (rightly) refuse signatures not bound to them, ourselves included, would refuse our
//! fetches. This client middleware sees the finished request and signs it again, with the
//! instance actor's key, over the host it is really going to.

use std::sync::Arc;

use guildhall_core::keys::SigningKey;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest_middleware::{Middleware, Next};

use crate::signing;

/// Re-signs every signed GET with `(request-target) host date`.
#[derive(Clone)]
pub struct SignFetches {
    key: Arc<(String, SigningKey)>,
}

impl std::fmt::Debug for SignFetches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignFetches").field("key_id", &self.key.0).finish_non_exhaustive()
    }
}

impl SignFetches {
    /// Signs with `key` under `key_id` (the instance actor's).
    pub fn new(key_id: String, key: SigningKey) -> SignFetches {
        SignFetches { key: Arc::new((key_id, key)) }
    }
}

impl SignFetches {
    /// The status code `url` answers a GET signed by us with: how a refusal (401, 403) is told
    /// from absence (404), which activitypub_federation's fetch does not say.
    pub async fn status_of(
        &self,
        url: &url::Url,
        insecure: bool,
    ) -> Result<reqwest::StatusCode, crate::FedError> {
        let client = crate::state::http_client(insecure)?;
        let mut request = client.get(url.as_str()).header("Accept", crate::AP_CONTENT_TYPE);
        for (name, value) in signing::sign("GET", url, None, &self.key.0, &self.key.1)? {
            request = request.header(name, value);
        }
        let response =
            request.send().await.map_err(|e| crate::FedError::Internal(format!("fetching {url}: {e}")))?;
        Ok(response.status())
    }
}

#[async_trait::async_trait]
impl Middleware for SignFetches {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        if req.method() == reqwest::Method::GET && req.headers().contains_key("signature") {
            let signed = signing::sign("GET", req.url(), None, &self.key.0, &self.key.1)
                .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
            let headers = req.headers_mut();
            headers.remove("digest");
            for (name, value) in signed {
                let value = HeaderValue::from_str(&value)
                    .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        next.run(req, extensions).await
    }
}

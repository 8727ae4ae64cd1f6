//! The actix-web server: shared state, limits, tracing, error bodies and routes.

use std::net::TcpListener;
use std::sync::Arc;

use activitypub_federation::config::FederationMiddleware;
use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlers, NormalizePath, TrailingSlash};
use actix_web::{App, HttpResponse, HttpServer, web};
use guildhall_core::Config;
use guildhall_federation::{FedConfig, Urls};
use guildhall_storage::Db;
use tracing_actix_web::TracingLogger;

use crate::error::{json_error, jsonify_errors};
use crate::health;

/// Largest request body accepted by default (JSON, forms, activities).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The instance configuration.
    pub config: Arc<Config>,
    /// Our URL layout.
    pub urls: Urls,
    /// Failed sign-ins, for rate limiting.
    pub limits: Arc<crate::RateLimits>,
    /// The change feed of the streaming API.
    pub streams: Arc<crate::mastodon::streaming::Streamer>,
    /// Images decoded at once: each may take a hundred megabytes or more while it is worked on.
    pub image_work: Arc<tokio::sync::Semaphore>,
    /// Request latency by route, for `/metrics`.
    pub http_metrics: Arc<crate::metrics::HttpMetrics>,
}

impl AppState {
    /// The state of a server over `db`, with fresh rate limits and as many concurrent image
    /// decodes as there are cores (at most four).
    pub fn new(
        db: Db,
        config: Arc<Config>,
        urls: Urls,
        streams: Arc<crate::mastodon::streaming::Streamer>,
    ) -> AppState {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        AppState {
            db,
            config,
            urls,
            limits: Arc::default(),
            streams,
            image_work: Arc::new(tokio::sync::Semaphore::new(cores.clamp(1, 4))),
            http_metrics: Arc::default(),
        }
    }
}

impl AppState {
    /// The configuration with what admins changed at run time (the registration mode) applied.
    pub async fn live_config(&self) -> Result<guildhall_core::Config, crate::ApiError> {
        let settings = self.db.run(guildhall_storage::instance_settings::get).await?;
        let mut config = (*self.config).clone();
        config.registrations = settings.registrations_or(config.registrations);
        Ok(config)
    }
}

/// Server tuning that is not configuration (tests use one worker per instance and flush
/// deliveries themselves).
#[derive(Debug, Clone, Copy)]
pub struct HttpOptions {
    /// HTTP worker threads; actix's default (one per core) when `None`.
    pub workers: Option<usize>,
    /// Do not install SIGINT/SIGTERM handlers (for instances embedded in tests).
    pub disable_signals: bool,
    /// Run the background workers: delivery and timed jobs (tests that flush by hand turn
    /// them off).
    pub run_delivery: bool,
    /// The pages for browsers, registered before the federation routes (the binary passes
    /// `guildhall_web::configure`; the API does not depend on the web crate).
    pub pages: Option<fn(&mut web::ServiceConfig)>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions { workers: None, disable_signals: false, run_delivery: true, pages: None }
    }
}

/// The API's image processing, for doors other than HTTP (replies by mail carry photos).
pub fn image_store(state: &AppState) -> Arc<dyn guildhall_federation::uploads::ImageStore> {
    Arc::new(crate::mastodon::media::ApiImages(web::Data::new(state.clone())))
}

/// Starts serving on `listener`. On SIGINT/SIGTERM (unless disabled) the server stops
/// accepting, lets in-flight requests finish (up to 30 s) and then resolves.
pub fn serve(
    state: AppState,
    federation: FedConfig,
    listener: TcpListener,
    options: HttpOptions,
) -> std::io::Result<Server> {
    // The pages count sign-in failures with the API: one guesser, one count.
    let limits = web::Data::from(state.limits.clone());
    let data = web::Data::new(state);
    // The web pages store members' images through the API's processing.
    let images: Arc<dyn guildhall_federation::uploads::ImageStore> =
        Arc::new(crate::mastodon::media::ApiImages(data.clone()));
    let images = web::Data::from(images);
    let pages = options.pages;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(limits.clone())
            .app_data(images.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .app_data(web::JsonConfig::default().limit(MAX_BODY_BYTES))
            .app_data(web::FormConfig::default().limit(MAX_BODY_BYTES))
            .wrap(ErrorHandlers::new().default_handler(jsonify_errors))
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .wrap(TracingLogger::<crate::request_log::RequestSpan>::new())
            .wrap(FederationMiddleware::new(federation.clone()))
            .wrap(cors())
            .wrap(actix_web::middleware::from_fn(content_security_policy))
            .wrap(actix_web::middleware::from_fn(crate::metrics::record))
            .service(health::health)
            .configure(crate::mastodon::configure)
            .configure(crate::media::configure)
            .configure(crate::guildhall::configure)
            .configure(|cfg| {
                if let Some(pages) = pages {
                    pages(cfg);
                }
            })
            .configure(guildhall_federation::routes::configure)
            .route(PREFLIGHT_ROUTE, web::method(actix_web::http::Method::OPTIONS).to(preflight))
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    .shutdown_timeout(30);
    if let Some(workers) = options.workers {
        server = server.workers(workers);
    }
    if options.disable_signals {
        server = server.disable_signals();
    }
    Ok(server.run())
}

/// The route of CORS preflight requests: every path.
pub(crate) const PREFLIGHT_ROUTE: &str = "/{any:.*}";

/// CORS for browser apps (Elk, Phanpy): any origin, the headers apps send, `Link` readable.
fn cors() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("Access-Control-Allow-Origin", "*"))
        .add(("Access-Control-Expose-Headers", "Link"))
}

/// What every HTML page may load: its own stylesheet and images (and remote https images,
/// avatars and media), no script at all, no framing, no plugins, no `<base>`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; \
     media-src 'self' https:; frame-ancestors 'none'; base-uri 'none'";

/// Adds [`CONTENT_SECURITY_POLICY`] (and `nosniff`) to every HTML response, whichever door
/// made it: a page served without it is one a stored string could script.
async fn content_security_policy(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::{
        CONTENT_SECURITY_POLICY as CSP, CONTENT_TYPE, HeaderValue, X_CONTENT_TYPE_OPTIONS,
    };
    let mut res = next.call(req).await?;
    let html = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/html"));
    let headers = res.headers_mut();
    if html {
        headers.insert(CSP, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(res)
}

/// Answers CORS preflight requests.
async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header(("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS"))
        .insert_header((
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, Idempotency-Key, Accept",
        ))
        .insert_header(("Access-Control-Expose-Headers", "Link"))
        .insert_header(("Access-Control-Max-Age", "86400"))
        .finish()
}

async fn not_found() -> HttpResponse {
    json_error(StatusCode::NOT_FOUND, "Not found")
}

/// The client's address: the peer, or — when the peer is one of `trusted_proxies` — the
/// rightmost hop of `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends
/// the address it saw, so only the hops left of the last trusted one can be forged), or
/// `X-Real-IP` when there is no `X-Forwarded-For`. IPv4-mapped addresses come back as IPv4.
pub fn client_ip(request: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
    let trusted = request
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.trusted_proxies.as_slice())
        .unwrap_or_default();
    forwarded_client(request.peer_addr()?.ip(), request.headers(), trusted)
}

/// [`client_ip`] over the parts of a request ([`guildhall_core::net::forwarded_client`]).
pub fn forwarded_client(
    peer: std::net::IpAddr,
    headers: &actix_web::http::header::HeaderMap,
    trusted: &[guildhall_core::net::Cidr],
) -> Option<std::net::IpAddr> {
    let header =
        |name: &str| headers.get_all(name).filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    Some(guildhall_core::net::forwarded_client(peer, header, trusted))
}

/// The key rate limits count a request under: [`client_ip`], per /64 for IPv6.
pub fn client_address(request: &actix_web::HttpRequest) -> String {
    client_ip(request).map(guildhall_core::net::limit_key).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
    use guildhall_core::net::Cidr;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let loopback = Cidr::loopback();
        let xff = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.5")]);
        // From the trusted proxy: the rightmost untrusted hop.
        assert_eq!(forwarded_client(ip("127.0.0.1"), &xff, &loopback), Some(ip("203.0.113.5")));
        // From anyone else, even a private-network neighbour: the peer.
        assert_eq!(forwarded_client(ip("10.0.0.9"), &xff, &loopback), Some(ip("10.0.0.9")));
        // Chains of trusted proxies are walked through.
        let two = Cidr::parse_list("127.0.0.1,10.0.0.0/8").unwrap_or_default();
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.5, 10.0.0.7")]);
        assert_eq!(forwarded_client(ip("127.0.0.1"), &chain, &two), Some(ip("203.0.113.5")));
        // X-Real-IP only without X-Forwarded-For; mapped IPv4 peers are IPv4.
        let real = headers(&[("x-real-ip", "203.0.113.8")]);
        assert_eq!(forwarded_client(ip("::1"), &real, &loopback), Some(ip("203.0.113.8")));
        assert_eq!(forwarded_client(ip("::ffff:203.0.113.9"), &xff, &loopback), Some(ip("203.0.113.9")));
    }
}

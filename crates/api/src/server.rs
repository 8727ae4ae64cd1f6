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
    pub sign_ins: Arc<crate::SignInLimiter>,
    /// The change feed of the streaming API.
    pub streams: Arc<crate::mastodon::streaming::Streamer>,
}

/// Server tuning that is not configuration (tests use one worker per instance and flush
/// deliveries themselves).
#[derive(Debug, Clone, Copy)]
pub struct HttpOptions {
    /// HTTP worker threads; actix's default (one per core) when `None`.
    pub workers: Option<usize>,
    /// Do not install SIGINT/SIGTERM handlers (for instances embedded in tests).
    pub disable_signals: bool,
    /// Run the background delivery worker (tests that flush by hand turn it off).
    pub run_delivery: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions { workers: None, disable_signals: false, run_delivery: true }
    }
}

/// Starts serving on `listener`. On SIGINT/SIGTERM (unless disabled) the server stops
/// accepting, lets in-flight requests finish (up to 30 s) and then resolves.
pub fn serve(
    state: AppState,
    federation: FedConfig,
    listener: TcpListener,
    options: HttpOptions,
) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .app_data(web::JsonConfig::default().limit(MAX_BODY_BYTES))
            .app_data(web::FormConfig::default().limit(MAX_BODY_BYTES))
            .wrap(ErrorHandlers::new().default_handler(jsonify_errors))
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .wrap(TracingLogger::default())
            .wrap(FederationMiddleware::new(federation.clone()))
            .wrap(cors())
            .service(health::health)
            .configure(crate::mastodon::configure)
            .configure(crate::media::configure)
            .configure(crate::guildhall::configure)
            .configure(guildhall_federation::routes::configure)
            .route("/{any:.*}", web::method(actix_web::http::Method::OPTIONS).to(preflight))
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

/// CORS for browser apps (Elk, Phanpy): any origin, the headers apps send, `Link` readable.
fn cors() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("Access-Control-Allow-Origin", "*"))
        .add(("Access-Control-Expose-Headers", "Link"))
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

/// The address a request came from, for rate limits: the peer, or — when the peer is this
/// machine or a private network (the reverse proxy, see `deploy/nginx.conf`) — the client it
/// names as the last hop of `X-Forwarded-For` or, failing that, in `X-Real-IP`.
pub fn client_address(request: &actix_web::HttpRequest) -> String {
    use std::net::IpAddr;
    let Some(peer) = request.peer_addr().map(|a| a.ip()) else { return String::new() };
    let proxied = match peer {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local(),
    };
    if proxied {
        let header =
            |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        // The proxy appends the address it saw as the last hop; a client can only forge the
        // hops before it.
        let named = header("X-Forwarded-For")
            .and_then(|f| f.rsplit(',').next().map(str::to_owned))
            .or_else(|| header("X-Real-IP"));
        if let Some(ip) = named.and_then(|n| n.trim().parse::<IpAddr>().ok()) {
            return ip.to_string();
        }
    }
    peer.to_string()
}

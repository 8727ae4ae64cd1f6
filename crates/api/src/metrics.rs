//! Request latency by route, for `/metrics` (served apart from the API by the binary).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;

use crate::AppState;

/// Upper bounds of the latency buckets, in seconds.
pub const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// One series: requests of one method to one route answered with one status class.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Series {
    /// `GET`, `POST`, … (anything else is `other`).
    pub method: &'static str,
    /// The route's pattern (`/api/v1/statuses/{id}`), or `unmatched`.
    pub route: String,
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub status: &'static str,
}

/// A latency histogram.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Requests at or under each of [`BUCKETS`] (not cumulative).
    pub buckets: [u64; BUCKETS.len()],
    /// All requests.
    pub count: u64,
    /// Their total time, in seconds.
    pub sum: f64,
}

/// Latency by route since start. Routes are the server's own patterns, methods and status
/// classes a fixed few, so what a stranger requests cannot grow it.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    series: Mutex<HashMap<Series, Histogram>>,
}

impl HttpMetrics {
    /// Counts one request.
    pub fn observe(&self, series: Series, seconds: f64) {
        let mut map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let h = map.entry(series).or_default();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Every series so far, sorted.
    pub fn snapshot(&self) -> Vec<(Series, Histogram)> {
        let map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(Series, Histogram)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_label(code: u16) -> &'static str {
    match code {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Times every request and counts it under its route.
pub(crate) async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let metrics = req.app_data::<web::Data<AppState>>().map(|s| s.http_metrics.clone());
    let res = next.call(req).await;
    if let Some(metrics) = metrics {
        let (route, code) = match &res {
            Ok(r) => (r.request().match_pattern(), r.status().as_u16()),
            Err(e) => (None, e.as_response_error().status_code().as_u16()),
        };
        // The CORS preflight's catch-all matches every path: anything else it took is unrouted.
        let route = route.filter(|r| r != crate::server::PREFLIGHT_ROUTE);
        let series = Series {
            method,
            route: route.unwrap_or_else(|| "unmatched".to_owned()),
            status: status_label(code),
        };
        metrics.observe(series, started.elapsed().as_secs_f64());
    }
    res
}

//! `GET /metrics` in Prometheus' text format, on its own listener (`metrics_listen`), apart
//! from the public one: nothing here is for strangers.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use guildhall_api::metrics::{BUCKETS, HttpMetrics};
use guildhall_federation::delivery::DeliveryWorker;
use guildhall_storage::Db;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the metrics are read from.
#[derive(Clone)]
pub(crate) struct Sources {
    pub db: Db,
    pub delivery: DeliveryWorker,
    pub streams: Arc<guildhall_api::Streamer>,
    pub http: Arc<HttpMetrics>,
}

/// Serves `/metrics` on `address` until `stop` turns true; returns the bound port.
pub(crate) async fn serve(
    address: SocketAddr,
    sources: Sources,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<(u16, JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind(address)
        .with_context(|| format!("cannot listen for metrics on {address}"))?;
    let port = listener.local_addr()?.port();
    let data = web::Data::new(sources);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(metrics))
            .route("/health", web::get().to(health))
            .default_service(web::to(HttpResponse::NotFound))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    let served = tokio::spawn(server);
    let task = tokio::spawn(async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
        handle.stop(true).await;
        let _ = served.await;
    });
    tracing::info!(%address, "serving metrics");
    Ok((port, task))
}

/// Whether the database answers, as the public `/health` says it (a worker, which serves no
/// public HTTP, is probed here).
async fn health(sources: web::Data<Sources>) -> HttpResponse {
    match sources.db.ping().await {
        true => HttpResponse::Ok().content_type("application/json").body(r#"{"status":"ok"}"#),
        false => HttpResponse::ServiceUnavailable()
            .content_type("application/json")
            .body(r#"{"error":"database unavailable"}"#),
    }
}

async fn metrics(sources: web::Data<Sources>) -> HttpResponse {
    let db = sources.db.clone();
    let queues = db.run(guildhall_storage::jobs::stats).await;
    let mut out = String::with_capacity(16 * 1024);
    http_section(&mut out, &sources.http);
    head(
        &mut out,
        "guildhall_queue_stats_ok",
        "gauge",
        "1 when the job queues could be read for this scrape, 0 when not.",
    );
    match queues {
        Ok(queues) => {
            let _ = writeln!(out, "guildhall_queue_stats_ok 1");
            queue_section(&mut out, &queues);
        }
        Err(e) => {
            let _ = writeln!(out, "guildhall_queue_stats_ok 0");
            tracing::warn!(error = %e, "metrics: the job queues are unreadable");
        }
    }
    delivery_section(&mut out, &sources.delivery);
    head(&mut out, "guildhall_streams_open", "gauge", "Streaming API connections open on this process.");
    let _ = writeln!(out, "guildhall_streams_open {}", sources.streams.open_streams());
    head(
        &mut out,
        "guildhall_stream_looks_total",
        "counter",
        "Times the streaming feed read the database for changes, by what prompted it (woken: a \
         change committed, on PostgreSQL; timer: nothing woke it in time).",
    );
    for (cause, label) in
        [(guildhall_api::LookCause::Woken, "woken"), (guildhall_api::LookCause::Timer, "timer")]
    {
        let _ = writeln!(
            out,
            "guildhall_stream_looks_total{{cause=\"{label}\"}} {}",
            sources.streams.looks(cause)
        );
    }
    pool_section(&mut out, &sources.db.stats());
    memory_section(&mut out);
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(out)
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn http_section(out: &mut String, http: &HttpMetrics) {
    let name = "guildhall_http_request_duration_seconds";
    head(out, name, "histogram", "Time to answer a request, by method, route and status class.");
    for (series, h) in http.snapshot() {
        let labels = format!(
            "method=\"{}\",route=\"{}\",status=\"{}\"",
            series.method,
            label(&series.route),
            series.status
        );
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(h.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
    }
}

fn queue_section(out: &mut String, queues: &[guildhall_storage::jobs::QueueStats]) {
    head(
        out,
        "guildhall_queue_jobs",
        "gauge",
        "Jobs in the durable queue (shared by every process), by state.",
    );
    for q in queues {
        let name = label(&q.queue);
        let _ = writeln!(out, "guildhall_queue_jobs{{queue=\"{name}\",state=\"pending\"}} {}", q.pending);
        let _ = writeln!(out, "guildhall_queue_jobs{{queue=\"{name}\",state=\"failed\"}} {}", q.failed);
    }
    head(
        out,
        "guildhall_queue_oldest_due_age_seconds",
        "gauge",
        "How long the oldest pending job has been due (0 when none is due yet).",
    );
    let now = guildhall_storage::now();
    for q in queues {
        let age = q.oldest_due.map_or(0.0, |due| (now - due).num_milliseconds().max(0) as f64 / 1000.0);
        let _ =
            writeln!(out, "guildhall_queue_oldest_due_age_seconds{{queue=\"{}\"}} {age}", label(&q.queue));
    }
}

fn delivery_section(out: &mut String, delivery: &DeliveryWorker) {
    head(
        out,
        "guildhall_deliveries_total",
        "counter",
        "Deliveries this process attempted, by instance and outcome (past 1,000 instances: other).",
    );
    for (instance, t) in delivery.tallies() {
        let instance = label(&instance);
        for (outcome, n) in [("delivered", t.delivered), ("retried", t.retried), ("gave_up", t.gave_up)] {
            let _ = writeln!(
                out,
                "guildhall_deliveries_total{{instance=\"{instance}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
}

fn pool_section(out: &mut String, pool: &guildhall_storage::PoolStats) {
    head(out, "guildhall_db_pool_connections", "gauge", "Database connections of this process, by state.");
    let _ = writeln!(out, "guildhall_db_pool_connections{{state=\"open\"}} {}", pool.open);
    let _ = writeln!(out, "guildhall_db_pool_connections{{state=\"idle\"}} {}", pool.idle);
    let _ = writeln!(out, "guildhall_db_pool_connections{{state=\"max\"}} {}", pool.max_size);
    head(out, "guildhall_db_pool_waiting", "gauge", "Callers waiting for a database connection now.");
    let _ = writeln!(out, "guildhall_db_pool_waiting {}", pool.waiting);
    head(out, "guildhall_db_pool_acquired_total", "counter", "Database connections handed out.");
    let _ = writeln!(out, "guildhall_db_pool_acquired_total {}", pool.acquired);
    head(
        out,
        "guildhall_db_pool_waits_total",
        "counter",
        "Connections handed out after waiting for a free one.",
    );
    let _ = writeln!(out, "guildhall_db_pool_waits_total {}", pool.waited);
    head(out, "guildhall_db_pool_wait_seconds_total", "counter", "Time spent getting a connection.");
    let _ = writeln!(out, "guildhall_db_pool_wait_seconds_total {}", pool.wait_seconds);
    head(
        out,
        "guildhall_db_pool_timeouts_total",
        "counter",
        "Callers that gave up waiting for a connection.",
    );
    let _ = writeln!(out, "guildhall_db_pool_timeouts_total {}", pool.timeouts);
    head(out, "guildhall_db_writers_waiting", "gauge", "SQLite transactions waiting for the writer now.");
    let _ = writeln!(out, "guildhall_db_writers_waiting {}", pool.writers_waiting);
    head(
        out,
        "guildhall_db_writer_waits_total",
        "counter",
        "SQLite transactions that queued behind another writer of this process.",
    );
    let _ = writeln!(out, "guildhall_db_writer_waits_total {}", pool.writer_waits);
    head(
        out,
        "guildhall_db_writer_wait_seconds_total",
        "counter",
        "Time SQLite transactions queued for the writer.",
    );
    let _ = writeln!(out, "guildhall_db_writer_wait_seconds_total {}", pool.writer_wait_seconds);
}

/// Resident memory, from `/proc/self/status` (Linux; nothing elsewhere).
fn memory_section(out: &mut String) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return };
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(kib) = kib else { return };
    head(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    let _ = writeln!(out, "process_resident_memory_bytes {}", kib * 1024);
}

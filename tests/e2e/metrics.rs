//! `/metrics` on its own listener, read by Prometheus' own parser (the Python client's).

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::client_api::token;
use crate::delivery::remote_follower;
use crate::support::{Backend, TestInstance, http};

/// Every sample of a scrape, `name{label="value",…}` (labels sorted) to value, as the
/// Prometheus client library parses it; a malformed exposition fails the parse.
fn parse(text: &str) -> HashMap<String, f64> {
    let script = "import sys, json\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        out = {}\n\
        for family in text_string_to_metric_families(sys.stdin.read()):\n\
        \x20   for s in family.samples:\n\
        \x20       labels = ','.join(f'{k}=\"{v}\"' for k, v in sorted(s.labels.items()))\n\
        \x20       out[f'{s.name}{{{labels}}}'] = s.value\n\
        print(json.dumps(out))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client (pip install prometheus-client) parses the exposition:\n{text}"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn scrape(t: &TestInstance) -> HashMap<String, f64> {
    let port = t.instance.metrics_port().expect("metrics_listen is set");
    let res = http().get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    parse(&res.text().await.unwrap())
}

#[tokio::test]
async fn metrics_are_served_apart_and_count_requests_queues_and_deliveries() {
    let t = TestInstance::start_with(&Backend::Sqlite, &[("GUILDHALL_METRICS_LISTEN", "127.0.0.1:0")]).await;
    // Not on the public listener.
    let public = http().get(t.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    let ada = t.user("ada").await;
    let bearer = token(&t, "ada", "read write").await;
    for _ in 0..2 {
        let res = http().get(t.url("/api/v1/timelines/home")).bearer_auth(&bearer).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let missing = http().get(t.url("/api/v1/statuses/123")).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    // A stranger's made-up paths share one series.
    for path in ["/no/such/1", "/no/such/2"] {
        http().get(t.url(path)).send().await.unwrap();
    }
    // A follower on an instance that refuses connections: the delivery waits in the queue.
    let dead_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    remote_follower(&t.instance, &ada, "far", dead_port).await;
    let posted: Value = http()
        .post(t.url("/api/v1/statuses"))
        .bearer_auth(&bearer)
        .json(&json!({"status": "counting"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(posted["id"].is_string(), "{posted}");

    let m = scrape(&t).await;
    let home = "method=\"GET\",route=\"/api/v1/timelines/home\",status=\"2xx\"";
    assert_eq!(m[&format!("guildhall_http_request_duration_seconds_count{{{home}}}")], 2.0);
    assert_eq!(m[&format!("guildhall_http_request_duration_seconds_bucket{{le=\"+Inf\",{home}}}")], 2.0);
    let status = "method=\"GET\",route=\"/api/v1/statuses/{id}\",status=\"4xx\"";
    assert_eq!(m[&format!("guildhall_http_request_duration_seconds_count{{{status}}}")], 1.0);
    let unmatched = "method=\"GET\",route=\"unmatched\",status=\"4xx\"";
    assert!(m[&format!("guildhall_http_request_duration_seconds_count{{{unmatched}}}")] >= 2.0);
    assert!(!m.keys().any(|k| k.contains("/no/such")), "raw paths never become labels");
    assert_eq!(m["guildhall_queue_jobs{queue=\"deliver\",state=\"pending\"}"], 1.0);
    assert!(m.contains_key("guildhall_queue_oldest_due_age_seconds{queue=\"deliver\"}"));
    assert_eq!(m["guildhall_streams_open{}"], 0.0);
    assert!(m["guildhall_db_pool_acquired_total{}"] > 0.0);
    assert_eq!(m["guildhall_queue_stats_ok{}"], 1.0);
    assert_eq!(m["guildhall_db_pool_timeouts_total{}"], 0.0);
    assert!(m.contains_key("guildhall_db_writer_waits_total{}"));
    assert!(m["guildhall_db_pool_connections{state=\"max\"}"] >= 1.0);
    assert!(m["process_resident_memory_bytes{}"] > 1e6);

    t.instance.delivery().flush().await.unwrap();
    let m = scrape(&t).await;
    let far = format!("instance=\"localhost:{dead_port}\"");
    assert_eq!(m[&format!("guildhall_deliveries_total{{{far},outcome=\"retried\"}}")], 1.0);
    assert_eq!(m[&format!("guildhall_deliveries_total{{{far},outcome=\"delivered\"}}")], 0.0);
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn without_metrics_listen_there_is_no_listener() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    assert_eq!(t.instance.metrics_port(), None);
    t.instance.stop().await.unwrap();
}

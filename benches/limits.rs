//! What a stranger can make one instance hold, measured over loopback HTTP against a real
//! instance in this process (the figures of the hardening issue):
//!
//! 1. peak RSS while the largest image we accept (7680x4320, 8-bit RGBA) is uploaded, alone and
//!    four at once, and what a 16-bit bomb of the same size costs (refused from its header);
//! 2. RSS after `GUILDHALL_BENCH_SIGN_INS` (default 10,000) refused sign-ins with 1 MB logins,
//!    with 60 KB logins, and with short unknown logins (which cost a password hash),
//!    each from its own address (behind the loopback proxy), so every one is counted;
//! 3. the latency of an authenticated API call with no stream open, then with
//!    `GUILDHALL_BENCH_STREAMS` (default 3,000) anonymous streams open while posts are made.
//!
//! Run: `cargo bench --bench limits` (needs about 7,000 open files: `ulimit -n` 20,000 here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_core::Config;
use guildhall_core::model::Role;
use guildhall_federation::local_actors::{NewUser, create_user};
use serde_json::{Value, json};

fn status_kib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or("");
    line.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
}

fn rss_mib() -> f64 {
    status_kib("VmRSS:") / 1024.0
}

fn peak_mib() -> f64 {
    status_kib("VmHWM:") / 1024.0
}

/// A PNG of `width`x`height` pixels of `bits` a channel, RGBA, one colour, written a row at a
/// time (so making it costs this process nothing that would count as the server's).
fn png(width: u32, height: u32, bits: png::BitDepth) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(bits);
        let mut writer = encoder.write_header().unwrap();
        let row = vec![90u8; width as usize * 4 * if bits == png::BitDepth::Sixteen { 2 } else { 1 }];
        let mut stream = writer.stream_writer().unwrap();
        for _ in 0..height {
            std::io::Write::write_all(&mut stream, &row).unwrap();
        }
        stream.finish().unwrap();
    }
    out
}

fn multipart(file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "guildhall-bench-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

struct Bench {
    instance: Instance,
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let env = vec![
            ("GUILDHALL_DOMAIN".to_string(), format!("localhost:{port}")),
            ("GUILDHALL_DATA_DIR".to_string(), dir.path().display().to_string()),
        ];
        let config = Config::load(None, env).unwrap();
        let options = HttpOptions { run_delivery: false, ..HttpOptions::default() };
        let instance = Instance::start_on(config, listener, options).await.unwrap();
        let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(64).build().unwrap();
        Bench { instance, base: format!("http://localhost:{port}"), client, _dir: dir }
    }

    /// A user, and an app with its client id and secret, and a token with `scopes`.
    async fn user_and_token(&self, name: &str, scopes: &str) -> (Value, String) {
        let urls = guildhall_federation::Urls::new(self.instance.config());
        let email = format!("{name}@museum.example");
        let new = NewUser { username: name, email: &email, password: "correct horse", role: Role::User };
        create_user(self.instance.db(), &urls, new).await.unwrap();
        let app: Value = self
            .client
            .post(format!("{}/api/v1/apps", self.base))
            .json(&json!({"client_name": "bench", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": scopes}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let form = [
            ("grant_type", "password"),
            ("client_id", app["client_id"].as_str().unwrap()),
            ("client_secret", app["client_secret"].as_str().unwrap()),
            ("username", name),
            ("password", "correct horse"),
            ("scope", scopes),
        ];
        let res: Value = self
            .client
            .post(format!("{}/oauth/token", self.base))
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (app, res["access_token"].as_str().unwrap().to_owned())
    }

    async fn upload(&self, token: &str, file: &[u8]) -> u16 {
        let (content_type, body) = multipart(file);
        let res = self
            .client
            .post(format!("{}/api/v2/media", self.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        res.status().as_u16()
    }
}

async fn images(bench: &Bench) {
    let (_, token) = bench.user_and_token("imager", "write:media").await;
    let bomb = png(7680, 4320, png::BitDepth::Sixteen);
    let largest = png(7680, 4320, png::BitDepth::Eight);
    println!(
        "images: a 16-bit bomb of {} KB, the largest accepted image {} KB",
        bomb.len() / 1024,
        largest.len() / 1024
    );
    let before = peak_mib();
    let started = Instant::now();
    let status = bench.upload(&token, &bomb).await;
    println!(
        "  16-bit 7680x4320 bomb: {status} in {:.0} ms, peak RSS {before:.0} -> {:.0} MiB",
        started.elapsed().as_secs_f64() * 1000.0,
        peak_mib()
    );
    let before = peak_mib();
    let started = Instant::now();
    let status = bench.upload(&token, &largest).await;
    println!(
        "  8-bit 7680x4320 (the largest accepted): {status} in {:.0} ms, peak RSS {before:.0} -> {:.0} MiB",
        started.elapsed().as_secs_f64() * 1000.0,
        peak_mib()
    );
    let before = peak_mib();
    let started = Instant::now();
    let four = futures_four(bench, &token, &largest).await;
    println!(
        "  four of those at once: {four:?} in {:.0} ms, peak RSS {before:.0} -> {:.0} MiB, RSS after {:.0} MiB",
        started.elapsed().as_secs_f64() * 1000.0,
        peak_mib(),
        rss_mib()
    );
}

async fn futures_four(bench: &Bench, token: &str, file: &[u8]) -> Vec<u16> {
    let (a, b, c, d) = tokio::join!(
        bench.upload(token, file),
        bench.upload(token, file),
        bench.upload(token, file),
        bench.upload(token, file)
    );
    vec![a, b, c, d]
}

/// `count` refused sign-ins with logins of `login_len` bytes, each from its own address.
async fn sign_ins(bench: &Bench, app: &Value, count: usize, login_len: usize) {
    let login = "x".repeat(login_len);
    let before = rss_mib();
    let started = Instant::now();
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let form = vec![
            ("grant_type".to_owned(), "password".to_owned()),
            ("client_id".to_owned(), app["client_id"].as_str().unwrap().to_owned()),
            ("client_secret".to_owned(), app["client_secret"].as_str().unwrap().to_owned()),
            ("username".to_owned(), login.clone()),
            ("password".to_owned(), "guess".to_owned()),
        ];
        let request = bench
            .client
            .post(format!("{}/oauth/token", bench.base))
            .header("X-Forwarded-For", format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255))
            .form(&form);
        tasks.spawn(async move { request.send().await.map(|r| r.status().as_u16()).unwrap_or(0) });
        if tasks.len() >= 8 {
            *codes.entry(tasks.join_next().await.unwrap().unwrap()).or_default() += 1;
        }
    }
    while let Some(status) = tasks.join_next().await {
        *codes.entry(status.unwrap()).or_default() += 1;
    }
    println!(
        "sign-ins: {count} with {login_len}-byte logins from {count} addresses, answered {codes:?}, in {:.0} s; RSS {before:.0} -> {:.0} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib()
    );
}

/// p50 and p95 of `n` authenticated calls, in ms.
async fn latency(bench: &Bench, token: &str, n: usize) -> (f64, f64) {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let res = bench
            .client
            .get(format!("{}/api/v1/timelines/home", bench.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        times.push(t0.elapsed());
    }
    times.sort();
    let at = |p: f64| times[((n as f64 * p) as usize).min(n - 1)].as_secs_f64() * 1000.0;
    (at(0.5), at(0.95))
}

async fn streams(bench: &Bench, count: usize) {
    let (_, token) = bench.user_and_token("reader", "read write").await;
    let (p50, p95) = latency(bench, &token, 200).await;
    println!("streams: with none open, GET /api/v1/timelines/home p50 {p50:.1} ms, p95 {p95:.1} ms");
    let mut open = tokio::task::JoinSet::new();
    let mut opened = 0;
    for i in 0..count {
        let request = bench
            .client
            .get(format!("{}/api/v1/streaming/public", bench.base))
            .header("X-Forwarded-For", format!("10.9.{}.{}", i / 100, i % 100));
        let mut res = request.send().await.unwrap();
        if res.status() != 200 {
            continue;
        }
        opened += 1;
        // Read and drop what arrives, as a client would.
        open.spawn(async move { while let Ok(Some(_)) = res.chunk().await {} });
    }
    let poster = {
        let (client, base, token) = (bench.client.clone(), bench.base.clone(), token.clone());
        tokio::spawn(async move {
            for n in 0..30 {
                client
                    .post(format!("{base}/api/v1/statuses"))
                    .bearer_auth(&token)
                    .json(&json!({"status": format!("post {n} to {opened} streams")}))
                    .send()
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let (p50, p95) = latency(bench, &token, 200).await;
    poster.await.unwrap();
    println!(
        "streams: with {opened} open and 30 posts pushed to them, p50 {p50:.1} ms, p95 {p95:.1} ms; RSS {:.0} MiB; {} streams counted open",
        rss_mib(),
        bench.instance_streams()
    );
    open.abort_all();
}

impl Bench {
    fn instance_streams(&self) -> usize {
        self.instance.streams().open_streams()
    }
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let bench = Bench::start().await;
    println!("started: RSS {:.0} MiB", rss_mib());
    images(&bench).await;
    let count = env_count("GUILDHALL_BENCH_SIGN_INS", 10_000);
    let (app, _) = bench.user_and_token("signer", "read").await;
    // 1 MB logins (refused at the door now), logins just under the OAuth form limit, and
    // short unknown logins, which cost a password hash as a wrong password does.
    for login_len in [1_000_000, 60_000, 12] {
        sign_ins(&bench, &app, count, login_len).await;
    }
    streams(&bench, env_count("GUILDHALL_BENCH_STREAMS", 3_000)).await;
    bench.instance.stop().await.unwrap();
}

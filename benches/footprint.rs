//! The server as an operator runs it: the release binary, `guildhall serve`, on SQLite.
//! Measures the first start (migrations and the instance key), a start on the existing
//! database, resident memory idle, under load and after it, and post creation through the
//! API with 4 clients. Prints a table. Run: `cargo bench --bench footprint`
//! (`GUILDHALL_BENCH_POSTS` sets posts per client, default 1,000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const POSTERS: usize = 4;
const READERS: usize = 16;
const READS: usize = 200;

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_guildhall")
}

fn command(dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(binary());
    cmd.env("GUILDHALL_DOMAIN", format!("localhost:{port}"))
        .env("GUILDHALL_LISTEN", format!("127.0.0.1:{port}"))
        .env("GUILDHALL_DATA_DIR", dir)
        .env("GUILDHALL_INSECURE", "true")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Starts `guildhall serve` and returns it with the time until `/health` answered 200.
#[allow(clippy::zombie_processes)] // The child goes to the caller, who stops and waits for it.
async fn start(dir: &Path, port: u16) -> (Child, Duration) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let started = Instant::now();
    let mut child = command(dir, port).arg("serve").spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}/health");
    loop {
        if let Ok(res) = client.get(&url).send().await
            && res.status() == 200
        {
            return (child, started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the server never became healthy");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn stop(mut child: Child) {
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    child.wait().unwrap();
}

/// Resident memory of `pid` from `/proc`: all of it, and the part that is the process's own
/// (heap and stacks; the rest is the binary and libraries, mapped from disk and shared).
#[derive(Debug, Clone, Copy)]
struct Rss {
    total: f64,
    anon: f64,
}

impl std::fmt::Display for Rss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} MiB ({:.1} MiB heap and stacks)", self.total, self.anon)
    }
}

fn rss_mib(pid: u32) -> Rss {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> f64 {
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        kib / 1024.0
    };
    Rss { total: field("VmRSS:"), anon: field("RssAnon:") }
}

async fn token(base: &str) -> String {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let app: Value = client
        .post(format!("{base}/api/v1/apps"))
        .json(&json!({"client_name": "bench", "redirect_uris": ["urn:ietf:wg:oauth:2.0:oob"], "scopes": "read write"}))
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
        ("username", "ada"),
        ("password", "correct horse battery"),
        ("scope", "read write"),
    ];
    let res: Value =
        client.post(format!("{base}/oauth/token")).form(&form).send().await.unwrap().json().await.unwrap();
    res["access_token"].as_str().unwrap_or_else(|| panic!("{res}")).to_owned()
}

#[tokio::main]
async fn main() {
    let per_client: usize =
        std::env::var("GUILDHALL_BENCH_POSTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");

    let (first, first_start) = start(dir.path(), port).await;
    stop(first);
    let created = command(dir.path(), port)
        .args([
            "admin",
            "create-user",
            "ada",
            "--email",
            "ada@museum.example",
            "--password",
            "correct horse battery",
        ])
        .status()
        .unwrap();
    assert!(created.success());
    let mut starts = Vec::new();
    let mut server = None;
    for _ in 0..5 {
        if let Some(s) = server.take() {
            stop(s);
        }
        let (s, took) = start(dir.path(), port).await;
        starts.push(took);
        server = Some(s);
    }
    let server = server.unwrap();
    starts.sort();
    let warm_start = starts[starts.len() / 2];
    let pid = server.id();
    // Idle: started, answered its health check, nothing else.
    let idle = rss_mib(pid);
    let idle_parts = rss_by_mapping(pid);

    let bearer = token(&base).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let posting = Instant::now();
    let posters = (0..POSTERS).map(|n| {
        let (client, base, bearer) = (client.clone(), base.clone(), bearer.clone());
        tokio::spawn(async move {
            for i in 0..per_client {
                let res = client
                    .post(format!("{base}/api/v1/statuses"))
                    .bearer_auth(&bearer)
                    .json(&json!({"status": format!("post {i} from client {n} about #museums and archives")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
            }
        })
    });
    for p in posters.collect::<Vec<_>>() {
        p.await.unwrap();
    }
    let posts_per_sec = (POSTERS * per_client) as f64 / posting.elapsed().as_secs_f64();
    let readers = (0..READERS).map(|_| {
        let (client, base, bearer) = (client.clone(), base.clone(), bearer.clone());
        tokio::spawn(async move {
            for _ in 0..READS {
                let res = client
                    .get(format!("{base}/api/v1/timelines/home"))
                    .bearer_auth(&bearer)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res.bytes().await.unwrap();
            }
        })
    });
    for r in readers.collect::<Vec<_>>() {
        r.await.unwrap();
    }
    let loaded = rss_mib(pid);
    // What it gives back once the load is over (the maintenance and queue workers keep
    // running).
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = rss_mib(pid);
    stop(server);

    println!();
    println!("| what | measured |");
    println!("|---|---|");
    println!(
        "| first start to healthy (migrations, instance key) | {:.0} ms |",
        first_start.as_secs_f64() * 1000.0
    );
    println!(
        "| start to healthy on an existing database (median of 5) | {:.0} ms |",
        warm_start.as_secs_f64() * 1000.0
    );
    println!("| resident memory, idle after start | {idle} |");
    println!(
        "| post creation through the API, {POSTERS} clients, {} posts | {posts_per_sec:.0} posts/s |",
        POSTERS * per_client
    );
    println!(
        "| resident memory after the posts and {} home reads by {READERS} clients | {loaded} |",
        READERS * READS
    );
    println!("| resident memory 10 s later | {after} |");
    println!();
    println!("Where the idle resident memory is (from /proc/PID/smaps):");
    println!();
    println!("| mapping | resident | of which shared with other processes |");
    println!("|---|---|---|");
    for part in idle_parts {
        println!("| {} | {:.1} MiB | {:.1} MiB |", part.name, part.rss, part.shared);
    }
}

/// Resident memory of one kind of mapping.
struct Part {
    name: String,
    rss: f64,
    shared: f64,
}

/// Resident memory by what is mapped: the binary, each library, the heap and other anonymous
/// memory, stacks; largest first.
fn rss_by_mapping(pid: u32) -> Vec<Part> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut parts: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    let mut current = String::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: address range, perms, offset, device, inode, [path].
            let path = fields.nth(4).unwrap_or("");
            current = match path {
                "" => "anonymous (heap arenas, thread stacks)".to_owned(),
                p if p.ends_with("/guildhall") => "the guildhall binary".to_owned(),
                p => p.rsplit('/').next().unwrap_or(p).split(".so").next().unwrap_or(p).to_owned(),
            };
            continue;
        }
        let kib = || fields.clone().next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0;
        let entry = parts.entry(current.clone()).or_default();
        match first {
            "Rss:" => entry.0 += kib(),
            "Shared_Clean:" | "Shared_Dirty:" => entry.1 += kib(),
            _ => {}
        }
    }
    let mut out: Vec<Part> = parts
        .into_iter()
        .filter(|(_, (rss, _))| *rss >= 0.1)
        .map(|(name, (rss, shared))| Part { name, rss, shared })
        .collect();
    out.sort_by(|a, b| b.rss.total_cmp(&a.rss));
    out
}

//! Starting instances for tests: each on its own `localhost` port with its own database.

use std::net::TcpListener;

use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_core::Config;
use guildhall_core::config::DatabaseUrl;
use tempfile::TempDir;

/// Which database an instance runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A file in the instance's data directory.
    Sqlite,
    /// A PostgreSQL URL.
    Postgres(DatabaseUrl),
}

/// The backends available here: SQLite always, PostgreSQL when configured (a fresh schema).
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    match guildhall_storage::testing::postgres_url() {
        Some(url) => all.push(Backend::Postgres(url)),
        None => eprintln!("GUILDHALL_TEST_POSTGRES_URL not set: PostgreSQL half skipped"),
    }
    all
}

/// A running instance and the directory holding its data.
pub struct TestInstance {
    pub instance: Instance,
    /// Kept so the data directory lives as long as the instance.
    _dir: TempDir,
}

impl TestInstance {
    /// Starts an instance on a free port of `localhost`, with data in a new temp directory.
    pub async fn start(backend: &Backend) -> TestInstance {
        let dir = tempfile::tempdir().unwrap();
        let instance = start_in(dir.path(), backend).await;
        TestInstance { instance, _dir: dir }
    }

    /// `http://localhost:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.instance.port())
    }
}

/// Starts an instance whose data lives in `dir` (a second start on the same `dir` reopens it).
pub async fn start_in(dir: &std::path::Path, backend: &Backend) -> Instance {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = config_for(dir, port, backend);
    let options = HttpOptions { workers: Some(1), disable_signals: true };
    Instance::start_on(config, listener, options).await.unwrap()
}

/// The configuration of a test instance at `localhost:port` keeping its data in `dir`.
pub fn config_for(dir: &std::path::Path, port: u16, backend: &Backend) -> Config {
    let mut env = vec![
        ("GUILDHALL_DOMAIN".to_string(), format!("localhost:{port}")),
        ("GUILDHALL_LISTEN".to_string(), format!("127.0.0.1:{port}")),
        ("GUILDHALL_DATA_DIR".to_string(), dir.display().to_string()),
    ];
    if let Backend::Postgres(DatabaseUrl::Postgres(url)) = backend {
        env.push(("GUILDHALL_DATABASE_URL".to_string(), url.clone()));
    }
    Config::load(None, env).unwrap()
}

/// An HTTP client for loopback.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

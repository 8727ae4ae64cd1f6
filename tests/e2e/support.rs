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
        None => {
            guildhall_storage::testing::cannot_run("GUILDHALL_TEST_POSTGRES_URL not set: PostgreSQL half")
        }
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

    /// Like [`TestInstance::start`], with extra settings (`("GUILDHALL_REGISTRATIONS", "open")`).
    pub async fn start_with(backend: &Backend, settings: &[(&str, &str)]) -> TestInstance {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = config_with(dir.path(), port, backend, settings);
        let options =
            HttpOptions { workers: Some(1), disable_signals: true, run_delivery: false, pages: None };
        let instance = Instance::start_on(config, listener, options).await.unwrap();
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
    let options = HttpOptions { workers: Some(1), disable_signals: true, run_delivery: false, pages: None };
    Instance::start_on(config, listener, options).await.unwrap()
}

/// The configuration of a test instance at `localhost:port` keeping its data in `dir`.
pub fn config_for(dir: &std::path::Path, port: u16, backend: &Backend) -> Config {
    config_with(dir, port, backend, &[])
}

/// [`config_for`] with extra `GUILDHALL_*` settings.
pub fn config_with(dir: &std::path::Path, port: u16, backend: &Backend, settings: &[(&str, &str)]) -> Config {
    let mut env = vec![
        ("GUILDHALL_DOMAIN".to_string(), format!("localhost:{port}")),
        ("GUILDHALL_LISTEN".to_string(), format!("127.0.0.1:{port}")),
        ("GUILDHALL_DATA_DIR".to_string(), dir.display().to_string()),
    ];
    if let Backend::Postgres(DatabaseUrl::Postgres(url)) = backend {
        env.push(("GUILDHALL_DATABASE_URL".to_string(), url.clone()));
    }
    env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::load(None, env).unwrap()
}

/// An HTTP client for loopback.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Several instances federating with each other over loopback.
pub struct Cluster {
    pub nodes: Vec<TestInstance>,
}

impl Cluster {
    /// Starts `n` SQLite instances (the PostgreSQL variant of the storage is covered by the
    /// storage tests; federation behaviour does not depend on the backend).
    pub async fn start(n: usize) -> Cluster {
        init_logs();
        let mut nodes = Vec::new();
        for _ in 0..n {
            nodes.push(TestInstance::start(&Backend::Sqlite).await);
        }
        Cluster { nodes }
    }

    /// Delivers everything queued anywhere, until no instance has anything left (an
    /// activity may cause answers, such as an Accept for a Follow).
    pub async fn flush(&self) {
        for _ in 0..10 {
            let mut sent = 0;
            for node in &self.nodes {
                sent += node.instance.delivery().flush().await.unwrap();
            }
            if sent == 0 {
                return;
            }
        }
        panic!("deliveries kept coming after ten rounds");
    }

    pub async fn stop(self) {
        for node in self.nodes {
            node.instance.stop().await.unwrap();
        }
    }
}

impl TestInstance {
    /// Creates a local user and returns its actor.
    pub async fn user(&self, name: &str) -> guildhall_storage::actors::Actor {
        use guildhall_federation::local_actors::{NewUser, create_user};
        let urls = guildhall_federation::Urls::new(self.instance.config());
        let email = format!("{name}@museum.example");
        let new = NewUser {
            username: name,
            email: &email,
            password: "correct horse",
            role: guildhall_core::model::Role::User,
        };
        create_user(self.instance.db(), &urls, new).await.unwrap().actor
    }

    /// `name@localhost:PORT`.
    pub fn handle(&self, name: &str) -> String {
        format!("{name}@{}", self.instance.config().domain)
    }

    /// The federation context of this instance.
    pub fn fed(&self) -> guildhall_federation::FedData {
        self.instance.federation()
    }

    /// The status stored here under this ActivityPub id, if any.
    pub async fn status(&self, ap_id: &str) -> Option<guildhall_storage::statuses::Status> {
        let id = ap_id.to_owned();
        self.instance.db().run(move |c| guildhall_storage::statuses::find_by_ap_id(c, &id)).await.unwrap()
    }

    /// The actor stored here under this ActivityPub id.
    pub async fn actor(&self, ap_id: &str) -> Option<guildhall_storage::actors::Actor> {
        let id = ap_id.to_owned();
        self.instance.db().run(move |c| guildhall_storage::actors::find_by_ap_id(c, &id)).await.unwrap()
    }
}

/// Logs to the test output when RUST_LOG is set (`RUST_LOG=debug cargo test -- --nocapture`).
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let filter = tracing_subscriber::EnvFilter::from_default_env();
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
}

/// Confirms a new sign-up's address the way its owner does: runs the mail worker, reads the
/// confirmation mail written under `<data dir>/mail`, and presses the page's button.
pub async fn confirm_by_mail(t: &TestInstance, email: &str) {
    t.instance.mail().flush().await.unwrap();
    let mails = crate::mail::read_dir(&t.instance.config().data_dir.join("mail"));
    let mail = mails
        .iter()
        .rev()
        .find(|m| m.envelope_to == email && m.text().contains("confirmation_token="))
        .unwrap_or_else(|| panic!("no confirmation mail to {email}"));
    let link = mail.link(&t.url("/auth/confirmation?confirmation_token="));
    let key = link.split_once("confirmation_token=").unwrap().1.to_owned();
    let res =
        http().post(t.url("/auth/confirmation")).form(&[("confirmation_token", key)]).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

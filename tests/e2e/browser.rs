//! Pages in a real browser: headless Chromium (Debian's `chromium`) loads them and hands back
//! the DOM after its scripts would have run. A stranger's HTML that slipped past every filter
//! still runs nothing: the sanitizer drops it where it enters, and the CSP forbids inline
//! script in the browser. With `GUILDHALL_SCREENSHOTS=DIR`, the main pages are also captured
//! there, at phone and desktop widths (`docs/screens/` holds the last capture).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::client_api::{call, token};
use crate::support::Cluster;

/// Chromium, or `None` (outside CI: skipped with a notice; in CI: a failure).
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|p| p.join("chromium")).find(|p| p.exists()))
        .unwrap_or_default();
    if found.is_none() {
        guildhall_storage::testing::cannot_run("chromium not installed (apt-get install chromium)");
    }
    found
}

/// Runs headless Chromium on `url` with `extra` arguments; returns its standard output.
async fn run_chromium(browser: &Path, url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(browser);
    command
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("chromium answered within 90 s")
        .expect("chromium runs");
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn a_strangers_html_runs_nothing_in_a_real_browser() {
    let Some(browser) = chromium() else { return };
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let bob = b.user("bob").await;
    let ada = token(a, "ada", "read write").await;
    let (_, root) =
        call(reqwest::Method::POST, a, "/api/v1/statuses", Some(&ada), Some(json!({"status": "Ledgers?"})))
            .await;
    // A reply from the other server whose HTML tries every trick; A stores it from the note.
    let note = json!({
        "type": "Note", "id": format!("{}/statuses/666", bob.ap_id), "attributedTo": bob.ap_id,
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "inReplyTo": root["uri"],
        "content": "<p>reply<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">\
                    <a href=\"javascript:document.title='pwned'\">link</a></p>",
    });
    let note = serde_json::from_value(note).unwrap();
    guildhall_federation::objects::status::store_remote(note, &a.fed()).await.unwrap();
    // And one written to the database as it came, past the sanitizer: the CSP must hold alone.
    let raw = root["id"].as_str().unwrap().parse::<i64>().unwrap();
    a.instance
        .db()
        .run(move |c| {
            let mut s = guildhall_storage::statuses::get(c, raw)?;
            s.content = "<p>Ledgers?<script>document.title='pwned'</script></p>".into();
            guildhall_storage::statuses::update(c, &s)
        })
        .await
        .unwrap();
    let dom = run_chromium(&browser, root["url"].as_str().unwrap(), &["--dump-dom"]).await;
    assert!(dom.contains("reply"), "the page loaded: {dom}");
    assert!(!dom.contains("<title>pwned"), "no script ran: {dom}");
    assert!(!dom.contains("javascript:"), "{dom}");

    if let Some(dir) = std::env::var_os("GUILDHALL_SCREENSHOTS") {
        screenshots(&browser, a, &ada, Path::new(&dir)).await;
    }
    cluster.stop().await;
}

/// Captures the main pages into `dir`.
async fn screenshots(browser: &Path, t: &crate::support::TestInstance, token: &str, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let group = json!({"name": "mcg", "display_name": "Museum Computer Group", "membership": "approval",
                       "description": "Digital work in museums, galleries and archives.",
                       "rules": ["Be kind and assume good faith", "Credit the work of others"]});
    call(reqwest::Method::POST, t, "/api/guildhall/v1/groups", Some(token), Some(group)).await;
    let (_, post) = call(
        reqwest::Method::POST,
        t,
        "/api/v1/statuses",
        Some(token),
        Some(json!({"status": "Q1 of tonight's #MuseumHour: what did digitisation change for your visitors? @mcg"})),
    )
    .await;
    let pages = [
        ("home", t.url("/")),
        ("groups", t.url("/groups")),
        ("group", t.url("/@mcg")),
        ("thread", post["url"].as_str().unwrap().to_owned()),
        ("profile", t.url("/@ada")),
        ("tag", t.url("/tags/museumhour")),
    ];
    for (name, url) in pages {
        for (size, window) in [("phone", "390,844"), ("desktop", "1280,900")] {
            let file = dir.join(format!("{name}-{size}.png"));
            let shot = format!("--screenshot={}", file.display());
            let window = format!("--window-size={window}");
            run_chromium(browser, &url, &[&shot, &window, "--hide-scrollbars"]).await;
            assert!(file.exists(), "{file:?} written");
        }
    }
}

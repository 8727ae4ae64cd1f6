//! A real Mastodon client library (Mastodon.py) against two instances: app registration,
//! password and authorization-code (PKCE) sign-in, posting, remote search with resolve,
//! following, home timeline, reply, favourite, notifications, deletion; joining a group and
//! posting into it by mention.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::support::Cluster;

fn mastodon_py_available() -> bool {
    Command::new("python3")
        .args(["-c", "import mastodon, requests"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn mastodon_py_signs_in_posts_follows_and_replies_across_instances() {
    if !mastodon_py_available() {
        guildhall_storage::testing::cannot_run(
            "python3 with Mastodon.py not found (pip install Mastodon.py)",
        );
        return;
    }
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    a.user("cy").await;
    b.user("bob").await;
    let urls = guildhall_federation::Urls::new(a.instance.config());
    let circle = guildhall_federation::local_actors::NewGroup {
        name: "circle",
        owner: "ada",
        display_name: Some("Collections circle"),
        membership: guildhall_core::model::Membership::Open,
        posting: guildhall_core::model::PostingPolicy::Members,
        visibility: guildhall_core::model::GroupVisibility::Public,
    };
    guildhall_federation::local_actors::create_group(a.instance.db(), &urls, circle).await.unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/mastodon_client.py");
    let mut child = Command::new("python3")
        .args([script, &a.url(""), &b.url("")])
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env("NO_PROXY", "localhost,127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut done = false;
    while let Some(line) = rx.recv().await {
        match line.as_str() {
            "FLUSH" => {
                cluster.flush().await;
                writeln!(stdin, "OK").unwrap();
                stdin.flush().unwrap();
            }
            "DONE" => done = true,
            other => eprintln!("client: {other}"),
        }
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && done, "Mastodon.py failed:\n{stderr}");
    assert!(stderr.contains("checked: sign-in"), "the client's checks ran:\n{stderr}");
    assert!(stderr.contains("checked: group join"), "the group checks ran:\n{stderr}");
    assert!(stderr.contains("checked: polls across instances"), "the app feature checks ran:\n{stderr}");
    cluster.stop().await;
}

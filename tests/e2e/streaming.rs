//! The streaming API over real connections: server-sent events and a WebSocket (a minimal
//! RFC 6455 client written here, so the test depends on no WebSocket library of ours).

use std::time::Duration;

use reqwest::Method as M;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client_api::{call, token};
use crate::support::{TestInstance, backends, http};

const WAIT: Duration = Duration::from_secs(10);

/// Reads server-sent events until one of `event` whose data contains `needle`.
pub(crate) async fn sse_until(
    response: &mut reqwest::Response,
    buffer: &mut String,
    event: &str,
    needle: &str,
) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let name = block.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("");
            let data: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
            let data = data.join("\n");
            if name == event && data.contains(needle) {
                return data;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {event} event with {needle} within {WAIT:?}; had {buffer:?}"))
            .unwrap()
            .expect("the stream ended");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// A bare WebSocket client: handshake, masked text frames out, unmasked frames in.
struct Ws {
    stream: TcpStream,
}

impl Ws {
    async fn connect(t: &TestInstance, path_and_query: &str, protocol: Option<&str>) -> (u16, Option<Ws>) {
        let mut stream = TcpStream::connect(("127.0.0.1", t.instance.port())).await.unwrap();
        let mut request = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: localhost:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
            t.instance.port()
        );
        if let Some(p) = protocol {
            request.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let code: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        if code == 101 {
            assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "accept key: {head}");
            (code, Some(Ws { stream }))
        } else {
            (code, None)
        }
    }

    async fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mask = [7u8, 13, 42, 99];
        let mut frame = vec![0x81u8];
        assert!(payload.len() < 126);
        frame.push(0x80 | payload.len() as u8);
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.unwrap();
    }

    /// The next text message (pings are answered, other frames skipped).
    async fn next_text(&mut self) -> String {
        loop {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head).await.unwrap();
            let opcode = head[0] & 0x0f;
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut ext = [0u8; 2];
                self.stream.read_exact(&mut ext).await.unwrap();
                len = u64::from(u16::from_be_bytes(ext));
            } else if len == 127 {
                let mut ext = [0u8; 8];
                self.stream.read_exact(&mut ext).await.unwrap();
                len = u64::from_be_bytes(ext);
            }
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload).await.unwrap();
            match opcode {
                0x1 => return String::from_utf8(payload).unwrap(),
                0x8 => panic!("the server closed the WebSocket"),
                _ => {}
            }
        }
    }

    /// Waits until the server has handled every message sent so far: it answers messages in
    /// order, so the error it answers a message of unknown type with is that signal.
    async fn subscribed(&mut self) {
        self.send(r#"{"type":"barrier","stream":"public"}"#).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = tokio::time::timeout_at(deadline, self.next_text())
                .await
                .unwrap_or_else(|_| panic!("no answer to the barrier within {WAIT:?}"));
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["error"].as_str().is_some_and(|e| e.contains("Unknown message type")) {
                return;
            }
        }
    }

    /// Waits for a message of `event` whose payload contains `needle`.
    async fn until(&mut self, event: &str, needle: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = tokio::time::timeout_at(deadline, self.next_text())
                .await
                .unwrap_or_else(|_| panic!("no {event} with {needle} within {WAIT:?}"));
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["event"] == event && message["payload"].as_str().unwrap_or("").contains(needle) {
                return message;
            }
        }
    }
}

#[tokio::test]
async fn streams_deliver_updates_notifications_and_deletions() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        t.user("ada").await;
        let bob = t.user("bob").await;
        let ada = token(&t, "ada", "read write follow").await;
        let bob_token = token(&t, "bob", "read write").await;
        let profile_only = token(&t, "ada", "profile").await;
        call(M::POST, &t, &format!("/api/v1/accounts/{}/follow", bob.id), Some(&ada), None).await;

        let health = http().get(t.url("/api/v1/streaming/health")).send().await.unwrap();
        assert_eq!((health.status().as_u16(), health.text().await.unwrap()), (200, "OK".to_owned()));
        assert_eq!(http().get(t.url("/api/v1/streaming/user")).send().await.unwrap().status(), 401);
        let res =
            http().get(t.url("/api/v1/streaming/user")).bearer_auth(&profile_only).send().await.unwrap();
        assert_eq!(res.status(), 403, "the user stream needs read:statuses");
        assert_eq!(http().get(t.url("/api/v1/streaming/nonsense")).send().await.unwrap().status(), 400);
        let (_, instance) = call(M::GET, &t, "/api/v2/instance", None, None).await;
        let streaming = instance["configuration"]["urls"]["streaming"].as_str().unwrap();
        assert_eq!(streaming, format!("ws://localhost:{}", t.instance.port()));

        // Server-sent events: the user stream gets bob's post and the mention notification.
        let mut sse = http().get(t.url("/api/v1/streaming/user")).bearer_auth(&ada).send().await.unwrap();
        assert_eq!(sse.status(), 200);
        assert_eq!(sse.headers()["content-type"], "text/event-stream");
        let mut buffer = String::new();
        call(M::POST, &t, "/api/v1/statuses", Some(&bob_token), Some(json!({"status": "streamed hello"})))
            .await;
        let update: Value =
            serde_json::from_str(&sse_until(&mut sse, &mut buffer, "update", "streamed hello").await)
                .unwrap();
        assert_eq!(update["account"]["username"], "bob");
        call(M::POST, &t, "/api/v1/statuses", Some(&bob_token), Some(json!({"status": "@ada look"}))).await;
        let note: Value =
            serde_json::from_str(&sse_until(&mut sse, &mut buffer, "notification", "look").await).unwrap();
        assert_eq!(note["type"], "mention");
        drop(sse);

        // WebSocket: token as the sub-protocol, public:local in the query, a hashtag by message.
        let (code, _) = Ws::connect(&t, "/api/v1/streaming?stream=user", None).await;
        assert_eq!(code, 401, "the user stream needs a token");
        let (code, ws) = Ws::connect(&t, "/api/v1/streaming?stream=public:local", Some(&ada)).await;
        assert_eq!(code, 101);
        let mut ws = ws.unwrap();
        let (_, first) =
            call(M::POST, &t, "/api/v1/statuses", Some(&bob_token), Some(json!({"status": "on the wire"})))
                .await;
        let message = ws.until("update", "on the wire").await;
        assert_eq!(message["stream"], json!(["public:local"]));
        ws.send(r#"{"type":"subscribe","stream":"hashtag","tag":"GLAM"}"#).await;
        ws.subscribed().await;
        call(M::POST, &t, "/api/v1/statuses", Some(&bob_token), Some(json!({"status": "about #glam"}))).await;
        // The post is on both streams this socket listens to: one message for each.
        let mut streams = vec![ws.until("update", "about").await["stream"].clone()];
        streams.push(ws.until("update", "about").await["stream"].clone());
        streams.sort_by_key(Value::to_string);
        assert_eq!(streams, vec![json!(["hashtag", "glam"]), json!(["public:local"])]);
        // Followers-only posts never reach public streams: the next message is the deletion.
        call(
            M::POST,
            &t,
            "/api/v1/statuses",
            Some(&bob_token),
            Some(json!({"status": "private words", "visibility": "private"})),
        )
        .await;
        let id = first["id"].as_str().unwrap();
        call(M::DELETE, &t, &format!("/api/v1/statuses/{id}"), Some(&bob_token), None).await;
        let deleted = ws.until("delete", id).await;
        assert_eq!(deleted["payload"], id);
        t.instance.stop().await.unwrap();
    }
}

/// Review finding: a stream outlived its token. It is checked again at every heartbeat; the
/// stream ends (the explicit signal waited for) once the password changed.
#[tokio::test]
async fn a_stream_ends_when_its_token_stops_working() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let ada = token(&t, "ada", "read").await;
    let mut sse = http().get(t.url("/api/v1/streaming/user")).bearer_auth(&ada).send().await.unwrap();
    assert_eq!(sse.status(), 200);
    guildhall_federation::local_actors::set_password(t.instance.db(), "ada", "a new horse battery")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        match tokio::time::timeout_at(deadline, sse.chunk()).await {
            Err(_) => panic!("the stream was still open 40 s after its token was revoked"),
            Ok(Ok(Some(_))) => continue,
            Ok(_) => break,
        }
    }
    t.instance.stop().await.unwrap();
}

/// Review finding: one connection could subscribe to unlimited streams.
#[tokio::test]
async fn one_connection_follows_a_bounded_number_of_streams() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    let (code, ws) = Ws::connect(&t, "/api/v1/streaming", None).await;
    assert_eq!(code, 101);
    let mut ws = ws.unwrap();
    for i in 0..64 {
        ws.send(&format!(r#"{{"type":"subscribe","stream":"hashtag","tag":"t{i}"}}"#)).await;
    }
    ws.send(r#"{"type":"subscribe","stream":"hashtag","tag":"one_too_many"}"#).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = tokio::time::timeout_at(deadline, ws.next_text()).await.expect("an answer in time");
        let message: Value = serde_json::from_str(&text).unwrap();
        if let Some(error) = message["error"].as_str() {
            assert!(error.contains("at most 64 streams"), "{error}");
            break;
        }
    }
    t.instance.stop().await.unwrap();
}

/// A list stream carries its members' posts and nothing else (read by the author's part of
/// the list alone, since the check runs for every new status on every open list stream).
#[tokio::test]
async fn a_list_stream_carries_only_its_members() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let bob = t.user("bob").await;
    let cy = t.user("cy").await;
    let ada = token(&t, "ada", "read write follow").await;
    let bob_token = token(&t, "bob", "read write").await;
    let cy_token = token(&t, "cy", "read write").await;
    for who in [&bob, &cy] {
        call(M::POST, &t, &format!("/api/v1/accounts/{}/follow", who.id), Some(&ada), None).await;
    }
    let (_, list) = call(M::POST, &t, "/api/v1/lists", Some(&ada), Some(json!({"title": "Curators"}))).await;
    let id = list["id"].as_str().unwrap().to_owned();
    let members = format!("/api/v1/lists/{id}/accounts");
    let (s, _) =
        call(M::POST, &t, &members, Some(&ada), Some(json!({"account_ids": [bob.id.to_string()]}))).await;
    assert_eq!(s, 200);
    let (code, ws) = Ws::connect(&t, &format!("/api/v1/streaming?stream=list&list={id}"), Some(&ada)).await;
    assert_eq!(code, 101);
    let mut ws = ws.unwrap();
    ws.subscribed().await;
    call(M::POST, &t, "/api/v1/statuses", Some(&cy_token), Some(json!({"status": "not a member"}))).await;
    call(M::POST, &t, "/api/v1/statuses", Some(&bob_token), Some(json!({"status": "a member speaks"}))).await;
    // Messages come in order: the first update is the member's, the other post never came.
    let first = tokio::time::timeout(WAIT, ws.next_text()).await.expect("an update within the wait");
    let message: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(message["event"], "update", "{message}");
    assert!(message["payload"].as_str().unwrap().contains("a member speaks"), "{message}");
    assert_eq!(message["stream"], json!(["list", id]));
    t.instance.stop().await.unwrap();
}

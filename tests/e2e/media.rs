//! Media uploads over HTTP: what is done to a file, the limits, who may see and attach an
//! upload, avatars and headers, and an image reaching another instance.

use std::io::Write;

use guildhall_federation::actions;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ImageBuffer, Rgb, Rgba};
use reqwest::header::HeaderMap;
use reqwest::{Method as M, StatusCode};
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Cluster, TestInstance, backends, http};

/// Text hidden in the metadata of the test images: it must never come back out.
const SECRET: &[u8] = b"GPS-SECRET-4815";

// ---- test files -------------------------------------------------------------------------------

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = ImageBuffer::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 120]));
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(image).write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90)).unwrap();
    out
}

/// A JPEG with an EXIF segment (a camera's, say) holding [`SECRET`].
fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
    let plain = jpeg(width, height);
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0\0\0\0\0".to_vec();
    exif.extend_from_slice(SECRET);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(exif.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&plain[2..]);
    out
}

pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let image = ImageBuffer::from_fn(width, height, |x, _| Rgba([30, 90, 200, if x < 4 { 0 } else { 255 }]));
    let mut out = Vec::new();
    DynamicImage::ImageRgba8(image).write_with_encoder(PngEncoder::new(&mut out)).unwrap();
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&crc32(&[kind.as_slice(), data].concat()).to_be_bytes());
    chunk
}

/// A PNG with a `tEXt` chunk holding [`SECRET`] right after its header.
fn png_with_text(width: u32, height: u32) -> Vec<u8> {
    let plain = png(width, height);
    let header_end = 8 + 4 + 4 + 13 + 4;
    let text = png_chunk(b"tEXt", &[b"Comment\0".as_slice(), SECRET].concat());
    [&plain[..header_end], &text, &plain[header_end..]].concat()
}

/// A PNG that claims `width`x`height` 8-bit RGB pixels (and holds almost nothing).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    png_claiming_deep(width, height, 8, 2)
}

/// A PNG that claims `width`x`height` pixels of `bits` a channel in PNG colour type `colour`
/// (6: RGBA), and holds almost nothing: a decompression bomb's header.
fn png_claiming_deep(width: u32, height: u32, bits: u8, colour: u8) -> Vec<u8> {
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[bits, colour, 0, 0, 0]);
    let empty_zlib = [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01];
    [
        b"\x89PNG\r\n\x1a\n".as_slice(),
        &png_chunk(b"IHDR", &header),
        &png_chunk(b"IDAT", &empty_zlib),
        &png_chunk(b"IEND", &[]),
    ]
    .concat()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---- requests ---------------------------------------------------------------------------------

/// A file field: name, file name, bytes.
type File<'a> = (&'a str, &'a str, &'a [u8]);

/// A `multipart/form-data` body, written by hand (as any client would send it).
fn multipart(fields: &[(&str, &str)], files: &[File]) -> (String, Vec<u8>) {
    let boundary = "guildhall-test-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
            .unwrap();
    }
    for (name, filename, bytes) in files {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub(crate) async fn send(
    method: M,
    t: &TestInstance,
    path: &str,
    token: Option<&str>,
    fields: &[(&str, &str)],
    files: &[File<'_>],
) -> (StatusCode, Value) {
    let (content_type, body) = multipart(fields, files);
    let mut req = http().request(method, t.url(path)).header("Content-Type", content_type).body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn upload(t: &TestInstance, token: &str, name: &str, bytes: &[u8]) -> Value {
    let (status, body) = send(M::POST, t, "/api/v2/media", Some(token), &[], &[("file", name, bytes)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn fetch(url: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let res = http().get(url).send().await.unwrap();
    (res.status(), res.headers().clone(), res.bytes().await.unwrap().to_vec())
}

/// Fetches a served image and returns its pixel size, checking how it is served.
async fn served_image(url: &str, content_type: &str) -> (u32, u32) {
    let (status, headers, body) = fetch(url).await;
    assert_eq!(status, 200, "{url}");
    assert_eq!(headers["content-type"], content_type);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["cache-control"].to_str().unwrap().contains("immutable"));
    assert!(!contains(&body, SECRET) && !contains(&body, b"Exif"), "metadata is stripped");
    let image = image::load_from_memory(&body).unwrap();
    (image.width(), image.height())
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

// ---- tests ------------------------------------------------------------------------------------

#[tokio::test]
async fn uploads_are_reencoded_and_served() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        t.user("ada").await;
        let tok = token(&t, "ada", "read write").await;

        // A JPEG with EXIF, alt text and a focal point.
        let photo = jpeg_with_exif(640, 480);
        assert!(contains(&photo, SECRET));
        let fields = [("description", "A vase"), ("focus", "0.5,-0.25")];
        let (s, media) =
            send(M::POST, &t, "/api/v2/media", Some(&tok), &fields, &[("file", "vase.jpg", &photo)]).await;
        assert_eq!(s, 200, "{media}");
        assert_eq!(media["type"], "image");
        assert_eq!(media["description"], "A vase");
        assert_eq!(media["remote_url"], Value::Null);
        assert_eq!(
            media["meta"]["original"],
            json!({"width": 640, "height": 480, "size": "640x480", "aspect": 640.0 / 480.0})
        );
        assert_eq!(
            (media["meta"]["small"]["width"].as_u64(), media["meta"]["small"]["height"].as_u64()),
            (Some(400), Some(300))
        );
        assert_eq!(media["meta"]["focus"], json!({"x": 0.5, "y": -0.25}));
        assert_eq!(media["blurhash"].as_str().unwrap().len(), 36);
        let url = media["url"].as_str().unwrap();
        assert!(url.starts_with(&t.url("/media/")) && url.ends_with(".jpg"), "{url}");
        assert_eq!(served_image(url, "image/jpeg").await, (640, 480));
        assert_eq!(served_image(media["preview_url"].as_str().unwrap(), "image/jpeg").await, (400, 300));

        // A PNG with a text chunk, through v1: stays PNG, transparency and all.
        let (s, drawing) =
            send(M::POST, &t, "/api/v1/media", Some(&tok), &[], &[("file", "d.png", &png_with_text(50, 20))])
                .await;
        assert_eq!(s, 200, "{drawing}");
        let url = drawing["url"].as_str().unwrap();
        assert!(url.ends_with(".png"));
        assert_eq!(served_image(url, "image/png").await, (50, 20));
        assert_eq!(drawing["meta"]["small"]["width"], 50, "small images are not enlarged");

        // Only names we wrote are served; nothing outside the media directory.
        for path in [
            "/media/..%2Fguildhall.db",
            "/media/guildhall.db",
            // (A bare "/media/.." is made "/" by the client before it is sent.)
            "/media/..%5Cguildhall.db",
            &format!("/media/{}.png", "A".repeat(43)),
        ] {
            let (status, headers, _) = fetch(&t.url(path)).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(headers["content-type"], "application/json");
        }
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn uploads_need_write_access_and_an_image_within_limits() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let read = token(&t, "ada", "read").await;
    let media_only = token(&t, "ada", "write:media").await;
    let small = jpeg(32, 32);
    let file = [("file", "a.jpg", small.as_slice())];

    let (s, body) = send(M::POST, &t, "/api/v2/media", None, &[], &file).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("The access token is invalid")));
    assert_eq!(send(M::POST, &t, "/api/v2/media", Some(&read), &[], &file).await.0, 403);
    assert_eq!(send(M::POST, &t, "/api/v2/media", Some(&media_only), &[], &file).await.0, 200);

    let refused: [(&str, Vec<u8>, &str); 4] = [
        ("notes.txt", b"Accession register, 1921".to_vec(), "not supported"),
        ("cut.jpg", small[..60].to_vec(), "could not be read"),
        ("huge.png", png_claiming(8000, 5000), "8000x5000 pixels"),
        ("big.jpg", [small.as_slice(), &vec![0; 17 * 1024 * 1024]].concat(), "smaller than 16 MiB"),
    ];
    for (name, bytes, why) in refused {
        let (s, body) =
            send(M::POST, &t, "/api/v2/media", Some(&media_only), &[], &[("file", name, &bytes)]).await;
        assert_eq!(s, 422, "{name}: {body}");
        assert!(body["error"].as_str().unwrap().contains(why), "{name}: {body}");
    }
    let (s, body) = send(M::POST, &t, "/api/v2/media", Some(&media_only), &[("description", "x")], &[]).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("Validation failed: File can't be blank"))
    );
    let long = "x".repeat(1501);
    let (s, _) =
        send(M::POST, &t, "/api/v2/media", Some(&media_only), &[("description", &long)], &file).await;
    assert_eq!(s, 422);
    let (s, _) = send(M::POST, &t, "/api/v2/media", Some(&media_only), &[("focus", "2,0")], &file).await;
    assert_eq!(s, 422);
    t.instance.stop().await.unwrap();
}

/// Finding 9: a 16-bit PNG at the pixel limit would take 265 MB decoded (and more while
/// resized); it is refused from its header. Uploads per account are bounded too.
#[tokio::test]
async fn finding_9_decompression_bombs_and_upload_floods_are_refused() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let media = token(&t, "ada", "write:media").await;
    let bomb = png_claiming_deep(7680, 4320, 16, 6);
    let (s, body) =
        send(M::POST, &t, "/api/v2/media", Some(&media), &[], &[("file", "bomb.png", &bomb)]).await;
    assert_eq!(s, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("7680x4320 pixels at 8 bytes a pixel"), "{body}");
    // The same size at 8 bits a channel passes the header check (and then fails as empty).
    let shallow = png_claiming_deep(7680, 4320, 8, 6);
    let (s, body) =
        send(M::POST, &t, "/api/v2/media", Some(&media), &[], &[("file", "ok.png", &shallow)]).await;
    assert_eq!(s, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("could not be read"), "{body}");

    // Two counted so far; 30 in half an hour in all, as Mastodon allows.
    let small = jpeg(16, 16);
    for i in 2..30 {
        let (s, body) =
            send(M::POST, &t, "/api/v2/media", Some(&media), &[], &[("file", "a.jpg", &small)]).await;
        assert_eq!(s, 200, "upload {i}: {body}");
    }
    let (s, body) = send(M::POST, &t, "/api/v2/media", Some(&media), &[], &[("file", "a.jpg", &small)]).await;
    assert_eq!((s.as_u16(), body["error"].as_str()), (429, Some("Too many uploads; try again later")));
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn uploads_are_described_and_attached_by_their_owner_only() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        t.user("ada").await;
        t.user("bob").await;
        let (ada, bob) = (token(&t, "ada", "read write").await, token(&t, "bob", "read write").await);
        let photo = upload(&t, &ada, "p.jpg", &jpeg(120, 90)).await;
        let drawing = upload(&t, &ada, "d.png", &png(30, 30)).await;
        let (photo_id, drawing_id) = (id(&photo), id(&drawing));
        let media_path = format!("/api/v1/media/{photo_id}");

        // The owner reads and describes it; anyone else gets 404.
        let (s, got) = call(M::GET, &t, &media_path, Some(&ada), None).await;
        assert_eq!((s, got["url"].as_str()), (StatusCode::OK, photo["url"].as_str()));
        let (s, put) = call(
            M::PUT,
            &t,
            &media_path,
            Some(&ada),
            Some(json!({"description": "A Ming vase", "focus": "0,0.5"})),
        )
        .await;
        assert_eq!((s, put["description"].as_str()), (StatusCode::OK, Some("A Ming vase")));
        assert_eq!(put["meta"]["focus"], json!({"x": 0.0, "y": 0.5}));
        assert_eq!(call(M::GET, &t, &media_path, Some(&bob), None).await.0, 404);
        assert_eq!(
            call(M::PUT, &t, &media_path, Some(&bob), Some(json!({"description": "mine"}))).await.0,
            404
        );
        assert_eq!(call(M::GET, &t, "/api/v1/media/12345", Some(&ada), None).await.0, 404);

        // Someone else's, unknown, malformed or too many ids: 422, and nothing is posted.
        for ids in [json!([photo_id]), json!(["12345"]), json!(["nope"])] {
            let (s, body) = call(
                M::POST,
                &t,
                "/api/v1/statuses",
                Some(&bob),
                Some(json!({"status": "x", "media_ids": ids})),
            )
            .await;
            assert_eq!(s, 422, "{body}");
            assert!(body["error"].as_str().unwrap().contains("not found or already attached"), "{body}");
        }
        let mut five = Vec::new();
        for _ in 0..5 {
            five.push(id(&upload(&t, &ada, "s.jpg", &jpeg(8, 8)).await).to_owned());
        }
        let (s, body) = call(
            M::POST,
            &t,
            "/api/v1/statuses",
            Some(&ada),
            Some(json!({"status": "x", "media_ids": five})),
        )
        .await;
        assert_eq!(
            (s, body["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("Cannot attach more than 4 files"))
        );

        // Posting attaches them in the order given; the text may be empty.
        let (s, post) = call(
            M::POST,
            &t,
            "/api/v1/statuses",
            Some(&ada),
            Some(json!({"status": "", "media_ids": [drawing_id, photo_id]})),
        )
        .await;
        assert_eq!(s, 200, "{post}");
        let attached = post["media_attachments"].as_array().unwrap();
        assert_eq!(attached.iter().map(id).collect::<Vec<_>>(), vec![drawing_id, photo_id]);
        assert_eq!(attached[1]["description"], "A Ming vase");
        assert_eq!(attached[1]["url"], photo["url"]);
        assert_eq!(attached[1]["preview_url"], photo["preview_url"]);
        let (_, seen) = call(M::GET, &t, &format!("/api/v1/statuses/{}", id(&post)), None, None).await;
        assert_eq!(seen["media_attachments"], post["media_attachments"]);

        // Attached, they are no longer reachable here, nor attachable again.
        assert_eq!(call(M::GET, &t, &media_path, Some(&ada), None).await.0, 404);
        assert_eq!(
            call(M::PUT, &t, &media_path, Some(&ada), Some(json!({"description": "late"}))).await.0,
            404
        );
        let again = json!({"status": "again", "media_ids": [photo_id]});
        assert_eq!(call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(again)).await.0, 422);
        assert_eq!(call(M::DELETE, &t, &media_path, Some(&ada), None).await.0, 422);

        // An edit sets the attachments anew; an unattached upload can be deleted.
        let edit = json!({"status": "just the vase", "media_ids": [photo_id]});
        let (s, edited) =
            call(M::PUT, &t, &format!("/api/v1/statuses/{}", id(&post)), Some(&ada), Some(edit)).await;
        assert_eq!(s, 200, "{edited}");
        assert_eq!(
            edited["media_attachments"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(),
            vec![photo_id]
        );
        let spare = format!("/api/v1/media/{}", five[0]);
        assert_eq!(call(M::DELETE, &t, &spare, Some(&ada), None).await.0, 200);
        assert_eq!(call(M::GET, &t, &spare, Some(&ada), None).await.0, 404);
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn avatar_and_header_uploads_change_the_profile() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        t.user("ada").await;
        let tok = token(&t, "ada", "read write").await;
        let (avatar, header) = (png_with_text(800, 600), jpeg_with_exif(2000, 500));
        let files = [("avatar", "me.png", avatar.as_slice()), ("header", "banner.jpg", header.as_slice())];
        let (s, account) = send(
            M::PATCH,
            &t,
            "/api/v1/accounts/update_credentials",
            Some(&tok),
            &[("display_name", "Ada L.")],
            &files,
        )
        .await;
        assert_eq!(s, 200, "{account}");
        assert_eq!(account["display_name"], "Ada L.");
        let avatar_url = account["avatar"].as_str().unwrap();
        assert!(avatar_url.starts_with(&t.url("/media/")), "{avatar_url}");
        assert_eq!(account["avatar_static"], account["avatar"]);
        assert_eq!(served_image(avatar_url, "image/png").await, (400, 300));
        assert_eq!(served_image(account["header"].as_str().unwrap(), "image/jpeg").await, (1500, 375));
        let (_, me) = call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(&tok), None).await;
        assert_eq!(me["avatar"], account["avatar"]);

        // A text file is no avatar; the profile stays as it was.
        let bad = [("avatar", "me.txt", b"hello".as_slice())];
        let (s, _) = send(M::PATCH, &t, "/api/v1/accounts/update_credentials", Some(&tok), &[], &bad).await;
        assert_eq!(s, 422);
        let (_, me) = call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(&tok), None).await;
        assert_eq!(me["avatar"], account["avatar"]);

        // A new avatar replaces the old, whose file goes; the header stays.
        let again = png_with_text(300, 300);
        let files = [("avatar", "new.png", again.as_slice())];
        let (s, changed) =
            send(M::PATCH, &t, "/api/v1/accounts/update_credentials", Some(&tok), &[], &files).await;
        assert_eq!(s, 200, "{changed}");
        assert_ne!(changed["avatar"], account["avatar"]);
        assert_eq!(fetch(avatar_url).await.0, 404, "the replaced avatar is removed");
        assert_eq!(served_image(changed["avatar"].as_str().unwrap(), "image/png").await, (300, 300));
        assert_eq!(fetch(account["header"].as_str().unwrap()).await.0, 200);
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn an_image_post_reaches_another_instance_with_its_attachment() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let bob = b.user("bob").await;
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;

    let tok = token(a, "ada", "read write").await;
    let fields = [("description", "A Ming vase")];
    let (_, media) =
        send(M::POST, a, "/api/v2/media", Some(&tok), &fields, &[("file", "v.jpg", &jpeg(300, 200))]).await;
    let post = json!({"status": "New acquisition", "media_ids": [id(&media)]});
    let (s, posted) = call(M::POST, a, "/api/v1/statuses", Some(&tok), Some(post)).await;
    assert_eq!(s, 200, "{posted}");
    cluster.flush().await;

    let at_b = b.status(posted["uri"].as_str().unwrap()).await.expect("the post reached B");
    assert_eq!(at_b.actor_id, ada_at_b.id);
    let at_b = at_b.id;
    let attachments =
        b.instance.db().run(move |c| guildhall_storage::status_parts::attachments(c, at_b)).await.unwrap();
    let [image] = &attachments[..] else { panic!("one attachment expected: {attachments:?}") };
    assert_eq!(image.remote_url.as_deref(), media["url"].as_str());
    assert_eq!(image.media_type.as_deref(), Some("image/jpeg"));
    assert_eq!(image.description.as_deref(), Some("A Ming vase"));
    assert_eq!(image.blurhash.as_deref(), media["blurhash"].as_str());
    assert_eq!((image.width, image.height), (Some(300), Some(200)));
    // B's apps show it, linked where A serves it.
    let (_, seen) = call(M::GET, b, &format!("/api/v1/statuses/{at_b}"), None, None).await;
    assert_eq!(seen["media_attachments"][0]["url"], media["url"]);
    assert_eq!(seen["media_attachments"][0]["type"], "image");
    cluster.stop().await;
}

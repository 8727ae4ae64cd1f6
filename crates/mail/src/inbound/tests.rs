#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// What the tests put for `{{REPLY_TO}}`, `{{FROM}}` and `{{MESSAGE_ID}}` in the fixtures.
const REPLY_TO: &str = "reply+3f9a1c0b7e2d-4c5a@localhost";
const KEY: &str = "3f9a1c0b7e2d-4c5a";
const FROM: &str = "Member.Name@Example.org";
const MESSAGE_ID: &str = "notify.42.7c1e@localhost";

fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mail").join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    let raw = std::fs::read_to_string(fixture_path(name)).unwrap();
    raw.replace("{{REPLY_TO}}", REPLY_TO)
        .replace("{{FROM}}", FROM)
        .replace("{{MESSAGE_ID}}", MESSAGE_ID)
        .into_bytes()
}

fn parsed(name: &str) -> Inbound {
    parse(&fixture(name), &Limits::default()).unwrap()
}

/// The checks every person's reply passes.
fn assert_reply(inbound: &Inbound, text: &str) {
    assert_eq!(inbound.text, text);
    assert_eq!(inbound.from, "member.name@example.org");
    assert_eq!(inbound.reply_keys, vec![KEY.to_string()]);
    assert_eq!(inbound.in_reply_to, vec![MESSAGE_ID.to_string()]);
    assert_eq!(inbound.automatic, None);
}

const FIXTURES: &[&str] = &[
    "gmail.eml",
    "outlook.eml",
    "outlook-desktop.eml",
    "apple-mail.eml",
    "apple-mail-photo.eml",
    "iphone-photos.eml",
    "thunderbird.eml",
    "html-only.eml",
    "out-of-office.eml",
    "bounce.eml",
];

#[test]
fn fixtures_have_crlf_line_ends_and_placeholders() {
    for name in FIXTURES {
        let raw = std::fs::read(fixture_path(name)).unwrap();
        for (at, byte) in raw.iter().enumerate() {
            if *byte == b'\n' {
                assert!(at > 0 && raw[at - 1] == b'\r', "{name}: a bare LF at byte {at}");
            }
        }
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.contains("{{REPLY_TO}}") && raw.contains("{{MESSAGE_ID}}"), "{name}");
        // A bounce comes from the mail system, not from the member.
        assert_eq!(raw.contains("{{FROM}}"), *name != "bounce.eml", "{name}");
    }
}

#[test]
fn gmail_reply_keeps_only_the_new_text() {
    let inbound = parsed("gmail.eml");
    assert_reply(&inbound, "Count me in for the study day. I can bring the scanner.");
    assert_eq!(
        inbound.message_id.as_deref(),
        Some("CAJ8vT3qXo5mZkq0a8sE1yQ+2wd6N7p5rFh0uQdT3bL9Xk1cZ4A@mail.gmail.com")
    );
    assert!(inbound.images.is_empty());
}

#[test]
fn outlook_web_reply_stops_at_the_rule_and_header_block() {
    let inbound = parsed("outlook.eml");
    assert_reply(
        &inbound,
        "I can\u{2019}t make Saturday, but I\u{2019}ll send my notes on the parish registers before then.\n\nDorothy",
    );
    assert_eq!(
        inbound.message_id.as_deref(),
        Some("AS8PR07MB7461C2E5D1A94F0B8E7F3A21C6D4B90A@AS8PR07MB7461.eurprd07.prod.outlook.com")
    );
}

#[test]
fn outlook_desktop_reply_stops_at_the_header_block() {
    let inbound = parsed("outlook-desktop.eml");
    assert_reply(
        &inbound,
        "Yes, I have a photocopy of the 1839 tithe apportionment and will bring it on the 12th.\n\nRegards,\nJohn",
    );
}

#[test]
fn apple_mail_reply_drops_the_quoted_attribution() {
    let inbound = parsed("apple-mail.eml");
    assert_reply(
        &inbound,
        "Thanks, the minutes look right to me. One correction: we finish at four, not five.",
    );
    assert!(inbound.images.is_empty());
}

#[test]
fn apple_mail_photo_is_kept_with_its_name() {
    let inbound = parsed("apple-mail-photo.eml");
    assert_reply(
        &inbound,
        "Here is the north aisle window I mentioned. The glass on the left is the medieval part.",
    );
    assert_eq!(inbound.images.len(), 1);
    let image = &inbound.images[0];
    assert_eq!(image.filename, "north-aisle-window.jpeg");
    assert_eq!(image.content_type, "image/jpeg");
    assert!(image.data.starts_with(&[0xff, 0xd8, 0xff]) && image.data.ends_with(&[0xff, 0xd9]));
    assert_eq!(image.alt_text(), "north aisle window");
}

#[test]
fn iphone_photos_and_footer() {
    let inbound = parsed("iphone-photos.eml");
    assert_reply(&inbound, "Two photos of the Hartley gravestone, before and after cleaning.");
    let names: Vec<&str> = inbound.images.iter().map(|image| image.filename.as_str()).collect();
    assert_eq!(names, ["image0.jpeg", "image1.jpeg"]);
    assert!(inbound.images.iter().all(|image| image.content_type == "image/jpeg"));
    assert_ne!(inbound.images[0].data, inbound.images[1].data);

    let one = parse(&fixture("iphone-photos.eml"), &Limits { max_images: 1, ..Limits::default() }).unwrap();
    assert_eq!(one.images.len(), 1);
    assert_eq!(one.images[0].filename, "image0.jpeg");

    let small =
        parse(&fixture("iphone-photos.eml"), &Limits { max_image_bytes: 100, ..Limits::default() }).unwrap();
    assert!(small.images.is_empty());
    assert_eq!(small.text, inbound.text);
}

#[test]
fn thunderbird_bottom_posted_flowed_reply_with_signature() {
    let inbound = parsed("thunderbird.eml");
    assert_reply(
        &inbound,
        "I\u{2019}ve checked the tithe map reference and the field names match the award. \
         I\u{2019}ll bring my transcription.",
    );
}

#[test]
fn html_only_reply() {
    let inbound = parsed("html-only.eml");
    assert_reply(
        &inbound,
        "Yes please, put me down for the archive visit.\n\n\
         We could meet at the station at half past nine & walk up together.\n\nTom",
    );
}

#[test]
fn html_alternatives_give_the_same_text() {
    for name in [
        "gmail.eml",
        "outlook.eml",
        "outlook-desktop.eml",
        "apple-mail.eml",
        "apple-mail-photo.eml",
        "out-of-office.eml",
    ] {
        let raw = fixture(name);
        let message = MessageParser::default().parse(&raw).unwrap();
        let html: Vec<String> = message
            .parts
            .iter()
            .filter_map(|part| match &part.body {
                PartType::Html(body) => Some(html::to_text(body).text),
                _ => None,
            })
            .collect();
        assert!(!html.is_empty(), "{name}");
        assert_eq!(text::trim_reply(&html.join("\n")), parsed(name).text, "{name}");
    }
}

#[test]
fn out_of_office_is_automatic() {
    let inbound = parsed("out-of-office.eml");
    assert_eq!(inbound.automatic, Some(Automatic::OutOfOffice));
    assert_eq!(inbound.reply_keys, vec![KEY.to_string()]);
    assert_eq!(
        inbound.text,
        "I am away until Monday 4 January with no access to e-mail. For anything urgent about the \
         society\u{2019}s archive, please write to the secretary.\n\nDorothy Wren"
    );
}

#[test]
fn bounce_is_automatic() {
    let inbound = parsed("bounce.eml");
    assert_eq!(inbound.automatic, Some(Automatic::Bounce));
    assert_eq!(inbound.from, "mailer-daemon@mx.example.net");
    assert!(inbound.images.is_empty());

    // The report content type alone is enough.
    let raw = String::from_utf8(fixture("bounce.eml")).unwrap();
    let raw = raw
        .replace("Return-Path: <>\r\n", "")
        .replace("Auto-Submitted: auto-replied\r\n", "")
        .replace("MAILER-DAEMON@mx.example.net", "delivery@mx.example.net");
    let inbound = parse(raw.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(inbound.automatic, Some(Automatic::Bounce));
}

#[test]
fn too_large_is_refused_before_reading() {
    let raw = fixture("gmail.eml");
    let limits = Limits { max_bytes: raw.len() - 1, ..Limits::default() };
    assert_eq!(parse(&raw, &limits), Err(InboundError::TooLarge));
    assert!(parse(&raw, &Limits { max_bytes: raw.len(), ..Limits::default() }).is_ok());
    assert_eq!(
        InboundError::TooLarge.to_string(),
        "the message is larger than the size accepted for replies by mail"
    );
}

fn simple(headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Ada <ada@example.org>\r\nTo: <{REPLY_TO}>\r\nSubject: Re: x\r\n{headers}\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
    .into_bytes()
}

#[test]
fn unreadable_and_senderless_messages() {
    assert_eq!(parse(b"", &Limits::default()), Err(InboundError::Unparseable));
    let no_from = format!("To: {REPLY_TO}\r\nSubject: hi\r\n\r\nHello\r\n");
    assert_eq!(parse(no_from.as_bytes(), &Limits::default()), Err(InboundError::NoSender));
    let bad_from = format!("From: nobody\r\nTo: {REPLY_TO}\r\n\r\nHello\r\n");
    assert_eq!(parse(bad_from.as_bytes(), &Limits::default()), Err(InboundError::NoSender));
}

#[test]
fn automatic_headers() {
    let cases: &[(&str, Option<Automatic>)] = &[
        ("", None),
        ("Auto-Submitted: no\r\n", None),
        ("Auto-Submitted: auto-generated\r\n", Some(Automatic::AutoSubmitted)),
        ("Auto-Submitted: auto-notified; owner-email=\"x@example.org\"\r\n", Some(Automatic::AutoSubmitted)),
        ("Auto-Submitted: Auto-Replied\r\n", Some(Automatic::OutOfOffice)),
        ("Precedence: bulk\r\n", Some(Automatic::Precedence)),
        ("Precedence: junk\r\n", Some(Automatic::Precedence)),
        ("Precedence: list\r\n", Some(Automatic::Precedence)),
        ("Precedence: auto_reply\r\n", Some(Automatic::OutOfOffice)),
        ("Precedence: first-class\r\n", None),
        ("X-Autoreply: yes\r\n", Some(Automatic::OutOfOffice)),
        ("X-Autorespond: Vacation\r\n", Some(Automatic::OutOfOffice)),
        ("X-Auto-Response-Suppress: DR, OOF, AutoReply\r\n", Some(Automatic::OutOfOffice)),
        ("X-Auto-Response-Suppress: All\r\n", Some(Automatic::OutOfOffice)),
        ("X-Auto-Response-Suppress: DR, RN, NRN\r\n", None),
        ("X-Failed-Recipients: gone@example.net\r\n", Some(Automatic::Bounce)),
        ("Return-Path: <>\r\n", Some(Automatic::Bounce)),
        ("Return-Path: < >\r\n", Some(Automatic::Bounce)),
        ("Return-Path: <ada@example.org>\r\n", None),
    ];
    for (headers, expected) in cases {
        let inbound = parse(&simple(headers, "Hello\r\n"), &Limits::default()).unwrap();
        assert_eq!(inbound.automatic, *expected, "{headers:?}");
    }
    for sender in ["MAILER-DAEMON@mx.example.net", "postmaster@example.net"] {
        let raw = format!("From: {sender}\r\nTo: {REPLY_TO}\r\n\r\nUndeliverable\r\n");
        let inbound = parse(raw.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(inbound.automatic, Some(Automatic::Bounce), "{sender}");
    }
    assert_eq!(Automatic::Bounce.reason(), "a delivery failure report (bounce)");
}

#[test]
fn reply_keys_from_every_recipient() {
    let raw = "From: \"Lovelace, Ada\" <ADA@Example.org>\r\n\
               To: Group <reply+AbC-12@Example.org>, other@example.org\r\n\
               Cc: reply+def@localhost, noreply+nope@localhost, reply+bad_key@localhost, reply+@localhost\r\n\
               Delivered-To: reply+ghi@mail.example.org\r\n\
               X-Original-To: <reply+abc-12@example.org>\r\n\
               Message-ID: <own@example.org>\r\n\
               In-Reply-To: <one@localhost> <two@localhost>\r\n\
               \r\nHello\r\n";
    let rcpts = vec!["Reply+JKL@localhost".to_string(), "reply+ghi@localhost".to_string()];
    let inbound = parse_with_recipients(raw.as_bytes(), &rcpts, &Limits::default()).unwrap();
    assert_eq!(inbound.from, "ada@example.org");
    assert_eq!(inbound.reply_keys, ["abc-12", "def", "ghi", "jkl"]);
    assert_eq!(inbound.message_id.as_deref(), Some("own@example.org"));
    assert_eq!(inbound.in_reply_to, ["one@localhost", "two@localhost"]);
    assert_eq!(inbound.text, "Hello");

    let none =
        parse(b"From: ada@example.org\r\nTo: group@example.org\r\n\r\nHi\r\n", &Limits::default()).unwrap();
    assert!(none.reply_keys.is_empty());
    assert_eq!(none.message_id, None);
    assert!(none.in_reply_to.is_empty());
}

#[test]
fn reply_key_shapes() {
    assert_eq!(reply_key("reply+abc@x.org").as_deref(), Some("abc"));
    assert_eq!(reply_key(" Name <REPLY+A-1@x.org> ").as_deref(), Some("a-1"));
    assert_eq!(reply_key("reply+a.b@x.org"), None);
    assert_eq!(reply_key("reply+abc@"), None);
    assert_eq!(reply_key("reply+abc"), None);
    assert_eq!(reply_key("replyabc@x.org"), None);
    assert_eq!(reply_key("reply+é@x.org"), None);
}

fn trimmed(body: &str) -> String {
    let inbound = parse(&simple("", body), &Limits::default()).unwrap();
    inbound.text
}

#[test]
fn attribution_forms() {
    let cases = [
        // Gmail, British and American dates, wrapped over two lines.
        "On Tue, 1 Dec 2026 at 10:02, Ada Lovelace <ada@x.org> wrote:\r\n\r\n> old\r\n",
        "On Tue, Dec 1, 2026 at 10:02\u{202f}AM Ada Lovelace <ada@x.org> wrote:\r\n> old\r\n",
        "On Tue, 1 Dec 2026 at 10:02, Ada Lovelace <\r\nada@x.org> wrote:\r\n\r\n> old\r\n",
        // Apple Mail, quoted or not.
        "> On 1 Dec 2026, at 10:02, Ada <ada@x.org> wrote:\r\n> \r\n> old\r\n",
        "On 1 Dec 2026, at 10:02, Ada <ada@x.org> wrote:\r\n\r\n> old\r\n",
        // Thunderbird.
        "On 01/12/2026 10:02, Ada wrote:\r\n> old\r\n",
        // Other languages.
        "Le mar. 1 d\u{e9}c. 2026 \u{e0} 10:02, Ada Lovelace <ada@x.org> a \u{e9}crit\u{a0}:\r\n> old\r\n",
        "Am Di., 1. Dez. 2026 um 10:02 Uhr schrieb Ada Lovelace <ada@x.org>:\r\n> old\r\n",
        "El mar, 1 dic 2026 a las 10:02, Ada Lovelace (<ada@x.org>) escribi\u{f3}:\r\n> old\r\n",
        "Op di 1 dec 2026 om 10:02 schreef Ada Lovelace <ada@x.org>:\r\n> old\r\n",
        // An attribution with the original below it, not quoted: cut.
        "On Tue, 1 Dec 2026 at 10:02, Ada Lovelace <ada@x.org> wrote:\r\n\r\nold text, not quoted\r\n",
        // Outlook.
        "-----Original Message-----\r\nFrom: Ada\r\nSent: Tuesday\r\n\r\nold\r\n",
        "From: Ada Lovelace <ada@x.org>\r\nSent: Tuesday, December 1, 2026 10:02 AM\r\nTo: Group <g@x.org>\r\n\
         Subject: Study day\r\n\r\nold\r\n",
        "________________________________\r\nFrom: Ada Lovelace <ada@x.org>\r\nSent: Tuesday, December 1, 2026\r\n\
         To: Group <g@x.org>\r\nSubject: Study day\r\n\r\nold\r\n",
        "*From:* Ada Lovelace <ada@x.org>\r\n*Sent:* Tuesday, December 1, 2026\r\n*To:* Group\r\n\r\nold\r\n",
        "De : Ada Lovelace <ada@x.org>\r\nEnvoy\u{e9} : mardi 1 d\u{e9}cembre 2026 10:02\r\n\u{c0} : Group\r\n\
         Objet : Study day\r\n\r\nold\r\n",
    ];
    for tail in cases {
        assert_eq!(trimmed(&format!("New text here.\r\n\r\n{tail}")), "New text here.", "{tail:?}");
    }
}

#[test]
fn quotes_signatures_and_footers() {
    // Signatures.
    assert_eq!(trimmed("Yes.\r\n\r\n-- \r\nAda\r\nPellham Society\r\n"), "Yes.");
    assert_eq!(trimmed("Yes.\r\n--\r\nAda\r\n"), "Yes.");
    // Phone footers at the end, also above a quote.
    assert_eq!(trimmed("Yes.\r\n\r\nSent from my iPhone\r\n"), "Yes.");
    assert_eq!(
        trimmed("Yes.\r\n\r\nSent from my iPhone\r\n\r\n> On 1 Dec 2026, at 10:02, A <a@x> wrote:\r\n> old"),
        "Yes."
    );
    assert_eq!(trimmed("Yes.\r\n\r\nGet Outlook for iOS<https://aka.ms/o0ukef>\r\n"), "Yes.");
    assert_eq!(trimmed("Yes.\r\n\r\nVon meinem iPhone gesendet\r\n"), "Yes.");
    // A footer-like line inside the text stays.
    assert_eq!(
        trimmed("Sent from my iPhone\r\nbecause I was out.\r\n"),
        "Sent from my iPhone\nbecause I was out."
    );
    // Blank lines: none at the ends, at most one in a row; trailing spaces go.
    assert_eq!(trimmed("\r\n\r\n  \r\nOne.  \r\n\r\n\r\n\r\nTwo.\r\n\r\n"), "One.\n\nTwo.");
    // Interleaved answers stay, the quoted lines go.
    assert_eq!(
        trimmed("> Can you come?\r\nYes.\r\n> Bring the scanner?\r\nOf course.\r\n"),
        "Yes.\nOf course."
    );
    // An answer under `X wrote:` and a quote stays.
    assert_eq!(trimmed("Ada Lovelace wrote:\r\n> Can you come?\r\n\r\nYes.\r\n"), "Yes.");
    // A top-posted Thunderbird reply.
    assert_eq!(
        trimmed("Yes, see you there.\r\n\r\nOn 01/12/2026 10:02, Pellham Society wrote:\r\n> Study day\r\n"),
        "Yes, see you there."
    );
    // A line starting "On" in the text itself stays.
    assert_eq!(trimmed("On Saturday I can come.\r\nSee you.\r\n"), "On Saturday I can come.\nSee you.");
    // Lone CRs are line ends too.
    assert_eq!(trimmed("One.\rTwo.\r"), "One.\nTwo.");
}

#[test]
fn format_flowed() {
    assert_eq!(text::unflow("One \r\ntwo\r\n-- \r\nsig", false), "One two\n-- \nsig");
    assert_eq!(text::unflow("One\r\n two", false), "One\ntwo");
    assert_eq!(text::unflow("Lon \r\ng word", true), "Long word");
    assert_eq!(text::unflow("> quoted \r\n> more\r\nmine", false), "> quoted more\nmine");
    let raw = simple("", "")
        .into_iter()
        .chain(b"Line one goes \r\non here.\r\n".iter().copied())
        .collect::<Vec<u8>>();
    let raw = String::from_utf8(raw).unwrap().replace("charset=utf-8", "charset=utf-8; format=flowed");
    assert_eq!(parse(raw.as_bytes(), &Limits::default()).unwrap().text, "Line one goes on here.");
}

#[test]
fn html_to_text() {
    let convert = |html: &str| text::trim_reply(&html::to_text(html).text);
    assert_eq!(
        convert(
            "<html><head><title>t</title><style>p{}</style></head><body><p>One &amp; two</p><p>Three&nbsp;four</p></body></html>"
        ),
        "One & two\n\nThree four"
    );
    assert_eq!(convert("<div>a</div><div>b</div><div><br></div><div>c</div>"), "a\nb\n\nc");
    assert_eq!(convert("<ul><li>one</li><li>two</li></ul>"), "- one\n- two");
    assert_eq!(
        convert("x &lt; y &#8211; z &#x2019; &unknown; & more"),
        "x < y \u{2013} z \u{2019} &unknown; & more"
    );
    assert_eq!(convert("<!-- <p>hidden</p> --><script>var a = '<p>';</script>shown"), "shown");
    assert_eq!(convert("a < b and <3"), "a < b and <3");
    assert_eq!(
        convert("Mine<blockquote>theirs<blockquote>older</blockquote>still theirs</blockquote>Mine too"),
        "Mine\nMine too"
    );
    assert_eq!(
        convert("Mine<div class=\"gmail_quote\">On x wrote:<blockquote>old</blockquote></div>"),
        "Mine"
    );
    assert_eq!(convert("Mine<div id=\"divRplyFwdMsg\"><b>From:</b> x</div>old"), "Mine");
    assert_eq!(convert("Mine<br><div class=\"moz-signature\">-- <br>Ada</div>"), "Mine");
    assert_eq!(
        convert(
            "<div class=\"moz-cite-prefix\">On 01/12/2026 10:02, Ada wrote:<br></div><blockquote type=\"cite\">old</blockquote><p>Mine below</p>"
        ),
        "Mine below"
    );
    assert_eq!(convert("<pre>a  b\n c</pre>"), "a  b\n c");
    assert_eq!(convert("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"), "a b\nc");
    // A tag that never ends takes the rest of the document, as in a browser.
    assert_eq!(convert("Mine<img alt=\"x>never closed"), "Mine");
    assert_eq!(convert("Mine<style>no end"), "Mineno end");
}

#[test]
fn hostile_html_costs_linear_time() {
    let started = std::time::Instant::now();
    let unterminated = format!("{}>", "<a x=\"".repeat(200_000));
    assert_eq!(html::to_text(&unterminated).text, "");
    let unclosed = format!("{}text", "<style>".repeat(200_000));
    assert_eq!(html::to_text(&unclosed).text, "text");
    let comments = format!("{}text", "<!-- ".repeat(200_000));
    assert_eq!(html::to_text(&comments).text, "");
    let entities = "&".repeat(200_000);
    assert_eq!(html::to_text(&entities).text.len(), 200_000);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

fn with_image(content_type: &str, disposition: &str, data: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    format!(
        "From: ada@example.org\r\nTo: {REPLY_TO}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nLook.\r\n\
         --b\r\nContent-Type: {content_type}\r\n{disposition}Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n\
         --b--\r\n"
    )
    .into_bytes()
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

#[test]
fn image_names_and_types() {
    let limits = Limits::default();
    // No name: one is made from the type the bytes are.
    let inbound = parse(&with_image("image/png", "", PNG), &limits).unwrap();
    assert_eq!(inbound.images.len(), 1);
    assert_eq!(inbound.images[0].filename, "image-1.png");
    assert_eq!(inbound.images[0].content_type, "image/png");
    assert_eq!(inbound.images[0].data, PNG);
    assert_eq!(inbound.text, "Look.");
    // A mislabelled type is corrected from the bytes; a directory in the name is dropped.
    let named = "Content-Disposition: attachment; filename=\"C:\\\\Photos\\\\Church_roof-1901.jpg\"\r\n";
    let inbound = parse(&with_image("image/jpeg", named, PNG), &limits).unwrap();
    assert_eq!(inbound.images[0].filename, "Church_roof-1901.jpg");
    assert_eq!(inbound.images[0].content_type, "image/png");
    assert_eq!(inbound.images[0].alt_text(), "Church roof 1901");
    // application/octet-stream with image bytes counts.
    let webp = b"RIFF\x10\0\0\0WEBPVP8 ";
    let inbound = parse(&with_image("application/octet-stream", "", webp), &limits).unwrap();
    assert_eq!(inbound.images[0].content_type, "image/webp");
    assert_eq!(inbound.images[0].filename, "image-1.webp");
    let gif = b"GIF89a\x01\0\x01\0";
    assert_eq!(
        parse(&with_image("image/gif", "", gif), &limits).unwrap().images[0].content_type,
        "image/gif"
    );
    // Not an image of the four: left out.
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0";
    assert!(parse(&with_image("image/heic", "", heic), &limits).unwrap().images.is_empty());
    assert!(parse(&with_image("application/pdf", "", b"%PDF-1.7"), &limits).unwrap().images.is_empty());
    assert!(parse(&with_image("application/pdf", "", PNG), &limits).unwrap().images.is_empty());
}

#[test]
fn alt_texts() {
    let alt = |filename: &str| {
        Image { filename: filename.into(), content_type: "image/jpeg".into(), data: vec![] }.alt_text()
    };
    assert_eq!(alt("north-aisle-window.jpeg"), "north aisle window");
    assert_eq!(alt("IMG_0412.JPG"), "IMG 0412");
    assert_eq!(alt("  the__old--mill .png"), "the old mill");
    assert_eq!(alt("no extension"), "no extension");
    assert_eq!(alt("v1.2 draft.png"), "v1.2 draft");
    assert_eq!(alt(".png"), ".png");
    assert_eq!(alt(&format!("{}.png", "a".repeat(2000))).chars().count(), 1500);
}

#[test]
fn images_shown_only_in_the_quote_are_left_out() {
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD.encode(PNG);
    let raw = format!(
        "From: ada@example.org\r\nTo: {REPLY_TO}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/related; boundary=\"r\"; type=\"text/html\"\r\n\r\n\
         --r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <div>Mine <img src=\"cid:mine@01\"></div><div id=\"appendonsend\"></div>\
         <div id=\"divRplyFwdMsg\"><b>From:</b> Group</div><img src=\"cid:logo@01\">\r\n\
         --r\r\nContent-Type: image/png; name=\"image001.png\"\r\nContent-ID: <logo@01>\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{png}\r\n\
         --r\r\nContent-Type: image/png; name=\"photo.png\"\r\nContent-ID: <mine@01>\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{png}\r\n\
         --r--\r\n"
    );
    let inbound = parse(raw.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(inbound.text, "Mine");
    let names: Vec<&str> = inbound.images.iter().map(|image| image.filename.as_str()).collect();
    assert_eq!(names, ["photo.png"]);
}

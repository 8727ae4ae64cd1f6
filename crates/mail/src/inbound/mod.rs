//! One inbound e-mail reply, read: who sent it, which `reply+KEY@…` address it went to, the new
//! text the person wrote (quotes, attribution lines, signatures and phone footers cut away), the
//! photos it carries, and whether it is an automatic message (out-of-office, bounce) that must not
//! become a post.
//!
//! Pure code: no database, no network. The caller verifies the key and the sender.

mod html;
mod text;

use mail_parser::{HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// How much of an inbound message is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest raw message read, in bytes (default 25 MiB); bigger ones are refused unread.
    pub max_bytes: usize,
    /// At most this many images are kept (default 4); the rest are left out.
    pub max_images: usize,
    /// An image bigger than this many bytes (default 16 MiB) is left out, not an error.
    pub max_image_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 25 * 1024 * 1024, max_images: 4, max_image_bytes: 16 * 1024 * 1024 }
    }
}

/// What one inbound message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The `From` address, bare (no display name) and lower-cased.
    pub from: String,
    /// Every `KEY` of a `reply+KEY@domain` recipient (`To`, `Cc`, `Delivered-To`,
    /// `X-Original-To`, then the envelope recipients), lower-cased, each once, in that order.
    /// Not verified: that is the caller's work.
    pub reply_keys: Vec<String>,
    /// The message's own `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
    /// The ids of `In-Reply-To`, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// Only the new text the person wrote: from `text/plain` (or `text/html` made text when there
    /// is no plain part), with quoted lines, everything from an attribution line or a quoted
    /// header block on, the signature and phone footers cut away; `\n` line ends, no leading or
    /// trailing blank line, never two blank lines in a row. May be empty.
    pub text: String,
    /// The JPEG, PNG, GIF and WebP images attached or inline, in message order, at most
    /// [`Limits::max_images`], each at most [`Limits::max_image_bytes`]. Images that only the
    /// quoted part of the HTML shows (`cid:` references cut with the quote) are left out.
    pub images: Vec<Image>,
    /// Why this is not a person's reply, if it is not: such a message must not become a post.
    pub automatic: Option<Automatic>,
}

/// An image carried by an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The part's file name (without any directory), or `image-N.ext` when it has none.
    pub filename: String,
    /// `image/jpeg`, `image/png`, `image/gif` or `image/webp`, from the bytes themselves.
    pub content_type: String,
    /// The decoded bytes.
    pub data: Vec<u8>,
}

impl Image {
    /// A starting alt text: the file name without its extension, `_` and `-` made spaces, runs of
    /// spaces made one, trimmed, at most 1,500 characters.
    pub fn alt_text(&self) -> String {
        let stem = match self.filename.rsplit_once('.') {
            Some((stem, ext)) if !stem.trim().is_empty() && !ext.contains(char::is_whitespace) => stem,
            _ => self.filename.as_str(),
        };
        let spaced: String = stem.chars().map(|c| if c == '_' || c == '-' { ' ' } else { c }).collect();
        spaced.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(1500).collect()
    }
}

/// Why a message is not a person's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    /// A delivery failure report: `multipart/report`, `X-Failed-Recipients`, an empty (`<>`)
    /// `Return-Path`, or sent by `MAILER-DAEMON` / `postmaster`.
    Bounce,
    /// An automatic answer such as an out-of-office note: `Auto-Submitted: auto-replied`,
    /// `X-Autoreply`, `X-Autorespond`, `X-Auto-Response-Suppress` with `All`, `OOF` or
    /// `AutoReply` (Exchange sets it on its automatic replies), or `Precedence: auto_reply`.
    OutOfOffice,
    /// Any other `Auto-Submitted` value than `no` (`auto-generated`, `auto-notified`, …).
    AutoSubmitted,
    /// `Precedence: bulk`, `junk` or `list`.
    Precedence,
}

impl Automatic {
    /// A short reason for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Bounce => "a delivery failure report (bounce)",
            Self::OutOfOffice => "an automatic reply (out of office)",
            Self::AutoSubmitted => "an automatically submitted message",
            Self::Precedence => "bulk or list mail",
        }
    }
}

/// Why an inbound message cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// The raw message is bigger than [`Limits::max_bytes`]; it was not read.
    #[error("the message is larger than the size accepted for replies by mail")]
    TooLarge,
    /// No e-mail headers could be read.
    #[error("the data is not a readable e-mail message")]
    Unparseable,
    /// There is no usable `From` address.
    #[error("the message has no sender address (From)")]
    NoSender,
}

/// Reads one raw message (RFC 5322 bytes) with only its header recipients.
pub fn parse(raw: &[u8], limits: &Limits) -> Result<Inbound, InboundError> {
    parse_with_recipients(raw, &[], limits)
}

/// Reads one raw message; `envelope_rcpts` are the SMTP `RCPT TO` addresses (or the recipient a
/// mail transfer agent passed), also looked through for reply keys.
pub fn parse_with_recipients(
    raw: &[u8],
    envelope_rcpts: &[String],
    limits: &Limits,
) -> Result<Inbound, InboundError> {
    if raw.len() > limits.max_bytes {
        return Err(InboundError::TooLarge);
    }
    let message = MessageParser::default().parse(raw).ok_or(InboundError::Unparseable)?;
    if message.headers().is_empty() {
        return Err(InboundError::Unparseable);
    }
    let from = sender(&message).ok_or(InboundError::NoSender)?;
    let automatic = automatic(&message, &from);
    let reply_keys = reply_keys(&message, envelope_rcpts);
    let message_id = message.message_id().map(clean_id).filter(|id| !id.is_empty());
    let in_reply_to = ids(message.in_reply_to());
    let htmls: Vec<html::Converted> = message
        .parts
        .iter()
        .filter_map(|part| match &part.body {
            PartType::Html(body) => Some(html::to_text(body)),
            _ => None,
        })
        .collect();
    let text = new_text(&message);
    let images = images(&message, limits, &htmls);
    Ok(Inbound { from, reply_keys, message_id, in_reply_to, text, images, automatic })
}

/// The first `From` address, lower-cased.
fn sender(message: &Message<'_>) -> Option<String> {
    message
        .from()?
        .iter()
        .filter_map(|addr| addr.address.as_deref())
        .map(|address| address.trim().to_lowercase())
        .find(|address| {
            address.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        })
}

/// The unfolded, trimmed values of every header called `name`.
fn raw_headers<'a>(message: &'a Message<'_>, name: &'a str) -> impl Iterator<Item = String> + 'a {
    message
        .headers_raw()
        .filter(move |(header, _)| header.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.replace(['\r', '\n'], "").trim().to_string())
}

fn has_header(message: &Message<'_>, name: &str) -> bool {
    message.headers().iter().any(|header| header.name.as_str().eq_ignore_ascii_case(name))
}

/// Why the message is automatic, the clearest reason first.
fn automatic(message: &Message<'_>, from: &str) -> Option<Automatic> {
    let is_report = message.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.subtype().is_some_and(|subtype| subtype.eq_ignore_ascii_case("report"))
    });
    let null_return_path = raw_headers(message, "Return-Path").any(|value| {
        let bare: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        bare.is_empty() || bare == "<>"
    });
    let local = from.split_once('@').map_or(from, |(local, _)| local);
    if is_report
        || null_return_path
        || has_header(message, "X-Failed-Recipients")
        || local == "mailer-daemon"
        || local == "postmaster"
    {
        return Some(Automatic::Bounce);
    }
    let suppress = raw_headers(message, "X-Auto-Response-Suppress").any(|value| {
        value.split([',', ';', ' ']).any(|token| {
            ["all", "oof", "autoreply"].iter().any(|wanted| token.trim().eq_ignore_ascii_case(wanted))
        })
    });
    if suppress || has_header(message, "X-Autoreply") || has_header(message, "X-Autorespond") {
        return Some(Automatic::OutOfOffice);
    }
    for value in raw_headers(message, "Auto-Submitted") {
        let kind = value.split([';', '(']).next().unwrap_or_default().trim().to_ascii_lowercase();
        match kind.as_str() {
            "no" => {}
            "auto-replied" => return Some(Automatic::OutOfOffice),
            _ => return Some(Automatic::AutoSubmitted),
        }
    }
    for value in raw_headers(message, "Precedence") {
        match value.to_ascii_lowercase().as_str() {
            "bulk" | "junk" | "list" => return Some(Automatic::Precedence),
            "auto_reply" | "auto-reply" => return Some(Automatic::OutOfOffice),
            _ => {}
        }
    }
    None
}

/// The `KEY` of a `reply+KEY@domain` address (display name and angle brackets allowed).
fn reply_key(address: &str) -> Option<String> {
    let address = match (address.rfind('<'), address.rfind('>')) {
        (Some(start), Some(end)) if start < end => &address[start + 1..end],
        _ => address,
    };
    let (local, domain) = address.trim().rsplit_once('@')?;
    if domain.is_empty() || domain.contains(char::is_whitespace) {
        return None;
    }
    let key = local.get(..6).filter(|prefix| prefix.eq_ignore_ascii_case("reply+")).and(local.get(6..))?;
    let key = key.to_ascii_lowercase();
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        .then_some(key)
}

fn reply_keys(message: &Message<'_>, envelope_rcpts: &[String]) -> Vec<String> {
    let mut addresses: Vec<String> = Vec::new();
    for name in [HeaderName::To, HeaderName::Cc] {
        for value in message.header_values(name) {
            if let Some(list) = value.as_address() {
                addresses.extend(list.iter().filter_map(|addr| addr.address.as_deref().map(str::to_string)));
            }
        }
    }
    for name in ["Delivered-To", "X-Original-To"] {
        for value in raw_headers(message, name) {
            addresses.extend(value.split(',').map(str::to_string));
        }
    }
    addresses.extend(envelope_rcpts.iter().cloned());
    let mut keys: Vec<String> = Vec::new();
    for key in addresses.iter().filter_map(|address| reply_key(address)) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

fn clean_id(id: &str) -> String {
    id.trim().trim_start_matches('<').trim_end_matches('>').trim().to_string()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(id) => vec![id.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|id| id.as_ref()).collect(),
        _ => Vec::new(),
    };
    raw.into_iter().map(clean_id).filter(|id| !id.is_empty()).collect()
}

/// A `text/plain` part's text, `format=flowed` undone.
fn plain_text(part: &MessagePart<'_>, body: &str) -> String {
    let content_type = part.content_type();
    let attribute = |name: &str| content_type.and_then(|ct| ct.attribute(name)).unwrap_or_default();
    if attribute("format").eq_ignore_ascii_case("flowed") {
        text::unflow(body, attribute("delsp").eq_ignore_ascii_case("yes"))
    } else {
        body.to_string()
    }
}

/// The new text: the message's text body parts (HTML ones made text), trimmed; the HTML body
/// parts when that leaves nothing.
fn new_text(message: &Message<'_>) -> String {
    let part_text = |part: &MessagePart<'_>| match &part.body {
        PartType::Text(body) => Some(plain_text(part, body)),
        PartType::Html(body) => Some(html::to_text(body).text),
        _ => None,
    };
    let from_text: Vec<String> = message.text_bodies().filter_map(part_text).collect();
    let text = text::trim_reply(&from_text.join("\n"));
    if !text.is_empty() {
        return text;
    }
    let from_html: Vec<String> = message
        .html_bodies()
        .filter_map(|part| match &part.body {
            PartType::Html(body) => Some(html::to_text(body).text),
            _ => None,
        })
        .collect();
    text::trim_reply(&from_html.join("\n"))
}

/// The image type the bytes are, of the four kept.
fn sniff(data: &[u8]) -> Option<(&'static str, &'static str)> {
    if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(("image/jpeg", "jpg"))
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some(("image/gif", "gif"))
    } else if data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

/// A part's file name without any directory part or control characters.
fn file_name(part: &MessagePart<'_>) -> Option<String> {
    let name = part.attachment_name()?;
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = name.chars().filter(|c| !c.is_control()).collect::<String>().trim().to_string();
    (!name.is_empty() && name != "." && name != "..").then(|| name.chars().take(255).collect())
}

fn images(message: &Message<'_>, limits: &Limits, htmls: &[html::Converted]) -> Vec<Image> {
    let mut images = Vec::new();
    for part in &message.parts {
        if images.len() >= limits.max_images {
            break;
        }
        let data = match &part.body {
            PartType::Binary(data) | PartType::InlineBinary(data) => data,
            _ => continue,
        };
        let declared_image_or_unknown = part.content_type().is_none_or(|ct| {
            ct.ctype().eq_ignore_ascii_case("image")
                || (ct.ctype().eq_ignore_ascii_case("application")
                    && ct.subtype().is_some_and(|subtype| subtype.eq_ignore_ascii_case("octet-stream")))
        });
        if !declared_image_or_unknown || data.len() > limits.max_image_bytes {
            continue;
        }
        let Some((content_type, extension)) = sniff(data) else { continue };
        if let Some(cid) = part.content_id().map(clean_id)
            && htmls
                .iter()
                .any(|html| html.quoted_cids.iter().any(|quoted| quoted.eq_ignore_ascii_case(&cid)))
            && !htmls.iter().any(|html| html.kept_cids.iter().any(|kept| kept.eq_ignore_ascii_case(&cid)))
        {
            continue;
        }
        let filename = file_name(part).unwrap_or_else(|| format!("image-{}.{extension}", images.len() + 1));
        images.push(Image { filename, content_type: content_type.to_string(), data: data.to_vec() });
    }
    images
}

#[cfg(test)]
mod tests;

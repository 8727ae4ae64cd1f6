//! Text: sanitizing remote HTML, and turning what a local user typed into HTML with links,
//! mentions and hashtags.

use std::collections::HashSet;
use std::fmt::Write;

/// Classes kept on remote HTML: microformats for mentions and hashtags, and Mastodon's
/// link-shortening spans.
const ALLOWED_CLASSES: [&str; 8] =
    ["h-card", "u-url", "mention", "hashtag", "invisible", "ellipsis", "u-uid", "quote-inline"];

/// Sanitizes remote HTML to a Mastodon-like allowlist: paragraphs, line breaks, links,
/// emphasis, lists, quotes and code; links get `rel="nofollow noopener noreferrer"`;
/// scripts, styles, images, forms and event handlers are removed.
///
/// ```
/// let clean = guildhall_core::text::sanitize_html(r#"<p onclick="x()">Hi <script>evil()</script><a href="javascript:x">x</a></p>"#);
/// assert_eq!(clean, "<p>Hi <a rel=\"nofollow noopener noreferrer\">x</a></p>");
/// ```
pub fn sanitize_html(html: &str) -> String {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "span",
        "a",
        "del",
        "s",
        "pre",
        "code",
        "em",
        "strong",
        "b",
        "i",
        "u",
        "ul",
        "ol",
        "li",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "sup",
        "sub",
    ]
    .into_iter()
    .collect();
    let mut classes = std::collections::HashMap::new();
    classes.insert("a", ALLOWED_CLASSES.into_iter().collect::<HashSet<_>>());
    classes.insert("span", ALLOWED_CLASSES.into_iter().collect::<HashSet<_>>());
    let mut tag_attributes = std::collections::HashMap::new();
    tag_attributes.insert("a", ["href"].into_iter().collect::<HashSet<_>>());
    tag_attributes.insert("ol", ["start", "reversed"].into_iter().collect::<HashSet<_>>());
    tag_attributes.insert("li", ["value"].into_iter().collect::<HashSet<_>>());
    ammonia::Builder::default()
        .tags(tags)
        .tag_attributes(tag_attributes)
        .allowed_classes(classes)
        .url_schemes(["http", "https", "mailto", "xmpp", "gopher", "gemini"].into_iter().collect())
        .link_rel(Some("nofollow noopener noreferrer"))
        .clean(html)
        .to_string()
}

/// The text of `html` with every tag removed and every character reference decoded: plain
/// text, as a person reads it (names, content warnings, titles). It is stored and sent as it
/// is, and escaped once, where it is put into HTML.
pub fn strip_html(html: &str) -> String {
    let cleaned = ammonia::Builder::empty().clean(html).to_string();
    // The cleaner writes text back out as HTML: undo its escapes (`&amp;` last).
    cleaned
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// A mention found in typed text: `@user` (local) or `@user@domain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MentionRef {
    /// The name part.
    pub username: String,
    /// The domain part, `None` for a local mention.
    pub domain: Option<String>,
}

/// A resolved mention: who it links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedMention {
    /// The actor's profile page or id, used as the link.
    pub href: String,
    /// The actor's ActivityPub id.
    pub actor_id: String,
    /// `@user@domain`, as shown in `tag[]`.
    pub name: String,
}

/// The result of [`render_plain`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    /// The HTML.
    pub html: String,
    /// Mentions that resolved, in order of first appearance.
    pub mentions: Vec<ResolvedMention>,
    /// Hashtags (without `#`, as typed), in order of first appearance.
    pub tags: Vec<String>,
}

/// Every `@user` and `@user@domain` in typed text, in order, without duplicates.
pub fn find_mentions(text: &str) -> Vec<MentionRef> {
    let mut seen = Vec::new();
    for token in tokens(text) {
        if let Token::Mention(m) = token
            && !seen.contains(&m)
        {
            seen.push(m);
        }
    }
    seen
}

/// Turns typed text into HTML: paragraphs on blank lines, `<br>` on line breaks, links for
/// URLs, mentions that `resolve` knows, and hashtags (linked with `tag_url`). Everything else
/// is escaped.
pub fn render_plain(
    text: &str,
    resolve: impl Fn(&MentionRef) -> Option<ResolvedMention>,
    tag_url: impl Fn(&str) -> String,
) -> Rendered {
    let mut out = Rendered::default();
    let paragraphs: Vec<&str> = text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect();
    for paragraph in paragraphs {
        out.html.push_str("<p>");
        for (i, line) in paragraph.lines().enumerate() {
            if i > 0 {
                out.html.push_str("<br>");
            }
            render_line(line, &resolve, &tag_url, &mut out);
        }
        out.html.push_str("</p>");
    }
    out
}

fn render_line(
    line: &str,
    resolve: &impl Fn(&MentionRef) -> Option<ResolvedMention>,
    tag_url: &impl Fn(&str) -> String,
    out: &mut Rendered,
) {
    for token in tokens(line) {
        match token {
            Token::Text(t) => out.html.push_str(&escape(t)),
            Token::Url(u) => {
                let _ = write!(
                    out.html,
                    r#"<a href="{0}" rel="nofollow noopener noreferrer" target="_blank">{0}</a>"#,
                    escape(u)
                );
            }
            // Only a web link is ever written into a post (a stored remote URL of another
            // scheme would be a script).
            Token::Mention(m) => match resolve(&m).filter(|r| is_web_link(&r.href)) {
                Some(r) => {
                    let _ = write!(
                        out.html,
                        r#"<span class="h-card"><a href="{}" class="u-url mention">@<span>{}</span></a></span>"#,
                        escape(&r.href),
                        escape(&m.username)
                    );
                    if !out.mentions.iter().any(|x| x.actor_id == r.actor_id) {
                        out.mentions.push(r);
                    }
                }
                None => out.html.push_str(&escape(&mention_text(&m))),
            },
            Token::Tag(tag) => {
                let _ = write!(
                    out.html,
                    r##"<a href="{}" class="mention hashtag" rel="tag">#<span>{}</span></a>"##,
                    escape(&tag_url(tag)),
                    escape(tag)
                );
                if !out.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
                    out.tags.push(tag.to_owned());
                }
            }
        }
    }
}

/// True for an `http:` or `https:` URL.
pub fn is_web_link(href: &str) -> bool {
    let lower = href.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

fn mention_text(m: &MentionRef) -> String {
    match &m.domain {
        Some(d) => format!("@{}@{d}", m.username),
        None => format!("@{}", m.username),
    }
}

/// HTML-escapes text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

enum Token<'a> {
    Text(&'a str),
    Url(&'a str),
    Mention(MentionRef),
    Tag(&'a str),
}

/// Splits a line into plain text, URLs, mentions and hashtags. A mention or tag must start the
/// line or follow a non-word character.
fn tokens(line: &str) -> Vec<Token<'_>> {
    let mut result = Vec::new();
    let mut plain_start = 0;
    let mut i = 0;
    let bytes = line.as_bytes();
    while i < bytes.len() {
        let at_boundary = i == 0 || !is_word_byte(bytes[i - 1]);
        let found = if at_boundary { special_at(line, i) } else { None };
        match found {
            Some((token, len)) => {
                if plain_start < i {
                    result.push(Token::Text(&line[plain_start..i]));
                }
                result.push(token);
                i += len;
                plain_start = i;
            }
            None => i += line[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    if plain_start < line.len() {
        result.push(Token::Text(&line[plain_start..]));
    }
    result
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'/' || b >= 0x80
}

fn special_at(line: &str, i: usize) -> Option<(Token<'_>, usize)> {
    let rest = &line[i..];
    if rest.starts_with("https://") || rest.starts_with("http://") {
        let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let url = rest[..len].trim_end_matches(['.', ',', ')', '!', '?', ':', ';']);
        return (url.len() > "https://".len()).then_some((Token::Url(url), url.len()));
    }
    if let Some(after) = rest.strip_prefix('#') {
        let len =
            after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').map(char::len_utf8).sum::<usize>();
        let tag = &after[..len];
        let has_letter = tag.chars().any(|c| !c.is_ascii_digit() && c != '_');
        return (len > 0 && has_letter).then_some((Token::Tag(tag), len + 1));
    }
    let after = rest.strip_prefix('@')?;
    let user_len = after.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    if user_len == 0 {
        return None;
    }
    let username = after[..user_len].to_owned();
    let mut len = 1 + user_len;
    let mut domain = None;
    if let Some(host) = after[user_len..].strip_prefix('@') {
        let host_len =
            host.bytes().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':')).count();
        let host = host[..host_len].trim_end_matches(['.', ':', '-']);
        if !host.is_empty() {
            domain = Some(host.to_ascii_lowercase());
            len += 1 + host.len();
        }
    }
    Some((Token::Mention(MentionRef { username, domain }), len))
}

#[cfg(test)]
mod tests;

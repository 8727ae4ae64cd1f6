//! HTML mail bodies made plain text, with the quoted part left out.
//!
//! Not a general HTML renderer: just enough for what mail clients write. Block elements break
//! lines (`<br>` always, `<div>`, `<li>`, `<tr>`… when a line has text; `<p>` leaves a blank line,
//! except Outlook's margin-less `MsoNormal` paragraphs), runs of white space become one space,
//! entities are decoded, `<head>`, `<style>` and `<script>` are dropped. Every `<blockquote>` is
//! skipped and stands as one `>` line, so that the text trimming sees a quote there; at the
//! markers where clients start the quoted message or the signature (Gmail's `gmail_quote` and
//! `gmail_signature`, Outlook's `appendonsend` / `divRplyFwdMsg` /
//! `mail-editor-reference-message-container`, Thunderbird's `moz-signature`, Yahoo's and
//! Proton's quote blocks) the text ends.

/// One HTML body as text.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    /// The text before the quote or signature.
    pub text: String,
    /// `cid:` image references in the kept part.
    pub kept_cids: Vec<String>,
    /// `cid:` image references in the part left out (quote, signature).
    pub quoted_cids: Vec<String>,
}

/// Classes that start the quoted message or the signature: the text ends there.
const CUT_CLASSES: &[&str] = &[
    "gmail_quote",
    "gmail_quote_container",
    "gmail_extra",
    "gmail_signature",
    "gmail_signature_prefix",
    "moz-signature",
    "yahoo_quoted",
    "protonmail_quote",
    "protonmail_signature_block",
];

/// Element ids that start the quoted message: the text ends there.
const CUT_IDS: &[&str] =
    &["appendonsend", "divrplyfwdmsg", "x_divrplyfwdmsg", "mail-editor-reference-message-container"];

/// Elements whose content is never text.
const RAW_ELEMENTS: &[&str] = &["head", "style", "script", "title", "template", "xml"];

/// Elements that start and end a line.
const BLOCK_ELEMENTS: &[&str] = &[
    "div",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "tr",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "address",
    "center",
    "pre",
    "body",
    "html",
    "figure",
    "figcaption",
    "caption",
];

struct Tag<'a> {
    name: String,
    closing: bool,
    self_closing: bool,
    attributes: Vec<(String, &'a str)>,
    /// Bytes from `<` to after `>`.
    len: usize,
}

impl Tag<'_> {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(attribute, _)| attribute == name).map(|(_, value)| *value)
    }

    fn has_class(&self, wanted: &[&str]) -> bool {
        self.attribute("class").is_some_and(|classes| {
            classes.split_whitespace().any(|class| wanted.iter().any(|w| class.eq_ignore_ascii_case(w)))
        })
    }
}

/// Whether `s` (which starts with `<`) starts a tag: `<` or `</` then a letter. A `<` that does
/// not is text.
fn starts_tag(s: &str) -> bool {
    let bytes = s.as_bytes();
    let at = if bytes.get(1) == Some(&b'/') { 2 } else { 1 };
    bytes.get(at).is_some_and(u8::is_ascii_alphabetic)
}

/// Reads the tag at the start of `s` (where [`starts_tag`]); `None` when it never ends (as a
/// browser does, the rest of the document is then inside it).
fn parse_tag(s: &str) -> Option<Tag<'_>> {
    let bytes = s.as_bytes();
    let mut i = 1;
    let closing = bytes.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    while bytes.get(i).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b':' || *b == b'-' || *b == b'_') {
        i += 1;
    }
    let name = s[name_start..i].to_ascii_lowercase();
    let mut attributes = Vec::new();
    let mut self_closing = false;
    loop {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        match bytes.get(i)? {
            b'>' => break,
            b'/' => {
                self_closing = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        self_closing = false;
        let attr_start = i;
        while bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace() && !matches!(b, b'=' | b'>' | b'/')) {
            i += 1;
        }
        if i == attr_start {
            // A stray character such as `=`: step over it.
            i += 1;
            continue;
        }
        let attr_name = s[attr_start..i].to_ascii_lowercase();
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let mut value = "";
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            match bytes.get(i)? {
                quote @ (b'"' | b'\'') => {
                    let start = i + 1;
                    let end = start + s[start..].find(*quote as char)?;
                    value = &s[start..end];
                    i = end + 1;
                }
                _ => {
                    let start = i;
                    while bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace() && *b != b'>') {
                        i += 1;
                    }
                    value = &s[start..i];
                }
            }
        }
        attributes.push((attr_name, value));
    }
    Some(Tag { name, closing, self_closing, attributes, len: i + 1 })
}

/// Where `needle` (ASCII) first is in `hay`, ignoring ASCII case.
fn find_ignore_case(hay: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&at| hay[at..at + needle.len()].eq_ignore_ascii_case(needle))
}

/// The character an entity name (between `&` and `;`) stands for.
fn entity(name: &str) -> Option<String> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return Some(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER).to_string());
    }
    if name.is_empty() || name.len() > 32 || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    // mail-parser knows the whole HTML entity table; it writes the token back as it was when it
    // does not know it.
    let token = format!("&{name};");
    let mut decoded = String::new();
    mail_parser::decoders::html::add_html_token(&mut decoded, token.as_bytes(), false);
    (decoded != token).then_some(decoded)
}

struct Writer {
    out: String,
    pending_space: bool,
    pre: usize,
}

impl Writer {
    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.pending_space = false;
    }

    fn soft_break(&mut self) {
        if !self.at_line_start() {
            self.out.push('\n');
        }
        self.pending_space = false;
    }

    fn paragraph(&mut self) {
        self.soft_break();
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn push_char(&mut self, c: char) {
        if self.pre > 0 {
            if c != '\r' {
                self.out.push(c);
            }
            return;
        }
        if c.is_ascii_whitespace() {
            self.pending_space = true;
            return;
        }
        if self.pending_space && !self.at_line_start() {
            self.out.push(' ');
        }
        self.pending_space = false;
        self.out.push(c);
    }

    fn text(&mut self, text: &str) {
        let mut rest = text;
        while let Some(amp) = rest.find('&') {
            rest[..amp].chars().for_each(|c| self.push_char(c));
            rest = &rest[amp..];
            let decoded = rest[1..]
                .char_indices()
                .take(40)
                .find(|(_, c)| *c == ';')
                .and_then(|(semi, _)| entity(&rest[1..semi + 1]).map(|decoded| (decoded, semi + 2)));
            match decoded {
                Some((decoded, used)) => {
                    decoded.chars().for_each(|c| self.push_char(c));
                    rest = &rest[used..];
                }
                None => {
                    self.push_char('&');
                    rest = &rest[1..];
                }
            }
        }
        rest.chars().for_each(|c| self.push_char(c));
    }
}

/// Makes an HTML body text, up to the quote or signature.
pub(crate) fn to_text(html: &str) -> Converted {
    let mut writer = Writer { out: String::new(), pending_space: false, pre: 0 };
    let mut converted = Converted::default();
    let mut cut = false;
    // The element being skipped (a blockquote) and how deep in it we are.
    let mut skipping: Option<(String, usize)> = None;
    // Raw elements (`<style>`…) found to have no closing tag after some point.
    let mut unclosed: Vec<String> = Vec::new();
    let mut rest = html;
    loop {
        let Some(lt) = rest.find('<') else {
            if !cut && skipping.is_none() {
                writer.text(rest);
            }
            break;
        };
        if !cut && skipping.is_none() {
            writer.text(&rest[..lt]);
        }
        rest = &rest[lt..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |end| &rest[end + 3..]);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
            continue;
        }
        if !starts_tag(rest) {
            if !cut && skipping.is_none() {
                writer.text("<");
            }
            rest = &rest[1..];
            continue;
        }
        let Some(tag) = parse_tag(rest) else { break };
        rest = &rest[tag.len..];
        if !tag.closing && !tag.self_closing && RAW_ELEMENTS.contains(&tag.name.as_str()) {
            // Everything up to the closing tag is not text; with none, only the tag is dropped
            // (and that none is remembered, so that many such tags cost one search).
            if !unclosed.contains(&tag.name) {
                match find_ignore_case(rest, &format!("</{}", tag.name)) {
                    Some(end) => {
                        rest = &rest[end..];
                        rest = rest.find('>').map_or("", |gt| &rest[gt + 1..]);
                    }
                    None => unclosed.push(tag.name),
                }
            }
            continue;
        }
        if tag.name == "img"
            && let Some(cid) = tag.attribute("src").and_then(|src| {
                src.get(..4).filter(|scheme| scheme.eq_ignore_ascii_case("cid:")).and(src.get(4..))
            })
        {
            let list =
                if cut || skipping.is_some() { &mut converted.quoted_cids } else { &mut converted.kept_cids };
            list.push(cid.trim().to_string());
        }
        if cut {
            continue;
        }
        if let Some((name, depth)) = &mut skipping {
            if *name == tag.name && !tag.self_closing {
                if tag.closing {
                    *depth -= 1;
                } else {
                    *depth += 1;
                }
                if *depth == 0 {
                    skipping = None;
                }
            }
            continue;
        }
        if !tag.closing
            && (tag.has_class(CUT_CLASSES)
                || tag
                    .attribute("id")
                    .is_some_and(|id| CUT_IDS.iter().any(|cut_id| id.eq_ignore_ascii_case(cut_id))))
        {
            cut = true;
            continue;
        }
        if !tag.closing && tag.has_class(&["moz-cite-prefix"]) && !tag.self_closing {
            // Thunderbird's attribution line: a quote follows.
            skipping = Some((tag.name.clone(), 1));
            continue;
        }
        if tag.name == "blockquote" {
            if !tag.closing && !tag.self_closing {
                writer.soft_break();
                writer.out.push_str(">\n");
                skipping = Some((tag.name.clone(), 1));
            }
            continue;
        }
        match tag.name.as_str() {
            "br" => writer.newline(),
            "p" if !tag.closing && !tag.has_class(&["MsoNormal"]) => writer.paragraph(),
            "p" => writer.soft_break(),
            "td" | "th" if !tag.closing => writer.pending_space = true,
            name if BLOCK_ELEMENTS.contains(&name) => {
                writer.soft_break();
                if name == "pre" {
                    writer.pre = if tag.closing { writer.pre.saturating_sub(1) } else { writer.pre + 1 };
                }
                if name == "li" && !tag.closing {
                    writer.out.push_str("- ");
                }
            }
            _ => {}
        }
    }
    converted.text = writer.out;
    converted
}

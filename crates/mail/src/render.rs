//! The words of a mail, as one model rendered twice: a plain-text part readable in a text-only
//! client and an HTML part. Both come from askama templates; the HTML one escapes every value
//! (remote names and posts are plain text here, never markup).

use askama::Template;

/// A link with a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// What it does.
    pub label: String,
    /// Where it goes.
    pub url: String,
}

/// A post quoted in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// Who wrote it, as shown.
    pub author: String,
    /// Its text, plain.
    pub text: String,
    /// Its page.
    pub url: String,
}

impl Quote {
    /// The text split into paragraphs.
    pub fn paragraphs(&self) -> Vec<&str> {
        self.text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect()
    }
}

/// One line of a digest section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its title (a thread's first words, an event's name).
    pub title: String,
    /// A line under it (who, how many replies, when).
    pub meta: String,
    /// Its page.
    pub url: String,
}

/// A digest section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Lines.
    pub items: Vec<Item>,
}

/// Everything a mail says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// Heading.
    pub title: String,
    /// Paragraphs before anything else.
    pub intro: Vec<String>,
    /// A post in full.
    pub quote: Option<Quote>,
    /// The one thing to do.
    pub action: Option<Link>,
    /// Digest sections.
    pub sections: Vec<Section>,
    /// Says that replying works.
    pub reply_hint: bool,
    /// Why the reader gets this.
    pub footer: Vec<String>,
    /// The unsubscribe page.
    pub unsubscribe: Option<String>,
}

#[derive(Template)]
#[template(path = "mail.txt", escape = "none")]
struct Text<'a> {
    body: &'a Body,
}

#[derive(Template)]
#[template(path = "mail.html")]
struct Html<'a> {
    body: &'a Body,
}

/// The plain-text and HTML parts of `body`.
pub fn render(body: &Body) -> Result<(String, String), askama::Error> {
    let text = Text { body }.render()?;
    let html = Html { body }.render()?;
    Ok((tidy(&text), html))
}

/// At most one blank line in a row, and no trailing spaces but the signature separator's.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = if line == "-- " { line } else { line.trim_end() };
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_start().to_owned()
}

/// The plain text of a status's sanitized HTML, with its paragraphs and line breaks kept.
pub fn status_text(html: &str) -> String {
    let spaced =
        html.replace("<br>", "\n").replace("<br/>", "\n").replace("<br />", "\n").replace("</p>", "\n\n");
    let plain = guildhall_core::text::strip_html(&spaced);
    plain.trim().to_owned()
}

/// The first words of a text, for a subject or a digest line.
pub fn first_words(text: &str, max_chars: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max_chars {
        return line;
    }
    let cut: String = line.chars().take(max_chars).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head).to_owned();
    format!("{cut}…")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_text_reads_plainly() {
        let body = Body {
            title: "Ada <b>mentioned</b> you".into(),
            quote: Some(Quote {
                author: "Ada".into(),
                text: "First <script>x</script>\n\nSecond".into(),
                url: "http://localhost/@ada/1".into(),
            }),
            unsubscribe: Some("http://localhost/mail/unsubscribe/k".into()),
            ..Body::default()
        };
        let (text, html) = render(&body).unwrap();
        assert!(text.starts_with("Ada <b>mentioned</b> you\n"));
        assert!(text.contains("First <script>x</script>\n\nSecond"));
        assert!(text.contains("\n-- \n"));
        assert!(!html.contains("<script>") && !html.contains("<b>"));
        assert!(html.contains("&#60;script&#62;"), "{html}");
        assert_eq!(status_text("<p>One &amp; two</p><p>Three<br>four</p>"), "One & two\n\nThree\nfour");
        assert_eq!(first_words("a   quick\nbrown fox jumps", 12), "a quick…");
    }
}

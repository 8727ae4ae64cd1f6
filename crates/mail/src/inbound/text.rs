//! The new text of a reply, cut out of the whole text body.
//!
//! Going down the lines: quoted lines (`>`) are dropped wherever they are, so that an answer
//! written below the quote (Thunderbird's default) or between quoted lines stays. An attribution
//! line (`On … wrote:`, also wrapped over two lines, and its French, German, Dutch, Spanish,
//! Italian and Portuguese forms) is dropped when a quote follows it, and ends the text when
//! unquoted text follows it (the original pasted without `>`). The text also ends at a signature
//! line (`-- `), an `-----Original Message-----` line, and an Outlook header block (`From:` then
//! `Sent:`/`Date:` then `To:`/`Subject:`, with or without the `____` rule above it). Then phone
//! footers (`Sent from my iPhone`, `Get Outlook for iOS`, …) at the end go, with the blank lines
//! at both ends, and runs of blank lines become one.

/// Undoes `format=flowed` (RFC 3676): a line ending in a space goes on in the next line of the
/// same quote depth; space-stuffing is removed; `delsp=yes` also drops that space.
pub(crate) fn unflow(text: &str, delsp: bool) -> String {
    let text = text.replace("\r\n", "\n");
    let mut lines: Vec<String> = Vec::new();
    let mut previous: Option<usize> = None;
    for line in text.split('\n') {
        let depth = line.bytes().take_while(|b| *b == b'>').count();
        let content = &line[depth..];
        let content = content.strip_prefix(' ').unwrap_or(content);
        let flowed = content != "-- " && content.ends_with(' ');
        let piece = if flowed && delsp { &content[..content.len() - 1] } else { content };
        match lines.last_mut() {
            Some(last) if previous == Some(depth) => last.push_str(piece),
            _ => {
                let prefix = if depth > 0 { format!("{} ", ">".repeat(depth)) } else { String::new() };
                lines.push(prefix + piece);
            }
        }
        previous = flowed.then_some(depth);
    }
    lines.join("\n")
}

/// The line with no-break and thin spaces made plain spaces, trimmed.
fn normalised(line: &str) -> String {
    line.replace(['\u{a0}', '\u{202f}', '\u{2009}', '\u{2007}'], " ").trim().to_string()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn is_signature(line: &str) -> bool {
    line.trim_end() == "--"
}

fn is_original_message(line: &str) -> bool {
    let line = normalised(line).to_lowercase();
    line.starts_with("-----")
        && [
            "original message",
            "ursprüngliche nachricht",
            "message d'origine",
            "message d’origine",
            "mensaje original",
            "messaggio originale",
            "oorspronkelijk bericht",
            "mensagem original",
        ]
        .iter()
        .any(|words| line.contains(words))
}

/// Ends like an attribution line, in one of the languages known.
fn ends_like_attribution(line: &str) -> bool {
    let line = line.to_lowercase();
    [
        "wrote:",
        "wrote :",
        "a écrit :",
        "a écrit:",
        "escribió:",
        "ha scritto:",
        "escreveu:",
        "schreef:",
        "schrieb:",
    ]
    .iter()
    .any(|ending| line.ends_with(ending))
}

/// Starts like an attribution line (`On …`, `Le …`, `Am …`, `Op …`, `El …`, `Il …`, `Em …`).
fn starts_like_attribution(line: &str) -> bool {
    ["On ", "Le ", "Am ", "Op ", "El ", "Il ", "Em "].iter().any(|opener| line.starts_with(opener))
}

/// A whole attribution line: `On <date>, <name> wrote:` and its translations.
fn is_attribution(line: &str) -> bool {
    if line.chars().count() > 300 || !starts_like_attribution(line) {
        return false;
    }
    let lower = line.to_lowercase();
    ends_like_attribution(line)
        || (lower.starts_with("am ") && lower.contains(" schrieb ") && line.ends_with(':'))
        || (lower.starts_with("op ") && lower.contains(" schreef ") && line.ends_with(':'))
}

/// How many lines (one or two) the attribution line starting at `i` takes.
fn attribution_at(lines: &[&str], i: usize) -> Option<usize> {
    let first = normalised(lines[i]);
    if is_attribution(&first) {
        return Some(1);
    }
    if !starts_like_attribution(&first) {
        return None;
    }
    let second =
        lines.get(i + 1).map(|line| normalised(line)).filter(|line| !line.is_empty() && !is_quoted(line))?;
    is_attribution(&format!("{first} {second}")).then_some(2)
}

/// Whether the next line that is not blank, from `i` on, is quoted (or there is none).
fn quote_follows(lines: &[&str], i: usize) -> bool {
    lines.iter().skip(i).find(|line| !is_blank(line)).is_none_or(|line| is_quoted(line))
}

/// The kind of a header line of a quoted message (`From:`, `*Sent:*`, `De :`…), if it is one.
#[derive(PartialEq)]
enum HeaderKind {
    From,
    Sent,
    ToOrSubject,
}

fn header_kind(line: &str) -> Option<HeaderKind> {
    let line = normalised(line);
    let line = line.trim_start_matches('*');
    let (name, _) = line.split_once(':')?;
    let name = name.trim().trim_end_matches('*').trim().to_lowercase();
    if name.chars().count() > 12 {
        return None;
    }
    const FROM: &[&str] = &["from", "de", "von", "van", "da", "från", "od", "fra"];
    const SENT: &[&str] = &[
        "sent",
        "date",
        "envoyé",
        "gesendet",
        "datum",
        "verzonden",
        "inviato",
        "enviado",
        "enviada",
        "data",
        "fecha",
        "skickat",
        "sendt",
    ];
    const TO_OR_SUBJECT: &[&str] = &[
        "to",
        "cc",
        "subject",
        "à",
        "a",
        "an",
        "aan",
        "para",
        "objet",
        "betreff",
        "onderwerp",
        "oggetto",
        "asunto",
        "assunto",
        "ämne",
        "till",
        "til",
        "emne",
    ];
    if FROM.contains(&name.as_str()) {
        Some(HeaderKind::From)
    } else if SENT.contains(&name.as_str()) {
        Some(HeaderKind::Sent)
    } else if TO_OR_SUBJECT.contains(&name.as_str()) {
        Some(HeaderKind::ToOrSubject)
    } else {
        None
    }
}

/// A quoted message's header block starts at `i`: a `From:` line, then among the next header
/// lines a `Sent:`/`Date:` one and a `To:`/`Subject:` one.
fn is_header_block(lines: &[&str], i: usize) -> bool {
    if header_kind(lines[i]) != Some(HeaderKind::From) {
        return false;
    }
    let following: Vec<HeaderKind> =
        lines.iter().skip(i + 1).take(6).map_while(|line| header_kind(line)).collect();
    following.contains(&HeaderKind::Sent) && following.contains(&HeaderKind::ToOrSubject)
}

/// A rule of underscores (Outlook's `________________________________`) over a header block.
fn is_rule_over_headers(lines: &[&str], i: usize) -> bool {
    let line = normalised(lines[i]);
    if line.len() < 10 || !line.bytes().all(|b| b == b'_') {
        return false;
    }
    (i + 1..lines.len()).find(|&j| !is_blank(lines[j])).is_some_and(|j| is_header_block(lines, j))
}

/// A phone or app footer such as `Sent from my iPhone` or `Get Outlook for iOS`.
fn is_footer(line: &str) -> bool {
    let line = normalised(line).to_lowercase();
    if line.chars().count() > 80 {
        return false;
    }
    const FOOTERS: &[&str] = &[
        "sent from my ",
        "sent from outlook",
        "sent from mail for windows",
        "sent from yahoo mail",
        "sent from proton mail",
        "sent with proton mail",
        "sent from aol",
        "sent from the all new aol",
        "sent from samsung",
        "sent from gmail",
        "sent from bluemail",
        "sent with spark",
        "sent from fairemail",
        "get outlook for ",
        "envoyé de mon ",
        "envoyé depuis mon ",
        "envoyé à partir de outlook",
        "von meinem ",
        "gesendet von meinem ",
        "enviado desde mi ",
        "enviado do meu ",
        "verzonden vanaf mijn ",
        "verstuurd vanaf mijn ",
        "inviato da ",
        "skickat från min ",
    ];
    FOOTERS.iter().any(|footer| line.starts_with(footer))
}

/// The new text of a reply out of a whole text body (see the module documentation).
pub(crate) fn trim_reply(body: &str) -> String {
    let body = body.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = body.split('\n').collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_quoted(line) {
            i += 1;
            continue;
        }
        if is_signature(line)
            || is_original_message(line)
            || is_rule_over_headers(&lines, i)
            || is_header_block(&lines, i)
        {
            break;
        }
        if let Some(taken) = attribution_at(&lines, i) {
            if quote_follows(&lines, i + taken) {
                i += taken;
                continue;
            }
            break;
        }
        // `Ada Lovelace wrote:` right over a quote.
        if ends_like_attribution(&normalised(line))
            && lines.iter().skip(i + 1).find(|line| !is_blank(line)).is_some_and(|line| is_quoted(line))
        {
            i += 1;
            continue;
        }
        kept.push(line.trim_end());
        i += 1;
    }
    while kept.last().is_some_and(|line| is_blank(line) || is_footer(line)) {
        kept.pop();
    }
    let mut out: Vec<String> = Vec::new();
    for line in kept {
        if is_blank(line) {
            if out.last().is_some_and(|last| !last.is_empty()) {
                out.push(String::new());
            }
        } else {
            out.push(line.replace(['\u{a0}', '\u{202f}'], " "));
        }
    }
    out.join("\n")
}

//! Composing one message: the headers every Guildhall mail carries and its text and HTML parts.

use guildhall_core::mail::MailFrom;
use guildhall_storage::mail::Outgoing;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

/// A mailing list's headers (RFC 2369, RFC 2919, RFC 8058).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListHeaders {
    /// `List-Id`, such as `"Museum Computer Group" <mcg.museums.example>`.
    pub id: String,
    /// The one-click unsubscribe URL (a POST to it unsubscribes; a GET shows a page).
    pub unsubscribe: String,
    /// `List-Archive` / a link to the group or the thread.
    pub archive: Option<String>,
}

/// What one mail says and where it threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// The recipient's address.
    pub to: String,
    /// The display name on `From` (the address is always ours).
    pub from_name: Option<String>,
    /// The subject.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
    /// `Message-ID`, without angle brackets.
    pub message_id: String,
    /// `In-Reply-To`, without angle brackets.
    pub in_reply_to: Option<String>,
    /// `References`, oldest first, without angle brackets.
    pub references: Vec<String>,
    /// `Reply-To`: a reply address, or none for mail that takes no reply.
    pub reply_to: Option<String>,
    /// List headers and one-click unsubscribe; none for account mail.
    pub list: Option<ListHeaders>,
}

/// Why a letter could not be composed.
#[derive(Debug, thiserror::Error)]
#[error("cannot compose the mail: {0}")]
pub struct ComposeError(String);

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// The whole message for `letter`, from `from`.
pub fn compose(letter: Letter, from: &MailFrom) -> Result<Outgoing, ComposeError> {
    let bad = |e: &dyn std::fmt::Display| ComposeError(e.to_string());
    let sender = from.address.parse().map_err(|e| bad(&e))?;
    let from_box = Mailbox::new(letter.from_name.clone().or_else(|| from.name.clone()), sender);
    let to: Mailbox = letter.to.parse().map_err(|e| bad(&e))?;
    let mut builder = lettre::Message::builder()
        .from(from_box)
        .to(to)
        .subject(letter.subject)
        .message_id(Some(format!("<{}>", letter.message_id)))
        // We never answer an automatic mail, and ask others not to answer ours (RFC 3834).
        .raw_header(header("Auto-Submitted", "auto-generated".into()))
        .raw_header(header("X-Auto-Response-Suppress", "All".into()));
    if let Some(parent) = &letter.in_reply_to {
        builder = builder.in_reply_to(format!("<{parent}>"));
    }
    if !letter.references.is_empty() {
        let refs: Vec<String> = letter.references.iter().map(|r| format!("<{r}>")).collect();
        builder = builder.references(refs.join(" "));
    }
    if let Some(reply_to) = &letter.reply_to {
        builder = builder.reply_to(reply_to.parse().map_err(|e| bad(&e))?);
    }
    if let Some(list) = &letter.list {
        builder = builder
            .raw_header(header("List-Id", list.id.clone()))
            .raw_header(header("List-Unsubscribe", format!("<{}>", list.unsubscribe)))
            .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()))
            .raw_header(header("Precedence", "list".into()));
        if let Some(archive) = &list.archive {
            builder = builder.raw_header(header("List-Archive", format!("<{archive}>")));
        }
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(letter.text))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(letter.html));
    let message = builder.multipart(body).map_err(|e| bad(&e))?;
    let raw = String::from_utf8(message.formatted()).map_err(|e| bad(&e))?;
    Ok(Outgoing { to: letter.to, message: raw })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn from_reply() -> String {
        let signer = guildhall_core::mail::Signer::new(&[1; 32]);
        MailFrom::parse("notifications@localhost").unwrap().reply_address(&signer.reply_key(
            117729421215028856,
            117729421215028857,
            20_000,
        ))
    }

    fn letter() -> Letter {
        Letter {
            to: "bob@museum.example".into(),
            from_name: Some("Ada Lovelace (Museum Guild)".into()),
            subject: "Re: the study day".into(),
            text: "Hello\n".into(),
            html: "<p>Hello</p>".into(),
            message_id: "status-2@museums.example".into(),
            in_reply_to: Some("status-1@museums.example".into()),
            references: vec!["status-0@museums.example".into(), "status-1@museums.example".into()],
            reply_to: Some(from_reply()),
            list: Some(ListHeaders {
                id: "\"Museum Computer Group\" <mcg.museums.example>".into(),
                unsubscribe: "https://museums.example/mail/unsubscribe/g1-00".into(),
                archive: None,
            }),
        }
    }

    #[test]
    fn every_header_is_written() {
        let from = MailFrom::parse("\"Museum Guild\" <notifications@localhost>").unwrap();
        let out = compose(letter(), &from).unwrap();
        let raw = out.message;
        for expected in [
            "Message-ID: <status-2@museums.example>",
            "In-Reply-To: <status-1@museums.example>",
            "References: <status-0@museums.example> <status-1@museums.example>",
            "List-Id: \"Museum Computer Group\" <mcg.museums.example>",
            "List-Unsubscribe: <https://museums.example/mail/unsubscribe/g1-00>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "Auto-Submitted: auto-generated",
        ] {
            assert!(raw.contains(expected), "{expected} missing in\n{raw}");
        }
        assert!(raw.is_ascii());
    }
}

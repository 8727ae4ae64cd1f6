//! A small inbound SMTP server (a subset of RFC 5321) for replies by mail.
//!
//! Operators who would rather not pipe mail into `guildhall mail receive` can point their MX,
//! or better a relay, at this listener. It speaks plain ESMTP: `EHLO`/`HELO`, `MAIL`, `RCPT`,
//! `DATA`, `RSET`, `NOOP`, `VRFY` (always 252) and `QUIT`, with the `SIZE`, `8BITMIME`,
//! `SMTPUTF8`, `PIPELINING` and `ENHANCEDSTATUSCODES` extensions.
//!
//! It has **no `STARTTLS` and no `AUTH`**: it is meant for loopback or a private network, fed
//! by a trusted MTA that does TLS, spam filtering and rate limiting in front of it. Recipients
//! are checked while the sender waits ([`ListenerConfig::accept_recipient`]), so it never takes
//! responsibility for mail it has nowhere to put, and nothing it accepts is relayed anywhere.
//!
//! Each accepted message is handed to a [`Deliver`] as an [`Envelope`] whose data starts with
//! a `Received:` trace header; the client is answered 250 only once [`Deliver::deliver`] has
//! said so, so a message is never acknowledged and then lost.
//!
//! The end of the data is recognised only as `<CRLF>.<CRLF>`; a bare LF never ends a line for
//! that purpose, which keeps the listener from reading a message differently from the MTA in
//! front of it ("SMTP smuggling").

use std::{
    fmt,
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::{Semaphore, watch},
};

/// Longest command line we read, CRLF included; longer ones are answered 500.
const MAX_COMMAND_LINE: usize = 1000;
/// Longest address (path) we take, as RFC 5321 §4.5.3.1.3 allows.
const MAX_ADDRESS: usize = 256;
/// Syntax and sequence errors after which a session is closed with 421.
const MAX_ERRORS: usize = 20;
/// Longest text of a [`Rejection`] that is passed on to the client.
const MAX_REPLY_TEXT: usize = 400;

/// Decides which `RCPT TO` addresses the listener takes; any other is refused with 550.
pub type RecipientFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Settings of the inbound SMTP listener.
#[derive(Clone)]
pub struct ListenerConfig {
    /// The name the listener greets with and writes into `Received:` headers.
    pub hostname: String,
    /// Largest message (the data after un-dot-stuffing) we take; larger ones are answered 552.
    pub max_message_bytes: usize,
    /// Most recipients of one message; more are answered 452.
    pub max_recipients: usize,
    /// How long the client may stay silent before the session is closed with 421.
    pub idle_timeout: Duration,
    /// Most sessions at once (at least one); a connection beyond it is answered 421 and closed.
    pub max_connections: usize,
    /// Which `RCPT TO` addresses we take (as written between the angle brackets, without a
    /// source route); any other is refused with 550 while the sender waits.
    pub accept_recipient: RecipientFilter,
}

impl ListenerConfig {
    /// Settings with the defaults: 25 MiB messages, 20 recipients, 60 s idle timeout and 64
    /// connections.
    pub fn new(
        hostname: impl Into<String>,
        accept_recipient: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            hostname: hostname.into(),
            max_message_bytes: 25 * 1024 * 1024,
            max_recipients: 20,
            idle_timeout: Duration::from_secs(60),
            max_connections: 64,
            accept_recipient: Arc::new(accept_recipient),
        }
    }
}

impl fmt::Debug for ListenerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerConfig")
            .field("hostname", &self.hostname)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("max_recipients", &self.max_recipients)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// One message as received: who sent it, whom it is for, and its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The `MAIL FROM` address; empty for a bounce (`MAIL FROM:<>`).
    pub mail_from: String,
    /// The accepted `RCPT TO` addresses, in order.
    pub recipients: Vec<String>,
    /// The message (RFC 5322, CRLF line ends, dot-stuffing undone), headed by our
    /// `Received:` trace header.
    pub data: Vec<u8>,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("mail_from", &self.mail_from)
            .field("recipients", &self.recipients)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// Why a [`Deliver`] did not take a message; the text is shown to the sending MTA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Try again later (answered 451): e.g. the database is unreachable.
    #[error("temporarily rejected: {0}")]
    Temporary(String),
    /// Never try again (answered 550): e.g. an unknown or expired reply address.
    #[error("rejected: {0}")]
    Permanent(String),
}

/// What [`Deliver::deliver`] returns.
pub type DeliverFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Rejection>> + Send + 'a>>;

/// Takes the messages the listener accepts.
pub trait Deliver: Send + Sync + 'static {
    /// Takes one message. The client is answered 250 once this returns `Ok`, so the message
    /// must be safe (stored, queued or handled) by then.
    fn deliver(&self, envelope: Envelope) -> DeliverFuture<'_>;
}

/// Serves SMTP on `listener` until `stop` turns true (or its sender is dropped).
///
/// Then it stops accepting and closes the listening socket; sessions waiting for a command
/// are closed with 421, one in the middle of a transaction may finish that message first, and
/// `serve` returns once every session has ended.
///
/// # Errors
///
/// Only if the listener's address cannot be read; accept errors are logged and survived.
pub async fn serve(
    listener: TcpListener,
    config: ListenerConfig,
    deliver: Arc<dyn Deliver>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let permits = config.max_connections.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let sessions = Arc::new(Semaphore::new(permits));
    let config = Arc::new(config);
    tracing::info!(%local, "SMTP listener accepting");
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(error = %e, "SMTP accept: connection gone");
                continue;
            }
            Err(e) => {
                // Out of file descriptors or memory: wait a little rather than spin.
                tracing::warn!(error = %e, "SMTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&sessions).try_acquire_owned() else {
            tracing::warn!(%peer, "SMTP connection refused: too many connections");
            let busy = format!("421 4.3.2 {} Too many connections, try again later\r\n", config.hostname);
            // A fresh socket has room for one line; if not, closing says enough.
            let _ = stream.try_write(busy.as_bytes());
            continue;
        };
        let session = Session::new(stream, peer, Arc::clone(&config), Arc::clone(&deliver), stop.clone());
        tokio::spawn(async move {
            session.run().await;
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(%local, "SMTP listener stopped accepting; waiting for open sessions");
    // Every session holds a permit until it ends: getting them all back means all are done.
    let _all = sessions.acquire_many(u32::try_from(permits).unwrap_or(u32::MAX)).await;
    Ok(())
}

/// Accept errors that concern one connection only.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Why a session ended early.
#[derive(Debug)]
enum SessionError {
    /// The client said nothing for the idle timeout.
    Idle,
    /// The connection failed, closed mid-message, or would not take our replies.
    Io(io::Error),
}

impl From<io::Error> for SessionError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// How one read of a line went.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// The line (through its LF) is in the buffer; `crlf` says whether it ended in CRLF.
    Complete { crlf: bool },
    /// The line was longer than the limit; it was read and dropped.
    TooLong { crlf: bool },
    /// The client closed the connection (a partial last line is dropped).
    Eof,
}

/// Reads through the next LF into `line` (cleared first), keeping at most `limit` bytes; the
/// rest of an over-long line is read and dropped. Fails with [`SessionError::Idle`] when no
/// byte arrives for `idle`.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    limit: usize,
    idle: Duration,
) -> Result<Line, SessionError> {
    line.clear();
    let mut too_long = false;
    let mut last = None;
    loop {
        let buf = tokio::time::timeout(idle, reader.fill_buf()).await.map_err(|_| SessionError::Idle)??;
        if buf.is_empty() {
            return Ok(Line::Eof);
        }
        let (taken, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let before = if i > 0 { Some(buf[i - 1]) } else { last };
                (i + 1, Some(before == Some(b'\r')))
            }
            None => (buf.len(), None),
        };
        if !too_long {
            if line.len() + taken <= limit {
                line.extend_from_slice(&buf[..taken]);
            } else {
                too_long = true;
                line.clear();
            }
        }
        last = buf[..taken].last().copied();
        reader.consume(taken);
        if let Some(crlf) = end {
            return Ok(if too_long { Line::TooLong { crlf } } else { Line::Complete { crlf } });
        }
    }
}

/// What to do after a command.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// One SMTP connection.
struct Session {
    reader: BufReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
    peer: SocketAddr,
    config: Arc<ListenerConfig>,
    deliver: Arc<dyn Deliver>,
    stop: watch::Receiver<bool>,
    /// The `EHLO`/`HELO` name, and whether it was `EHLO`.
    hello: Option<(String, bool)>,
    mail_from: Option<String>,
    recipients: Vec<String>,
    errors: usize,
}

impl Session {
    fn new(
        stream: TcpStream,
        peer: SocketAddr,
        config: Arc<ListenerConfig>,
        deliver: Arc<dyn Deliver>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        let (read, write) = stream.into_split();
        Self {
            reader: BufReader::with_capacity(8 * 1024, read),
            writer: BufWriter::with_capacity(4 * 1024, write),
            peer,
            config,
            deliver,
            stop,
            hello: None,
            mail_from: None,
            recipients: Vec::new(),
            errors: 0,
        }
    }

    async fn run(mut self) {
        tracing::debug!(peer = %self.peer, "SMTP session opened");
        match self.converse().await {
            Ok(()) => tracing::debug!(peer = %self.peer, "SMTP session closed"),
            Err(SessionError::Idle) => {
                tracing::debug!(peer = %self.peer, "SMTP session idle, closing");
                let text = format!("421 4.4.2 {} Idle timeout, closing connection", self.config.hostname);
                let _ = self.reply(&text).await;
                let _ = self.flush().await;
            }
            Err(SessionError::Io(e)) => {
                tracing::debug!(peer = %self.peer, error = %e, "SMTP session ended");
            }
        }
    }

    async fn converse(&mut self) -> Result<(), SessionError> {
        let greeting = format!("220 {} ESMTP Guildhall", self.config.hostname);
        self.reply(&greeting).await?;
        let mut line = Vec::with_capacity(256);
        loop {
            // Pipelined commands are answered together: flush only when nothing is waiting.
            if self.reader.buffer().is_empty() {
                self.flush().await?;
            }
            let idle = self.config.idle_timeout;
            let read = if self.mail_from.is_none() {
                let (stop, reader) = (&mut self.stop, &mut self.reader);
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|stopped| *stopped) => None,
                    read = read_line(reader, &mut line, MAX_COMMAND_LINE, idle) => Some(read),
                }
            } else {
                // In a transaction: let it finish even when stopping.
                Some(read_line(&mut self.reader, &mut line, MAX_COMMAND_LINE, idle).await)
            };
            let Some(read) = read else {
                let text =
                    format!("421 4.3.2 {} Service shutting down, closing connection", self.config.hostname);
                self.reply(&text).await?;
                self.flush().await?;
                return Ok(());
            };
            let flow = match read? {
                Line::Eof => return Ok(()),
                Line::TooLong { .. } => self.error("500 5.5.2 Line too long").await?,
                Line::Complete { .. } => {
                    let text =
                        line.strip_suffix(b"\n").map(|l| l.strip_suffix(b"\r").unwrap_or(l)).unwrap_or(&line);
                    match std::str::from_utf8(text) {
                        Ok(command) => self.command(command).await?,
                        Err(_) => self.error("500 5.5.2 Syntax error").await?,
                    }
                }
            };
            if flow == Flow::Close {
                self.flush().await?;
                return Ok(());
            }
        }
    }

    async fn command(&mut self, command: &str) -> Result<Flow, SessionError> {
        let (verb, args) = match command.split_once(' ') {
            Some((verb, args)) => (verb, args.trim()),
            None => (command, ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => self.hello(args, true).await,
            "HELO" => self.hello(args, false).await,
            "MAIL" => self.mail(args).await,
            "RCPT" => self.rcpt(args).await,
            "DATA" => self.data(args).await,
            "RSET" => {
                if !args.is_empty() {
                    return self.error("501 5.5.4 RSET takes no arguments").await;
                }
                self.reset();
                self.ok("250 2.0.0 OK").await
            }
            "NOOP" => self.ok("250 2.0.0 OK").await,
            "VRFY" => {
                self.ok("252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery").await
            }
            "QUIT" => {
                let text = format!("221 2.0.0 {} closing connection", self.config.hostname);
                self.reply(&text).await?;
                Ok(Flow::Close)
            }
            "EXPN" | "HELP" | "STARTTLS" | "AUTH" | "BDAT" | "TURN" | "ETRN" => {
                self.error("502 5.5.1 Command not implemented").await
            }
            _ => self.error("500 5.5.2 Command unrecognized").await,
        }
    }

    async fn hello(&mut self, name: &str, extended: bool) -> Result<Flow, SessionError> {
        if name.is_empty() {
            return self.error("501 5.5.4 Syntax: EHLO hostname").await;
        }
        self.reset();
        self.hello = Some((name.to_owned(), extended));
        let host = &self.config.hostname;
        let text = if extended {
            format!(
                "250-{host} Hello {name}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
                 250-PIPELINING\r\n250 ENHANCEDSTATUSCODES",
                self.config.max_message_bytes
            )
        } else {
            format!("250 {host} Hello {name}")
        };
        self.ok(&text).await
    }

    async fn mail(&mut self, args: &str) -> Result<Flow, SessionError> {
        if self.hello.is_none() {
            return self.error("503 5.5.1 Send EHLO or HELO first").await;
        }
        if self.mail_from.is_some() {
            return self.error("503 5.5.1 Sender already given").await;
        }
        let Some(rest) = strip_prefix_ignore_case(args, "FROM:") else {
            return self.error("501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        let Some((address, params)) = parse_path(rest.trim_start()) else {
            return self.error("501 5.1.7 Bad sender address syntax").await;
        };
        for param in params.split_ascii_whitespace() {
            let (key, value) = match param.split_once('=') {
                Some((key, value)) => (key, Some(value)),
                None => (param, None),
            };
            match (key.to_ascii_uppercase().as_str(), value) {
                ("SIZE", Some(size)) => match size.parse::<u64>() {
                    Ok(size) if size > self.config.max_message_bytes as u64 => {
                        return self.ok("552 5.3.4 Message size exceeds fixed maximum message size").await;
                    }
                    Ok(_) => {}
                    Err(_) => return self.error("501 5.5.4 Bad SIZE value").await,
                },
                ("BODY", Some(body))
                    if body.eq_ignore_ascii_case("7BIT") || body.eq_ignore_ascii_case("8BITMIME") => {}
                ("SMTPUTF8", None) => {}
                _ => return self.error("555 5.5.4 Unsupported MAIL parameter").await,
            }
        }
        self.mail_from = Some(address.to_owned());
        self.ok("250 2.1.0 Sender OK").await
    }

    async fn rcpt(&mut self, args: &str) -> Result<Flow, SessionError> {
        if self.mail_from.is_none() {
            return self.error("503 5.5.1 Need MAIL before RCPT").await;
        }
        let Some(rest) = strip_prefix_ignore_case(args, "TO:") else {
            return self.error("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        let Some((address, params)) = parse_path(rest.trim_start()) else {
            return self.error("501 5.1.3 Bad recipient address syntax").await;
        };
        if address.is_empty() {
            return self.error("501 5.1.3 Bad recipient address syntax").await;
        }
        if !params.trim().is_empty() {
            return self.error("555 5.5.4 Unsupported RCPT parameter").await;
        }
        if self.recipients.len() >= self.config.max_recipients {
            return self.ok("452 4.5.3 Too many recipients").await;
        }
        if !(self.config.accept_recipient)(address) {
            tracing::debug!(peer = %self.peer, recipient = address, "SMTP recipient refused");
            return self.ok("550 5.1.1 No such recipient here").await;
        }
        self.recipients.push(address.to_owned());
        self.ok("250 2.1.5 Recipient OK").await
    }

    async fn data(&mut self, args: &str) -> Result<Flow, SessionError> {
        if !args.is_empty() {
            return self.error("501 5.5.4 DATA takes no arguments").await;
        }
        if self.mail_from.is_none() {
            return self.error("503 5.5.1 Need MAIL before DATA").await;
        }
        if self.recipients.is_empty() {
            return self.error("503 5.5.1 No valid recipients").await;
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        self.flush().await?;
        let body = self.read_data().await?;
        let mail_from = self.mail_from.take().unwrap_or_default();
        let recipients = std::mem::take(&mut self.recipients);
        let Some(body) = body else {
            tracing::debug!(peer = %self.peer, "SMTP message too large");
            return self.ok("552 5.3.4 Message size exceeds fixed maximum message size").await;
        };
        let mut data = self.received_header(&recipients).into_bytes();
        data.extend_from_slice(&body);
        drop(body);
        let envelope = Envelope { mail_from, recipients, data };
        match self.deliver.deliver(envelope).await {
            Ok(()) => self.ok("250 2.0.0 OK: message accepted").await,
            Err(Rejection::Temporary(text)) => {
                tracing::debug!(peer = %self.peer, reason = %text, "SMTP message deferred");
                let text = format!("451 4.3.0 {}", reply_text(&text, "Try again later"));
                self.ok(&text).await
            }
            Err(Rejection::Permanent(text)) => {
                tracing::debug!(peer = %self.peer, reason = %text, "SMTP message refused");
                let text = format!("550 5.7.1 {}", reply_text(&text, "Message refused"));
                self.ok(&text).await
            }
        }
    }

    /// Reads the message after 354 up to `<CRLF>.<CRLF>`, undoing dot-stuffing. `None` when it
    /// was larger than allowed: the rest was read and dropped, never buffered.
    async fn read_data(&mut self) -> Result<Option<Vec<u8>>, SessionError> {
        let max = self.config.max_message_bytes;
        let idle = self.config.idle_timeout;
        let mut data = Vec::new();
        let mut oversized = false;
        let mut line = Vec::new();
        // The CRLF that ended the DATA command counts: an immediate ".\r\n" is an empty message.
        let mut at_line_start = true;
        loop {
            // Room for what is left, a stuffed dot, and always for the ".\r\n" that ends it.
            let limit = if oversized { 3 } else { (max - data.len() + 1).max(3) };
            let crlf = match read_line(&mut self.reader, &mut line, limit, idle).await? {
                Line::Eof => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed during DATA",
                    )
                    .into());
                }
                Line::TooLong { crlf } => {
                    oversized = true;
                    data = Vec::new();
                    crlf
                }
                Line::Complete { crlf } => {
                    if at_line_start && line == b".\r\n" {
                        return Ok((!oversized).then_some(data));
                    }
                    let content = match line.strip_prefix(b".") {
                        Some(rest) if at_line_start => rest,
                        _ => &line[..],
                    };
                    if !oversized {
                        if data.len() + content.len() <= max {
                            data.extend_from_slice(content);
                        } else {
                            oversized = true;
                            data = Vec::new();
                        }
                    }
                    crlf
                }
            };
            at_line_start = crlf;
        }
    }

    /// The trace header RFC 5321 §4.4 asks a receiving server to add.
    fn received_header(&self, recipients: &[String]) -> String {
        let (name, extended) =
            self.hello.as_ref().map_or(("unknown", false), |(name, extended)| (name.as_str(), *extended));
        let name: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            .take(255)
            .collect();
        let literal = match self.peer.ip() {
            IpAddr::V4(ip) => format!("[{ip}]"),
            IpAddr::V6(ip) => format!("[IPv6:{ip}]"),
        };
        let with = if extended { "ESMTP" } else { "SMTP" };
        let for_clause = match recipients {
            [only] if only.is_ascii() && !only.contains(['\r', '\n']) => {
                format!("\r\n\tfor <{only}>")
            }
            _ => String::new(),
        };
        format!(
            "Received: from {name} ({literal})\r\n\tby {} (Guildhall) with {with}{for_clause};\r\n\t{}\r\n",
            self.config.hostname,
            chrono::Utc::now().to_rfc2822()
        )
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.recipients.clear();
    }

    /// Queues a reply line (or lines, CRLF-separated) for sending.
    async fn reply(&mut self, text: &str) -> io::Result<()> {
        self.writer.write_all(text.as_bytes()).await?;
        self.writer.write_all(b"\r\n").await
    }

    /// Queues a reply that is not a protocol error.
    async fn ok(&mut self, text: &str) -> Result<Flow, SessionError> {
        self.reply(text).await?;
        Ok(Flow::Continue)
    }

    /// Queues a syntax or sequence error; after too many, closes the session with 421.
    async fn error(&mut self, text: &str) -> Result<Flow, SessionError> {
        self.reply(text).await?;
        self.errors += 1;
        if self.errors < MAX_ERRORS {
            return Ok(Flow::Continue);
        }
        tracing::debug!(peer = %self.peer, "SMTP session closed after too many errors");
        let text = format!("421 4.7.0 {} Too many errors, closing connection", self.config.hostname);
        self.reply(&text).await?;
        Ok(Flow::Close)
    }

    /// Sends what is queued; a client that will not read for the idle timeout is dropped.
    async fn flush(&mut self) -> io::Result<()> {
        tokio::time::timeout(self.config.idle_timeout, self.writer.flush())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client not reading"))?
    }
}

/// `text` without its case-insensitive ASCII `prefix`.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// Splits `<address> params` into the address (source route dropped; empty for `<>`) and the
/// parameters. `None` when the path is malformed.
fn parse_path(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('<')?;
    let mut quoted = false;
    let mut escaped = false;
    let mut end = None;
    for (i, c) in inner.char_indices() {
        if c.is_control() {
            return None;
        }
        if escaped {
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == '>' && !quoted {
            end = Some(i);
            break;
        } else if c == ' ' && !quoted {
            return None;
        }
    }
    let end = end?;
    let path = &inner[..end];
    let rest = &inner[end + 1..];
    if path.len() > MAX_ADDRESS || !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    // An obsolete source route (`@a,@b:user@c`) is allowed and ignored (RFC 5321 §4.1.2).
    let address = match path.strip_prefix('@') {
        Some(route) => route.split_once(':')?.1,
        None => path,
    };
    if address.starts_with('@') || address.contains('<') {
        return None;
    }
    Some((address, rest))
}

/// A [`Rejection`]'s text made safe for one reply line.
fn reply_text(text: &str, fallback: &str) -> String {
    let cleaned: String =
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_REPLY_TEXT).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() { fallback.to_owned() } else { cleaned.to_owned() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use lettre::AsyncTransport;
    use tokio::{
        io::AsyncReadExt,
        sync::mpsc::{self, UnboundedReceiver, UnboundedSender},
        task::JoinHandle,
    };

    /// Records every message; one whose data contains `TRY-LATER` or `REFUSE-ME` is rejected.
    struct Recorder(UnboundedSender<Envelope>);

    impl Deliver for Recorder {
        fn deliver(&self, envelope: Envelope) -> DeliverFuture<'_> {
            Box::pin(async move {
                let contains = |needle: &[u8]| envelope.data.windows(needle.len()).any(|w| w == needle);
                if contains(b"TRY-LATER") {
                    return Err(Rejection::Temporary("database busy\r\n500 injected".into()));
                }
                if contains(b"REFUSE-ME") {
                    return Err(Rejection::Permanent("unknown reply address".into()));
                }
                self.0.send(envelope).unwrap();
                Ok(())
            })
        }
    }

    struct Server {
        addr: SocketAddr,
        delivered: UnboundedReceiver<Envelope>,
        stop: watch::Sender<bool>,
        task: JoinHandle<io::Result<()>>,
    }

    fn config() -> ListenerConfig {
        ListenerConfig::new("mx.guildhall.test", |rcpt: &str| {
            rcpt.to_ascii_lowercase().starts_with("reply+")
                && rcpt.to_ascii_lowercase().ends_with("@guildhall.test")
        })
    }

    async fn start(config: ListenerConfig) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, delivered) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, config, Arc::new(Recorder(tx)), stop_rx));
        Server { addr, delivered, stop, task }
    }

    /// A raw SMTP client.
    struct Client {
        reader: BufReader<OwnedReadHalf>,
        writer: OwnedWriteHalf,
    }

    impl Client {
        async fn connect(addr: SocketAddr) -> Self {
            let (read, writer) = TcpStream::connect(addr).await.unwrap().into_split();
            Self { reader: BufReader::new(read), writer }
        }

        /// Connects and reads the greeting.
        async fn open(addr: SocketAddr) -> Self {
            let mut client = Self::connect(addr).await;
            let greeting = client.reply().await;
            assert_eq!(greeting, "220 mx.guildhall.test ESMTP Guildhall");
            client
        }

        async fn send(&mut self, text: &str) {
            self.writer.write_all(text.as_bytes()).await.unwrap();
        }

        /// Reads one (possibly multi-line) reply, lines joined by `\n`, CRLF removed.
        async fn reply(&mut self) -> String {
            let mut reply = String::new();
            loop {
                let mut line = String::new();
                let n = self.reader.read_line(&mut line).await.unwrap();
                assert!(n > 0, "connection closed; reply so far: {reply:?}");
                assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
                let line = line.trim_end_matches("\r\n");
                if !reply.is_empty() {
                    reply.push('\n');
                }
                reply.push_str(line);
                if line.as_bytes().get(3) != Some(&b'-') {
                    return reply;
                }
            }
        }

        async fn command(&mut self, command: &str) -> String {
            self.send(&format!("{command}\r\n")).await;
            self.reply().await
        }

        /// Reads until the server closes the connection.
        async fn expect_closed(&mut self) {
            let mut rest = Vec::new();
            self.reader.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty(), "unexpected: {:?}", String::from_utf8_lossy(&rest));
        }
    }

    fn code(reply: &str) -> &str {
        &reply[..3]
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[tokio::test]
    async fn lettre_delivers_a_message() {
        let mut server = start(config()).await;
        let message = lettre::Message::builder()
            .from("Ann <ann@example.org>".parse().unwrap())
            .to("reply+k3y@guildhall.test".parse().unwrap())
            .subject("Re: meeting")
            .body(String::from("See you there.\r\n.hidden\r\nBye\r\n"))
            .unwrap();
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(server.addr.port())
            .build();
        let response = transport.send(message).await.unwrap();
        assert!(response.is_positive());

        let envelope = server.delivered.recv().await.unwrap();
        assert_eq!(envelope.mail_from, "ann@example.org");
        assert_eq!(envelope.recipients, ["reply+k3y@guildhall.test"]);
        let data = &envelope.data;
        assert!(data.starts_with(b"Received: from "), "{}", String::from_utf8_lossy(data));
        assert!(contains(data, b"by mx.guildhall.test (Guildhall) with ESMTP"));
        assert!(contains(data, b"for <reply+k3y@guildhall.test>"));
        assert!(contains(data, b"\r\nSubject: Re: meeting\r\n"));
        assert!(contains(data, b"\r\nSee you there.\r\n.hidden\r\nBye\r\n"));
        assert!(!contains(data, b"..hidden"));
        assert!(data.ends_with(b"\r\n"));
    }

    #[tokio::test]
    async fn lettre_sees_a_refused_recipient_as_permanent() {
        let mut server = start(config()).await;
        let message = lettre::Message::builder()
            .from("ann@example.org".parse().unwrap())
            .to("someone@elsewhere.test".parse().unwrap())
            .subject("relay?")
            .body(String::from("no"))
            .unwrap();
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(server.addr.port())
            .build();
        let error = transport.send(message).await.unwrap_err();
        assert!(error.is_permanent(), "{error}");
        // Nothing was delivered: the next thing on the channel is its closing.
        server.stop.send(true).unwrap();
        drop(transport);
        server.task.await.unwrap().unwrap();
        assert!(server.delivered.recv().await.is_none());
    }

    #[tokio::test]
    async fn refused_recipient_gets_550_and_accepted_ones_are_delivered() {
        let mut server = start(config()).await;
        let mut c = Client::open(server.addr).await;
        let ehlo = c.command("EHLO client.example.org").await;
        assert_eq!(
            ehlo,
            "250-mx.guildhall.test Hello client.example.org\n250-SIZE 26214400\n\
             250-8BITMIME\n250-SMTPUTF8\n250-PIPELINING\n250 ENHANCEDSTATUSCODES"
        );
        assert_eq!(c.command("MAIL FROM:<>").await, "250 2.1.0 Sender OK");
        assert_eq!(c.command("RCPT TO:<someone@elsewhere.test>").await, "550 5.1.1 No such recipient here");
        assert_eq!(code(&c.command("RCPT TO:<Reply+abc@Guildhall.test>").await), "250");
        assert_eq!(code(&c.command("DATA").await), "354");
        c.send("Subject: hi\r\n\r\nbody\r\n.\r\n").await;
        assert_eq!(c.reply().await, "250 2.0.0 OK: message accepted");
        assert_eq!(code(&c.command("QUIT").await), "221");
        c.expect_closed().await;

        let envelope = server.delivered.recv().await.unwrap();
        assert_eq!(envelope.mail_from, "");
        assert_eq!(envelope.recipients, ["Reply+abc@Guildhall.test"]);
        assert!(envelope.data.ends_with(b"\r\nSubject: hi\r\n\r\nbody\r\n"));
    }

    #[tokio::test]
    async fn oversized_data_gets_552_and_nothing_is_delivered() {
        let mut cfg = config();
        cfg.max_message_bytes = 64;
        let mut server = start(cfg).await;
        let mut c = Client::open(server.addr).await;
        assert_eq!(code(&c.command("EHLO client").await), "250");

        // Declared too large up front.
        assert_eq!(
            c.command("MAIL FROM:<ann@example.org> SIZE=65").await,
            "552 5.3.4 Message size exceeds fixed maximum message size"
        );

        // Too large once sent: read to the end, refused, not buffered, not delivered.
        assert_eq!(code(&c.command("MAIL FROM:<ann@example.org> SIZE=64").await), "250");
        assert_eq!(code(&c.command("RCPT TO:<reply+a@guildhall.test>").await), "250");
        assert_eq!(code(&c.command("DATA").await), "354");
        let long_line = "x".repeat(10_000);
        c.send(&format!("Subject: big\r\n\r\n{long_line}\r\nmore\r\n.\r\n")).await;
        assert_eq!(c.reply().await, "552 5.3.4 Message size exceeds fixed maximum message size");
        // Many short lines that add up to too much.
        assert_eq!(code(&c.command("MAIL FROM:<ann@example.org>").await), "250");
        assert_eq!(code(&c.command("RCPT TO:<reply+b@guildhall.test>").await), "250");
        assert_eq!(code(&c.command("DATA").await), "354");
        c.send(&"line\r\n".repeat(20)).await;
        c.send(".\r\n").await;
        assert_eq!(code(&c.reply().await), "552");

        // The session is still in step: a message of exactly the limit goes through.
        assert_eq!(code(&c.command("MAIL FROM:<ann@example.org>").await), "250");
        assert_eq!(code(&c.command("RCPT TO:<reply+c@guildhall.test>").await), "250");
        assert_eq!(code(&c.command("DATA").await), "354");
        let exact = format!("Subject: ok\r\n\r\n{}\r\n", "y".repeat(64 - 17));
        assert_eq!(exact.len(), 64);
        c.send(&format!("{exact}.\r\n")).await;
        assert_eq!(code(&c.reply().await), "250");

        let envelope = server.delivered.recv().await.unwrap();
        assert_eq!(envelope.recipients, ["reply+c@guildhall.test"]);
        assert!(envelope.data.ends_with(exact.as_bytes()));
    }

    #[tokio::test]
    async fn pipelined_commands_are_answered_in_order() {
        let mut server = start(config()).await;
        let mut c = Client::open(server.addr).await;
        c.send(
            "EHLO client\r\nMAIL FROM:<ann@example.org> BODY=8BITMIME\r\n\
             RCPT TO:<nobody@guildhall.test>\r\nRCPT TO:<reply+p@guildhall.test>\r\n\
             RCPT TO:<reply+q@guildhall.test>\r\nDATA\r\n",
        )
        .await;
        assert_eq!(code(&c.reply().await), "250");
        assert_eq!(code(&c.reply().await), "250");
        assert_eq!(code(&c.reply().await), "550");
        assert_eq!(code(&c.reply().await), "250");
        assert_eq!(code(&c.reply().await), "250");
        assert_eq!(code(&c.reply().await), "354");
        c.send("Subject: p\r\n\r\n..dots\r\nmid.dle\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n").await;
        assert_eq!(code(&c.reply().await), "250");
        assert_eq!(c.reply().await, "250 2.0.0 OK");
        assert_eq!(c.reply().await, "250 2.0.0 OK");
        assert_eq!(c.reply().await, "221 2.0.0 mx.guildhall.test closing connection");
        c.expect_closed().await;

        let envelope = server.delivered.recv().await.unwrap();
        assert_eq!(envelope.mail_from, "ann@example.org");
        assert_eq!(envelope.recipients, ["reply+p@guildhall.test", "reply+q@guildhall.test"]);
        assert!(envelope.data.ends_with(b"\r\nSubject: p\r\n\r\n.dots\r\nmid.dle\r\n"));
    }

    #[tokio::test]
    async fn bare_lf_does_not_end_the_data() {
        let mut server = start(config()).await;
        let mut c = Client::open(server.addr).await;
        assert_eq!(code(&c.command("HELO client").await), "250");
        assert_eq!(code(&c.command("MAIL FROM:<ann@example.org>").await), "250");
        assert_eq!(code(&c.command("RCPT TO:<reply+s@guildhall.test>").await), "250");
        assert_eq!(code(&c.command("DATA").await), "354");
        c.send("Subject: s\r\n\r\na\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n").await;
        assert_eq!(code(&c.reply().await), "250");
        let envelope = server.delivered.recv().await.unwrap();
        assert!(contains(&envelope.data, b" with SMTP\r\n\tfor <reply+s@guildhall.test>;\r\n\t"));
        assert!(envelope.data.ends_with(b"\r\na\n.\nMAIL FROM:<evil@example.org>\r\n"));
    }

    #[tokio::test]
    async fn out_of_order_unknown_and_malformed_commands() {
        let mut cfg = config();
        cfg.max_recipients = 2;
        let server = start(cfg).await;
        let mut c = Client::open(server.addr).await;
        assert_eq!(c.command("MAIL FROM:<ann@example.org>").await, "503 5.5.1 Send EHLO or HELO first");
        assert_eq!(c.command("EHLO").await, "501 5.5.4 Syntax: EHLO hostname");
        assert_eq!(code(&c.command("ehlo client").await), "250");
        assert_eq!(code(&c.command("RCPT TO:<reply+a@guildhall.test>").await), "503");
        assert_eq!(code(&c.command("DATA").await), "503");
        assert_eq!(c.command("FROB").await, "500 5.5.2 Command unrecognized");
        assert_eq!(code(&c.command("STARTTLS").await), "502");
        assert_eq!(code(&c.command(&format!("NOOP {}", "z".repeat(1200))).await), "500");
        assert_eq!(code(&c.command("VRFY someone").await), "252");
        assert_eq!(code(&c.command("MAIL FROM:ann@example.org").await), "501");
        assert_eq!(code(&c.command("MAIL FROM:<ann@example.org> FOO=1").await), "555");
        assert_eq!(code(&c.command("mail from: <ann@example.org>").await), "250");
        assert_eq!(code(&c.command("MAIL FROM:<ann@example.org>").await), "503");
        assert_eq!(code(&c.command("DATA").await), "503");
        assert_eq!(code(&c.command("RCPT TO:<>").await), "501");
        assert_eq!(code(&c.command("RCPT TO:<@relay.test:reply+a@guildhall.test>").await), "250");
        assert_eq!(code(&c.command("RCPT TO:<reply+b@guildhall.test>").await), "250");
        assert_eq!(c.command("RCPT TO:<reply+c@guildhall.test>").await, "452 4.5.3 Too many recipients");
        assert_eq!(code(&c.command("DATA now").await), "501");
        assert_eq!(code(&c.command("RSET").await), "250");
        assert_eq!(code(&c.command("RCPT TO:<reply+a@guildhall.test>").await), "503");
    }

    #[tokio::test]
    async fn too_many_errors_close_the_session() {
        let server = start(config()).await;
        let mut c = Client::open(server.addr).await;
        for _ in 0..MAX_ERRORS - 1 {
            assert_eq!(code(&c.command("FROB").await), "500");
        }
        assert_eq!(code(&c.command("FROB").await), "500");
        assert_eq!(code(&c.reply().await), "421");
        c.expect_closed().await;
    }

    #[tokio::test]
    async fn rejections_are_answered_451_and_550() {
        let server = start(config()).await;
        let mut c = Client::open(server.addr).await;
        assert_eq!(code(&c.command("EHLO client").await), "250");
        for (body, expected) in [
            ("TRY-LATER", "451 4.3.0 database busy  500 injected"),
            ("REFUSE-ME", "550 5.7.1 unknown reply address"),
        ] {
            assert_eq!(code(&c.command("MAIL FROM:<ann@example.org>").await), "250");
            assert_eq!(code(&c.command("RCPT TO:<reply+r@guildhall.test>").await), "250");
            assert_eq!(code(&c.command("DATA").await), "354");
            c.send(&format!("Subject: r\r\n\r\n{body}\r\n.\r\n")).await;
            assert_eq!(c.reply().await, expected);
        }
        assert_eq!(code(&c.command("NOOP").await), "250");
    }

    #[tokio::test]
    async fn connection_limit_answers_421() {
        let mut cfg = config();
        cfg.max_connections = 1;
        let server = start(cfg).await;
        let mut first = Client::open(server.addr).await;
        let mut second = Client::connect(server.addr).await;
        assert_eq!(second.reply().await, "421 4.3.2 mx.guildhall.test Too many connections, try again later");
        second.expect_closed().await;
        // The first is unaffected; once it is gone there is room again.
        assert_eq!(code(&first.command("QUIT").await), "221");
        first.expect_closed().await;
        let mut third = Client::open(server.addr).await;
        assert_eq!(code(&third.command("NOOP").await), "250");
    }

    #[tokio::test]
    async fn idle_sessions_are_closed_with_421() {
        let mut cfg = config();
        cfg.idle_timeout = Duration::from_millis(200);
        let server = start(cfg).await;
        let mut c = Client::open(server.addr).await;
        assert_eq!(c.reply().await, "421 4.4.2 mx.guildhall.test Idle timeout, closing connection");
        c.expect_closed().await;
    }

    #[tokio::test]
    async fn stop_closes_idle_sessions_lets_transactions_finish_and_returns() {
        let mut server = start(config()).await;
        let mut idle = Client::open(server.addr).await;
        let mut busy = Client::open(server.addr).await;
        assert_eq!(code(&busy.command("EHLO client").await), "250");
        assert_eq!(code(&busy.command("MAIL FROM:<ann@example.org>").await), "250");

        server.stop.send(true).unwrap();
        assert_eq!(
            idle.reply().await,
            "421 4.3.2 mx.guildhall.test Service shutting down, closing connection"
        );
        idle.expect_closed().await;

        assert_eq!(code(&busy.command("RCPT TO:<reply+z@guildhall.test>").await), "250");
        assert_eq!(code(&busy.command("DATA").await), "354");
        busy.send("Subject: last\r\n\r\nin time\r\n.\r\n").await;
        assert_eq!(code(&busy.reply().await), "250");
        assert_eq!(code(&busy.reply().await), "421");
        busy.expect_closed().await;

        server.task.await.unwrap().unwrap();
        let envelope = server.delivered.recv().await.unwrap();
        assert!(envelope.data.ends_with(b"in time\r\n"));
    }

    #[test]
    fn paths_parse() {
        assert_eq!(parse_path("<a@b.test>"), Some(("a@b.test", "")));
        assert_eq!(parse_path("<> SIZE=1"), Some(("", " SIZE=1")));
        assert_eq!(parse_path("<\"john doe\"@b.test>"), Some(("\"john doe\"@b.test", "")));
        assert_eq!(parse_path("<@r1,@r2:a@b.test>"), Some(("a@b.test", "")));
        assert_eq!(parse_path("<a b@c>"), None);
        assert_eq!(parse_path("<a@b"), None);
        assert_eq!(parse_path("a@b"), None);
        assert_eq!(parse_path("<a@b>x"), None);
        assert_eq!(parse_path("<a\u{1}@b>"), None);
        assert_eq!(parse_path(&format!("<{}@b>", "a".repeat(300))), None);
    }
}

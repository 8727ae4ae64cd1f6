//! Where composed mail goes: an SMTP server (lettre, pooled connections, TLS or STARTTLS), or
//! with none configured `.eml` files under `<data dir>/mail`, so the one-command default still
//! shows every mail it would have sent.

use std::path::PathBuf;
use std::time::Duration;

use guildhall_core::Config;
use guildhall_core::mail::{Security, SmtpUrl};
use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later (a network error, a 4xx reply).
    #[error("temporary: {0}")]
    Temporary(String),
    /// Will never succeed (a 5xx reply, a bad address).
    #[error("permanent: {0}")]
    Permanent(String),
}

/// How mail leaves the instance.
#[derive(Clone)]
pub enum Transport {
    /// Through an SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Into `.eml` files in a directory.
    Files(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
            Transport::Files(dir) => write!(f, "Transport::Files({})", dir.display()),
        }
    }
}

impl Transport {
    /// The transport `config` asks for (`smtp_url`, else files under `<data_dir>/mail`).
    pub fn from_config(config: &Config) -> Result<Transport, SendError> {
        match &config.smtp_url {
            Some(url) => smtp(url).map(Transport::Smtp),
            None => Ok(Transport::Files(config.data_dir.join("mail"))),
        }
    }

    /// Hands `message` (a whole RFC 5322 message) to the transport for `to`, from `from`.
    pub async fn send(&self, from: &str, to: &str, message: &[u8]) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => {
                let parse =
                    |a: &str| a.parse::<Address>().map_err(|e| SendError::Permanent(format!("{a}: {e}")));
                let envelope = Envelope::new(Some(parse(from)?), vec![parse(to)?])
                    .map_err(|e| SendError::Permanent(e.to_string()))?;
                smtp.send_raw(&envelope, message).await.map(|_| ()).map_err(|e| {
                    // Only a refusal of this message or mailbox (501, 521, 550–554, 556) ends it; any other
                    // permanent reply (bad credentials 535, a server that refuses us at
                    // connection) is a fault of the set-up that every message would meet, so
                    // the queue keeps them and retries while an operator mends it.
                    let code = e.status().map(|c| c.to_string());
                    match code.as_deref() {
                        Some("501" | "521" | "550" | "551" | "552" | "553" | "554" | "556")
                            if e.is_permanent() =>
                        {
                            SendError::Permanent(e.to_string())
                        }
                        _ => SendError::Temporary(e.to_string()),
                    }
                })
            }
            Transport::Files(dir) => write_file(dir.clone(), message.to_vec()).await,
        }
    }
}

fn smtp(url: &SmtpUrl) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let tls = || {
        TlsParameters::new(url.host.clone())
            .map_err(|e| SendError::Permanent(format!("TLS for {}: {e}", url.host)))
    };
    let tls = match url.security {
        Security::Plain => Tls::None,
        Security::Tls => Tls::Wrapper(tls()?),
        Security::StartTls => Tls::Required(tls()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
        .port(url.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(30)))
        .pool_config(PoolConfig::new().max_size(8).idle_timeout(Duration::from_secs(30)));
    if let (Some(user), Some(password)) = (&url.user, &url.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// Writes one message as `<micros>-<random>.eml`, through a temporary name, so a reader never
/// sees half a file.
async fn write_file(dir: PathBuf, message: Vec<u8>) -> Result<(), SendError> {
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        let stamp = chrono::Utc::now().timestamp_micros();
        let name = format!("{stamp}-{:08x}.eml", rand::random::<u32>());
        let partial = dir.join(format!(".{name}.part"));
        std::fs::write(&partial, &message)?;
        std::fs::rename(&partial, dir.join(name))
    })
    .await
    .map_err(|e| SendError::Temporary(e.to_string()))?
    .map_err(|e| SendError::Temporary(format!("cannot write the mail file: {e}")))
}

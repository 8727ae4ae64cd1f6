//! Instance configuration: defaults, then a TOML file, then `GUILDHALL_*` environment variables.
//!
//! The key names are a contract that operators and scripts rely on. Every file key has an
//! environment twin (`listen` ↔ `GUILDHALL_LISTEN`). Unknown file keys and bad values are
//! errors naming the key, the value and what was expected; the binary turns them into exit
//! code 2. The database URL may hold a password, so it is never printed whole: its `Debug` and
//! `Display` redact the password.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use thiserror::Error;

use crate::domain::Domain;

/// Every configuration key, as written in the file; the environment name is
/// `GUILDHALL_` followed by the key in upper case.
pub const KEYS: [&str; 16] = [
    "domain",
    "listen",
    "database_url",
    "data_dir",
    "media_dir",
    "insecure",
    "log_format",
    "registrations",
    "registrations_reason_required",
    "password_min_length",
    "trusted_proxies",
    "thumbnail",
    "smtp_url",
    "mail_from",
    "mail_listen",
    "metrics_listen",
];

/// Environment variables with the `GUILDHALL_` prefix that are not configuration keys but are
/// read elsewhere (so they are not reported as unknown).
pub const OTHER_ENV: [&str; 3] = ["GUILDHALL_CONFIG", "GUILDHALL_ROLE", "GUILDHALL_TEST_POSTGRES_URL"];

/// The complete, validated configuration of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Public `host[:port]` used in every actor id and handle.
    pub domain: Domain,
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the data lives: an SQLite file or a PostgreSQL server.
    pub database_url: DatabaseUrl,
    /// Directory for the SQLite file, media and keys.
    pub data_dir: PathBuf,
    /// Directory for uploaded and cached media.
    pub media_dir: PathBuf,
    /// Own URLs are `http://`, and federation may use http and reach loopback or private
    /// addresses. For local trials and tests only.
    pub insecure: bool,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// Who may create an account through the API and the sign-up page.
    pub registrations: RegistrationMode,
    /// In approval mode, sign-ups must say why they want to join.
    pub registrations_reason_required: bool,
    /// Shortest password a sign-up (or an admin setting one) may choose; at least
    /// [`crate::password::MIN_PASSWORD_LEN`].
    pub password_min_length: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for rate limits and logs);
    /// requests from anywhere else are known by their peer address alone.
    pub trusted_proxies: Vec<crate::net::Cidr>,
    /// A PNG or JPEG shown as the instance's picture (`/thumbnail.png`, advertised in
    /// `/api/v2/instance`); a plain built-in banner when unset.
    pub thumbnail: Option<PathBuf>,
    /// Where mail goes out (`smtp://`, `smtps://`, `smtp://…?tls=starttls`); with none, mails
    /// are written as `.eml` files under `<data_dir>/mail`.
    pub smtp_url: Option<crate::mail::SmtpUrl>,
    /// The sender of every mail, and the domain of reply addresses.
    pub mail_from: crate::mail::MailFrom,
    /// An address for the inbound SMTP listener (replies by mail); none: no listener.
    pub mail_listen: Option<SocketAddr>,
    /// An address for `/metrics` in Prometheus' text format, apart from the public listener;
    /// none: no metrics.
    pub metrics_listen: Option<SocketAddr>,
}

/// Who may create an account (`registrations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationMode {
    /// Nobody signs up; admins create accounts with `guildhall admin create-user`.
    Closed,
    /// Anyone may sign up; the account waits for an admin's approval before it can sign in.
    Approval,
    /// Anyone may sign up and sign in at once.
    Open,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A database location; the scheme chooses the backend.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite database file (`sqlite://PATH`; `sqlite::memory:` is not supported).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://` or `postgresql://`), kept verbatim.
    Postgres(String),
}

/// A configuration problem; the binary prints it as one line and exits with code 2.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The configuration file is not valid TOML.
    #[error("config file {path}: {message}")]
    Syntax {
        /// The file that failed to parse.
        path: String,
        /// The TOML parser's explanation.
        message: String,
    },
    /// The configuration file names a key Guildhall does not know.
    #[error("config file {path}: unknown key '{key}' (known keys: {known})", known = KEYS.join(", "))]
    UnknownKey {
        /// The file holding the key.
        path: String,
        /// The unknown key.
        key: String,
    },
    /// A key has a value of the wrong form.
    #[error("invalid value {value:?} for {key}: expected {expected}")]
    BadValue {
        /// The key, as the file or the environment names it.
        key: String,
        /// The offending value.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
}

/// One raw setting and where it came from (for error messages).
#[derive(Debug, Clone)]
struct Setting {
    value: String,
    origin: String,
}

impl Config {
    /// Builds the configuration from an optional file (its path, for messages, and its text)
    /// and the process environment (`std::env::vars()` in the binary; anything in tests).
    pub fn load(
        file: Option<(&str, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut settings = BTreeMap::new();
        if let Some((path, text)) = file {
            read_file(path, text, &mut settings)?;
        }
        for (name, value) in env {
            if let Some(key) = env_key(&name) {
                settings.insert(key, Setting { value, origin: name });
            }
        }
        Config::from_settings(&settings)
    }

    /// `GUILDHALL_*` variables in `env` that are neither configuration keys nor otherwise
    /// known: probably typos, worth a warning.
    pub fn unknown_env(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        env.into_iter()
            .map(|(name, _)| name)
            .filter(|n| n.starts_with("GUILDHALL_") && env_key(n).is_none())
            .filter(|n| !OTHER_ENV.contains(&n.as_str()))
            .collect()
    }

    /// The configuration with every default: what `guildhall serve` uses with no file and no
    /// environment.
    pub fn defaults() -> Config {
        let settings = BTreeMap::new();
        match Config::from_settings(&settings) {
            Ok(config) => config,
            Err(e) => unreachable!("built-in defaults are valid: {e}"),
        }
    }

    /// The URL scheme of our own ids: `http` in insecure mode, else `https`.
    pub fn scheme(&self) -> &'static str {
        if self.insecure { "http" } else { "https" }
    }

    /// The base URL of this instance, such as `https://museums.example`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.domain)
    }

    fn from_settings(s: &BTreeMap<&'static str, Setting>) -> Result<Config, ConfigError> {
        let domain = parse_or(s, "domain", "localhost:8080", |v| Domain::parse(v).ok(), DOMAIN_HINT)?;
        let listen = parse_or(s, "listen", "127.0.0.1:8080", |v| v.parse().ok(), LISTEN_HINT)?;
        let data_dir = parse_or(s, "data_dir", "./data", non_empty_path, PATH_HINT)?;
        let media_dir = match s.get("media_dir") {
            Some(_) => parse_or(s, "media_dir", "", non_empty_path, PATH_HINT)?,
            None => data_dir.join("media"),
        };
        let database_url = match s.get("database_url") {
            Some(_) => parse_or(s, "database_url", "", DatabaseUrl::parse, DB_HINT)?,
            None => DatabaseUrl::Sqlite(data_dir.join("guildhall.db")),
        };
        let insecure_default = if domain.is_localhost() { "true" } else { "false" };
        let insecure = parse_or(s, "insecure", insecure_default, parse_bool, BOOL_HINT)?;
        let log_format = parse_or(s, "log_format", "text", LogFormat::parse, LOG_HINT)?;
        let registrations =
            parse_or(s, "registrations", "closed", RegistrationMode::parse, REGISTRATIONS_HINT)?;
        let registrations_reason_required =
            parse_or(s, "registrations_reason_required", "false", parse_bool, BOOL_HINT)?;
        let password_min_length =
            parse_or(s, "password_min_length", "8", parse_password_length, PASSWORD_LENGTH_HINT)?;
        let trusted_proxies =
            parse_or(s, "trusted_proxies", "127.0.0.0/8,::1", crate::net::Cidr::parse_list, PROXIES_HINT)?;
        let thumbnail = match s.get("thumbnail") {
            Some(_) => Some(parse_or(s, "thumbnail", "", non_empty_path, FILE_HINT)?),
            None => None,
        };
        let smtp_url = match s.get("smtp_url") {
            Some(_) => Some(parse_or(s, "smtp_url", "", crate::mail::SmtpUrl::parse, SMTP_HINT)?),
            None => None,
        };
        let default_from = format!("notifications@{}", domain.host());
        let mail_from = parse_or(s, "mail_from", &default_from, crate::mail::MailFrom::parse, FROM_HINT)?;
        let mail_listen = match s.get("mail_listen") {
            Some(_) => Some(parse_or(s, "mail_listen", "", |v| v.parse().ok(), LISTEN_HINT)?),
            None => None,
        };
        let metrics_listen = match s.get("metrics_listen") {
            Some(_) => Some(parse_or(s, "metrics_listen", "", |v| v.parse().ok(), LISTEN_HINT)?),
            None => None,
        };
        Ok(Config {
            metrics_listen,
            smtp_url,
            mail_from,
            mail_listen,
            thumbnail,
            domain,
            listen,
            database_url,
            data_dir,
            media_dir,
            insecure,
            log_format,
            registrations,
            registrations_reason_required,
            password_min_length,
            trusted_proxies,
        })
    }
}

const DOMAIN_HINT: &str =
    "a host name with an optional port, such as museums.example or localhost:8080 (not an IP address)";
const LISTEN_HINT: &str = "an IP address and port, such as 127.0.0.1:8080 or [::]:8080";
const PATH_HINT: &str = "a directory path";
const FILE_HINT: &str = "a file path";
const DB_HINT: &str = "sqlite://PATH or postgres://USER@HOST/DATABASE";
const BOOL_HINT: &str = "true or false";
const LOG_HINT: &str = "text or json";
const REGISTRATIONS_HINT: &str = "closed, approval or open";
const PROXIES_HINT: &str = "comma-separated addresses or ranges, such as 127.0.0.1,10.0.0.0/8";
const SMTP_HINT: &str = "smtp://HOST:PORT, smtps://USER:PASSWORD@HOST:PORT or smtp://HOST:PORT?tls=starttls";
const FROM_HINT: &str =
    "an address such as notifications@museums.example or \"Museums\" <notifications@museums.example>";
const PASSWORD_LENGTH_HINT: &str = "a whole number from 8 to 256";

fn read_file(
    path: &str,
    text: &str,
    settings: &mut BTreeMap<&'static str, Setting>,
) -> Result<(), ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax {
        path: path.into(),
        message: e.message().into(),
    })?;
    for (key, value) in table {
        let Some(known) = KEYS.iter().find(|k| **k == key) else {
            return Err(ConfigError::UnknownKey { path: path.into(), key });
        };
        let value = match value {
            toml::Value::String(s) => s,
            other => other.to_string(),
        };
        settings.insert(known, Setting { value, origin: format!("{key} in {path}") });
    }
    Ok(())
}

fn env_key(name: &str) -> Option<&'static str> {
    let key = name.strip_prefix("GUILDHALL_")?.to_ascii_lowercase();
    KEYS.iter().copied().find(|k| *k == key)
}

fn parse_or<T>(
    settings: &BTreeMap<&'static str, Setting>,
    key: &'static str,
    default: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<T, ConfigError> {
    let (value, origin) = match settings.get(key) {
        Some(s) => (s.value.as_str(), s.origin.as_str()),
        None => (default, key),
    };
    parse(value.trim()).ok_or_else(|| ConfigError::BadValue {
        key: origin.to_owned(),
        value: redact_url(value),
        expected: expected.to_owned(),
    })
}

fn non_empty_path(v: &str) -> Option<PathBuf> {
    (!v.is_empty()).then(|| PathBuf::from(v))
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_password_length(v: &str) -> Option<usize> {
    let n: usize = v.parse().ok()?;
    (crate::password::MIN_PASSWORD_LEN..=crate::password::MAX_PASSWORD_LEN).contains(&n).then_some(n)
}

impl RegistrationMode {
    /// The mode spelled `v` (`closed`, `approval`, `open`; any case).
    pub fn parse(v: &str) -> Option<RegistrationMode> {
        match v.to_ascii_lowercase().as_str() {
            "closed" => Some(RegistrationMode::Closed),
            "approval" => Some(RegistrationMode::Approval),
            "open" => Some(RegistrationMode::Open),
            _ => None,
        }
    }

    /// The configuration spelling: `closed`, `approval` or `open`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationMode::Closed => "closed",
            RegistrationMode::Approval => "approval",
            RegistrationMode::Open => "open",
        }
    }
}

impl LogFormat {
    fn parse(v: &str) -> Option<LogFormat> {
        match v.to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH`, `postgres://…` or `postgresql://…`.
    pub fn parse(v: &str) -> Option<DatabaseUrl> {
        if let Some(path) = v.strip_prefix("sqlite://") {
            return non_empty_path(path).map(DatabaseUrl::Sqlite);
        }
        let is_pg = v.starts_with("postgres://") || v.starts_with("postgresql://");
        (is_pg && v.len() > "postgres://".len()).then(|| DatabaseUrl::Postgres(v.to_owned()))
    }

    /// True for PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Replaces the password of a `scheme://user:password@host` URL (and a `password=` query
/// parameter) with `***`.
pub fn redact_url(url: &str) -> String {
    let url = &redact_query_password(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

fn redact_query_password(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some(("password", _)) => "password=***".to_owned(),
            _ => p.to_owned(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests;

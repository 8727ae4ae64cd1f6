//! The public domain of an instance: `host[:port]`.
//!
//! An instance is known by host *and* port, so several instances can run side by side on
//! `localhost`. The host must be a name: activitypub_federation refuses URLs whose host is an IP
//! literal, and so does the fediverse at large.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A validated, lower-cased `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain {
    host: String,
    port: Option<u16>,
}

/// Why a string is not a usable instance domain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// The host part was an IPv4 or IPv6 literal.
    #[error("'{0}' is an IP address; a domain name is required")]
    IpLiteral(String),
    /// The port after `:` was not a number from 1 to 65535.
    #[error("'{0}' has an invalid port")]
    BadPort(String),
    /// The host was empty, too long, or not made of DNS labels.
    #[error("'{0}' is not a host name (expected letters, digits, '-' and '.')")]
    BadHost(String),
}

impl Domain {
    /// Parses `host` or `host:port`.
    ///
    /// ```
    /// use guildhall_core::Domain;
    /// assert_eq!(Domain::parse("LocalHost:8081").unwrap().to_string(), "localhost:8081");
    /// assert!(Domain::parse("127.0.0.1:8081").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Domain, DomainError> {
        let raw = raw.trim();
        if raw.starts_with('[') || raw.parse::<std::net::IpAddr>().is_ok() {
            return Err(DomainError::IpLiteral(raw.to_owned()));
        }
        let (host, port) = match raw.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse::<u16>().ok().filter(|p| *p != 0);
                (host, Some(port.ok_or_else(|| DomainError::BadPort(raw.to_owned()))?))
            }
            None => (raw, None),
        };
        if host.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err(DomainError::IpLiteral(raw.to_owned()));
        }
        if !is_host_name(host) {
            return Err(DomainError::BadHost(raw.to_owned()));
        }
        Ok(Domain { host: host.to_ascii_lowercase(), port })
    }

    /// The host name, without port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, when one was given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// True for `localhost` (any port): the only domain where insecure mode is the default.
    pub fn is_localhost(&self) -> bool {
        self.host == "localhost"
    }
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

impl FromStr for Domain {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Domain::parse(s)
    }
}

impl TryFrom<String> for Domain {
    type Error = DomainError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Domain::parse(&value)
    }
}

impl From<Domain> for String {
    fn from(value: Domain) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_and_port() {
        let d = Domain::parse("LocalHost:8080").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.host(), d.port(), d.is_localhost()), ("localhost", Some(8080), true));
        assert_eq!(d.to_string(), "localhost:8080");
        let d = Domain::parse("museums.example").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.port(), d.is_localhost()), (None, false));
    }

    #[test]
    fn refuses_ip_literals() {
        for ip in ["127.0.0.1", "127.0.0.1:8080", "::1", "[::1]:80"] {
            assert!(matches!(Domain::parse(ip), Err(DomainError::IpLiteral(_))), "{ip}");
        }
    }

    #[test]
    fn refuses_bad_hosts_and_ports() {
        assert!(matches!(Domain::parse("localhost:0"), Err(DomainError::BadPort(_))));
        assert!(matches!(Domain::parse("localhost:http"), Err(DomainError::BadPort(_))));
        for bad in ["", "exa mple.org", "-bad.org", "a..b", "https://x.org", "x.org/"] {
            assert!(Domain::parse(bad).is_err(), "{bad}");
        }
    }
}

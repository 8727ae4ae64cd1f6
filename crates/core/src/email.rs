//! E-mail addresses of local users.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A plausible e-mail address: `local@domain`, no spaces, at most 254 characters, the domain
/// holding a dot. Stored lower-cased, as addresses are compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a string is not an acceptable e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("'{0}' is not a valid e-mail address (expected name@example.org)")]
pub struct EmailError(pub String);

impl Email {
    /// Validates `raw` as an e-mail address.
    pub fn parse(raw: &str) -> Result<Email, EmailError> {
        let raw = raw.trim();
        let invalid = || EmailError(raw.to_owned());
        if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = raw.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Email(raw.to_lowercase()))
    }

    /// The address, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_lowercases() {
        assert_eq!(Email::parse(" Ada@Museum.Example ").map(String::from), Ok("ada@museum.example".into()));
    }

    #[test]
    fn rejects_implausible_addresses() {
        for bad in ["", "ada", "ada@", "@museum.org", "ada@museum", "a da@m.org", "ada@.org", "ada@m..org"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Local usernames, shared by people and groups.
//!
//! `name@domain` must always mean exactly one actor, so people and groups draw from one
//! namespace, and names are unique regardless of case: `Alice` and `alice` are the same name.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest allowed username, in characters.
pub const MAX_USERNAME_LEN: usize = 30;

/// Names nobody may take by signing up (an admin may still create them), because people
/// would take an account holding one for the instance's staff or software.
pub const RESERVED_USERNAMES: [&str; 14] = [
    "admin",
    "administrator",
    "root",
    "support",
    "help",
    "staff",
    "moderator",
    "moderators",
    "mod",
    "abuse",
    "security",
    "postmaster",
    "webmaster",
    "guildhall",
];

/// A valid local username: 1–30 ASCII letters, digits or underscores. Case is kept for display.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

/// Why a string is not a valid username.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsernameError {
    /// The name was empty.
    #[error("a username cannot be empty")]
    Empty,
    /// The name was longer than [`MAX_USERNAME_LEN`] characters.
    #[error("username '{0}' is longer than 30 characters")]
    TooLong(String),
    /// The name held something other than ASCII letters, digits and underscores.
    #[error("username '{0}' may only contain ASCII letters, digits and underscores")]
    InvalidCharacter(String),
}

impl Username {
    /// Validates `raw` as a username.
    ///
    /// ```
    /// use guildhall_core::Username;
    /// let name = Username::parse("Museum_Computing").unwrap();
    /// assert_eq!(name.key(), "museum_computing");
    /// assert!(Username::parse("museum.computing").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Username, UsernameError> {
        if raw.is_empty() {
            return Err(UsernameError::Empty);
        }
        if raw.len() > MAX_USERNAME_LEN {
            return Err(UsernameError::TooLong(raw.to_owned()));
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(UsernameError::InvalidCharacter(raw.to_owned()));
        }
        Ok(Username(raw.to_owned()))
    }

    /// The name as given, for display.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// True for a name in [`RESERVED_USERNAMES`] (any case).
    ///
    /// ```
    /// use guildhall_core::Username;
    /// assert!(Username::parse("Admin").unwrap().is_reserved());
    /// assert!(!Username::parse("ada").unwrap().is_reserved());
    /// ```
    pub fn is_reserved(&self) -> bool {
        RESERVED_USERNAMES.contains(&self.key().as_str())
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Username::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_letters_digits_underscore_up_to_thirty() {
        for ok in ["a", "Alice_99", "_", &"x".repeat(30)] {
            assert_eq!(Username::parse(ok).map(|u| u.to_string()), Ok(ok.to_string()));
        }
    }

    #[test]
    fn rejects_empty_long_and_foreign_characters() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        assert!(matches!(Username::parse(&"x".repeat(31)), Err(UsernameError::TooLong(_))));
        for bad in ["al ice", "al.ice", "al-ice", "ålice", "alice@host"] {
            assert!(matches!(Username::parse(bad), Err(UsernameError::InvalidCharacter(_))), "{bad}");
        }
    }

    #[test]
    fn key_folds_case() {
        assert_eq!(Username::parse("MuseumComputing").map(|u| u.key()), Ok("museumcomputing".into()));
    }
}

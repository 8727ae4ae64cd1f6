//! Password hashing with Argon2id (PHC string format, random salt per hash).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use thiserror::Error;

/// Shortest password accepted for a new account.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted (Argon2 copes with more; this bounds the work per request).
pub const MAX_PASSWORD_LEN: usize = 256;

/// Why a password cannot be set or checked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    /// The new password is shorter than [`MIN_PASSWORD_LEN`].
    #[error("the password must be at least 8 characters long")]
    TooShort,
    /// The new password is longer than [`MAX_PASSWORD_LEN`].
    #[error("the password must be at most 256 characters long")]
    TooLong,
    /// Hashing failed inside Argon2 (should not happen with valid parameters).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Checks the length rules and returns an Argon2id hash of `password`.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    if chars > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Spends the time [`verify`] would on a real account, for a login that has none, so the time
/// a sign-in takes does not tell whether an address is registered. Always false.
pub fn verify_nobody(password: &str) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"no account has this password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    });
    verify(password, dummy);
    false
}

/// True when `password` matches the stored `hash`. A malformed hash never matches.
pub fn verify(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn salts_differ() {
        assert_ne!(hash("same password").unwrap(), hash("same password").unwrap());
    }

    #[test]
    fn length_rules() {
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
        assert_eq!(hash(&"x".repeat(257)), Err(PasswordError::TooLong));
    }
}

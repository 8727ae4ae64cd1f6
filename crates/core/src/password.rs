//! Password hashing with Argon2id (PHC string format, random salt per hash).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
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
///
/// The Argon2 working memory (19 MiB with the default parameters) is kept per thread and
/// reused: allocated and freed per sign-in, the allocator kept it around in every thread's
/// arena (10,000 refused sign-ins left hundreds of megabytes behind).
pub fn verify(password: &str, hash: &str) -> bool {
    thread_local! {
        static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Ok(params), Some(salt), Some(expected)) =
        (argon2::Params::try_from(&parsed), parsed.salt, parsed.hash)
    else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else { return false };
    let version = match parsed.version.map(argon2::Version::try_from) {
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
        None => argon2::Version::default(),
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    let hashed = MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        memory.resize(params.block_count(), argon2::Block::default());
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory.as_mut_slice())
    });
    hashed.is_ok() && crate::keys::constant_time_eq(&out, expected.as_bytes())
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

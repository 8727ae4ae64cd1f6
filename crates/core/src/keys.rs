//! RSA key pairs for actors: the keys that sign our HTTP requests.
//!
//! Keys are generated with aws-lc (fast, constant-time) and kept as PEM text: PKCS#8 for the
//! private key, SubjectPublicKeyInfo for the public key, the forms ActivityPub `publicKeyPem`
//! and activitypub_federation expect.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::Engine;
use thiserror::Error;

/// An actor's key pair as PEM text.
#[derive(Clone, PartialEq, Eq)]
pub struct ActorKeys {
    /// `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo).
    pub public_pem: String,
    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8). A secret: never log it.
    pub private_pem: String,
}

impl std::fmt::Debug for ActorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorKeys").field("public_pem", &self.public_pem).finish_non_exhaustive()
    }
}

/// Key generation failed inside the crypto library.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("RSA key generation failed")]
pub struct KeyError;

/// Generates a new 2048-bit RSA key pair, the size the fediverse expects.
pub fn generate() -> Result<ActorKeys, KeyError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError)?;
    let private = pair.as_der().map_err(|_| KeyError)?;
    let public = pair.public_key().as_der().map_err(|_| KeyError)?;
    Ok(ActorKeys {
        public_pem: pem("PUBLIC KEY", public.as_ref()),
        private_pem: pem("PRIVATE KEY", private.as_ref()),
    })
}

/// A parsed private key, ready to sign many messages (parse once, sign per delivery).
///
/// Signs with aws-lc. The pure-Rust `rsa` crate (what activitypub_federation uses) is kept as
/// a second backend only so benchmarks can compare the two on the same fan-out.
pub struct SigningKey(Backend);

enum Backend {
    AwsLc(KeyPair),
    RsaCrate(Box<rsa::pkcs1v15::SigningKey<rsa::sha2::Sha256>>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Parses a PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM key.
    pub fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let der = der_from_pem(pem).ok_or(KeyError)?;
        let pair = KeyPair::from_pkcs8(&der).or_else(|_| KeyPair::from_der(&der)).map_err(|_| KeyError)?;
        Ok(SigningKey(Backend::AwsLc(pair)))
    }

    /// The same key on the `rsa` crate's (slower) implementation, for comparison benchmarks.
    pub fn from_pem_rsa_crate(pem: &str) -> Result<SigningKey, KeyError> {
        use rsa::pkcs8::DecodePrivateKey;
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|_| KeyError)?;
        Ok(SigningKey(Backend::RsaCrate(Box::new(rsa::pkcs1v15::SigningKey::new(key)))))
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`, base64-encoded (the form HTTP signatures
    /// carry).
    pub fn sign_base64(&self, message: &[u8]) -> Result<String, KeyError> {
        let sig = match &self.0 {
            Backend::AwsLc(pair) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig).map_err(|_| KeyError)?;
                sig
            }
            Backend::RsaCrate(key) => {
                use rsa::signature::{SignatureEncoding, Signer};
                key.try_sign(message).map_err(|_| KeyError)?.to_vec()
            }
        };
        Ok(base64::engine::general_purpose::STANDARD.encode(sig))
    }
}

/// Checks a base64 RSASSA-PKCS1-v1_5 SHA-256 signature of `message` against a public key PEM
/// (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`). Anything malformed is simply not valid.
pub fn verify_base64(public_pem: &str, message: &[u8], signature_b64: &str) -> bool {
    let Some(der) = der_from_pem(public_pem) else { return false };
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()) else {
        return false;
    };
    let key = UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &der);
    key.verify(message, &sig).is_ok()
}

/// SHA-256 of `body`, base64-encoded: the value of a `Digest: SHA-256=...` header.
pub fn sha256_base64(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// SHA-256 of `text`, lower-case hex (the `digest` of a published domain block).
pub fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random secret (OAuth tokens, codes, client secrets): 32 random bytes, base64url.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How a secret is stored: SHA-256, base64url. Looking up by hash means a copy of the
/// database grants nothing.
pub fn token_hash(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// True when `a` and `b` are equal, in time that depends only on their lengths (for secrets).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The prefix of a hashed client secret as stored (older rows held the secret itself).
pub const HASHED_SECRET_PREFIX: &str = "sha256:";

/// How a client secret is stored: [`HASHED_SECRET_PREFIX`] and its [`token_hash`].
pub fn secret_hash(secret: &str) -> String {
    format!("{HASHED_SECRET_PREFIX}{}", token_hash(secret))
}

/// True when `given` is the secret `stored` (as [`secret_hash`] made it, or a legacy plain
/// secret), compared in constant time.
pub fn secret_matches(stored: &str, given: &str) -> bool {
    match stored.strip_prefix(HASHED_SECRET_PREFIX) {
        Some(hash) => constant_time_eq(hash.as_bytes(), token_hash(given).as_bytes()),
        None => constant_time_eq(stored.as_bytes(), given.as_bytes()),
    }
}

/// The DER bytes inside PEM armour (any label).
fn der_from_pem(pem: &str) -> Option<Vec<u8>> {
    let body: String =
        pem.lines().map(str::trim).filter(|l| !l.starts_with("-----") && !l.is_empty()).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Wraps DER bytes in PEM armour with 64-character lines.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(pem: &str) -> Vec<u8> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD.decode(body).unwrap()
    }

    #[test]
    fn generated_keys_are_pem_and_belong_together() {
        let keys = generate().unwrap();
        assert!(keys.public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(keys.private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(keys.private_pem.lines().all(|l| l.len() <= 64));
        let pair = KeyPair::from_pkcs8(&der(&keys.private_pem)).unwrap();
        assert_eq!(pair.public_key().as_der().unwrap().as_ref(), der(&keys.public_pem).as_slice());
        assert!(!format!("{keys:?}").contains("PRIVATE"), "Debug must not show the private key");
    }

    #[test]
    fn signatures_verify_with_the_matching_public_key_only() {
        let keys = generate().unwrap();
        let other = generate().unwrap();
        let signer = SigningKey::from_pem(&keys.private_pem).unwrap();
        let sig = signer.sign_base64(b"(request-target): post /inbox").unwrap();
        assert!(verify_base64(&keys.public_pem, b"(request-target): post /inbox", &sig));
        assert!(!verify_base64(&keys.public_pem, b"(request-target): post /inbox2", &sig));
        assert!(!verify_base64(&other.public_pem, b"(request-target): post /inbox", &sig));
        assert!(!verify_base64("garbage", b"x", &sig));
        assert!(!verify_base64(&keys.public_pem, b"x", "%%%"));
        assert!(SigningKey::from_pem("nope").is_err());
        let slow = SigningKey::from_pem_rsa_crate(&keys.private_pem).unwrap();
        assert_eq!(
            slow.sign_base64(b"same").unwrap(),
            signer.sign_base64(b"same").unwrap(),
            "PKCS#1 v1.5 is deterministic"
        );
    }

    #[test]
    fn each_call_gives_a_new_key() {
        assert_ne!(generate().unwrap().public_pem, generate().unwrap().public_pem);
    }
}

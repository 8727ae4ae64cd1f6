//! RSA key pairs for actors: the keys that sign our HTTP requests.
//!
//! Keys are generated with aws-lc (fast, constant-time) and kept as PEM text: PKCS#8 for the
//! private key, SubjectPublicKeyInfo for the public key, the forms ActivityPub `publicKeyPem`
//! and activitypub_federation expect.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
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
    fn each_call_gives_a_new_key() {
        assert_ne!(generate().unwrap().public_pem, generate().unwrap().public_pem);
    }
}

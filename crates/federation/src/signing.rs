//! HTTP signatures (draft-cavage, as Mastodon speaks them): signing our requests with a fast
//! RSA implementation, and verifying incoming ones.
//!
//! We sign `(request-target) host date` plus `digest content-type` for requests with a body,
//! algorithm `hs2019` with RSASSA-PKCS1-v1_5 SHA-256, which Mastodon, GoToSocial, Lemmy,
//! Pleroma/Akkoma and Misskey all verify.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use guildhall_core::keys::{SigningKey, sha256_base64, verify_base64};
use http_signature_normalization::Config as SigConfig;
use thiserror::Error;
use url::Url;

/// Signatures older than this (by their `Date`) are refused; it also bounds clock skew.
pub const SIGNATURE_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// Why a request could not be signed or a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// There was no `Signature` header.
    #[error("missing HTTP signature")]
    Missing,
    /// The header was unparseable, expired, or lacked a required header.
    #[error("invalid HTTP signature: {0}")]
    Invalid(String),
    /// The `Digest` header is missing or does not match the body.
    #[error("body digest missing or wrong")]
    Digest,
    /// The signature does not verify with the key.
    #[error("signature does not match the key")]
    Mismatch,
    /// Signing failed (bad key).
    #[error("could not sign: {0}")]
    Sign(String),
}

fn config() -> SigConfig {
    SigConfig::new().mastodon_compat().set_expiration(SIGNATURE_MAX_AGE)
}

/// `host[:port]` of a URL, as the Host header carries it.
pub fn host_header(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => String::new(),
    }
}

fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The headers to add to a request: `Host`, `Date`, `Signature`, and for a body `Digest` and
/// `Content-Type`.
pub fn sign(
    method: &str,
    url: &Url,
    body: Option<&[u8]>,
    key_id: &str,
    key: &SigningKey,
) -> Result<Vec<(&'static str, String)>, SignatureError> {
    let mut headers = vec![("host", host_header(url)), ("date", httpdate::fmt_http_date(SystemTime::now()))];
    if let Some(body) = body {
        headers.push(("digest", format!("SHA-256={}", sha256_base64(body))));
        headers.push(("content-type", crate::AP_CONTENT_TYPE.to_owned()));
    }
    let map: BTreeMap<String, String> = headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let signature = config()
        .begin_sign(&method.to_lowercase(), &path_and_query(url), map)
        .map_err(|e| SignatureError::Sign(e.to_string()))?
        .sign(key_id.to_owned(), |signing_string| key.sign_base64(signing_string.as_bytes()))
        .map_err(|e| SignatureError::Sign(e.to_string()))?
        .signature_header();
    headers.push(("signature", signature));
    Ok(headers)
}

/// The headers of an incoming request as the verifier wants them: lower-case names, text values.
pub fn header_map(request: &actix_web::HttpRequest) -> BTreeMap<String, String> {
    request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_lowercase(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// A parsed, not yet verified incoming signature.
#[derive(Debug)]
pub struct IncomingSignature {
    key_id: String,
    signing_string: String,
    signature: String,
}

impl IncomingSignature {
    /// Parses the `Signature` header of a request (header names lower-case). Checks the date
    /// window, that `(request-target)`, `host` and `date` are signed, and for a body that the
    /// digest is signed and matches.
    pub fn parse(
        method: &str,
        path_and_query: &str,
        headers: BTreeMap<String, String>,
        body: Option<&[u8]>,
    ) -> Result<IncomingSignature, SignatureError> {
        if !headers.contains_key("signature") && !headers.contains_key("authorization") {
            return Err(SignatureError::Missing);
        }
        if let Some(body) = body {
            check_digest(headers.get("digest").map(String::as_str), body)?;
        }
        let signed = signed_headers(headers.get("signature").or_else(|| headers.get("authorization")));
        if !signed.iter().any(|h| h == "(request-target)") {
            return Err(SignatureError::Invalid("(request-target) is not signed".into()));
        }
        if !signed.iter().any(|h| h == "date" || h == "(created)") {
            return Err(SignatureError::Invalid("neither date nor (created) is signed".into()));
        }
        // Verification accepts both Mastodon's form (date, host) and draft 11's (created)
        // and (expires), as activitypub_federation (Lemmy) signs its fetches.
        let mut cfg = SigConfig::new().set_expiration(SIGNATURE_MAX_AGE);
        if body.is_some() {
            cfg = cfg.require_digest();
        }
        let unverified = cfg
            .begin_verify(&method.to_lowercase(), path_and_query, headers)
            .map_err(|e| SignatureError::Invalid(e.to_string()))?;
        Ok(IncomingSignature {
            key_id: unverified.key_id().to_owned(),
            signing_string: unverified.signing_string().to_owned(),
            signature: unverified.signature().to_owned(),
        })
    }

    /// The `keyId`: which actor's key the sender claims to have used.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Checks the signature against a public key PEM.
    pub fn verify(&self, public_key_pem: &str) -> Result<(), SignatureError> {
        if verify_base64(public_key_pem, self.signing_string.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// The `headers="..."` list of a Signature header, lower-cased (the draft's default is `date`).
fn signed_headers(header: Option<&String>) -> Vec<String> {
    let Some(header) = header else { return Vec::new() };
    let list = header.split(',').map(str::trim).find_map(|part| part.strip_prefix("headers="));
    match list {
        Some(list) => list.trim_matches('"').split_whitespace().map(str::to_lowercase).collect(),
        None => vec!["date".to_owned()],
    }
}

/// Checks a `Digest` header (`SHA-256=base64`, possibly among others) against the body.
fn check_digest(header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Digest)?;
    let expected = sha256_base64(body);
    let matches = header
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .any(|(alg, value)| alg.eq_ignore_ascii_case("SHA-256") && value.trim() == expected);
    if matches { Ok(()) } else { Err(SignatureError::Digest) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_request(body: &[u8]) -> (BTreeMap<String, String>, guildhall_core::keys::ActorKeys) {
        let keys = guildhall_core::keys::generate().unwrap();
        let key = SigningKey::from_pem(&keys.private_pem).unwrap();
        let url = Url::parse("http://localhost:8081/users/ada/inbox").unwrap();
        let headers =
            sign("POST", &url, Some(body), "http://localhost:8080/users/bob#main-key", &key).unwrap();
        (headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), keys)
    }

    #[test]
    fn a_signed_request_verifies() {
        let (headers, keys) = signed_request(b"{}");
        assert_eq!(headers["host"], "localhost:8081");
        let sig = IncomingSignature::parse("POST", "/users/ada/inbox", headers, Some(b"{}")).unwrap();
        assert_eq!(sig.key_id(), "http://localhost:8080/users/bob#main-key");
        assert_eq!(sig.verify(&keys.public_pem), Ok(()));
        let other = guildhall_core::keys::generate().unwrap();
        assert_eq!(sig.verify(&other.public_pem), Err(SignatureError::Mismatch));
    }

    #[test]
    fn tampering_is_detected() {
        let (headers, keys) = signed_request(b"{}");
        let tampered = IncomingSignature::parse("POST", "/users/ada/inbox", headers.clone(), Some(b"{ }"));
        assert_eq!(tampered.unwrap_err(), SignatureError::Digest);
        let other_path = IncomingSignature::parse("POST", "/inbox", headers.clone(), Some(b"{}")).unwrap();
        assert_eq!(other_path.verify(&keys.public_pem), Err(SignatureError::Mismatch));
        let mut no_sig = headers;
        no_sig.remove("signature");
        assert_eq!(
            IncomingSignature::parse("POST", "/", no_sig, Some(b"{}")).unwrap_err(),
            SignatureError::Missing
        );
    }

    #[test]
    fn draft_11_signatures_with_created_are_accepted() {
        let keys = guildhall_core::keys::generate().unwrap();
        let key = SigningKey::from_pem(&keys.private_pem).unwrap();
        let signature = SigConfig::new()
            .begin_sign("get", "/users/ada/statuses/1", BTreeMap::new())
            .unwrap()
            .sign("http://localhost:8081/actor#main-key".into(), |s| key.sign_base64(s.as_bytes()))
            .unwrap()
            .signature_header();
        let headers = BTreeMap::from([("signature".to_string(), signature)]);
        let sig = IncomingSignature::parse("GET", "/users/ada/statuses/1", headers, None).unwrap();
        assert_eq!(sig.verify(&keys.public_pem), Ok(()));
    }

    #[test]
    fn undated_signatures_are_refused() {
        let header = r#"keyId="k",algorithm="hs2019",headers="(request-target) host",signature="AAAA""#;
        let headers = BTreeMap::from([
            ("signature".to_string(), header.to_string()),
            ("host".into(), "localhost".into()),
        ]);
        let err = IncomingSignature::parse("GET", "/x", headers, None).unwrap_err();
        assert_eq!(err, SignatureError::Invalid("neither date nor (created) is signed".into()));
    }

    #[test]
    fn old_signatures_are_refused() {
        let (mut headers, _) = signed_request(b"{}");
        headers.insert("date".into(), httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(7200)));
        let err = IncomingSignature::parse("POST", "/users/ada/inbox", headers, Some(b"{}")).unwrap_err();
        assert!(matches!(err, SignatureError::Invalid(_)), "{err:?}");
    }
}

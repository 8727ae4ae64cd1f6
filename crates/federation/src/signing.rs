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
    /// Parses the `Signature` (or `Authorization: Signature …`) header of a request addressed
    /// to `our_host` (header names lower-case) and binds it to us:
    /// - every parameter appears once (the parser we verify with keeps the last of a
    ///   duplicate, so two `headers=` lists could show us one and it another);
    /// - `(request-target)`, `host` and `date` or `(created)` are signed;
    /// - the `Host` header is our domain, so a request signed for another server cannot be
    ///   replayed here;
    /// - the date (or `created`) is within [`SIGNATURE_MAX_AGE`] of now either way, and
    ///   `expires`, if given, has not passed;
    /// - for a body, the digest is signed and matches.
    pub fn parse(
        method: &str,
        path_and_query: &str,
        mut headers: BTreeMap<String, String>,
        body: Option<&[u8]>,
        our_host: &str,
    ) -> Result<IncomingSignature, SignatureError> {
        let header = match headers.remove("authorization") {
            Some(auth) if auth.trim_start().starts_with("Signature ") => {
                headers.remove("signature");
                auth
            }
            _ => headers.remove("signature").ok_or(SignatureError::Missing)?,
        };
        let params = SignatureParams::parse(&header)?;
        if let Some(body) = body {
            check_digest(headers.get("digest").map(String::as_str), body)?;
            params.require("digest")?;
        }
        params.require("(request-target)")?;
        params.require("host")?;
        let host = headers.get("host").map(|h| h.to_lowercase());
        if host.as_deref() != Some(&our_host.to_lowercase()) {
            return Err(SignatureError::Invalid("the signed host is not this server".into()));
        }
        params.check_time(headers.get("date").map(String::as_str), SystemTime::now())?;
        // Verification accepts both Mastodon's form (date, host) and draft 11's (created)
        // and (expires), as activitypub_federation (Lemmy) signs its fetches.
        let mut cfg = SigConfig::new().set_expiration(SIGNATURE_MAX_AGE);
        if body.is_some() {
            cfg = cfg.require_digest();
        }
        headers.insert("signature".into(), header);
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

/// The parameters of a Signature header, split exactly as the verifying library splits them.
#[derive(Debug)]
struct SignatureParams {
    /// The signed header names, lower-case (the draft's default is `(created)`).
    signed: Vec<String>,
    created: Option<u64>,
    expires: Option<u64>,
}

impl SignatureParams {
    fn parse(header: &str) -> Result<SignatureParams, SignatureError> {
        let body = header.trim().trim_start_matches("Signature").trim();
        let mut seen = std::collections::HashMap::new();
        for part in body.split(',') {
            let Some((key, value)) = part.split_once('=') else { continue };
            if seen.insert(key.to_owned(), value.trim_matches('"').to_owned()).is_some() {
                return Err(SignatureError::Invalid(format!("the {key} parameter is repeated")));
            }
        }
        let number = |name: &str| -> Result<Option<u64>, SignatureError> {
            seen.get(name)
                .map(|v| v.parse().map_err(|_| SignatureError::Invalid(format!("{name} is not a timestamp"))))
                .transpose()
        };
        let signed = match seen.get("headers") {
            Some(list) => list.split_whitespace().map(str::to_lowercase).collect(),
            None => vec!["(created)".to_owned()],
        };
        Ok(SignatureParams { signed, created: number("created")?, expires: number("expires")? })
    }

    fn signs(&self, name: &str) -> bool {
        self.signed.iter().any(|h| h == name)
    }

    fn require(&self, name: &str) -> Result<(), SignatureError> {
        if self.signs(name) { Ok(()) } else { Err(SignatureError::Invalid(format!("{name} is not signed"))) }
    }

    /// The signed date or `(created)` lies within [`SIGNATURE_MAX_AGE`] of `now`, both ways;
    /// a signed `(expires)` has not passed.
    fn check_time(&self, date: Option<&str>, now: SystemTime) -> Result<(), SignatureError> {
        let from_unix = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let when = if self.signs("(created)") {
            from_unix(self.created.ok_or_else(|| SignatureError::Invalid("created is missing".into()))?)
        } else if self.signs("date") {
            let date = date.ok_or_else(|| SignatureError::Invalid("the Date header is missing".into()))?;
            httpdate::parse_http_date(date)
                .map_err(|_| SignatureError::Invalid("the Date header is malformed".into()))?
        } else {
            return Err(SignatureError::Invalid("neither date nor (created) is signed".into()));
        };
        let skew = now.duration_since(when).unwrap_or_else(|e| e.duration());
        if skew > SIGNATURE_MAX_AGE {
            return Err(SignatureError::Invalid("the signature is too old or dated in the future".into()));
        }
        if self.signs("(expires)") {
            let expires = self.expires.ok_or_else(|| SignatureError::Invalid("expires is missing".into()))?;
            if from_unix(expires) < now {
                return Err(SignatureError::Invalid("the signature has expired".into()));
            }
        }
        Ok(())
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

    /// The host the test requests are addressed to.
    const US: &str = "localhost:8081";

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
        let sig = IncomingSignature::parse("POST", "/users/ada/inbox", headers, Some(b"{}"), US).unwrap();
        assert_eq!(sig.key_id(), "http://localhost:8080/users/bob#main-key");
        assert_eq!(sig.verify(&keys.public_pem), Ok(()));
        let other = guildhall_core::keys::generate().unwrap();
        assert_eq!(sig.verify(&other.public_pem), Err(SignatureError::Mismatch));
    }

    #[test]
    fn tampering_is_detected() {
        let (headers, keys) = signed_request(b"{}");
        let tampered =
            IncomingSignature::parse("POST", "/users/ada/inbox", headers.clone(), Some(b"{ }"), US);
        assert_eq!(tampered.unwrap_err(), SignatureError::Digest);
        let other_path =
            IncomingSignature::parse("POST", "/inbox", headers.clone(), Some(b"{}"), US).unwrap();
        assert_eq!(other_path.verify(&keys.public_pem), Err(SignatureError::Mismatch));
        let mut no_sig = headers;
        no_sig.remove("signature");
        assert_eq!(
            IncomingSignature::parse("POST", "/", no_sig, Some(b"{}"), US).unwrap_err(),
            SignatureError::Missing
        );
    }

    #[test]
    fn draft_11_signatures_with_created_are_accepted() {
        let keys = guildhall_core::keys::generate().unwrap();
        let key = SigningKey::from_pem(&keys.private_pem).unwrap();
        let signature = SigConfig::new()
            .begin_sign(
                "get",
                "/users/ada/statuses/1",
                BTreeMap::from([("host".to_string(), US.to_string())]),
            )
            .unwrap()
            .sign("http://localhost:8081/actor#main-key".into(), |s| key.sign_base64(s.as_bytes()))
            .unwrap()
            .signature_header();
        let headers = BTreeMap::from([("signature".to_string(), signature), ("host".into(), US.into())]);
        let sig = IncomingSignature::parse("GET", "/users/ada/statuses/1", headers, None, US).unwrap();
        assert_eq!(sig.verify(&keys.public_pem), Ok(()));
    }

    #[test]
    fn undated_signatures_are_refused() {
        let header = r#"keyId="k",algorithm="hs2019",headers="(request-target) host",signature="AAAA""#;
        let headers =
            BTreeMap::from([("signature".to_string(), header.to_string()), ("host".into(), US.into())]);
        let err = IncomingSignature::parse("GET", "/x", headers, None, US).unwrap_err();
        assert_eq!(err, SignatureError::Invalid("neither date nor (created) is signed".into()));
    }

    #[test]
    fn old_signatures_are_refused() {
        let (mut headers, _) = signed_request(b"{}");
        headers.insert("date".into(), httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(7200)));
        let err = IncomingSignature::parse("POST", "/users/ada/inbox", headers, Some(b"{}"), US).unwrap_err();
        assert!(matches!(err, SignatureError::Invalid(_)), "{err:?}");
    }

    /// Signs `headers` (which must hold `date`, `host` and `digest`) over a chosen list.
    fn signature_over(list: &str, headers: &BTreeMap<String, String>, key: &SigningKey) -> String {
        let mut signing = vec!["(request-target): post /users/ada/inbox".to_owned()];
        for name in list.split_whitespace().skip(1) {
            signing.push(format!("{name}: {}", headers[name]));
        }
        let sig = key.sign_base64(signing.join("\n").as_bytes()).unwrap();
        format!(
            r#"keyId="http://localhost:8080/users/bob#main-key",algorithm="hs2019",headers="{list}",signature="{sig}""#
        )
    }

    #[test]
    fn signatures_are_bound_to_our_host() {
        let (headers, _) = signed_request(b"{}");
        let err = IncomingSignature::parse("POST", "/users/ada/inbox", headers, Some(b"{}"), "other.example")
            .unwrap_err();
        assert_eq!(err, SignatureError::Invalid("the signed host is not this server".into()));
    }

    #[test]
    fn signatures_must_cover_host_date_and_target_and_name_each_parameter_once() {
        let keys = guildhall_core::keys::generate().unwrap();
        let key = SigningKey::from_pem(&keys.private_pem).unwrap();
        let (mut headers, _) = signed_request(b"{}");
        // A valid signature over the target and digest only: no host, no date.
        headers.insert("signature".into(), signature_over("(request-target) digest", &headers, &key));
        let err = IncomingSignature::parse("POST", "/users/ada/inbox", headers.clone(), Some(b"{}"), US);
        assert_eq!(err.unwrap_err(), SignatureError::Invalid("host is not signed".into()));
        // Two headers= lists: ours would read one, the library the other.
        let full = signature_over("(request-target) host date digest", &headers, &key);
        let doubled = full.replacen("headers=", r#"headers="(request-target) digest",headers="#, 1);
        headers.insert("signature".into(), doubled);
        let err = IncomingSignature::parse("POST", "/users/ada/inbox", headers.clone(), Some(b"{}"), US);
        assert_eq!(err.unwrap_err(), SignatureError::Invalid("the headers parameter is repeated".into()));
        // The same signature once: accepted.
        headers.insert("signature".into(), full);
        let sig = IncomingSignature::parse("POST", "/users/ada/inbox", headers, Some(b"{}"), US).unwrap();
        assert_eq!(sig.verify(&keys.public_pem), Ok(()));
    }

    #[test]
    fn signatures_dated_in_the_future_are_refused() {
        let keys = guildhall_core::keys::generate().unwrap();
        let key = SigningKey::from_pem(&keys.private_pem).unwrap();
        let (mut headers, _) = signed_request(b"{}");
        let later = SystemTime::now() + Duration::from_secs(30 * 24 * 3600);
        headers.insert("date".into(), httpdate::fmt_http_date(later));
        headers
            .insert("signature".into(), signature_over("(request-target) host date digest", &headers, &key));
        let err = IncomingSignature::parse("POST", "/users/ada/inbox", headers, Some(b"{}"), US).unwrap_err();
        assert_eq!(err, SignatureError::Invalid("the signature is too old or dated in the future".into()));
    }
}

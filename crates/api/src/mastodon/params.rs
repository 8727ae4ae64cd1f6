//! Request parameters as Mastodon apps send them: a query string, an HTML form, or JSON — with
//! arrays as `name[]=a&name[]=b`, repeated names, or JSON arrays.

use std::collections::HashMap;

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use serde_json::Value;

use super::multipart::{self, Upload};
use crate::ApiError;

/// All parameters of a request, query string first, body over it; and the files of a
/// multipart body.
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, Vec<String>>, HashMap<String, Upload>);

impl Params {
    fn insert(&mut self, key: &str, value: String) {
        let key = key.trim_end_matches("[]").to_owned();
        self.0.entry(key).or_default().push(value);
    }

    fn add_pairs(&mut self, pairs: Vec<(String, String)>) {
        for (k, v) in pairs {
            self.insert(&k, v);
        }
    }

    /// A JSON body, read as the same names a form would send: nested objects become
    /// `outer[inner]` (`{"source": {"privacy": "x"}}` is `source[privacy]`), arrays of objects
    /// `outer[0][inner]` (`fields_attributes` either way), arrays of values repeated names.
    fn add_json(&mut self, value: Value) {
        let Value::Object(map) = value else { return };
        for (k, v) in map {
            self.add_json_value(k, v);
        }
    }

    fn add_json_value(&mut self, key: String, value: Value) {
        match value {
            Value::Array(items) if items.is_empty() => {
                self.0.entry(key.trim_end_matches("[]").to_owned()).or_default();
            }
            Value::Array(items) if items.iter().any(Value::is_object) => {
                let base = key.trim_end_matches("[]").to_owned();
                for (i, item) in items.into_iter().enumerate() {
                    self.add_json_value(format!("{base}[{i}]"), item);
                }
            }
            Value::Array(items) => items.into_iter().for_each(|i| self.insert(&key, scalar(i))),
            Value::Object(map) => {
                for (inner, v) in map {
                    self.add_json_value(format!("{key}[{inner}]"), v);
                }
            }
            Value::Null => {}
            other => self.insert(&key, scalar(other)),
        }
    }

    /// The first value of `key`, if non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The first value of `key` as sent, empty included (to tell "clear it" from "leave it").
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// Whether `key` was sent at all (an empty JSON array counts).
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Every value of `key` (`key[]` and repeated `key`).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.get(key).cloned().unwrap_or_default()
    }

    /// The file sent as `key` in a multipart body.
    pub fn file(&self, key: &str) -> Option<&Upload> {
        self.1.get(key)
    }

    fn add_form(&mut self, form: multipart::Form) {
        self.add_pairs(form.fields);
        for (key, file) in form.files {
            self.1.insert(key.trim_end_matches("[]").to_owned(), file);
        }
    }

    /// Every parameter name.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The value of `key`, or a 400 naming it.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key).ok_or_else(|| ApiError::BadRequest(format!("Missing parameter: {key}")))
    }

    /// A boolean (`true`, `1`, `on`).
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| matches!(v, "true" | "1" | "on" | "yes"))
    }

    /// A number, or a 400.
    pub fn number(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| v.parse().map_err(|_| ApiError::BadRequest(format!("{key} must be a number"))))
            .transpose()
    }
}

fn scalar(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

impl FromRequest for Params {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Params, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if content_type.starts_with("multipart/") {
            let payload = payload.take();
            return Box::pin(async move {
                let mut params = Params::default();
                params.add_pairs(serde_urlencoded::from_str(req.query_string()).unwrap_or_default());
                params.add_form(multipart::read(&req, payload).await?);
                Ok(params)
            });
        }
        let body = Bytes::from_request(&req, payload);
        Box::pin(async move {
            let mut params = Params::default();
            let query: Vec<(String, String)> =
                serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
            params.add_pairs(query);
            let body = body.await.map_err(|e| match e.as_response_error().status_code().as_u16() {
                413 => ApiError::PayloadTooLarge("The request body is too large".into()),
                _ => ApiError::BadRequest(e.to_string()),
            })?;
            if body.is_empty() {
                return Ok(params);
            }
            let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            if content_type.starts_with("application/json") {
                let value: Value = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
                params.add_json(value);
            } else {
                let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                    .map_err(|e| ApiError::BadRequest(format!("invalid form: {e}")))?;
                params.add_pairs(pairs);
            }
            Ok(params)
        })
    }
}

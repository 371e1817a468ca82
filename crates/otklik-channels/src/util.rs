//! Shared helpers of the adapters: reading JSON fields with precise error paths, secret
//! comparison, idempotency-key derivation and transport error classification.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::{IntakeError, PublishError};

/// Parses a webhook body as JSON, naming where it breaks.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, IntakeError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(IntakeError::Malformed("body: empty".into()));
    }
    serde_json::from_slice(body).map_err(|e| {
        IntakeError::Malformed(format!("body: invalid JSON at line {} column {}: {e}", e.line(), e.column()))
    })
}

/// The JSON type name, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// A field read relative to a JSON object whose path is known, so errors name `a.b.c`.
#[derive(Clone)]
pub(crate) struct Obj<'a> {
    pub value: &'a Value,
    pub path: String,
}

impl<'a> Obj<'a> {
    /// Wraps `value`, which must be an object.
    pub fn new(value: &'a Value, path: &str) -> Result<Self, IntakeError> {
        if value.is_object() {
            Ok(Obj { value, path: path.to_string() })
        } else {
            let name = if path.is_empty() { "body" } else { path };
            Err(IntakeError::Malformed(format!("{name}: expected object, found {}", kind(value))))
        }
    }

    /// The field, None when absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.value.get(key).filter(|v| !v.is_null())
    }

    fn missing(&self, key: &str) -> IntakeError {
        IntakeError::Malformed(format!("{}: missing", join(&self.path, key)))
    }

    fn wrong(&self, key: &str, expected: &str, found: &Value) -> IntakeError {
        IntakeError::Malformed(format!("{}: expected {expected}, found {}", join(&self.path, key), kind(found)))
    }

    /// A nested object, required.
    pub fn obj(&self, key: &str) -> Result<Obj<'a>, IntakeError> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        if !v.is_object() {
            return Err(self.wrong(key, "object", v));
        }
        Ok(Obj { value: v, path: join(&self.path, key) })
    }

    /// A nested object, optional.
    pub fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.is_object() => Ok(Some(Obj { value: v, path: join(&self.path, key) })),
            Some(v) => Err(self.wrong(key, "object", v)),
        }
    }

    /// An integer, required; numeric strings are accepted (OK sends ids as strings).
    pub fn i64(&self, key: &str) -> Result<i64, IntakeError> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        as_i64(v).ok_or_else(|| self.wrong(key, "integer", v))
    }

    /// An integer, optional (absent or null → None; present but wrong → error).
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => as_i64(v).map(Some).ok_or_else(|| self.wrong(key, "integer", v)),
        }
    }

    /// A string, required.
    pub fn str(&self, key: &str) -> Result<&'a str, IntakeError> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        v.as_str().ok_or_else(|| self.wrong(key, "string", v))
    }

    /// A string, optional.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| self.wrong(key, "string", v)),
        }
    }

    /// An id that may come as a number or a string, required, as text.
    pub fn id(&self, key: &str) -> Result<String, IntakeError> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        match v {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            _ => Err(self.wrong(key, "id (string or integer)", v)),
        }
    }

    /// An array, optional (absent → empty).
    pub fn arr(&self, key: &str) -> Result<&'a [Value], IntakeError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a.as_slice()),
            Some(v) => Err(self.wrong(key, "array", v)),
        }
    }

    /// A boolean flag that may come as true/false or 1/0; absent → false.
    pub fn flag(&self, key: &str) -> bool {
        match self.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(v) => as_i64(v).is_some_and(|n| n != 0),
            None => false,
        }
    }

    /// Full path of a field, for messages.
    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Unix seconds to an instant, or the error naming `path`.
pub(crate) fn unix_seconds(secs: i64, path: &str) -> Result<DateTime<Utc>, IntakeError> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .ok_or_else(|| IntakeError::Malformed(format!("{path}: timestamp {secs} out of range")))
}

/// Unix milliseconds to an instant, or the error naming `path`.
pub(crate) fn unix_millis(ms: i64, path: &str) -> Result<DateTime<Utc>, IntakeError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| IntakeError::Malformed(format!("{path}: timestamp {ms} out of range")))
}

/// Compares secrets in time independent of where they differ, so timing reveals nothing.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    diff == 0
}

/// 64-bit FNV-1a: stable across runs and builds, unlike the standard hasher.
pub(crate) fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// VK `random_id` (int32) for an idempotency key: positive, non-zero, the same for every retry.
pub fn vk_random_id(idempotency_key: &str) -> i32 {
    let h = fnv1a(idempotency_key);
    let folded = ((h >> 32) ^ h) as u32 & 0x7fff_ffff;
    if folded == 0 { 1 } else { folded as i32 }
}

/// Describes a transport error without its URL: Telegram and OK put the token in the URL.
pub(crate) fn transport_reason(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() {
        "unreadable response"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// HTTP status failures without a platform error body: 5xx and 429 retry, the rest is permanent.
pub(crate) fn http_status_error(status: reqwest::StatusCode, body: &str) -> PublishError {
    let snippet: String = body.chars().take(200).collect();
    let code = format!("http_{}", status.as_u16());
    if status.is_server_error() || status.as_u16() == 429 {
        PublishError::Retry { code, reason: format!("HTTP {status}: {snippet}"), after: None }
    } else {
        PublishError::Permanent { code, reason: format!("HTTP {status}: {snippet}") }
    }
}

/// Default request timeout for calls that are not long polls.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Trims a trailing slash so `{base}/path` joins cleanly.
pub(crate) fn base_url(configured: Option<&str>, default: &str) -> String {
    configured.unwrap_or(default).trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_matches_only_equal_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(!constant_time_eq("", "a"));
        assert!(constant_time_eq("", ""));
    }

    #[test]
    fn random_id_is_stable_positive_and_key_dependent() {
        let a = vk_random_id("answer-17-publish");
        assert_eq!(a, vk_random_id("answer-17-publish"));
        assert!(a > 0);
        assert_ne!(a, vk_random_id("answer-18-publish"));
    }
}

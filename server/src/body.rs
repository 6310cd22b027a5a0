//! Request input: a JSON object body and the typed fields read from it, each failure a 4xx
//! [`ApiError`] naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A request body that is one JSON object.
#[derive(Debug)]
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge("request body too large".into())
            } else {
                ApiError::bad(format!("cannot read the body: {}", e.body_text()))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad("the body must be a JSON object; it is empty"));
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad(format!("invalid JSON: {e}")))?;
        match value {
            Value::Object(map) => Ok(JsonBody(map)),
            other => Err(ApiError::bad(format!(
                "the body must be a JSON object, not {}",
                kind(&other)
            ))),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A non-negative integer given as a JSON number or a string of decimal digits.
pub fn as_u64(field: &str, v: &Value) -> Result<u64, ApiError> {
    let parsed = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s)
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        _ => None,
    };
    parsed.ok_or_else(|| {
        ApiError::bad(format!(
            "field `{field}` must be a non-negative integer (a number or a decimal string), not {}",
            kind(v)
        ))
    })
}

impl JsonBody {
    fn present(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    pub fn opt_u64(&self, field: &str) -> Result<Option<u64>, ApiError> {
        self.present(field).map(|v| as_u64(field, v)).transpose()
    }

    pub fn u64(&self, field: &str) -> Result<u64, ApiError> {
        self.opt_u64(field)?
            .ok_or_else(|| ApiError::bad(format!("missing field `{field}`")))
    }

    pub fn opt_str(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ApiError::bad(format!(
                "field `{field}` must be a string, not {}",
                kind(other)
            ))),
        }
    }

    pub fn str(&self, field: &str) -> Result<&str, ApiError> {
        self.opt_str(field)?
            .ok_or_else(|| ApiError::bad(format!("missing field `{field}`")))
    }

    /// An object field, also accepted as a string holding a JSON object (the seed's
    /// database stores `msg_content` as text).
    pub fn opt_object(&self, field: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                _ => Err(ApiError::bad(format!(
                    "field `{field}` must be an object (or a string holding one)"
                ))),
            },
            Some(other) => Err(ApiError::bad(format!(
                "field `{field}` must be an object, not {}",
                kind(other)
            ))),
        }
    }
}

/// A string member of an object field such as `msg_content`.
pub fn member_str<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    key: &str,
) -> Result<Option<&'a str>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ApiError::bad(format!(
            "`{field}.{key}` must be a string, not {}",
            kind(other)
        ))),
    }
}

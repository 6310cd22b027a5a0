//! Reading ChatClient's MQTT options (single fields, the broker URLs, `reconnect`, the
//! credentials) into the session's types. `MqttClientOptions` has the same fields and
//! messages; the JS class reads those itself (`mqtt_client.js`), until ChatClient's driver
//! moves onto that JS shell too (see `client`).
//!
//! Every field is checked; a wrong one is an `INVALID_OPTIONS` error naming it, never a
//! panic. `undefined` and `null` both mean "not given".

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::error::{describe, js_error, Code};
use crate::collections::try_collect;
use crate::session::{Credentials, SessionConfig};

pub(crate) type Invalid = JsValue;

pub(crate) fn invalid(message: String) -> Invalid {
    js_error(Code::InvalidOptions, &message)
}

/// `object[key]`, or `None` when it is `undefined` or `null`.
pub(crate) fn field(object: &JsValue, path: &str, key: &str) -> Result<Option<JsValue>, Invalid> {
    let value = Reflect::get(object, &key.into())
        .map_err(|e| invalid(format!("cannot read {path}{key}: {}", describe(&e))))?;
    Ok((!value.is_undefined() && !value.is_null()).then_some(value))
}

pub(crate) fn string(object: &JsValue, path: &str, key: &str) -> Result<Option<String>, Invalid> {
    field(object, path, key)?
        .map(|v| {
            v.as_string()
                .ok_or_else(|| invalid(format!("{path}{key} must be a string")))
        })
        .transpose()
}

/// Broker URLs: one non-empty string, or a non-empty array of them (tried in turn).
pub(crate) fn urls(
    object: &JsValue,
    path: &str,
    key: &str,
) -> Result<Option<Vec<String>>, Invalid> {
    let Some(v) = field(object, path, key)? else {
        return Ok(None);
    };
    let bad = || {
        invalid(format!(
            "{path}{key} must be a URL or a non-empty array of URLs"
        ))
    };
    let list: Vec<String> = match v.as_string() {
        Some(one) => vec![one],
        None => try_collect(
            v.dyn_into::<Array>()
                .map_err(|_| bad())?
                .iter()
                .map(|u| u.as_string().ok_or_else(bad)),
        )?,
    };
    if list.is_empty() || list.iter().any(String::is_empty) {
        return Err(bad());
    }
    Ok(Some(list))
}

pub(crate) fn boolean(object: &JsValue, path: &str, key: &str) -> Result<Option<bool>, Invalid> {
    field(object, path, key)?
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| invalid(format!("{path}{key} must be a boolean")))
        })
        .transpose()
}

/// A whole number in `[min, max]`. (Formatted as integers: float formatting would add
/// some 17 KB of wasm.)
pub(crate) fn integer(
    object: &JsValue,
    path: &str,
    key: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, Invalid> {
    field(object, path, key)?
        .map(|v| match v.as_f64() {
            Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= max as f64 => Ok(n as u64),
            _ => Err(invalid(format!(
                "{path}{key} must be a whole number from {min} to {max}"
            ))),
        })
        .transpose()
}

pub(crate) fn function(
    object: &JsValue,
    path: &str,
    key: &str,
) -> Result<Option<Function>, Invalid> {
    field(object, path, key)?
        .map(|v| {
            v.dyn_into::<Function>()
                .map_err(|_| invalid(format!("{path}{key} must be a function")))
        })
        .transpose()
}

pub(crate) fn object(object: &JsValue, path: &str, key: &str) -> Result<Option<JsValue>, Invalid> {
    field(object, path, key)?
        .map(|v| {
            if v.is_object() && !v.is_function() {
                Ok(v)
            } else {
                Err(invalid(format!("{path}{key} must be an object")))
            }
        })
        .transpose()
}

/// Largest delay accepted for the reconnect options: about 24.8 days, `setTimeout`'s limit.
const MAX_DELAY_MS: u64 = i32::MAX as u64;

/// `reconnect: { enabled?, initialDelayMs?, maxDelayMs? }` into `config`.
pub(crate) fn reconnect_options(o: &JsValue, config: &mut SessionConfig) -> Result<(), Invalid> {
    if let Some(reconnect) = object(o, "", "reconnect")? {
        let path = "reconnect.";
        if let Some(enabled) = boolean(&reconnect, path, "enabled")? {
            config.reconnect.enabled = enabled;
        }
        if let Some(ms) = integer(&reconnect, path, "initialDelayMs", 0, MAX_DELAY_MS)? {
            config.reconnect.initial_delay_ms = ms;
        }
        if let Some(ms) = integer(&reconnect, path, "maxDelayMs", 0, MAX_DELAY_MS)? {
            config.reconnect.max_delay_ms = ms;
        }
    }
    Ok(())
}

/// What a `credentials()` promise resolved to: `{ username?, password? }` (or nothing), with
/// the options' own `username` / `password` filling the fields it leaves out.
pub(crate) fn parse_credentials(
    value: &JsValue,
    fallback: &Credentials,
) -> Result<Credentials, String> {
    if value.is_undefined() || value.is_null() {
        return Ok(fallback.clone());
    }
    if !value.is_object() || value.is_function() {
        return Err("credentials() must resolve to { username?, password? }".into());
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        let v = Reflect::get(value, &key.into()).map_err(|e| describe(&e))?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        v.as_string()
            .map(Some)
            .ok_or_else(|| format!("credentials(): {key} must be a string"))
    };
    Ok(Credentials {
        username: text("username")?.or_else(|| fallback.username.clone()),
        password: text("password")?
            .map(String::into_bytes)
            .or_else(|| fallback.password.clone()),
    })
}

//! Reading `MqttClientOptions` (and other JS inputs) into the session's types.
//!
//! Every field is checked; a wrong one is an `INVALID_OPTIONS` error naming it, never a
//! panic. `undefined` and `null` both mean "not given".

use js_sys::{Array, Function, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::error::{describe, js_error, Code};
use crate::mqtt::{Properties, ProtocolVersion, QoS, Will};
use crate::session::{valid_topic_name, Credentials, SessionConfig};

/// The constructor's options, parsed.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) config: SessionConfig,
    /// `username` / `password` of the options: used as they are, or as the fallback for
    /// fields the `credentials` callback leaves out.
    pub(crate) credentials: Credentials,
    pub(crate) credentials_fn: Option<Function>,
    pub(crate) transport: Option<Function>,
}

pub(crate) type Invalid = JsValue;

fn invalid(message: String) -> Invalid {
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
        None => v
            .dyn_into::<Array>()
            .map_err(|_| bad())?
            .iter()
            .map(|u| u.as_string().ok_or_else(bad))
            .collect::<Result<_, _>>()?,
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

/// The bytes of a payload: a string (UTF-8) or a `Uint8Array`.
pub(crate) fn payload_bytes(value: &JsValue) -> Option<Vec<u8>> {
    if let Some(s) = value.as_string() {
        return Some(s.into_bytes());
    }
    value.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec)
}

/// A QoS given as the number 0, 1 or 2.
pub(crate) fn qos_of(value: &JsValue) -> Option<QoS> {
    match value.as_f64() {
        Some(0.0) => Some(QoS::AtMostOnce),
        Some(1.0) => Some(QoS::AtLeastOnce),
        Some(2.0) => Some(QoS::ExactlyOnce),
        _ => None,
    }
}

/// Largest delay accepted for the reconnect options: about 24.8 days, `setTimeout`'s limit.
const MAX_DELAY_MS: u64 = i32::MAX as u64;
/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE: u64 = 9_007_199_254_740_991;

/// Parses the constructor's options; `seed` seeds the reconnect jitter.
pub(crate) fn parse(options: &JsValue, seed: u64) -> Result<Options, Invalid> {
    if !options.is_object() || options.is_function() {
        return Err(invalid(
            "new MqttClient(options): options must be an object".into(),
        ));
    }
    let o = options;
    let urls = urls(o, "", "url")?
        .ok_or_else(|| invalid("url is required (a URL or a non-empty array of URLs)".into()))?;
    let client_id = string(o, "", "clientId")?
        .ok_or_else(|| invalid("clientId is required (a string)".into()))?;

    let mut config = SessionConfig::new(client_id);
    config.urls = urls;
    config.rng_seed = seed;
    config.protocol = match integer(o, "", "protocolVersion", 0, 255)? {
        None | Some(4) => ProtocolVersion::V311,
        Some(5) => ProtocolVersion::V5,
        Some(_) => return Err(invalid("protocolVersion must be 4 or 5".into())),
    };
    if let Some(keep_alive) = integer(o, "", "keepAlive", 0, 65_535)? {
        config.keep_alive_secs = u16::try_from(keep_alive).unwrap_or(u16::MAX);
    }
    if let Some(clean) = boolean(o, "", "clean")? {
        config.clean_start = clean;
    }
    if let Some(limit) = integer(o, "", "offlineQueueLimit", 1, MAX_SAFE)? {
        config.offline_queue_limit = usize::try_from(limit).unwrap_or(usize::MAX);
    }
    reconnect_options(o, &mut config)?;
    if let Some(will) = object(o, "", "will")? {
        config.will = Some(parse_will(&will)?);
    }

    let credentials = Credentials {
        username: string(o, "", "username")?,
        password: string(o, "", "password")?.map(String::into_bytes),
    };
    Ok(Options {
        config,
        credentials,
        credentials_fn: function(o, "", "credentials")?,
        transport: function(o, "", "transport")?,
    })
}

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

fn parse_will(will: &JsValue) -> Result<Will, Invalid> {
    let path = "will.";
    let topic = string(will, path, "topic")?
        .ok_or_else(|| invalid("will.topic is required (a string)".into()))?;
    if !valid_topic_name(&topic) {
        return Err(invalid(format!(
            "will.topic '{topic}' is not a valid topic name"
        )));
    }
    let payload = match field(will, path, "payload")? {
        None => Vec::new(),
        Some(p) => payload_bytes(&p)
            .ok_or_else(|| invalid("will.payload must be a string or a Uint8Array".into()))?,
    };
    let qos = match field(will, path, "qos")? {
        None => QoS::AtMostOnce,
        Some(q) => qos_of(&q).ok_or_else(|| invalid("will.qos must be 0, 1 or 2".into()))?,
    };
    Ok(Will {
        topic,
        payload,
        qos,
        retain: boolean(will, path, "retain")?.unwrap_or(false),
        properties: Properties::default(),
    })
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

//! Errors at the JS boundary: a JS `Error` named `MqttError` with a stable `code` string.
//!
//! The codes are the only part of an error JS code may match on; messages are for people.

#[cfg(feature = "chat")]
use js_sys::{Error, Reflect};
#[cfg(feature = "chat")]
use wasm_bindgen::{JsCast, JsValue};

/// The stable codes of the errors and `error` events the Rust side words: the session's
/// (through `session_api`, where the `MqttClient` class ships) and the option readers'
/// (`INVALID_OPTIONS`, ChatClient's). The JS class `MqttClient` (`mqtt_client.js`) passes
/// these on and makes the rest of `MqttErrorCode` itself, where it judges JS values and
/// JS transports: `INVALID_ARGUMENT`, `INVALID_PAYLOAD`, `DISCONNECTED`, `TRANSPORT`,
/// `NOT_LOADED` (a client made before the module is), `PACKET_TOO_LARGE` for arguments the
/// module's memory cannot hold, and `INVALID_OPTIONS`, `INVALID_TOPIC`, `INVALID_FILTER`
/// for values of the wrong JS type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(mqtt_class), allow(dead_code))]
pub(crate) enum Code {
    /// The constructor's options are malformed (the message names the field).
    InvalidOptions,
    /// A topic name one cannot publish to (empty, wildcards, NUL, too long).
    InvalidTopic,
    /// A topic filter one cannot subscribe to.
    InvalidFilter,
    /// A QoS other than 0, 1 or 2.
    InvalidQos,
    /// The offline queue is full (`offlineQueueLimit`).
    QueueFull,
    /// The packet exceeds the broker's maximum packet size.
    PacketTooLarge,
    /// The packet could not be encoded (a field too long for MQTT).
    EncodeFailed,
    /// All 65535 packet identifiers are in use.
    PacketIdsExhausted,
    /// The broker refused (or the session could not send) a publish.
    PublishRefused,
    /// The broker refused an unsubscribe.
    UnsubscribeRefused,
    /// The broker refused the connection (CONNACK with an error).
    ConnectRefused,
    /// The `credentials` callback threw or rejected.
    Credentials,
    /// The broker sent a malformed packet or broke the protocol.
    Protocol,
    /// The broker refused MQTT 5.0: the client speaks 3.1.1 from now on (not fatal).
    ProtocolFallback,
}

impl Code {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::InvalidOptions => "INVALID_OPTIONS",
            Code::InvalidTopic => "INVALID_TOPIC",
            Code::InvalidFilter => "INVALID_FILTER",
            Code::InvalidQos => "INVALID_QOS",
            Code::QueueFull => "QUEUE_FULL",
            Code::PacketTooLarge => "PACKET_TOO_LARGE",
            Code::EncodeFailed => "ENCODE_FAILED",
            Code::PacketIdsExhausted => "PACKET_IDS_EXHAUSTED",
            Code::PublishRefused => "PUBLISH_REFUSED",
            Code::UnsubscribeRefused => "UNSUBSCRIBE_REFUSED",
            Code::ConnectRefused => "CONNECT_REFUSED",
            Code::Credentials => "CREDENTIALS",
            Code::Protocol => "PROTOCOL",
            Code::ProtocolFallback => "PROTOCOL_FALLBACK",
        }
    }
}

/// A JS `Error` (name `MqttError`) with a `code` property.
#[cfg(feature = "chat")]
pub(crate) fn js_error(code: Code, message: &str) -> JsValue {
    let error = Error::new(message);
    error.set_name("MqttError");
    // Setting a property on a fresh Error cannot fail.
    let _ = Reflect::set(&error, &"code".into(), &code.as_str().into());
    error.into()
}

/// A readable description of whatever JS threw or reported: an `Error`'s message, a string,
/// a mini-program style `{ errMsg }` / `{ reason }` / `{ message }` object, or its type.
#[cfg(feature = "chat")]
pub(crate) fn describe(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<Error>() {
        return String::from(error.message());
    }
    if let Some(s) = value.as_string() {
        return s;
    }
    if value.is_object() {
        for key in ["message", "errMsg", "reason"] {
            if let Some(s) = Reflect::get(value, &key.into())
                .ok()
                .and_then(|v| v.as_string())
                .filter(|s| !s.is_empty())
            {
                return s;
            }
        }
        if let Some(code) = Reflect::get(value, &"code".into())
            .ok()
            .and_then(|v| v.as_f64())
        {
            // As an integer: float formatting would add some 17 KB of wasm.
            return format!("code {}", code as i64);
        }
    }
    if value.is_undefined() || value.is_null() {
        return "no details".to_string();
    }
    value
        .js_typeof()
        .as_string()
        .map_or_else(|| "unknown".to_string(), |t| format!("a {t}"))
}

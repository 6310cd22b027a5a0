//! The `MqttClient` constructor's options (`MqttClientOptions`), and the payload and QoS
//! arguments of its methods, read into the session's types. The readers of single fields,
//! the URLs, the reconnect options and the credentials are `web::options`', which
//! ChatClient's options share.

use js_sys::{Function, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::mqtt::{Properties, ProtocolVersion, QoS, Will};
use crate::session::{valid_topic_name, Credentials, SessionConfig};
use crate::web::options::{
    boolean, field, function, integer, invalid, object, reconnect_options, string, urls, Invalid,
};

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

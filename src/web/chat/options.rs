//! Reading `ChatClientOptions` (see `chat_client.d.ts`). A wrong field is a `ChatError`
//! with code `invalid-options` naming it.

use js_sys::{Array, Function};
use wasm_bindgen::{JsCast, JsValue};

use super::convert::code_error;
use super::http::{Backend, Token};
use crate::chat::payload::PayloadFormat;
use crate::client::{
    default_client_id, default_topics, EngineConfig, LogLevel, Mode, MAX_PAGE_SIZE,
};
use crate::collections::try_collect;
use crate::mqtt::ProtocolVersion;
use crate::session::{Credentials, SessionConfig};
use crate::web::clock::random_seed;
use crate::web::error::describe;
use crate::web::options::{
    self, boolean, field, function, integer, object, reconnect_options, string,
};

/// The storage option. Only the backends compiled in have a variant (features `indexeddb`,
/// `kv`); naming another is `invalid-options` saying which build has it.
pub(super) enum StorageChoice {
    #[cfg(feature = "indexeddb")]
    IndexedDb,
    Memory,
    /// A JS `KeyValueStore`.
    #[cfg(feature = "kv")]
    KeyValue(JsValue),
}

/// What `storage` may be in this build, for the error messages.
const STORAGE_VALUES: &str = if cfg!(all(feature = "indexeddb", feature = "kv")) {
    "storage must be \"indexeddb\", \"memory\" or a KeyValueStore"
} else if cfg!(feature = "indexeddb") {
    "storage must be \"indexeddb\" or \"memory\""
} else if cfg!(feature = "kv") {
    "storage must be \"memory\" or a KeyValueStore"
} else {
    "storage must be \"memory\""
};

/// The `storage` option: absent means IndexedDB where this build has it, memory otherwise
/// (the mini-program build, whose glue passes its `wx` store). A backend this build leaves
/// out is an error naming the build that has it, not a silent fall-back to memory: history
/// the caller asked to keep would be lost on every restart without a word.
fn storage_choice(v: Option<JsValue>) -> Result<StorageChoice, JsValue> {
    let Some(v) = v else {
        #[cfg(feature = "indexeddb")]
        return Ok(StorageChoice::IndexedDb);
        #[cfg(not(feature = "indexeddb"))]
        return Ok(StorageChoice::Memory);
    };
    match v.as_string().as_deref() {
        Some("memory") => Ok(StorageChoice::Memory),
        #[cfg(feature = "indexeddb")]
        Some("indexeddb") => Ok(StorageChoice::IndexedDb),
        #[cfg(not(feature = "indexeddb"))]
        Some("indexeddb") => Err(invalid(&format!(
            "storage \"indexeddb\" is in the web build of imcore (`imcore`), not in this one; \
             {STORAGE_VALUES}"
        ))),
        #[cfg(feature = "kv")]
        None if v.is_object() => Ok(StorageChoice::KeyValue(v)),
        #[cfg(not(feature = "kv"))]
        None if v.is_object() => Err(invalid(&format!(
            "a KeyValueStore storage is in the mini-program build of imcore \
             (`imcore/miniprogram`), not in this one; {STORAGE_VALUES}"
        ))),
        _ => Err(invalid(STORAGE_VALUES)),
    }
}

pub(super) struct Parsed {
    pub(super) engine: EngineConfig,
    /// Backend mode: where requests go and as whom.
    pub(super) backend: Option<Backend>,
    pub(super) session: SessionConfig,
    pub(super) credentials: Credentials,
    pub(super) credentials_fn: Option<Function>,
    pub(super) transport: Option<Function>,
    pub(super) storage: StorageChoice,
    pub(super) log: LogLevel,
}

fn invalid(message: &str) -> JsValue {
    code_error("invalid-options", message)
}

/// The shared option readers throw `MqttError`s; here they are `ChatError`s.
fn rename(e: JsValue) -> JsValue {
    invalid(&describe(&e))
}

fn id(value: &str, what: &str) -> Result<u64, JsValue> {
    value.parse().map_err(|_| {
        invalid(&format!(
            "{what} must be a decimal id string, not '{value}'"
        ))
    })
}

fn strings(o: &JsValue, path: &str, key: &str) -> Result<Option<Vec<String>>, JsValue> {
    let Some(v) = field(o, path, key).map_err(rename)? else {
        return Ok(None);
    };
    let array = v
        .dyn_into::<Array>()
        .map_err(|_| invalid(&format!("{path}{key} must be an array of strings")))?;
    try_collect(array.iter().map(|s| {
        s.as_string()
            .ok_or_else(|| invalid(&format!("{path}{key} must be an array of strings")))
    }))
    .map(Some)
}

pub(super) fn parse(o: &JsValue) -> Result<Parsed, JsValue> {
    if !o.is_object() || o.is_function() {
        return Err(invalid(
            "ChatClient.create(options): options must be an object",
        ));
    }
    let me = string(o, "", "userId")
        .map_err(rename)?
        .ok_or_else(|| invalid("userId is required (a decimal string)"))?;
    let me = id(&me, "userId")?;
    let backend = object(o, "", "backend").map_err(rename)?;
    let direct = object(o, "", "direct").map_err(rename)?;
    let mut credentials = Credentials::default();
    let mut credentials_fn = None;
    let mut client_id = default_client_id(me);
    let mut urls = Vec::new();
    let mut backend_config = None;
    let mode = match (backend, direct) {
        (Some(b), None) => {
            let p = "backend.";
            let base_url = string(&b, p, "baseUrl")
                .map_err(rename)?
                .ok_or_else(|| invalid("backend.baseUrl is required"))?;
            let token = match field(&b, p, "token").map_err(rename)? {
                None => None,
                Some(t) => match (t.as_string(), t.dyn_into::<Function>()) {
                    (Some(s), _) => Some(Token::Fixed(s)),
                    (None, Ok(f)) => Some(Token::Callback(f)),
                    (None, Err(_)) => {
                        return Err(invalid("backend.token must be a string or a function"))
                    }
                },
            };
            let mqtt_urls = options::urls(&b, p, "mqttUrl").map_err(rename)?;
            backend_config = Some(Backend {
                base_url: base_url.trim_end_matches('/').to_string(),
                token,
                fetch: function(&b, p, "fetch").map_err(rename)?,
            });
            Mode::Backend { mqtt_urls }
        }
        (None, Some(d)) => {
            let p = "direct.";
            urls = options::urls(&d, p, "url")
                .map_err(rename)?
                .ok_or_else(|| invalid("direct.url is required (a URL or an array of URLs)"))?;
            credentials.username = string(&d, p, "username").map_err(rename)?;
            credentials.password = string(&d, p, "password")
                .map_err(rename)?
                .map(String::into_bytes);
            credentials_fn = function(&d, p, "credentials").map_err(rename)?;
            if let Some(id) = string(&d, p, "clientId").map_err(rename)? {
                client_id = id;
            }
            let topics = strings(&d, p, "topics")?.unwrap_or_else(|| default_topics(me));
            Mode::Direct { topics }
        }
        _ => return Err(invalid("give exactly one of `backend` and `direct`")),
    };

    let mut session = SessionConfig::new(client_id);
    session.urls = urls;
    session.rng_seed = random_seed();
    session.protocol = match integer(o, "", "protocolVersion", 0, 255).map_err(rename)? {
        None | Some(4) => ProtocolVersion::V311,
        Some(5) => ProtocolVersion::V5,
        Some(_) => return Err(invalid("protocolVersion must be 4 or 5")),
    };
    if let Some(k) = integer(o, "", "keepAlive", 0, 65_535).map_err(rename)? {
        session.keep_alive_secs = u16::try_from(k).unwrap_or(u16::MAX);
    }
    reconnect_options(o, &mut session).map_err(rename)?;

    let format = match string(o, "", "payloadFormat").map_err(rename)?.as_deref() {
        None | Some("json") => PayloadFormat::Json,
        Some("protobuf") => PayloadFormat::Protobuf,
        Some(_) => return Err(invalid("payloadFormat must be \"json\" or \"protobuf\"")),
    };
    let storage = storage_choice(field(o, "", "storage").map_err(rename)?)?;
    let contacts = try_collect(
        strings(o, "", "contacts")?
            .unwrap_or_default()
            .iter()
            .map(|c| id(c, "contacts[]")),
    )?;
    let log = match string(o, "", "logLevel").map_err(rename)?.as_deref() {
        None | Some("silent") => LogLevel::Silent,
        Some("error") => LogLevel::Error,
        Some("warn") => LogLevel::Warn,
        Some("info") => LogLevel::Info,
        Some("debug") => LogLevel::Debug,
        Some(_) => {
            return Err(invalid(
                "logLevel must be silent, error, warn, info or debug",
            ))
        }
    };
    let mut engine = EngineConfig::new(me, mode);
    engine.format = format;
    engine.contacts = contacts;
    engine.seed = random_seed();
    if let Some(presence) = boolean(o, "", "presence").map_err(rename)? {
        engine.presence = presence;
    }
    if let Some(n) = integer(o, "", "pageSize", 1, MAX_PAGE_SIZE as u64).map_err(rename)? {
        engine.page_size = n as usize;
    }
    engine.nick_name = string(o, "", "nickName").map_err(rename)?;
    engine.avatar = string(o, "", "avatar").map_err(rename)?;
    Ok(Parsed {
        engine,
        backend: backend_config,
        session,
        credentials,
        credentials_fn,
        transport: function(o, "", "transport").map_err(rename)?,
        storage,
        log,
    })
}

/// `messages()`'s `{ before?, limit? }`.
pub(super) fn page(o: &JsValue) -> Result<(Option<String>, Option<usize>), JsValue> {
    if o.is_undefined() || o.is_null() {
        return Ok((None, None));
    }
    let before = string(o, "options.", "before")
        .map_err(|e| code_error("invalid-argument", &describe(&e)))?;
    let limit = integer(o, "options.", "limit", 1, MAX_PAGE_SIZE as u64)
        .map_err(|e| code_error("invalid-argument", &describe(&e)))?
        .map(|n| n as usize);
    Ok((before, limit))
}

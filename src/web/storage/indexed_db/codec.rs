//! Records ↔ stored JS objects, and the keys that make IndexedDB's order equal
//! [`MessageKey`](crate::chat::store::MessageKey)'s.
//!
//! Every stored object has a few plain string fields that the store's key path and indexes
//! read, and `record`: the whole Rust record as a JSON string (`crate::json`, the text
//! serde_json wrote before). See the module documentation of [`super`] for why.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::request::js_error;
use super::schema::{fields, SchemaVersion};
use crate::chat::store::{ConversationRecord, MessageRef, OutboxEntry, StoredMessage, Tombstone};
use crate::chat::{ConversationId, ServerId};
use crate::json::{self, FromJson, ToJson};
use crate::storage::StorageError;

/// Prefix of a server id in a sort key. `'s' < 't'`: every server id sorts before every
/// local id, as `MessageRef::Server(_) < MessageRef::Local(_)`.
const SERVER_PREFIX: char = 's';
/// Prefix of a local id in a sort key.
const LOCAL_PREFIX: char = 't';

/// A `u64` as 20 zero-padded decimal digits: string order == numeric order, exact over the
/// whole range (a JS number is exact only up to 2^53).
pub(super) fn fixed(n: u64) -> String {
    format!("{n:020}")
}

/// The sort key of a message id: `"s00000000000000000123"` or `"t{local id}"`. Local ids
/// compare as UTF-16 code units in IndexedDB and as UTF-8 bytes in Rust: the same order
/// unless one id has characters above U+FFFF and the other in U+E000..=U+FFFF (client-made
/// local ids are ASCII).
pub(super) fn sort_key(id: &MessageRef) -> String {
    match id {
        MessageRef::Server(n) => format!("{SERVER_PREFIX}{n:020}"),
        MessageRef::Local(s) => format!("{LOCAL_PREFIX}{s}"),
    }
}

/// The primary key of a message: `"{conversation}|{sort key}"` (a conversation id never
/// contains `|`, so the key is unique per `(conversation, MessageRef)`, the identity a
/// [`crate::chat::store::PersistBatch`] uses).
pub(super) fn message_pk(conversation: ConversationId, id: &MessageRef) -> String {
    format!("{conversation}|{}", sort_key(id))
}

/// The property names as JS strings, made once per connection.
pub(super) struct Names {
    pk: JsValue,
    conversation: JsValue,
    weight: JsValue,
    sender: JsValue,
    sort: JsValue,
    server_id: JsValue,
    local_id: JsValue,
    record: JsValue,
    id: JsValue,
    key: JsValue,
    value: JsValue,
}

impl Names {
    pub(super) fn new() -> Self {
        let s = JsValue::from_str;
        Names {
            pk: s(fields::PK),
            conversation: s(fields::CONVERSATION),
            weight: s(fields::WEIGHT),
            sender: s(fields::SENDER),
            sort: s(fields::SORT),
            server_id: s(fields::SERVER_ID),
            local_id: s(fields::LOCAL_ID),
            record: s(fields::RECORD),
            id: s(fields::ID),
            key: s(fields::KEY),
            value: s(fields::VALUE),
        }
    }
}

fn set(o: &Object, k: &JsValue, v: &str) -> Result<(), StorageError> {
    Reflect::set(o, k, &JsValue::from_str(v))
        .map(|_| ())
        .map_err(|e| js_error(&e))
}

fn json<T: ToJson>(v: &T) -> Result<String, StorageError> {
    Ok(json::to_string(v))
}

/// A message as stored: `pk`, the four `order` fields, `server_id` / `local_id` when it has
/// them (absent fields keep it out of those indexes), `record`.
pub(super) fn encode_message(n: &Names, m: &StoredMessage) -> Result<JsValue, StorageError> {
    let o = Object::new();
    let conversation = m.conversation_id.to_string();
    let sort = sort_key(&m.key.id);
    set(&o, &n.pk, &format!("{conversation}|{sort}"))?;
    set(&o, &n.conversation, &conversation)?;
    set(&o, &n.weight, &fixed(m.key.weight))?;
    set(&o, &n.sender, &fixed(m.key.sender_id))?;
    set(&o, &n.sort, &sort)?;
    if let Some(sid) = m.server_id() {
        set(&o, &n.server_id, &fixed(sid))?;
    }
    if let Some(local) = &m.local_id {
        set(&o, &n.local_id, local)?;
    }
    set(&o, &n.record, &json(m)?)?;
    Ok(o.into())
}

/// A conversation record as stored: `id`, `record`.
pub(super) fn encode_conversation(
    n: &Names,
    c: &ConversationRecord,
) -> Result<JsValue, StorageError> {
    let o = Object::new();
    set(&o, &n.id, &c.id.to_string())?;
    set(&o, &n.record, &json(c)?)?;
    Ok(o.into())
}

/// An outbox entry as stored: `local_id`, `weight`, `record`, and from V2 on
/// `conversation` (for the V2 index of that name).
pub(super) fn encode_outbox(
    n: &Names,
    e: &OutboxEntry,
    version: SchemaVersion,
) -> Result<JsValue, StorageError> {
    let o = Object::new();
    set(&o, &n.local_id, &e.local_id)?;
    set(&o, &n.weight, &fixed(e.weight))?;
    if version >= SchemaVersion::V2 {
        set(&o, &n.conversation, &e.conversation_id.to_string())?;
    }
    set(&o, &n.record, &json(e)?)?;
    Ok(o.into())
}

/// Adds the V2 `conversation` field to a V1 outbox object (the 1 → 2 data migration).
pub(super) fn upgrade_outbox_v2(n: &Names, stored: &JsValue) -> Result<JsValue, StorageError> {
    let entry: OutboxEntry = decode(n, stored)?;
    encode_outbox(n, &entry, SchemaVersion::V2)
}

/// A tombstone as stored: `server_id` (fixed width), `record`.
pub(super) fn encode_tombstone(
    n: &Names,
    id: ServerId,
    t: Tombstone,
) -> Result<JsValue, StorageError> {
    let o = Object::new();
    set(&o, &n.server_id, &fixed(id))?;
    set(&o, &n.record, &json(&t)?)?;
    Ok(o.into())
}

/// A metadata entry as stored: `key`, `value`.
pub(super) fn encode_meta(n: &Names, key: &str, value: &str) -> Result<JsValue, StorageError> {
    let o = Object::new();
    set(&o, &n.key, key)?;
    set(&o, &n.value, value)?;
    Ok(o.into())
}

/// The record of a stored object.
pub(super) fn decode<T: FromJson>(n: &Names, stored: &JsValue) -> Result<T, StorageError> {
    let text = Reflect::get(stored, &n.record)
        .ok()
        .and_then(|v| v.as_string())
        .ok_or_else(|| StorageError::Corrupt("a stored object has no `record` string".into()))?;
    json::from_str(&text).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// Each stored object of a `getAll` result, read by `read`.
fn each<T>(
    stored: &JsValue,
    read: impl Fn(&JsValue) -> Result<T, StorageError>,
) -> Result<Vec<T>, StorageError> {
    let Some(array) = stored.dyn_ref::<Array>() else {
        return Err(StorageError::Corrupt(
            "getAll did not return an array".into(),
        ));
    };
    array.iter().map(|v| read(&v)).collect()
}

/// Every record of an array of stored objects (a `getAll` result).
pub(super) fn decode_all<T: FromJson>(n: &Names, stored: &JsValue) -> Result<Vec<T>, StorageError> {
    each(stored, |v| decode(n, v))
}

/// Every tombstone of a `getAll` result.
pub(super) fn decode_tombstones(
    n: &Names,
    stored: &JsValue,
) -> Result<Vec<(ServerId, Tombstone)>, StorageError> {
    each(stored, |v| decode_tombstone(n, v))
}

/// A tombstone back: `(server id, kind)`.
fn decode_tombstone(n: &Names, stored: &JsValue) -> Result<(ServerId, Tombstone), StorageError> {
    let id = Reflect::get(stored, &n.server_id)
        .ok()
        .and_then(|v| v.as_string())
        .and_then(|s| s.parse::<ServerId>().ok())
        .ok_or_else(|| StorageError::Corrupt("a tombstone has no server id".into()))?;
    Ok((id, decode(n, stored)?))
}

/// The value of a metadata entry.
pub(super) fn decode_meta(n: &Names, stored: &JsValue) -> Result<Option<String>, StorageError> {
    if stored.is_undefined() || stored.is_null() {
        return Ok(None);
    }
    Reflect::get(stored, &n.value)
        .ok()
        .and_then(|v| v.as_string())
        .map(Some)
        .ok_or_else(|| StorageError::Corrupt("a meta entry has no string value".into()))
}

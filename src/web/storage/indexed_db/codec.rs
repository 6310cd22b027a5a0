//! Records ↔ stored JS objects: blocks of messages (keyed so that IndexedDB's order is
//! [`MessageKey`](crate::chat::store::MessageKey)'s, see [`crate::storage::blocks`]),
//! conversations, the outbox, tombstones, metadata; and the V2 message records the 2 → 3
//! migration reads.
//!
//! Every stored object has a few plain string fields that the store's key path and indexes
//! read, and `record`: the whole Rust record as a JSON string (`crate::json`, the text
//! serde_json wrote before). Packed bytes ([`crate::storage::packed`]) instead: a
//! block's `record` from V5 on, and a conversation record, alone, from V4 on. See the
//! module documentation of [`super`] for why.

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use super::request::js_error;
use super::schema::{fields, SchemaVersion};
use crate::chat::store::ConversationRecord;
#[cfg(feature = "test-support")]
use crate::chat::store::MessageRef;
use crate::chat::store::{MessageKey, OutboxEntry, StoredMessage, Tombstone};
use crate::chat::{ConversationId, ServerId};
use crate::collections::try_collect;
use crate::json::{self, FromJson, ToJson};
use crate::storage::blocks::{order_key, parse_order_key, Block, Directory, FIXED_DIGITS};
use crate::storage::{from_json, packed, StorageError};

pub(super) use crate::storage::blocks::fixed;
use crate::storage::blocks::push_fixed;
#[cfg(feature = "test-support")]
use crate::storage::blocks::sort_key;

/// The primary key of a V1/V2 message: `"{conversation}|{sort key}"` (a conversation id
/// never contains `|`, so the key is unique per `(conversation, MessageRef)`).
#[cfg(feature = "test-support")]
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
    sids: JsValue,
    lids: JsValue,
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
            sids: s(fields::SIDS),
            lids: s(fields::LIDS),
        }
    }
}

fn set(o: &Object, k: &JsValue, v: &str) -> Result<(), StorageError> {
    set_value(o, k, &JsValue::from_str(v))
}

fn json<T: ToJson>(v: &T) -> Result<String, StorageError> {
    Ok(json::to_string(v))
}

fn set_value(o: &Object, k: &JsValue, v: &JsValue) -> Result<(), StorageError> {
    Reflect::set(o, k, v).map(|_| ()).map_err(|e| js_error(&e))
}

fn get_string(o: &JsValue, k: &JsValue) -> Option<String> {
    Reflect::get(o, k).ok().and_then(|v| v.as_string())
}

/// The record key of a block: `[conversation, order key of lo]`.
pub(super) fn block_pk(conversation: ConversationId, lo: &MessageKey) -> JsValue {
    Array::of2(
        &JsValue::from_str(&conversation.to_string()),
        &JsValue::from_str(&order_key(lo)),
    )
    .into()
}

/// A block as stored: `pk`, `sid` and `lid` (the ids of its messages, for the multi-entry
/// indexes), `record` (its messages: packed bytes from V5 on, a JSON array before).
fn block_object(
    n: &Names,
    pk: &JsValue,
    sids: &Array,
    lids: &Array,
    record: &JsValue,
) -> Result<JsValue, StorageError> {
    let o = Object::new();
    set_value(&o, &n.pk, pk)?;
    set_value(&o, &n.sids, sids)?;
    set_value(&o, &n.lids, lids)?;
    set_value(&o, &n.record, record)?;
    Ok(o.into())
}

/// A block as stored from V5 on (see [`block_object`]): its messages packed.
pub(super) fn encode_block(n: &Names, b: &Block) -> Result<JsValue, StorageError> {
    let mut bytes = Vec::new();
    packed::pack_block(&b.messages, &mut bytes);
    block_with_record(n, b, &Uint8Array::from(bytes.as_slice()).into())
}

/// A block as V3 and V4 store it: its messages as a JSON text (only tests write a version
/// before the latest).
#[cfg(feature = "test-support")]
pub(super) fn encode_block_text(n: &Names, b: &Block) -> Result<JsValue, StorageError> {
    block_with_record(n, b, &JsValue::from_str(&json::to_string(&b.messages)))
}

fn block_with_record(n: &Names, b: &Block, record: &JsValue) -> Result<JsValue, StorageError> {
    let mut sids = String::new();
    let lids = Array::new();
    for m in &b.messages {
        if let Some(sid) = m.server_id() {
            if !sids.is_empty() {
                sids.push(',');
            }
            push_fixed(&mut sids, sid);
        }
        if let Some(local) = &m.local_id {
            lids.push(&JsValue::from_str(local));
        }
    }
    let pk = block_pk(b.conversation, &b.lo);
    block_object(n, &pk, &id_list(&sids), &lids, record)
}

/// The messages of a stored block, in either form: packed (written from V5 on) or a JSON
/// text (written before, and kept until the block is next written).
pub(super) fn decode_block(
    n: &Names,
    stored: &JsValue,
) -> Result<Vec<StoredMessage>, StorageError> {
    let record = Reflect::get(stored, &n.record).unwrap_or_default();
    if let Some(bytes) = record.dyn_ref::<Uint8Array>() {
        Ok(packed::unpack_block(&bytes.to_vec())?)
    } else if let Some(text) = record.as_string() {
        from_json(&text)
    } else {
        Err(StorageError::Corrupt(
            "a block's record is neither packed bytes nor a JSON text".into(),
        ))
    }
}

/// Server ids written comma-separated, [`fixed`] each, as an array of strings: split by
/// JS from one string (a string crossing per id made a block of 64 cost 64 calls).
fn id_list(joined: &str) -> Array {
    if joined.is_empty() {
        return Array::new();
    }
    js_sys::JsString::from(joined).split(",")
}

/// A block key that is not `[conversation, order key]`.
fn bad_block_key() -> StorageError {
    StorageError::Corrupt("a block key is not [conversation, order key]".into())
}

/// The `lo` of a block's record key.
pub(super) fn block_lo(pk: &JsValue) -> Result<MessageKey, StorageError> {
    pk.dyn_ref::<Array>()
        .and_then(|pair| pair.get(1).as_string())
        .and_then(|lo| parse_order_key(&lo))
        .ok_or_else(bad_block_key)
}

/// The blocks of a `getAllKeys` over the block store: their `(conversation, lo)`.
pub(super) fn directory(keys: &JsValue) -> Result<Directory, StorageError> {
    let mut dir = Directory::default();
    each(keys, |k| {
        let c: ConversationId = k
            .dyn_ref::<Array>()
            .and_then(|pair| pair.get(0).as_string())
            .and_then(|c| c.parse().ok())
            .ok_or_else(bad_block_key)?;
        dir.insert(c, block_lo(k)?);
        Ok(())
    })?;
    Ok(dir)
}

/// A V2 conversation object as V3 stores it: its id (the key) and its JSON text (the
/// value).
pub(super) fn conversation_v3(
    n: &Names,
    stored: &JsValue,
) -> Result<(JsValue, JsValue), StorageError> {
    match (get_string(stored, &n.id), get_string(stored, &n.record)) {
        (Some(id), Some(record)) => Ok((JsValue::from_str(&id), JsValue::from_str(&record))),
        _ => Err(StorageError::Corrupt(
            "a V2 conversation has no id or record".into(),
        )),
    }
}

/// A V2 message record, as the 2 → 3 migration reads it: no JSON parsed.
pub(super) struct V2Message {
    conversation: String,
    /// Its `order` index key, `[conversation, weight, sender, sort]`.
    pub(super) order_key: JsValue,
    /// Its order key as a block's `lo` (weight, sender and sort concatenated: the
    /// [`order_key`] format).
    lo: String,
    server_id: Option<String>,
    local_id: Option<String>,
    record: String,
}

impl V2Message {
    pub(super) fn read(n: &Names, stored: &JsValue) -> Result<Self, StorageError> {
        let field = |k: &JsValue, what: &str| {
            get_string(stored, k)
                .ok_or_else(|| StorageError::Corrupt(format!("a V2 message has no {what}")))
        };
        let conversation = field(&n.conversation, "conversation")?;
        let (weight, sender, sort) = (
            field(&n.weight, "weight")?,
            field(&n.sender, "sender")?,
            field(&n.sort, "sort key")?,
        );
        let order_key = Array::of4(
            &JsValue::from_str(&conversation),
            &JsValue::from_str(&weight),
            &JsValue::from_str(&sender),
            &JsValue::from_str(&sort),
        )
        .into();
        let lo = format!("{weight}{sender}{sort}");
        // A block's key must read back as a key (the directory parses every one).
        if parse_order_key(&lo).is_none() {
            return Err(StorageError::Corrupt(format!(
                "a V2 message's order fields are not a key: {lo}"
            )));
        }
        Ok(V2Message {
            conversation,
            order_key,
            lo,
            server_id: match get_string(stored, &n.server_id) {
                Some(id) if id.len() != FIXED_DIGITS || !id.bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(StorageError::Corrupt(format!(
                        "a V2 message's server id is not {FIXED_DIGITS} digits: {id}"
                    )))
                }
                id => id,
            },
            local_id: get_string(stored, &n.local_id),
            record: field(&n.record, "record")?,
        })
    }
}

/// A block being made from V2 message records (the 2 → 3 migration).
#[derive(Default)]
pub(super) struct BlockText {
    first: Option<(String, String)>,
    /// `[` and the records so far, comma-separated.
    record: String,
    count: usize,
    /// Server ids, [`fixed`] each, comma-separated.
    sids: String,
    lids: Vec<String>,
}

impl BlockText {
    /// Whether `m` belongs in this block: empty, or of its conversation and not full.
    pub(super) fn takes(&self, m: &V2Message, max: usize) -> bool {
        match &self.first {
            None => true,
            Some((c, _)) => *c == m.conversation && self.count < max,
        }
    }

    pub(super) fn push(&mut self, m: V2Message) {
        self.record
            .push(if self.first.is_none() { '[' } else { ',' });
        self.record.push_str(&m.record);
        self.count += 1;
        if let Some(sid) = m.server_id {
            if !self.sids.is_empty() {
                self.sids.push(',');
            }
            self.sids.push_str(&sid);
        }
        if let Some(lid) = m.local_id {
            self.lids.push(lid);
        }
        if self.first.is_none() {
            self.first = Some((m.conversation, m.lo));
        }
    }

    /// The block object, and an empty builder for the next (`None`: nothing pushed).
    pub(super) fn finish(&mut self, n: &Names) -> Result<Option<JsValue>, StorageError> {
        let done = std::mem::take(self);
        let Some((conversation, lo)) = done.first else {
            return Ok(None);
        };
        let lids: Array = done.lids.iter().map(|s| JsValue::from_str(s)).collect();
        let pk: JsValue =
            Array::of2(&JsValue::from_str(&conversation), &JsValue::from_str(&lo)).into();
        let record = done.record + "]";
        block_object(
            n,
            &pk,
            &id_list(&done.sids),
            &lids,
            &JsValue::from_str(&record),
        )
        .map(Some)
    }
}

/// A V1/V2 message as stored: `pk`, the four `order` fields, `server_id` / `local_id` when
/// it has them (absent fields keep it out of those indexes), `record`. Only tests write
/// them now (to migrate from).
#[cfg(feature = "test-support")]
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

/// Records stored as JSON texts (a `getAll` of V3's `conversation_records`, which only
/// tests still read): joined by JS into one string, so one string crosses into wasm
/// however many there are (a line each: JSON text holds no raw line break).
#[cfg(feature = "test-support")]
pub(super) fn decode_texts<T: FromJson>(stored: &JsValue) -> Result<Vec<T>, StorageError> {
    let array = all_of(stored)?;
    if array.length() == 0 {
        return Ok(Vec::new());
    }
    let text = String::from(array.join("\n"));
    // Sized once: grown record by record, the list of a thousand conversations was
    // reallocated a dozen times, which took a sixth of a cold start's wasm time
    // (`scripts/bench-browser.sh --only cold --profile FILE`).
    let mut out = Vec::new();
    // As a hint only: a length no allocation can hold just leaves the list to grow.
    let _ = out.try_reserve_exact(array.length() as usize);
    for line in text.split('\n') {
        out.push(from_json(line)?);
    }
    Ok(out)
}

/// A conversation record as V4 stores it: packed ([`crate::storage::packed`]) in a
/// `Uint8Array`.
pub(super) fn packed_conversation(c: &ConversationRecord) -> JsValue {
    let mut bytes = Vec::new();
    packed::pack(c, &mut bytes);
    Uint8Array::from(bytes.as_slice()).into()
}

/// Packed conversation records (a `getAll` of V4's `conversation_records`): joined by JS
/// into one byte array, each record after its length, so they cross into wasm in one
/// copy however many there are.
pub(super) fn decode_packed(stored: &JsValue) -> Result<Vec<ConversationRecord>, StorageError> {
    let array = all_of(stored)?;
    let joined = imcore_join_records(array)
        .map_err(|_| StorageError::Corrupt("a conversation record is not packed bytes".into()))?
        .to_vec();
    let mut out = Vec::new();
    // As a hint only: a length no allocation can hold just leaves the list to grow.
    let _ = out.try_reserve_exact(array.length() as usize);
    let mut rest = joined.as_slice();
    let cut_short = || StorageError::Corrupt("joined records cut short".into());
    while !rest.is_empty() {
        let (len, after) = rest.split_first_chunk::<4>().ok_or_else(cut_short)?;
        let (record, after) = after
            .split_at_checked(u32::from_le_bytes(*len) as usize)
            .ok_or_else(cut_short)?;
        out.push(packed::unpack(record)?);
        rest = after;
    }
    Ok(out)
}

#[wasm_bindgen(inline_js = "export function imcoreJoinRecords(list) {
  let n = 0;
  for (const r of list) {
    if (!(r instanceof Uint8Array)) throw new TypeError('not packed');
    n += 4 + r.length;
  }
  const out = new Uint8Array(n);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const r of list) {
    view.setUint32(at, r.length, true);
    out.set(r, at + 4);
    at += 4 + r.length;
  }
  return out;
}")]
extern "C" {
    /// Each record of `list` (`Uint8Array`s) after its length (u32, little-endian), in
    /// one array; throws if one is not a `Uint8Array`.
    #[wasm_bindgen(js_name = imcoreJoinRecords, catch)]
    fn imcore_join_records(list: &Array) -> Result<Uint8Array, JsValue>;
}

/// A conversation record as V1/V2 stored it: `id`, `record`. Only tests write them now
/// (to migrate from).
#[cfg(feature = "test-support")]
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
    let text = get_string(stored, &n.record)
        .ok_or_else(|| StorageError::Corrupt("a stored object has no `record` string".into()))?;
    from_json(&text)
}

/// A `getAll` result as the array it is.
fn all_of(stored: &JsValue) -> Result<&Array, StorageError> {
    stored
        .dyn_ref::<Array>()
        .ok_or_else(|| StorageError::Corrupt("getAll did not return an array".into()))
}

/// Each stored object of a `getAll` result, read by `read`.
pub(super) fn each<T>(
    stored: &JsValue,
    mut read: impl FnMut(&JsValue) -> Result<T, StorageError>,
) -> Result<Vec<T>, StorageError> {
    let array = all_of(stored)?;
    try_collect(array.iter().map(|v| read(&v)))
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
    let id = get_string(stored, &n.server_id)
        .and_then(|s| s.parse::<ServerId>().ok())
        .ok_or_else(|| StorageError::Corrupt("a tombstone has no server id".into()))?;
    Ok((id, decode(n, stored)?))
}

/// The value of a metadata entry.
pub(super) fn decode_meta(n: &Names, stored: &JsValue) -> Result<Option<String>, StorageError> {
    if stored.is_undefined() || stored.is_null() {
        return Ok(None);
    }
    get_string(stored, &n.value)
        .map(Some)
        .ok_or_else(|| StorageError::Corrupt("a meta entry has no string value".into()))
}

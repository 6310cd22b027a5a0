//! Schema versions, their names, and the migrations between them.
//!
//! Names are per-version constants (`v1`, `v2`): a released version's names never change, a
//! later version re-exports what it keeps and adds its own, and the backend uses
//! [`current`]. Each step up runs in the `versionchange` transaction, in three phases:
//!
//! 1. **add**: create the object stores and indexes the version introduces;
//! 2. **migrate data**: rewrite existing records for it (awaiting requests inside the
//!    same transaction);
//! 3. **delete**: drop what the version no longer uses;
//!
//! then record the version in `meta` ([`crate::storage::meta::SCHEMA_VERSION`]). The steps
//! from the database's version to the requested one run in order inside one transaction,
//! so a failed data phase aborts the whole upgrade and leaves the old version intact.

use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    IdbCursorWithValue, IdbDatabase, IdbIndexParameters, IdbKeyRange, IdbObjectStore,
    IdbObjectStoreParameters, IdbTransaction,
};

use super::codec::{self, Names};
use super::request::{issued, js_error, request, CursorWalk, Step};
use crate::storage::blocks::BLOCK_MAX;
use crate::storage::{meta, StorageError};

/// A version of the IndexedDB schema; the number is the database version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SchemaVersion {
    /// Messages (with the `order`, `server_id` and `local_id` indexes), conversations,
    /// outbox (by `weight`), tombstones, meta.
    V1 = 1,
    /// Adds the outbox index `conversation` and writes that field into every outbox record.
    V2 = 2,
    /// Messages in blocks of a conversation (`blocks`, multi-entry indexes `server_id` and
    /// `local_id`; see [`crate::storage::blocks`]) instead of one record each: every message
    /// of `messages` is copied into blocks in key order, then `messages` goes. Conversation
    /// records move to `conversation_records`, each the JSON text alone under its id (an
    /// out-of-line key), so start-up reads strings that cross into wasm as one; then
    /// `conversations` goes.
    V3 = 3,
    /// Conversation records packed as bytes ([`crate::storage::packed`]) instead of JSON
    /// texts, so start-up neither encodes a string into wasm nor parses JSON: each record
    /// of `conversation_records` is rewritten in place.
    V4 = 4,
    /// Blocks packed as bytes ([`crate::storage::packed::pack_block`]) instead of JSON
    /// texts, so a write neither makes JSON nor hands IndexedDB a long string to copy, and
    /// a page read parses none. No record is rewritten by the upgrade: a block keeps its
    /// JSON text until it is next written, and reads take either form. The version still
    /// changes, so that code that reads only JSON blocks cannot open a database holding
    /// packed ones.
    V5 = 5,
}

impl SchemaVersion {
    /// The version [`super::IndexedDbStorage::open`] opens.
    pub const LATEST: SchemaVersion = SchemaVersion::V5;

    /// Every version, oldest first.
    pub const ALL: [SchemaVersion; 5] = [
        SchemaVersion::V1,
        SchemaVersion::V2,
        SchemaVersion::V3,
        SchemaVersion::V4,
        SchemaVersion::V5,
    ];

    /// The IndexedDB database version.
    pub fn number(self) -> u32 {
        self as u32
    }

    /// Phase 1: the stores and indexes this version adds.
    fn add(self, db: &IdbDatabase, tx: &IdbTransaction) -> Result<(), StorageError> {
        match self {
            SchemaVersion::V1 => {
                use v1::*;
                let messages = create_store(db, MESSAGES, fields::PK)?;
                let order = [
                    fields::CONVERSATION,
                    fields::WEIGHT,
                    fields::SENDER,
                    fields::SORT,
                ];
                create_index(&messages, MESSAGES_ORDER, &order)?;
                create_index(&messages, MESSAGES_SERVER_ID, &[fields::SERVER_ID])?;
                create_index(&messages, MESSAGES_LOCAL_ID, &[fields::LOCAL_ID])?;
                create_store(db, CONVERSATIONS, fields::ID)?;
                let outbox = create_store(db, OUTBOX, fields::LOCAL_ID)?;
                create_index(&outbox, OUTBOX_WEIGHT, &[fields::WEIGHT])?;
                create_store(db, TOMBSTONES, fields::SERVER_ID)?;
                create_store(db, META, fields::KEY)?;
                Ok(())
            }
            SchemaVersion::V2 => {
                let outbox = tx.object_store(v2::OUTBOX).map_err(|e| js_error(&e))?;
                create_index(&outbox, v2::OUTBOX_CONVERSATION, &[fields::CONVERSATION])
            }
            SchemaVersion::V3 => {
                db.create_object_store(v3::CONVERSATIONS)
                    .map_err(|e| js_error(&e))?;
                let blocks = create_store(db, v3::BLOCKS, fields::PK)?;
                create_multi_entry_index(&blocks, v3::BLOCKS_SERVER_ID, fields::SIDS)?;
                create_multi_entry_index(&blocks, v3::BLOCKS_LOCAL_ID, fields::LIDS)
            }
            SchemaVersion::V4 | SchemaVersion::V5 => Ok(()),
        }
    }

    /// Phase 2: rewrite the records that change shape.
    async fn migrate_data(self, tx: &IdbTransaction) -> Result<(), StorageError> {
        match self {
            SchemaVersion::V1 => Ok(()),
            SchemaVersion::V2 => {
                // Every outbox record gains `conversation`, so the new index covers it.
                let outbox = tx.object_store(v2::OUTBOX).map_err(|e| js_error(&e))?;
                let names = Names::new();
                CursorWalk::new(
                    outbox.open_cursor(),
                    Box::new(move |cursor| {
                        let Some(cursor) = cursor.and_then(|c| c.dyn_ref::<IdbCursorWithValue>())
                        else {
                            return Ok(Step::Stop);
                        };
                        let value = cursor.value().map_err(|e| js_error(&e))?;
                        let upgraded = codec::upgrade_outbox_v2(&names, &value)?;
                        cursor.update(&upgraded).map_err(|e| js_error(&e))?;
                        Ok(Step::Continue)
                    }),
                )?
                .await
            }
            SchemaVersion::V3 => {
                conversations_as_texts(tx).await?;
                blocks_from_messages(tx).await
            }
            SchemaVersion::V4 => conversations_packed(tx).await,
            SchemaVersion::V5 => Ok(()),
        }
    }

    /// Phase 3: the stores and indexes this version drops.
    fn delete(self, db: &IdbDatabase, _tx: &IdbTransaction) -> Result<(), StorageError> {
        match self {
            SchemaVersion::V1 | SchemaVersion::V2 | SchemaVersion::V4 | SchemaVersion::V5 => Ok(()),
            SchemaVersion::V3 => {
                for gone in [v2::MESSAGES, v2::CONVERSATIONS] {
                    db.delete_object_store(gone).map_err(|e| js_error(&e))?;
                }
                Ok(())
            }
        }
    }
}

/// The 2 → 3 step of the conversation records: each V2 object's JSON text put under its id.
async fn conversations_as_texts(tx: &IdbTransaction) -> Result<(), StorageError> {
    let store = |name| tx.object_store(name).map_err(|e| js_error(&e));
    let all = request(store(v2::CONVERSATIONS)?.get_all()).await?;
    let texts = store(v3::CONVERSATIONS)?;
    let names = Names::new();
    codec::each(&all, |stored| {
        let (id, text) = codec::conversation_v3(&names, stored)?;
        issued(texts.put_with_key(&text, &id))
    })?;
    Ok(())
}

/// The 3 → 4 step of the conversation records: each JSON text read and written back
/// packed, in place. A record that does not read as one (it could never be read again) is
/// deleted rather than failing the upgrade, which would leave the whole database to the
/// memory fallback at every start; the conversation is listed again by its next message.
async fn conversations_packed(tx: &IdbTransaction) -> Result<(), StorageError> {
    let store = tx
        .object_store(v4::CONVERSATIONS)
        .map_err(|e| js_error(&e))?;
    CursorWalk::new(
        store.open_cursor(),
        Box::new(move |cursor| {
            let Some(cursor) = cursor.and_then(|c| c.dyn_ref::<IdbCursorWithValue>()) else {
                return Ok(Step::Stop);
            };
            let value = cursor.value().map_err(|e| js_error(&e))?;
            let record = value
                .as_string()
                .and_then(|text| crate::json::from_str(&text).ok());
            match record {
                Some(record) => cursor.update(&codec::packed_conversation(&record)),
                None => cursor.delete(),
            }
            .map_err(|e| js_error(&e))?;
            Ok(Step::Continue)
        }),
    )?
    .await
}

/// Messages read from the V2 store per [`MIGRATION_PAGE`]: the memory a migration holds.
const MIGRATION_PAGE: u32 = 2_000;

/// The 2 → 3 data migration: every V2 message record, in `order` (conversation, then key),
/// into blocks of [`BLOCK_MAX`]. A V2 record already holds what a block needs (its JSON,
/// its order fields, its ids), so nothing is parsed: block records are the V2 JSON texts
/// joined into an array.
async fn blocks_from_messages(tx: &IdbTransaction) -> Result<(), StorageError> {
    let index = tx
        .object_store(v2::MESSAGES)
        .and_then(|s| s.index(v2::MESSAGES_ORDER))
        .map_err(|e| js_error(&e))?;
    let blocks = tx.object_store(v3::BLOCKS).map_err(|e| js_error(&e))?;
    let names = Names::new();
    let mut block = codec::BlockText::default();
    let mut after: Option<JsValue> = None;
    loop {
        let range = match &after {
            Some(k) => IdbKeyRange::lower_bound_with_open(k, true)
                .map(JsValue::from)
                .map_err(|e| js_error(&e))?,
            None => JsValue::UNDEFINED,
        };
        let page = request(index.get_all_with_key_and_limit(&range, MIGRATION_PAGE)).await?;
        let Some(page) = page.dyn_ref::<Array>().filter(|a| a.length() > 0) else {
            break;
        };
        for stored in page.iter() {
            let m = codec::V2Message::read(&names, &stored)?;
            if !block.takes(&m, BLOCK_MAX) {
                if let Some(full) = block.finish(&names)? {
                    issued(blocks.put(&full))?;
                }
            }
            after = Some(m.order_key.clone());
            block.push(m);
        }
    }
    if let Some(last) = block.finish(&names)? {
        issued(blocks.put(&last))?;
    }
    Ok(())
}

/// The names of version 1. Released names never change.
pub(super) mod v1 {
    pub const MESSAGES: &str = "messages";
    /// `[conversation, weight, sender, sort]`: IndexedDB order == `MessageKey` order.
    pub const MESSAGES_ORDER: &str = "order";
    pub const MESSAGES_SERVER_ID: &str = "server_id";
    pub const MESSAGES_LOCAL_ID: &str = "local_id";
    pub const CONVERSATIONS: &str = "conversations";
    pub const OUTBOX: &str = "outbox";
    pub const OUTBOX_WEIGHT: &str = "weight";
    pub const TOMBSTONES: &str = "tombstones";
    pub const META: &str = "meta";
}

/// The names of version 2: those of version 1 and the outbox index `conversation`.
pub(super) mod v2 {
    pub use super::v1::*;
    pub const OUTBOX_CONVERSATION: &str = "conversation";
}

/// The names of version 3: those of version 2 but `messages` and its indexes, and
/// `blocks` with its two, and `conversations` moved to `conversation_records`.
pub(super) mod v3 {
    pub use super::v2::{META, OUTBOX, OUTBOX_CONVERSATION, OUTBOX_WEIGHT, TOMBSTONES};
    /// Conversation records: each the JSON text under the conversation id (out-of-line key).
    pub const CONVERSATIONS: &str = "conversation_records";
    pub const BLOCKS: &str = "blocks";
    /// Multi-entry on `sid`: a block by the server id of any of its messages.
    pub const BLOCKS_SERVER_ID: &str = "server_id";
    /// Multi-entry on `lid`: a block by the local id of any of its messages.
    pub const BLOCKS_LOCAL_ID: &str = "local_id";
}

/// The names of version 4: those of version 3, `conversation_records` now holding packed
/// bytes.
pub(super) mod v4 {
    pub use super::v3::*;
}

/// The names of version 5: those of version 4, `blocks` now holding packed bytes (or the
/// JSON texts of earlier versions, until rewritten).
pub(super) mod v5 {
    pub use super::v4::*;
}

/// The `meta` entry each apply with messages sets to a new random value (V3): a
/// connection holding a directory of the blocks knows it is current while this is the
/// value it wrote last.
pub(super) const BLOCKS_GENERATION: &str = "blocks_generation";

/// The names the backend uses: those of [`SchemaVersion::LATEST`].
pub(super) use v5 as current;

/// Every object store of the latest version.
pub(super) const ALL_STORES: [&str; 5] = [
    current::BLOCKS,
    current::CONVERSATIONS,
    current::OUTBOX,
    current::TOMBSTONES,
    current::META,
];

/// Property names of the stored objects (key paths and index key paths read them).
pub(super) mod fields {
    /// Messages (V1, V2): `"{conversation}|{sort}"`. Blocks (V3): `[conversation, order
    /// key of the block's lo]` (`crate::storage::blocks::order_key`).
    pub const PK: &str = "pk";
    /// Blocks: the server ids of its messages, 20 zero-padded digits each.
    pub const SIDS: &str = "sid";
    /// Blocks: the local ids of its messages that have one.
    pub const LIDS: &str = "lid";
    /// Messages, and outbox from V2: the conversation id string.
    pub const CONVERSATION: &str = "conversation";
    /// Messages and outbox: the weight, 20 zero-padded digits.
    pub const WEIGHT: &str = "weight";
    /// Messages: the sender id, 20 zero-padded digits.
    pub const SENDER: &str = "sender";
    /// Messages: `s` + 20 digits of the server id, or `t` + the local id.
    pub const SORT: &str = "sort";
    /// Messages (when sent) and tombstones: the server id, 20 zero-padded digits.
    pub const SERVER_ID: &str = "server_id";
    /// Messages (mine) and outbox: the client-made local id.
    pub const LOCAL_ID: &str = "local_id";
    /// Every object but a conversation record (from V4 on, bytes alone): the Rust record as
    /// JSON (a block's: the array of its messages; from V5 on, the block packed in a
    /// `Uint8Array`).
    pub const RECORD: &str = "record";
    /// Conversations: the conversation id string.
    pub const ID: &str = "id";
    /// Meta: the key.
    pub const KEY: &str = "key";
    /// Meta: the value.
    pub const VALUE: &str = "value";
}

fn create_store(
    db: &IdbDatabase,
    name: &str,
    key_path: &str,
) -> Result<IdbObjectStore, StorageError> {
    let params = IdbObjectStoreParameters::new();
    params.set_key_path(&JsValue::from_str(key_path));
    db.create_object_store_with_optional_parameters(name, &params)
        .map_err(|e| js_error(&e))
}

/// A non-unique index; a compound one when `key_path` has several fields.
fn create_index(store: &IdbObjectStore, name: &str, key_path: &[&str]) -> Result<(), StorageError> {
    let params = IdbIndexParameters::new();
    params.set_unique(false);
    let result = match key_path {
        [one] => store.create_index_with_str_and_optional_parameters(name, one, &params),
        many => {
            let path: Array = many.iter().map(|f| JsValue::from_str(f)).collect();
            store.create_index_with_str_sequence_and_optional_parameters(name, &path, &params)
        }
    };
    result.map(|_| ()).map_err(|e| js_error(&e))
}

/// A multi-entry index on `field` (an array: one index entry per element).
fn create_multi_entry_index(
    store: &IdbObjectStore,
    name: &str,
    field: &str,
) -> Result<(), StorageError> {
    let params = IdbIndexParameters::new();
    params.set_unique(false);
    params.set_multi_entry(true);
    store
        .create_index_with_str_and_optional_parameters(name, field, &params)
        .map(|_| ())
        .map_err(|e| js_error(&e))
}

/// Runs every step from `old` (0 for a new database) up to `target` inside the
/// `versionchange` transaction `tx`.
pub(super) async fn upgrade(
    db: &IdbDatabase,
    tx: &IdbTransaction,
    old: u32,
    target: SchemaVersion,
) -> Result<(), StorageError> {
    let names = Names::new();
    for step in SchemaVersion::ALL {
        if step.number() <= old || step > target {
            continue;
        }
        step.add(db, tx)?;
        step.migrate_data(tx).await?;
        step.delete(db, tx)?;
        let meta_store = tx.object_store(current::META).map_err(|e| js_error(&e))?;
        let entry = codec::encode_meta(&names, meta::SCHEMA_VERSION, &step.number().to_string())?;
        meta_store.put(&entry).map_err(|e| js_error(&e))?;
    }
    Ok(())
}

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
    IdbCursorWithValue, IdbDatabase, IdbIndexParameters, IdbObjectStore, IdbObjectStoreParameters,
    IdbTransaction,
};

use super::codec::{self, Names};
use super::request::{js_error, CursorWalk, Step};
use crate::storage::{meta, StorageError};

/// A version of the IndexedDB schema; the number is the database version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SchemaVersion {
    /// Messages (with the `order`, `server_id` and `local_id` indexes), conversations,
    /// outbox (by `weight`), tombstones, meta.
    V1 = 1,
    /// Adds the outbox index `conversation` and writes that field into every outbox record.
    V2 = 2,
}

impl SchemaVersion {
    /// The version [`super::IndexedDbStorage::open`] opens.
    pub const LATEST: SchemaVersion = SchemaVersion::V2;

    /// Every version, oldest first.
    pub const ALL: [SchemaVersion; 2] = [SchemaVersion::V1, SchemaVersion::V2];

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
                CursorWalk::new(outbox.open_cursor(), move |cursor| {
                    let Some(cursor) = cursor.and_then(|c| c.dyn_ref::<IdbCursorWithValue>())
                    else {
                        return Ok(Step::Stop);
                    };
                    let value = cursor.value().map_err(|e| js_error(&e))?;
                    let upgraded = codec::upgrade_outbox_v2(&names, &value)?;
                    cursor.update(&upgraded).map_err(|e| js_error(&e))?;
                    Ok(Step::Continue)
                })?
                .await
            }
        }
    }

    /// Phase 3: the stores and indexes this version drops (none so far: V2 only adds).
    fn delete(self, _db: &IdbDatabase, _tx: &IdbTransaction) -> Result<(), StorageError> {
        match self {
            SchemaVersion::V1 | SchemaVersion::V2 => Ok(()),
        }
    }
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

/// The names the backend uses: those of [`SchemaVersion::LATEST`].
pub(super) use v2 as current;

/// Every object store of the latest version.
pub(super) const ALL_STORES: [&str; 5] = [
    current::MESSAGES,
    current::CONVERSATIONS,
    current::OUTBOX,
    current::TOMBSTONES,
    current::META,
];

/// Property names of the stored objects (key paths and index key paths read them).
pub(super) mod fields {
    /// Messages: `"{conversation}|{sort}"`.
    pub const PK: &str = "pk";
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
    /// Every record: the Rust record as JSON.
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

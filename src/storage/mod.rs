//! Local history: what the store persists, behind one interface. Pure like the layers
//! below it: no IO of its own and nothing from JS, so all of it runs in native tests.
//!
//! * Here: the memory backend (native tests, and the fallback when another backend fails)
//!   and [`KvStorage`], the layout of the history on any key-value store of strings with
//!   size limits, generic over [`KvBackend`] ([`MemoryKv`] in tests).
//! * In the shell, because they call JS (`web::storage`, wasm32 only): the
//!   IndexedDB backend, `JsKv` (the JS `KeyValueStore` object, `wx.setStorage` in the
//!   mini-program, as a [`KvBackend`]) and `AnyStorage`, the one type the shell holds.
//!   Nothing here names them.
//!
//! * [`Storage`]: apply a batch atomically; load conversations, a page of messages before or
//!   after a key, the outbox, tombstones and metadata; wipe everything.
//! * [`WriteQueue`]: coalesces batches while a write is in flight, so a burst of incoming
//!   messages (the offline backlog after a reconnect) is written in a few transactions,
//!   not one per message.
//! * `blocks` (feature `indexeddb`): the rules of the IndexedDB layout's message blocks,
//!   pure, for the backend in the shell.
//! * `packed` (feature `indexeddb`): conversation records and message blocks packed as
//!   bytes, as the IndexedDB layout stores them (from schema V4 and V5 on).
//! * `gate`: one call at a time, for the backends whose apply reads before it writes.
//! * `conformance` (tests only: `cfg(test)` or the `test-support` feature): the test suite
//!   every backend runs, kept out of the shipped wasm.

#[cfg(feature = "indexeddb")]
pub mod blocks;
#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
#[cfg(any(feature = "kv", feature = "indexeddb"))]
pub(crate) mod gate;
#[cfg(feature = "kv")]
pub mod kv;
mod memory;
#[cfg(any(test, feature = "indexeddb"))]
pub mod packed;
mod queue;
pub mod startup;

use thiserror::Error;

#[cfg(feature = "kv")]
pub use kv::{KvBackend, KvStorage, MemoryKv};
pub use memory::MemoryStorage;
pub use queue::WriteQueue;

use crate::chat::store::{
    ConversationRecord, MessageKey, OutboxEntry, PersistBatch, StoredMessage, Tombstone,
};
use crate::chat::{ConversationId, ServerId};
use crate::json::FromJson;

/// Metadata keys the client keeps.
pub mod meta {
    /// The last clock calibration (offset in ms).
    pub const CLOCK_OFFSET: &str = "clock_offset";
    /// The weight up to which history was synchronised from the backend.
    pub const LAST_SYNC: &str = "last_sync";
    /// The schema version the data was written with.
    pub const SCHEMA_VERSION: &str = "schema_version";
}

/// Where a page of messages starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// The newest messages.
    Newest,
    /// Messages ordered before this key (exclusive), the newest of them.
    Before(MessageKey),
    /// Messages ordered after this key (exclusive), the oldest of them.
    After(MessageKey),
}

/// Why storage failed. The chat goes on in memory after any of these.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StorageError {
    /// No storage here (private mode, a WebView without IndexedDB, …).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage quota exceeded: {0}")]
    QuotaExceeded(String),
    /// Another tab holds an older version open and did not close it.
    #[error("schema upgrade blocked by another tab")]
    Blocked,
    /// Another tab upgraded the schema; this connection was closed.
    #[error("the database was upgraded by another tab; connection closed")]
    VersionChange,
    #[error("storage is closed")]
    Closed,
    /// A request or transaction failed; `name` is the DOMException name when there is one.
    #[error("storage operation failed ({name}): {message}")]
    Operation { name: String, message: String },
    /// A stored record could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// A stored record from its JSON text: one that does not read is [`StorageError::Corrupt`]
/// with the reader's message (every backend that stores JSON texts).
pub(crate) fn from_json<T: FromJson>(text: &str) -> Result<T, StorageError> {
    crate::json::from_str(text).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// One atomic write: everything in it is committed together or not at all. Deletes apply
/// before puts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageBatch {
    pub store: PersistBatch,
    pub put_meta: Vec<(String, String)>,
}

impl StorageBatch {
    pub fn is_empty(&self) -> bool {
        self.store.is_empty() && self.put_meta.is_empty()
    }

    /// Folds a later batch into this one (see [`PersistBatch::merge`]).
    pub fn merge(&mut self, later: StorageBatch) {
        self.store.merge(later.store);
        for (k, v) in later.put_meta {
            self.put_meta.retain(|(old, _)| *old != k);
            self.put_meta.push((k, v));
        }
    }

    /// How many records it writes or deletes.
    pub fn len(&self) -> usize {
        let s = &self.store;
        s.put_messages.len()
            + s.delete_messages.len()
            + s.put_conversations.len()
            + s.delete_conversations.len()
            + s.put_tombstones.len()
            + s.put_outbox.len()
            + s.delete_outbox.len()
            + self.put_meta.len()
    }
}

/// Outbox entries in the order [`Storage::outbox`] gives them: by weight, then local id
/// (stable). An insertion sort: outboxes are short, and `sort_by` would cost some 3 KB of
/// wasm for this one type.
pub(crate) fn outbox_order(entries: Vec<OutboxEntry>) -> Vec<OutboxEntry> {
    let mut out: Vec<OutboxEntry> = Vec::with_capacity(entries.len());
    for e in entries {
        let at = out.partition_point(|x| (x.weight, &x.local_id) <= (e.weight, &e.local_id));
        out.insert(at, e);
    }
    out
}

impl From<PersistBatch> for StorageBatch {
    fn from(store: PersistBatch) -> Self {
        StorageBatch {
            store,
            put_meta: Vec::new(),
        }
    }
}

/// What start-up reads besides messages (see [`Storage::startup_records`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartupRecords {
    pub conversations: Vec<ConversationRecord>,
    pub tombstones: Vec<(ServerId, Tombstone)>,
    pub outbox: Vec<OutboxEntry>,
    /// The metadata entry [`meta::CLOCK_OFFSET`].
    pub clock_offset: Option<String>,
}

/// The local history of one user. Calls may overlap (reads while a write is in flight);
/// each `apply` is atomic, and applies are committed in call order.
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Storage {
    /// Writes a batch in one transaction, deletes before puts. Messages are named by the
    /// key they are stored at (see [`PersistBatch`]):
    /// * a delete names the [`MessageKey`] at which the message was last stored;
    /// * a message that moves to another key (a new reference, or the same one at another
    ///   weight) comes as a delete of its old key plus a put at its new one;
    /// * a put replaces the message stored at the same key.
    ///
    /// A backend may do more (the memory and key-value ones delete by the key's reference,
    /// and a put replaces any stored copy with the same reference), never less.
    async fn apply(&self, batch: StorageBatch) -> Result<(), StorageError>;
    /// Every conversation record.
    async fn conversations(&self) -> Result<Vec<ConversationRecord>, StorageError>;
    /// Up to `limit` messages of a conversation from `page`, in ascending key order.
    async fn messages(
        &self,
        conversation: ConversationId,
        page: Page,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StorageError>;
    /// The newest `limit` messages of each of `conversations` (start-up): each
    /// conversation's in ascending key order, one conversation after the other. A backend
    /// may read them all at once; by default it is one `messages` call each.
    async fn newest_pages(
        &self,
        conversations: &[ConversationId],
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StorageError> {
        newest_pages_one_by_one(self, conversations, limit).await
    }
    /// A message by its server id.
    async fn message_by_server_id(
        &self,
        id: ServerId,
    ) -> Result<Option<StoredMessage>, StorageError>;
    /// A message by the local id it was sent with.
    async fn message_by_local_id(
        &self,
        local_id: &str,
    ) -> Result<Option<StoredMessage>, StorageError>;
    /// Messages waiting to be sent, oldest first.
    async fn outbox(&self) -> Result<Vec<OutboxEntry>, StorageError>;
    /// Server ids that stay revoked or deleted.
    async fn tombstones(&self) -> Result<Vec<(ServerId, Tombstone)>, StorageError>;
    async fn meta(&self, key: &str) -> Result<Option<String>, StorageError>;
    /// Deletes everything (logout).
    async fn wipe(&self) -> Result<(), StorageError>;
    /// Every conversation record, the tombstones, the outbox and the clock offset: what
    /// start-up reads. A backend may read them together; by default one call each.
    async fn startup_records(&self) -> Result<StartupRecords, StorageError> {
        Ok(StartupRecords {
            conversations: self.conversations().await?,
            tombstones: self.tombstones().await?,
            outbox: self.outbox().await?,
            clock_offset: self.meta(meta::CLOCK_OFFSET).await?,
        })
    }
}

/// [`Storage::newest_pages`] as one [`Storage::messages`] call per conversation: the
/// default, and what a backend that reads them together falls back to.
pub async fn newest_pages_one_by_one<S: Storage + ?Sized>(
    storage: &S,
    conversations: &[ConversationId],
    limit: usize,
) -> Result<Vec<StoredMessage>, StorageError> {
    let mut out = Vec::new();
    for c in conversations {
        out.extend(storage.messages(*c, Page::Newest, limit).await?);
    }
    Ok(out)
}

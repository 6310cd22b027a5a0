//! One [`Storage`] type for the shell: IndexedDB when the browser gives it, a key-value
//! store when the host gives one instead (the WeChat mini-program), memory when neither
//! works (or after a failure). Only the backends compiled in have a variant: IndexedDB with
//! the `indexeddb` feature, the key-value store with `kv`; memory always.

#[cfg(feature = "indexeddb")]
use super::IndexedDbStorage;
#[cfg(feature = "kv")]
use super::JsKv;
use crate::chat::store::{ConversationRecord, OutboxEntry, StoredMessage, Tombstone};
use crate::chat::{ConversationId, ServerId};
#[cfg(feature = "kv")]
use crate::storage::KvStorage;
use crate::storage::{MemoryStorage, Page, StartupRecords, Storage, StorageBatch, StorageError};

/// The backends behind one type, so the shell can switch from IndexedDB to memory at
/// run time (a write failed, another tab upgraded the schema) without generics.
#[derive(Debug)]
pub enum AnyStorage {
    /// In memory: lost on reload. The fallback.
    Memory(MemoryStorage),
    /// The user's IndexedDB database: the default in a browser.
    #[cfg(feature = "indexeddb")]
    IndexedDb(IndexedDbStorage),
    /// The JS `KeyValueStore` the host passed (`wx.setStorage` in the mini-program).
    #[cfg(feature = "kv")]
    Kv(KvStorage<JsKv>),
}

impl AnyStorage {
    /// Opens the IndexedDB database of `user_id`, or falls back to a fresh
    /// [`MemoryStorage`] and says why (private mode, no IndexedDB, blocked by another tab,
    /// a failed migration…). The chat works either way; only history across reloads is
    /// lost without IndexedDB.
    #[cfg(feature = "indexeddb")]
    pub async fn open_or_memory(user_id: u64) -> (AnyStorage, Option<StorageError>) {
        match IndexedDbStorage::open(user_id).await {
            Ok(db) => (AnyStorage::IndexedDb(db), None),
            Err(e) => (AnyStorage::Memory(MemoryStorage::new()), Some(e)),
        }
    }

    /// Whether this is the memory backend.
    pub fn is_memory(&self) -> bool {
        matches!(self, AnyStorage::Memory(_))
    }

    /// Closes the backend (IndexedDB: the connection; memory: nothing to close).
    pub fn close(&self) {
        match self {
            AnyStorage::Memory(_) => {}
            #[cfg(feature = "kv")]
            AnyStorage::Kv(_) => {}
            #[cfg(feature = "indexeddb")]
            AnyStorage::IndexedDb(s) => s.close(),
        }
    }
}

impl From<MemoryStorage> for AnyStorage {
    fn from(s: MemoryStorage) -> Self {
        AnyStorage::Memory(s)
    }
}

#[cfg(feature = "kv")]
impl From<KvStorage<JsKv>> for AnyStorage {
    fn from(s: KvStorage<JsKv>) -> Self {
        AnyStorage::Kv(s)
    }
}

#[cfg(feature = "indexeddb")]
impl From<IndexedDbStorage> for AnyStorage {
    fn from(s: IndexedDbStorage) -> Self {
        AnyStorage::IndexedDb(s)
    }
}

/// Calls the same method on whichever backend this is.
macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStorage::Memory($s) => $call,
            #[cfg(feature = "indexeddb")]
            AnyStorage::IndexedDb($s) => $call,
            #[cfg(feature = "kv")]
            AnyStorage::Kv($s) => $call,
        }
    };
}

impl Storage for AnyStorage {
    async fn apply(&self, batch: StorageBatch) -> Result<(), StorageError> {
        delegate!(self, s => s.apply(batch).await)
    }

    async fn conversations(&self) -> Result<Vec<ConversationRecord>, StorageError> {
        delegate!(self, s => s.conversations().await)
    }

    async fn messages(
        &self,
        conversation: ConversationId,
        page: Page,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StorageError> {
        delegate!(self, s => s.messages(conversation, page, limit).await)
    }

    async fn newest_pages(
        &self,
        conversations: &[ConversationId],
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StorageError> {
        delegate!(self, s => s.newest_pages(conversations, limit).await)
    }

    async fn message_by_server_id(
        &self,
        id: ServerId,
    ) -> Result<Option<StoredMessage>, StorageError> {
        delegate!(self, s => s.message_by_server_id(id).await)
    }

    async fn message_by_local_id(
        &self,
        local_id: &str,
    ) -> Result<Option<StoredMessage>, StorageError> {
        delegate!(self, s => s.message_by_local_id(local_id).await)
    }

    async fn outbox(&self) -> Result<Vec<OutboxEntry>, StorageError> {
        delegate!(self, s => s.outbox().await)
    }

    async fn tombstones(&self) -> Result<Vec<(ServerId, Tombstone)>, StorageError> {
        delegate!(self, s => s.tombstones().await)
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StorageError> {
        delegate!(self, s => s.meta(key).await)
    }

    async fn wipe(&self) -> Result<(), StorageError> {
        delegate!(self, s => s.wipe().await)
    }

    async fn startup_records(&self) -> Result<StartupRecords, StorageError> {
        delegate!(self, s => s.startup_records().await)
    }
}

//! Storage in memory: the native tests' backend and the fallback when IndexedDB fails.

use std::cell::RefCell;

use rustc_hash::FxHashMap;

use crate::collections::{Gather, VecMap};

use super::{Page, Storage, StorageBatch, StorageError};
use crate::chat::store::{
    ConversationRecord, MessageKey, MessageRef, OutboxEntry, StoredMessage, Tombstone,
};
use crate::chat::{ConversationId, ServerId};

#[derive(Debug, Default)]
struct Inner {
    messages: VecMap<(ConversationId, MessageKey), StoredMessage>,
    keys: VecMap<(ConversationId, MessageRef), MessageKey>,
    /// Where a message is by its server id (`MessageRef::Server`) and by its local id
    /// (`MessageRef::Local`): one map of the store's `locate` type, hasher included, so its
    /// code is shared (a std `HashMap` here cost its own copy plus SipHash).
    by_id: FxHashMap<MessageRef, (ConversationId, MessageKey)>,
    conversations: VecMap<ConversationId, ConversationRecord>,
    outbox: VecMap<String, OutboxEntry>,
    tombstones: VecMap<ServerId, Tombstone>,
    meta: VecMap<String, String>,
}

impl Inner {
    fn delete_message(&mut self, cid: ConversationId, id: &MessageRef) {
        if let Some(key) = self.keys.remove(&(cid, id.clone())) {
            if let Some(m) = self.messages.remove(&(cid, key)) {
                if let Some(sid) = m.server_id() {
                    self.by_id.remove(&MessageRef::Server(sid));
                }
                if let Some(local) = &m.local_id {
                    self.by_id.remove(&MessageRef::Local(local.clone()));
                }
            }
        }
    }

    fn put_message(&mut self, m: &StoredMessage) {
        let cid = m.conversation_id;
        self.delete_message(cid, &m.key.id);
        self.keys.insert((cid, m.key.id.clone()), m.key.clone());
        if let Some(sid) = m.server_id() {
            self.by_id
                .insert(MessageRef::Server(sid), (cid, m.key.clone()));
        }
        if let Some(local) = &m.local_id {
            self.by_id
                .insert(MessageRef::Local(local.clone()), (cid, m.key.clone()));
        }
        self.messages.insert((cid, m.key.clone()), m.clone());
    }
}

/// A [`Storage`] in memory. `fail_next` makes the next write fail, for tests of the
/// failure paths.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    // Boxed: keeps the shell's `AnyStorage` small (its variants are held side by side).
    inner: Box<RefCell<Inner>>,
    fail_next: RefCell<Option<StorageError>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `apply` fails with `error` and writes nothing.
    pub fn fail_next(&self, error: StorageError) {
        *self.fail_next.borrow_mut() = Some(error);
    }

    /// How many messages are stored.
    pub fn message_count(&self) -> usize {
        self.inner.borrow().messages.len()
    }
}

impl Storage for MemoryStorage {
    async fn apply(&self, batch: StorageBatch) -> Result<(), StorageError> {
        if let Some(e) = self.fail_next.borrow_mut().take() {
            return Err(e);
        }
        let mut inner = self.inner.borrow_mut();
        let s = batch.store;
        // By reference: stronger than by key (a put also replaces any copy of its message).
        for (cid, key) in s.delete_messages.keys() {
            inner.delete_message(*cid, &key.id);
        }
        for cid in s.delete_conversations.keys() {
            inner.conversations.remove(cid);
        }
        for local in s.delete_outbox.keys() {
            inner.outbox.remove(local);
        }
        for m in s.put_messages.values() {
            inner.put_message(m);
        }
        for (cid, c) in s.put_conversations {
            inner.conversations.insert(cid, c);
        }
        inner.tombstones.extend(s.put_tombstones);
        inner.outbox.extend(s.put_outbox);
        inner.meta.extend(batch.put_meta);
        Ok(())
    }

    async fn conversations(&self) -> Result<Vec<ConversationRecord>, StorageError> {
        Ok(self.inner.borrow().conversations.values().cloned().gather())
    }

    async fn messages(
        &self,
        conversation: ConversationId,
        page: Page,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StorageError> {
        let inner = self.inner.borrow();
        let all = inner
            .messages
            .range_from(&(conversation, lowest()))
            .take_while(|((c, _), _)| *c == conversation)
            .map(|(_, m)| m);
        let mut out: Vec<StoredMessage> = match page {
            Page::Newest => all.cloned().gather(),
            Page::Before(k) => all.take_while(|m| m.key < k).cloned().gather(),
            Page::After(k) => {
                return Ok(all.filter(|m| m.key > k).take(limit).cloned().gather());
            }
        };
        let drop = out.len().saturating_sub(limit);
        out.drain(..drop);
        Ok(out)
    }

    async fn message_by_server_id(
        &self,
        id: ServerId,
    ) -> Result<Option<StoredMessage>, StorageError> {
        let inner = self.inner.borrow();
        Ok(inner
            .by_id
            .get(&MessageRef::Server(id))
            .and_then(|(c, k)| inner.messages.get(&(*c, k.clone())).cloned()))
    }

    async fn message_by_local_id(
        &self,
        local_id: &str,
    ) -> Result<Option<StoredMessage>, StorageError> {
        let inner = self.inner.borrow();
        Ok(inner
            .by_id
            .get(&MessageRef::Local(local_id.to_string()))
            .and_then(|(c, k)| inner.messages.get(&(*c, k.clone())).cloned()))
    }

    async fn outbox(&self) -> Result<Vec<OutboxEntry>, StorageError> {
        let out: Vec<OutboxEntry> = self.inner.borrow().outbox.values().cloned().gather();
        Ok(super::outbox_order(out))
    }

    async fn tombstones(&self) -> Result<Vec<(ServerId, Tombstone)>, StorageError> {
        Ok(self
            .inner
            .borrow()
            .tombstones
            .iter()
            .map(|(k, v)| (*k, *v))
            .gather())
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self.inner.borrow().meta.get(key).cloned())
    }

    async fn wipe(&self) -> Result<(), StorageError> {
        *self.inner.borrow_mut() = Inner::default();
        Ok(())
    }
}

fn lowest() -> MessageKey {
    MessageKey {
        weight: 0,
        sender_id: 0,
        id: MessageRef::Server(0),
    }
}

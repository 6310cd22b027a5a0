//! What the store hands back: incremental UI events and batches of records to persist.

use crate::collections::VecMap;

use super::record::{ConversationRecord, MessageKey, MessageRef, OutboxEntry, StoredMessage};
use crate::chat::ids::{ConversationId, ServerId};
use crate::json::{self, Doc, FromJson, Id, ToJson, Writer};

/// One change a UI applies incrementally. Indices are positions in the conversation's
/// ascending message list, or in the most-recent-first conversation list, at the moment
/// of the event (apply them in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    MessageInserted {
        conversation_id: ConversationId,
        index: usize,
        message: StoredMessage,
    },
    /// Changed in place (status, read flag, revoke, server id…).
    MessageUpdated {
        conversation_id: ConversationId,
        index: usize,
        message: StoredMessage,
    },
    MessageRemoved {
        conversation_id: ConversationId,
        index: usize,
        id: MessageRef,
        /// The local id the message was sent with, so a UI keyed by it finds it.
        local_id: Option<String>,
    },
    /// Inserted into the list at `index` (it was not there before). Its summary is
    /// [`super::Store::conversation`]: not copied into every event (each message of a
    /// backlog moves its conversation, and the engine sends the list once per input).
    ConversationInserted {
        index: usize,
        conversation_id: ConversationId,
    },
    /// Changed, and now at `to` (== `from` when it did not move).
    ConversationUpdated {
        from: usize,
        to: usize,
        conversation_id: ConversationId,
    },
    ConversationRemoved {
        index: usize,
        conversation_id: ConversationId,
    },
    /// The sum of all unread counts changed.
    UnreadTotal(u64),
}

/// Records to write, accumulated since the last [`super::Store::take_persist`]; applying
/// them (deletes first, then puts) brings storage to the store's state.
///
/// Messages are named by the key they are stored at:
/// * a delete names the [`MessageKey`] at which the message was last stored (not only its
///   reference), so a layout that files messages by key finds it;
/// * a message that moves to another key (its reference changed, or the same reference at
///   a different key: a resend, a raised weight) comes as a delete of its old key plus a
///   put at its new one, in the same batch;
/// * a put replaces the message stored at the same key.
///
/// Built by the store, a batch never holds a put and a delete of the same key: a put
/// cancels the pending delete of its exact key, and a delete cancels the pending put of
/// its message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistBatch {
    pub put_messages: VecMap<(ConversationId, MessageRef), StoredMessage>,
    /// The keys at which the deleted (or moved) messages were last stored.
    pub delete_messages: VecMap<(ConversationId, MessageKey), ()>,
    pub put_conversations: VecMap<ConversationId, ConversationRecord>,
    pub delete_conversations: VecMap<ConversationId, ()>,
    /// Server ids that must stay revoked or deleted even if they arrive again.
    pub put_tombstones: VecMap<ServerId, Tombstone>,
    pub put_outbox: VecMap<String, OutboxEntry>,
    pub delete_outbox: VecMap<String, ()>,
}

/// Why a server id is remembered after its message is gone or before it arrives.
/// Stored as `"revoked"` / `"deleted"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tombstone {
    Revoked,
    Deleted,
}

impl ToJson for Tombstone {
    fn write(&self, w: &mut Writer) {
        w.str(match self {
            Tombstone::Revoked => "revoked",
            Tombstone::Deleted => "deleted",
        });
    }
}

impl FromJson for Tombstone {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        let (name, value) = doc.variant(n, "Tombstone")?;
        let t = match name.as_str() {
            "revoked" => Tombstone::Revoked,
            "deleted" => Tombstone::Deleted,
            other => return Err(doc.unknown_variant(n, other, "`revoked` or `deleted`")),
        };
        doc.unit_variant(value)?;
        Ok(t)
    }
}

impl PersistBatch {
    pub fn is_empty(&self) -> bool {
        self.put_messages.is_empty()
            && self.delete_messages.is_empty()
            && self.put_conversations.is_empty()
            && self.delete_conversations.is_empty()
            && self.put_tombstones.is_empty()
            && self.put_outbox.is_empty()
            && self.delete_outbox.is_empty()
    }

    /// Writes `m` at its key. A pending delete of exactly that key (the same message back
    /// where it was) is dropped: the put replaces what is stored there. A delete of another
    /// key (where the message was before it moved) stays.
    pub fn put_message(&mut self, m: &StoredMessage) {
        self.put_message_owned(m.clone());
    }

    /// [`PersistBatch::put_message`] of a message the caller is done with: no copy.
    pub fn put_message_owned(&mut self, m: StoredMessage) {
        if !self.delete_messages.is_empty() {
            self.delete_messages
                .remove(&(m.conversation_id, m.key.clone()));
        }
        self.put_messages
            .insert((m.conversation_id, m.key.id.clone()), m);
    }

    pub(crate) fn put_outbox(&mut self, entry: OutboxEntry) {
        self.delete_outbox.remove(&entry.local_id);
        self.put_outbox.insert(entry.local_id.clone(), entry);
    }

    pub(crate) fn delete_outbox(&mut self, local_id: &str) {
        self.put_outbox.remove(local_id);
        self.delete_outbox.insert(local_id.to_string(), ());
    }

    /// Folds a later batch into this one, so that applying the result equals applying
    /// both in order (a write queue coalesces bursts this way).
    pub fn merge(&mut self, later: PersistBatch) {
        // The later puts go in with one pass over both maps (`VecMap::append`): inserted
        // one by one, in the middle of a batch of messages from many conversations, they
        // made merging a backlog quadratic. The other maps stay small.
        //
        // A later put replaces what is stored at its key: this batch's delete of that exact
        // key is moot. (One look-up per delete, so the big put map is not walked.)
        if !self.delete_messages.is_empty() && !later.put_messages.is_empty() {
            let puts = &later.put_messages;
            self.delete_messages = std::mem::take(&mut self.delete_messages)
                .into_iter()
                .filter(|((cid, key), ())| {
                    puts.get(&(*cid, key.id.clone()))
                        .is_none_or(|m| m.key != *key)
                })
                .collect();
        }
        // The later deletes go first: a later batch may delete a message's old key and put
        // it at a new one, and the delete must not take away that put. A later delete names
        // the key this batch's put of the same message wrote, so it drops that put.
        for ((cid, key), ()) in later.delete_messages {
            self.put_messages.remove(&(cid, key.id.clone()));
            self.delete_messages.insert((cid, key), ());
        }
        self.put_messages.append(later.put_messages);
        for (k, c) in later.put_conversations {
            self.delete_conversations.remove(&k);
            self.put_conversations.insert(k, c);
        }
        for (k, ()) in later.delete_conversations {
            self.put_conversations.remove(&k);
            self.delete_conversations.insert(k, ());
        }
        self.put_tombstones.extend(later.put_tombstones);
        for (k, e) in later.put_outbox {
            self.delete_outbox.remove(&k);
            self.put_outbox.insert(k, e);
        }
        for (k, ()) in later.delete_outbox {
            self.put_outbox.remove(&k);
            self.delete_outbox.insert(k, ());
        }
    }

    /// Moves the conversation records (puts and deletes) out, into a batch of their own.
    ///
    /// [`PersistBatch::merge`] folds these two maps apart from the others: a record
    /// replaces the one before it and a delete drops it, whatever the messages do. So
    /// they can be merged ahead of the rest and the result is the same, which is what
    /// [`crate::storage::WriteQueue`] does with them.
    pub fn take_conversations(&mut self) -> PersistBatch {
        PersistBatch {
            put_conversations: std::mem::take(&mut self.put_conversations),
            delete_conversations: std::mem::take(&mut self.delete_conversations),
            ..PersistBatch::default()
        }
    }

    /// Deletes the message stored at `key` (where it was last stored), dropping its pending
    /// put. A message that moves is deleted at its old key before it is put at the new one.
    pub fn delete_message(&mut self, conversation_id: ConversationId, key: MessageKey) {
        self.put_messages.remove(&(conversation_id, key.id.clone()));
        self.delete_messages.insert((conversation_id, key), ());
    }
}

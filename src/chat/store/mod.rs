//! The chat store: conversations, their messages in weight order, statuses, unread
//! counts, read receipts, revokes and dedupe.
//!
//! # Convergence
//!
//! The network delivers in any order and more than once: MQTT redelivers after a
//! reconnect, a history page races the realtime messages that arrived while it was in
//! flight (seed 001's 12:00:00 / 12:00:01 / 12:00:02 race), another device of mine echoes
//! what I sent. So every network input is merged as a join, never applied as a step:
//!
//! * a message is keyed by its server id; a second copy merges into the first (weight:
//!   the larger, which is how a resend moves a message to the end; revoked and read flags:
//!   or; content: the first known);
//! * a revoke that arrives before its message leaves a tombstone, so the message arrives
//!   revoked;
//! * read receipts are watermarks: "the peer has read my messages up to weight w" and "I
//!   have read the peer's messages up to weight w" (another device of mine marked them
//!   read), kept as maxima, and each message's read flag and each conversation's unread
//!   count are derived from them;
//! * the conversation list is ordered by the newest weight, ties by id.
//!
//! The final state therefore depends only on the set of inputs, not on their order or
//! repetition (the property test `tests/chat_store_convergence.rs` checks exactly that).
//! Local actions (sending, marking read, opening a conversation, deleting) are the user's
//! and happen in the order the user made them.
//!
//! # Outputs
//!
//! Every change queues [`StoreEvent`]s (drain with [`Store::poll_event`]) that a UI applies
//! incrementally, and accumulates the records to persist (take with
//! [`Store::take_persist`]): the UI never waits for storage.

mod conversation;
mod delete;
mod events;
mod incoming;
mod index;
mod list;
mod query;
mod record;
mod room_reads;
mod send;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;

use rustc_hash::FxHashMap;

use crate::collections::{Fifo, Gather, VecMap};

use thiserror::Error;

pub use events::{PersistBatch, StoreEvent, Tombstone};
pub use record::{
    ConversationRecord, ConversationSummary, MessageKey, MessageRef, Newest, OutboxEntry, Status,
    StoredMessage,
};

use super::ids::{ConversationId, ServerId, UserId};
use super::model::{Content, Incoming, WireMessage};
use super::order::OrderedIndex;
use index::{counts_unread, lowest_key, rank_of};
use list::List;

/// How long after sending a message its sender may revoke it (PROTOCOL.md), in ms of
/// calibrated server time.
pub const REVOKE_WINDOW_MS: u64 = 2 * 60 * 1000;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// The most room a new persist batch is given for messages, and for conversations (see
/// [`Store::take_persist`]): about a WebSocket frame of a backlog.
const NEXT_BATCH_ROOM: usize = 128;

/// Why a local action was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    // Display, not Debug, in these texts: `{:?}` of a string brings in core's escaping
    // (some 3 KB of wasm).
    #[error("no such message {0}")]
    NoSuchMessage(MessageRef),
    #[error("only the sender can revoke a message")]
    NotMine,
    #[error("a message can be revoked only within 2 minutes of sending ({age_ms} ms ago)")]
    RevokeTooLate { age_ms: u64 },
    #[error("the message is not sent yet")]
    NotSent,
    #[error("the message is already revoked")]
    AlreadyRevoked,
    #[error("only a failed message can be resent (it is {0:?})")]
    NotFailed(Status),
    #[error("a user cannot message themself")]
    SelfMessage,
    #[error("the local id '{0}' is already used")]
    DuplicateLocalId(String),
}

/// The list position of a conversation: newest activity first, ties by id.
type ListKey = (Reverse<u64>, ConversationId);

#[derive(Debug)]
struct Conv {
    record: ConversationRecord,
    /// Boxed: a leaf insert then shifts small entries, not whole messages.
    messages: OrderedIndex<MessageKey, Box<StoredMessage>>,
    /// Its key in the conversation list, when listed.
    listed: Option<ListKey>,
    /// The oldest key of the pages read back from storage in order: the next older page
    /// starts before it (a single message hydrated out of order does not move it).
    paged_from: Option<MessageKey>,
}

impl Conv {
    fn new(id: ConversationId, created_at: u64) -> Conv {
        Conv {
            record: ConversationRecord {
                id,
                my_read_mark: 0,
                peer_read_mark: 0,
                cleared_mark: 0,
                created_at,
                members: Vec::new(),
                member_reads: Vec::new(),
                unread: 0,
                listed: false,
                newest: Newest::Empty,
            },
            messages: OrderedIndex::new(),
            listed: None,
            paged_from: None,
        }
    }

    /// Where the next older page starts: the oldest key of the pages read back in order,
    /// else the oldest message held ([`Store::paged_from`]).
    fn paging_point(&self) -> Option<&MessageKey> {
        self.paged_from
            .as_ref()
            .or_else(|| self.messages.first().map(|(k, _)| k))
    }

    fn last_activity(&self) -> u64 {
        self.messages
            .last()
            .map_or(self.record.created_at, |(k, _)| {
                k.weight.max(self.record.created_at)
            })
    }

    fn summary(&self) -> ConversationSummary {
        ConversationSummary {
            id: self.record.id,
            last_message: self.messages.last().map(|(_, m)| (**m).clone()),
            last_activity: self.last_activity(),
            unread: self.record.unread,
            members: self.record.members.clone(),
        }
    }
}

/// The state of one user's chats. See the module documentation.
#[derive(Debug)]
pub struct Store {
    me: UserId,
    /// VecMap, not HashMap: a few KB less wasm, and a binary search over even thousands of
    /// conversations is as quick as hashing.
    convs: VecMap<ConversationId, Conv>,
    list: List,
    /// Where each message is, by server id and by local id.
    locate: FxHashMap<MessageRef, (ConversationId, MessageKey)>,
    tombstones: VecMap<ServerId, Tombstone>,
    /// The largest resend weight heard for each server id, also before the message.
    resend_weights: VecMap<ServerId, u64>,
    /// Conversations shown by the UI (several when several tabs show one each).
    open: Vec<ConversationId>,
    retention_days: Option<u32>,
    /// Messages older than this were dropped by retention and are not taken again.
    retention_cutoff: u64,
    unread_total: u64,
    reported_unread_total: u64,
    events: Fifo<StoreEvent>,
    persist: PersistBatch,
    /// Conversations whose record goes into the persist batch as it is when the batch is
    /// taken ([`Store::persist_conv`]).
    dirty: VecMap<ConversationId, ()>,
}

impl Store {
    /// An empty store for user `me`.
    pub fn new(me: UserId) -> Store {
        Store {
            me,
            convs: VecMap::new(),
            list: List::default(),
            locate: FxHashMap::default(),
            tombstones: VecMap::new(),
            resend_weights: VecMap::new(),
            open: Vec::new(),
            retention_days: None,
            retention_cutoff: 0,
            unread_total: 0,
            reported_unread_total: 0,
            events: Fifo::new(),
            persist: PersistBatch::default(),
            dirty: VecMap::new(),
        }
    }

    /// A store rebuilt from persisted records, without events. Each conversation starts
    /// with the newest message its record keeps, and `messages` (read back from storage:
    /// the newest of those whose record does not know it, or whole pages); unread counts
    /// come from the records, and older pages join later with [`Store::insert_page`]. The
    /// persist batch holds only repairs (a revoke that reached storage only as a
    /// tombstone, a record's `newest` now known).
    pub fn restore(
        me: UserId,
        conversations: Vec<ConversationRecord>,
        messages: Vec<StoredMessage>,
        tombstones: Vec<(ServerId, Tombstone)>,
    ) -> Store {
        let mut store = Store::new(me);
        store.tombstones.extend(tombstones);
        for record in conversations {
            let mut conv = Conv::new(record.id, record.created_at);
            conv.record = record;
            store.convs.insert(conv.record.id, conv);
        }
        let ids: Vec<ConversationId> = store.convs.keys().copied().gather();
        for id in &ids {
            if let Some(conv) = store.convs.get(id) {
                store.unread_total += u64::from(conv.record.unread);
            }
        }
        // Storage was just asked for the newest message these records did not know (in
        // id order, as `convs` is).
        let asked: Vec<ConversationId> = store
            .convs
            .values()
            .filter(|c| c.record.newest == Newest::Unknown)
            .map(|c| c.record.id)
            .gather();
        let kept = store.convs.values().filter_map(|c| match &c.record.newest {
            Newest::Message(m) => Some((**m).clone()),
            Newest::Unknown | Newest::Empty => None,
        });
        let mut page: Vec<StoredMessage> = kept.gather();
        page.extend(messages);
        store.insert_page(page);
        while store.poll_event().is_some() {}
        let ids: Vec<ConversationId> = store.convs.keys().copied().gather();
        for id in ids {
            store.sync_newest(id, asked.binary_search(&id).is_ok());
            if let Some(conv) = store.convs.get_mut(&id) {
                if conv.record.listed {
                    let key = (Reverse(conv.last_activity()), id);
                    conv.listed = Some(key);
                    store.list.insert(key);
                }
            }
        }
        store.reported_unread_total = store.unread_total;
        store
    }

    /// A page of messages read back from storage (the newest page, or the page before
    /// [`Store::paged_from`]) joins its conversations: shown, not persisted again, and
    /// already counted in the persisted unread count. A conversation whose newest message
    /// it is (nothing newer was held: its held ones were deleted) is updated in the list.
    pub fn insert_page(&mut self, messages: Vec<StoredMessage>) {
        let mut newest: Vec<ConversationId> = Vec::new();
        for m in messages {
            let cid = m.conversation_id;
            let key = m.key.clone();
            let is_newest = self
                .convs
                .get(&cid)
                .is_none_or(|c| c.messages.last().is_none_or(|(k, _)| key > *k));
            // The page was read in order, so it moves the paging point even where a message
            // was held already (hydrated out of order) or is skipped (deleted, cleared).
            // A page holds its conversations one after the other.
            if self.load_one(m) && is_newest && newest.last() != Some(&cid) {
                newest.push(cid);
            }
            if let Some(conv) = self.convs.get_or_insert_with(cid, || Conv::new(cid, 0)) {
                if conv.paged_from.as_ref().is_none_or(|p| key < *p) {
                    conv.paged_from = Some(key);
                }
            }
        }
        for cid in newest {
            self.relist(cid, false);
            self.sync_newest(cid, false);
        }
        self.finish();
    }

    /// One message read back from storage out of page order (to merge a redelivery or a
    /// revoke into it): it joins without moving [`Store::paged_from`].
    pub fn insert_loaded(&mut self, message: StoredMessage) {
        self.load_one(message);
        self.finish();
    }

    /// Whether storage can still hold older messages worth reading back for a conversation
    /// (not when everything before the paging point was cleared or pruned, nor for a
    /// conversation the store does not know: every conversation with a stored message has
    /// a record, never deleted, and start-up loads every record).
    pub fn may_have_older(&self, id: ConversationId) -> bool {
        self.convs
            .get(&id)
            .is_some_and(|conv| self.conv_may_have_older(conv))
    }

    fn conv_may_have_older(&self, conv: &Conv) -> bool {
        let floor = conv.record.cleared_mark;
        let floor = floor.max(self.retention_cutoff.saturating_sub(1));
        conv.paging_point()
            .is_none_or(|k| k.weight > floor.saturating_add(1))
    }

    /// Whether a message of `conversation` not held (of `weight`, when known) may be in
    /// storage, unloaded: only if storage may have older messages, and the message is not
    /// newer than where the pages read back in order end (it cannot be in the older,
    /// unloaded history then). Not the oldest message held: one read back out of order (an
    /// earlier look-up) may sit below unloaded ones. One look-up of the conversation: the
    /// engine asks this for every message that arrives.
    pub fn may_be_unloaded(&self, conversation: ConversationId, weight: Option<u64>) -> bool {
        let Some(conv) = self.convs.get(&conversation) else {
            return false;
        };
        if !self.conv_may_have_older(conv) {
            return false;
        }
        !matches!((weight, conv.paging_point()), (Some(w), Some(k)) if w > k.weight)
    }

    /// Where the next older page of a conversation starts in storage (`None`: nothing read
    /// back yet, start from the newest).
    pub fn paged_from(&self, id: ConversationId) -> Option<MessageKey> {
        self.convs.get(&id)?.paging_point().cloned()
    }

    /// Adds a stored message unless it is held already, deleted, or cleared with its
    /// conversation; a revoke that reached storage only as a tombstone is applied now (and
    /// taken off the unread count it could not reach before). Returns whether it was added.
    fn load_one(&mut self, mut m: StoredMessage) -> bool {
        let cid = m.conversation_id;
        if self.locate.contains_key(&m.key.id) {
            return false;
        }
        let tomb = m
            .server_id()
            .and_then(|id| self.tombstones.get(&id).copied());
        if tomb == Some(Tombstone::Deleted) || m.key.weight < self.retention_cutoff {
            return false;
        }
        let me = self.me;
        let Some(conv) = self.convs.get_or_insert_with(cid, || Conv::new(cid, 0)) else {
            return false;
        };
        if m.key.weight <= conv.record.cleared_mark {
            return false;
        }
        if tomb == Some(Tombstone::Revoked) && !m.is_revoked() {
            if counts_unread(me, &conv.record, &m) {
                conv.record.unread = conv.record.unread.saturating_sub(1);
                self.unread_total = self.unread_total.saturating_sub(1);
                self.dirty.insert(cid, ());
            }
            m.status = Status::Revoked;
            m.content = None;
            self.persist.put_message(&m);
        }
        // The peer's read mark may have passed this copy while it sat in storage (the
        // receipt came with the message unloaded): its read flag follows the mark, as in
        // `place`.
        if m.sender_id() == me && !m.read && m.key.weight <= conv.record.peer_read_mark {
            m.read = true;
            self.persist.put_message(&m);
        }
        self.locate.insert(m.key.id.clone(), (cid, m.key.clone()));
        if let Some(local) = &m.local_id {
            self.locate
                .insert(MessageRef::Local(local.clone()), (cid, m.key.clone()));
        }
        let (index, _) = conv.messages.insert(m.key.clone(), Box::new(m.clone()));
        self.events.push_back(StoreEvent::MessageInserted {
            conversation_id: cid,
            index,
            message: m,
        });
        true
    }

    /// The user this store belongs to.
    pub fn me(&self) -> UserId {
        self.me
    }

    // ---- outputs ------------------------------------------------------------------------

    /// The next UI event, in order.
    pub fn poll_event(&mut self) -> Option<StoreEvent> {
        self.events.pop_front()
    }

    /// The records changed since the last call. First every conversation whose messages
    /// changed has its record's `newest` brought up to date (the record is written when
    /// that changed it): one rule, here, for every change that can move the newest message.
    pub fn take_persist(&mut self) -> PersistBatch {
        // Keys sort by conversation first: each map names its conversations in runs, so
        // the puts name each once; a delete's conversation may be among them. (No sort:
        // it would cost about 1 KB of wasm.)
        let p = &self.persist;
        let mut touched: Vec<ConversationId> = Vec::new();
        for (c, _) in p.put_messages.keys() {
            if touched.last() != Some(c) {
                touched.push(*c);
            }
        }
        for (c, _) in p.delete_messages.keys() {
            if touched.last() != Some(c) && !touched.contains(c) {
                touched.push(*c);
            }
        }
        for id in touched {
            self.sync_newest(id, false);
        }
        for id in std::mem::take(&mut self.dirty).into_keys() {
            if let Some(conv) = self.convs.get(&id) {
                self.persist
                    .put_conversations
                    .insert(id, conv.record.clone());
            }
        }
        // The next batch gets room for as many messages and conversations as this one (up
        // to a frame's worth): a backlog's frames make batches of the same size, and grown
        // from nothing by doubling each cost half a dozen reallocations of big blocks
        // (8 of 184 ms of a 10,000-message backlog's profile).
        let next = PersistBatch {
            put_messages: VecMap::with_capacity(
                self.persist.put_messages.len().min(NEXT_BATCH_ROOM),
            ),
            put_conversations: VecMap::with_capacity(
                self.persist.put_conversations.len().min(NEXT_BATCH_ROOM),
            ),
            ..PersistBatch::default()
        };
        std::mem::replace(&mut self.persist, next)
    }

    /// Sets a conversation's `record.newest` from its loaded messages; writes the record
    /// when that changed it. With no message loaded it is `Empty` when storage has nothing
    /// older either (`read_back`: storage was just asked), else no longer known.
    fn sync_newest(&mut self, id: ConversationId, read_back: bool) {
        let may_have_older = self.may_have_older(id);
        let Some(conv) = self.convs.get_mut(&id) else {
            return;
        };
        let newest = match (conv.messages.last(), &conv.record.newest) {
            (Some((_, m)), Newest::Message(kept)) if m == kept => return,
            (Some((_, m)), _) => Newest::Message(m.clone()),
            (None, _) if read_back || !may_have_older => Newest::Empty,
            (None, Newest::Message(_)) => Newest::Unknown,
            (None, kept) => kept.clone(),
        };
        if conv.record.newest != newest {
            conv.record.newest = newest;
            self.dirty.insert(id, ());
        }
    }
}

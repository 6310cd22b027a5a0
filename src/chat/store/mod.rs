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

mod events;
mod record;
mod room_reads;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};

use crate::collections::VecMap;

use thiserror::Error;

pub use events::{PersistBatch, StoreEvent, Tombstone};
pub use record::{
    ConversationRecord, ConversationSummary, MessageKey, MessageRef, OutboxEntry, Status,
    StoredMessage,
};

use super::ids::{ConversationId, ServerId, UserId};
use super::model::{Content, Incoming, WireMessage};
use super::order::OrderedIndex;

/// How long after sending a message its sender may revoke it (PROTOCOL.md), in ms of
/// calibrated server time.
pub const REVOKE_WINDOW_MS: u64 = 2 * 60 * 1000;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

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
            },
            messages: OrderedIndex::new(),
            listed: None,
            paged_from: None,
        }
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

/// The conversation list, most recent first, as a sorted `Vec`: a second [`OrderedIndex`]
/// key/value type would cost some 5 KB of wasm, and conversations number in the
/// thousands at most. A conversation that moves is rotated into place, which moves only
/// the entries between its old and new position (few: the active ones are at the front).
#[derive(Debug, Default)]
struct List(Vec<ListKey>);

impl List {
    fn iter(&self) -> std::slice::Iter<'_, ListKey> {
        self.0.iter()
    }

    /// Adds `key` (if it is not there); returns its index.
    fn insert(&mut self, key: ListKey) -> usize {
        match self.0.binary_search(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, key);
                i
            }
        }
    }

    /// Removes `key`; returns the index it had.
    fn remove(&mut self, key: &ListKey) -> Option<usize> {
        let i = self.0.binary_search(key).ok()?;
        self.0.remove(i);
        Some(i)
    }

    /// Replaces `old` by `new`: `(from, to)`, the index `old` had and the one `new` has,
    /// as a remove and an insert would report them.
    fn refile(&mut self, old: &ListKey, new: ListKey) -> (usize, usize) {
        let Ok(from) = self.0.binary_search(old) else {
            return (0, self.insert(new));
        };
        let to = match self.0.binary_search(&new) {
            Ok(i) | Err(i) if i <= from => i,
            Ok(i) | Err(i) => i - 1,
        };
        if to <= from {
            if let Some(s) = self.0.get_mut(to..=from) {
                s.rotate_right(1);
            }
        } else if let Some(s) = self.0.get_mut(from..=to) {
            s.rotate_left(1);
        }
        if let Some(k) = self.0.get_mut(to) {
            *k = new;
        }
        (from, to)
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
    locate: HashMap<MessageRef, (ConversationId, MessageKey)>,
    tombstones: VecMap<ServerId, Tombstone>,
    /// The largest resend weight heard for each server id, also before the message.
    resend_weights: VecMap<ServerId, u64>,
    open: Option<ConversationId>,
    retention_days: Option<u32>,
    /// Messages older than this were dropped by retention and are not taken again.
    retention_cutoff: u64,
    unread_total: u64,
    reported_unread_total: u64,
    events: VecDeque<StoreEvent>,
    persist: PersistBatch,
}

impl Store {
    /// An empty store for user `me`.
    pub fn new(me: UserId) -> Store {
        Store {
            me,
            convs: VecMap::new(),
            list: List::default(),
            locate: HashMap::new(),
            tombstones: VecMap::new(),
            resend_weights: VecMap::new(),
            open: None,
            retention_days: None,
            retention_cutoff: 0,
            unread_total: 0,
            reported_unread_total: 0,
            events: VecDeque::new(),
            persist: PersistBatch::default(),
        }
    }

    /// A store rebuilt from persisted records, without events. The messages may be only
    /// the newest page of each conversation: unread counts come from the records, and older
    /// pages join later with [`Store::insert_page`]. The persist batch holds only repairs
    /// (a revoke that reached storage only as a tombstone).
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
        let ids: Vec<ConversationId> = store.convs.keys().copied().collect();
        for id in &ids {
            if let Some(conv) = store.convs.get(id) {
                store.unread_total += u64::from(conv.record.unread);
            }
        }
        store.insert_page(messages);
        while store.poll_event().is_some() {}
        let ids: Vec<ConversationId> = store.convs.keys().copied().collect();
        for id in ids {
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
    /// already counted in the persisted unread count.
    pub fn insert_page(&mut self, messages: Vec<StoredMessage>) {
        for m in messages {
            let cid = m.conversation_id;
            let key = m.key.clone();
            // The page was read in order, so it moves the paging point even where a message
            // was held already (hydrated out of order) or is skipped (deleted, cleared).
            self.load_one(m);
            if let Some(conv) = self.convs.get_or_insert_with(cid, || Conv::new(cid, 0)) {
                if conv.paged_from.as_ref().is_none_or(|p| key < *p) {
                    conv.paged_from = Some(key);
                }
            }
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
    /// (not when everything before the paging point was cleared or pruned).
    pub fn may_have_older(&self, id: ConversationId) -> bool {
        let floor = self.convs.get(&id).map_or(0, |c| c.record.cleared_mark);
        let floor = floor.max(self.retention_cutoff.saturating_sub(1));
        self.paged_from(id)
            .is_none_or(|k| k.weight > floor.saturating_add(1))
    }

    /// Where the next older page of a conversation starts in storage (`None`: nothing read
    /// back yet, start from the newest).
    pub fn paged_from(&self, id: ConversationId) -> Option<MessageKey> {
        let conv = self.convs.get(&id)?;
        conv.paged_from
            .clone()
            .or_else(|| conv.messages.first().map(|(k, _)| k.clone()))
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
                self.persist
                    .put_conversations
                    .insert(cid, conv.record.clone());
            }
            m.status = Status::Revoked;
            m.content = None;
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

    /// The records changed since the last call.
    pub fn take_persist(&mut self) -> PersistBatch {
        std::mem::take(&mut self.persist)
    }

    // ---- queries ------------------------------------------------------------------------

    /// Conversations, most recent first.
    pub fn conversations(&self) -> Vec<ConversationSummary> {
        self.list
            .iter()
            .filter_map(|(_, id)| self.convs.get(id).map(Conv::summary))
            .collect()
    }

    pub fn conversation(&self, id: ConversationId) -> Option<ConversationSummary> {
        self.convs.get(&id).map(Conv::summary)
    }

    /// The persisted part of a conversation (read marks, members).
    pub fn conversation_record(&self, id: ConversationId) -> Option<&ConversationRecord> {
        self.convs.get(&id).map(|c| &c.record)
    }

    pub fn unread_total(&self) -> u64 {
        self.unread_total
    }

    /// How many messages of the conversation are held.
    pub fn message_count(&self, id: ConversationId) -> usize {
        self.convs.get(&id).map_or(0, |c| c.messages.len())
    }

    /// Up to `limit` messages before `before` (exclusive; the newest when `None`), in
    /// ascending order.
    pub fn messages(
        &self,
        id: ConversationId,
        before: Option<&MessageKey>,
        limit: usize,
    ) -> Vec<StoredMessage> {
        let Some(conv) = self.convs.get(&id) else {
            return Vec::new();
        };
        let end = match before {
            Some(key) => rank_of(&conv.messages, key),
            None => conv.messages.len(),
        };
        let start = end.saturating_sub(limit);
        conv.messages
            .iter_from(start)
            .take(end - start)
            .map(|(_, m)| (**m).clone())
            .collect()
    }

    /// The key of the oldest message held of a conversation (older ones may be in storage).
    pub fn oldest_key(&self, id: ConversationId) -> Option<MessageKey> {
        self.convs
            .get(&id)?
            .messages
            .first()
            .map(|(k, _)| k.clone())
    }

    /// A message by server or local id.
    pub fn message(&self, r: &MessageRef) -> Option<&StoredMessage> {
        let (cid, key) = self.locate.get(r)?;
        self.convs.get(cid)?.messages.get(key).map(|m| &**m)
    }

    /// The conversation open in the UI, if any.
    pub fn open_conversation(&self) -> Option<ConversationId> {
        self.open
    }

    // ---- network inputs (order-independent) ------------------------------------------------

    /// Applies one decoded payload. `received_weight` (calibrated time of receipt) stands in
    /// for the position of a read receipt that carries none.
    pub fn apply(&mut self, incoming: Incoming, received_weight: u64) {
        match incoming {
            Incoming::Message(m) => self.merge_wire(m),
            Incoming::Revoke {
                msg_id,
                conversation_id,
            } => self.merge_revoke(msg_id, conversation_id),
            Incoming::Read {
                sender_id,
                conversation_id,
                up_to_weight,
            } => self.merge_read(
                sender_id,
                conversation_id,
                up_to_weight.unwrap_or(received_weight),
            ),
            Incoming::Members {
                conversation_id,
                members,
            } => self.set_members(conversation_id, members),
        }
        self.finish();
    }

    /// Merges a page of history (any order; messages already held are merged, not doubled).
    pub fn apply_history(&mut self, page: Vec<WireMessage>) {
        for m in page {
            self.merge_wire(m);
        }
        self.finish();
    }

    /// The backend's count of my unread messages in `id`, as of its newest message (weight
    /// `up_to`). Where more than `unread` messages up to `up_to` count as unread here, my read
    /// mark moves on so that only the newest `unread` of them do: a conversation read on
    /// another device (or before this device had any history) is read here too. The count
    /// only ever goes down: messages newer than `up_to`, or not held, are left alone.
    pub fn apply_server_unread(&mut self, id: ConversationId, unread: u32, up_to: u64) {
        let Some(conv) = self.convs.get(&id) else {
            return;
        };
        let me = self.me;
        let counted: Vec<u64> = self
            .range(id, conv.record.my_read_mark, up_to)
            .into_iter()
            .filter(|(_, m)| counts_unread(me, &conv.record, m))
            .map(|(k, _)| k.weight)
            .collect();
        let read = counted.len().saturating_sub(unread as usize);
        if let Some(mark) = read.checked_sub(1).and_then(|i| counted.get(i)) {
            self.advance_my_read_mark(id, *mark);
        }
        self.finish();
    }

    /// The server confirmed a resend of `id` at `weight` (or relayed someone's resend).
    pub fn apply_resend(&mut self, id: ServerId, weight: u64) {
        match self.resend_weights.get_mut(&id) {
            Some(heard) => *heard = (*heard).max(weight),
            None => {
                self.resend_weights.insert(id, weight);
            }
        }
        if let Some((cid, key)) = self.locate.get(&MessageRef::Server(id)).cloned() {
            if let Some(old) = self.get(cid, &key) {
                let mut new = old.clone();
                new.key.weight = new.key.weight.max(weight);
                if matches!(new.status, Status::Sending | Status::Failed) {
                    new.status = Status::Sent;
                }
                self.place(cid, Some(key), new);
            }
        }
        self.finish();
    }

    // ---- local actions --------------------------------------------------------------------

    /// A message I am sending: shown at once with status `Sending` under `local_id`.
    pub fn send_local(
        &mut self,
        conversation_id: ConversationId,
        content: Content,
        local_id: &str,
        weight: u64,
    ) -> Result<StoredMessage, StoreError> {
        let local = MessageRef::Local(local_id.to_string());
        if self.locate.contains_key(&local) {
            return Err(StoreError::DuplicateLocalId(local_id.to_string()));
        }
        let receiver_id = match conversation_id {
            ConversationId::Room(room) => room,
            direct => direct
                .peer_of(self.me)
                .filter(|peer| *peer != self.me)
                .ok_or(StoreError::SelfMessage)?,
        };
        let message = StoredMessage {
            key: MessageKey {
                weight,
                sender_id: self.me,
                id: local,
            },
            conversation_id,
            local_id: Some(local_id.to_string()),
            receiver_id,
            content: Some(content),
            status: Status::Sending,
            read: false,
            server_read: false,
            sender_name: None,
            sender_avatar: None,
        };
        self.place(conversation_id, None, message.clone());
        self.persist.put_outbox(outbox_entry(&message));
        self.finish();
        Ok(message)
    }

    /// The server stored my message: it now has `server_id` (and the server's `weight`).
    /// If a copy with that id arrived first (an echo), the two become one.
    pub fn send_succeeded(
        &mut self,
        local_id: &str,
        server_id: ServerId,
        weight: u64,
    ) -> Result<StoredMessage, StoreError> {
        let local = MessageRef::Local(local_id.to_string());
        let (cid, key) = self
            .locate
            .get(&local)
            .cloned()
            .ok_or_else(|| StoreError::NoSuchMessage(local.clone()))?;
        let old = self
            .get(cid, &key)
            .cloned()
            .ok_or_else(|| StoreError::NoSuchMessage(local.clone()))?;
        self.persist.delete_outbox(local_id);
        let server = MessageRef::Server(server_id);
        // The echo came first: a copy with the server id is listed beside the optimistic
        // one. The UI knows each by its own key, so the echo goes (removed under its server
        // id) and the optimistic copy takes its place, keeping its local key. What the echo
        // learnt (read, revoked, the sender's name) carries over.
        let echo = self
            .locate
            .get(&server)
            .cloned()
            .filter(|(_, skey)| *skey != key)
            .and_then(|(scid, skey)| {
                let m = self.get(scid, &skey).cloned();
                self.remove(scid, &skey);
                m
            });
        let mut new = old;
        // The server's weight is what every other copy of this message carries (a second
        // answer for the same message never moves it back).
        new.key.weight = if new.key.id == server {
            weight.max(new.key.weight)
        } else {
            weight
        };
        new.key.id = server;
        if let Some(echo) = &echo {
            new.key.weight = weight.max(echo.key.weight);
            new.server_read |= echo.server_read;
            if new.sender_name.is_none() {
                new.sender_name.clone_from(&echo.sender_name);
            }
            if new.sender_avatar.is_none() {
                new.sender_avatar.clone_from(&echo.sender_avatar);
            }
        }
        let revoked = self.tombstones.get(&server_id) == Some(&Tombstone::Revoked)
            || echo.as_ref().is_some_and(StoredMessage::is_revoked);
        new.status = if revoked {
            Status::Revoked
        } else {
            Status::Sent
        };
        if revoked {
            new.content = None;
        }
        self.place(cid, Some(key), new);
        self.finish();
        self.message(&MessageRef::Server(server_id))
            .cloned()
            .ok_or(StoreError::NoSuchMessage(MessageRef::Server(server_id)))
    }

    /// My message could not be sent: it stays, marked `Failed`, ready for a resend.
    pub fn send_failed(&mut self, r: &MessageRef) -> Result<(), StoreError> {
        let (cid, key, old) = self.find(r)?;
        if old.status == Status::Sending {
            if let Some(local) = &old.local_id {
                self.persist.delete_outbox(local);
            }
            let mut new = old;
            new.status = Status::Failed;
            self.place(cid, Some(key), new);
        }
        self.finish();
        Ok(())
    }

    /// Resends a failed message of mine: `Sending` again, with a new weight, so it moves
    /// to the end.
    pub fn resend(&mut self, r: &MessageRef, weight: u64) -> Result<StoredMessage, StoreError> {
        let (cid, key, old) = self.find(r)?;
        if old.status != Status::Failed {
            return Err(StoreError::NotFailed(old.status));
        }
        let mut new = old;
        new.status = Status::Sending;
        new.key.weight = new.key.weight.max(weight);
        self.place(cid, Some(key), new.clone());
        if new.local_id.is_some() {
            self.persist.put_outbox(outbox_entry(&new));
        }
        self.finish();
        Ok(new)
    }

    /// Revokes my own message, refused after [`REVOKE_WINDOW_MS`] of calibrated time.
    pub fn revoke_mine(&mut self, r: &MessageRef, now_weight: u64) -> Result<ServerId, StoreError> {
        let server_id = self.check_revoke(r, now_weight)?;
        let (_, _, old) = self.find(r)?;
        self.merge_revoke(server_id, old.conversation_id);
        self.finish();
        Ok(server_id)
    }

    /// Whether I may revoke `r` at `now_weight` (calibrated time): mine, sent, not revoked,
    /// at most [`REVOKE_WINDOW_MS`] old. Its server id if so. Changes nothing (a backend
    /// revokes first, and the store hears of it after).
    pub fn check_revoke(&self, r: &MessageRef, now_weight: u64) -> Result<ServerId, StoreError> {
        let old = self
            .message(r)
            .ok_or_else(|| StoreError::NoSuchMessage(r.clone()))?;
        if old.sender_id() != self.me {
            return Err(StoreError::NotMine);
        }
        if old.is_revoked() {
            return Err(StoreError::AlreadyRevoked);
        }
        let Some(server_id) = old.server_id() else {
            return Err(StoreError::NotSent);
        };
        let age_ms = now_weight.saturating_sub(old.weight());
        if age_ms > REVOKE_WINDOW_MS {
            return Err(StoreError::RevokeTooLate { age_ms });
        }
        Ok(server_id)
    }

    /// Everything the peer sent up to the newest message is read by me: unread drops to 0.
    /// Returns whether anything changed (and a read receipt is worth sending).
    pub fn mark_read(&mut self, id: ConversationId) -> bool {
        let Some(last) = self
            .convs
            .get(&id)
            .and_then(|c| c.messages.last().map(|(k, _)| k.weight))
        else {
            return false;
        };
        let moved = self.advance_my_read_mark(id, last);
        self.finish();
        moved
    }

    /// The UI shows `id`: its unread count stays 0 while it is open.
    pub fn open(&mut self, id: ConversationId) -> bool {
        self.open = Some(id);
        self.mark_read(id)
    }

    /// The UI no longer shows a conversation.
    pub fn close(&mut self) {
        self.open = None;
    }

    /// Creates (or lists again) a conversation, for instance a room just joined.
    pub fn ensure_conversation(&mut self, id: ConversationId, now_weight: u64) {
        if !self.convs.contains_key(&id) {
            self.convs.insert(id, Conv::new(id, now_weight));
            self.persist_conv(id);
        }
        self.relist(id, true);
        self.finish();
    }

    /// Sets a room's members.
    pub fn set_members(&mut self, id: ConversationId, members: Vec<UserId>) {
        if let Some(conv) = self.convs.get_or_insert_with(id, || Conv::new(id, 0)) {
            conv.record.members = members;
        }
        self.persist_conv(id);
        self.relist(id, false);
        self.finish();
    }

    /// Deletes a message on this device only; it will not come back from history.
    pub fn delete_message(&mut self, r: &MessageRef) -> Result<(), StoreError> {
        let (cid, key, old) = self.find(r)?;
        if let Some(id) = old.server_id() {
            self.tombstones.insert(id, Tombstone::Deleted);
            self.persist.put_tombstones.insert(id, Tombstone::Deleted);
        }
        self.remove(cid, &key);
        self.relist(cid, false);
        self.finish();
        Ok(())
    }

    /// Deletes a conversation's messages on this device and removes it from the list
    /// until a newer message arrives.
    pub fn delete_conversation(&mut self, id: ConversationId) {
        let Some(conv) = self.convs.get_mut(&id) else {
            return;
        };
        let last = conv.last_activity();
        let keys: Vec<MessageKey> = conv.messages.iter().map(|(k, _)| k.clone()).collect();
        for key in keys.into_iter().rev() {
            self.remove(id, &key);
        }
        if let Some(conv) = self.convs.get_mut(&id) {
            conv.record.cleared_mark = conv.record.cleared_mark.max(last);
            conv.record.my_read_mark = conv.record.my_read_mark.max(last);
            // Unloaded history was counted too: nothing of it is unread any more.
            self.unread_total = self
                .unread_total
                .saturating_sub(u64::from(conv.record.unread));
            conv.record.unread = 0;
            conv.paged_from = Some(lowest_key(conv.record.cleared_mark.saturating_add(1)));
        }
        self.persist_conv(id);
        if let Some(conv) = self.convs.get_mut(&id) {
            conv.record.listed = false;
            self.persist
                .put_conversations
                .insert(id, conv.record.clone());
            if let Some(key) = conv.listed.take() {
                if let Some(index) = self.list.remove(&key) {
                    self.events.push_back(StoreEvent::ConversationRemoved {
                        index,
                        conversation_id: id,
                    });
                }
            }
        }
        if self.open == Some(id) {
            self.open = None;
        }
        self.finish();
    }

    /// Keeps only the last `days` days of messages (off with `None`); applied by
    /// [`Store::prune`].
    pub fn set_retention(&mut self, days: Option<u32>) {
        self.retention_days = days;
    }

    /// Drops messages older than the retention period, relative to `now_weight`.
    pub fn prune(&mut self, now_weight: u64) {
        let Some(days) = self.retention_days else {
            return;
        };
        let cutoff = now_weight.saturating_sub(u64::from(days).saturating_mul(DAY_MS));
        self.retention_cutoff = self.retention_cutoff.max(cutoff);
        let ids: Vec<ConversationId> = self.convs.keys().copied().collect();
        for id in ids {
            loop {
                let first = self
                    .convs
                    .get(&id)
                    .and_then(|c| c.messages.first().map(|(k, _)| k.clone()));
                match first {
                    Some(key) if key.weight < cutoff => self.remove(id, &key),
                    _ => break,
                }
            }
            self.relist(id, false);
        }
        self.finish();
    }

    // ---- merging ----------------------------------------------------------------------------

    fn merge_wire(&mut self, w: WireMessage) {
        if self.tombstones.get(&w.id) == Some(&Tombstone::Deleted)
            || w.weight < self.retention_cutoff
        {
            return;
        }
        let cid = w.conversation_id;
        let weight = self
            .resend_weights
            .get(&w.id)
            .map_or(w.weight, |r| w.weight.max(*r));
        if let Some(conv) = self.convs.get(&cid) {
            if weight <= conv.record.cleared_mark {
                return;
            }
        }
        if w.revoked && !self.tombstones.contains_key(&w.id) {
            self.tombstones.insert(w.id, Tombstone::Revoked);
            self.persist.put_tombstones.insert(w.id, Tombstone::Revoked);
        }
        let revoked = self.tombstones.get(&w.id) == Some(&Tombstone::Revoked);
        let server = MessageRef::Server(w.id);
        let existing = self
            .locate
            .get(&server)
            .cloned()
            .and_then(|(c, k)| self.get(c, &k).cloned().map(|m| (c, k, m)));
        match existing {
            Some((ecid, ekey, old)) => {
                let mut new = old;
                new.key.weight = new.key.weight.max(weight);
                new.server_read |= w.is_read;
                if new.content.is_none() && !revoked {
                    new.content = Some(w.content);
                }
                if new.sender_name.is_none() {
                    new.sender_name = w.sender_name;
                }
                if new.sender_avatar.is_none() {
                    new.sender_avatar = w.sender_avatar;
                }
                if matches!(new.status, Status::Sending | Status::Failed) {
                    new.status = Status::Sent;
                }
                if revoked {
                    new.status = Status::Revoked;
                    new.content = None;
                }
                self.place(ecid, Some(ekey), new);
            }
            None => {
                let new = StoredMessage {
                    key: MessageKey {
                        weight,
                        sender_id: w.sender_id,
                        id: server,
                    },
                    conversation_id: cid,
                    local_id: None,
                    receiver_id: w.receiver_id,
                    content: (!revoked).then_some(w.content),
                    status: if revoked {
                        Status::Revoked
                    } else {
                        Status::Sent
                    },
                    read: false,
                    server_read: w.is_read,
                    sender_name: w.sender_name,
                    sender_avatar: w.sender_avatar,
                };
                self.place(cid, None, new);
            }
        }
    }

    fn merge_revoke(&mut self, msg_id: ServerId, conversation_id: ConversationId) {
        if self.tombstones.get(&msg_id) == Some(&Tombstone::Deleted) {
            return;
        }
        self.tombstones.insert(msg_id, Tombstone::Revoked);
        self.persist
            .put_tombstones
            .insert(msg_id, Tombstone::Revoked);
        let Ok((cid, key, old)) = self.find(&MessageRef::Server(msg_id)) else {
            return;
        };
        if cid != conversation_id || old.is_revoked() {
            return;
        }
        let mut new = old;
        new.status = Status::Revoked;
        new.content = None;
        self.place(cid, Some(key), new);
    }

    fn merge_read(&mut self, sender_id: UserId, id: ConversationId, up_to: u64) {
        if let ConversationId::Room(_) = id {
            // In a room the receipt names its reader.
            self.merge_room_read(sender_id, id, up_to);
        } else if sender_id == self.me {
            self.advance_peer_read_mark(id, up_to);
        } else if id.peer_of(self.me) == Some(sender_id) {
            self.advance_my_read_mark(id, up_to);
        }
    }

    /// The peer has read my messages up to `mark`: their read flags follow.
    fn advance_peer_read_mark(&mut self, id: ConversationId, mark: u64) {
        let Some(conv) = self.convs.get_or_insert_with(id, || Conv::new(id, 0)) else {
            return;
        };
        let old = conv.record.peer_read_mark;
        if mark <= old {
            return;
        }
        conv.record.peer_read_mark = mark;
        self.persist_conv(id);
        for (key, m) in self.range(id, old, mark) {
            if m.sender_id() == self.me && !m.read {
                self.place(id, Some(key), m);
            }
        }
    }

    /// I have read the peer's messages up to `mark`: the unread count follows.
    fn advance_my_read_mark(&mut self, id: ConversationId, mark: u64) -> bool {
        let Some(conv) = self.convs.get_or_insert_with(id, || Conv::new(id, 0)) else {
            return false;
        };
        let old = conv.record.my_read_mark;
        if mark <= old {
            return false;
        }
        let me = self.me;
        let affected: Vec<StoredMessage> = self
            .range(id, old, mark)
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        let Some(conv) = self.convs.get_mut(&id) else {
            return false;
        };
        let before: u32 = affected
            .iter()
            .filter(|m| counts_unread(me, &conv.record, m))
            .count() as u32;
        let old_unread = conv.record.unread;
        conv.record.my_read_mark = mark;
        // Older pages may not be loaded, but they are older than every loaded message: once
        // the mark reaches the oldest loaded one, what stays unread is all in memory.
        let covers_unloaded = conv.messages.first().is_none_or(|(k, _)| k.weight <= mark);
        conv.record.unread = if covers_unloaded {
            let record = &conv.record;
            conv.messages
                .iter_from(rank_of(&conv.messages, &lowest_key(mark.saturating_add(1))))
                .filter(|(_, m)| counts_unread(me, record, m))
                .count() as u32
        } else {
            old_unread.saturating_sub(before)
        };
        self.unread_total = self
            .unread_total
            .saturating_sub(u64::from(old_unread))
            .saturating_add(u64::from(conv.record.unread));
        self.persist_conv(id);
        self.relist(id, false);
        true
    }

    /// Messages of `id` with `lo < weight <= hi`, in order.
    fn range(&self, id: ConversationId, lo: u64, hi: u64) -> Vec<(MessageKey, StoredMessage)> {
        let Some(conv) = self.convs.get(&id) else {
            return Vec::new();
        };
        let Some(from) = lo.checked_add(1) else {
            return Vec::new();
        };
        let start = rank_of(&conv.messages, &lowest_key(from));
        conv.messages
            .iter_from(start)
            .take_while(|(k, _)| k.weight <= hi)
            .map(|(k, m)| (k.clone(), (**m).clone()))
            .collect()
    }

    // ---- the one place messages are written ------------------------------------------------

    /// Puts `new` where its key says, replacing the message at `old_key` (if any): keeps the
    /// index maps, the derived read flag and unread count, the events and the persist
    /// batch in step.
    fn place(&mut self, cid: ConversationId, old_key: Option<MessageKey>, mut new: StoredMessage) {
        let me = self.me;
        if self.open == Some(cid) && new.sender_id() != me {
            // An open conversation is read as messages arrive.
            self.advance_my_read_mark(cid, new.key.weight);
        }
        let created_at = new.key.weight;
        if !self.convs.contains_key(&cid) {
            // Storage lists conversations from their records: every conversation has one.
            let conv = Conv::new(cid, created_at);
            self.persist
                .put_conversations
                .insert(cid, conv.record.clone());
            self.convs.insert(cid, conv);
        }
        let Some(conv) = self.convs.get_mut(&cid) else {
            return;
        };
        new.read = new.sender_id() == me
            && (new.server_read || new.key.weight <= conv.record.peer_read_mark);
        let old = match &old_key {
            Some(k) => conv.messages.remove(k),
            None => None,
        };
        let old_counted = old
            .as_ref()
            .is_some_and(|(_, m)| counts_unread(me, &conv.record, m));
        let new_counted = counts_unread(me, &conv.record, &new);
        if old.as_ref().is_some_and(|(_, m)| **m == new) {
            // Nothing changed: put it back quietly.
            if let Some((_, m)) = old {
                conv.messages.insert(m.key.clone(), m);
            }
            return;
        }
        let (index, _) = conv.messages.insert(new.key.clone(), Box::new(new.clone()));
        match (old_counted, new_counted) {
            (true, false) => {
                conv.record.unread = conv.record.unread.saturating_sub(1);
                self.unread_total = self.unread_total.saturating_sub(1);
            }
            (false, true) => {
                conv.record.unread = conv.record.unread.saturating_add(1);
                self.unread_total += 1;
            }
            _ => {}
        }
        if old_counted != new_counted {
            self.persist
                .put_conversations
                .insert(cid, conv.record.clone());
        }
        match old {
            Some((old_index, old_msg)) => {
                if old_index == index {
                    self.events.push_back(StoreEvent::MessageUpdated {
                        conversation_id: cid,
                        index,
                        message: new.clone(),
                    });
                } else {
                    self.events.push_back(StoreEvent::MessageRemoved {
                        conversation_id: cid,
                        index: old_index,
                        id: old_msg.key.id.clone(),
                        local_id: old_msg.local_id.clone(),
                    });
                    self.events.push_back(StoreEvent::MessageInserted {
                        conversation_id: cid,
                        index,
                        message: new.clone(),
                    });
                }
                if old_msg.key.id != new.key.id {
                    self.locate.remove(&old_msg.key.id);
                    self.persist.delete_message(cid, old_msg.key.id.clone());
                }
            }
            None => self.events.push_back(StoreEvent::MessageInserted {
                conversation_id: cid,
                index,
                message: new.clone(),
            }),
        }
        self.locate
            .insert(new.key.id.clone(), (cid, new.key.clone()));
        if let Some(local) = &new.local_id {
            self.locate
                .insert(MessageRef::Local(local.clone()), (cid, new.key.clone()));
        }
        self.persist.put_message(&new);
        self.relist(cid, true);
    }

    fn remove(&mut self, cid: ConversationId, key: &MessageKey) {
        let me = self.me;
        let Some(conv) = self.convs.get_mut(&cid) else {
            return;
        };
        let Some((index, old)) = conv.messages.remove(key) else {
            return;
        };
        if counts_unread(me, &conv.record, &old) {
            conv.record.unread = conv.record.unread.saturating_sub(1);
            self.unread_total = self.unread_total.saturating_sub(1);
            self.persist
                .put_conversations
                .insert(cid, conv.record.clone());
        }
        self.locate.remove(&old.key.id);
        if let Some(local) = &old.local_id {
            self.locate.remove(&MessageRef::Local(local.clone()));
            if old.status == Status::Sending {
                self.persist.delete_outbox(local);
            }
        }
        self.persist.delete_message(cid, old.key.id.clone());
        self.events.push_back(StoreEvent::MessageRemoved {
            conversation_id: cid,
            index,
            id: old.key.id,
            local_id: old.local_id,
        });
    }

    /// Re-files the conversation in the list after a change and reports it. `list_it`
    /// adds an unlisted conversation (a new message, a room joined).
    fn relist(&mut self, id: ConversationId, list_it: bool) {
        let Some(conv) = self.convs.get_mut(&id) else {
            return;
        };
        let new_key = (Reverse(conv.last_activity()), id);
        let summary = conv.summary();
        match conv.listed.take() {
            Some(old_key) => {
                let (from, to) = self.list.refile(&old_key, new_key);
                conv.listed = Some(new_key);
                self.events.push_back(StoreEvent::ConversationUpdated {
                    from,
                    to,
                    conversation: summary,
                });
            }
            None if list_it => {
                let index = self.list.insert(new_key);
                conv.listed = Some(new_key);
                conv.record.listed = true;
                self.persist
                    .put_conversations
                    .insert(id, conv.record.clone());
                self.events.push_back(StoreEvent::ConversationInserted {
                    index,
                    conversation: summary,
                });
            }
            None => {}
        }
    }

    fn persist_conv(&mut self, id: ConversationId) {
        if let Some(conv) = self.convs.get(&id) {
            self.persist
                .put_conversations
                .insert(id, conv.record.clone());
        }
    }

    fn get(&self, cid: ConversationId, key: &MessageKey) -> Option<&StoredMessage> {
        self.convs.get(&cid)?.messages.get(key).map(|m| &**m)
    }

    fn find(
        &self,
        r: &MessageRef,
    ) -> Result<(ConversationId, MessageKey, StoredMessage), StoreError> {
        let (cid, key) = self
            .locate
            .get(r)
            .cloned()
            .ok_or_else(|| StoreError::NoSuchMessage(r.clone()))?;
        let m = self
            .get(cid, &key)
            .cloned()
            .ok_or_else(|| StoreError::NoSuchMessage(r.clone()))?;
        Ok((cid, key, m))
    }

    /// Ends a public operation: reports the unread total once if it changed.
    fn finish(&mut self) {
        if self.unread_total != self.reported_unread_total {
            self.reported_unread_total = self.unread_total;
            self.events
                .push_back(StoreEvent::UnreadTotal(self.unread_total));
        }
    }
}

/// A message counts as unread when someone else sent it, it is not a notice, not revoked,
/// and it is newer than what I have read.
fn counts_unread(me: UserId, conv: &ConversationRecord, m: &StoredMessage) -> bool {
    m.sender_id() != me
        && !m.is_revoked()
        && !matches!(m.content, Some(Content::System { .. }))
        && m.key.weight > conv.my_read_mark
}

/// The outbox record of a message of mine being sent.
fn outbox_entry(m: &StoredMessage) -> OutboxEntry {
    OutboxEntry {
        local_id: m.local_id.clone().unwrap_or_default(),
        conversation_id: m.conversation_id,
        receiver_id: m.receiver_id,
        content: m.content.clone().unwrap_or(Content::Text {
            text: String::new(),
        }),
        weight: m.key.weight,
    }
}

/// The smallest possible key with `weight`.
fn lowest_key(weight: u64) -> MessageKey {
    MessageKey {
        weight,
        sender_id: 0,
        id: MessageRef::Server(0),
    }
}

/// The index `key` has or would have.
fn rank_of(index: &OrderedIndex<MessageKey, Box<StoredMessage>>, key: &MessageKey) -> usize {
    match index.rank(key) {
        Ok(i) | Err(i) => i,
    }
}

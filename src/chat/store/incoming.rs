//! Network inputs, merged as joins (see the module docs of `store`): whatever the order
//! and repetition, the same inputs give the same state.

use std::sync::Arc;

use super::*;
use crate::collections::Gather;

impl Store {
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
            .gather();
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

    // ---- merging ----------------------------------------------------------------------------

    pub(super) fn merge_wire(&mut self, w: WireMessage) {
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
            .or_else(|| self.unconfirmed_send(&w))
            .and_then(|(c, k)| self.get(c, &k).cloned().map(|m| (c, k, m)));
        match existing {
            Some((ecid, ekey, old)) => {
                let mut new = old;
                if new.key.id != server {
                    // My send, confirmed by its stored copy before the HTTP answer: it
                    // takes the server id (keeping its local one, the UI's key), and is no
                    // longer the outbox's to send again.
                    if let Some(local) = &new.local_id {
                        self.persist.delete_outbox(local);
                    }
                    new.key.id = server;
                }
                new.key.weight = new.key.weight.max(weight);
                new.server_read |= w.is_read;
                if new.content.is_none() && !revoked {
                    new.content = Some(Arc::new(w.content));
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
                // A sender's name and avatar come with every message of theirs: the new one
                // shares them with the conversation's newest message when that is the same
                // sender's and the text matches, so a run of one sender's messages (the
                // usual case) holds one copy (59 of the 458 B of wasm heap a message of the
                // 10,000-message backlog held).
                let newest = self
                    .convs
                    .get(&cid)
                    .and_then(|c| c.messages.last())
                    .map(|(_, m)| m)
                    .filter(|m| m.key.sender_id == w.sender_id);
                let sender_name =
                    shared(newest.and_then(|m| m.sender_name.as_ref()), w.sender_name);
                let sender_avatar = shared(
                    newest.and_then(|m| m.sender_avatar.as_ref()),
                    w.sender_avatar,
                );
                let new = StoredMessage {
                    key: MessageKey {
                        weight,
                        sender_id: w.sender_id,
                        id: server,
                    },
                    conversation_id: cid,
                    local_id: None,
                    receiver_id: w.receiver_id,
                    content: (!revoked).then(|| Arc::new(w.content)),
                    status: if revoked {
                        Status::Revoked
                    } else {
                        Status::Sent
                    },
                    read: false,
                    server_read: w.is_read,
                    sender_name,
                    sender_avatar,
                };
                self.place(cid, None, new);
            }
        }
    }

    /// My message not yet confirmed (still under its local id, sending or failed) that `w`
    /// is the stored copy of: the same conversation, weight and content. The server keeps
    /// the weight a send carries and my weights never repeat, so the echo of a send that
    /// beats its HTTP answer (the broker is often quicker) merges into the copy shown
    /// optimistically instead of being listed beside it until the answer comes.
    fn unconfirmed_send(&self, w: &WireMessage) -> Option<(ConversationId, MessageKey)> {
        if w.sender_id != self.me {
            return None;
        }
        let conv = self.convs.get(&w.conversation_id)?;
        conv.messages
            .iter_from(rank_of(&conv.messages, &lowest_key(w.weight)))
            .take_while(|(k, _)| k.weight == w.weight)
            .find(|(k, m)| {
                matches!(k.id, MessageRef::Local(_))
                    && k.sender_id == self.me
                    && matches!(m.status, Status::Sending | Status::Failed)
                    && m.content.as_deref() == Some(&w.content)
            })
            .map(|(k, _)| (w.conversation_id, k.clone()))
    }

    pub(super) fn merge_revoke(&mut self, msg_id: ServerId, conversation_id: ConversationId) {
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

    pub(super) fn merge_read(&mut self, sender_id: UserId, id: ConversationId, up_to: u64) {
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
    pub(super) fn advance_peer_read_mark(&mut self, id: ConversationId, mark: u64) {
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
    pub(super) fn advance_my_read_mark(&mut self, id: ConversationId, mark: u64) -> bool {
        let Some(conv) = self.convs.get_or_insert_with(id, || Conv::new(id, 0)) else {
            return false;
        };
        let old = conv.record.my_read_mark;
        if mark <= old {
            return false;
        }
        let covers_unloaded = self.covers_unloaded(id, mark);
        let me = self.me;
        let affected: Vec<StoredMessage> = self
            .range(id, old, mark)
            .into_iter()
            .map(|(_, m)| m)
            .gather();
        let Some(conv) = self.convs.get_mut(&id) else {
            return false;
        };
        let before: u32 = affected
            .iter()
            .filter(|m| counts_unread(me, &conv.record, m))
            .count() as u32;
        let old_unread = conv.record.unread;
        conv.record.my_read_mark = mark;
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

    /// Whether every message of `id` newer than `mark` is in memory: storage has nothing
    /// older than what is held, or the pages read back in order reach down to the mark.
    /// (Not the oldest message held: one read back out of order may sit below unloaded
    /// ones.)
    pub(super) fn covers_unloaded(&self, id: ConversationId, mark: u64) -> bool {
        !self.may_have_older(id) || self.paged_from(id).is_none_or(|k| k.weight <= mark)
    }

    /// Messages of `id` with `lo < weight <= hi`, in order.
    pub(super) fn range(
        &self,
        id: ConversationId,
        lo: u64,
        hi: u64,
    ) -> Vec<(MessageKey, StoredMessage)> {
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
            .gather()
    }
}

/// `new`, or `kept` in its place when it holds the same text.
fn shared(kept: Option<&Arc<str>>, new: Option<Arc<str>>) -> Option<Arc<str>> {
    match (kept, new) {
        (Some(kept), Some(new)) if *kept == new => Some(Arc::clone(kept)),
        (_, new) => new,
    }
}

//! The one place messages are written: the ordered index, the id maps, derived read
//! flags and unread counts, events and the persist batch are kept in step here and
//! nowhere else.

use super::*;

impl Store {
    // ---- the one place messages are written ------------------------------------------------

    /// Puts `new` where its key says, replacing the message at `old_key` (if any): keeps the
    /// index maps, the derived read flag and unread count, the events and the persist
    /// batch in step. When the key changes, the batch deletes the old key and puts the new.
    pub(super) fn place(
        &mut self,
        cid: ConversationId,
        old_key: Option<MessageKey>,
        mut new: StoredMessage,
    ) {
        let me = self.me;
        if self.open.contains(&cid) && new.sender_id() != me {
            // An open conversation is read as messages arrive.
            self.advance_my_read_mark(cid, new.key.weight);
        }
        let created_at = new.key.weight;
        if !self.convs.contains_key(&cid) {
            // Storage lists conversations from their records: every conversation has one.
            self.convs.insert(cid, Conv::new(cid, created_at));
            self.dirty.insert(cid, ());
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
            self.dirty.insert(cid, ());
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
                }
                if old_msg.key != new.key {
                    // Moved (a new reference, or a new weight: a resend, a merge): storage
                    // drops the copy at the old key before the new one is put.
                    self.persist.delete_message(cid, old_msg.key.clone());
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
        self.persist.put_message_owned(new);
        self.relist(cid, true);
    }

    pub(super) fn remove(&mut self, cid: ConversationId, key: &MessageKey) {
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
            self.dirty.insert(cid, ());
        }
        self.locate.remove(&old.key.id);
        if let Some(local) = &old.local_id {
            self.locate.remove(&MessageRef::Local(local.clone()));
            if old.status == Status::Sending {
                self.persist.delete_outbox(local);
            }
        }
        self.persist.delete_message(cid, old.key.clone());
        self.events.push_back(StoreEvent::MessageRemoved {
            conversation_id: cid,
            index,
            id: old.key.id,
            local_id: old.local_id,
        });
    }

    /// Re-files the conversation in the list after a change and reports it. `list_it`
    /// adds an unlisted conversation (a new message, a room joined).
    pub(super) fn relist(&mut self, id: ConversationId, list_it: bool) {
        let Some(conv) = self.convs.get_mut(&id) else {
            return;
        };
        let new_key = (Reverse(conv.last_activity()), id);
        match conv.listed.take() {
            Some(old_key) => {
                let (from, to) = self.list.refile(&old_key, new_key);
                conv.listed = Some(new_key);
                self.events.push_back(StoreEvent::ConversationUpdated {
                    from,
                    to,
                    conversation_id: id,
                });
            }
            None if list_it => {
                let index = self.list.insert(new_key);
                conv.listed = Some(new_key);
                conv.record.listed = true;
                self.dirty.insert(id, ());
                self.events.push_back(StoreEvent::ConversationInserted {
                    index,
                    conversation_id: id,
                });
            }
            None => {}
        }
    }

    /// Writes the record of conversation `id` with the next persist batch: as it is when
    /// the batch is taken, so a conversation changed by every message of a frame is copied
    /// once per batch, not once per message.
    pub(super) fn persist_conv(&mut self, id: ConversationId) {
        if self.convs.contains_key(&id) {
            self.dirty.insert(id, ());
        }
    }

    pub(super) fn get(&self, cid: ConversationId, key: &MessageKey) -> Option<&StoredMessage> {
        self.convs.get(&cid)?.messages.get(key).map(|m| &**m)
    }

    pub(super) fn find(
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
    pub(super) fn finish(&mut self) {
        if self.unread_total != self.reported_unread_total {
            self.reported_unread_total = self.unread_total;
            self.events
                .push_back(StoreEvent::UnreadTotal(self.unread_total));
        }
    }
}

/// A message counts as unread when someone else sent it, it is not a notice, not revoked,
/// and it is newer than what I have read.
pub(super) fn counts_unread(me: UserId, conv: &ConversationRecord, m: &StoredMessage) -> bool {
    m.sender_id() != me
        && !m.is_revoked()
        && !matches!(m.content.as_deref(), Some(Content::System { .. }))
        && m.key.weight > conv.my_read_mark
}

/// The smallest possible key with `weight`.
pub(super) fn lowest_key(weight: u64) -> MessageKey {
    MessageKey {
        weight,
        sender_id: 0,
        id: MessageRef::Server(0),
    }
}

/// The index `key` has or would have.
pub(super) fn rank_of(
    index: &OrderedIndex<MessageKey, Box<StoredMessage>>,
    key: &MessageKey,
) -> usize {
    match index.rank(key) {
        Ok(i) | Err(i) => i,
    }
}

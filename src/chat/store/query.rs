//! Read-only views for the UI and the shell.

use super::*;
use crate::collections::Gather;

impl Store {
    // ---- queries ------------------------------------------------------------------------

    /// Conversations, most recent first.
    pub fn conversations(&self) -> Vec<ConversationSummary> {
        self.list
            .iter()
            .filter_map(|(_, id)| self.convs.get(id).map(Conv::summary))
            .gather()
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
            .gather()
    }

    /// The conversation to page back from storage before `incoming` applies: a receipt
    /// moving my read mark past messages not loaded, which the unread count can only lose
    /// once they are held (older pages until the oldest held is at or below the mark).
    pub fn needs_older_for(&self, incoming: &Incoming) -> Option<ConversationId> {
        let Incoming::Read {
            sender_id,
            conversation_id: id,
            up_to_weight: Some(mark),
        } = incoming
        else {
            return None;
        };
        // Whose read mark it moves: in a room the reader's, in a 1:1 chat the reader of
        // `sender_id`'s messages (mine when the peer sent them).
        let mine = match id {
            ConversationId::Room(_) => *sender_id == self.me,
            ConversationId::Direct { .. } => id.peer_of(self.me) == Some(*sender_id),
        };
        let conv = self.convs.get(id)?;
        if !mine || *mark <= conv.record.my_read_mark || conv.record.unread == 0 {
            return None;
        }
        // Nothing held at all: the newest page first.
        let covered = !conv.messages.is_empty() && self.covers_unloaded(*id, *mark);
        (!covered && self.may_have_older(*id)).then_some(*id)
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

    /// The conversation open in the UI, if any (the first, when several tabs show one).
    pub fn open_conversation(&self) -> Option<ConversationId> {
        self.open.first().copied()
    }

    /// Whether a UI shows `id`.
    pub fn is_open(&self, id: ConversationId) -> bool {
        self.open.contains(&id)
    }
}

//! Local actions on a conversation as a whole: reading it, opening and closing it, and
//! creating it or setting its members.

use super::*;
use crate::collections::Gather;

impl Store {
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

    /// The UI shows `id` (and nothing else): its unread count stays 0 while it is open.
    pub fn open(&mut self, id: ConversationId) -> bool {
        self.open = vec![id];
        self.mark_read(id)
    }

    /// The UI no longer shows a conversation.
    pub fn close(&mut self) {
        self.open.clear();
    }

    /// The UIs (tabs) show exactly `ids`: each is read now and stays read while open.
    /// Returns those whose read mark moved (a read receipt is worth sending).
    pub fn set_open(&mut self, ids: Vec<ConversationId>) -> Vec<ConversationId> {
        self.open = ids.clone();
        ids.into_iter().filter(|id| self.mark_read(*id)).gather()
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
}

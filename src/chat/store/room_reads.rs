//! Read receipts in rooms. A room has no single peer: each member's receipt says how far
//! that member has read, and a message of mine counts who has read it. The marks are kept
//! per member in the conversation record (persisted like the 1:1 marks), and only grow.

use super::*;
use crate::collections::Gather;

impl Store {
    /// `reader` has read `room` up to `mark`. Mine (another device of mine): my unread count
    /// follows, as in a 1:1 chat. Another member: my messages up to `mark` gain a reader.
    pub(super) fn merge_room_read(&mut self, reader: UserId, room: ConversationId, mark: u64) {
        if reader == self.me {
            self.advance_my_read_mark(room, mark);
            return;
        }
        let Some(conv) = self.convs.get_or_insert_with(room, || Conv::new(room, 0)) else {
            return;
        };
        let reads = &mut conv.record.member_reads;
        let old = match reads.iter_mut().find(|(u, _)| *u == reader) {
            Some((_, m)) if *m >= mark => return,
            Some((_, m)) => std::mem::replace(m, mark),
            None => {
                let at = reads.partition_point(|(u, _)| *u < reader);
                reads.insert(at, (reader, mark));
                0
            }
        };
        self.persist_conv(room);
        // The first reader flips a message's read flag: the 1:1 machinery, whose mark only
        // grows, so it ends at the furthest member's. Every reader changes who read it, so
        // the page hears of each.
        self.advance_peer_read_mark(room, mark);
        let me = self.me;
        let Some(conv) = self.convs.get(&room) else {
            return;
        };
        let start = rank_of(&conv.messages, &lowest_key(old.saturating_add(1)));
        let updated: Vec<(usize, StoredMessage)> = conv
            .messages
            .iter_from(start)
            .take_while(|(k, _)| k.weight <= mark)
            .enumerate()
            .filter(|(_, (_, m))| m.sender_id() == me && m.server_id().is_some())
            .map(|(i, (_, m))| (start + i, (**m).clone()))
            .gather();
        for (index, message) in updated {
            self.events.push_back(StoreEvent::MessageUpdated {
                conversation_id: room,
                index,
                message,
            });
        }
    }

    /// Who of the other members has read `m`, a message of mine in a room (by user id; empty
    /// for anything else).
    pub fn read_by(&self, m: &StoredMessage) -> Vec<UserId> {
        if !matches!(m.conversation_id, ConversationId::Room(_)) || m.sender_id() != self.me {
            return Vec::new();
        }
        self.convs.get(&m.conversation_id).map_or(Vec::new(), |c| {
            c.record
                .member_reads
                .iter()
                .filter(|(_, mark)| *mark >= m.weight())
                .map(|(u, _)| *u)
                .gather()
        })
    }
}

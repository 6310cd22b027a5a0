//! Deleting on this device only, by hand or by the retention period: what is deleted
//! must not come back from history, so deletions leave marks.

use super::*;
use crate::collections::Gather;

impl Store {
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
        let keys: Vec<MessageKey> = conv.messages.iter().map(|(k, _)| k.clone()).gather();
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
        // Its record is written as it is when the batch is taken: with `listed` below.
        self.persist_conv(id);
        if let Some(conv) = self.convs.get_mut(&id) {
            conv.record.listed = false;
            if let Some(key) = conv.listed.take() {
                if let Some(index) = self.list.remove(&key) {
                    self.events.push_back(StoreEvent::ConversationRemoved {
                        index,
                        conversation_id: id,
                    });
                }
            }
        }
        self.open.retain(|o| *o != id);
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
        let ids: Vec<ConversationId> = self.convs.keys().copied().gather();
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
}

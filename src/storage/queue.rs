//! Coalescing writes: while one transaction is in flight, later batches merge into one.

use super::StorageBatch;

/// The write path's bookkeeping, free of IO: the shell calls [`WriteQueue::push`] for each
/// batch the store produces, writes what [`WriteQueue::take_next`] hands out, and reports
/// [`WriteQueue::done`]. A burst of N batches during one write becomes one more write.
#[derive(Debug, Default)]
pub struct WriteQueue {
    /// The batches accepted since the last write, oldest first; merged when handed out,
    /// but for their conversation records, which [`WriteQueue::push`] merges into the
    /// oldest at once. Merging each whole batch into the pending one as it came cost a
    /// pass over everything pending per batch: quadratic in a backlog that arrives while
    /// one write is in flight.
    pending: Vec<StorageBatch>,
    in_flight: bool,
    /// Writes handed out so far.
    pub writes: u64,
    /// Batches accepted so far.
    pub batches: u64,
}

impl WriteQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts a batch (empty ones are dropped).
    ///
    /// Its conversation records merge into the oldest pending batch at once
    /// ([`PersistBatch::take_conversations`](crate::chat::store::PersistBatch::take_conversations)
    /// says why the result is the same): each backlog frame rewrites the record of every
    /// conversation it touches, so held until the write, the records were about one per
    /// message: 3.7 of the 11.6 MB of wasm heap a 10,000-message backlog from 100 peers
    /// held by its last message event. Merged, they are one per conversation.
    pub fn push(&mut self, mut batch: StorageBatch) {
        if batch.is_empty() {
            return;
        }
        self.batches += 1;
        if let Some(oldest) = self.pending.first_mut() {
            oldest.store.merge(batch.store.take_conversations());
            if batch.is_empty() {
                return;
            }
        }
        self.pending.push(batch);
    }

    /// The next batch to write, if none is in flight.
    pub fn take_next(&mut self) -> Option<StorageBatch> {
        if self.in_flight {
            return None;
        }
        let batch = merge_all(std::mem::take(&mut self.pending))?;
        self.in_flight = true;
        self.writes += 1;
        Some(batch)
    }

    /// The write handed out last finished (committed or failed).
    pub fn done(&mut self) {
        self.in_flight = false;
    }

    /// Nothing pending and nothing in flight: every accepted write is committed.
    pub fn is_idle(&self) -> bool {
        !self.in_flight && self.pending.is_empty()
    }
}

/// The batches folded into one, as applying them in order would leave storage: neighbours
/// merged pairwise, round after round, so each record moves about log2(batches) times.
fn merge_all(mut batches: Vec<StorageBatch>) -> Option<StorageBatch> {
    while batches.len() > 1 {
        let mut merged = Vec::with_capacity(batches.len().div_ceil(2));
        let mut it = batches.into_iter();
        while let Some(mut earlier) = it.next() {
            if let Some(later) = it.next() {
                earlier.merge(later);
            }
            merged.push(earlier);
        }
        batches = merged;
    }
    batches.pop()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::store::PersistBatch;
    use crate::storage::conformance::{message, record};
    use crate::test_support::{direct, T0};

    fn batch(key: &str) -> StorageBatch {
        StorageBatch {
            put_meta: vec![(key.to_string(), "v".to_string())],
            ..StorageBatch::default()
        }
    }

    /// A backlog's burst: `frames` batches, each a message and the records of `touched`
    /// of `conversations` conversations (rotating), some deleted again later.
    fn burst(frames: u64, conversations: u64, touched: u64) -> Vec<StorageBatch> {
        (0..frames)
            .map(|f| {
                let mut store = PersistBatch::default();
                let c = direct(f % conversations + 2);
                store.put_message_owned(message(c, f + 1, f % conversations + 2, T0 + f));
                for k in 0..touched {
                    let id = direct((f * touched + k) % conversations + 2);
                    if (f + k) % 7 == 3 {
                        store.delete_conversations.insert(id, ());
                    } else {
                        store
                            .put_conversations
                            .insert(id, record(id, (f + k) as u32));
                    }
                }
                StorageBatch {
                    store,
                    put_meta: Vec::new(),
                }
            })
            .collect()
    }

    #[test]
    fn a_burst_holds_one_record_per_conversation_and_writes_what_merging_each_in_turn_would() {
        let batches = burst(200, 30, 12);
        let mut expected = StorageBatch::default();
        for b in batches.clone() {
            expected.merge(b);
        }
        let mut q = WriteQueue::new();
        for b in batches {
            q.push(b);
        }
        let records: usize = q
            .pending
            .iter()
            .map(|b| b.store.put_conversations.len() + b.store.delete_conversations.len())
            .sum();
        assert!(
            records <= 30,
            "{records} records pending for 30 conversations"
        );
        assert_eq!(
            q.pending.len(),
            200,
            "the messages wait to be merged at once"
        );
        assert_eq!(q.take_next(), Some(expected));
    }

    #[test]
    fn a_batch_of_records_alone_leaves_nothing_pending_behind_it() {
        let mut q = WriteQueue::new();
        for b in burst(3, 4, 4) {
            q.push(b);
        }
        let records_only = StorageBatch {
            store: burst(1, 4, 4).remove(0).store.take_conversations(),
            put_meta: Vec::new(),
        };
        q.push(records_only);
        assert_eq!(q.pending.len(), 3);
        assert_eq!(q.batches, 4);
    }

    #[test]
    fn a_burst_during_a_write_becomes_one_more_write() {
        let mut q = WriteQueue::new();
        q.push(batch("a"));
        let first = q.take_next().unwrap();
        assert_eq!(first.put_meta.len(), 1);
        for i in 0..1000 {
            q.push(batch(&format!("k{}", i % 10)));
        }
        assert!(q.take_next().is_none(), "one write at a time");
        q.done();
        let second = q.take_next().unwrap();
        assert_eq!(
            second.put_meta.len(),
            10,
            "later values of a key replace earlier ones"
        );
        q.done();
        assert!(q.is_idle());
        assert_eq!((q.batches, q.writes), (1001, 2));
        q.push(StorageBatch::default());
        assert!(q.take_next().is_none());
    }
}

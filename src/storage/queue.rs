//! Coalescing writes: while one transaction is in flight, later batches merge into one.

use super::StorageBatch;

/// The write path's bookkeeping, free of IO: the shell calls [`WriteQueue::push`] for each
/// batch the store produces, writes what [`WriteQueue::take_next`] hands out, and reports
/// [`WriteQueue::done`]. A burst of N batches during one write becomes one more write.
#[derive(Debug, Default)]
pub struct WriteQueue {
    /// The batches accepted since the last write, oldest first; merged when handed out.
    /// Merging each into the pending one as it came cost a pass over everything pending
    /// per batch: quadratic in a backlog that arrives while one write is in flight.
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
    pub fn push(&mut self, batch: StorageBatch) {
        if batch.is_empty() {
            return;
        }
        self.batches += 1;
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

    fn batch(key: &str) -> StorageBatch {
        StorageBatch {
            put_meta: vec![(key.to_string(), "v".to_string())],
            ..StorageBatch::default()
        }
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

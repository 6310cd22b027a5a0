//! The conversation list's order, kept apart from the message index because it is keyed
//! and sized differently (see [`List`]).

use super::ListKey;

/// The conversation list, most recent first, as a sorted `Vec`: a second
/// [`OrderedIndex`](crate::chat::order::OrderedIndex) key/value type would cost some 5 KB
/// of wasm, and conversations number in the thousands at most. A conversation that moves
/// is rotated into place, which moves only the entries between its old and new position
/// (few: the active ones are at the front).
#[derive(Debug, Default)]
pub(super) struct List(Vec<ListKey>);

impl List {
    pub(super) fn iter(&self) -> std::slice::Iter<'_, ListKey> {
        self.0.iter()
    }

    /// Adds `key` (if it is not there); returns its index.
    pub(super) fn insert(&mut self, key: ListKey) -> usize {
        match self.0.binary_search(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, key);
                i
            }
        }
    }

    /// Removes `key`; returns the index it had.
    pub(super) fn remove(&mut self, key: &ListKey) -> Option<usize> {
        let i = self.0.binary_search(key).ok()?;
        self.0.remove(i);
        Some(i)
    }

    /// Replaces `old` by `new`: `(from, to)`, the index `old` had and the one `new` has,
    /// as a remove and an insert would report them.
    pub(super) fn refile(&mut self, old: &ListKey, new: ListKey) -> (usize, usize) {
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

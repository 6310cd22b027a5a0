//! The conversation list's order, kept apart from the message index because it is keyed
//! and sized differently (see [`List`]).

use super::ListKey;

/// The conversation list, most recent first, as a sorted `Vec`: a second
/// [`OrderedIndex`](crate::chat::order::OrderedIndex) key/value type would cost some 5 KB
/// of wasm, and conversations number in the thousands at most. A conversation that moves
/// shifts only the entries between its old and new position (few: the active ones are at
/// the front).
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
        // Most moves are to the front (the conversation a message just came in): no second
        // search for those.
        let to = if self.0.first().is_some_and(|f| new <= *f) {
            0
        } else {
            match self.0.binary_search(&new) {
                Ok(i) | Err(i) if i <= from => i,
                Ok(i) | Err(i) => i - 1,
            }
        };
        // The entries between shift by one (a memmove; `rotate` in the size-optimised std
        // swaps them one by one, 4 % of a backlog), then `new` takes its place.
        if to <= from {
            if let Some(s) = self.0.get_mut(to..=from) {
                s.copy_within(..s.len() - 1, 1);
            }
        } else if let Some(s) = self.0.get_mut(from..=to) {
            s.copy_within(1.., 0);
        }
        if let Some(k) = self.0.get_mut(to) {
            *k = new;
        }
        (from, to)
    }
}

// Native only: proptest is a native dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::List;
    use crate::chat::ConversationId;
    use proptest::prelude::*;
    use std::cmp::Reverse;

    proptest! {
        /// Refiling keeps the list sorted, reports the indices a remove and an insert
        /// would, and loses or doubles no entry.
        #[test]
        fn refile_is_a_remove_and_an_insert(
            start in proptest::collection::btree_set(0u64..200, 1..40),
            moves in proptest::collection::vec((any::<prop::sample::Index>(), 0u64..200), 1..40),
        ) {
            let key = |t: u64, i: u64| (Reverse(t), ConversationId::Room(i));
            let mut list = List::default();
            let mut model: Vec<_> = Vec::new();
            for (i, &t) in start.iter().enumerate() {
                list.insert(key(t, i as u64));
                model.push(key(t, i as u64));
            }
            model.sort();
            for (pick, t) in moves {
                let old = *pick.get(&model);
                let new = key(t, match old.1 { ConversationId::Room(i) => i, _ => 0 });
                let from = model.binary_search(&old).unwrap();
                model.remove(from);
                let to = model.binary_search(&new).unwrap_or_else(|i| i);
                model.insert(to, new);
                prop_assert_eq!(list.refile(&old, new), (from, to));
                prop_assert_eq!(list.iter().copied().collect::<Vec<_>>(), model.clone());
            }
        }
    }
}

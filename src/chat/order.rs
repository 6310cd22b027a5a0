//! An ordered map with ranks: every insert and remove reports the entry's position, in
//! O(log n), so the store can tell the UI "inserted at index i" / "removed from index i"
//! for conversations of any length, and page by position ("the 50 before K", "the last N").
//!
//! # Why a counted B+ tree (and not a treap)
//!
//! [`OrderedIndex`] is a B+ tree whose branch nodes store, beside each child, the number of
//! entries under it. Entries live in the leaves, in sorted `Vec`s of at most `CAP` (32); a
//! branch routes by separator keys (clones of leaf keys, hence `K: Clone`) and sums the
//! counts to the left of the path for a rank. Nodes sit in one arena `Vec` addressed by
//! `u32`, with a free list, so removals reuse slots and there is no `unsafe` and no `Box`.
//!
//! * Height: a conversation of 100,000 messages is 4–5 nodes deep (fan-out 16–32), against
//!   ~23 node hops on average for a treap (2 ln n), each a likely cache miss. Inside a node
//!   the search is a binary search over contiguous memory, and an insert moves at most `CAP`
//!   entries.
//! * Memory: per entry, a treap pays two child links, a size and a priority (16 bytes on
//!   wasm32); here it is the leaves' slack plus one branch entry (`u32` child, count,
//!   separator key) per leaf of 16–32 entries. Chats mostly append: an insert past the last
//!   key splits the rightmost node unevenly (the left part stays full), so an appended
//!   history packs its leaves full rather than half full.
//! * Determinism: the shape depends only on the operations, with no priority generator.
//! * Code size: more than a treap would take (splits and merges). Measured alone (wasm32,
//!   `opt-level = "z"`, LTO, no wasm-opt), insert + remove + rank + get_index + before for
//!   one key/value type add ~13 KB over a sorted `Vec` doing the same, against ~14.5 KB for
//!   std's `BTreeMap` (which has no ranks); each further key/value type adds its own copy.
//!
//! # Invariants
//!
//! All leaves are at the same depth; keys are strictly increasing along the leaf chain
//! (`next` links); a branch with children `c0..=cm` has separators `s1..=sm` with
//! `keys(c[i-1]) < s[i] <= keys(c[i])`, and the stored count of each child is the number
//! of entries under it. Every node holds at most `CAP` entries or children; nodes off the
//! rightmost path (and not the root) hold at least `MIN`; a branch has at least one child
//! and the root is never a branch with one child. [`OrderedIndex::check_invariants`]
//! verifies all of this (tests call it).
//!
//! Nothing here panics: no indexing, `unwrap` or `expect`; every arena access is a `get`;
//! `Vec::insert`, `remove` and `drain` only take positions that a binary search or a check
//! just bounded. The branches taken when the arena is inconsistent cannot happen while the
//! invariants hold; they return `None` or leave the tree as it is rather than abort.

#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo
)]

use std::fmt;
use std::iter::FusedIterator;
use std::mem;

/// Most entries in a leaf, and most children of a branch.
#[cfg(not(test))]
const CAP: usize = 32;
/// Unit tests use tiny nodes, so a few hundred entries already make a deep tree.
#[cfg(test)]
const CAP: usize = 4;
/// Fewest entries or children of a node that is neither the root nor on the rightmost path.
const MIN: usize = CAP / 2;

/// "No node": the end of the leaf chain, an empty free list, an empty tree.
const NIL: u32 = u32::MAX;

#[derive(Clone)]
enum Node<K, V> {
    /// Sorted entries; `next` is the leaf to the right (or `NIL`).
    Leaf { entries: Vec<(K, V)>, next: u32 },
    /// `kids[i]` = (node, entries under it); `seps.len() == kids.len() - 1`.
    Branch {
        seps: Vec<K>,
        kids: Vec<(u32, usize)>,
    },
    /// An arena slot on the free list (or taken out for a moment).
    Free { next: u32 },
}

impl<K: Ord + Clone, V> Node<K, V> {
    /// Entries of a leaf, children of a branch.
    fn count(&self) -> usize {
        match self {
            Node::Leaf { entries, .. } => entries.len(),
            Node::Branch { kids, .. } => kids.len(),
            Node::Free { .. } => 0,
        }
    }

    /// Entries under this node.
    fn size(&self) -> usize {
        match self {
            Node::Leaf { entries, .. } => entries.len(),
            Node::Branch { kids, .. } => kids.iter().map(|k| k.1).sum(),
            Node::Free { .. } => 0,
        }
    }

    /// Moves entries or children `at..` into a new right sibling; returns the separator
    /// between the two, the sibling and its size. The caller links a leaf to its new
    /// sibling. `None` (and no change) unless `0 < at < count`.
    fn split(&mut self, at: usize) -> Option<(K, Self, usize)> {
        if at == 0 || at >= self.count() {
            return None;
        }
        match self {
            Node::Leaf { entries, next } => {
                let mut right = Vec::with_capacity(CAP + 1);
                right.extend(entries.drain(at..));
                entries.shrink_to(CAP + 1);
                let sep = right.first()?.0.clone();
                let size = right.len();
                Some((
                    sep,
                    Node::Leaf {
                        entries: right,
                        next: *next,
                    },
                    size,
                ))
            }
            Node::Branch { seps, kids } => {
                let kids = kids.split_off(at);
                let right = seps.split_off(at);
                let sep = seps.pop()?;
                let size = kids.iter().map(|k| k.1).sum();
                Some((sep, Node::Branch { seps: right, kids }, size))
            }
            Node::Free { .. } => None,
        }
    }

    /// Appends `right` (the next sibling, of the same kind) to this node; `sep` is the
    /// separator between them.
    fn merge(&mut self, sep: K, right: Self) {
        match (self, right) {
            (
                Node::Leaf { entries, next },
                Node::Leaf {
                    entries: mut more,
                    next: after,
                },
            ) => {
                entries.append(&mut more);
                *next = after;
            }
            (
                Node::Branch { seps, kids },
                Node::Branch {
                    seps: mut more_seps,
                    kids: mut more_kids,
                },
            ) => {
                seps.push(sep);
                seps.append(&mut more_seps);
                kids.append(&mut more_kids);
            }
            _ => {}
        }
    }
}

/// An ordered map from `K` to `V` that knows each entry's index (rank): a counted B+ tree
/// (see the [module docs](self)). Every operation is O(log n).
///
/// ```
/// use imcore::chat::order::OrderedIndex;
///
/// let mut index = OrderedIndex::new();
/// assert_eq!(index.insert((20, 1, 'b'), "second"), (0, None));
/// assert_eq!(index.insert((10, 1, 'a'), "first"), (0, None));
/// assert_eq!(index.insert((30, 1, 'c'), "third"), (2, None));
/// assert_eq!(index.rank(&(20, 1, 'b')), Ok(1));
/// assert_eq!(index.rank(&(25, 0, 'x')), Err(2));
/// assert_eq!(index.remove(&(10, 1, 'a')), Some((0, "first")));
/// let page: Vec<_> = index.before(&(30, 1, 'c'), 50).map(|(_, v)| *v).collect();
/// assert_eq!(page, ["second"]);
/// ```
#[derive(Clone)]
pub struct OrderedIndex<K: Ord + Clone, V> {
    nodes: Vec<Node<K, V>>,
    root: u32,
    /// Head of the free list of `nodes` slots.
    free: u32,
    len: usize,
}

impl<K: Ord + Clone, V> Default for OrderedIndex<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Clone + fmt::Debug, V: fmt::Debug> fmt::Debug for OrderedIndex<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a, K: Ord + Clone, V> IntoIterator for &'a OrderedIndex<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<K: Ord + Clone, V> OrderedIndex<K, V> {
    /// An empty index; allocates nothing until the first insert.
    pub const fn new() -> Self {
        OrderedIndex {
            nodes: Vec::new(),
            root: NIL,
            free: NIL,
            len: 0,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every entry and frees the nodes.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Inserts `value` under `key`; returns the entry's index and the value it replaced.
    ///
    /// * `(i, None)`: the key was new and now sits at index `i` (entries at `i..` moved up
    ///   by one): "inserted at i".
    /// * `(i, Some(old))`: the key was already at index `i`; its value is replaced (the
    ///   stored key is kept, as in `BTreeMap`) and nothing moved: "updated at i". To keep
    ///   the old value instead, look first with [`get`](Self::get) or [`rank`](Self::rank).
    pub fn insert(&mut self, key: K, value: V) -> (usize, Option<V>) {
        if self.root == NIL {
            self.root = self.alloc(Node::Leaf {
                entries: Vec::new(),
                next: NIL,
            });
        }
        let root = self.root;
        let (index, old, split) = self.insert_at(root, key, value, true);
        if old.is_none() {
            self.len += 1;
        }
        if let Some((sep, right, right_size)) = split {
            let left_size = self.len.saturating_sub(right_size);
            self.root = self.alloc(Node::Branch {
                seps: vec![sep],
                kids: vec![(root, left_size), (right, right_size)],
            });
        }
        (index, old)
    }

    /// Inserts under node `id`; returns the index within its subtree, the replaced value
    /// and, if the node split, the separator, new right sibling and its size. `rightmost`:
    /// `id` is on the path to the greatest key.
    #[allow(clippy::type_complexity)]
    fn insert_at(
        &mut self,
        id: u32,
        key: K,
        value: V,
        rightmost: bool,
    ) -> (usize, Option<V>, Option<(K, u32, usize)>) {
        match self.nodes.get_mut(id as usize) {
            Some(Node::Leaf { entries, .. }) => {
                let at = match entries.binary_search_by(|e| e.0.cmp(&key)) {
                    Ok(i) => {
                        let old = entries.get_mut(i).map(|e| mem::replace(&mut e.1, value));
                        return (i, old, None);
                    }
                    Err(i) => i,
                };
                if entries.len() == CAP {
                    entries.reserve_exact(1); // a full leaf holds CAP + 1 until it splits
                }
                entries.insert(at, (key, value)); // `at <= len`: from the binary search
                let count = entries.len();
                if count <= CAP {
                    return (at, None, None);
                }
                // Appending past the greatest key: keep the left leaf full.
                let split_at = if rightmost && at + 1 == count {
                    CAP
                } else {
                    count / 2
                };
                (at, None, self.split_node(id, split_at))
            }
            Some(Node::Branch { seps, kids }) => {
                let ci = seps.partition_point(|s| *s <= key);
                let before: usize = kids.iter().take(ci).map(|k| k.1).sum();
                let Some(&(child, _)) = kids.get(ci) else {
                    return (before, None, None);
                };
                let last = ci + 1 == kids.len();
                let (index, old, split) = self.insert_at(child, key, value, rightmost && last);
                let index = before + index;
                let Some(Node::Branch { seps, kids }) = self.nodes.get_mut(id as usize) else {
                    return (index, old, None);
                };
                if old.is_some() {
                    return (index, old, None);
                }
                let Some(kid) = kids.get_mut(ci) else {
                    return (index, old, None);
                };
                kid.1 += 1;
                let Some((sep, right, right_size)) = split else {
                    return (index, None, None);
                };
                kid.1 = kid.1.saturating_sub(right_size);
                // `ci <= seps.len()` and `ci < kids.len()`: from the search above.
                seps.insert(ci, sep);
                kids.insert(ci + 1, (right, right_size));
                let count = kids.len();
                if count <= CAP {
                    return (index, None, None);
                }
                let split_at = if rightmost && ci + 2 == count {
                    CAP
                } else {
                    count / 2
                };
                (index, None, self.split_node(id, split_at))
            }
            _ => (0, None, None),
        }
    }

    /// Splits node `id` at `at` into a new node; links leaves. See [`Node::split`].
    fn split_node(&mut self, id: u32, at: usize) -> Option<(K, u32, usize)> {
        let (sep, right, size) = self.nodes.get_mut(id as usize)?.split(at)?;
        let right = self.alloc(right);
        if let Some(Node::Leaf { next, .. }) = self.nodes.get_mut(id as usize) {
            *next = right;
        }
        Some((sep, right, size))
    }

    /// Removes `key`; returns the index it had and its value.
    pub fn remove(&mut self, key: &K) -> Option<(usize, V)> {
        let root = self.root;
        let removed = self.remove_at(root, key)?;
        self.len = self.len.saturating_sub(1);
        // A root branch left with one child gives way to it (a rightmost child may itself
        // be a branch with one child).
        while let Some(Node::Branch { kids, .. }) = self.nodes.get(self.root as usize) {
            let [(only, _)] = *kids.as_slice() else {
                break;
            };
            let old = mem::replace(&mut self.root, only);
            self.release(old);
        }
        Some(removed)
    }

    fn remove_at(&mut self, id: u32, key: &K) -> Option<(usize, V)> {
        match self.nodes.get_mut(id as usize)? {
            Node::Leaf { entries, .. } => {
                let at = entries.binary_search_by(|e| e.0.cmp(key)).ok()?;
                Some((at, entries.remove(at).1)) // `at < len`: found by the search
            }
            Node::Branch { seps, kids } => {
                let ci = seps.partition_point(|s| s <= key);
                let before: usize = kids.iter().take(ci).map(|k| k.1).sum();
                let &(child, _) = kids.get(ci)?;
                let (at, value) = self.remove_at(child, key)?;
                if let Some(Node::Branch { kids, .. }) = self.nodes.get_mut(id as usize) {
                    if let Some(kid) = kids.get_mut(ci) {
                        kid.1 = kid.1.saturating_sub(1);
                    }
                }
                if self.nodes.get(child as usize).map_or(0, Node::count) < MIN {
                    self.rebalance(id, ci);
                }
                Some((before + at, value))
            }
            Node::Free { .. } => None,
        }
    }

    /// Child `ci` of branch `id` is under-full: merges it with a sibling, or, if the two
    /// would not fit in one node, shares their entries evenly.
    fn rebalance(&mut self, id: u32, ci: usize) -> Option<()> {
        let Node::Branch { seps, kids } = self.nodes.get(id as usize)? else {
            return None;
        };
        let li = ci.saturating_sub(1); // with the left sibling, or the right one for the first
        let (&(left_id, _), &(right_id, _)) = (kids.get(li)?, kids.get(li + 1)?);
        if li >= seps.len() || left_id == right_id {
            return None;
        }
        self.nodes.get(left_id as usize)?;
        self.nodes.get(right_id as usize)?;
        let mut left = self.take(left_id)?;
        let right = self.take(right_id)?;
        let Some(Node::Branch { seps, kids }) = self.nodes.get_mut(id as usize) else {
            return None;
        };
        let sep = seps.remove(li); // `li < seps.len()`: checked above
        left.merge(sep, right);
        let count = left.count();
        if count <= CAP {
            let size = left.size();
            if let Some(kid) = kids.get_mut(li) {
                kid.1 = size;
            }
            kids.remove(li + 1); // `li + 1 < kids.len()`: read above
            self.put(left_id, left);
            self.release(right_id);
        } else {
            let (sep, right, right_size) = left.split(count / 2)?;
            if let Node::Leaf { next, .. } = &mut left {
                *next = right_id;
            }
            seps.insert(li, sep);
            if let Some(kid) = kids.get_mut(li) {
                kid.1 = left.size();
            }
            if let Some(kid) = kids.get_mut(li + 1) {
                kid.1 = right_size;
            }
            self.put(left_id, left);
            self.put(right_id, right);
        }
        Some(())
    }

    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        let (leaf, _) = self.find_leaf(key)?;
        let Some(Node::Leaf { entries, .. }) = self.nodes.get(leaf as usize) else {
            return None;
        };
        let at = entries.binary_search_by(|e| e.0.cmp(key)).ok()?;
        entries.get(at).map(|e| &e.1)
    }

    /// The value under `key`, to change in place (its position does not depend on it).
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let (leaf, _) = self.find_leaf(key)?;
        let Some(Node::Leaf { entries, .. }) = self.nodes.get_mut(leaf as usize) else {
            return None;
        };
        let at = entries.binary_search_by(|e| e.0.cmp(key)).ok()?;
        entries.get_mut(at).map(|e| &mut e.1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Binary-search semantics: `Ok(i)` if `key` is at index `i`, `Err(i)` if it is absent
    /// and would be inserted at `i` (`i` = the number of smaller keys).
    pub fn rank(&self, key: &K) -> Result<usize, usize> {
        let Some((leaf, before)) = self.find_leaf(key) else {
            return Err(0);
        };
        let Some(Node::Leaf { entries, .. }) = self.nodes.get(leaf as usize) else {
            return Err(before);
        };
        match entries.binary_search_by(|e| e.0.cmp(key)) {
            Ok(i) => Ok(before + i),
            Err(i) => Err(before + i),
        }
    }

    /// The leaf where `key` is or would be, and the number of entries before that leaf.
    fn find_leaf(&self, key: &K) -> Option<(u32, usize)> {
        let mut id = self.root;
        let mut before = 0;
        loop {
            match self.nodes.get(id as usize)? {
                Node::Leaf { .. } => return Some((id, before)),
                Node::Branch { seps, kids } => {
                    let ci = seps.partition_point(|s| s <= key);
                    before += kids.iter().take(ci).map(|k| k.1).sum::<usize>();
                    id = kids.get(ci)?.0;
                }
                Node::Free { .. } => return None,
            }
        }
    }

    /// The entry at `index` (0 = smallest key).
    pub fn get_index(&self, index: usize) -> Option<(&K, &V)> {
        let (leaf, at) = self.locate(index)?;
        let Some(Node::Leaf { entries, .. }) = self.nodes.get(leaf as usize) else {
            return None;
        };
        entries.get(at).map(|(k, v)| (k, v))
    }

    /// The leaf holding entry `index` and the entry's position in it.
    fn locate(&self, mut index: usize) -> Option<(u32, usize)> {
        if index >= self.len {
            return None;
        }
        let mut id = self.root;
        loop {
            match self.nodes.get(id as usize)? {
                Node::Leaf { .. } => return Some((id, index)),
                Node::Branch { kids, .. } => {
                    let mut next = None;
                    for &(kid, size) in kids {
                        if index < size {
                            next = Some(kid);
                            break;
                        }
                        index -= size;
                    }
                    id = next?;
                }
                Node::Free { .. } => return None,
            }
        }
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Option<(&K, &V)> {
        self.get_index(0)
    }

    /// The entry with the greatest key.
    pub fn last(&self) -> Option<(&K, &V)> {
        self.get_index(self.len.checked_sub(1)?)
    }

    /// All entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        self.iter_from(0)
    }

    /// Entries from index `index` on, in key order (empty if `index >= len`). "The last N"
    /// is `iter_from(len.saturating_sub(n))`.
    pub fn iter_from(&self, index: usize) -> Iter<'_, K, V> {
        self.iter_range(index, usize::MAX)
    }

    /// At most `limit` entries from index `index` on.
    fn iter_range(&self, index: usize, limit: usize) -> Iter<'_, K, V> {
        let (leaf, pos) = self.locate(index).unwrap_or((NIL, 0));
        let remaining = if leaf == NIL {
            0
        } else {
            limit.min(self.len - index)
        };
        Iter {
            nodes: &self.nodes,
            leaf,
            pos,
            index,
            remaining,
        }
    }

    /// Paging back: the (at most) `limit` entries with the greatest keys less than `key`,
    /// in ascending order. `key` itself need not be present. The page's first index is
    /// [`Iter::next_index`].
    pub fn before(&self, key: &K, limit: usize) -> Iter<'_, K, V> {
        let end = self.rank(key).unwrap_or_else(|i| i);
        let start = end.saturating_sub(limit);
        self.iter_range(start, end - start)
    }

    /// Paging forward: the (at most) `limit` entries with the smallest keys greater than
    /// `key`, in ascending order. `key` itself need not be present.
    pub fn after(&self, key: &K, limit: usize) -> Iter<'_, K, V> {
        let start = match self.rank(key) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        self.iter_range(start, limit)
    }

    /// Checks every structural invariant (see the module docs): for tests; O(n).
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut walk = Walk {
            reachable: 0,
            leaves: Vec::new(),
            leaf_depth: None,
        };
        if self.root == NIL {
            if self.len != 0 || !self.nodes.iter().all(|n| matches!(n, Node::Free { .. })) {
                return Err("no root, but entries or live nodes".into());
            }
        } else {
            let size = self.check_node(self.root, None, None, 0, true, true, &mut walk)?;
            if size != self.len {
                return Err(format!("len {} but {size} entries", self.len));
            }
        }
        // The leaf chain visits the leaves in order and ends.
        let mut chain = Vec::new();
        let mut id = walk.leaves.first().copied().unwrap_or(NIL);
        while id != NIL && chain.len() <= walk.leaves.len() {
            chain.push(id);
            match self.nodes.get(id as usize) {
                Some(Node::Leaf { next, .. }) => id = *next,
                _ => return Err(format!("leaf chain reaches non-leaf {id}")),
            }
        }
        if chain != walk.leaves {
            return Err(format!("leaf chain {chain:?}, leaves {:?}", walk.leaves));
        }
        // Every slot is reachable or on the free list, once.
        let mut free = 0;
        let mut id = self.free;
        while id != NIL && free <= self.nodes.len() {
            free += 1;
            match self.nodes.get(id as usize) {
                Some(Node::Free { next }) => id = *next,
                _ => return Err(format!("free list reaches live node {id}")),
            }
        }
        if walk.reachable + free != self.nodes.len() {
            return Err(format!(
                "{} slots: {} reachable, {free} free",
                self.nodes.len(),
                walk.reachable
            ));
        }
        Ok(())
    }

    /// Checks the subtree under `id`, whose keys must lie in `lo..hi`; returns its size.
    #[allow(clippy::too_many_arguments)]
    fn check_node(
        &self,
        id: u32,
        lo: Option<&K>,
        hi: Option<&K>,
        depth: usize,
        is_root: bool,
        rightmost: bool,
        walk: &mut Walk,
    ) -> Result<usize, String> {
        walk.reachable += 1;
        if walk.reachable > self.nodes.len() {
            return Err("cycle".into());
        }
        let node = self.nodes.get(id as usize).ok_or("dangling id")?;
        let count = node.count();
        if count > CAP {
            return Err(format!("node {id}: {count} > CAP"));
        }
        if !is_root && !rightmost && count < MIN {
            return Err(format!("node {id}: {count} < MIN off the rightmost path"));
        }
        let in_range = |k: &K| lo.is_none_or(|lo| lo <= k) && hi.is_none_or(|hi| k < hi);
        match node {
            Node::Leaf { entries, .. } => {
                if !entries.iter().all(|e| in_range(&e.0)) {
                    return Err(format!("leaf {id}: key out of its range"));
                }
                if !entries.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)) {
                    return Err(format!("leaf {id}: keys not strictly increasing"));
                }
                if *walk.leaf_depth.get_or_insert(depth) != depth {
                    return Err(format!("leaf {id} at depth {depth}"));
                }
                walk.leaves.push(id);
                Ok(entries.len())
            }
            Node::Branch { seps, kids } => {
                if kids.is_empty() || seps.len() + 1 != kids.len() || (is_root && count < 2) {
                    return Err(format!("branch {id}: {} kids, {} seps", count, seps.len()));
                }
                if !seps.iter().all(in_range) || !seps.windows(2).all(|w| w.first() < w.get(1)) {
                    return Err(format!("branch {id}: separators out of order"));
                }
                let mut total = 0;
                for (i, &(kid, size)) in kids.iter().enumerate() {
                    let klo = if i == 0 { lo } else { seps.get(i - 1) };
                    let khi = if i + 1 == kids.len() { hi } else { seps.get(i) };
                    let last = i + 1 == kids.len();
                    let real =
                        self.check_node(kid, klo, khi, depth + 1, false, rightmost && last, walk)?;
                    if real != size {
                        return Err(format!("branch {id}: kid {kid} counted {size}, has {real}"));
                    }
                    total += size;
                }
                Ok(total)
            }
            Node::Free { .. } => Err(format!("free node {id} in the tree")),
        }
    }

    /// A slot for `node`, from the free list if possible. The arena never approaches
    /// `u32::MAX` nodes (each holds up to `CAP` entries); past it, `NIL` (the node is lost).
    fn alloc(&mut self, node: Node<K, V>) -> u32 {
        let id = self.free;
        if let Some(slot) = self.nodes.get_mut(id as usize) {
            if let Node::Free { next } = *slot {
                self.free = next;
                *slot = node;
                return id;
            }
        }
        match u32::try_from(self.nodes.len()) {
            Ok(id) if id != NIL => {
                self.nodes.push(node);
                id
            }
            _ => NIL,
        }
    }

    /// Puts slot `id` on the free list (dropping what it held).
    fn release(&mut self, id: u32) {
        if let Some(slot) = self.nodes.get_mut(id as usize) {
            *slot = Node::Free { next: self.free };
            self.free = id;
        }
    }

    /// Takes node `id` out of the arena for a moment (a placeholder stays in the slot).
    fn take(&mut self, id: u32) -> Option<Node<K, V>> {
        let slot = self.nodes.get_mut(id as usize)?;
        Some(mem::replace(slot, Node::Free { next: NIL }))
    }

    /// Puts back a node taken out with [`take`](Self::take).
    fn put(&mut self, id: u32, node: Node<K, V>) {
        if let Some(slot) = self.nodes.get_mut(id as usize) {
            *slot = node;
        }
    }
}

/// What [`OrderedIndex::check_invariants`] gathers on its walk.
struct Walk {
    reachable: usize,
    leaves: Vec<u32>,
    leaf_depth: Option<usize>,
}

/// Entries in key order, along the leaf chain: O(1) per step. From
/// [`OrderedIndex::iter`], [`iter_from`](OrderedIndex::iter_from),
/// [`before`](OrderedIndex::before) and [`after`](OrderedIndex::after).
pub struct Iter<'a, K, V> {
    nodes: &'a [Node<K, V>],
    leaf: u32,
    pos: usize,
    index: usize,
    remaining: usize,
}

impl<K, V> Iter<'_, K, V> {
    /// The index of the entry that `next` returns (for a page: of its first entry).
    pub fn next_index(&self) -> usize {
        self.index
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        while self.remaining > 0 {
            let Some(Node::Leaf { entries, next }) = self.nodes.get(self.leaf as usize) else {
                break;
            };
            if let Some((k, v)) = entries.get(self.pos) {
                self.pos += 1;
                self.index += 1;
                self.remaining -= 1;
                return Some((k, v));
            }
            self.leaf = *next;
            self.pos = 0;
        }
        self.remaining = 0;
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}
impl<K, V> FusedIterator for Iter<'_, K, V> {}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::test_support::Rng;

    fn check<K: Ord + Clone + fmt::Debug, V: PartialEq + fmt::Debug>(
        index: &OrderedIndex<K, V>,
        model: &BTreeMap<K, V>,
    ) {
        index.check_invariants().unwrap();
        assert_eq!(index.len(), model.len());
        assert!(index.iter().eq(model.iter()));
        assert_eq!(index.iter().len(), model.len());
    }

    #[test]
    fn empty() {
        let mut index = OrderedIndex::<u32, ()>::new();
        assert!(index.is_empty());
        assert_eq!(index.len(), 0);
        assert_eq!(index.rank(&5), Err(0));
        assert_eq!(index.get(&5), None);
        assert_eq!(index.get_mut(&5), None);
        assert_eq!(index.get_index(0), None);
        assert_eq!(index.first(), None);
        assert_eq!(index.last(), None);
        assert_eq!(index.remove(&5), None);
        assert_eq!(index.iter().next(), None);
        assert_eq!(index.iter_from(3).next(), None);
        assert_eq!(index.before(&5, 10).next(), None);
        assert_eq!(index.after(&5, 10).next(), None);
        index.check_invariants().unwrap();
        assert_eq!(format!("{index:?}"), "{}");
    }

    #[test]
    fn insert_reports_index_and_replaces() {
        let mut index = OrderedIndex::new();
        assert_eq!(index.insert(5, 'a'), (0, None));
        assert_eq!(index.insert(3, 'b'), (0, None));
        assert_eq!(index.insert(9, 'c'), (2, None));
        assert_eq!(index.insert(7, 'd'), (2, None));
        assert_eq!(index.insert(5, 'e'), (1, Some('a')));
        assert_eq!(index.len(), 4);
        assert_eq!(index.get(&5), Some(&'e'));
        *index.get_mut(&9).unwrap() = 'f';
        assert_eq!(index.last(), Some((&9, &'f')));
        assert_eq!(index.first(), Some((&3, &'b')));
        assert!(index.contains_key(&7));
        assert!(!index.contains_key(&8));
        assert_eq!(format!("{index:?}"), "{3: 'b', 5: 'e', 7: 'd', 9: 'f'}");
        assert_eq!(index.remove(&7), Some((2, 'd')));
        assert_eq!(index.remove(&7), None);
        index.clear();
        assert!(index.is_empty());
        index.check_invariants().unwrap();
    }

    #[test]
    fn paging() {
        let mut index = OrderedIndex::new();
        for k in (0..100u32).map(|k| k * 2) {
            index.insert(k, k);
        }
        let keys = |it: Iter<'_, u32, u32>| it.map(|(k, _)| *k).collect::<Vec<_>>();
        assert_eq!(keys(index.before(&10, 3)), [4, 6, 8]);
        assert_eq!(keys(index.before(&11, 3)), [6, 8, 10]);
        assert_eq!(keys(index.before(&4, 50)), [0, 2]);
        assert_eq!(keys(index.before(&0, 50)), Vec::<u32>::new());
        assert_eq!(keys(index.after(&10, 3)), [12, 14, 16]);
        assert_eq!(keys(index.after(&11, 3)), [12, 14, 16]);
        assert_eq!(keys(index.after(&194, 50)), [196, 198]);
        assert_eq!(keys(index.after(&198, 50)), Vec::<u32>::new());
        assert_eq!(keys(index.iter_from(97)), [194, 196, 198]);
        assert_eq!(keys(index.iter_from(100)), Vec::<u32>::new());
        assert_eq!(keys(index.iter_from(usize::MAX)), Vec::<u32>::new());
        assert_eq!(index.before(&11, 3).next_index(), 3);
        assert_eq!(index.before(&11, 3).len(), 3);
        let mut page = index.after(&11, 3);
        page.next();
        assert_eq!(page.next_index(), 7);
        assert_eq!(page.len(), 2);
    }

    #[test]
    fn appending_packs_leaves_full() {
        let mut index = OrderedIndex::new();
        for k in 0..1000u32 {
            assert_eq!(index.insert(k, ()), (k as usize, None));
        }
        index.check_invariants().unwrap();
        let leaves = index
            .nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf { .. }))
            .count();
        assert_eq!(leaves, 1000usize.div_ceil(CAP));
        // Descending inserts split evenly.
        let mut index = OrderedIndex::new();
        for k in (0..1000u32).rev() {
            assert_eq!(index.insert(k, ()), (0, None));
        }
        index.check_invariants().unwrap();
    }

    #[test]
    fn random_ops_against_btreemap() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..20u64 {
            let mut index = OrderedIndex::new();
            let mut model = BTreeMap::new();
            let domain = 50 + round * 40;
            for step in 0..3000u64 {
                let key = (rng.below(domain), rng.below(3));
                // Grow for the first half, then shrink: deep trees, then merges.
                let grow = if step < 1500 { 7 } else { 3 };
                if rng.below(10) < grow {
                    let expected = model.range(..key).count();
                    let old = model.insert(key, step);
                    assert_eq!(index.insert(key, step), (expected, old));
                } else {
                    let expected = model.range(..key).count();
                    let removed = model.remove(&key).map(|v| (expected, v));
                    assert_eq!(index.remove(&key), removed);
                }
                if step % 97 == 0 {
                    check(&index, &model);
                }
                let probe = (rng.below(domain), rng.below(3));
                let smaller = model.range(..probe).count();
                let expected = if model.contains_key(&probe) {
                    Ok(smaller)
                } else {
                    Err(smaller)
                };
                assert_eq!(index.rank(&probe), expected);
                let i = rng.below(model.len() as u64 + 2) as usize;
                assert_eq!(index.get_index(i), model.iter().nth(i));
            }
            check(&index, &model);
            let keys: Vec<_> = model.keys().copied().collect();
            for key in keys {
                assert_eq!(index.remove(&key).map(|(i, _)| i), Some(0));
                model.remove(&key);
            }
            check(&index, &model);
            assert!(index.nodes.len() > 1, "slots are kept for reuse");
        }
    }

    #[test]
    fn removals_reuse_slots() {
        let mut index = OrderedIndex::new();
        let mut rng = Rng(7);
        for _ in 0..200 {
            index.insert(rng.below(1000), ());
        }
        let slots = index.nodes.len();
        for _ in 0..50 {
            let keys: Vec<_> = index.iter().map(|(k, _)| *k).take(100).collect();
            for k in &keys {
                index.remove(k);
            }
            for k in keys {
                index.insert(k, ());
            }
            index.check_invariants().unwrap();
        }
        assert!(index.nodes.len() <= slots + 2 * index.len() / MIN);
        let free = index
            .nodes
            .iter()
            .filter(|n| matches!(n, Node::Free { .. }))
            .count();
        assert!(
            free < index.nodes.len() / 2,
            "{free} free of {}",
            index.nodes.len()
        );
    }
}

//! [`VecMap`]: an ordered map over two sorted `Vec`s, for the small maps of a persist
//! batch and of the memory backend; [`Fifo`]: a queue over two `Vec`s, for the queues of
//! outputs, actions and events. Both stand in for std collections whose code is large and
//! instantiated per element type.
//!
//! `BTreeMap` costs some 5 KB of wasm for each key/value pair of types it is used with
//! (insert, remove, node merging and stealing, iterators, drop); this map compiles to a
//! binary search and `Vec` inserts and removes, and its keys and values live in separate
//! `Vec`s so code is shared by the maps with the same key type or the same value type.
//! The API is the part of `BTreeMap`'s that the crate uses, with the same meaning:
//! iteration is in ascending key order, `insert` replaces the value of an equal key.
//!
//! Inserting in the middle moves the later entries, so it suits maps that are small or
//! that grow mostly at the end (a batch of messages arriving in order).
//!
//! [`try_collect`] is `collect::<Result<Vec<_>, _>>()` and [`Gather`] `collect::<Vec<_>>()`
//! and `Vec::extend`, each as one plain loop: std's versions are also large and made for each
//! iterator type they collect.

use std::borrow::Borrow;
use std::fmt;

/// An ordered map on sorted `Vec`s. See the module documentation.
#[derive(Clone, PartialEq, Eq)]
pub struct VecMap<K, V> {
    keys: Vec<K>,
    values: Vec<V>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            keys: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V> VecMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        VecMap {
            keys: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, ascending.
    pub fn keys(&self) -> std::slice::Iter<'_, K> {
        self.keys.iter()
    }

    /// The values, in ascending key order.
    pub fn values(&self) -> std::slice::Iter<'_, V> {
        self.values.iter()
    }

    pub fn values_mut(&mut self) -> std::slice::IterMut<'_, V> {
        self.values.iter_mut()
    }

    /// `(key, value)` pairs, ascending.
    pub fn iter(&self) -> std::iter::Zip<std::slice::Iter<'_, K>, std::slice::Iter<'_, V>> {
        self.keys.iter().zip(self.values.iter())
    }

    pub fn into_keys(self) -> std::vec::IntoIter<K> {
        self.keys.into_iter()
    }

    pub fn into_values(self) -> std::vec::IntoIter<V> {
        self.values.into_iter()
    }

    pub fn clear(&mut self) {
        self.keys.clear();
        self.values.clear();
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// Where `key` is (`Ok`) or would go (`Err`).
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.keys.binary_search_by(|k| k.borrow().cmp(key))
    }

    /// Inserts, or replaces the value of an equal key and returns the old value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        // Most maps grow at the end: check that before searching.
        let at = match self.keys.last() {
            None => 0,
            Some(last) if *last < key => self.keys.len(),
            Some(_) => match self.find(&key) {
                Ok(i) => return self.values.get_mut(i).map(|v| std::mem::replace(v, value)),
                Err(i) => i,
            },
        };
        self.keys.insert(at, key);
        self.values.insert(at, value);
        None
    }

    /// The value of `key`, inserted from `default` first if there is none: `entry(key)
    /// .or_insert_with(default)`. Always `Some` (an `Option` only because the crate does
    /// no panicking indexing).
    pub fn get_or_insert_with(&mut self, key: K, default: impl FnOnce() -> V) -> Option<&mut V> {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.keys.insert(i, key);
                self.values.insert(i, default());
                i
            }
        };
        self.values.get_mut(i)
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        self.keys.remove(i);
        Some(self.values.remove(i))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.values.get(self.find(key).ok()?)
    }

    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        self.values.get_mut(i)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// The entries whose key is at least `from`, ascending.
    pub fn range_from<Q: Ord + ?Sized>(
        &self,
        from: &Q,
    ) -> std::iter::Zip<std::slice::Iter<'_, K>, std::slice::Iter<'_, V>>
    where
        K: Borrow<Q>,
    {
        let at = self.find(from).unwrap_or_else(|i| i);
        let keys = self.keys.get(at..).unwrap_or_default();
        let values = self.values.get(at..).unwrap_or_default();
        keys.iter().zip(values.iter())
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// Inserts every entry of `later`, whose values replace those of equal keys: `extend`
    /// in one pass over both maps however their keys interleave. (`insert` in the middle
    /// moves every later entry: merging the persist batches of a backlog, whose messages
    /// come from many conversations, that way was quadratic.)
    pub fn append(&mut self, later: VecMap<K, V>) {
        let in_order = match (self.keys.last(), later.keys.first()) {
            (Some(last), Some(first)) => last < first,
            _ => true,
        };
        if in_order {
            self.keys.extend(later.keys);
            self.values.extend(later.values);
            return;
        }
        let n = self.len() + later.len();
        let mut keys = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        let mut a = std::mem::take(&mut self.keys)
            .into_iter()
            .zip(std::mem::take(&mut self.values));
        let mut b = later.into_iter();
        let (mut x, mut y) = (a.next(), b.next());
        loop {
            let next = match (x.take(), y.take()) {
                (Some(ea), Some(eb)) => match ea.0.cmp(&eb.0) {
                    std::cmp::Ordering::Less => {
                        (x, y) = (a.next(), Some(eb));
                        ea
                    }
                    std::cmp::Ordering::Greater => {
                        (x, y) = (Some(ea), b.next());
                        eb
                    }
                    // The later value replaces the earlier one.
                    std::cmp::Ordering::Equal => {
                        (x, y) = (a.next(), b.next());
                        eb
                    }
                },
                (Some(e), None) => {
                    x = a.next();
                    e
                }
                (None, Some(e)) => {
                    y = b.next();
                    e
                }
                (None, None) => break,
            };
            keys.push(next.0);
            values.push(next.1);
        }
        self.keys = keys;
        self.values = values;
    }
}

impl<K: Ord, V> Extend<(K, V)> for VecMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = VecMap::new();
        map.extend(iter);
        map
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::iter::Zip<std::vec::IntoIter<K>, std::vec::IntoIter<V>>;

    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter().zip(self.values)
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Zip<std::slice::Iter<'a, K>, std::slice::Iter<'a, V>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A first-in, first-out queue on two `Vec`s: `back` takes what is pushed, `front` holds
/// the older items in reverse order, so taking the oldest is `Vec::pop`; when `front` runs
/// out, `back` is reversed into it. Amortised O(1) per item like `VecDeque`, whose ring
/// buffer (`grow`, `wrap_copy`, `remove`, …) is some 1.2 KB of wasm for each element type
/// it holds; this is `Vec`'s push, pop and reverse. The API is the part of `VecDeque`'s
/// that the crate uses, with the same meaning; positions count from the front.
#[derive(Clone)]
pub struct Fifo<T> {
    /// The older items, the oldest last.
    front: Vec<T>,
    /// The newer items, the newest last.
    back: Vec<T>,
}

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo {
            front: Vec::new(),
            back: Vec::new(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Fifo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> From<Vec<T>> for Fifo<T> {
    /// A queue of `items`, the first one first out.
    fn from(items: Vec<T>) -> Self {
        Fifo {
            front: Vec::new(),
            back: items,
        }
    }
}

impl<T> Fifo<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.front.len() + self.back.len()
    }

    pub fn is_empty(&self) -> bool {
        self.front.is_empty() && self.back.is_empty()
    }

    pub fn push_back(&mut self, item: T) {
        self.back.push(item);
    }

    /// Puts `item` before every other: the next `pop_front` returns it.
    pub fn push_front(&mut self, item: T) {
        self.front.push(item);
    }

    pub fn pop_front(&mut self) -> Option<T> {
        if self.front.is_empty() {
            self.turn();
        }
        self.front.pop()
    }

    /// Moves `back` into an empty `front` (reversed, so the oldest is last).
    fn turn(&mut self) {
        std::mem::swap(&mut self.front, &mut self.back);
        self.front.reverse();
    }

    pub fn front(&self) -> Option<&T> {
        self.front.last().or_else(|| self.back.first())
    }

    /// Where position `at` (0 is the front) is: `Ok(i)` in `front`, `Err(i)` in `back`
    /// (maybe past its end).
    fn locate(&self, at: usize) -> Result<usize, usize> {
        let f = self.front.len();
        if at < f {
            Ok(f - 1 - at)
        } else {
            Err(at - f)
        }
    }

    /// The item at position `at` (0 is the front).
    pub fn get(&self, at: usize) -> Option<&T> {
        match self.locate(at) {
            Ok(i) => self.front.get(i),
            Err(i) => self.back.get(i),
        }
    }

    pub fn get_mut(&mut self, at: usize) -> Option<&mut T> {
        match self.locate(at) {
            Ok(i) => self.front.get_mut(i),
            Err(i) => self.back.get_mut(i),
        }
    }

    /// Takes out the item at position `at`, if there is one; the later ones move up. Cheap
    /// near either end: an item in the first half of `back` is taken after `back` moved
    /// into an empty `front` (the in-flight window's acks mostly come in order).
    pub fn remove(&mut self, at: usize) -> Option<T> {
        if self.front.is_empty() && at < self.back.len() / 2 {
            self.turn();
        }
        match self.locate(at) {
            Ok(i) => Some(self.front.remove(i)),
            Err(i) => (i < self.back.len()).then(|| self.back.remove(i)),
        }
    }

    pub fn clear(&mut self) {
        self.front.clear();
        self.back.clear();
    }

    /// The items, front to back.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.front.iter().rev().chain(&self.back)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.front.iter_mut().rev().chain(&mut self.back)
    }

    /// Where the item whose `key` is `b` is (`Ok`), or where it would go (`Err`), in a
    /// queue whose keys ascend from front to back.
    pub fn binary_search_by_key<B: Ord>(
        &self,
        b: &B,
        key: impl Fn(&T) -> B,
    ) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid).map(|item| key(item).cmp(b)) {
                Some(std::cmp::Ordering::Less) => low = mid + 1,
                Some(std::cmp::Ordering::Greater) | None => high = mid,
                Some(std::cmp::Ordering::Equal) => return Ok(mid),
            }
        }
        Err(low)
    }

    /// Takes every item out, front to back, leaving the queue empty.
    pub fn drain(&mut self) -> impl Iterator<Item = T> {
        let front = std::mem::take(&mut self.front);
        let back = std::mem::take(&mut self.back);
        front.into_iter().rev().chain(back)
    }
}

/// The items of `iter` up to its first error: what `collect::<Result<Vec<T>, E>>()` gives,
/// as one loop. std's version instantiates four or five functions for each iterator type
/// it collects (`GenericShunt`, `try_process`, `try_fold`, `from_iter`, `extend`), some
/// 700 B of wasm each time: 17 instances in the web module, from eight call sites.
///
/// Like std's, it grows the `Vec` as items come and reserves nothing from the size hint: a
/// JS array reports its `length` as exact, and a sparse `new Array(1e9)` in the options must
/// fail on its first item, not allocate for a billion.
pub fn try_collect<T, E>(iter: impl IntoIterator<Item = Result<T, E>>) -> Result<Vec<T>, E> {
    let mut out = Vec::new();
    for item in iter {
        out.push(item?);
    }
    Ok(out)
}

/// `collect::<Vec<_>>()` and `Vec::extend` as one plain loop each, for chains of iterator
/// adapters: `iter.gather()`, `iter.gather_into(&mut vec)`. std's versions are made for each
/// iterator type they collect: for a chain of unknown length two functions
/// (`SpecFromIterNested::from_iter`, which sizes the first allocation from the size hint,
/// and `extend_desugared`), some 330 B of wasm each time, 37 pairs in the web module; for
/// one of exact length an allocation made once, then `extend_trusted`; for a `Vec` consumed
/// whole, a collect in its own buffer. Here the `Vec` starts empty and grows as items come
/// (doubling, as `push` does): fine for the lists of one call here (a page of messages, the
/// ids of the conversations: 100,000 items take 17 doublings). A `Vec` or slice copied
/// whole is not for this: `to_vec`, `extend_from_slice` and `extend` from a `Vec` copy it
/// at once. Measured, gzip -9 of the modules optimised in name order: web -2,259 B,
/// mini-program -2,287 B, imcore/mqtt -602 B.
pub trait Gather: Iterator + Sized {
    /// The items, in order, in a new `Vec`. Its own loop, not `gather_into` on an empty
    /// `Vec`: that left a second function per type, 73 B more gzip -9 on the web module.
    fn gather(self) -> Vec<Self::Item> {
        let mut out = Vec::new();
        for item in self {
            out.push(item);
        }
        out
    }

    /// The items, in order, pushed onto `out`: `out.extend(iter)`, whose std version is
    /// `extend_desugared` made for each iterator type.
    fn gather_into(self, out: &mut Vec<Self::Item>) {
        for item in self {
            out.push(item);
        }
    }
}

impl<I: Iterator> Gather for I {}

// Native only: proptest is a native dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::{try_collect, Fifo, Gather, VecMap};
    use proptest::prelude::*;
    use std::collections::{BTreeMap, VecDeque};

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u16),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
            any::<u8>().prop_map(Op::Remove),
        ]
    }

    #[derive(Debug, Clone)]
    enum QueueOp {
        PushBack(u16),
        PushFront(u16),
        PopFront,
        Remove(usize),
        GetMut(usize, u16),
        Clear,
    }

    /// A position: mostly near the queue's length, sometimes the largest there is.
    fn index() -> impl Strategy<Value = usize> {
        prop_oneof![9 => 0usize..40, 1 => Just(usize::MAX)]
    }

    fn queue_op() -> impl Strategy<Value = QueueOp> {
        prop_oneof![
            4 => any::<u16>().prop_map(QueueOp::PushBack),
            1 => any::<u16>().prop_map(QueueOp::PushFront),
            3 => Just(QueueOp::PopFront),
            1 => index().prop_map(QueueOp::Remove),
            1 => (index(), any::<u16>()).prop_map(|(i, v)| QueueOp::GetMut(i, v)),
            1 => Just(QueueOp::Clear),
        ]
    }

    proptest! {
        /// Every operation answers as `VecDeque`'s does, and the contents stay equal in
        /// order, however pushes, pops and removals interleave across the two halves.
        #[test]
        fn behaves_as_a_vec_deque(
            start in proptest::collection::vec(any::<u16>(), 0..20),
            ops in proptest::collection::vec(queue_op(), 0..200),
            probe in index(),
        ) {
            let mut model: VecDeque<u16> = start.iter().copied().collect();
            let mut fifo = Fifo::from(start);
            for op in ops {
                match op {
                    QueueOp::PushBack(v) => {
                        model.push_back(v);
                        fifo.push_back(v);
                    }
                    QueueOp::PushFront(v) => {
                        model.push_front(v);
                        fifo.push_front(v);
                    }
                    QueueOp::PopFront => prop_assert_eq!(fifo.pop_front(), model.pop_front()),
                    QueueOp::Remove(i) => prop_assert_eq!(fifo.remove(i), model.remove(i)),
                    QueueOp::GetMut(i, v) => {
                        let (a, b) = (fifo.get_mut(i), model.get_mut(i));
                        prop_assert_eq!(a.is_some(), b.is_some());
                        if let (Some(a), Some(b)) = (a, b) {
                            *a = v;
                            *b = v;
                        }
                    }
                    QueueOp::Clear => {
                        model.clear();
                        fifo.clear();
                    }
                }
                prop_assert_eq!(fifo.len(), model.len());
                prop_assert_eq!(fifo.is_empty(), model.is_empty());
                prop_assert_eq!(fifo.front(), model.front());
            }
            prop_assert_eq!(fifo.get(probe), model.get(probe));
            for (a, b) in fifo.iter_mut().zip(model.iter_mut()) {
                *a = a.wrapping_add(1);
                *b = b.wrapping_add(1);
            }
            // A queue whose keys ascend: the same answers as VecDeque's (up to which of
            // equal keys is found).
            let sorted: VecDeque<u16> = {
                let mut v: Vec<u16> = model.iter().copied().collect();
                v.sort_unstable();
                v.dedup();
                v.into()
            };
            let mut ascending = Fifo::new();
            for &v in sorted.iter().skip(sorted.len() / 3) {
                ascending.push_back(v);
            }
            for &v in sorted.iter().take(sorted.len() / 3).rev() {
                ascending.push_front(v);
            }
            let key = probe.min(usize::from(u16::MAX)) as u16;
            prop_assert_eq!(ascending.binary_search_by_key(&key, |&v| v), sorted.binary_search(&key));
            for &v in &sorted {
                prop_assert_eq!(ascending.binary_search_by_key(&v, |&v| v), sorted.binary_search(&v));
            }
            prop_assert_eq!(format!("{fifo:?}"), format!("{model:?}"));
            prop_assert_eq!(fifo.iter().collect::<Vec<_>>(), model.iter().collect::<Vec<_>>());
            prop_assert_eq!(fifo.drain().collect::<Vec<_>>(), model.drain(..).collect::<Vec<_>>());
            prop_assert!(fifo.is_empty());
        }

        /// Every operation answers as `BTreeMap`'s does, and the contents stay equal.
        #[test]
        fn behaves_as_a_btree_map(ops in proptest::collection::vec(op(), 0..200), probe in any::<u8>()) {
            let mut model = BTreeMap::new();
            let mut map = VecMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(map.insert(k, v), model.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(map.remove(&k), model.remove(&k)),
                }
                prop_assert_eq!(map.len(), model.len());
            }
            prop_assert_eq!(map.get(&probe), model.get(&probe));
            prop_assert_eq!(map.contains_key(&probe), model.contains_key(&probe));
            prop_assert_eq!(
                map.range_from(&probe).collect::<Vec<_>>(),
                model.range(probe..).collect::<Vec<_>>()
            );
            prop_assert_eq!(map.iter().collect::<Vec<_>>(), model.iter().collect::<Vec<_>>());
            prop_assert_eq!(format!("{map:?}"), format!("{model:?}"));
            let again: VecMap<u8, u16> = model.clone().into_iter().collect();
            prop_assert_eq!(&again, &map);
            prop_assert_eq!(map.into_iter().collect::<Vec<_>>(), model.into_iter().collect::<Vec<_>>());
        }

        /// `append` is `extend` (later values win), however the keys interleave.
        #[test]
        fn append_matches_a_btree_map(
            a in proptest::collection::btree_map(any::<u8>(), any::<u16>(), 0..60),
            b in proptest::collection::btree_map(any::<u8>(), any::<u16>(), 0..60),
        ) {
            let mut map: VecMap<u8, u16> = a.clone().into_iter().collect();
            map.append(b.clone().into_iter().collect());
            let mut model = a;
            model.extend(b);
            prop_assert_eq!(map.iter().collect::<Vec<_>>(), model.iter().collect::<Vec<_>>());
        }

        /// `try_collect` gives what `collect::<Result<Vec<_>, _>>()` gives, first error
        /// included, and reads no item after it.
        #[test]
        fn try_collect_is_collect(items in proptest::collection::vec(any::<Result<u8, u8>>(), 0..40)) {
            let mut read = 0;
            let got = try_collect(items.iter().inspect(|_| read += 1).cloned());
            let want: Result<Vec<u8>, u8> = items.iter().cloned().collect();
            prop_assert_eq!(&got, &want);
            let first_err = items.iter().position(Result::is_err);
            prop_assert_eq!(read, first_err.map_or(items.len(), |at| at + 1));
        }

        /// `gather` is `collect::<Vec<_>>()` and `gather_into` is `extend`, on the sources
        /// where std's paths differ: a chain whose size hint is only a bound, one of exact
        /// length, a `Vec` consumed whole and an `Option`.
        #[test]
        fn gather_is_collect(
            start in proptest::collection::vec(any::<u16>(), 0..20),
            items in proptest::collection::vec(any::<u16>(), 0..60),
        ) {
            let bounded = || items.iter().filter(|x| *x % 3 != 0).map(|x| x.wrapping_mul(7));
            prop_assert_eq!(bounded().gather(), bounded().collect::<Vec<_>>());
            let exact = || items.iter().map(|x| x.wrapping_add(1));
            prop_assert_eq!(exact().gather(), exact().collect::<Vec<_>>());
            prop_assert_eq!(items.clone().into_iter().gather(), items.clone());
            let first = || items.first().copied();
            prop_assert_eq!(first().into_iter().gather(), first().into_iter().collect::<Vec<_>>());
            let mut got = start.clone();
            bounded().gather_into(&mut got);
            exact().gather_into(&mut got);
            let mut want = start;
            want.extend(bounded());
            want.extend(exact());
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn borrowed_keys_and_values_mut() {
        let mut m: VecMap<String, u32> = VecMap::new();
        m.insert("b".into(), 2);
        m.insert("a".into(), 1);
        assert_eq!(m.get("a"), Some(&1));
        if let Some(v) = m.get_mut("b") {
            *v = 20;
        }
        for v in m.values_mut() {
            *v += 1;
        }
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m.remove("b"), Some(21));
        assert!(!m.is_empty());
        m.clear();
        assert!(m.is_empty());
    }
}

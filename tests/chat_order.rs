//! `chat::order::OrderedIndex` against models: a `BTreeMap` for contents and a sorted `Vec`
//! whose binary search gives the exact index every operation must report; and 100,000
//! entries inserted and removed in random order, with indices checked by a Fenwick tree.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;

use imcore::chat::order::OrderedIndex;
use imcore::test_support::Rng;
use proptest::prelude::*;

/// (weight, sender, id), as the store keys messages.
type Key = (u64, u64, u16);

#[derive(Debug, Clone)]
enum Op {
    Insert(Key, u32),
    /// Past the greatest key (the common case: a new message).
    Append(u64, u32),
    Remove(Key),
    /// Remove the key at `index % len`.
    RemoveAt(usize),
    Rank(Key),
    GetIndex(usize),
    GetMut(Key, u32),
    IterFrom(usize, usize),
    Before(Key, usize),
    After(Key, usize),
    Ends,
}

fn key() -> impl Strategy<Value = Key> {
    // A small domain, so inserts collide and removes hit.
    (0u64..300, 0u64..3, 0u16..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (key(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (1u64..5, any::<u32>()).prop_map(|(step, v)| Op::Append(step, v)),
        3 => key().prop_map(Op::Remove),
        3 => any::<usize>().prop_map(Op::RemoveAt),
        2 => key().prop_map(Op::Rank),
        2 => (0usize..1200).prop_map(Op::GetIndex),
        1 => (key(), any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        1 => (0usize..1200, 0usize..80).prop_map(|(i, n)| Op::IterFrom(i, n)),
        1 => (key(), 0usize..80).prop_map(|(k, n)| Op::Before(k, n)),
        1 => (key(), 0usize..80).prop_map(|(k, n)| Op::After(k, n)),
        1 => Just(Op::Ends),
    ]
}

/// The models: contents, and the sorted keys whose binary search is the expected index.
#[derive(Default)]
struct Model {
    map: BTreeMap<Key, u32>,
    keys: Vec<Key>,
}

impl Model {
    fn entries(&self, from: usize, n: usize) -> Vec<(Key, u32)> {
        self.keys
            .iter()
            .skip(from)
            .take(n)
            .map(|k| (*k, self.map[k]))
            .collect()
    }
}

fn owned<'a>(it: impl Iterator<Item = (&'a Key, &'a u32)>) -> Vec<(Key, u32)> {
    it.map(|(k, v)| (*k, *v)).collect()
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut index = OrderedIndex::<Key, u32>::new();
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        match op.clone() {
            Op::Insert(k, v) => {
                let at = model.keys.binary_search(&k);
                let old = model.map.insert(k, v);
                if let Err(i) = at {
                    model.keys.insert(i, k);
                }
                prop_assert_eq!(index.insert(k, v), (at.unwrap_or_else(|i| i), old));
            }
            Op::Append(step, v) => {
                let k = (model.keys.last().map_or(0, |k| k.0) + 300 + step, 0, 0);
                model.map.insert(k, v);
                model.keys.push(k);
                prop_assert_eq!(index.insert(k, v), (model.keys.len() - 1, None));
            }
            Op::Remove(k) => {
                let expected = model.keys.binary_search(&k).ok().map(|i| {
                    model.keys.remove(i);
                    (i, model.map.remove(&k).unwrap_or_default())
                });
                prop_assert_eq!(index.remove(&k), expected);
            }
            Op::RemoveAt(i) => {
                if model.keys.is_empty() {
                    continue;
                }
                let i = i % model.keys.len();
                let k = model.keys.remove(i);
                let v = model.map.remove(&k);
                prop_assert_eq!(index.remove(&k), v.map(|v| (i, v)));
                prop_assert_eq!(index.remove(&k), None);
            }
            Op::Rank(k) => prop_assert_eq!(index.rank(&k), model.keys.binary_search(&k)),
            Op::GetIndex(i) => {
                let expected = model.keys.get(i).map(|k| (*k, model.map[k]));
                prop_assert_eq!(index.get_index(i).map(|(k, v)| (*k, *v)), expected);
            }
            Op::GetMut(k, v) => {
                let expected = model.map.get_mut(&k).map(|old| {
                    *old = v;
                    v
                });
                let got = index.get_mut(&k).map(|old| {
                    *old = v;
                    v
                });
                prop_assert_eq!(got, expected);
                prop_assert_eq!(index.get(&k).copied(), expected);
            }
            Op::IterFrom(i, n) => {
                let page = index.iter_from(i);
                prop_assert_eq!(page.len(), model.keys.len().saturating_sub(i));
                prop_assert_eq!(owned(page.take(n)), model.entries(i, n));
            }
            Op::Before(k, n) => {
                let end = model.keys.binary_search(&k).unwrap_or_else(|i| i);
                let start = end.saturating_sub(n);
                let page = index.before(&k, n);
                prop_assert_eq!(page.next_index(), start);
                prop_assert_eq!(page.len(), end - start);
                prop_assert_eq!(owned(page), model.entries(start, end - start));
            }
            Op::After(k, n) => {
                let start = match model.keys.binary_search(&k) {
                    Ok(i) => i + 1,
                    Err(i) => i,
                };
                let page = index.after(&k, n);
                let expected = model.entries(start, n);
                prop_assert_eq!(page.len(), expected.len());
                prop_assert_eq!(owned(page), expected);
            }
            Op::Ends => {
                let first = model.keys.first().map(|k| (*k, model.map[k]));
                let last = model.keys.last().map(|k| (*k, model.map[k]));
                prop_assert_eq!(index.first().map(|(k, v)| (*k, *v)), first);
                prop_assert_eq!(index.last().map(|(k, v)| (*k, *v)), last);
            }
        }
        prop_assert_eq!(index.len(), model.keys.len());
        prop_assert_eq!(index.is_empty(), model.keys.is_empty());
        if step % 64 == 0 {
            index.check_invariants().map_err(TestCaseError::fail)?;
        }
    }
    index.check_invariants().map_err(TestCaseError::fail)?;
    prop_assert_eq!(owned(index.iter()), model.entries(0, usize::MAX));
    for (i, k) in model.keys.iter().enumerate() {
        prop_assert_eq!(index.rank(k), Ok(i));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Long runs: trees a few levels deep, splits, merges and root collapses.
    #[test]
    fn long_runs_match_the_models(ops in prop::collection::vec(op(), 0..4000)) {
        run(&ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Short runs: small trees, where shrinking finds a minimal failing case.
    #[test]
    fn short_runs_match_the_models(ops in prop::collection::vec(op(), 0..120)) {
        run(&ops)?;
    }
}

/// Counts of present items by final position: "how many present keys are smaller".
struct Fenwick(Vec<usize>);

impl Fenwick {
    fn add(&mut self, at: usize, delta: isize) {
        let mut i = at + 1;
        while i < self.0.len() {
            self.0[i] = self.0[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// Present items at positions `< at`.
    fn before(&self, at: usize) -> usize {
        let (mut i, mut sum) = (at, 0);
        while i > 0 {
            sum += self.0[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }
}

#[test]
fn a_hundred_thousand_in_random_order() {
    const N: usize = 100_000;
    let mut rng = Rng(0x005e_ed0f_c4a7);
    // Sorted, distinct keys; many share a weight, as messages in one millisecond do.
    let mut sorted: Vec<(u64, u64, String)> = (0..N as u64)
        .map(|i| (1_700_000_000_000 + i / 3, i % 7, format!("m{i:06}")))
        .collect();
    sorted.sort();
    let mut order: Vec<usize> = (0..N).collect();
    rng.shuffle(&mut order);

    let mut index = OrderedIndex::new();
    let mut present = Fenwick(vec![0; N + 1]);
    for (n, &i) in order.iter().enumerate() {
        let expected = present.before(i);
        assert_eq!(index.insert(sorted[i].clone(), i), (expected, None));
        present.add(i, 1);
        if n % 20_000 == 0 {
            index.check_invariants().unwrap();
        }
    }
    index.check_invariants().unwrap();
    assert_eq!(index.len(), N);
    assert!(index.iter().map(|(k, _)| k).eq(sorted.iter()));
    assert_eq!(index.iter().len(), N);
    for (i, k) in sorted.iter().enumerate() {
        assert_eq!(index.rank(k), Ok(i));
        assert_eq!(index.get(k), Some(&i));
        assert_eq!(index.get_index(i), Some((k, &i)));
    }
    assert_eq!(index.first().map(|(_, v)| *v), Some(0));
    assert_eq!(index.last().map(|(_, v)| *v), Some(N - 1));
    // Inserting an existing key replaces its value and moves nothing.
    assert_eq!(index.insert(sorted[500].clone(), 7), (500, Some(500)));
    assert_eq!(index.insert(sorted[500].clone(), 500), (500, Some(7)));
    // Paging around the middle.
    let mid = &sorted[N / 2];
    let page: Vec<usize> = index.before(mid, 50).map(|(_, v)| *v).collect();
    assert_eq!(page, (N / 2 - 50..N / 2).collect::<Vec<_>>());
    let page: Vec<usize> = index.after(mid, 50).map(|(_, v)| *v).collect();
    assert_eq!(page, (N / 2 + 1..N / 2 + 51).collect::<Vec<_>>());

    // Remove half in another random order, then put them back, then remove everything.
    rng.shuffle(&mut order);
    let (gone, kept) = order.split_at(N / 2);
    for &i in gone {
        present.add(i, -1);
        assert_eq!(index.remove(&sorted[i]), Some((present.before(i), i)));
    }
    index.check_invariants().unwrap();
    assert_eq!(index.len(), N / 2);
    for &i in gone {
        assert_eq!(
            index.insert(sorted[i].clone(), i),
            (present.before(i), None)
        );
        present.add(i, 1);
    }
    index.check_invariants().unwrap();
    for &i in kept.iter().chain(gone) {
        present.add(i, -1);
        assert_eq!(index.remove(&sorted[i]), Some((present.before(i), i)));
    }
    index.check_invariants().unwrap();
    assert!(index.is_empty());
    assert_eq!(index.iter().next(), None);
}

#[test]
fn a_hundred_thousand_appended_then_trimmed() {
    const N: u64 = 100_000;
    let mut index = OrderedIndex::new();
    for i in 0..N {
        assert_eq!(index.insert((i, 1, i), ()), (i as usize, None));
    }
    index.check_invariants().unwrap();
    // Older history arrives in front.
    for i in 0..1000 {
        assert_eq!(index.insert((i, 0, i), ()), (2 * i as usize, None));
    }
    index.check_invariants().unwrap();
    let last: Vec<u64> = index.iter_from(index.len() - 3).map(|(k, _)| k.0).collect();
    assert_eq!(last, [N - 3, N - 2, N - 1]);
    // Trim from the front, as a bounded cache would.
    while index.len() > 10 {
        let (k, _) = index.first().map(|(k, v)| (*k, *v)).unwrap();
        assert_eq!(index.remove(&k), Some((0, ())));
    }
    index.check_invariants().unwrap();
    assert_eq!(index.first().map(|(k, _)| k.0), Some(N - 10));
}

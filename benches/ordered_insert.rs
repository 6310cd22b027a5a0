//! `cargo bench --bench ordered_insert`: `chat::order::OrderedIndex` (a counted B+ tree)
//! beside the simple approach, a sorted `Vec` with binary search and `Vec::insert`, for
//! conversations of 1,000 / 10,000 / 100,000 messages. Mean ns per operation on an index
//! of n entries:
//!
//! * insert at a random position (history merged in, out-of-order delivery): the `Vec`
//!   moves n/2 entries, O(n); the tree O(log n);
//! * insert at the end (a new message): both cheap;
//! * rank of a present key (where is this message?): both O(log n).
//!
//! Keys are `(weight, sender, id)` as the store's, values `u64`. Each timed batch of
//! inserts is removed again, untimed, so n stays put. Without `--bench` (as
//! `cargo test --benches` runs it) only a quick pass at n = 1,000 runs.
#![allow(clippy::disallowed_methods)] // a benchmark owns real time

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use imcore::chat::order::OrderedIndex;
    use imcore::test_support::Rng;

    type Key = (u64, u64, u64);

    /// A random key below `u64::MAX / 2` in weight (room above for appends).
    fn random_key(rng: &mut Rng) -> Key {
        (rng.next() >> 2, rng.next() % 8, rng.next())
    }

    /// What both contenders do.
    trait Sorted {
        fn put(&mut self, k: Key, v: u64) -> usize;
        fn take(&mut self, k: &Key);
        fn find(&self, k: &Key) -> usize;
    }

    impl Sorted for OrderedIndex<Key, u64> {
        fn put(&mut self, k: Key, v: u64) -> usize {
            self.insert(k, v).0
        }
        fn take(&mut self, k: &Key) {
            self.remove(k);
        }
        fn find(&self, k: &Key) -> usize {
            self.rank(k).unwrap_or_else(|i| i)
        }
    }

    /// The baseline: a sorted `Vec`.
    #[derive(Default)]
    struct SortedVec(Vec<(Key, u64)>);

    impl Sorted for SortedVec {
        fn put(&mut self, k: Key, v: u64) -> usize {
            match self.0.binary_search_by(|e| e.0.cmp(&k)) {
                Ok(i) => {
                    if let Some(e) = self.0.get_mut(i) {
                        e.1 = v;
                    }
                    i
                }
                Err(i) => {
                    self.0.insert(i, (k, v));
                    i
                }
            }
        }
        fn take(&mut self, k: &Key) {
            if let Ok(i) = self.0.binary_search_by(|e| e.0.cmp(k)) {
                self.0.remove(i);
            }
        }
        fn find(&self, k: &Key) -> usize {
            self.0
                .binary_search_by(|e| e.0.cmp(k))
                .unwrap_or_else(|i| i)
        }
    }

    /// Mean ns per insert of `batch` (fresh keys from `fresh`), each batch removed again
    /// untimed, repeated until `budget` of timed work.
    fn inserts<S: Sorted>(s: &mut S, mut fresh: impl FnMut() -> Vec<Key>, budget: Duration) -> f64 {
        let (mut spent, mut ops) = (Duration::ZERO, 0u64);
        while spent < budget || ops == 0 {
            let keys = fresh();
            let start = Instant::now();
            for (i, k) in keys.iter().enumerate() {
                black_box(s.put(*k, i as u64));
            }
            spent += start.elapsed();
            ops += keys.len() as u64;
            for k in &keys {
                s.take(k);
            }
        }
        spent.as_nanos() as f64 / ops as f64
    }

    /// Mean ns per rank of a present key.
    fn ranks<S: Sorted>(s: &S, keys: &[Key], budget: Duration) -> f64 {
        let (mut spent, mut ops) = (Duration::ZERO, 0u64);
        while spent < budget || ops == 0 {
            let start = Instant::now();
            for k in keys {
                black_box(s.find(black_box(k)));
            }
            spent += start.elapsed();
            ops += keys.len() as u64;
        }
        spent.as_nanos() as f64 / ops as f64
    }

    struct Row {
        random: f64,
        end: f64,
        rank: f64,
    }

    fn measure<S: Sorted>(s: &mut S, base: &[Key], seed: u64, budget: Duration) -> Row {
        let batch = (base.len() / 10).clamp(1, 100);
        let mut rng = Rng(seed);
        let random = inserts(
            s,
            || (0..batch).map(|_| random_key(&mut rng)).collect(),
            budget,
        );
        let top = u64::MAX / 2;
        let end = inserts(
            s,
            || (1..=batch as u64).map(|i| (top + i, 0, 0)).collect(),
            budget,
        );
        let mut rng = Rng(seed ^ 1);
        let probes: Vec<Key> = (0..1000)
            .filter_map(|_| base.get((rng.next() % base.len() as u64) as usize).copied())
            .collect();
        let rank = ranks(s, &probes, budget);
        Row { random, end, rank }
    }

    pub fn main() {
        let args: Vec<String> = std::env::args().collect();
        if args.iter().any(|a| a == "--list") {
            return; // `cargo test --benches` asks for the list of benchmarks
        }
        let full = args.iter().any(|a| a == "--bench");
        let (sizes, budget): (&[usize], _) = if full {
            (&[1_000, 10_000, 100_000], Duration::from_millis(300))
        } else {
            (&[1_000], Duration::from_millis(5))
        };
        println!("ordered index: mean ns per operation on an index of n (key, u64) entries");
        println!(
            "{:>8} | {:>21} | {:>21} | {:>21}",
            "", "insert, random", "insert, at the end", "rank"
        );
        println!(
            "{:>8} | {:>10} {:>10} | {:>10} {:>10} | {:>10} {:>10}",
            "n", "OrderedIdx", "sorted Vec", "OrderedIdx", "sorted Vec", "OrderedIdx", "sorted Vec"
        );
        for &n in sizes {
            let mut rng = Rng(0x0bde_12ed ^ n as u64);
            let base: Vec<Key> = (0..n).map(|_| random_key(&mut rng)).collect();
            let mut tree = OrderedIndex::new();
            let mut vec = SortedVec::default();
            for (i, k) in base.iter().enumerate() {
                tree.insert(*k, i as u64);
                vec.put(*k, i as u64);
            }
            let ours = measure(&mut tree, &base, n as u64, budget);
            let theirs = measure(&mut vec, &base, n as u64, budget);
            assert_eq!(tree.len(), vec.0.len(), "both keep n entries");
            println!(
                "{:>8} | {:>10.0} {:>10.0} | {:>10.0} {:>10.0} | {:>10.0} {:>10.0}",
                n, ours.random, theirs.random, ours.end, theirs.end, ours.rank, theirs.rank
            );
        }
    }
}

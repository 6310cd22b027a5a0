//! `make bench`: the chat store under load.
//!
//! 1. Ingest 100,000 incoming messages over 1,000 conversations (arriving slightly out of
//!    order, as a reconnect backlog does), draining UI events and persist batches as the
//!    shell would: messages per second and peak heap.
//! 2. The cost of one more message in a conversation of 1k, 10k and 100k messages, at the
//!    end (the common case) and at a random position (a late or history message), beside
//!    the same insert into a sorted `Vec` (the plain approach, O(n) per insert): the store
//!    must grow as O(log n).
#![allow(clippy::disallowed_methods)] // a benchmark owns real time

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use imcore::chat::store::Store;
use imcore::chat::{ConversationId, Incoming, WireMessage};
use imcore::test_support::{text_message, ME, T0};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// Native only (the benchmark runs natively): on wasm32 the library sets its own global
// allocator (talc), and a crate graph has one.
#[cfg(not(target_arch = "wasm32"))]
use std::alloc::{GlobalAlloc, Layout, System};

/// Counts live heap bytes and their peak.
#[cfg(not(target_arch = "wasm32"))]
struct Counting;

#[cfg(not(target_arch = "wasm32"))]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// xorshift: deterministic inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn message(id: u64, peer: u64, weight: u64) -> WireMessage {
    let conversation = ConversationId::direct(ME, peer).unwrap_or(ConversationId::Room(peer));
    let text = format!("message number {id} from {peer}");
    text_message(id, conversation, peer, ME, text, weight)
}

fn drain(store: &mut Store) {
    while store.poll_event().is_some() {}
}

fn ingest() {
    const N: u64 = 100_000;
    const CONVERSATIONS: u64 = 1_000;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let backlog: Vec<WireMessage> = (0..N)
        .map(|i| {
            let peer = 2 + rng.next() % CONVERSATIONS;
            // Out of order by up to a second, as a backlog and live traffic interleave.
            let weight = T0 + i * 10 + rng.next() % 1_000;
            message(i + 1, peer, weight)
        })
        .collect();
    let heap_before = LIVE.load(Ordering::Relaxed);
    PEAK.store(heap_before, Ordering::Relaxed);
    let mut store = Store::new(ME);
    let start = Instant::now();
    for (i, m) in backlog.into_iter().enumerate() {
        store.apply(Incoming::Message(m), 0);
        drain(&mut store);
        if i % 1_000 == 999 {
            // The shell writes a batch per burst.
            let batch = store.take_persist();
            std::hint::black_box(&batch);
        }
    }
    let batch = store.take_persist();
    std::hint::black_box(&batch);
    let took = start.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(heap_before);
    let live = LIVE.load(Ordering::Relaxed).saturating_sub(heap_before);
    println!("ingest: {N} incoming messages over {CONVERSATIONS} conversations");
    println!(
        "  {:.0} messages/s ({:.1} ms), unread total {}, peak heap {:.1} MiB, resident after {:.1} MiB ({} B per message)",
        N as f64 / took.as_secs_f64(),
        took.as_secs_f64() * 1000.0,
        store.unread_total(),
        peak as f64 / 1048576.0,
        live as f64 / 1048576.0,
        live as u64 / N
    );
}

fn insert_cost() {
    println!("one more message into a conversation of n messages (mean of 2,000):");
    println!(
        "  {:>7}  {:>14}  {:>16}  {:>22}",
        "n", "store: at end", "store: random", "sorted Vec: random"
    );
    let peer = 2;
    for n in [1_000u64, 10_000, 100_000] {
        let mut rng = Rng(n);
        let mut store = Store::new(ME);
        let mut baseline: Vec<(u64, u64)> = Vec::with_capacity(n as usize + 4_000);
        for i in 0..n {
            store.apply(Incoming::Message(message(i + 1, peer, T0 + i * 10)), 0);
            baseline.push((T0 + i * 10, i + 1));
        }
        drain(&mut store);
        let _ = store.take_persist();
        // Freeing the build's batch leaves glibc consolidating for the next few allocations:
        // warm up before timing, so that cost is not charged to the store.
        for k in 0..200 {
            store.apply(
                Incoming::Message(message(20 * n + k, peer, T0 + k * 10 + 5)),
                0,
            );
            drain(&mut store);
        }
        const K: u64 = 2_000;
        let end_weight = T0 + n * 10;
        let start = Instant::now();
        for k in 0..K {
            store.apply(
                Incoming::Message(message(n + 1 + k, peer, end_weight + k)),
                0,
            );
            drain(&mut store);
        }
        let at_end = start.elapsed().as_nanos() as f64 / K as f64;
        let randoms: Vec<u64> = (0..K).map(|_| T0 + rng.next() % (n * 10) + 1).collect();
        let start = Instant::now();
        for (k, w) in randoms.iter().enumerate() {
            store.apply(Incoming::Message(message(10 * n + k as u64, peer, *w)), 0);
            drain(&mut store);
        }
        let random = start.elapsed().as_nanos() as f64 / K as f64;
        let start = Instant::now();
        for (k, w) in randoms.iter().enumerate() {
            let item = (*w, 10 * n + k as u64);
            let at = baseline.partition_point(|x| *x < item);
            baseline.insert(at, item);
        }
        let vec_random = start.elapsed().as_nanos() as f64 / K as f64;
        std::hint::black_box(&baseline);
        let _ = store.take_persist();
        println!(
            "  {:>7}  {:>11.0} ns  {:>13.0} ns  {:>19.0} ns",
            n, at_end, random, vec_random
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    ingest();
    insert_cost();
}

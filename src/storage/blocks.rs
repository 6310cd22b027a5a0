//! Messages grouped in blocks: the rules of the IndexedDB layout (`web::storage`), pure, so
//! they are tested natively.
//!
//! IndexedDB costs about the same per record whatever its size (a put, its index entries,
//! the IPC to the browser's database process): 10,000 messages as 10,000 records take a
//! second to write. Stored as blocks of up to [`BLOCK_MAX`] messages of one conversation,
//! the same backlog is some 160 records.
//!
//! * A conversation's blocks cover ascending, disjoint key ranges: a block holds the
//!   messages from its lowest key `lo` (its record key) up to the next block's. A message
//!   goes into the last block whose `lo` is not above its key; one below every block goes
//!   into the first, which then takes the message's key as its `lo`.
//! * A changed block is cut into pieces of [`BLOCK_MAX`], all full but the last (appending
//!   keeps filling the newest block); an emptied one goes. Neighbours are not merged.
//! * [`Directory`] is every block's `lo`, what an apply needs to know which blocks to read
//!   and rewrite. Finding a block needs no lookup by message id: a batch names the key a
//!   deleted or moved message was stored at ([`PersistBatch`]).
//! * Keys are strings whose order is [`MessageKey`]'s ([`order_key`]).

use crate::chat::store::{MessageKey, MessageRef, PersistBatch, StoredMessage};
use crate::chat::ConversationId;
use crate::collections::{Gather, VecMap};
use crate::json::write::push_padded;

/// The most messages a block holds.
pub const BLOCK_MAX: usize = 64;

/// Prefix of a server id in a sort key. `'s' < 't'`: every server id sorts before every
/// local id, as `MessageRef::Server(_) < MessageRef::Local(_)`.
const SERVER_PREFIX: char = 's';
/// Prefix of a local id in a sort key.
const LOCAL_PREFIX: char = 't';
/// Digits of [`fixed`].
pub const FIXED_DIGITS: usize = 20;

/// A `u64` as 20 zero-padded decimal digits: string order == numeric order, exact over the
/// whole range (a JS number is exact only up to 2^53).
pub fn fixed(n: u64) -> String {
    let mut s = String::with_capacity(FIXED_DIGITS);
    push_fixed(&mut s, n);
    s
}

/// `n` as [`fixed`] writes it, appended to `out`: `format!("{n:020}")` was 6 % of the wasm
/// time of a 10,000-message backlog's write (a block lists each message's server id so).
pub(crate) fn push_fixed(out: &mut String, n: u64) {
    push_padded(out, n, FIXED_DIGITS);
}

/// The sort key of a message id: `"s00000000000000000123"` or `"t{local id}"`. Local ids
/// compare as UTF-16 code units in IndexedDB and as UTF-8 bytes in Rust: the same order
/// unless one id has characters above U+FFFF and the other in U+E000..=U+FFFF (client-made
/// local ids are ASCII).
pub fn sort_key(id: &MessageRef) -> String {
    let mut s = String::with_capacity(1 + FIXED_DIGITS);
    push_sort_key(&mut s, id);
    s
}

/// [`sort_key`], appended to `out`.
fn push_sort_key(out: &mut String, id: &MessageRef) {
    match id {
        MessageRef::Server(n) => {
            out.push(SERVER_PREFIX);
            push_fixed(out, *n);
        }
        MessageRef::Local(s) => {
            out.push(LOCAL_PREFIX);
            out.push_str(s);
        }
    }
}

/// A key as one string of the same order: weight and sender as [`fixed`], then the
/// [`sort_key`].
pub fn order_key(k: &MessageKey) -> String {
    let mut s = String::with_capacity(3 * FIXED_DIGITS + 1);
    push_fixed(&mut s, k.weight);
    push_fixed(&mut s, k.sender_id);
    push_sort_key(&mut s, &k.id);
    s
}

/// [`order_key`] read back (`None`: not one).
pub fn parse_order_key(s: &str) -> Option<MessageKey> {
    let digits = |t: &str| {
        if t.len() == FIXED_DIGITS && t.bytes().all(|b| b.is_ascii_digit()) {
            t.parse::<u64>().ok()
        } else {
            None
        }
    };
    let weight = digits(s.get(..FIXED_DIGITS)?)?;
    let sender_id = digits(s.get(FIXED_DIGITS..2 * FIXED_DIGITS)?)?;
    let sort = s.get(2 * FIXED_DIGITS..)?;
    let id = if let Some(n) = sort.strip_prefix(SERVER_PREFIX) {
        MessageRef::Server(digits(n)?)
    } else {
        MessageRef::Local(sort.strip_prefix(LOCAL_PREFIX)?.to_string())
    };
    Some(MessageKey {
        weight,
        sender_id,
        id,
    })
}

/// The `lo` of every stored block, by conversation, ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    // VecMaps, not hash maps: this module is in every web build, and a map type of its
    // own would cost kilobytes of wasm.
    convs: VecMap<ConversationId, Vec<MessageKey>>,
}

impl Directory {
    /// Adds a stored block (loading the directory).
    pub fn insert(&mut self, conversation: ConversationId, lo: MessageKey) {
        if let Some(los) = self.convs.get_or_insert_with(conversation, Vec::new) {
            if let Err(at) = los.binary_search(&lo) {
                los.insert(at, lo);
            }
        }
    }

    fn remove(&mut self, conversation: ConversationId, lo: &MessageKey) {
        if let Some(los) = self.convs.get_mut(&conversation) {
            if let Ok(at) = los.binary_search(lo) {
                los.remove(at);
            }
        }
    }

    /// The blocks of a conversation, ascending.
    pub fn of(&self, conversation: ConversationId) -> &[MessageKey] {
        self.convs.get(&conversation).map_or(&[], Vec::as_slice)
    }

    /// The block a message of `key` goes into: the last whose `lo` is not above it, else
    /// the first (`None`: the conversation has none). An index into [`Directory::of`].
    fn home(&self, conversation: ConversationId, key: &MessageKey) -> Option<usize> {
        self.holder(conversation, key)
            .or_else(|| (!self.of(conversation).is_empty()).then_some(0))
    }

    /// The block that holds `key` if it is stored.
    fn holder(&self, conversation: ConversationId, key: &MessageKey) -> Option<usize> {
        self.of(conversation)
            .partition_point(|lo| lo <= key)
            .checked_sub(1)
    }

    fn lo(&self, (conversation, at): (ConversationId, usize)) -> Option<&MessageKey> {
        self.of(conversation).get(at)
    }
}

/// A block: messages of one conversation in key order, none below `lo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub conversation: ConversationId,
    pub lo: MessageKey,
    pub messages: Vec<StoredMessage>,
}

/// What applying a batch writes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BlockWrites {
    /// Blocks to delete, by `(conversation, lo)`; before the puts.
    pub delete: Vec<(ConversationId, MessageKey)>,
    pub put: Vec<Block>,
}

/// Where a deleted (`None`) or put message goes, and its key.
type Home<'a> = (
    (ConversationId, Option<usize>),
    Option<&'a StoredMessage>,
    &'a MessageKey,
);

/// The blocks of each deleted and put message: `(conversation, index into the
/// directory's list)`, `None` for a conversation without blocks.
fn homes<'a>(dir: &Directory, batch: &'a PersistBatch) -> Vec<Home<'a>> {
    let mut out = Vec::with_capacity(batch.delete_messages.len() + batch.put_messages.len());
    for (c, key) in batch.delete_messages.keys() {
        if let Some(at) = dir.holder(*c, key) {
            out.push(((*c, Some(at)), None, key));
        }
    }
    for m in batch.put_messages.values() {
        let c = m.conversation_id;
        out.push(((c, dir.home(c, &m.key)), Some(m), &m.key));
    }
    out
}

/// A block being changed: its messages and the `lo` it is stored under (`None`: new).
#[derive(Default)]
struct Work {
    stored_lo: Option<MessageKey>,
    messages: Vec<StoredMessage>,
}

/// The blocks `homes` go to, by conversation, then by place in the directory (`None`: a
/// conversation without blocks, whose messages start new ones), each with its stored `lo`
/// and no messages yet.
fn plan(dir: &Directory, homes: &[Home<'_>]) -> VecMap<(ConversationId, Option<usize>), Work> {
    let mut work = VecMap::new();
    for &((c, at), _, _) in homes {
        work.get_or_insert_with((c, at), || Work {
            stored_lo: at.and_then(|at| dir.lo((c, at))).cloned(),
            messages: Vec::new(),
        });
    }
    work
}

/// The stored blocks `batch` changes, to read before [`write`], in the order it takes
/// them back.
pub fn touched(dir: &Directory, batch: &PersistBatch) -> Vec<(ConversationId, MessageKey)> {
    let work = plan(dir, &homes(dir, batch));
    let stored = work.keys().zip(work.values());
    stored
        .filter_map(|((c, _), w)| w.stored_lo.clone().map(|lo| (*c, lo)))
        .gather()
}

/// Applies `batch`'s messages to the blocks [`touched`] named, whose messages `read` holds
/// in that order (a block missing from storage is empty), and `dir` with it: the blocks to
/// delete and to put.
pub fn write(
    dir: &mut Directory,
    batch: &PersistBatch,
    read: Vec<Vec<StoredMessage>>,
) -> BlockWrites {
    let homes = homes(dir, batch);
    let mut work = plan(dir, &homes);
    let mut read = read.into_iter();
    for w in work.values_mut() {
        if w.stored_lo.is_some() {
            w.messages = read.next().unwrap_or_default();
        }
    }
    for (at, put, key) in homes {
        let Some(w) = work.get_mut(&at) else {
            continue;
        };
        match (w.messages.binary_search_by(|m| m.key.cmp(key)), put) {
            (Ok(i), Some(m)) => {
                if let Some(slot) = w.messages.get_mut(i) {
                    *slot = m.clone();
                }
            }
            (Err(i), Some(m)) => w.messages.insert(i, m.clone()),
            (Ok(i), None) => {
                w.messages.remove(i);
            }
            (Err(_), None) => {}
        }
    }

    let mut out = BlockWrites::default();
    for ((c, _), w) in work {
        let first_key = w.messages.first().map(|m| m.key.clone());
        // The lo it keeps: its own unless a message went below it (then the lowest key).
        let lo = match (&w.stored_lo, first_key) {
            (Some(lo), Some(first)) if first < *lo => Some(first),
            (Some(lo), _) => Some(lo.clone()),
            (None, first) => first,
        };
        if let Some(old) = w.stored_lo {
            if w.messages.is_empty() || lo.as_ref() != Some(&old) {
                out.delete.push((c, old));
            }
        }
        let Some(lo) = lo.filter(|_| !w.messages.is_empty()) else {
            continue;
        };
        // Taken from the front piece by piece (`split_off` would copy the rest each time).
        let mut rest = w.messages.into_iter();
        for i in 0.. {
            let piece: Vec<StoredMessage> = rest.by_ref().take(BLOCK_MAX).gather();
            let piece_lo = match (i, piece.first()) {
                (_, None) => break,
                (0, _) => lo.clone(),
                (_, Some(m)) => m.key.clone(),
            };
            out.put.push(Block {
                conversation: c,
                lo: piece_lo,
                messages: piece,
            });
        }
    }
    // The directory changes once every block is planned (the plan used its indexes).
    for (c, lo) in &out.delete {
        dir.remove(*c, lo);
    }
    for b in &out.put {
        dir.insert(b.conversation, b.lo.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;
    use crate::storage::conformance::message;
    use crate::test_support::{direct, Rng};

    fn key(weight: u64, id: u64) -> MessageKey {
        MessageKey {
            weight,
            sender_id: 2,
            id: MessageRef::Server(id),
        }
    }

    /// `fixed` is `format!("{:020}")` around every border of its eight-digit chunks.
    #[test]
    fn fixed_is_zero_padded_display() {
        let mut values = vec![0, 1, u64::MAX, 123_456_789_012_345];
        for k in 0..20 {
            for d in -2..3 {
                values.push(10u64.pow(k).saturating_add_signed(d));
            }
        }
        for v in values {
            assert_eq!(fixed(v), format!("{v:020}"));
            let mut out = String::from("x");
            push_fixed(&mut out, v);
            assert_eq!(out, format!("x{v:020}"));
        }
    }

    /// Stored keys: these strings must stay what every version wrote.
    #[test]
    fn sort_and_order_keys_are_these_strings() {
        assert_eq!(sort_key(&MessageRef::Server(123)), "s00000000000000000123");
        assert_eq!(sort_key(&MessageRef::Local("l1".into())), "tl1");
        assert_eq!(
            order_key(&key(1_717_214_400_000, u64::MAX)),
            concat!(
                "00000001717214400000",  // weight
                "00000000000000000002",  // sender
                "s18446744073709551615", // server id
            )
        );
    }

    #[test]
    fn order_keys_sort_like_message_keys_and_read_back() {
        let keys = [
            key(0, 0),
            key(1, u64::MAX),
            MessageKey {
                weight: 1,
                sender_id: 2,
                id: MessageRef::Local("a|b".into()),
            },
            key(u64::MAX, 0),
        ];
        for w in keys.windows(2) {
            if let [a, b] = w {
                assert!(a < b);
                assert!(order_key(a) < order_key(b));
            }
        }
        for k in &keys {
            assert_eq!(parse_order_key(&order_key(k)).as_ref(), Some(k));
        }
        assert_eq!(parse_order_key("12"), None);
        assert_eq!(parse_order_key(&"x".repeat(41)), None);
    }

    /// Blocks as a backend holds them, beside the messages they must add up to.
    #[derive(Default)]
    struct Sim {
        dir: Directory,
        blocks: HashMap<(ConversationId, MessageKey), Vec<StoredMessage>>,
        model: BTreeMap<(ConversationId, MessageRef), StoredMessage>,
        writes: usize,
    }

    impl Sim {
        fn apply(&mut self, batch: &PersistBatch) {
            let read = touched(&self.dir, batch)
                .into_iter()
                .map(|k| self.blocks.get(&k).cloned().unwrap_or_default())
                .collect();
            let w = write(&mut self.dir, batch, read);
            self.writes += w.put.len();
            for d in w.delete {
                self.blocks.remove(&d);
            }
            for b in w.put {
                self.blocks.insert((b.conversation, b.lo), b.messages);
            }
            for (c, k) in batch.delete_messages.keys() {
                self.model.remove(&(*c, k.id.clone()));
            }
            for m in batch.put_messages.values() {
                self.model
                    .insert((m.conversation_id, m.key.id.clone()), m.clone());
            }
        }

        /// Every block within its range, full but the last of a run of appends, and all of
        /// them together the model.
        fn check(&self, convs: &[ConversationId]) {
            let mut listed = 0;
            for c in convs {
                let los = self.dir.of(*c);
                listed += los.len();
                let mut all: Vec<StoredMessage> = Vec::new();
                for (i, lo) in los.iter().enumerate() {
                    let block = self
                        .blocks
                        .get(&(*c, lo.clone()))
                        .expect("listed block stored");
                    assert!(!block.is_empty() && block.len() <= BLOCK_MAX);
                    let first = &block.first().expect("not empty").key;
                    assert!(first >= lo);
                    if let Some(next) = los.get(i + 1) {
                        assert!(block.iter().all(|m| m.key < *next));
                    }
                    all.extend(block.iter().cloned());
                }
                assert!(all.windows(2).all(|w| w[0].key < w[1].key));
                let mut expected: Vec<StoredMessage> = self
                    .model
                    .values()
                    .filter(|m| m.conversation_id == *c)
                    .cloned()
                    .collect();
                expected.sort_by(|a, b| a.key.cmp(&b.key));
                assert_eq!(all, expected);
            }
            assert_eq!(listed, self.blocks.len(), "every stored block is listed");
        }
    }

    /// Batches as the store makes them (each change applied to its view at once, so a
    /// message is moved or deleted at the key it has by then), merged as the write queue
    /// merges a burst, then written: the blocks end up as the view.
    #[test]
    fn merged_batches_keep_the_blocks_exact() {
        let convs = [direct(2), direct(3)];
        for seed in 1..=100u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut sim = Sim::default();
            let mut view: BTreeMap<(ConversationId, MessageRef), StoredMessage> = BTreeMap::new();
            let mut next_id = 0;
            for _ in 0..20 {
                let mut merged = PersistBatch::default();
                for _ in 0..rng.below(6) + 1 {
                    let mut batch = PersistBatch::default();
                    for _ in 0..rng.below(8) + 1 {
                        let c = convs[rng.below(2) as usize];
                        let held = pick(&mut rng, view.values(), c);
                        match (rng.below(6), held) {
                            (0, Some(mut m)) => {
                                m.status = crate::chat::store::Status::Failed;
                                batch.put_message(&m);
                                view.insert((c, m.key.id.clone()), m);
                            }
                            (1, Some(mut m)) => {
                                batch.delete_message(c, m.key.clone());
                                m.key.weight = rng.below(300);
                                batch.put_message(&m);
                                view.insert((c, m.key.id.clone()), m);
                            }
                            (2, Some(m)) => {
                                view.remove(&(c, m.key.id.clone()));
                                batch.delete_message(c, m.key);
                            }
                            _ => {
                                next_id += 1;
                                let m = message(c, next_id, 2, rng.below(300));
                                batch.put_message(&m);
                                view.insert((c, m.key.id.clone()), m);
                            }
                        }
                    }
                    merged.merge(batch);
                }
                sim.apply(&merged);
                sim.model = view.clone();
                sim.check(&convs);
            }
        }
    }

    /// One of the messages of `c` in `held` (`None`: it has none), chosen by `rng`.
    fn pick<'a>(
        rng: &mut Rng,
        held: impl Iterator<Item = &'a StoredMessage>,
        c: ConversationId,
    ) -> Option<StoredMessage> {
        let of_c: Vec<&StoredMessage> = held.filter(|m| m.conversation_id == c).collect();
        (!of_c.is_empty()).then(|| of_c[rng.below(of_c.len() as u64) as usize].clone())
    }

    #[test]
    fn a_backlog_fills_blocks_in_order() {
        let c = direct(2);
        let mut sim = Sim::default();
        let mut n = 0;
        for _ in 0..10 {
            let mut batch = PersistBatch::default();
            for _ in 0..30 {
                n += 1;
                batch.put_message(&message(c, n, 2, 1_000 + n));
            }
            sim.apply(&batch);
            sim.check(&[c]);
        }
        // 300 messages: four full blocks and the newest with the rest.
        let sizes: Vec<usize> = sim
            .dir
            .of(c)
            .iter()
            .map(|lo| sim.blocks[&(c, lo.clone())].len())
            .collect();
        assert_eq!(sizes, vec![64, 64, 64, 64, 44]);
    }

    #[test]
    fn random_puts_moves_and_deletes_keep_the_blocks_exact() {
        let convs = [direct(2), direct(3), direct(4)];
        for seed in 1..=25u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut sim = Sim::default();
            let mut next_id = 0;
            for _ in 0..40 {
                let mut batch = PersistBatch::default();
                for _ in 0..rng.below(80) + 1 {
                    let c = convs[rng.below(3) as usize];
                    let held = pick(&mut rng, sim.model.values(), c);
                    match (rng.below(10), held) {
                        // An update at the same key.
                        (0, Some(mut m)) => {
                            m.status = crate::chat::store::Status::Failed;
                            batch.put_message(&m);
                        }
                        // A move: the same message at another weight.
                        (1, Some(mut m)) => {
                            batch.delete_message(c, m.key.clone());
                            m.key.weight = rng.below(5_000);
                            batch.put_message(&m);
                        }
                        (2, Some(m)) => batch.delete_message(c, m.key.clone()),
                        // New: mostly newer than all, sometimes older.
                        (r, _) => {
                            next_id += 1;
                            let weight = if r == 3 {
                                rng.below(2_000)
                            } else {
                                2_000 + next_id * 3
                            };
                            batch.put_message(&message(c, next_id, 2 + rng.below(3), weight));
                        }
                    }
                }
                sim.apply(&batch);
                sim.check(&convs);
            }
        }
    }
}

use std::cell::Cell;

use proptest::prelude::*;

use super::*;
use crate::chat::store::{MessageRef, PersistBatch};
use crate::chat::Content;
use crate::storage::conformance::{self, message, put_all, record};
use crate::storage::{meta, MemoryStorage};
use crate::test_support::{block_on, direct, T0};

/// A message with about `len` bytes of text.
fn sized(c: ConversationId, n: u64, weight: u64, len: usize) -> StoredMessage {
    let mut m = message(c, n, 2, weight);
    m.content = Some(
        Content::Text {
            text: "x".repeat(len),
        }
        .into(),
    );
    m
}

fn all(s: &impl Storage, c: ConversationId) -> Vec<StoredMessage> {
    block_on(s.messages(c, Page::Newest, usize::MAX)).unwrap()
}

/// Conversation records, an outbox entry, a tombstone and a meta entry.
fn records_batch(convs: &[ConversationId]) -> StorageBatch {
    let mut b = PersistBatch::default();
    for (i, c) in convs.iter().enumerate() {
        b.put_conversations.insert(*c, record(*c, i as u32));
    }
    b.put_outbox.insert(
        "out-1".into(),
        OutboxEntry {
            local_id: "out-1".into(),
            conversation_id: direct(2),
            receiver_id: 2,
            content: Content::Text { text: "hi".into() },
            weight: T0,
        },
    );
    b.put_tombstones.insert(424242, Tombstone::Revoked);
    let mut b: StorageBatch = b.into();
    b.put_meta.push((meta::LAST_SYNC.into(), "123".into()));
    b
}

fn records_of(s: &impl Storage) -> (Vec<ConversationRecord>, Vec<OutboxEntry>, String) {
    let tombs = block_on(s.tombstones()).unwrap();
    let meta = block_on(s.meta(meta::LAST_SYNC)).unwrap();
    (
        block_on(s.conversations()).unwrap(),
        block_on(s.outbox()).unwrap(),
        format!("{tombs:?} {meta:?}"),
    )
}

#[test]
fn passes_the_conformance_suite() {
    let kv = MemoryKv::default();
    block_on(conformance::run_all(&KvStorage::new(&kv, 1))).unwrap();
    // Wiped at the end: nothing of user 1 is left.
    assert!(kv.key_list().iter().all(|k| !k.starts_with("imcore:1:")));
}

#[test]
fn passes_the_conformance_suite_with_small_chunks() {
    // 8 KB per key: the 500-message walk crosses a dozen chunks.
    let kv = MemoryKv::new(8192, 1_000_000);
    let s = KvStorage::new(&kv, 1);
    block_on(conformance::run_all(&s)).unwrap();
    assert_eq!(s.trimmed_chunks(), 0);
}

#[test]
fn thousands_of_messages_stay_within_small_limits() {
    let kv = MemoryKv::new(4096, 40_960);
    let s = KvStorage::new(&kv, 1);
    let convs = [direct(2), direct(3), ConversationId::Room(7)];
    block_on(s.apply(records_batch(&convs))).unwrap();
    let before = records_of(&s);
    let mut sent: Vec<Vec<StoredMessage>> = vec![Vec::new(); 3];
    let mut n = 0;
    for round in 0..400u64 {
        // Batches of 1 to 12 messages, spread over the conversations.
        let mut batch = Vec::new();
        for _ in 0..(round % 12 + 1) {
            n += 1;
            let i = (n % 5 % 3) as usize;
            let m = sized(convs[i], n, T0 + n, 60 + (n % 7) as usize * 20);
            sent[i].push(m.clone());
            batch.push(m);
        }
        block_on(s.apply(put_all(&batch))).unwrap();
        assert!(kv.total_bytes() <= 40_960);
    }
    assert!(n > 2000, "{n} messages");
    assert!(kv.largest() <= 4096);
    assert!(s.trimmed_chunks() > 0);
    assert_eq!(records_of(&s), before, "records survive trimming");
    let mut kept = Vec::new();
    for (c, sent) in convs.iter().zip(&sent) {
        let got = all(&s, *c);
        // What is left is the newest part of each conversation, at least a page of it.
        assert!(got.len() >= 10 && got.len() < sent.len(), "{}", got.len());
        assert_eq!(got, sent[sent.len() - got.len()..]);
        let newest = block_on(s.messages(*c, Page::Newest, 5)).unwrap();
        assert_eq!(newest, sent[sent.len() - 5..]);
        kept.push(got);
    }

    // A restart reads the same, and a newest page reads a chunk or two.
    let fresh = KvStorage::new(&kv, 1);
    assert_eq!(records_of(&fresh), before);
    let gets = kv.gets();
    let page = block_on(fresh.messages(convs[0], Page::Newest, 10)).unwrap();
    let after_load = kv.gets() - gets;
    assert_eq!(page, kept[0][kept[0].len() - 10..]);
    let gets = kv.gets();
    block_on(fresh.messages(convs[1], Page::Newest, 10)).unwrap();
    assert!(
        kv.gets() - gets <= 2,
        "{} gets for a page",
        kv.gets() - gets
    );
    assert!(after_load <= 2 + 4 + 2, "load + page: {after_load} gets");
    for (c, kept) in convs.iter().zip(&kept) {
        assert_eq!(&all(&fresh, *c), kept);
    }
    // A new message's server id reads no chunk.
    let gets = kv.gets();
    assert!(block_on(fresh.message_by_server_id(10_000_000))
        .unwrap()
        .is_none());
    assert_eq!(kv.gets(), gets);
}

#[test]
fn wipe_removes_only_this_user() {
    let kv = MemoryKv::default();
    kv.insert("app:settings", "{}");
    let one = KvStorage::new(&kv, 1);
    let twelve = KvStorage::new(&kv, 12);
    let c = direct(2);
    for s in [&one, &twelve] {
        block_on(s.apply(records_batch(&[c]))).unwrap();
        block_on(s.apply(put_all(&[message(c, 1, 2, T0)]))).unwrap();
    }
    block_on(one.wipe()).unwrap();
    assert!(all(&one, c).is_empty());
    assert!(block_on(one.conversations()).unwrap().is_empty());
    let keys = kv.key_list();
    assert!(keys.iter().all(|k| !k.starts_with("imcore:1:")), "{keys:?}");
    assert!(keys.contains(&"app:settings".to_string()));
    let twelve = KvStorage::new(&kv, 12);
    assert_eq!(all(&twelve, c).len(), 1);
    assert_eq!(block_on(twelve.conversations()).unwrap().len(), 1);
}

#[test]
fn a_batch_that_cannot_fit_fails_and_writes_nothing() {
    let kv = MemoryKv::new(4096, 8192);
    let s = KvStorage::new(&kv, 1);
    block_on(s.apply(records_batch(&[direct(2)]))).unwrap();
    block_on(s.apply(put_all(&[message(direct(2), 1, 2, T0)]))).unwrap();
    let keys = kv.key_list();
    let before = records_of(&s);
    let many: Vec<ConversationId> = (10..200).map(direct).collect();
    let err = block_on(s.apply(records_batch(&many))).unwrap_err();
    assert!(matches!(err, StorageError::QuotaExceeded(_)), "{err}");
    // Planned, found too large, not written: all as before.
    assert_eq!(records_of(&s), before);
    let fresh = KvStorage::new(&kv, 1);
    assert_eq!(records_of(&fresh), before);
    assert_eq!(all(&fresh, direct(2)).len(), 1);
    assert_eq!(kv.key_list(), keys);
    // A message above the per-key limit cannot be stored either.
    let err = block_on(s.apply(put_all(&[sized(direct(2), 2, T0, 5000)]))).unwrap_err();
    assert!(matches!(err, StorageError::QuotaExceeded(_)), "{err}");
}

#[test]
fn other_data_in_the_store_lowers_the_budget() {
    // The backend says 40 KB, but another app's 16 KB are in it too.
    let kv = MemoryKv::new(4096, 40_960);
    kv.insert("other", &"y".repeat(16_000));
    let s = KvStorage::new(&kv, 1);
    let c = direct(2);
    for n in 0..600 {
        block_on(s.apply(put_all(&[sized(c, n, T0 + n, 100)]))).unwrap();
    }
    assert!(s.trimmed_chunks() > 0);
    let got = all(&s, c);
    assert_eq!(got.last().map(|m| m.key.weight), Some(T0 + 599));
    assert_eq!(all(&KvStorage::new(&kv, 1), c), got);
}

/// Dies (every later call fails) after `writes` successful sets and removes: a crash.
struct Crashing<'a> {
    kv: &'a MemoryKv,
    writes: Cell<usize>,
}

impl Crashing<'_> {
    fn write(&self) -> Result<(), StorageError> {
        match self.writes.get() {
            0 => Err(StorageError::Closed),
            n => {
                self.writes.set(n - 1);
                Ok(())
            }
        }
    }
}

impl KvBackend for Crashing<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.kv.get(key).await
    }
    async fn set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.write()?;
        self.kv.set(key, value).await
    }
    async fn remove(&self, key: &str) -> Result<(), StorageError> {
        self.write()?;
        self.kv.remove(key).await
    }
    async fn keys(&self) -> Result<Vec<String>, StorageError> {
        self.kv.keys().await
    }
    fn max_value_bytes(&self) -> usize {
        self.kv.max_value_bytes()
    }
    fn max_total_bytes(&self) -> usize {
        self.kv.max_total_bytes()
    }
}

#[test]
fn a_crash_at_any_point_of_an_apply_leaves_the_old_or_the_new_state() {
    crash_at_every_point(1_000_000);
}

#[test]
fn a_crash_while_trimming_leaves_the_old_state_less_its_oldest_chunks_or_the_new_one() {
    crash_at_every_point(30_000);
}

/// Crashes an apply after each of its writes in turn (`total`: the budget; a small one
/// makes the apply trim).
fn crash_at_every_point(total: usize) {
    let convs = [direct(2), direct(3)];
    let first: Vec<StoredMessage> = (0..80)
        .map(|n| sized(convs[(n % 2) as usize], n, T0 + n, 50))
        .collect();
    // The second batch adds, replaces, moves and deletes messages and changes records.
    let mut second = put_all(
        &(60..140)
            .map(|n| sized(convs[(n % 2) as usize], n, T0 + n * 3 % 200, 80))
            .collect::<Vec<_>>(),
    );
    for n in [1, 2, 3, 10, 11] {
        // Deleted at the key `first` stored them at.
        let m = &first[n];
        second
            .store
            .delete_messages
            .insert((m.conversation_id, m.key.clone()), ());
    }
    second.merge(records_batch(&convs));
    let snapshot = |s: &KvStorage<&MemoryKv>| {
        (
            records_of(s),
            convs.iter().map(|c| all(s, *c)).collect::<Vec<_>>(),
        )
    };
    let setup = || {
        let kv = MemoryKv::new(4096, total);
        let s = KvStorage::new(&kv, 1);
        block_on(s.apply(put_all(&first))).unwrap();
        assert_eq!(s.trimmed_chunks(), 0);
        kv
    };
    let run = |kv: &MemoryKv, writes: usize| {
        let crashing = Crashing {
            kv,
            writes: Cell::new(usize::MAX),
        };
        let s = KvStorage::new(&crashing, 1);
        block_on(s.messages(convs[0], Page::Newest, 1)).unwrap(); // loaded
        crashing.writes.set(writes);
        let result = block_on(s.apply(second.clone()));
        result.map(|()| s.trimmed_chunks())
    };
    let kv = setup();
    let old = snapshot(&KvStorage::new(&kv, 1));
    let sets = kv.sets();
    let trimmed = run(&kv, usize::MAX).unwrap();
    assert_eq!(trimmed > 0, total < 1_000_000);
    let new = snapshot(&KvStorage::new(&kv, 1));
    assert!(old != new);
    let commit = kv.sets() - sets; // the root is the last set
    let mut outcomes = (0, 0);
    for crash_after in 0..commit + 20 {
        let kv = setup();
        let result = run(&kv, crash_after);
        let restarted = KvStorage::new(&kv, 1);
        let state = snapshot(&restarted);
        if crash_after < commit {
            assert!(result.is_err());
            // Exactly the old state, except for chunks the batch trimmed first.
            let (records, messages) = &state;
            assert!(*records == old.0);
            for (got, old) in messages.iter().zip(&old.1) {
                assert!(old.ends_with(got), "crash after {crash_after} writes");
                assert!(total < 1_000_000 || got == old, "crash after {crash_after}");
            }
            outcomes.0 += 1;
        } else {
            // Committed; a crash while removing the superseded keys changes nothing.
            assert!(result.is_ok());
            assert!(
                state == new,
                "crash after {crash_after} writes: not the new state"
            );
            outcomes.1 += 1;
        }
        // The garbage of the crashed write is gone after the load.
        let live = 1 + restarted
            .state
            .borrow()
            .as_ref()
            .unwrap()
            .root
            .ids()
            .count();
        assert_eq!(kv.key_list().len(), live);
    }
    assert!(outcomes.0 > 2 && outcomes.1 > 2, "{outcomes:?}");
}

#[derive(Debug, Clone)]
enum Op {
    Put {
        conv: u8,
        n: u16,
        weight: u16,
        len: u16,
        local: bool,
    },
    Delete {
        conv: u8,
        n: u16,
        local: bool,
    },
    Conversation(u8, bool),
    Outbox(u8, bool),
    Tombstone(u16),
    Meta(u8, u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3u8, 0..60u16, 0..200u16, 0..500u16, prop::bool::weighted(0.2)).prop_map(
            |(conv, n, weight, len, local)| Op::Put { conv, n, weight, len, local }
        ),
        2 => (0..3u8, 0..60u16, prop::bool::weighted(0.2))
            .prop_map(|(conv, n, local)| Op::Delete { conv, n, local }),
        1 => (0..3u8, any::<bool>()).prop_map(|(c, put)| Op::Conversation(c, put)),
        1 => (0..5u8, any::<bool>()).prop_map(|(c, put)| Op::Outbox(c, put)),
        1 => (0..500u16).prop_map(Op::Tombstone),
        1 => (0..3u8, any::<u16>()).prop_map(|(k, v)| Op::Meta(k, v)),
    ]
}

fn conv(i: u8) -> ConversationId {
    direct(2 + u64::from(i))
}

fn id(conv: u8, n: u16, local: bool) -> MessageRef {
    match local {
        true => MessageRef::Local(format!("L{conv}-{n}")),
        false => MessageRef::Server(u64::from(conv) * 1000 + u64::from(n)),
    }
}

fn to_batch(ops: &[Op]) -> StorageBatch {
    let mut b = PersistBatch::default();
    let mut meta = Vec::new();
    for op in ops {
        match op.clone() {
            Op::Put {
                conv: ci,
                n,
                weight,
                len,
                local,
            } => {
                let mut m = sized(conv(ci), 0, T0 + u64::from(weight), usize::from(len));
                m.key.id = id(ci, n, local);
                m.local_id = local.then(|| format!("L{ci}-{n}"));
                b.put_message(&m);
            }
            Op::Delete { conv: ci, n, local } => {
                // Both backends here delete by reference: the key's weight and sender need
                // not be those the message is stored at (nor need it be stored at all).
                let key = MessageKey {
                    weight: T0,
                    sender_id: 2,
                    id: id(ci, n, local),
                };
                b.delete_message(conv(ci), key);
            }
            Op::Conversation(c, true) => {
                b.put_conversations.insert(conv(c), record(conv(c), 1));
            }
            Op::Conversation(c, false) => {
                b.put_conversations.remove(&conv(c));
                b.delete_conversations.insert(conv(c), ());
            }
            Op::Outbox(k, put) => {
                let local_id = format!("o{k}");
                match put {
                    true => b.put_outbox(OutboxEntry {
                        local_id,
                        conversation_id: conv(0),
                        receiver_id: 2,
                        content: Content::Text { text: "t".into() },
                        weight: T0 + u64::from(k),
                    }),
                    false => b.delete_outbox(&local_id),
                }
            }
            Op::Tombstone(n) => {
                b.put_tombstones.insert(u64::from(n), Tombstone::Deleted);
            }
            Op::Meta(k, v) => meta.push((format!("k{k}"), v.to_string())),
        }
    }
    let mut batch: StorageBatch = b.into();
    for (k, v) in meta {
        batch.merge(StorageBatch {
            store: PersistBatch::default(),
            put_meta: vec![(k, v)],
        });
    }
    batch
}

fn full_records(s: &impl Storage) -> String {
    let meta: Vec<_> = (0..3)
        .map(|k| block_on(s.meta(&format!("k{k}"))).unwrap())
        .collect();
    let mut conversations = block_on(s.conversations()).unwrap();
    conversations.sort_by_key(|c| c.id);
    let mut tombstones = block_on(s.tombstones()).unwrap();
    tombstones.sort_by_key(|t| t.0);
    format!(
        "{conversations:?} {:?} {tombstones:?} {meta:?}",
        block_on(s.outbox()).unwrap(),
    )
}

/// The key-value storage against the memory one: the same records; the same messages
/// (a subset once chunks were trimmed), with consistent pages and lookups.
fn check_against_model(
    s: &KvStorage<&MemoryKv>,
    model: &MemoryStorage,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(full_records(s), full_records(model));
    for c in 0..3 {
        let c = conv(c);
        let got = all(s, c);
        let want = all(model, c);
        prop_assert!(got.windows(2).all(|w| w[0].key < w[1].key));
        if s.trimmed_chunks() == 0 {
            prop_assert_eq!(&got, &want);
        } else {
            prop_assert!(got.iter().all(|m| want.contains(m)));
        }
        let newest = block_on(s.messages(c, Page::Newest, 4)).unwrap();
        prop_assert_eq!(&newest[..], &got[got.len().saturating_sub(4)..]);
        for (i, m) in got.iter().enumerate() {
            let before = block_on(s.messages(c, Page::Before(m.key.clone()), 3)).unwrap();
            prop_assert_eq!(&before[..], &got[i.saturating_sub(3)..i]);
            let after = block_on(s.messages(c, Page::After(m.key.clone()), 3)).unwrap();
            prop_assert_eq!(&after[..], &got[i + 1..(i + 4).min(got.len())]);
        }
        for m in &want {
            let found = match m.server_id() {
                Some(sid) => block_on(s.message_by_server_id(sid)).unwrap(),
                None => block_on(s.message_by_local_id(m.local_id.as_deref().unwrap())).unwrap(),
            };
            prop_assert_eq!(found.as_ref(), got.iter().find(|g| g.key.id == m.key.id));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_batches_stay_within_the_limits_and_agree_with_memory(
        batches in prop::collection::vec(prop::collection::vec(op(), 1..10), 1..25),
        small in any::<bool>(),
    ) {
        let (per_key, total) = if small { (1024, 12_000) } else { (8192, 1_000_000) };
        let kv = MemoryKv::new(per_key, total);
        let s = KvStorage::new(&kv, 1);
        let model = MemoryStorage::new();
        for ops in &batches {
            let batch = to_batch(ops);
            block_on(model.apply(batch.clone())).unwrap();
            block_on(s.apply(batch)).unwrap();
            prop_assert!(kv.total_bytes() <= total && kv.largest() <= per_key);
            check_against_model(&s, &model)?;
        }
        if !small {
            prop_assert_eq!(s.trimmed_chunks(), 0);
        }
        let restarted = KvStorage::new(&kv, 1);
        prop_assert_eq!(full_records(&restarted), full_records(&s));
        for c in 0..3 {
            prop_assert_eq!(all(&restarted, conv(c)), all(&s, conv(c)));
        }
    }
}

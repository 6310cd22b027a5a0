//! The IndexedDB backend and the shell's write path on real IndexedDB in headless Chromium.
//!
//! ```text
//! CHROMEDRIVER=/usr/bin/chromedriver \
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//! cargo test --target wasm32-unknown-unknown --test web_storage -- --nocapture
//! ```
//!
//! Each test uses its own user id (its own database) and deletes it at the end; timings
//! are printed with `console_log!` (shown with `--nocapture`).
#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;

use imcore::chat::store::{
    ConversationRecord, MessageKey, MessageRef, Newest, OutboxEntry, PersistBatch, Status, Store,
    StoredMessage, Tombstone,
};
use imcore::chat::{Content, ConversationId, Incoming, WireMessage};
use imcore::storage::conformance::{self, message, put_all, record};
use imcore::storage::{
    meta, startup, KvStorage, MemoryStorage, Page, Storage, StorageBatch, StorageError,
};
use imcore::test_support::{direct, text_message, ME, T0};
use imcore::web::storage::{database_name, AnyStorage, IndexedDbStorage, JsKv, SchemaVersion};
use imcore::web::Persister;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::IdbTransactionMode;

wasm_bindgen_test_configure!(run_in_browser);

// ---- helpers ----------------------------------------------------------------------------------

/// `performance.now()`.
fn now() -> f64 {
    let perf = Reflect::get(&js_sys::global(), &"performance".into()).expect("performance");
    let f: Function = Reflect::get(&perf, &"now".into())
        .expect("performance.now")
        .unchecked_into();
    f.call0(&perf).ok().and_then(|v| v.as_f64()).unwrap_or(0.0)
}

/// Lets the event loop run (a `setTimeout(…, ms)` task).
async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .expect("setTimeout");
    });
    JsFuture::from(p).await.expect("sleep");
}

/// A fresh database for `user`: whatever an earlier run left is deleted first.
async fn fresh(user: u64) -> IndexedDbStorage {
    IndexedDbStorage::delete_database(user)
        .await
        .expect("delete leftovers");
    IndexedDbStorage::open(user).await.expect("open")
}

/// A fresh database for `user` at an old schema `version`, for the upgrade tests.
async fn fresh_at(user: u64, version: SchemaVersion) -> IndexedDbStorage {
    IndexedDbStorage::delete_database(user)
        .await
        .expect("clean");
    IndexedDbStorage::open_version(user, version)
        .await
        .expect("open an old version")
}

async fn fresh_v1(user: u64) -> IndexedDbStorage {
    fresh_at(user, SchemaVersion::V1).await
}

async fn drop_db(s: IndexedDbStorage, user: u64) {
    s.close();
    IndexedDbStorage::delete_database(user)
        .await
        .expect("delete database");
}

fn outbox_entry(n: u64, c: ConversationId) -> OutboxEntry {
    OutboxEntry {
        local_id: format!("L-{n}"),
        conversation_id: c,
        receiver_id: c.peer_of(ME).unwrap_or(0),
        content: Content::Text {
            text: format!("pending {n}"),
        },
        weight: T0 + 1_000 + n,
    }
}

/// A raw IndexedDB connection (no `versionchange` handler: it never steps aside), the way
/// an old tab running other code would hold the database.
async fn raw_open(name: &str, version: Option<u32>) -> web_sys::IdbDatabase {
    let factory: web_sys::IdbFactory = Reflect::get(&js_sys::global(), &"indexedDB".into())
        .expect("indexedDB")
        .unchecked_into();
    let req = match version {
        Some(v) => factory.open_with_u32(name, v),
        None => factory.open(name),
    }
    .expect("open");
    let p = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(p).await.expect("raw open");
    req.result().expect("result").unchecked_into()
}

// ---- the conformance suite ----------------------------------------------------------------------

#[wasm_bindgen_test]
async fn indexed_db_passes_the_conformance_suite() {
    const USER: u64 = 880_001;
    let s = fresh(USER).await;
    let start = now();
    let result = conformance::run_all(&s).await;
    console_log!("conformance suite on IndexedDB: {:.0} ms", now() - start);
    assert_eq!(result, Ok(()));
    drop_db(s, USER).await;
}

// Moved with `AnyStorage` from its native unit tests: it exists on wasm32 only now.
#[wasm_bindgen_test]
async fn any_storage_over_memory_passes_the_conformance_suite() {
    let s = AnyStorage::from(MemoryStorage::new());
    assert!(s.is_memory());
    assert_eq!(conformance::run_all(&s).await, Ok(()));
    s.close();
}

/// A JS `KeyValueStore` on a `Map`, answering synchronously (like `wx.getStorageSync`).
fn js_map_kv() -> JsKv {
    let make = Function::new_no_args(
        "const m = new Map(); return { \
           get: (k) => (m.has(k) ? m.get(k) : null), \
           set: (k, v) => { m.set(k, v); }, \
           remove: (k) => { m.delete(k); }, \
           keys: () => Array.from(m.keys()) };",
    );
    JsKv::new(make.call0(&JsValue::NULL).expect("make kv")).expect("kv methods")
}

#[wasm_bindgen_test]
async fn any_storage_over_a_key_value_store_passes_the_conformance_suite() {
    let s = AnyStorage::from(KvStorage::new(js_map_kv(), 1));
    assert!(!s.is_memory());
    assert_eq!(conformance::run_all(&s).await, Ok(()));
    s.close();
}

/// Keys at the edges of u64 sort as `MessageKey` does and come back exactly.
#[wasm_bindgen_test]
async fn keys_sort_like_message_key_across_all_of_u64() {
    const USER: u64 = 880_002;
    let s = fresh(USER).await;
    let c = ConversationId::Room(u64::MAX);
    let big = 1u64 << 53;
    let mut msgs = Vec::new();
    for (i, (weight, sender, id)) in [
        (0, 0, MessageRef::Server(0)),
        (T0, big, MessageRef::Server(big)),
        (T0, big + 1, MessageRef::Server(big + 1)),
        (T0, big + 1, MessageRef::Server(big + 2)),
        (T0, big + 1, MessageRef::Local("a".into())),
        (T0, big + 1, MessageRef::Local("b|c".into())),
        (T0, u64::MAX, MessageRef::Server(1)),
        (u64::MAX - 1, 2, MessageRef::Server(u64::MAX)),
        (u64::MAX, 2, MessageRef::Local("é你好".into())),
        (u64::MAX, u64::MAX, MessageRef::Server(u64::MAX - 1)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut m = message(c, i as u64, sender, weight);
        m.key = MessageKey {
            weight,
            sender_id: sender,
            id: id.clone(),
        };
        if let MessageRef::Local(l) = &id {
            m.local_id = Some(l.clone());
        }
        msgs.push(m);
    }
    // Written in reverse order, read back sorted.
    let mut rev = msgs.clone();
    rev.reverse();
    s.apply(put_all(&rev)).await.expect("apply");
    let mut expected = msgs.clone();
    expected.sort_by(|a, b| a.key.cmp(&b.key));
    let all = s.messages(c, Page::Newest, usize::MAX).await.expect("all");
    assert_eq!(all, expected);
    let newest = s.messages(c, Page::Newest, 3).await.expect("newest 3");
    assert_eq!(newest, expected[7..]);
    let mid = s
        .messages(c, Page::Before(expected[5].key.clone()), 2)
        .await
        .expect("before");
    assert_eq!(mid, expected[3..5]);
    let after = s
        .messages(c, Page::After(expected[5].key.clone()), 2)
        .await
        .expect("after");
    assert_eq!(after, expected[6..8]);
    for id in [big, big + 1, big + 2, u64::MAX, u64::MAX - 1] {
        let m = s.message_by_server_id(id).await.expect("by id");
        assert_eq!(m.and_then(|m| m.server_id()), Some(id), "server id {id}");
    }
    let m = s.message_by_local_id("b|c").await.expect("by local id");
    assert_eq!(m.map(|m| m.key.id), Some(MessageRef::Local("b|c".into())));
    // A neighbouring conversation whose id extends this one's is not mixed in.
    let other = ConversationId::Room(u64::MAX / 10);
    s.apply(put_all(&[message(other, 1, 2, T0)]))
        .await
        .expect("other");
    assert_eq!(
        s.messages(other, Page::Newest, 100)
            .await
            .expect("other")
            .len(),
        1
    );
    drop_db(s, USER).await;
}

/// A page read right after another starts in the block that one ended in, kept in memory;
/// a write in between (here a message just below the page, into that block) is not missed.
#[wasm_bindgen_test]
async fn paging_back_sees_a_write_made_between_two_pages() {
    const USER: u64 = 880_012;
    let c = direct(2);
    let s = fresh(USER).await;
    let msgs: Vec<StoredMessage> = (1..=200u64)
        .map(|n| message(c, n * 2, 2, T0 + n * 10))
        .collect();
    s.apply(put_all(&msgs)).await.expect("fill");
    let page = s.messages(c, Page::Newest, 50).await.expect("newest");
    assert_eq!(page, msgs[150..]);
    let inserted = message(c, 1_001, 2, page[0].key.weight - 5);
    s.apply(put_all(std::slice::from_ref(&inserted)))
        .await
        .expect("insert");
    let mut all = msgs.clone();
    all.push(inserted);
    all.sort_by(|a, b| a.key.cmp(&b.key));
    let older = s
        .messages(c, Page::Before(page[0].key.clone()), 50)
        .await
        .expect("older");
    assert_eq!(older, all[101..151]);
    // With no write in between, the next page follows on from the one kept.
    let next = s
        .messages(c, Page::Before(older[0].key.clone()), 50)
        .await
        .expect("next");
    assert_eq!(next, all[51..101]);
    let rest = s
        .messages(c, Page::Before(next[0].key.clone()), 500)
        .await
        .expect("rest");
    assert_eq!(rest, all[..51]);
    drop_db(s, USER).await;
}

// ---- a store persisted through the Persister, restored -------------------------------------------

#[wasm_bindgen_test]
async fn ten_thousand_messages_persist_in_few_transactions_and_restore_identically() {
    const USER: u64 = 880_003;
    let storage = fresh(USER).await;
    let errors = Rc::new(Cell::new(0u32));
    let seen = errors.clone();
    let persister = Persister::new(
        AnyStorage::IndexedDb(storage),
        Box::new(move |_| seen.set(seen.get() + 1)),
    );
    let conv = |i: u64| {
        if i % 100 < 80 {
            direct(2 + i % 100)
        } else {
            ConversationId::Room(i % 100)
        }
    };
    let mut store = Store::new(ME);
    let mut pending_local = BTreeSet::new();
    let mut store_ms = 0.0;
    let start = now();
    for i in 0..10_000u64 {
        let t = now();
        let c = conv(i);
        let sender = match c {
            _ if i % 9 == 0 => ME,
            ConversationId::Room(_) => 200 + i % 13,
            direct => direct.peer_of(ME).unwrap_or(2),
        };
        if sender == ME && i % 18 == 0 {
            // Mine, being sent: half get their server id, the rest stay in the outbox.
            let local = format!("L-{i}");
            let content = Content::Text {
                text: format!("mine {i}"),
            };
            store
                .send_local(c, content, &local, T0 + i * 10)
                .expect("send_local");
            if i % 36 == 0 {
                store
                    .send_succeeded(&local, 5_000_000 + i, T0 + i * 10 + 3)
                    .expect("send_succeeded");
            } else {
                pending_local.insert(local);
            }
        } else {
            let m = WireMessage {
                id: 1 + (i * 7_919) % 10_000 + 10_000 * (i / 10_000),
                conversation_id: c,
                sender_id: sender,
                receiver_id: match c {
                    ConversationId::Room(r) => r,
                    d => d.peer_of(sender).unwrap_or(ME),
                },
                content: if i % 5 == 0 {
                    Content::Image {
                        url: format!("https://img/{i}"),
                        cover: None,
                    }
                } else {
                    Content::Text {
                        text: format!("message {i} — 你好"),
                    }
                },
                // Arrival order is not weight order.
                weight: T0 + ((i * 7_919) % 10_000) * 10,
                is_read: false,
                revoked: false,
                sender_name: Some(format!("user {sender}").into()),
                sender_avatar: None,
            };
            let id = m.id;
            store.apply(Incoming::Message(m), T0 + i * 10);
            if i % 37 == 0 {
                store.apply(
                    Incoming::Revoke {
                        msg_id: id,
                        conversation_id: c,
                    },
                    T0 + i * 10,
                );
            }
        }
        if i % 500 == 499 {
            // The peer read my messages in some conversations; I read some.
            store.apply(
                Incoming::Read {
                    sender_id: ME,
                    conversation_id: conv(i / 500),
                    up_to_weight: Some(T0 + i * 10),
                },
                T0 + i * 10,
            );
            store.mark_read(conv(i / 500 + 1));
        }
        while store.poll_event().is_some() {}
        let batch = StorageBatch::from(store.take_persist());
        store_ms += now() - t;
        persister.push(batch);
        // Messages arrive in WebSocket frames: let the event loop run between frames.
        if i % 100 == 99 {
            sleep(0).await;
        }
    }
    persister.flush().await;
    let persist_ms = now() - start;
    let (transactions, batches) = (persister.transactions(), persister.batches());
    console_log!(
        "10,000 messages over 100 conversations: persisted in {:.0} ms ({:.0} ms of it in the store), {} batches → {} transactions",
        persist_ms,
        store_ms,
        batches,
        transactions
    );
    assert_eq!(errors.get(), 0, "no write failed");
    assert!(
        transactions <= 150 && transactions * 20 <= batches,
        "{batches} batches took {transactions} transactions"
    );
    persister.close().await;

    // Reopen and rebuild.
    let start = now();
    let s = IndexedDbStorage::open(USER).await.expect("reopen");
    let records = s.conversations().await.expect("conversations");
    let mut messages = Vec::new();
    for r in &records {
        messages.extend(
            s.messages(r.id, Page::Newest, usize::MAX)
                .await
                .expect("messages"),
        );
    }
    let tombstones = s.tombstones().await.expect("tombstones");
    let restored = Store::restore(ME, records, messages, tombstones);
    console_log!(
        "reopened and restored 100 conversations / {} messages in {:.0} ms",
        (0..100)
            .map(|i| restored.message_count(conv(i)))
            .sum::<usize>(),
        now() - start
    );

    assert_eq!(restored.conversations(), store.conversations());
    assert_eq!(restored.conversations().len(), 100);
    assert_eq!(restored.unread_total(), store.unread_total());
    assert!(store.unread_total() > 0);
    let mut statuses = BTreeSet::new();
    for summary in store.conversations() {
        let want = store.messages(summary.id, None, usize::MAX);
        statuses.extend(want.iter().map(|m| format!("{:?}", m.status)));
        assert_eq!(restored.messages(summary.id, None, usize::MAX), want);
    }
    assert_eq!(statuses.len(), 3, "sent, sending and revoked: {statuses:?}");
    let outbox: BTreeSet<String> = s
        .outbox()
        .await
        .expect("outbox")
        .into_iter()
        .map(|e| e.local_id)
        .collect();
    assert_eq!(outbox, pending_local);
    for local in &pending_local {
        let m = s.message_by_local_id(local).await.expect("by local id");
        assert_eq!(m.map(|m| m.status), Some(Status::Sending));
    }
    drop_db(s, USER).await;
}

// ---- a 100,000-message conversation ------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_conversation_of_100000_pages_back_without_gap_or_duplicate() {
    const USER: u64 = 880_004;
    const TOTAL: u64 = 100_000;
    let s = fresh(USER).await;
    let c = direct(2);
    // Two messages per weight, from either member: ties are ordered by sender.
    let nth = |n: u64| message(c, n + 1, if n % 3 == 0 { ME } else { 2 }, T0 + n / 2);
    let start = now();
    for base in (0..TOTAL).step_by(10_000) {
        let batch: Vec<StoredMessage> = (base..base + 10_000).map(nth).collect();
        s.apply(put_all(&batch)).await.expect("write 10,000");
    }
    let write_ms = now() - start;
    // Another conversation around it, which pages must not touch.
    s.apply(put_all(&[
        message(direct(3), 1, 3, T0),
        message(direct(20), 2, 20, T0),
    ]))
    .await
    .expect("neighbours");
    s.close();

    let start = now();
    let s = IndexedDbStorage::open(USER).await.expect("reopen");
    let open_ms = now() - start;
    let first = s.messages(c, Page::Newest, 50).await.expect("first page");
    let first_page_ms = now() - start;
    assert_eq!(first.len(), 50);
    let newest = (TOTAL - 10..TOTAL).map(|n| nth(n).key).max();
    assert_eq!(first.last().map(|m| m.key.clone()), newest);

    let start = now();
    let pages = conformance::walk_back(&s, c, TOTAL as usize, 50)
        .await
        .expect("walk back");
    let walk_ms = now() - start;
    assert_eq!(pages, 2_000);
    console_log!(
        "100,000 messages: written in 10 transactions of 10,000 in {:.0} ms; first page after reopening {:.1} ms (open {:.1} ms + newest 50 {:.1} ms); walked back in {} pages of 50 in {:.0} ms ({:.2} ms a page)",
        write_ms,
        first_page_ms,
        open_ms,
        first_page_ms - open_ms,
        pages,
        walk_ms,
        walk_ms / pages as f64
    );
    let forward = s
        .messages(c, Page::After(first[0].key.clone()), 100)
        .await
        .expect("after");
    assert_eq!(forward, first[1..]);
    drop_db(s, USER).await;
}

// ---- reopening, migration, deletion --------------------------------------------------------------

#[wasm_bindgen_test]
async fn the_outbox_survives_reopening() {
    const USER: u64 = 880_005;
    let s = fresh(USER).await;
    let mut batch = PersistBatch::default();
    for n in 0..5 {
        let e = outbox_entry(n, direct(2 + n % 2));
        batch.put_outbox.insert(e.local_id.clone(), e);
    }
    s.apply(batch.into()).await.expect("apply");
    s.close();
    let s = IndexedDbStorage::open(USER).await.expect("reopen");
    let outbox = s.outbox().await.expect("outbox");
    assert_eq!(
        outbox,
        (0..5)
            .map(|n| outbox_entry(n, direct(2 + n % 2)))
            .collect::<Vec<_>>()
    );
    let of_2 = s.outbox_of(direct(2)).await.expect("outbox of 1_2");
    assert_eq!(of_2.len(), 3);
    drop_db(s, USER).await;
}

#[wasm_bindgen_test]
async fn the_1_to_5_migration_keeps_every_record() {
    const USER: u64 = 880_006;
    let v1 = fresh_v1(USER).await;
    assert_eq!(v1.version(), SchemaVersion::V1);
    let a = direct(2);
    let msgs: Vec<StoredMessage> = (1..=300).map(|n| message(a, n, 2, T0 + n)).collect();
    let mut batch = put_all(&msgs);
    batch.store.put_conversations.insert(a, record(a, 7));
    for n in 0..20 {
        let e = outbox_entry(n, if n < 12 { a } else { direct(3) });
        batch.store.put_outbox.insert(e.local_id.clone(), e);
    }
    batch.store.put_tombstones.insert(77, Tombstone::Revoked);
    batch
        .put_meta
        .push((meta::LAST_SYNC.into(), "12345".into()));
    v1.apply(batch).await.expect("write V1");
    assert_eq!(
        v1.meta(meta::SCHEMA_VERSION)
            .await
            .expect("meta")
            .as_deref(),
        Some("1")
    );
    v1.close();

    let start = now();
    let v2 = IndexedDbStorage::open(USER).await.expect("open V5");
    console_log!(
        "1 → 5 migration (300 messages, 20 outbox records) and open: {:.1} ms",
        now() - start
    );
    assert_eq!(v2.version(), SchemaVersion::V5);
    assert_eq!(
        v2.meta(meta::SCHEMA_VERSION)
            .await
            .expect("meta")
            .as_deref(),
        Some("5")
    );
    assert_eq!(
        v2.meta(meta::LAST_SYNC).await.expect("meta").as_deref(),
        Some("12345")
    );
    assert_eq!(
        v2.messages(a, Page::Newest, usize::MAX)
            .await
            .expect("messages"),
        msgs
    );
    assert_eq!(
        v2.conversations().await.expect("conversations"),
        vec![record(a, 7)]
    );
    assert_eq!(v2.outbox().await.expect("outbox").len(), 20);
    assert_eq!(
        v2.tombstones().await.expect("tombstones"),
        vec![(77, Tombstone::Revoked)]
    );
    // The data phase wrote `conversation` into every V1 outbox record: the V2 index sees them.
    let of_a = v2.outbox_of(a).await.expect("outbox of a");
    assert_eq!(of_a.len(), 12);
    assert!(of_a.iter().all(|e| e.conversation_id == a));
    assert_eq!(v2.outbox_of(direct(3)).await.expect("outbox of b").len(), 8);
    drop_db(v2, USER).await;
}

#[wasm_bindgen_test]
async fn wipe_and_delete_database_leave_nothing() {
    const USER: u64 = 880_007;
    let c = direct(2);
    let fill = || {
        let mut batch = put_all(&[message(c, 1, 2, T0), message(c, 2, 2, T0 + 1)]);
        batch.store.put_conversations.insert(c, record(c, 1));
        let e = outbox_entry(1, c);
        batch.store.put_outbox.insert(e.local_id.clone(), e);
        batch.store.put_tombstones.insert(5, Tombstone::Deleted);
        batch.put_meta.push((meta::LAST_SYNC.into(), "1".into()));
        batch
    };
    async fn is_empty(s: &IndexedDbStorage, c: ConversationId) -> bool {
        s.messages(c, Page::Newest, 10)
            .await
            .expect("messages")
            .is_empty()
            && s.conversations().await.expect("conversations").is_empty()
            && s.outbox().await.expect("outbox").is_empty()
            && s.tombstones().await.expect("tombstones").is_empty()
            && s.meta(meta::LAST_SYNC).await.expect("meta").is_none()
    }

    let s = fresh(USER).await;
    s.apply(fill()).await.expect("fill");
    assert!(!is_empty(&s, c).await);
    s.wipe().await.expect("wipe");
    s.close();
    let s = IndexedDbStorage::open(USER)
        .await
        .expect("reopen after wipe");
    assert!(is_empty(&s, c).await, "wipe left data");
    assert_eq!(
        s.meta(meta::SCHEMA_VERSION).await.expect("meta").as_deref(),
        Some("5")
    );

    s.apply(fill()).await.expect("fill again");
    s.close();
    IndexedDbStorage::delete_database(USER)
        .await
        .expect("delete database");
    let s = IndexedDbStorage::open(USER)
        .await
        .expect("reopen after delete");
    assert!(is_empty(&s, c).await, "delete_database left data");
    drop_db(s, USER).await;
}

/// The 2 → 3 step copies every message into blocks: the pages, the lookups by id and the
/// updates after it answer as the memory backend does with the same history, and the
/// `messages` store is gone.
#[wasm_bindgen_test]
async fn the_2_to_3_migration_puts_every_message_in_blocks() {
    const USER: u64 = 880_010;
    let convs = [direct(2), direct(3), ConversationId::Room(7)];
    let mut msgs = Vec::new();
    for (i, c) in convs.iter().enumerate() {
        // 700 each (2,100 in all: the migration reads the V2 store 2,000 at a time, and
        // a block spans the seam), written newest first; every fifth one mine, sent from
        // this client (a local id beside its server id), the newest still unsent.
        for n in (1..=700u64).rev() {
            let id = (i as u64 + 1) * 1_000 + n;
            let mut m = message(*c, id, if n % 5 == 0 { ME } else { 9 }, T0 + n * 10);
            if n % 5 == 0 {
                m.local_id = Some(format!("L{id}"));
            }
            if n == 700 {
                m.key.id = MessageRef::Local(format!("L{id}"));
                m.status = Status::Sending;
            }
            msgs.push(m);
        }
    }
    let mut batch = put_all(&msgs);
    for (i, c) in convs.iter().enumerate() {
        batch
            .store
            .put_conversations
            .insert(*c, record(*c, i as u32 + 1));
    }
    let v2 = fresh_at(USER, SchemaVersion::V2).await;
    v2.apply(batch.clone()).await.expect("write V2");
    v2.close();
    let reference = MemoryStorage::new();
    reference.apply(batch).await.expect("reference");

    let start = now();
    let v3 = IndexedDbStorage::open(USER).await.expect("open V5");
    console_log!(
        "2 → 5 migration (2,100 messages) and open: {:.1} ms",
        now() - start
    );
    assert_eq!(v3.version(), SchemaVersion::V5);
    let db = raw_open(&database_name(USER), None).await;
    for (gone, new) in [
        ("messages", "blocks"),
        ("conversations", "conversation_records"),
    ] {
        assert!(
            db.transaction_with_str(gone).is_err(),
            "the V2 store {gone} is gone"
        );
        assert!(db.transaction_with_str(new).is_ok());
    }
    db.close();
    let mut records = v3.conversations().await.expect("conversations");
    records.sort_by_key(|r| r.id);
    let mut expected = reference.conversations().await.expect("reference");
    expected.sort_by_key(|r| r.id);
    assert_eq!(records, expected);
    assert_eq!(
        v3.startup_records()
            .await
            .expect("start-up")
            .conversations
            .len(),
        3
    );

    async fn same(a: &IndexedDbStorage, b: &MemoryStorage, convs: &[ConversationId]) {
        for c in convs {
            let all = b
                .messages(*c, Page::Newest, usize::MAX)
                .await
                .expect("reference");
            assert_eq!(
                a.messages(*c, Page::Newest, usize::MAX).await.expect("all"),
                all
            );
            assert_eq!(
                a.messages(*c, Page::Newest, 50).await.expect("newest"),
                all[all.len() - 50..]
            );
            let mid = all[70].key.clone();
            let before = a
                .messages(*c, Page::Before(mid.clone()), 40)
                .await
                .expect("before");
            assert_eq!(before, all[30..70]);
            let after = a.messages(*c, Page::After(mid), 40).await.expect("after");
            assert_eq!(after, all[71..111]);
            for m in [&all[0], &all[63], &all[64], &all[666], &all[699]] {
                if let Some(id) = m.server_id() {
                    let found = a.message_by_server_id(id).await.expect("by server id");
                    assert_eq!(found.as_ref(), Some(m));
                }
                if let Some(local) = &m.local_id {
                    let found = a.message_by_local_id(local).await.expect("by local id");
                    assert_eq!(found.as_ref(), Some(m));
                }
            }
        }
    }
    same(&v3, &reference, &convs).await;

    // Writes after the migration land in its blocks: an older message, a move, a delete,
    // an update at the same key, a sent message taking its server id.
    let c = convs[0];
    let all = reference
        .messages(c, Page::Newest, usize::MAX)
        .await
        .expect("reference");
    let mut batch = PersistBatch::default();
    batch.put_message(&message(c, 9_999, 9, T0 + 5));
    let mut moved = all[10].clone();
    batch.delete_message(c, moved.key.clone());
    moved.key.weight = T0 + 100_000;
    batch.put_message(&moved);
    batch.delete_message(c, all[100].key.clone());
    let mut read = all[20].clone();
    read.read = !read.read;
    batch.put_message(&read);
    let mut sent = all[699].clone();
    batch.delete_message(c, sent.key.clone());
    sent.key.id = MessageRef::Server(77_777);
    sent.status = Status::Sent;
    batch.put_message(&sent);
    v3.apply(batch.clone().into()).await.expect("update V3");
    reference
        .apply(batch.into())
        .await
        .expect("update reference");
    same(&v3, &reference, &convs).await;
    drop_db(v3, USER).await;
}

/// The 3 → 4 step packs every conversation record: each reads back as it was written,
/// every form of `newest` and room read marks included, and is stored as bytes.
#[wasm_bindgen_test]
async fn the_3_to_4_migration_packs_every_conversation_record() {
    const USER: u64 = 880_011;
    let mut newest = message(direct(2), 9, 2, T0 + 9);
    newest.sender_name = Some("名字 😀".into());
    newest.content = Some(
        Content::Custom {
            msg_type: -7,
            raw: r#"{"a":[1,"\u00e9"]}"#.into(),
        }
        .into(),
    );
    let mut batch = PersistBatch::default();
    let mut written = Vec::new();
    for (i, (id, newest)) in [
        (direct(2), Newest::Message(Box::new(newest))),
        (direct(3), Newest::Empty),
        (ConversationId::Room(7), Newest::Unknown),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = ConversationRecord {
            newest,
            ..record(id, i as u32 * 3)
        };
        if id == ConversationId::Room(7) {
            r.members = vec![ME, 2, 3];
            r.member_reads = vec![(2, T0 + 1), (3, T0 + 2)];
        }
        written.push(r.clone());
        batch.put_conversations.insert(id, r);
    }
    written.sort_by_key(|r| r.id);
    let v3 = fresh_at(USER, SchemaVersion::V3).await;
    v3.apply(batch.into()).await.expect("write V3");
    v3.close();
    // A record no version could read: the step deletes it instead of failing the upgrade.
    raw_put_record(USER, Some(3), "8_9", &"{not json".into()).await;

    let v4 = IndexedDbStorage::open(USER).await.expect("open V5");
    assert_eq!(v4.version(), SchemaVersion::V5);
    let mut records = v4.conversations().await.expect("conversations");
    records.sort_by_key(|r| r.id);
    assert_eq!(records, written);
    let mut at_startup = v4.startup_records().await.expect("start-up").conversations;
    at_startup.sort_by_key(|r| r.id);
    assert_eq!(at_startup, written);
    // Each stayed under its own id: deleting one by id leaves the others.
    let mut gone = PersistBatch::default();
    gone.delete_conversations.insert(direct(3), ());
    v4.apply(gone.into()).await.expect("delete 1_3");
    let mut left = v4.conversations().await.expect("conversations");
    left.sort_by_key(|r| r.id);
    written.retain(|r| r.id != direct(3));
    assert_eq!(left, written);
    v4.close();

    let db = raw_open(&database_name(USER), None).await;
    let store = db
        .transaction_with_str("conversation_records")
        .and_then(|tx| tx.object_store("conversation_records"))
        .expect("conversation_records");
    let all = done(store.get_all().expect("getAll")).await;
    let all: js_sys::Array = all.dyn_into().expect("an array");
    assert_eq!(all.length(), 2);
    assert!(all.iter().all(|v| v.is_instance_of::<js_sys::Uint8Array>()));
    db.close();
    IndexedDbStorage::delete_database(USER)
        .await
        .expect("delete");
}

/// A conversation record that is not packed bytes (a string, an `ArrayBuffer`) or whose
/// bytes do not read, stored beside a good one, is a corrupt-record error at start-up:
/// not a panic, not a list without it.
#[wasm_bindgen_test]
async fn a_conversation_record_that_is_not_packed_is_corrupt() {
    const USER: u64 = 880_012;
    let s = fresh(USER).await;
    let mut batch = PersistBatch::default();
    batch
        .put_conversations
        .insert(direct(2), record(direct(2), 1));
    s.apply(batch.into()).await.expect("write");
    assert_eq!(s.conversations().await, Ok(vec![record(direct(2), 1)]));
    s.close();
    let not_packed = "a conversation record is not packed bytes";
    let bad: [(JsValue, &str); 4] = [
        ("{\"id\":\"1_3\"}".into(), not_packed),
        (js_sys::ArrayBuffer::new(4).into(), not_packed),
        // Format 1, a 1:1 conversation 3_3: not low_high.
        (
            js_sys::Uint8Array::from(&[1u8, 0, 3, 3][..]).into(),
            "is not low_high",
        ),
        // Cut short inside the first mark.
        (
            js_sys::Uint8Array::from(&[1u8, 1, 7, 0x80][..]).into(),
            "ends inside my_read_mark",
        ),
    ];
    for (value, why) in bad {
        raw_put_record(USER, None, &direct(3).to_string(), &value).await;
        let s = IndexedDbStorage::open(USER).await.expect("open");
        for result in [
            s.conversations().await.map(|_| ()),
            s.startup_records().await.map(|_| ()),
        ] {
            assert!(
                matches!(&result, Err(StorageError::Corrupt(e)) if e.contains(why)),
                "{value:?}: {result:?}"
            );
        }
        s.close();
    }
    IndexedDbStorage::delete_database(USER)
        .await
        .expect("delete");
}

/// The 4 → 5 step rewrites nothing: blocks written as JSON texts before it read as they
/// are, beside packed ones; a block is packed when it is next written; a packed block that
/// does not read is a corrupt-record error.
#[wasm_bindgen_test]
async fn after_the_4_to_5_step_json_and_packed_blocks_read_alike() {
    const USER: u64 = 880_014;
    let (c, d) = (direct(2), direct(3));
    // 200 messages in each of two conversations (blocks of 64: four each), every tenth
    // mine with a local id.
    let mut msgs = Vec::new();
    for (base, conv) in [(0, c), (1_000, d)] {
        for n in 1..=200u64 {
            let mut m = message(conv, base + n, if n % 10 == 0 { ME } else { 2 }, T0 + n);
            if n % 10 == 0 {
                m.local_id = Some(format!("L{}", base + n));
            }
            msgs.push(m);
        }
    }
    let batch = put_all(&msgs);
    let v4 = fresh_at(USER, SchemaVersion::V4).await;
    v4.apply(batch.clone()).await.expect("write V4");
    v4.close();
    let reference = MemoryStorage::new();
    reference.apply(batch).await.expect("reference");

    let v5 = IndexedDbStorage::open(USER).await.expect("open V5");
    assert_eq!(v5.version(), SchemaVersion::V5);
    let (texts, packed) = block_forms(USER).await;
    assert!(texts >= 8 && packed == 0, "the upgrade rewrote blocks");
    // A new message of c: its newest block is written again, packed; the others stay.
    let newer = put_all(&[message(c, 500, 2, T0 + 500)]);
    v5.apply(newer.clone()).await.expect("write V5");
    reference.apply(newer).await.expect("reference");
    assert_eq!(block_forms(USER).await, (texts - 1, 1));
    for conv in [c, d] {
        let all = reference
            .messages(conv, Page::Newest, usize::MAX)
            .await
            .expect("reference");
        assert_eq!(
            v5.messages(conv, Page::Newest, usize::MAX)
                .await
                .expect("all"),
            all
        );
        // The newest 70 span c's packed block and the JSON one below it, and so does the
        // page before the newest 5.
        assert_eq!(
            v5.messages(conv, Page::Newest, 70).await.expect("newest"),
            all[all.len() - 70..]
        );
        let mid = all[all.len() - 5].key.clone();
        assert_eq!(
            v5.messages(conv, Page::Before(mid), 60)
                .await
                .expect("before"),
            all[all.len() - 65..all.len() - 5]
        );
        // Messages of every block by their server id, and the ones with a local id by it.
        for m in all.iter().step_by(25).chain(all.last()) {
            let id = m.server_id().expect("every message is sent");
            let found = v5.message_by_server_id(id).await.expect("by server id");
            assert_eq!(found.as_ref(), Some(m));
        }
        for m in all.iter().filter(|m| m.local_id.is_some()).step_by(3) {
            let local = m.local_id.as_deref().unwrap_or_default();
            let found = v5.message_by_local_id(local).await.expect("by local id");
            assert_eq!(found.as_ref(), Some(m));
        }
    }
    v5.close();

    // Every packed block cut short inside its first message.
    let (db, blocks) = raw_blocks(USER).await;
    let store = db
        .transaction_with_str_and_mode("blocks", IdbTransactionMode::Readwrite)
        .and_then(|tx| tx.object_store("blocks"))
        .expect("blocks");
    for block in blocks {
        let record = Reflect::get(&block, &"record".into()).expect("record");
        if record.is_instance_of::<js_sys::Uint8Array>() {
            let cut = js_sys::Uint8Array::from(&[1u8, 1, 0x80][..]);
            Reflect::set(&block, &"record".into(), &cut).expect("set");
            done(store.put(&block).expect("put")).await;
        }
    }
    db.close();
    let s = IndexedDbStorage::open(USER).await.expect("reopen");
    let result = s.messages(c, Page::Newest, 10).await;
    assert!(
        matches!(&result, Err(StorageError::Corrupt(e)) if e.contains("ends inside weight")),
        "{result:?}"
    );
    drop_db(s, USER).await;
}

/// A raw connection to the database of `user` and every stored block (the connection is
/// the caller's to close).
async fn raw_blocks(user: u64) -> (web_sys::IdbDatabase, Vec<JsValue>) {
    let db = raw_open(&database_name(user), None).await;
    let store = db
        .transaction_with_str("blocks")
        .and_then(|tx| tx.object_store("blocks"))
        .expect("blocks");
    let all: js_sys::Array = done(store.get_all().expect("getAll"))
        .await
        .dyn_into()
        .expect("an array");
    (db, all.iter().collect())
}

/// How many stored blocks of `user` hold a JSON text and how many packed bytes.
async fn block_forms(user: u64) -> (usize, usize) {
    let (db, blocks) = raw_blocks(user).await;
    db.close();
    let records: Vec<JsValue> = blocks
        .iter()
        .map(|b| Reflect::get(b, &"record".into()).expect("record"))
        .collect();
    let texts = records.iter().filter(|r| r.is_string()).count();
    let packed = records
        .iter()
        .filter(|r| r.is_instance_of::<js_sys::Uint8Array>())
        .count();
    assert_eq!(texts + packed, records.len(), "a block of neither form");
    (texts, packed)
}

/// Puts `value` under `key` in `conversation_records` through a raw connection (at
/// `version`, or the current one), bypassing the backend's encoding.
async fn raw_put_record(user: u64, version: Option<u32>, key: &str, value: &JsValue) {
    let db = raw_open(&database_name(user), version).await;
    let store = db
        .transaction_with_str_and_mode("conversation_records", IdbTransactionMode::Readwrite)
        .and_then(|tx| tx.object_store("conversation_records"))
        .expect("conversation_records");
    done(store.put_with_key(value, &key.into()).expect("put")).await;
    db.close();
}

/// The result of a raw IndexedDB request, once it succeeds.
async fn done(req: web_sys::IdbRequest) -> JsValue {
    let p = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(p).await.expect("request");
    req.result().expect("result")
}

// ---- two tabs --------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn an_old_connection_steps_aside_for_an_upgrade() {
    const USER: u64 = 880_008;
    let old = fresh_v1(USER).await;
    let c = direct(2);
    old.apply(put_all(&[message(c, 1, 2, T0)]))
        .await
        .expect("write V1");
    let notified = Rc::new(Cell::new(0u32));
    let n = notified.clone();
    old.on_version_change(move || n.set(n.get() + 1));

    let new = IndexedDbStorage::open(USER)
        .await
        .expect("the V2 open is not blocked");
    assert_eq!(notified.get(), 1, "on_version_change ran once");
    assert!(!old.is_open());
    assert_eq!(
        old.messages(c, Page::Newest, 10).await,
        Err(StorageError::VersionChange)
    );
    assert_eq!(
        old.apply(put_all(&[message(c, 2, 2, T0)])).await,
        Err(StorageError::VersionChange)
    );
    assert_eq!(
        new.messages(c, Page::Newest, 10).await.expect("V2").len(),
        1
    );
    // Registering after the fact still reports it.
    let late = Rc::new(Cell::new(false));
    let l = late.clone();
    old.on_version_change(move || l.set(true));
    assert!(late.get());
    drop_db(new, USER).await;
}

/// Two connections of one user writing in turn (tabs, when the leader changes): each
/// sees the blocks the other wrote, and the history stays one ordered sequence.
#[wasm_bindgen_test]
async fn two_connections_writing_in_turn_keep_the_blocks_whole() {
    const USER: u64 = 880_011;
    let c = direct(2);
    let a = fresh(USER).await;
    let b = IndexedDbStorage::open(USER)
        .await
        .expect("second connection");
    let reference = MemoryStorage::new();
    for round in 0..6u64 {
        let writer = if round % 2 == 0 { &a } else { &b };
        // 100 newer messages, and one older than all of them.
        let mut msgs: Vec<StoredMessage> = (0..100)
            .map(|n| {
                let id = round * 1_000 + n + 1;
                message(c, id, 2, T0 + 1_000 + id)
            })
            .collect();
        msgs.push(message(c, 90_000 + round, 2, T0 - round));
        writer.apply(put_all(&msgs)).await.expect("write");
        reference.apply(put_all(&msgs)).await.expect("reference");
    }
    let all = reference
        .messages(c, Page::Newest, usize::MAX)
        .await
        .expect("reference");
    for s in [&a, &b] {
        assert_eq!(
            s.messages(c, Page::Newest, usize::MAX).await.expect("all"),
            all
        );
        let before = s
            .messages(c, Page::Before(all[300].key.clone()), 120)
            .await
            .expect("before");
        assert_eq!(before, all[180..300]);
    }
    b.close();
    drop_db(a, USER).await;
}

#[wasm_bindgen_test]
async fn an_open_blocked_by_another_connection_fails_fast_and_changes_nothing() {
    const USER: u64 = 880_009;
    let name = database_name(USER);
    let v1 = fresh_v1(USER).await;
    v1.apply(put_all(&[message(direct(2), 1, 2, T0)]))
        .await
        .expect("write");
    v1.close();
    // A connection that ignores versionchange, like a tab running other code.
    let stubborn = raw_open(&name, Some(1)).await;

    let start = now();
    let blocked = IndexedDbStorage::open(USER).await;
    assert_eq!(blocked.err(), Some(StorageError::Blocked));
    console_log!("blocked open resolved in {:.1} ms", now() - start);
    let (storage, why) = AnyStorage::open_or_memory(USER).await;
    assert!(storage.is_memory());
    assert_eq!(why, Some(StorageError::Blocked));

    // The other connection goes away: the abandoned upgrades are aborted, not applied.
    stubborn.close();
    sleep(50).await;
    let probe = raw_open(&name, None).await;
    assert_eq!(probe.version(), 1.0, "an abandoned upgrade ran");
    probe.close();

    let v2 = IndexedDbStorage::open(USER).await.expect("open V2 now");
    assert_eq!(
        v2.messages(direct(2), Page::Newest, 10)
            .await
            .expect("data kept")
            .len(),
        1
    );
    drop_db(v2, USER).await;
}

// ---- the Persister's fallback ------------------------------------------------------------------------

/// Errors an `on_error` callback heard.
type Heard = Rc<RefCell<Vec<StorageError>>>;
/// The Persister's error callback.
type OnError = Box<dyn Fn(&StorageError)>;

fn counting() -> (Heard, OnError) {
    let errors = Rc::new(RefCell::new(Vec::new()));
    let sink = errors.clone();
    (
        errors,
        Box::new(move |e: &StorageError| sink.borrow_mut().push(e.clone())),
    )
}

#[wasm_bindgen_test]
async fn the_persister_falls_back_to_memory_when_a_write_fails() {
    let c = direct(2);
    let memory = MemoryStorage::new();
    memory.fail_next(StorageError::QuotaExceeded("test".into()));
    let (errors, on_error) = counting();
    let p = Persister::new(AnyStorage::Memory(memory), on_error);
    p.push(put_all(&[message(c, 1, 2, T0)]));
    p.flush().await;
    assert_eq!(
        *errors.borrow(),
        vec![StorageError::QuotaExceeded("test".into())]
    );
    for n in 2..=5 {
        p.push(put_all(&[message(c, n, 2, T0 + n)]));
    }
    p.flush().await;
    assert_eq!(errors.borrow().len(), 1, "reported once");
    assert_eq!(p.failures(), 1);
    let s = p.storage();
    assert!(s.is_memory());
    // A fresh memory storage: what came after the failure.
    assert_eq!(
        s.messages(c, Page::Newest, 10).await.expect("memory").len(),
        4
    );
    p.close().await;
}

#[wasm_bindgen_test]
async fn the_persister_falls_back_when_indexed_db_closes_under_it() {
    const USER: u64 = 880_010;
    let c = direct(2);
    let storage = fresh(USER).await;
    let (errors, on_error) = counting();
    let p = Persister::new(AnyStorage::IndexedDb(storage), on_error);
    p.push(put_all(&[message(c, 1, 2, T0)]));
    p.flush().await;
    assert!(errors.borrow().is_empty());
    // The connection goes away (closed, or another tab upgraded).
    p.storage().close();
    p.push(put_all(&[message(c, 2, 2, T0 + 1)]));
    p.push(put_all(&[message(c, 3, 2, T0 + 2)]));
    p.flush().await;
    p.push(put_all(&[message(c, 4, 2, T0 + 3)]));
    p.flush().await;
    assert_eq!(*errors.borrow(), vec![StorageError::Closed]);
    assert!(p.storage().is_memory());
    assert_eq!(
        p.storage()
            .messages(c, Page::Newest, 10)
            .await
            .expect("memory")
            .len(),
        1
    );
    p.close().await;
    let s = IndexedDbStorage::open(USER).await.expect("reopen");
    assert_eq!(
        s.messages(c, Page::Newest, 10).await.expect("idb").len(),
        1,
        "what was committed before the failure stays"
    );
    drop_db(s, USER).await;
}

#[wasm_bindgen_test]
async fn start_up_comes_from_indexed_db_before_any_network_call() {
    const USER: u64 = 880_011;
    let s = fresh(USER).await;
    let persister = Persister::new(AnyStorage::IndexedDb(s), Box::new(|_| {}));
    let mut store = Store::new(ME);
    for i in 0..600u64 {
        let peer = 2 + i % 3;
        let m = text_message(i + 1, direct(peer), peer, ME, format!("m{i}"), T0 + i);
        store.apply(Incoming::Message(m), 0);
        persister.push(store.take_persist().into());
    }
    store.mark_read(direct(3));
    store
        .send_local(
            direct(2),
            Content::Text {
                text: "sent offline".into(),
            },
            "L-off",
            T0 + 9_000,
        )
        .expect("send");
    persister.push(store.take_persist().into());
    persister.close().await;

    // "Reload": a new connection, a store built from it alone.
    let s = IndexedDbStorage::open(USER).await.expect("reopen");
    let start = now();
    let mut loaded = startup::load(&s, ME).await.expect("start-up");
    console_log!("start-up from IndexedDB: {:.1} ms", now() - start);
    assert_eq!(loaded.store.conversations(), store.conversations());
    assert_eq!(loaded.store.unread_total(), store.unread_total());
    assert_eq!(loaded.store.unread_total(), 400);
    // The newest of each conversation, from its record: no message read.
    assert_eq!(loaded.store.message_count(direct(2)), 1);
    assert_eq!(
        loaded
            .outbox
            .iter()
            .map(|e| e.local_id.as_str())
            .collect::<Vec<_>>(),
        ["L-off"],
        "the message sent offline waits in the outbox"
    );
    while startup::load_older(&s, &mut loaded.store, direct(4), 50)
        .await
        .expect("older")
        > 0
    {}
    assert_eq!(
        loaded.store.messages(direct(4), None, usize::MAX),
        store.messages(direct(4), None, usize::MAX)
    );
    drop_db(s, USER).await;
}

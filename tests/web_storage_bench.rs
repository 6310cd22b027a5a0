//! `make bench` (not `make test`): IndexedDB write and read costs in headless Chromium, in
//! one run, side by side with a plain-JS baseline.
//!
//! * A 10,000-message backlog (the offline backlog after a reconnect) applied to the store
//!   and persisted through imcore's write path (a write queue that coalesces batches into
//!   few transactions), against plain JS doing one IndexedDB `put` per message as it
//!   arrives — what an MQTT.js app's `on('message')` handler does.
//! * The time to the first page (newest 50) of a 100,000-message conversation including
//!   opening the database, and to the next page (the 50 before it), beside plain JS
//!   reading the same through a reverse cursor on its index: medians of 11 rounds that
//!   alternate the two (and which goes first), each from a fresh open.
#![cfg(all(target_arch = "wasm32", feature = "browser-bench"))]

use imcore::chat::store::Store;
use imcore::chat::{ConversationId, Incoming, WireMessage};
use imcore::storage::conformance::{message, put_all};
use imcore::storage::{Page, Storage, StorageBatch};
use imcore::test_support::{direct, text_message, ME, T0};
use imcore::web::storage::{AnyStorage, IndexedDbStorage};
use imcore::web::Persister;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
function open(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      const s = req.result.createObjectStore("messages", { keyPath: "id" });
      s.createIndex("order", ["conversation_id", "weight"]);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
function drop(name) {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
}
// One put per message, each in its own transaction, issued as the messages arrive;
// resolves when every transaction has completed. Returns the elapsed ms.
export async function plain_put_each(name, count) {
  await drop(name);
  const db = await open(name);
  const start = performance.now();
  const done = [];
  for (let i = 0; i < count; i++) {
    const tx = db.transaction("messages", "readwrite");
    tx.objectStore("messages").put({
      id: i + 1, conversation_id: `1_${2 + (i % 100)}`, sender_id: 2 + (i % 100),
      receiver_id: 1, msg_type: 1, msg_content: { content: `message number ${i}` },
      weight: 1717214400000 + i * 10, is_read: 0, status: 1,
    });
    done.push(new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); }));
  }
  await Promise.all(done);
  const ms = performance.now() - start;
  db.close();
  await drop(name);
  return ms;
}
// Fills one conversation with `count` messages (untimed).
export async function plain_fill(name, count) {
  await drop(name);
  const db = await open(name);
  for (let base = 0; base < count; base += 10000) {
    await new Promise((resolve, reject) => {
      const tx = db.transaction("messages", "readwrite");
      const s = tx.objectStore("messages");
      for (let i = base; i < Math.min(base + 10000, count); i++) {
        s.put({ id: i + 1, conversation_id: "1_2", sender_id: 2, receiver_id: 1, msg_type: 1,
                msg_content: { content: `message number ${i}` }, weight: 1717214400000 + i, is_read: 0, status: 1 });
      }
      tx.oncomplete = resolve; tx.onerror = () => reject(tx.error);
    });
  }
  db.close();
}
// Opens the filled database and reads the newest 50 through the index (a reverse cursor),
// then the 50 before them (the same, below the oldest weight of the first page):
// `[first incl. open, next]` in ms.
export async function plain_pages(name) {
  const start = performance.now();
  const db = await open(name);
  const pageOf = (range) => new Promise((resolve, reject) => {
    const out = [];
    const req = db.transaction("messages").objectStore("messages").index("order").openCursor(range, "prev");
    req.onsuccess = () => {
      const c = req.result;
      if (c && out.length < 50) { out.push(c.value); c.continue(); } else { resolve(out); }
    };
    req.onerror = () => reject(req.error);
  });
  const page = await pageOf(IDBKeyRange.bound(["1_2", -Infinity], ["1_2", Infinity]));
  const ms = performance.now() - start;
  const oldest = page[page.length - 1];
  const nextStart = performance.now();
  const next = await pageOf(IDBKeyRange.bound(["1_2", -Infinity], ["1_2", oldest.weight], false, true));
  const nextMs = performance.now() - nextStart;
  db.close();
  if (page.length !== 50 || next.length !== 50) throw new Error(`plain pages have ${page.length}, ${next.length}`);
  return [ms, nextMs];
}
export async function plain_drop(name) { await drop(name); }
export function now() { return performance.now(); }
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn plain_put_each(name: &str, count: u32) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(catch)]
    fn plain_fill(name: &str, count: u32) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(catch)]
    fn plain_pages(name: &str) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(catch)]
    fn plain_drop(name: &str) -> Result<js_sys::Promise, JsValue>;
    fn now() -> f64;
}

/// The page reads are timed this many times each, alternating.
const PAGE_ROUNDS: usize = 11;
const PLAIN_PAGE_DB: &str = "imcore-bench-plain-page";

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One round of plain JS's pages: `(first incl. open, next)` in ms.
async fn plain_round() -> (f64, f64) {
    let plain = JsFuture::from(plain_pages(PLAIN_PAGE_DB).expect("baseline did not start"))
        .await
        .expect("baseline failed");
    let at = |i: u32| {
        js_sys::Reflect::get_u32(&plain, i)
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(f64::NAN)
    };
    (at(0), at(1))
}

async fn js_ms(p: Result<js_sys::Promise, JsValue>) -> f64 {
    let p = p.expect("baseline did not start");
    JsFuture::from(p)
        .await
        .expect("baseline failed")
        .as_f64()
        .unwrap_or(f64::NAN)
}

fn backlog(n: u64) -> Vec<WireMessage> {
    (0..n)
        .map(|i| {
            let peer = 2 + i % 100;
            let text = format!("message number {i}");
            text_message(i + 1, direct(peer), peer, ME, text, T0 + i * 10)
        })
        .collect()
}

#[wasm_bindgen_test]
async fn backlog_of_10000_and_first_page_of_100000_beside_plain_js() {
    const USER: u64 = 990_001;
    let _ = IndexedDbStorage::delete_database(USER).await;

    // imcore: the store applies each message and the write path persists the batches.
    let storage = IndexedDbStorage::open(USER).await.expect("open");
    let persister = Persister::new(AnyStorage::IndexedDb(storage), Box::new(|_| {}));
    let messages = backlog(10_000);
    let start = now();
    let mut store = Store::new(1);
    for m in messages {
        store.apply(Incoming::Message(m), 0);
        while store.poll_event().is_some() {}
        persister.push(StorageBatch::from(store.take_persist()));
    }
    let applied = now() - start;
    persister.flush().await;
    let imcore_ms = now() - start;
    let transactions = persister.transactions();
    persister.close().await;
    let _ = IndexedDbStorage::delete_database(USER).await;

    let plain_ms = js_ms(plain_put_each("imcore-bench-plain", 10_000)).await;

    // First page of a 100,000-message conversation, after opening the database.
    let c = ConversationId::direct(1, 2).expect("distinct users");
    let storage = IndexedDbStorage::open(USER).await.expect("open");
    for base in (0..100_000u64).step_by(10_000) {
        let batch: Vec<_> = (base..base + 10_000)
            .map(|n| message(c, n + 1, 2, 1_717_214_400_000 + n))
            .collect();
        storage.apply(put_all(&batch)).await.expect("fill");
    }
    storage.close();
    js_ms(plain_fill(PLAIN_PAGE_DB, 100_000)).await;
    // Rounds alternate imcore and plain JS, each from a fresh open, and which of the two
    // goes first (the first open after the other's close met a busier database in early
    // runs); medians are shown.
    let (mut first, mut next, mut open_ms, mut plain_first, mut plain_next) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..PAGE_ROUNDS {
        if round % 2 == 1 {
            let (a, b) = plain_round().await;
            plain_first.push(a);
            plain_next.push(b);
        }
        let start = now();
        let storage = IndexedDbStorage::open(USER).await.expect("reopen");
        open_ms.push(now() - start);
        let page = storage.messages(c, Page::Newest, 50).await.expect("page");
        first.push(now() - start);
        let second_start = now();
        let older = storage
            .messages(c, Page::Before(page[0].key.clone()), 50)
            .await
            .expect("older page");
        next.push(now() - second_start);
        assert_eq!(older.len(), 50);
        assert_eq!(page.len(), 50);
        storage.close();
        if round % 2 == 0 {
            let (a, b) = plain_round().await;
            plain_first.push(a);
            plain_next.push(b);
        }
    }
    let rounds = |xs: &[f64]| {
        xs.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    console_log!(
        "first page, each round (ms): imcore {}; plain JS {}",
        rounds(&first),
        rounds(&plain_first)
    );
    let _ = IndexedDbStorage::delete_database(USER).await;
    js_ms(plain_drop(PLAIN_PAGE_DB)).await;
    let (first_page_ms, second_page_ms, opened_ms) = (median(first), median(next), median(open_ms));
    let (plain_page_ms, plain_next_ms) = (median(plain_first), median(plain_next));

    console_log!("IndexedDB in headless Chromium                     imcore        plain JS");
    console_log!(
        "10,000-message backlog applied + persisted  {:>10.0} ms   {:>10.0} ms  (imcore: {} transactions, store alone {:.0} ms; plain: one put per message)",
        imcore_ms, plain_ms, transactions, applied
    );
    console_log!(
        "first page (50) of 100,000, incl. open      {:>10.1} ms   {:>10.1} ms  (imcore: open {:.1} ms; medians of {PAGE_ROUNDS})",
        first_page_ms,
        plain_page_ms,
        opened_ms,
    );
    console_log!(
        "next page (the 50 before it)                {:>10.1} ms   {:>10.1} ms",
        second_page_ms,
        plain_next_ms,
    );
}

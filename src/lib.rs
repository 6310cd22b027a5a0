//! imcore: the client core of a chat app, compiled to WebAssembly for a web page or a
//! WeChat mini-program, and tested natively.
//!
//! ```text
//!             ┌──────────────────── pure core: no IO, no clock, no JS ─────────────────────┐
//!  bytes in → │ mqtt:: codec ─▶ session:: MQTT ─▶ chat::payload ─▶ chat::store            │ → bytes out
//!  now (ms) → │ (packets,       (QoS 0/1/2,       (JSON via json::,  (order, unread, read, │ → next deadline
//!  commands → │  stream)         keepalive,        protobuf)         revoke, dedupe)       │ → UI events
//!             │                  backoff)          chat::clock (server time, weights)      │ → persist batches
//!             │                                    chat::api (the backend's HTTP calls)    │ → HTTP requests
//!             │                                    storage:: Storage, memory, key-value    │
//!             │                                     layout on a KvBackend, write queue     │
//!             │ client:: the chat engine — every ChatClient rule: conn-config, catch-up,   │
//!             │  paging, receipts, outbox, presence, rooms; HTTP requests and storage      │
//!             │  reads out as plain values, their answers in, by id                        │
//!             └──────────────────────────────────────▲────────────────────────┬───────────┘
//!                                                    │ driven by              │ written by
//!             ┌──────────── web:: shell (wasm32 only) ┴────────────────────────▼───────────┐
//!             │ WebSocket or a JS transport · one timer · fetch · online/visible wake-ups  │
//!             │ storage:: IndexedDB, JsKv, AnyStorage · `ChatClient` · the session's C ABI │
//!             │ (`mqtt_*`) under `MqttClient`, a JS class (mqtt_client.js)                 │
//!             └────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! * [`mqtt`]: the MQTT 3.1.1 / 5.0 codec — every packet, property and reason code, and a
//!   stream decoder that reassembles packets from arbitrary splits of the byte stream.
//! * [`session`]: the sans-IO session. Every input takes `now_ms`; outputs (bytes to write,
//!   transport to open or close, credentials to fetch, events) are drained in order, and
//!   the session names its next deadline. Time and randomness are inputs, so every test
//!   scripts them.
//! * [`chat`]: the chat domain — payloads (JSON and protobuf), server-time calibration and
//!   strictly increasing weights, the store of conversations, messages, unread counts,
//!   read receipts and revokes that converges whatever the delivery order, the backend's
//!   HTTP contract as plain request / answer values, and the MQTT topics.
//! * [`storage`]: local history behind one async `Storage` interface — the memory backend
//!   and a key-value layout within `wx.setStorage`'s limits over any `KvBackend` — with one
//!   conformance suite every backend runs, the write queue, and start-up from storage. Pure:
//!   the JS-backed backends are the shell's.
//! * [`client`]: the chat engine, sans-IO like `session` one level up: user commands,
//!   session events, HTTP answers and storage results in (each with `now`); MQTT commands,
//!   HTTP requests, storage reads and writes, UI events and settled calls out, in order.
//!   Every rule of the chat client lives here; the shell only carries them out.
//! * `json` (crate-private): the JSON reader and writer of the payloads, records and
//!   backend answers (serde_json's rules and bytes, without its size in the wasm).
//! * [`collections`]: `VecMap`, the small ordered map used where BTreeMap's code would
//!   cost more than it saves, and `Fifo`, the queue used where VecDeque's would.
//! * `web` (wasm32 only): the thin shell — `ChatClient` for JS with its WebSocket (or
//!   mini-program socket) transport, `setTimeout`, `fetch`, the page's online / visibility
//!   events, and in `web::storage` the JS-backed storage: the IndexedDB backend, `JsKv` (the
//!   JS key-value store as a `KvBackend`) and `AnyStorage`; and `session_api`, the session
//!   exported as a C ABI of numbers and bytes (no wasm-bindgen) under the `MqttClient`
//!   class, whose shell is JS (`web/mqtt_client.js`) in the MQTT-only and mini-program
//!   modules.
//!
//! Each layer uses only those before it: `mqtt` ← `session` ← `chat` ← `storage` ← `client`
//! ← `web`;
//! only `web` names web-sys, js-sys or wasm-bindgen.
//!
//! The default feature `chat` compiles `chat`, `storage`, `client`, `json` and, in `web`,
//! `ChatClient` with its storage and persistence. Without it (`--no-default-features`) the
//! crate is the MQTT client alone — `mqtt`, `session`, `collections` and `session_api` — which
//! scripts/build-wasm.sh ships with the JS class `MqttClient` as the package's `imcore/mqtt`
//! entry.
//! Under `chat`, the default features `indexeddb` (the IndexedDB backend in `web::storage`)
//! and `kv` (the key-value layout `storage::kv` and `web::storage::JsKv`) add the storage
//! backends beside memory: the web module is built with `chat,indexeddb`, the WeChat
//! mini-program's with `chat,kv,mqtt-client`, so neither carries the other's. Under `chat`
//! the session's C ABI (and so the `MqttClient` class) is exported only with the default feature
//! `mqtt-client` (the mini-program's one module serves both); the web module's ChatClient
//! drives the session from Rust and leaves the class to `imcore/mqtt`.
//!
//! Nothing reachable from network input panics: malformed bytes are typed errors
//! ([`mqtt::DecodeError`], [`chat::payload::PayloadError`], [`storage::StorageError`]) that become
//! error events, and the session goes on or reconnects.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

// Talc instead of std's dlmalloc: ~4 KB less wasm (see Cargo.toml).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(feature = "chat")]
pub mod chat;
#[cfg(feature = "chat")]
pub mod client;
pub mod collections;
#[cfg(feature = "chat")]
pub(crate) mod json;
pub mod mqtt;
pub mod session;
#[cfg(feature = "chat")]
pub mod storage;
#[cfg(all(
    feature = "chat",
    any(test, feature = "test-support", feature = "browser-bench")
))]
pub mod test_support;
#[cfg(target_arch = "wasm32")]
pub mod web;

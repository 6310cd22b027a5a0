//! imcore: the client core of a chat app, compiled to WebAssembly for a web page or a
//! WeChat mini-program, and tested natively.
//!
//! ```text
//!             ┌──────────── pure core: no IO, no clock, no JS ────────────┐
//!  bytes in → │ mqtt:: codec ─▶ session:: MQTT state machine               │ → bytes out
//!  now (ms) → │ (packets,       (connect, QoS 0/1/2, in-flight window,     │ → next deadline
//!  commands → │  stream)         keepalive, reconnect backoff)             │ → events
//!             └───────────────────────────▲────────────────────────────────┘
//!                                         │ driven by
//!             ┌───────────── web:: shell (wasm32 only) ────────────────────┐
//!             │ WebSocket or any JS transport · one timer · online/visible │
//!             │ wake-ups · wasm-bindgen `MqttClient`                        │
//!             └─────────────────────────────────────────────────────────────┘
//! ```
//!
//! * [`mqtt`]: the MQTT 3.1.1 / 5.0 codec — every packet, property and reason code, and a
//!   stream decoder that reassembles packets from arbitrary splits of the byte stream.
//! * [`session`]: the sans-IO session. Every input takes `now_ms`; outputs (bytes to write,
//!   transport to open or close, credentials to fetch, events) are drained in order, and
//!   the session names its next deadline. Time and randomness are inputs, so every test
//!   scripts them.
//! * [`chat`]: the chat domain — payloads (JSON and protobuf), server-time calibration and
//!   strictly increasing weights, and the store of conversations, messages, unread counts,
//!   read receipts and revokes that converges whatever the delivery order.
//! * `web` (wasm32 only): the thin shell that connects the session to a browser
//!   `WebSocket` (or a JS object with the same shape, such as a mini-program socket),
//!   `setTimeout` and the page's online / visibility events.
//!
//! Nothing reachable from network input panics: malformed bytes are typed errors
//! ([`mqtt::DecodeError`]) that end the connection, which then reconnects.
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

pub mod chat;
pub mod collections;
pub(crate) mod json;
pub mod mqtt;
pub mod session;
pub mod storage;
#[cfg(target_arch = "wasm32")]
pub mod web;

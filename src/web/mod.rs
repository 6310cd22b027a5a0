//! The wasm shell (wasm32 only): the thin platform layer between the sans-IO core and a
//! browser (or any JS host).
//!
//! It owns no protocol logic. It moves bytes between the session and a socket, keeps one
//! timer armed for the session's next deadline, reads the clock, and converts values at the
//! JS boundary. Two shapes of it:
//!
//! * `session_api` (where `cfg(mqtt_class)`: the MQTT-only module and the mini-program's):
//!   the [`Session`](crate::session::Session) exported as a C ABI of numbers and bytes
//!   (`mqtt_*`, no wasm-bindgen), under the `MqttClient` class written in JS,
//!   `mqtt_client.js` (with its types in `mqtt_client.d.ts`), which loads the module itself;
//!   scripts/build-wasm.sh ships it as `imcore/mqtt` and, made CommonJS, in the
//!   mini-program package. The class in JS weighs 4.4 KB gzip -9 with its loader where
//!   its Rust shell weighed 16 KB, and without wasm-bindgen's glue the module and its JS
//!   went from 37,043 to 34,393 B (from 48,276 with the Rust shell).
//! * ChatClient's (under `chat`), in Rust:
//!   * `client`: `MqttDriver`, the driver loop of ChatClient's
//!     connection (the same steps as `mqtt_client.js`; see its docs).
//!   * `transport`: the default browser `WebSocket` (subprotocol `mqtt`, binary frames as
//!     `ArrayBuffer`), or any plain JS object with `send` / `close` / `onopen` / `onmessage` /
//!     `onclose` / `onerror` from the `transport` factory option (the WeChat mini-program's
//!     `wx.connectSocket` plugs in there).
//!   * `timer`: one gloo-timers `Timeout` for the earliest deadline, replaced when it moves
//!     earlier; a spurious fire is a no-op by the session's contract.
//!   * `clock`: `performance.now()` as monotonic milliseconds, `crypto.getRandomValues` as
//!     the jitter seed.
//!   * `wake`: the window's `online` event and the page becoming visible call
//!     [`Session::wake`](crate::session::Session::wake): reconnect now instead of after the
//!     backoff wait.
//!   * `options`: ChatClient's MQTT options read into the session's types.
//!   * `persist`: the write path to storage — batches from the store are queued and
//!     coalesced while a transaction is in flight (a backlog becomes a few transactions);
//!     `flush` / `close` resolve once everything accepted is committed; a failing backend is
//!     reported and replaced by memory so the chat goes on.
//!   * `storage`: the storage backends that call JS, kept here so the pure
//!     [`storage`](crate::storage) layer never names the shell: `IndexedDbStorage` (IndexedDB
//!     on web-sys, one database per user, schema migrations), [`JsKv`] (the JS
//!     `KeyValueStore`, e.g. `wx.setStorage`, as a [`KvBackend`](crate::storage::KvBackend)
//!     under the pure key-value layout) and [`AnyStorage`], the one type `persist` holds.
//!   * `chat`: `ChatClient` itself.
//!
//! # The driver loop (both shapes)
//!
//! Every input (a JS call, a socket event, the timer, a wake-up signal, resolved
//! credentials) is handed to the session with `now`, then:
//!
//! 1. drain `Session::poll_output` in order: `NeedCredentials` asks the credential source
//!    (or answers with the static username / password); `Open` creates transport number
//!    `n + 1`; `Transmit` writes to it; `Close` unhooks and closes it; `Event`s go to the
//!    listeners and promises (`mqtt_client.js`) or to the chat engine (`MqttDriver`);
//! 2. arm the timer for `Session::poll_timeout`; when it fires, `Session::handle_timeout`.
//!
//! Callbacks may call back into the client while the loop runs: what they do joins the
//! session's outputs, in order. Reports from a transport other than the current one are
//! ignored.
//!
//! Errors cross the boundary as JS `Error`s named `MqttError` with a stable `code`: the
//! codes are `error`'s, made into errors by `error` (ChatClient's options) or by
//! `mqtt_client.js`; nothing here panics on JS input.

#[cfg(feature = "browser-bench")]
mod bench;
#[cfg(feature = "chat")]
mod chat;
#[cfg(feature = "chat")]
mod client;
#[cfg(feature = "chat")]
mod clock;
mod error;
#[cfg(feature = "chat")]
mod js;
#[cfg(feature = "chat")]
mod options;
#[cfg(feature = "chat")]
mod persist;
#[cfg(mqtt_class)]
mod session_api;
#[cfg(feature = "chat")]
pub mod storage;
#[cfg(feature = "chat")]
pub(crate) mod task;
#[cfg(feature = "chat")]
mod timer;
#[cfg(feature = "chat")]
mod transport;
#[cfg(feature = "chat")]
mod wake;

#[cfg(feature = "browser-bench")]
pub use bench::BenchDecoder;
#[cfg(feature = "chat")]
pub use chat::ChatClient;
#[cfg(feature = "indexeddb")]
pub(crate) use error::describe;
#[cfg(feature = "chat")]
pub use persist::Persister;
#[cfg(mqtt_class)]
pub use session_api::{Input, Out};
#[cfg(feature = "chat")]
pub use storage::AnyStorage;
#[cfg(feature = "kv")]
pub use storage::JsKv;

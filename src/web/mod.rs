//! The wasm shell (wasm32 only): the thin platform layer that drives the sans-IO
//! [`Session`](crate::session::Session) in a browser (or any JS host) and exposes it to JS
//! as [`MqttClient`] (the class is exported without `chat` or with `mqtt-client`; the web
//! module's `ChatClient` drives it from Rust).
//!
//! It owns no protocol logic. It moves bytes between the session and a socket, keeps one
//! timer armed for the session's next deadline, reads the clock, and converts values at the
//! JS boundary:
//!
//! * `transport`: the default browser `WebSocket` (subprotocol `mqtt`, binary frames as
//!   `ArrayBuffer`), or any plain JS object with `send` / `close` / `onopen` / `onmessage` /
//!   `onclose` / `onerror` from the `transport` factory option (the WeChat mini-program's
//!   `wx.connectSocket` plugs in there).
//! * `timer`: one gloo-timers `Timeout` for the earliest deadline, replaced when it moves
//!   earlier; a spurious fire is a no-op by the session's contract.
//! * `clock`: `performance.now()` as monotonic milliseconds, `crypto.getRandomValues` as
//!   the jitter seed.
//! * `wake`: the window's `online` event and the page becoming visible call
//!   [`Session::wake`](crate::session::Session::wake): reconnect now instead of after the
//!   backoff wait.
//! * `persist`: the write path to storage — batches from the store are queued and
//!   coalesced while a transaction is in flight (a backlog becomes a few transactions);
//!   `flush` / `close` resolve once everything accepted is committed; a failing backend is
//!   reported and replaced by memory so the chat goes on.
//! * `storage`: the storage backends that call JS, kept here so the pure
//!   [`storage`](crate::storage) layer never names the shell: `IndexedDbStorage` (IndexedDB
//!   on web-sys, one database per user, schema migrations), [`JsKv`] (the JS
//!   `KeyValueStore`, e.g. `wx.setStorage`, as a [`KvBackend`](crate::storage::KvBackend)
//!   under the pure key-value layout) and [`AnyStorage`], the one type `persist` holds.
//! * `client`: `MqttClient` and the driver loop; `client::api`, the class as JS sees it
//!   (camelCase JS API, TypeScript types in the generated `.d.ts`), where the class is
//!   exported: without `chat`, or with the `mqtt-client` feature.
//!
//! # The driver loop
//!
//! Every input (a JS call, a socket event, the timer, a wake-up signal, resolved
//! credentials) is handed to the session with `now`, then:
//!
//! 1. drain `Session::poll_output` in order: `NeedCredentials` calls the `credentials`
//!    callback (or answers with the static username / password); `Open` creates transport
//!    number `n + 1`; `Transmit` writes to it; `Close` unhooks and closes it; `Event`s go
//!    to the JS listeners and settle the promises of `publish` / `subscribe` /
//!    `unsubscribe`;
//! 2. arm the timer for `Session::poll_timeout`; when it fires, `Session::handle_timeout`.
//!
//! Each step borrows the state only to decide what to do; the JS call happens after the
//! borrow is released, so callbacks may call back into the client. Reports from a transport
//! other than the current one are ignored.
//!
//! Errors cross the boundary as JS `Error`s named `MqttError` with a stable `code`
//! (`error`); nothing here panics on JS input.

#[cfg(feature = "browser-bench")]
mod bench;
#[cfg(feature = "chat")]
mod chat;
mod client;
mod clock;
mod error;
mod js;
mod options;
#[cfg(feature = "chat")]
mod persist;
#[cfg(feature = "chat")]
pub mod storage;
pub(crate) mod task;
mod timer;
mod transport;
mod wake;

#[cfg(feature = "browser-bench")]
pub use bench::BenchDecoder;
#[cfg(feature = "chat")]
pub use chat::ChatClient;
pub use client::MqttClient;
#[cfg(feature = "indexeddb")]
pub(crate) use error::describe;
#[cfg(feature = "chat")]
pub use persist::Persister;
#[cfg(feature = "chat")]
pub use storage::AnyStorage;
#[cfg(feature = "kv")]
pub use storage::JsKv;

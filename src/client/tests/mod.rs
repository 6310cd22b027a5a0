//! Deterministic tests of the chat engine: virtual time, a scripted backend and broker,
//! in-memory storage. Every scenario runs in direct and in backend mode where both apply.

mod harness;
// proptest is a native dev-dependency.
#[cfg(not(target_arch = "wasm32"))]
mod property;
mod robustness;
mod rooms;
mod scenarios;
mod tabs;

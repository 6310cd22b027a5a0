//! imcore: the client core of a chat app.
pub mod mqtt;
pub mod session;
#[cfg(target_arch = "wasm32")]
pub mod web;

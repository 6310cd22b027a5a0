//! The chat domain, pure Rust: no IO, no clock, no JS.
//!
//! * [`ids`]: users, messages and conversations (`a_b`, `room_{id}`).
//! * [`model`]: what a payload says once decoded ([`Incoming`]).
//! * [`payload`]: JSON (PROTOCOL.md) and protobuf (seed 001) payload codecs.
//! * [`clock`]: server-time calibration from round-trip samples and strictly increasing
//!   `weight`s.
//! * [`order`]: an ordered index with ranks, so an insertion reports its position in
//!   O(log n).
//! * [`api`]: the backend's HTTP contract (requests to make, answers to read).
//! * [`topics`]: `chat_{user}`, `room_{id}`, `presence_{user}` and presence payloads.
//! * [`store`]: conversations, messages in weight order, statuses, unread counts, read
//!   receipts, revokes, history merging and dedupe; every change yields UI events and
//!   records to persist.

pub mod api;
pub mod clock;
pub mod ids;
pub mod model;
pub mod order;
pub mod payload;
pub mod store;
pub mod topics;

pub use ids::{ConversationId, InvalidConversationId, ServerId, UserId};
pub use model::{Content, Incoming, WireMessage};

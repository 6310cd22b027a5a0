//! The chat domain, pure Rust: no IO, no clock, no JS.
//!
//! * [`ids`]: users, messages and conversations (`a_b`, `room_{id}`).
//! * [`model`]: what a payload says once decoded ([`Incoming`]).
//! * [`payload`]: JSON (PROTOCOL.md) and protobuf (seed 001) payload codecs.
//! * [`clock`]: server-time calibration from round-trip samples and strictly increasing
//!   `weight`s.
//! * [`order`]: an ordered index with ranks, so an insertion reports its position in
//!   O(log n).
//! * [`store`]: conversations, messages in weight order, statuses, unread counts, read
//!   receipts, revokes, history merging and dedupe; every change yields UI events and
//!   records to persist.

pub mod clock;
pub mod ids;
pub mod model;
pub mod order;
pub mod payload;
pub mod store;

pub use ids::{ConversationId, InvalidConversationId, ServerId, UserId};
pub use model::{Content, Incoming, WireMessage};

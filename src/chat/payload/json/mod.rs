//! The JSON payloads of PROTOCOL.md (seed 000), plus the room extensions (7, 8).
//!
//! ```text
//! 1–3, 7, other  {"id", "conversation_id"?, "sender_id", "receiver_id"?, "msg_type",
//!                 "msg_content", "weight", "is_read"?, "status"?, "avatar"?, "nick_name"?,
//!                 "create_time"? (ignored)}
//! 5 revoke       {"msg_id", "msg_type": 5, "conversation_id"}
//! 6 read         {"sender_id", "msg_type": 6, "is_read": 1, "conversation_id",
//!                 "weight"? | "read_weight"?}
//! 8 members      {"msg_type": 8, "conversation_id": "room_…", "members": [ids]}
//! ```
//!
//! Decoding is lenient where real backends differ: integers may be JSON numbers or
//! decimal strings (64-bit ids do not survive a JS `number`); `msg_content` may be an
//! object or a string holding one (the seed's DB stores it as text); `is_read` may be
//! 0/1 or a bool; `null` counts as absent; unknown fields are ignored. A message without
//! `conversation_id` is a 1:1 message between `sender_id` and `receiver_id`; a message
//! without `receiver_id` goes to the sender's peer (or the room). Encoding is canonical
//! and always writes both.

mod content;
mod decode;
mod encode;
#[cfg(test)]
mod tests;

use crate::chat::model::msg_type;

pub(crate) use content::{write_msg_content, ContentForm};
pub(super) use decode::decode;
pub(super) use encode::encode;

/// The largest integer a JavaScript `number` holds exactly: 2^53 − 1.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `status` of a revoked message.
const STATUS_REVOKED: i64 = 3;

/// The `msg_type`s this codec gives a meaning to; [`Content::Custom`](crate::chat::Content::Custom) cannot use them.
const KNOWN_TYPES: [i64; 7] = [
    msg_type::TEXT,
    msg_type::IMAGE,
    msg_type::VIDEO,
    msg_type::REVOKE,
    msg_type::READ,
    msg_type::SYSTEM,
    msg_type::MEMBERS,
];

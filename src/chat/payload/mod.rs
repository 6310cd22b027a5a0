//! Payload codecs: the bytes published on `chat_{user_id}` (or `room_{id}`) ⇄ [`Incoming`].
//!
//! Two formats, chosen per client ([`PayloadFormat`]):
//!
//! * **JSON** (seed 000, the default): the shapes of PROTOCOL.md, decoded leniently (ids
//!   as numbers or decimal strings, `msg_content` as an object or as a string holding
//!   one, unknown fields ignored) and encoded canonically (see [`encode`]).
//! * **Protobuf** (seed 001): a `Message { message_id, sender_id, content, create_time,
//!   receiver_id }` that carries 1:1 text messages only ([`ProtoMessage`]).
//!
//! Decoding never panics: malformed input is a [`PayloadError`], which the caller turns
//! into an error event before going on with the next payload.
//!
//! The round-trip law both codecs keep: whenever `encode(format, x)` succeeds,
//! `decode(format, &bytes) == Ok(x)`; and every value `decode` returns can be encoded
//! again in the same format. Values a format cannot carry exactly are refused with
//! [`PayloadError::NotExpressible`] rather than silently changed.

mod date;
mod json;
mod proto;

use thiserror::Error;

use super::ids::{ConversationId, InvalidConversationId, UserId};
use super::model::Incoming;

pub use date::utc_date_time;
pub(crate) use json::{write_msg_content, ContentForm};
pub use proto::Message as ProtoMessage;

/// The encoding of chat payloads, chosen per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PayloadFormat {
    /// The JSON objects of PROTOCOL.md (seed 000). The default.
    #[default]
    Json,
    /// The protobuf `Message` of seed 001: 1:1 text messages only.
    Protobuf,
}

/// Why a payload cannot be decoded, or a value cannot be encoded. Each variant names one
/// reason.
///
/// `field` values are the JSON field names of PROTOCOL.md (`"sender_id"`, `"weight"`, …);
/// strings carried for display (`found`, `reason`, serde's message) are meant for logs and
/// are not a stable interface.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    /// No bytes at all (or, in JSON, only whitespace).
    #[error("empty payload")]
    Empty,
    /// JSON whose top level is not an object (an array, a string, a number…).
    #[error("payload is not a JSON object")]
    NotAnObject,
    /// Not JSON, or a field of the wrong JSON type (a string where an object is expected,
    /// a duplicate field…): serde_json's message.
    #[error("malformed JSON payload: {0}")]
    Json(String),
    /// Bytes that are not a protobuf `Message` of seed 001.
    #[error("malformed protobuf payload: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A field this `msg_type` needs is absent (or `null`).
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A numeric field holds something other than an integer in range, written as a JSON
    /// number or a decimal string.
    #[error("field `{field}` is not an integer in range: {found}")]
    BadNumber {
        /// The JSON field name (`"members"` for an element of the member list).
        field: &'static str,
        /// The offending value, abridged.
        found: String,
    },
    /// A flag (`is_read`) holds something other than `true`/`false`/`0`/`1`.
    #[error("field `{field}` is not a flag (true, false, 0 or 1): {found}")]
    BadFlag {
        /// The JSON field name.
        field: &'static str,
        /// The offending value, abridged.
        found: String,
    },
    /// `conversation_id` is neither `"{low}_{high}"` nor `"room_{id}"`.
    #[error("bad conversation_id: {0}")]
    BadConversationId(#[from] InvalidConversationId),
    /// `msg_content` of a text, image, video or system message lacks its fields or is not
    /// an object (nor a string holding one).
    #[error("bad msg_content of a msg_type {msg_type} message: {reason}")]
    BadContent {
        /// The message's `msg_type`.
        msg_type: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// A 1:1 message from a user to themself (PROTOCOL.md: the backend forbids it).
    #[error("user {0} cannot message themself")]
    SelfMessage(UserId),
    /// `sender_id` → `receiver_id` is not the route of `conversation_id`: in a 1:1
    /// conversation the receiver must be the sender's peer; in a room, the room id.
    #[error("a message from {sender_id} to {receiver_id} does not belong to {conversation_id}")]
    ConversationMismatch {
        /// The conversation the payload names.
        conversation_id: ConversationId,
        /// The payload's sender.
        sender_id: UserId,
        /// The payload's receiver.
        receiver_id: u64,
    },
    /// A 1:1 message or read receipt whose sender is neither member of the conversation.
    #[error("user {user_id} is not a member of {conversation_id}")]
    NotAMember {
        /// The conversation the payload names.
        conversation_id: ConversationId,
        /// The payload's `sender_id`.
        user_id: UserId,
    },
    /// A member list (msg_type 8) for a 1:1 conversation.
    #[error("member list for {0}, which is not a room")]
    NotARoom(ConversationId),
    /// The value cannot travel in this format without changing (protobuf carries text
    /// messages only; a custom `msg_type` cannot reuse a known one…).
    #[error("{what} cannot be expressed as a {format:?} payload")]
    NotExpressible {
        /// The format asked for.
        format: PayloadFormat,
        /// What it cannot carry.
        what: &'static str,
    },
}

/// Decodes one payload received on a chat topic.
///
/// JSON: see the shapes in PROTOCOL.md; `msg_type` 5 is a [`Incoming::Revoke`], 6 an
/// [`Incoming::Read`], 8 an [`Incoming::Members`], anything else an
/// [`Incoming::Message`] (1 text, 2 image, 3 video, 7 system notice, other values
/// [`Content::Custom`](super::model::Content::Custom) with the `msg_content` JSON text kept
/// verbatim). Protobuf: always a 1:1 text [`Incoming::Message`], `weight` = `create_time`.
pub fn decode(format: PayloadFormat, bytes: &[u8]) -> Result<Incoming, PayloadError> {
    match format {
        PayloadFormat::Json => json::decode(bytes),
        PayloadFormat::Protobuf => proto::decode(bytes),
    }
}

/// Encodes a payload for direct mode, where clients publish to each other.
///
/// JSON writes the shapes of PROTOCOL.md: ids (and `weight`, `msg_type`, member ids) as
/// JSON numbers up to 2^53 − 1 and as decimal strings above, so a JavaScript peer never
/// loses precision; `sender_name` / `sender_avatar` as `nick_name` / `avatar`; `is_read`
/// as 0/1; `status: 3` only for a revoked message; `create_time` as the UTC
/// `"YYYY-MM-DD HH:MM:SS"` of `weight` (informational: decoders ignore it); a read
/// receipt's `up_to_weight` as `weight`.
///
/// Protobuf carries 1:1 text messages that are neither read nor revoked and carry no
/// sender name or avatar; anything else is [`PayloadError::NotExpressible`].
///
/// Values that would not decode back to themselves are refused: a message whose
/// conversation does not match its sender and receiver, a read receipt from a non-member,
/// a member list of a 1:1 conversation, custom content reusing a known `msg_type` or whose
/// `raw` is not exactly one JSON value (custom `raw` is written verbatim, and the decoder
/// keeps a custom `msg_content` verbatim too, so forwarding loses nothing).
pub fn encode(format: PayloadFormat, incoming: &Incoming) -> Result<Vec<u8>, PayloadError> {
    match format {
        PayloadFormat::Json => json::encode(incoming),
        PayloadFormat::Protobuf => proto::encode(incoming),
    }
}

/// Checks that `sender_id` → `receiver_id` is a route of `conversation_id`.
fn check_route(
    conversation_id: ConversationId,
    sender_id: UserId,
    receiver_id: u64,
) -> Result<(), PayloadError> {
    match conversation_id {
        ConversationId::Direct { .. } => {
            if sender_id == receiver_id {
                return Err(PayloadError::SelfMessage(sender_id));
            }
            match conversation_id.peer_of(sender_id) {
                None => Err(PayloadError::NotAMember {
                    conversation_id,
                    user_id: sender_id,
                }),
                Some(peer) if peer != receiver_id => Err(PayloadError::ConversationMismatch {
                    conversation_id,
                    sender_id,
                    receiver_id,
                }),
                Some(_) => Ok(()),
            }
        }
        ConversationId::Room(room) if room != receiver_id => {
            Err(PayloadError::ConversationMismatch {
                conversation_id,
                sender_id,
                receiver_id,
            })
        }
        ConversationId::Room(_) => Ok(()),
    }
}

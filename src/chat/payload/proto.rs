//! The protobuf payload of seed 001: one 1:1 text message per payload.
//!
//! ```proto
//! message Message {
//!   uint64 message_id = 1;
//!   uint64 sender_id = 2;
//!   string content = 3;
//!   uint64 create_time = 4;
//!   uint64 receiver_id = 5;
//! }
//! ```
//!
//! `create_time` is the message's `weight` (calibrated Unix ms). The seed declares every
//! field `required` (proto2); prost reads an absent field as 0 or `""`, which this codec
//! accepts (an empty payload excepted).

use prost::Message as _;

use super::{check_route, PayloadError, PayloadFormat};
use crate::chat::ids::ConversationId;
use crate::chat::model::{Content, Incoming, WireMessage};

/// The protobuf `Message` of seed 001, written by hand (no `protoc` in the build).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    /// The server's message id.
    #[prost(uint64, tag = "1")]
    pub message_id: u64,
    /// The sending user.
    #[prost(uint64, tag = "2")]
    pub sender_id: u64,
    /// The text of the message.
    #[prost(string, tag = "3")]
    pub content: String,
    /// The weight of the message: calibrated Unix ms of the send.
    #[prost(uint64, tag = "4")]
    pub create_time: u64,
    /// The receiving user.
    #[prost(uint64, tag = "5")]
    pub receiver_id: u64,
}

/// Decodes a seed 001 `Message` into a 1:1 text message.
pub(super) fn decode(bytes: &[u8]) -> Result<Incoming, PayloadError> {
    if bytes.is_empty() {
        return Err(PayloadError::Empty);
    }
    let m = Message::decode(bytes)?;
    let conversation_id = ConversationId::direct(m.sender_id, m.receiver_id)
        .ok_or(PayloadError::SelfMessage(m.sender_id))?;
    Ok(Incoming::Message(WireMessage {
        id: m.message_id,
        conversation_id,
        sender_id: m.sender_id,
        receiver_id: m.receiver_id,
        content: Content::Text { text: m.content },
        weight: m.create_time,
        is_read: false,
        revoked: false,
        sender_name: None,
        sender_avatar: None,
    }))
}

/// Encodes a 1:1 text message; anything else is not expressible.
pub(super) fn encode(incoming: &Incoming) -> Result<Vec<u8>, PayloadError> {
    let not = |what| PayloadError::NotExpressible {
        format: PayloadFormat::Protobuf,
        what,
    };
    let m = match incoming {
        Incoming::Message(m) => m,
        Incoming::Revoke { .. } => return Err(not("a revoke")),
        Incoming::Read { .. } => return Err(not("a read receipt")),
        Incoming::Members { .. } => return Err(not("a member list")),
    };
    let text = match &m.content {
        Content::Text { text } => text,
        Content::Image { .. } => return Err(not("an image message")),
        Content::Video { .. } => return Err(not("a video message")),
        Content::System { .. } => return Err(not("a system notice")),
        Content::Custom { .. } => return Err(not("a custom message")),
    };
    if let ConversationId::Room(_) = m.conversation_id {
        return Err(not("a room message"));
    }
    check_route(m.conversation_id, m.sender_id, m.receiver_id)?;
    if m.is_read {
        return Err(not("a read flag"));
    }
    if m.revoked {
        return Err(not("a revoked status"));
    }
    if m.sender_name.is_some() || m.sender_avatar.is_some() {
        return Err(not("a sender name or avatar"));
    }
    Ok(Message {
        message_id: m.id,
        sender_id: m.sender_id,
        content: text.clone(),
        create_time: m.weight,
        receiver_id: m.receiver_id,
    }
    .encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::payload::{decode as decode_as, encode as encode_as};

    const P: PayloadFormat = PayloadFormat::Protobuf;

    fn text(id: u64, from: u64, to: u64, text: &str, weight: u64) -> Incoming {
        let conversation = ConversationId::direct(from, to).unwrap();
        let m = crate::test_support::text_message(id, conversation, from, to, text, weight);
        Incoming::Message(m)
    }

    #[test]
    fn decodes_a_seed_message_with_64_bit_ids() {
        let big = (1u64 << 63) + 12345;
        let bytes = Message {
            message_id: big,
            sender_id: u64::MAX,
            content: "你好".into(),
            create_time: 1_717_214_400_123,
            receiver_id: 2,
        }
        .encode_to_vec();
        assert_eq!(
            decode_as(P, &bytes),
            Ok(text(big, u64::MAX, 2, "你好", 1_717_214_400_123))
        );
    }

    #[test]
    fn hand_written_bytes_match_the_schema() {
        // message_id 1 = 7, sender_id 2 = 1, content 3 = "hi", create_time 4 = 300,
        // receiver_id 5 = 2, plus an unknown field 9 (varint 1) that is skipped.
        let bytes = b"\x08\x07\x10\x01\x1a\x02hi\x20\xac\x02\x28\x02\x48\x01";
        assert_eq!(decode_as(P, bytes), Ok(text(7, 1, 2, "hi", 300)));
        assert_eq!(
            encode_as(P, &text(7, 1, 2, "hi", 300)).unwrap(),
            &bytes[..bytes.len() - 2]
        );
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert_eq!(decode_as(P, b""), Err(PayloadError::Empty));
        // sender 3 to receiver 3, and all-default fields (0 to 0)
        assert_eq!(
            decode_as(P, b"\x10\x03\x28\x03"),
            Err(PayloadError::SelfMessage(3))
        );
        assert_eq!(decode_as(P, b"\x08\x01"), Err(PayloadError::SelfMessage(0)));
        for bad in [
            &b"\x08"[..],                                        // truncated varint
            b"\x1a\x05hi",                                       // string longer than the payload
            b"\x1a\x02\xff\xfe",                                 // invalid UTF-8
            b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", // 11-byte varint
            b"\x0f",                                             // wire type 7
            b"\x00",                                             // field number 0
            b"\x0a\x01\x00",                                     // message_id as length-delimited
        ] {
            assert!(
                matches!(decode_as(P, bad), Err(PayloadError::Protobuf(_))),
                "{bad:?}: {:?}",
                decode_as(P, bad)
            );
        }
    }

    #[test]
    fn only_plain_direct_text_is_expressible() {
        let base = text(1, 1, 2, "hi", 5);
        let Incoming::Message(m) = base.clone() else {
            unreachable!()
        };
        let not = |what| Err(PayloadError::NotExpressible { format: P, what });
        let cid = m.conversation_id;
        let cases: Vec<(Incoming, Result<Vec<u8>, PayloadError>)> = vec![
            (
                Incoming::Revoke {
                    msg_id: 1,
                    conversation_id: cid,
                },
                not("a revoke"),
            ),
            (
                Incoming::Read {
                    sender_id: 1,
                    conversation_id: cid,
                    up_to_weight: None,
                },
                not("a read receipt"),
            ),
            (
                Incoming::Members {
                    conversation_id: ConversationId::Room(1),
                    members: vec![],
                },
                not("a member list"),
            ),
            (
                Incoming::Message(WireMessage {
                    content: Content::Image {
                        url: "u".into(),
                        cover: None,
                    },
                    ..m.clone()
                }),
                not("an image message"),
            ),
            (
                Incoming::Message(WireMessage {
                    content: Content::Custom {
                        msg_type: 42,
                        raw: "{}".into(),
                    },
                    ..m.clone()
                }),
                not("a custom message"),
            ),
            (
                Incoming::Message(WireMessage {
                    conversation_id: ConversationId::Room(2),
                    ..m.clone()
                }),
                not("a room message"),
            ),
            (
                Incoming::Message(WireMessage {
                    is_read: true,
                    ..m.clone()
                }),
                not("a read flag"),
            ),
            (
                Incoming::Message(WireMessage {
                    revoked: true,
                    ..m.clone()
                }),
                not("a revoked status"),
            ),
            (
                Incoming::Message(WireMessage {
                    sender_avatar: Some("a".into()),
                    ..m.clone()
                }),
                not("a sender name or avatar"),
            ),
            (
                Incoming::Message(WireMessage {
                    receiver_id: 1,
                    ..m.clone()
                }),
                Err(PayloadError::SelfMessage(1)),
            ),
            (
                Incoming::Message(WireMessage {
                    receiver_id: 3,
                    ..m.clone()
                }),
                Err(PayloadError::ConversationMismatch {
                    conversation_id: cid,
                    sender_id: 1,
                    receiver_id: 3,
                }),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(encode_as(P, &value), expected, "{value:?}");
        }
        assert_eq!(decode_as(P, &encode_as(P, &base).unwrap()), Ok(base));
    }
}

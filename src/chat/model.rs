//! What a chat payload says, once decoded: the input of the store.

use std::sync::Arc;

use super::ids::{ConversationId, ServerId, UserId};
use crate::json::{self, Doc, FromJson, Id, ToJson, Writer};

/// `msg_type` values of PROTOCOL.md, plus the room extensions (7, 8).
pub mod msg_type {
    pub const TEXT: i64 = 1;
    pub const IMAGE: i64 = 2;
    pub const VIDEO: i64 = 3;
    pub const REVOKE: i64 = 5;
    pub const READ: i64 = 6;
    /// A room system notice (someone joined or left), `msg_content: {"content": "…"}`.
    pub const SYSTEM: i64 = 7;
    /// A room's member list, `{"msg_type": 8, "conversation_id": "room_1", "members": [1, 2]}`.
    pub const MEMBERS: i64 = 8;
}

/// The content of a message.
///
/// Stored as serde's externally tagged form: `{"text":{"text":"hi"}}`,
/// `{"image":{"url":"u","cover":null}}`, `{"custom":{"msg_type":42,"raw":"…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Content {
    Text {
        text: String,
    },
    Image {
        url: String,
        cover: Option<String>,
    },
    Video {
        url: String,
        cover: Option<String>,
    },
    /// A room notice such as "alice joined".
    System {
        text: String,
    },
    /// A `msg_type` this version does not know: kept with its raw `msg_content` JSON, so a
    /// newer sender's message is shown as "unsupported" rather than lost.
    Custom {
        msg_type: i64,
        raw: String,
    },
}

impl Content {
    /// The `msg_type` this content travels as.
    pub fn msg_type(&self) -> i64 {
        match self {
            Content::Text { .. } => msg_type::TEXT,
            Content::Image { .. } => msg_type::IMAGE,
            Content::Video { .. } => msg_type::VIDEO,
            Content::System { .. } => msg_type::SYSTEM,
            Content::Custom { msg_type, .. } => *msg_type,
        }
    }
}

impl ToJson for Content {
    fn write(&self, w: &mut Writer) {
        w.open('{');
        match self {
            Content::Text { text } | Content::System { text } => {
                w.key(if matches!(self, Content::Text { .. }) {
                    "text"
                } else {
                    "system"
                });
                w.open('{');
                w.key("text");
                w.str(text);
            }
            Content::Image { url, cover } | Content::Video { url, cover } => {
                w.key(if matches!(self, Content::Image { .. }) {
                    "image"
                } else {
                    "video"
                });
                w.open('{');
                w.key("url");
                w.str(url);
                w.key("cover");
                cover.write(w);
            }
            Content::Custom { msg_type, raw } => {
                w.key("custom");
                w.open('{');
                w.key("msg_type");
                w.i64(*msg_type);
                w.key("raw");
                w.str(raw);
            }
        }
        w.close('}');
        w.close('}');
    }
}

impl FromJson for Content {
    fn read(doc: &Doc<'_>, n: Id) -> Result<Self, json::Error> {
        let (name, value) = doc.variant(n, "Content")?;
        let names: &[&str] = match name.as_str() {
            "text" | "system" => &["text"],
            "image" | "video" => &["url", "cover"],
            "custom" => &["msg_type", "raw"],
            other => {
                return Err(doc.unknown_variant(
                    n,
                    other,
                    "one of `text`, `image`, `video`, `system`, `custom`",
                ))
            }
        };
        let v = doc.variant_value(n, value)?;
        let f = doc.fields(v, "variant", names)?;
        Ok(match name.as_str() {
            "text" | "system" => {
                let text = doc.string(f.req(doc, 0, "text")?)?;
                if name == "text" {
                    Content::Text { text }
                } else {
                    Content::System { text }
                }
            }
            "image" | "video" => {
                let url = doc.string(f.req(doc, 0, "url")?)?;
                let cover = match f.opt(doc, 1)? {
                    Some(c) => Option::<String>::read(doc, c)?,
                    None => None,
                };
                if name == "image" {
                    Content::Image { url, cover }
                } else {
                    Content::Video { url, cover }
                }
            }
            _ => Content::Custom {
                msg_type: doc.i64(f.req(doc, 0, "msg_type")?)?,
                raw: doc.string(f.req(doc, 1, "raw")?)?,
            },
        })
    }
}

/// A message as the backend (HTTP) or a peer (MQTT) describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireMessage {
    pub id: ServerId,
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    /// The peer of a 1:1 message, or the room id.
    pub receiver_id: u64,
    pub content: Content,
    /// Calibrated Unix ms of the send: the order of the conversation.
    pub weight: u64,
    /// Read by its receiver (history pages say so).
    pub is_read: bool,
    /// Revoked (history pages may carry status 3).
    pub revoked: bool,
    /// `Arc`, as the store keeps them: decoded once into the one copy every message of
    /// the store, its events and its conversation's newest share.
    pub sender_name: Option<Arc<str>>,
    pub sender_avatar: Option<Arc<str>>,
}

/// One decoded payload from the user's topic (or a room topic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Message types 1–3, 7 and unknown ones.
    Message(WireMessage),
    /// Type 5: `msg_id` in `conversation_id` was revoked by its sender.
    Revoke {
        msg_id: ServerId,
        conversation_id: ConversationId,
    },
    /// Type 6: every message `sender_id` sent in `conversation_id` up to `up_to_weight` is
    /// read by its peer. The payload of PROTOCOL.md carries no position: the decoder takes
    /// `weight` (or `read_weight`) when present, else the caller supplies the calibrated
    /// time of receipt.
    Read {
        sender_id: UserId,
        conversation_id: ConversationId,
        up_to_weight: Option<u64>,
    },
    /// Type 8: the members of a room.
    Members {
        conversation_id: ConversationId,
        members: Vec<UserId>,
    },
}

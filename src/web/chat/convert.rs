//! Records of the store as the plain JS objects of `chat_client.d.ts`. Ids become decimal
//! strings (64-bit safe); weights are numbers (Unix ms stay below 2^53).

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

use crate::chat::store::{ConversationSummary, MessageRef, Status, StoredMessage};
use crate::chat::{Content, ConversationId, UserId};
use crate::session;

/// `{ key: value, … }`.
pub(super) fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (key, value) in fields {
        // Defining a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &(*key).into(), value);
    }
    o.into()
}

fn opt_str(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from)
}

/// The UI key of a message: the local id it was sent with, else its server id.
pub(super) fn key_of(id: &MessageRef, local_id: Option<&str>) -> String {
    match (local_id, id) {
        (Some(local), _) => local.to_string(),
        (None, MessageRef::Local(local)) => local.clone(),
        (None, MessageRef::Server(id)) => id.to_string(),
    }
}

pub(super) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Sending => "sending",
        Status::Sent => "sent",
        Status::Failed => "failed",
        Status::Revoked => "revoked",
    }
}

pub(super) fn message(m: &StoredMessage, me: UserId) -> JsValue {
    let (kind, text, url, cover, raw) = match &m.content {
        Some(Content::Text { text }) => ("text", Some(text.as_str()), None, None, None),
        Some(Content::System { text }) => ("system", Some(text.as_str()), None, None, None),
        Some(Content::Image { url, cover }) => {
            ("image", None, Some(url.as_str()), cover.as_deref(), None)
        }
        Some(Content::Video { url, cover }) => {
            ("video", None, Some(url.as_str()), cover.as_deref(), None)
        }
        Some(Content::Custom { raw, .. }) => ("custom", None, None, None, Some(raw.as_str())),
        None => ("text", None, None, None, None),
    };
    let msg_type = m.content.as_ref().map_or(1, Content::msg_type);
    let id = m
        .server_id()
        .map_or(JsValue::NULL, |id| id.to_string().into());
    object(&[
        ("key", key_of(&m.key.id, m.local_id.as_deref()).into()),
        ("id", id),
        ("localId", opt_str(m.local_id.as_deref())),
        ("conversationId", m.conversation_id.to_string().into()),
        ("senderId", m.sender_id().to_string().into()),
        ("receiverId", m.receiver_id.to_string().into()),
        ("kind", kind.into()),
        ("msgType", (msg_type as f64).into()),
        ("text", opt_str(text)),
        ("url", opt_str(url)),
        ("cover", opt_str(cover)),
        ("raw", opt_str(raw)),
        ("weight", (m.weight() as f64).into()),
        ("status", status_name(m.status).into()),
        ("mine", (m.sender_id() == me).into()),
        ("read", m.read.into()),
        ("revoked", m.is_revoked().into()),
        ("senderName", opt_str(m.sender_name.as_deref())),
        ("senderAvatar", opt_str(m.sender_avatar.as_deref())),
    ])
}

pub(super) fn messages(list: &[StoredMessage], me: UserId) -> JsValue {
    list.iter()
        .map(|m| message(m, me))
        .collect::<Array>()
        .into()
}

pub(super) fn conversation(c: &ConversationSummary, me: UserId) -> JsValue {
    let (kind, peer) = match c.id {
        ConversationId::Room(id) => ("room", id),
        direct => ("direct", direct.peer_of(me).unwrap_or(0)),
    };
    let members: Array = c
        .members
        .iter()
        .map(|m| JsValue::from(m.to_string()))
        .collect();
    object(&[
        ("id", c.id.to_string().into()),
        ("kind", kind.into()),
        ("peerId", peer.to_string().into()),
        (
            "lastMessage",
            c.last_message
                .as_ref()
                .map_or(JsValue::NULL, |m| message(m, me)),
        ),
        ("lastActivity", (c.last_activity as f64).into()),
        ("unread", c.unread.into()),
        ("members", members.into()),
    ])
}

pub(super) fn conversations(list: &[ConversationSummary], me: UserId) -> JsValue {
    list.iter()
        .map(|c| conversation(c, me))
        .collect::<Array>()
        .into()
}

/// The status name and the seed's code (0 not connected, 1 config fetched, 10 connected,
/// 20 offline).
pub(super) fn status(status: Option<session::Status>) -> JsValue {
    let (name, code) = match status {
        None => ("closed", 0),
        Some(s) => {
            let code = match s {
                session::Status::Idle | session::Status::FetchingCredentials => 0,
                session::Status::Connecting => 1,
                session::Status::Connected => 10,
                session::Status::Reconnecting | session::Status::Offline => 20,
            };
            (s.name(), code)
        }
    };
    object(&[("status", name.into()), ("code", code.into())])
}

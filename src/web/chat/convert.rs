//! Records of the store, events and errors as the plain JS objects of `chat_client.d.ts`. Ids become decimal
//! strings (64-bit safe); weights are numbers (Unix ms stay below 2^53).

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

use crate::chat::store::{ConversationSummary, Status, StoredMessage};
use crate::chat::{Content, ConversationId};
use crate::client::{key_of, ChatEngine, ChatError, ChatEvent, ErrorCode};
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

pub(super) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Sending => "sending",
        Status::Sent => "sent",
        Status::Failed => "failed",
        Status::Revoked => "revoked",
    }
}

/// A message; `e` knows who I am and who has read my room messages.
pub(super) fn message(m: &StoredMessage, e: &ChatEngine) -> JsValue {
    let me = e.me();
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
    let read_by: Array = e
        .read_by(m)
        .iter()
        .map(|u| JsValue::from(u.to_string()))
        .collect();
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
        ("readBy", read_by.into()),
    ])
}

pub(super) fn messages(list: &[StoredMessage], e: &ChatEngine) -> JsValue {
    list.iter().map(|m| message(m, e)).collect::<Array>().into()
}

pub(super) fn conversation(c: &ConversationSummary, e: &ChatEngine) -> JsValue {
    let me = e.me();
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
                .map_or(JsValue::NULL, |m| message(m, e)),
        ),
        ("lastActivity", (c.last_activity as f64).into()),
        ("unread", c.unread.into()),
        ("members", members.into()),
    ])
}

pub(super) fn conversations(list: &[ConversationSummary], e: &ChatEngine) -> JsValue {
    list.iter()
        .map(|c| conversation(c, e))
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
    // A client of the wasm module holds its connection; the package's tab layer says
    // "follower" in the tabs it serves.
    object(&[
        ("status", name.into()),
        ("code", code.into()),
        ("role", "leader".into()),
    ])
}

/// A JS `Error` named `ChatError` with a stable `code` (and the backend's `backendCode`).
pub(super) fn error(e: &ChatError) -> JsValue {
    let error = code_error(e.code.name(), &e.message);
    if let ErrorCode::Backend(code) = e.code {
        let _ = Reflect::set(&error, &"backendCode".into(), &(code as f64).into());
    }
    error
}

/// A JS `Error` named `ChatError` with this `code`.
pub(super) fn code_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("ChatError");
    let _ = Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

/// The `ChatEventMap` name of an event.
pub(super) fn event_name(event: &ChatEvent) -> &'static str {
    match event {
        ChatEvent::Status(_) => "status",
        ChatEvent::Message { .. } => "message",
        ChatEvent::MessageUpdated { .. } => "messageUpdated",
        ChatEvent::MessageRemoved { .. } => "messageRemoved",
        ChatEvent::Conversations => "conversations",
        ChatEvent::UnreadTotal(_) => "unreadTotal",
        ChatEvent::Revoke { .. } => "revoke",
        ChatEvent::Read { .. } => "read",
        ChatEvent::Presence { .. } => "presence",
        ChatEvent::Error(_) => "error",
    }
}

fn message_event(
    conversation: ConversationId,
    index: usize,
    m: &StoredMessage,
    e: &ChatEngine,
) -> JsValue {
    object(&[
        ("conversationId", conversation.to_string().into()),
        ("index", (index as f64).into()),
        ("message", message(m, e)),
    ])
}

/// The value listeners of an event receive (`conversations` is read from the engine by the
/// caller).
pub(super) fn event(event: &ChatEvent, e: &ChatEngine) -> JsValue {
    match event {
        ChatEvent::Status(s) => status(*s),
        ChatEvent::Message {
            conversation,
            index,
            message,
        }
        | ChatEvent::MessageUpdated {
            conversation,
            index,
            message,
        } => message_event(*conversation, *index, message, e),
        ChatEvent::MessageRemoved {
            conversation,
            index,
            key,
        } => object(&[
            ("conversationId", conversation.to_string().into()),
            ("index", (*index as f64).into()),
            ("key", key.as_str().into()),
        ]),
        ChatEvent::Conversations => Array::new().into(),
        ChatEvent::UnreadTotal(n) => (*n as f64).into(),
        ChatEvent::Revoke { conversation, id } => object(&[
            ("conversationId", conversation.to_string().into()),
            ("id", id.to_string().into()),
        ]),
        ChatEvent::Read {
            conversation,
            reader,
            up_to,
        } => object(&[
            ("conversationId", conversation.to_string().into()),
            ("readerId", reader.to_string().into()),
            ("upToWeight", (*up_to as f64).into()),
        ]),
        ChatEvent::Presence { user, online } => object(&[
            ("userId", user.to_string().into()),
            ("online", (*online).into()),
        ]),
        ChatEvent::Error(e) => error(e),
    }
}

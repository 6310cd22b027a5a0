//! Records of the store, events and errors as the plain JS objects of `chat_client.d.ts`. Ids become decimal
//! strings (64-bit safe); weights are numbers (Unix ms stay below 2^53).

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

use crate::chat::store::{ConversationSummary, Status, StoredMessage};
use crate::chat::{Content, ConversationId};
use crate::client::{key_of, ChatEngine, ChatError, ChatEvent, ErrorCode};
use crate::json::Writer;
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

/// A value written as JSON and read back by `JSON.parse`: one string crosses the boundary
/// and V8's parser builds the objects. Setting each property from Rust cost two crossings
/// and a `TextDecoder` call per key and per string value, ~25 µs per message (a
/// 10,000-message backlog spent a third of its time there: `scripts/bench-browser.sh
/// --only backlog --profile FILE`).
/// The text is written here, so it parses; `null` should it not.
fn parse(w: Writer) -> JsValue {
    js_sys::JSON::parse(&w.out).unwrap_or(JsValue::NULL)
}

/// Room a writer of an event starts with: a message is some 500 bytes of JSON.
const EVENT_BYTES: usize = 1024;

fn opt_str(w: &mut Writer, s: Option<&str>) {
    match s {
        Some(s) => w.str(s),
        None => w.null(),
    }
}

/// A decimal id as a JS string (64-bit safe).
fn id_str(w: &mut Writer, id: impl std::fmt::Display) {
    w.display(id);
}

pub(super) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Sending => "sending",
        Status::Sent => "sent",
        Status::Failed => "failed",
        Status::Revoked => "revoked",
    }
}

/// A message; `e` knows who I am and who has read my room messages. Weights are numbers:
/// JSON.parse rounds an integer above 2^53 to the nearest double, as `as f64` does.
fn write_message(w: &mut Writer, m: &StoredMessage, e: &ChatEngine) {
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
    w.open('{');
    w.key("key");
    w.str(&key_of(&m.key.id, m.local_id.as_deref()));
    w.key("id");
    match m.server_id() {
        Some(id) => id_str(w, id),
        None => w.null(),
    }
    w.key("localId");
    opt_str(w, m.local_id.as_deref());
    w.key("conversationId");
    id_str(w, m.conversation_id);
    w.key("senderId");
    id_str(w, m.sender_id());
    w.key("receiverId");
    id_str(w, m.receiver_id);
    w.key("kind");
    w.str(kind);
    w.key("msgType");
    w.i64(msg_type);
    w.key("text");
    opt_str(w, text);
    w.key("url");
    opt_str(w, url);
    w.key("cover");
    opt_str(w, cover);
    w.key("raw");
    opt_str(w, raw);
    w.key("weight");
    w.u64(m.weight());
    w.key("status");
    w.str(status_name(m.status));
    w.key("mine");
    w.bool(m.sender_id() == me);
    w.key("read");
    w.bool(m.read);
    w.key("revoked");
    w.bool(m.is_revoked());
    w.key("senderName");
    opt_str(w, m.sender_name.as_deref());
    w.key("senderAvatar");
    opt_str(w, m.sender_avatar.as_deref());
    w.key("readBy");
    w.open('[');
    for u in e.read_by(m).iter() {
        w.item();
        id_str(w, u);
    }
    w.close(']');
    w.close('}');
}

/// A message; `e` knows who I am and who has read my room messages.
pub(super) fn message(m: &StoredMessage, e: &ChatEngine) -> JsValue {
    let mut w = Writer::with_capacity(EVENT_BYTES);
    write_message(&mut w, m, e);
    parse(w)
}

/// A JSON array of `list`, each item written by `write`, parsed.
fn array<T>(list: &[T], write: impl Fn(&mut Writer, &T)) -> JsValue {
    let mut w = Writer::with_capacity(list.len().saturating_add(1).saturating_mul(EVENT_BYTES / 2));
    w.open('[');
    for x in list {
        w.item();
        write(&mut w, x);
    }
    w.close(']');
    parse(w)
}

pub(super) fn messages(list: &[StoredMessage], e: &ChatEngine) -> JsValue {
    array(list, |w, m| write_message(w, m, e))
}

fn write_conversation(w: &mut Writer, c: &ConversationSummary, e: &ChatEngine) {
    let me = e.me();
    let (kind, peer) = match c.id {
        ConversationId::Room(id) => ("room", id),
        direct => ("direct", direct.peer_of(me).unwrap_or(0)),
    };
    w.open('{');
    w.key("id");
    id_str(w, c.id);
    w.key("kind");
    w.str(kind);
    w.key("peerId");
    id_str(w, peer);
    w.key("lastMessage");
    match &c.last_message {
        Some(m) => write_message(w, m, e),
        None => w.null(),
    }
    w.key("lastActivity");
    w.u64(c.last_activity);
    w.key("unread");
    w.u64(u64::from(c.unread));
    w.key("members");
    w.open('[');
    for m in &c.members {
        w.item();
        id_str(w, m);
    }
    w.close(']');
    w.close('}');
}

pub(super) fn conversations(list: &[ConversationSummary], e: &ChatEngine) -> JsValue {
    array(list, |w, c| write_conversation(w, c, e))
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
    let mut w = Writer::with_capacity(EVENT_BYTES);
    w.open('{');
    w.key("conversationId");
    id_str(&mut w, conversation);
    w.key("index");
    w.u64(index as u64);
    w.key("message");
    write_message(&mut w, m, e);
    w.close('}');
    parse(w)
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

//! Records of the store, events and errors as the plain JS objects of `chat_client.d.ts`. Ids become decimal
//! strings (64-bit safe); weights are numbers (Unix ms stay below 2^53). Messages and
//! conversations, the many, cross as tapes (`tape`).

use js_sys::{Array, Reflect};
use wasm_bindgen::JsValue;

use super::tape::{Shape, Tape};
use crate::chat::store::{ConversationSummary, Status, StoredMessage};
use crate::client::{ChatEngine, ChatError, ChatEvent, ErrorCode};
use crate::session;
use crate::web::js::object;

/// A message; `e` knows who I am and who has read my room messages.
pub(super) fn message(m: &StoredMessage, e: &ChatEngine) -> JsValue {
    let mut t = Tape::new(Shape::Message, 1, e);
    t.push_message(m);
    t.finish().get(0)
}

/// Messages, as an array.
pub(super) fn messages(list: &[StoredMessage], e: &ChatEngine) -> JsValue {
    let mut t = Tape::new(Shape::Message, list.len(), e);
    for m in list {
        t.push_message(m);
    }
    t.finish().into()
}

/// The conversation list, as an array.
pub(super) fn conversations(list: &[ConversationSummary], e: &ChatEngine) -> JsValue {
    let mut t = Tape::new(Shape::Conversation, list.len(), e);
    for c in list {
        t.push_conversation(c);
    }
    t.finish().into()
}

pub(super) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Sending => "sending",
        Status::Sent => "sent",
        Status::Failed => "failed",
        Status::Revoked => "revoked",
    }
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

/// The `MessageEvent`s of `events` (each a `Message` or `MessageUpdated`), in order, as
/// an array: a run of them crosses to JS as one tape.
pub(super) fn message_events(events: &[&ChatEvent], e: &ChatEngine) -> Array {
    let mut t = Tape::new(Shape::Event, events.len(), e);
    for event in events {
        if let ChatEvent::Message {
            conversation,
            index,
            message,
        }
        | ChatEvent::MessageUpdated {
            conversation,
            index,
            message,
        } = event
        {
            t.push_event(*conversation, *index, message);
        }
    }
    t.finish()
}

/// The value listeners of an event receive (`conversations` is read from the engine by the
/// caller).
pub(super) fn event(event: &ChatEvent, e: &ChatEngine) -> JsValue {
    match event {
        ChatEvent::Status(s) => status(*s),
        ChatEvent::Message { .. } | ChatEvent::MessageUpdated { .. } => {
            message_events(&[event], e).get(0)
        }
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

//! `ChatClient`: the chat product behind one JS object — the MQTT session (through the
//! shell's [`MqttClient`] driver, events hooked into Rust), the chat [`Store`], the server
//! clock, local history and, in backend mode, the HTTP contract of PROTOCOL.md.
//!
//! # How it is driven
//!
//! All chat state lives in one `RefCell<State>`. Every input — a JS call, a session event,
//! an HTTP answer, a storage read — borrows it, changes the store, and drains the store's
//! events into *notes* (listener calls and promise settlements), which run after the
//! borrow is released. The MQTT driver is never called while the state is borrowed: its
//! events come back synchronously through the hook.
//!
//! Network inputs go through one queue drained by one task, so they apply in arrival order
//! even when one of them first reads a stored copy back (a redelivery of a message that is
//! in storage but not loaded must not count unread twice).
//!
//! # Modes
//!
//! * backend: conn-config before every (re)connect (a fresh password), `GET /time` for the
//!   clock, sends / resends / revokes / reads / history over HTTP; MQTT only receives.
//! * direct: a broker URL and credentials; messages are published at QoS 1 to
//!   `chat_{peer}` or `room_{id}` with an id the client draws, revokes and read receipts
//!   likewise.

mod convert;
mod http;
mod options;

use std::cell::{OnceCell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local};

use super::client::{CredentialSource, CredentialsFuture, MqttClient};
use super::clock::{global_property, random_seed, wall_ms, Clock as MonoClock};
use super::error::describe;
use super::persist::Persister;
use crate::chat::api::{self, ApiError, Request, CODE_REVOKE_REFUSED};
use crate::chat::clock::Clock;
use crate::chat::payload::{self, PayloadFormat};
use crate::chat::store::{MessageKey, MessageRef, OutboxEntry, Store, StoreError, StoreEvent};
use crate::chat::topics::{self, Topic};
use crate::chat::{Content, ConversationId, Incoming, ServerId, UserId, WireMessage};
use crate::mqtt::{Properties, Publish, QoS, SubscribeFilter, Will};
use crate::session::{Credentials, Event, PublishId, SessionConfig};
use crate::storage::{
    meta, startup, AnyStorage, KvStorage, MemoryStorage, Page, Storage, StorageError,
};
use crate::web::JsKv;
use http::Backend;
use options::{LogLevel, Mode, Parsed, StorageChoice};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = include_str!("../chat_client.d.ts");

/// The 2-minute revoke window of PROTOCOL.md, checked before asking the backend.
const REVOKE_WINDOW_MS: u64 = 120_000;
/// Largest id a direct-mode client draws: ids stay exact as JS numbers too.
const MAX_SAFE: u64 = (1 << 53) - 1;

/// The event names of `ChatEventMap`.
const EVENTS: [&str; 10] = [
    "status",
    "message",
    "messageUpdated",
    "messageRemoved",
    "conversations",
    "unreadTotal",
    "revoke",
    "read",
    "presence",
    "error",
];

/// A listener call or a promise settlement, decided under the borrow and run after it.
struct Note {
    listeners: Vec<Function>,
    value: JsValue,
}

/// What a direct-mode publish was for, by the id the session gave it.
struct Publication {
    local_id: String,
    server_id: ServerId,
    weight: u64,
}

/// A message of mine to hand to the network.
struct Outgoing {
    local_id: String,
    conversation: ConversationId,
    content: Content,
    weight: u64,
}

struct State {
    me: UserId,
    mode: Mode,
    format: PayloadFormat,
    page_size: usize,
    presence: bool,
    contacts: Vec<UserId>,
    nick_name: Option<String>,
    avatar: Option<String>,
    log: LogLevel,
    store: Store,
    clock: Clock,
    mono: MonoClock,
    persister: Persister,
    listeners: HashMap<&'static str, Vec<Function>>,
    /// `done` promises of sends, by local id.
    sends: HashMap<String, Vec<Function>>,
    publishes: HashMap<PublishId, Publication>,
    /// Chat topics to be subscribed (own topic, rooms; conn-config's `sub_topics`).
    topics: Vec<String>,
    subscribed: HashSet<String>,
    incoming: VecDeque<Incoming>,
    draining: bool,
    /// Read receipts under way, by conversation: `true` when another is due after it.
    reads: HashMap<ConversationId, bool>,
    /// Messages of mine left unsent by the last run, sent on `connect()`.
    outbox: Vec<OutboxEntry>,
    calibrating: bool,
    connected_once: bool,
    closed: bool,
    notes: Vec<Note>,
}

struct Shared {
    state: RefCell<State>,
    mqtt: OnceCell<MqttClient>,
}

/// Borrows the state for `f`; `None` if it is borrowed already (never with this module's
/// discipline, but a panic would kill the whole wasm instance).
fn with<R>(sh: &Shared, f: impl FnOnce(&mut State) -> R) -> Option<R> {
    match sh.state.try_borrow_mut() {
        Ok(mut st) => Some(f(&mut st)),
        Err(_) => {
            web_sys::console::error_1(&"[imcore] re-entrant call into ChatClient ignored".into());
            None
        }
    }
}

/// [`with`], then the store's events and the notes are carried out after the borrow.
fn act<R>(sh: &Shared, f: impl FnOnce(&mut State) -> R) -> Option<R> {
    let (r, notes) = with(sh, |st| {
        let r = f(st);
        (r, st.drain())
    })?;
    for note in notes {
        for listener in note.listeners {
            if let Err(e) = listener.call1(&JsValue::UNDEFINED, &note.value) {
                web_sys::console::error_2(&"[imcore] a ChatClient listener threw".into(), &e);
            }
        }
    }
    Some(r)
}

/// A JS `Error` named `ChatError` with a stable `code`.
fn chat_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("ChatError");
    let _ = Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

fn store_error(e: &StoreError) -> JsValue {
    let code = match e {
        StoreError::NoSuchMessage(_) => "not-found",
        StoreError::RevokeTooLate { .. } => "revoke-expired",
        StoreError::SelfMessage => "self-message",
        StoreError::NotMine
        | StoreError::NotSent
        | StoreError::AlreadyRevoked
        | StoreError::NotFailed(_)
        | StoreError::DuplicateLocalId(_) => "invalid-argument",
    };
    chat_error(code, &e.to_string())
}

fn api_error(e: &ApiError) -> JsValue {
    match e {
        ApiError::Network(_) | ApiError::Status { .. } => chat_error("http", &e.to_string()),
        ApiError::Backend { code, .. } => {
            let error = chat_error("backend", &e.to_string());
            let _ = Reflect::set(&error, &"backendCode".into(), &(*code as f64).into());
            error
        }
        ApiError::Malformed(_) | ApiError::Payload(_) => chat_error("payload", &e.to_string()),
    }
}

fn storage_error(e: &StorageError) -> JsValue {
    chat_error("storage", &e.to_string())
}

/// A promise and its resolve function (the executor runs synchronously inside
/// `new Promise`, so it is always there).
fn promise() -> Result<(Promise, Function), JsValue> {
    let mut resolve_fn = None;
    let p = Promise::new(&mut |resolve, _| resolve_fn = Some(resolve));
    resolve_fn
        .map(|f| (p, f))
        .ok_or_else(|| chat_error("invalid-argument", "cannot create a Promise"))
}

impl State {
    fn now_mono(&self) -> u64 {
        self.mono.now_ms()
    }

    /// A weight for something I do now (strictly increasing).
    fn weight(&mut self) -> u64 {
        let mono = self.mono.now_ms();
        self.clock.weight(mono, wall_ms() as u64)
    }

    /// Now in server time.
    fn now_server(&self) -> u64 {
        self.clock.now_server(self.mono.now_ms(), wall_ms() as u64)
    }

    fn log(&self, level: LogLevel, message: &str) {
        if level > self.log || self.log == LogLevel::Silent {
            return;
        }
        let prefix = JsValue::from("[imcore]");
        let message = JsValue::from(message);
        match level {
            LogLevel::Error => web_sys::console::error_2(&prefix, &message),
            LogLevel::Warn => web_sys::console::warn_2(&prefix, &message),
            LogLevel::Info => web_sys::console::info_2(&prefix, &message),
            LogLevel::Debug | LogLevel::Silent => web_sys::console::debug_2(&prefix, &message),
        }
    }

    fn note(&mut self, event: &str, value: impl FnOnce(&State) -> JsValue) {
        let listeners = self.listeners.get(event).cloned().unwrap_or_default();
        if !listeners.is_empty() {
            let value = value(self);
            self.notes.push(Note { listeners, value });
        }
    }

    /// Reports an error to `error` listeners and the log.
    fn error(&mut self, error: JsValue) {
        self.log(LogLevel::Error, &describe(&error));
        self.note("error", |_| error);
    }

    /// Resolves the `done` promises of a send with the message as it stands.
    fn settle_send(&mut self, local_id: &str) {
        let Some(resolvers) = self.sends.remove(local_id) else {
            return;
        };
        let value = self
            .store
            .message(&MessageRef::Local(local_id.to_string()))
            .map_or(JsValue::NULL, |m| convert::message(m, self.me));
        self.notes.push(Note {
            listeners: resolvers,
            value,
        });
    }

    /// The store's events as notes, its persist batch to storage.
    fn drain(&mut self) -> Vec<Note> {
        let me = self.me;
        let mut conversations = false;
        while let Some(event) = self.store.poll_event() {
            match event {
                StoreEvent::MessageInserted {
                    conversation_id,
                    index,
                    message,
                } => self.note("message", |_| {
                    message_event(conversation_id, index, &message, me)
                }),
                StoreEvent::MessageUpdated {
                    conversation_id,
                    index,
                    message,
                } => self.note("messageUpdated", |_| {
                    message_event(conversation_id, index, &message, me)
                }),
                StoreEvent::MessageRemoved {
                    conversation_id,
                    index,
                    id,
                    local_id,
                } => self.note("messageRemoved", |_| {
                    convert::object(&[
                        ("conversationId", conversation_id.to_string().into()),
                        ("index", (index as f64).into()),
                        ("key", convert::key_of(&id, local_id.as_deref()).into()),
                    ])
                }),
                StoreEvent::ConversationInserted { .. }
                | StoreEvent::ConversationUpdated { .. }
                | StoreEvent::ConversationRemoved { .. } => conversations = true,
                StoreEvent::UnreadTotal(n) => self.note("unreadTotal", |_| (n as f64).into()),
            }
        }
        if conversations {
            self.note("conversations", |st| {
                convert::conversations(&st.store.conversations(), me)
            });
        }
        let batch = self.store.take_persist();
        if !batch.is_empty() {
            self.persister.push(batch.into());
        }
        std::mem::take(&mut self.notes)
    }

    /// A message by the `key` (or id) the UI holds.
    fn resolve(&self, key: &str) -> Result<MessageRef, JsValue> {
        let local = MessageRef::Local(key.to_string());
        if self.store.message(&local).is_some() {
            return Ok(local);
        }
        key.parse()
            .ok()
            .map(MessageRef::Server)
            .filter(|r| self.store.message(r).is_some())
            .ok_or_else(|| chat_error("not-found", &format!("no message with key {key}")))
    }

    /// A fresh local id. Direct mode: a decimal id below 2^53 that doubles as the server
    /// id, so a resend carries the same id and the peer dedupes it.
    fn local_id(&self) -> String {
        let n = (random_seed() & MAX_SAFE).max(1);
        match self.mode {
            Mode::Direct { .. } => n.to_string(),
            Mode::Backend(_) => format!("l{n:x}"),
        }
    }

    fn backend(&self) -> Option<Backend> {
        match &self.mode {
            Mode::Backend(b) => Some(b.clone()),
            Mode::Direct { .. } => None,
        }
    }

    fn storage(&self) -> Rc<AnyStorage> {
        self.persister.storage()
    }

    /// A server id that storage may hold while the store does not: read it back before
    /// applying `incoming`.
    fn lookup_needed(&self, incoming: &Incoming) -> Option<ServerId> {
        let (id, conversation, weight) = match incoming {
            Incoming::Message(m) => (m.id, m.conversation_id, Some(m.weight)),
            Incoming::Revoke {
                msg_id,
                conversation_id,
            } => (*msg_id, *conversation_id, None),
            Incoming::Read { .. } | Incoming::Members { .. } => return None,
        };
        if self.store.message(&MessageRef::Server(id)).is_some()
            || !self.store.may_have_older(conversation)
        {
            return None;
        }
        let oldest = self.store.oldest_key(conversation);
        match (weight, oldest) {
            (Some(w), Some(k)) if w > k.weight => None,
            _ => Some(id),
        }
    }
}

fn message_event(
    conversation: ConversationId,
    index: usize,
    m: &crate::chat::store::StoredMessage,
    me: UserId,
) -> JsValue {
    convert::object(&[
        ("conversationId", conversation.to_string().into()),
        ("index", (index as f64).into()),
        ("message", convert::message(m, me)),
    ])
}

// ---- network -------------------------------------------------------------------------------

/// Runs a backend request; an error in direct mode.
async fn call(sh: &Shared, request: &Request) -> Result<(u16, Vec<u8>), ApiError> {
    let backend = with(sh, |st| st.backend())
        .flatten()
        .ok_or_else(|| ApiError::Network("no backend in direct mode".into()))?;
    http::run(&backend, request).await
}

/// Calibrates the clock against `GET /time` (backend mode), and keeps the offset for the
/// next start.
async fn calibrate(sh: Rc<Shared>) {
    let Some(Some(token)) = with(&sh, |st| {
        if st.calibrating || st.backend().is_none() {
            return None;
        }
        st.calibrating = true;
        Some(st.clock.begin_sample(st.now_mono(), wall_ms() as u64))
    }) else {
        return;
    };
    let answer = call(&sh, &api::time())
        .await
        .and_then(|(status, body)| api::parse_time(status, &body));
    act(&sh, |st| {
        st.calibrating = false;
        match answer {
            Ok(server) => {
                let mono = st.now_mono();
                match st
                    .clock
                    .finish_sample(token, server, mono, wall_ms() as u64)
                {
                    Ok(c) => {
                        st.log(
                            LogLevel::Debug,
                            &format!("clock offset {} ms ± {}", c.offset_ms, c.error_bound_ms),
                        );
                        st.persister.push(crate::storage::StorageBatch {
                            store: Default::default(),
                            put_meta: vec![(
                                meta::CLOCK_OFFSET.to_string(),
                                c.offset_ms.to_string(),
                            )],
                        });
                    }
                    Err(e) => st.log(LogLevel::Warn, &format!("clock sample dropped: {e}")),
                }
            }
            Err(e) => st.log(LogLevel::Warn, &format!("GET /time failed: {e}")),
        }
    });
}

/// Backend mode's credential source: a fresh conn-config before every attempt.
fn conn_config_source(weak: Weak<Shared>) -> CredentialSource {
    CredentialSource::Rust(Rc::new(move || -> CredentialsFuture {
        let weak = weak.clone();
        Box::pin(async move {
            let sh = weak.upgrade().ok_or("the ChatClient was freed")?;
            let config = call(&sh, &api::conn_config())
                .await
                .and_then(|(status, body)| api::parse_conn_config(status, &body))
                .map_err(|e| format!("conn-config: {e}"))?;
            let secure = global_property("location")
                .and_then(|l| Reflect::get(&l, &"protocol".into()).ok())
                .and_then(|p| p.as_string())
                // No page (a mini-program): production brokers are wss://.
                .is_none_or(|p| p == "https:");
            let url = with(&sh, |st| {
                st.topics = config.sub_topics.clone();
                if st.topics.is_empty() {
                    st.topics.push(topics::chat(st.me));
                }
                st.backend()
                    .and_then(|b| b.mqtt_url)
                    .unwrap_or_else(|| config.url(secure))
            })
            .ok_or("the ChatClient is busy")?;
            if let Some(mqtt) = sh.mqtt.get() {
                mqtt.set_url(url);
            }
            Ok(Credentials {
                username: Some(config.user_id.to_string()),
                password: Some(config.password.into_bytes()),
            })
        })
    }))
}

fn on_session_event(sh: &Rc<Shared>, event: Event) {
    match event {
        Event::Status(s) => {
            act(sh, |st| {
                st.log(LogLevel::Info, &format!("status {}", s.name()));
                st.note("status", |_| convert::status(Some(s)));
            });
        }
        Event::Connected { .. } => on_connected(sh),
        Event::Disconnected { error, .. } => {
            act(sh, |st| {
                let refused = matches!(
                    error,
                    crate::session::ConnectionError::Refused(_)
                        | crate::session::ConnectionError::Credentials(_)
                        | crate::session::ConnectionError::Protocol(_)
                        | crate::session::ConnectionError::Malformed(_)
                );
                if refused {
                    st.error(chat_error("mqtt", &error.to_string()));
                } else {
                    st.log(LogLevel::Info, &format!("disconnected: {error}"));
                }
            });
        }
        Event::Message(publish) => on_publish(sh, *publish),
        Event::PublishDone { id, reason } => {
            act(sh, |st| {
                let Some(p) = st.publishes.remove(&id) else {
                    return;
                };
                let outcome = if reason.is_error() {
                    st.log(
                        LogLevel::Warn,
                        &format!("publish refused: 0x{:02x}", reason.as_u8()),
                    );
                    st.store
                        .send_failed(&MessageRef::Local(p.local_id.clone()))
                        .map(|_| ())
                } else {
                    st.store
                        .send_succeeded(&p.local_id, p.server_id, p.weight)
                        .map(|_| ())
                };
                if let Err(e) = outcome {
                    st.log(LogLevel::Debug, &e.to_string());
                }
                st.settle_send(&p.local_id);
            });
        }
        Event::Subscribed { reasons, .. } => {
            if reasons.iter().any(|r| r.is_error()) {
                act(sh, |st| {
                    st.error(chat_error("mqtt", "the broker refused a subscription"))
                });
            }
        }
        Event::Unsubscribed { .. } => {}
    }
}

fn on_connected(sh: &Rc<Shared>) {
    let Some((subscribe, presence, backend)) = act(sh, |st| {
        st.clock.on_reconnect();
        let mut wanted = st.topics.clone();
        if st.presence {
            wanted.extend(st.contacts.iter().map(|c| topics::presence(*c)));
        }
        let subscribe: Vec<SubscribeFilter> = wanted
            .into_iter()
            .filter(|t| st.subscribed.insert(t.clone()))
            .map(|t| SubscribeFilter::new(t, QoS::AtLeastOnce))
            .collect();
        let reconnect = std::mem::replace(&mut st.connected_once, true);
        let presence = st.presence.then(|| topics::presence(st.me));
        (
            subscribe,
            presence,
            st.backend().is_some().then_some(reconnect),
        )
    }) else {
        return;
    };
    let Some(mqtt) = sh.mqtt.get() else {
        return;
    };
    if !subscribe.is_empty() {
        if let Err(e) = mqtt.call(|s, now| s.subscribe(now, subscribe), |_| {}) {
            act(sh, |st| st.error(chat_error("mqtt", &e.to_string())));
        }
    }
    if let Some(topic) = presence {
        let _ = mqtt.call(
            |s, now| s.publish(now, &topic, topics::ONLINE.to_vec(), QoS::AtLeastOnce, true),
            |_| {},
        );
    }
    if let Some(reconnect) = backend {
        spawn_local(calibrate(sh.clone()));
        if reconnect {
            spawn_local(catch_up(sh.clone()));
        }
    }
}

/// After a reconnect in backend mode: the newest page of every conversation whose last
/// message this client does not hold, in case the broker lost something while down.
async fn catch_up(sh: Rc<Shared>) {
    let list = call(
        &sh,
        &Request {
            method: api::Method::Get,
            path: "/conversations".into(),
            body: None,
        },
    )
    .await;
    let Ok((200, body)) = list else {
        return;
    };
    #[derive(serde::Deserialize)]
    struct Row {
        conversation_id: String,
        #[serde(default)]
        last_msg_id: Option<serde_json::Value>,
    }
    #[derive(serde::Deserialize)]
    struct Rows {
        #[serde(default)]
        data: Vec<Row>,
    }
    let Ok(rows) = serde_json::from_slice::<Rows>(&body) else {
        return;
    };
    for row in rows.data {
        let Ok(conversation) = row.conversation_id.parse::<ConversationId>() else {
            continue;
        };
        let last = row.last_msg_id.and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        let known = with(&sh, |st| {
            last.is_none_or(|id| st.store.message(&MessageRef::Server(id)).is_some())
        });
        if known == Some(false) {
            let page_size = with(&sh, |st| st.page_size).unwrap_or(30);
            let page = call(&sh, &api::history(conversation, None, page_size))
                .await
                .and_then(|(s, b)| api::parse_history(s, &b));
            if let Ok(page) = page {
                enqueue(&sh, page.into_iter().map(Incoming::Message).collect());
            }
        }
    }
}

fn on_publish(sh: &Rc<Shared>, publish: Publish) {
    let topic = Topic::parse(&publish.topic);
    let decoded = act(sh, |st| match topic {
        Topic::Presence(user) => {
            if user != st.me {
                if let Some(online) = topics::parse_presence(&publish.payload) {
                    st.note("presence", |_| {
                        convert::object(&[
                            ("userId", user.to_string().into()),
                            ("online", online.into()),
                        ])
                    });
                }
            }
            None
        }
        Topic::Chat(_) | Topic::Room(_) => match payload::decode(st.format, &publish.payload) {
            Ok(incoming) => Some(incoming),
            Err(e) => {
                st.error(chat_error(
                    "payload",
                    &format!("bad payload on {}: {e}", publish.topic),
                ));
                None
            }
        },
        Topic::Other => {
            st.log(
                LogLevel::Debug,
                &format!("ignored a message on {}", publish.topic),
            );
            None
        }
    })
    .flatten();
    if let Some(incoming) = decoded {
        enqueue(sh, vec![incoming]);
    }
}

/// Queues network inputs and starts the task that applies them, if not running.
fn enqueue(sh: &Rc<Shared>, items: Vec<Incoming>) {
    let start = with(sh, |st| {
        st.incoming.extend(items);
        !std::mem::replace(&mut st.draining, true)
    });
    if start == Some(true) {
        spawn_local(drain_incoming(sh.clone()));
    }
}

async fn drain_incoming(sh: Rc<Shared>) {
    loop {
        let next = with(&sh, |st| match st.incoming.pop_front() {
            Some(incoming) => {
                let lookup = st.lookup_needed(&incoming).map(|id| (id, st.storage()));
                Some((incoming, lookup))
            }
            None => {
                st.draining = false;
                None
            }
        })
        .flatten();
        let Some((incoming, lookup)) = next else {
            return;
        };
        let stored = match lookup {
            Some((id, storage)) => storage.message_by_server_id(id).await.ok().flatten(),
            None => None,
        };
        let read = act(&sh, |st| {
            if let Some(m) = stored {
                if st.store.message(&m.key.id).is_none() {
                    st.store.insert_loaded(m);
                }
            }
            let me = st.me;
            let mut read = None;
            match &incoming {
                Incoming::Revoke {
                    msg_id,
                    conversation_id,
                } => {
                    let (c, id) = (conversation_id.to_string(), msg_id.to_string());
                    st.note("revoke", |_| {
                        convert::object(&[("conversationId", c.into()), ("id", id.into())])
                    });
                }
                Incoming::Read {
                    sender_id,
                    conversation_id,
                    up_to_weight,
                } if *sender_id == me => {
                    let reader = conversation_id.peer_of(me).unwrap_or(0).to_string();
                    let upto = up_to_weight.unwrap_or_else(|| st.now_server());
                    let c = conversation_id.to_string();
                    st.note("read", |_| {
                        convert::object(&[
                            ("conversationId", c.into()),
                            ("readerId", reader.into()),
                            ("upToWeight", (upto as f64).into()),
                        ])
                    });
                }
                Incoming::Message(m)
                    if m.sender_id != me
                        && st.store.open_conversation() == Some(m.conversation_id) =>
                {
                    read = Some(m.conversation_id);
                }
                _ => {}
            }
            let received = st.now_server();
            st.store.apply(incoming, received);
            read
        })
        .flatten();
        if let Some(conversation) = read {
            // The conversation is open: the peer should see their message read. One
            // receipt at a time per conversation; messages that arrive meanwhile are
            // covered by one more after it.
            read_soon(&sh, conversation);
        }
    }
}

/// Sends a read receipt for `conversation` unless one is under way; if more arrived while
/// it was, one more follows.
fn read_soon(sh: &Rc<Shared>, conversation: ConversationId) {
    let start = with(sh, |st| match st.reads.get_mut(&conversation) {
        Some(again) => {
            *again = true;
            false
        }
        None => {
            st.reads.insert(conversation, false);
            true
        }
    });
    if start != Some(true) {
        return;
    }
    let sh = sh.clone();
    spawn_local(async move {
        loop {
            if let Err(e) = send_read(&sh, conversation).await {
                act(&sh, |st| st.log(LogLevel::Warn, &describe(&e)));
            }
            let again = with(&sh, |st| {
                let again = st.reads.get(&conversation).copied().unwrap_or(false);
                if again {
                    st.reads.insert(conversation, false);
                } else {
                    st.reads.remove(&conversation);
                }
                again
            });
            if again != Some(true) {
                return;
            }
        }
    });
}

/// Tells the peer (backend: the server) that I read `conversation`.
async fn send_read(sh: &Rc<Shared>, conversation: ConversationId) -> Result<(), JsValue> {
    let direct = with(sh, |st| match st.mode {
        Mode::Backend(_) => None,
        Mode::Direct { .. } => Some((st.me, st.format, st.store.conversation(conversation))),
    })
    .flatten();
    match direct {
        None => call(sh, &api::read(conversation))
            .await
            .and_then(|(s, b)| api::parse_ok(s, &b))
            .map_err(|e| api_error(&e)),
        Some((me, format, summary)) => {
            let Some(peer) = conversation.peer_of(me) else {
                return Ok(()); // rooms: receipts are the backend's business
            };
            let up_to = summary.map(|c| c.last_activity);
            let payload = payload::encode(
                format,
                &Incoming::Read {
                    sender_id: peer,
                    conversation_id: conversation,
                    up_to_weight: up_to,
                },
            )
            .map_err(|e| chat_error("payload", &e.to_string()))?;
            publish(sh, &topics::chat(peer), payload)
        }
    }
}

/// A QoS 1 publish whose completion nobody waits for.
fn publish(sh: &Shared, topic: &str, payload: Vec<u8>) -> Result<(), JsValue> {
    let mqtt = sh
        .mqtt
        .get()
        .ok_or_else(|| chat_error("closed", "no session"))?;
    mqtt.call(
        |s, now| s.publish(now, topic, payload, QoS::AtLeastOnce, false),
        |_| {},
    )
    .map_err(|e| chat_error("mqtt", &e.to_string()))
}

/// Hands a message of mine to the network; the store hears how it went.
fn transmit(sh: &Rc<Shared>, out: Outgoing) {
    let Some(direct) = with(sh, |st| match st.mode {
        Mode::Backend(_) => None,
        Mode::Direct { .. } => Some((st.me, st.format, st.nick_name.clone(), st.avatar.clone())),
    }) else {
        return;
    };
    match direct {
        None => {
            let sh = sh.clone();
            spawn_local(async move {
                let me = with(&sh, |st| st.me).unwrap_or(0);
                let answer = match api::send(me, out.conversation, &out.content, out.weight) {
                    Ok(request) => call(&sh, &request)
                        .await
                        .and_then(|(s, b)| api::parse_sent(s, &b)),
                    Err(e) => Err(ApiError::Payload(e)),
                };
                act(&sh, |st| {
                    let outcome = match answer {
                        Ok(Some(m)) => st
                            .store
                            .send_succeeded(&out.local_id, m.id, m.weight)
                            .map(|_| ()),
                        Ok(None) => {
                            st.log(LogLevel::Warn, "the backend stored the message as failed");
                            st.store
                                .send_failed(&MessageRef::Local(out.local_id.clone()))
                        }
                        Err(e) => {
                            st.log(LogLevel::Warn, &format!("send failed: {e}"));
                            st.store
                                .send_failed(&MessageRef::Local(out.local_id.clone()))
                        }
                    };
                    if let Err(e) = outcome {
                        st.log(LogLevel::Debug, &e.to_string());
                    }
                    st.settle_send(&out.local_id);
                });
            });
        }
        Some((me, format, nick, avatar)) => {
            let server_id = out
                .local_id
                .parse::<u64>()
                .unwrap_or_else(|_| (random_seed() & MAX_SAFE).max(1));
            let receiver_id = match out.conversation {
                ConversationId::Room(id) => id,
                direct => direct.peer_of(me).unwrap_or(0),
            };
            let wire = WireMessage {
                id: server_id,
                conversation_id: out.conversation,
                sender_id: me,
                receiver_id,
                content: out.content,
                weight: out.weight,
                is_read: false,
                revoked: false,
                sender_name: nick,
                sender_avatar: avatar,
            };
            let topic = out.conversation.topic_from(me);
            let encoded = payload::encode(format, &Incoming::Message(wire));
            let result = match (topic, encoded, sh.mqtt.get()) {
                (Some(topic), Ok(bytes), Some(mqtt)) => mqtt
                    .call(
                        |s, now| s.publish(now, &topic, bytes, QoS::AtLeastOnce, false),
                        |id| {
                            with(sh, |st| {
                                st.publishes.insert(
                                    id,
                                    Publication {
                                        local_id: out.local_id.clone(),
                                        server_id,
                                        weight: out.weight,
                                    },
                                )
                            });
                        },
                    )
                    .map_err(|e| e.to_string()),
                (None, _, _) => Err("no topic for this conversation".into()),
                (_, Err(e), _) => Err(e.to_string()),
                (_, _, None) => Err("no session".into()),
            };
            if let Err(e) = result {
                act(sh, |st| {
                    st.error(chat_error("mqtt", &format!("send failed: {e}")));
                    let _ = st
                        .store
                        .send_failed(&MessageRef::Local(out.local_id.clone()));
                    st.settle_send(&out.local_id);
                });
            }
        }
    }
}

// ---- the exported class --------------------------------------------------------------------

/// A chat client: MQTT session, chat state, local history and (in backend mode) the
/// backend's HTTP API, behind one object. Create it with `ChatClient.create(options)`;
/// see `ChatClientOptions` and `ChatEventMap` in the type declarations.
#[wasm_bindgen]
pub struct ChatClient {
    sh: Rc<Shared>,
}

#[wasm_bindgen]
impl ChatClient {
    /// Opens local storage and loads the conversations and the newest page of each, so
    /// `conversations()` answers before any network call. Does not connect.
    #[wasm_bindgen(unchecked_return_type = "Promise<ChatClient>")]
    pub fn create(
        #[wasm_bindgen(unchecked_param_type = "ChatClientOptions")] options: JsValue,
    ) -> Promise {
        let parsed = match options::parse(&options) {
            Ok(p) => p,
            Err(e) => return Promise::reject(&e),
        };
        future_to_promise(async move { Ok(ChatClient::open(parsed).await.into()) })
    }

    /// The conversation id of two users' 1:1 chat ("1_2").
    #[wasm_bindgen(js_name = conversationIdOf)]
    pub fn conversation_id_of(user_a: &str, user_b: &str) -> Result<String, JsValue> {
        let (a, b) = (user_a.parse::<u64>(), user_b.parse::<u64>());
        match (a, b) {
            (Ok(a), Ok(b)) => ConversationId::direct(a, b)
                .map(|c| c.to_string())
                .ok_or_else(|| chat_error("self-message", "a user has no chat with themself")),
            _ => Err(chat_error(
                "invalid-argument",
                "user ids are decimal strings",
            )),
        }
    }

    /// Starts the session (backend mode: conn-config first) and sends what the last run
    /// left unsent.
    pub fn connect(&self) {
        let Some(outbox) = with(&self.sh, |st| {
            if st.closed {
                return Vec::new();
            }
            std::mem::take(&mut st.outbox)
        }) else {
            return;
        };
        if with(&self.sh, |st| st.backend().is_some()) == Some(true) {
            spawn_local(calibrate(self.sh.clone()));
        }
        if let Some(mqtt) = self.sh.mqtt.get() {
            mqtt.connect();
        }
        for entry in outbox {
            transmit(
                &self.sh,
                Outgoing {
                    local_id: entry.local_id,
                    conversation: entry.conversation_id,
                    content: entry.content,
                    weight: entry.weight,
                },
            );
        }
    }

    /// Reconnects at once if waiting to reconnect, or checks a connection that may have
    /// died unnoticed. Called by itself on the browser's `online` event and when the page
    /// becomes visible; a mini-program calls it from `wx.onAppShow`.
    pub fn wake(&self) {
        if let Some(mqtt) = self.sh.mqtt.get() {
            mqtt.wake();
        }
    }

    /// Says goodbye (presence `offline`, DISCONNECT) and resolves once local writes are done.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn disconnect(&self) -> Promise {
        self.goodbye();
        let sh = self.sh.clone();
        future_to_promise(async move {
            flush(&sh).await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Disconnects and deletes this user's local data.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn logout(&self) -> Promise {
        self.goodbye();
        let sh = self.sh.clone();
        future_to_promise(async move {
            flush(&sh).await;
            let storage =
                with(&sh, |st| st.storage()).ok_or_else(|| chat_error("closed", "busy"))?;
            let wiped = storage.wipe().await;
            act(&sh, |st| {
                st.store = Store::new(st.me);
                st.closed = true;
                st.note("conversations", |_| Array::new().into());
                st.note("unreadTotal", |_| 0.into());
                st.note("status", |_| convert::status(None));
            });
            wiped.map_err(|e| storage_error(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The connection status.
    #[wasm_bindgen(unchecked_return_type = "ChatStatus")]
    pub fn status(&self) -> String {
        if with(&self.sh, |st| st.closed) == Some(true) {
            return "closed".into();
        }
        self.sh
            .mqtt
            .get()
            .map_or("idle", |m| m.session_status().name())
            .to_string()
    }

    /// Sends a text message; returns the local copy at once and a promise of the outcome.
    #[wasm_bindgen(js_name = sendText, unchecked_return_type = "SendHandle")]
    pub fn send_text(&self, conversation_id: &str, text: String) -> Result<JsValue, JsValue> {
        self.send(conversation_id, Content::Text { text })
    }

    /// Sends an image (URL and optional cover).
    #[wasm_bindgen(js_name = sendImage, unchecked_return_type = "SendHandle")]
    pub fn send_image(
        &self,
        conversation_id: &str,
        url: String,
        cover: Option<String>,
    ) -> Result<JsValue, JsValue> {
        self.send(conversation_id, Content::Image { url, cover })
    }

    /// Sends a video (URL and optional cover).
    #[wasm_bindgen(js_name = sendVideo, unchecked_return_type = "SendHandle")]
    pub fn send_video(
        &self,
        conversation_id: &str,
        url: String,
        cover: Option<String>,
    ) -> Result<JsValue, JsValue> {
        self.send(conversation_id, Content::Video { url, cover })
    }

    /// Sends a failed message of mine again, with a new weight (it moves to the end).
    #[wasm_bindgen(unchecked_return_type = "SendHandle")]
    pub fn resend(&self, key: &str) -> Result<JsValue, JsValue> {
        let (message, local_id, server, out) = with(&self.sh, |st| {
            let r = st.resolve(key)?;
            let weight = st.weight();
            let m = st.store.resend(&r, weight).map_err(|e| store_error(&e))?;
            let local_id = m.local_id.clone().unwrap_or_else(|| key.to_string());
            let out = m.content.clone().map(|content| Outgoing {
                local_id: local_id.clone(),
                conversation: m.conversation_id,
                content,
                weight: m.weight(),
            });
            let server = m
                .server_id()
                .map(|id| (id, m.receiver_id, m.conversation_id, m.weight()));
            Ok::<_, JsValue>((convert::message(&m, st.me), local_id, server, out))
        })
        .ok_or_else(|| chat_error("closed", "busy"))??;
        // The store's events (the message moving to the end) go out now.
        act(&self.sh, |_| {});
        let (done, resolve) = promise()?;
        with(&self.sh, |st| {
            st.sends.entry(local_id.clone()).or_default().push(resolve)
        });
        match (server, self.is_backend()) {
            (Some((id, receiver, conversation, weight)), true) => {
                let sh = self.sh.clone();
                spawn_local(async move {
                    let answer = call(&sh, &api::resend(id, receiver, conversation, weight))
                        .await
                        .and_then(|(s, b)| api::parse_resent(s, &b));
                    act(&sh, |st| {
                        match answer {
                            Ok((1, w)) => st.store.apply_resend(id, w),
                            other => {
                                st.log(LogLevel::Warn, &format!("resend failed: {other:?}"));
                                let _ = st.store.send_failed(&MessageRef::Server(id));
                            }
                        }
                        st.settle_send(&local_id);
                    });
                });
            }
            _ => match out {
                Some(out) => transmit(&self.sh, out),
                None => {
                    act(&self.sh, |st| st.settle_send(&local_id));
                }
            },
        }
        Ok(send_handle(message, done))
    }

    /// Revokes a message of mine (within 2 minutes of sending): the content goes on both
    /// sides, a notice stays. Rejects `revoke-expired` after 2 minutes.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn revoke(&self, key: &str) -> Promise {
        let sh = self.sh.clone();
        let prepared = with(&sh, |st| {
            let r = st.resolve(key)?;
            let m = st
                .store
                .message(&r)
                .cloned()
                .ok_or_else(|| chat_error("not-found", key))?;
            let now = st.now_server();
            if m.sender_id() != st.me {
                return Err(store_error(&StoreError::NotMine));
            }
            let id = m
                .server_id()
                .ok_or_else(|| store_error(&StoreError::NotSent))?;
            let age_ms = now.saturating_sub(m.weight());
            if age_ms > REVOKE_WINDOW_MS {
                return Err(store_error(&StoreError::RevokeTooLate { age_ms }));
            }
            Ok((id, m.conversation_id, r, st.format, st.me))
        });
        let (id, conversation, r, format, me) = match prepared {
            Some(Ok(p)) => p,
            Some(Err(e)) => return Promise::reject(&e),
            None => return Promise::reject(&chat_error("closed", "busy")),
        };
        future_to_promise(async move {
            let backend = with(&sh, |st| st.backend().is_some()).unwrap_or(false);
            if backend {
                call(&sh, &api::revoke(id))
                    .await
                    .and_then(|(s, b)| api::parse_ok(s, &b))
                    .map_err(|e| match e {
                        ApiError::Backend { code, message } if code == CODE_REVOKE_REFUSED => {
                            chat_error("revoke-expired", &message)
                        }
                        e => api_error(&e),
                    })?;
            }
            let applied = act(&sh, |st| {
                let now = st.now_server();
                let result = if backend {
                    st.store.apply(
                        Incoming::Revoke {
                            msg_id: id,
                            conversation_id: conversation,
                        },
                        now,
                    );
                    Ok(())
                } else {
                    st.store
                        .revoke_mine(&r, now)
                        .map(|_| ())
                        .map_err(|e| store_error(&e))
                };
                if result.is_ok() {
                    let (c, i) = (conversation.to_string(), id.to_string());
                    st.note("revoke", |_| {
                        convert::object(&[("conversationId", c.into()), ("id", i.into())])
                    });
                }
                result
            })
            .ok_or_else(|| chat_error("closed", "busy"))?;
            applied?;
            if !backend {
                let payload = payload::encode(
                    format,
                    &Incoming::Revoke {
                        msg_id: id,
                        conversation_id: conversation,
                    },
                )
                .map_err(|e| chat_error("payload", &e.to_string()))?;
                let topic = conversation
                    .topic_from(me)
                    .ok_or_else(|| chat_error("invalid-argument", "no topic"))?;
                publish(&sh, &topic, payload)?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Marks a conversation read here and tells the peer (backend: the server).
    #[wasm_bindgen(js_name = markRead, unchecked_return_type = "Promise<void>")]
    pub fn mark_read(&self, conversation_id: &str) -> Promise {
        let conversation = match parse_conversation(conversation_id) {
            Ok(c) => c,
            Err(e) => return Promise::reject(&e),
        };
        act(&self.sh, |st| st.store.mark_read(conversation));
        let sh = self.sh.clone();
        future_to_promise(async move {
            send_read(&sh, conversation).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The UI shows this conversation: it is read now, and its unread count stays 0 while
    /// it is open.
    #[wasm_bindgen(js_name = openConversation)]
    pub fn open_conversation(&self, conversation_id: &str) -> Result<(), JsValue> {
        let conversation = parse_conversation(conversation_id)?;
        let moved = act(&self.sh, |st| st.store.open(conversation)).unwrap_or(false);
        if moved {
            read_soon(&self.sh, conversation);
        }
        Ok(())
    }

    /// The UI no longer shows a conversation.
    #[wasm_bindgen(js_name = closeConversation)]
    pub fn close_conversation(&self) {
        act(&self.sh, |st| st.store.close());
    }

    /// Every listed conversation, most recent first.
    #[wasm_bindgen(unchecked_return_type = "ChatConversation[]")]
    pub fn conversations(&self) -> JsValue {
        with(&self.sh, |st| {
            convert::conversations(&st.store.conversations(), st.me)
        })
        .unwrap_or_else(|| Array::new().into())
    }

    /// Unread messages over all conversations.
    #[wasm_bindgen(js_name = unreadTotal)]
    pub fn unread_total(&self) -> f64 {
        with(&self.sh, |st| st.store.unread_total() as f64).unwrap_or(0.0)
    }

    /// The messages of a conversation held in memory, ascending.
    #[wasm_bindgen(js_name = loadedMessages, unchecked_return_type = "ChatMessage[]")]
    pub fn loaded_messages(&self, conversation_id: &str) -> Result<JsValue, JsValue> {
        let conversation = parse_conversation(conversation_id)?;
        Ok(with(&self.sh, |st| {
            let all = st.store.messages(conversation, None, usize::MAX);
            convert::messages(&all, st.me)
        })
        .unwrap_or_else(|| Array::new().into()))
    }

    /// One page of a conversation, ascending: the newest, or the one before `before`.
    /// Local history first; the backend when local history runs out.
    #[wasm_bindgen(unchecked_return_type = "Promise<ChatMessage[]>")]
    pub fn messages(
        &self,
        conversation_id: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "PageOptions")] options: JsValue,
    ) -> Promise {
        let conversation = match parse_conversation(conversation_id) {
            Ok(c) => c,
            Err(e) => return Promise::reject(&e),
        };
        let (before, limit) = match options::page(&options) {
            Ok(p) => p,
            Err(e) => return Promise::reject(&e),
        };
        let sh = self.sh.clone();
        future_to_promise(async move { page(&sh, conversation, before, limit).await })
    }

    /// Joins a room: its messages arrive from now on.
    #[wasm_bindgen(js_name = joinRoom, unchecked_return_type = "Promise<void>")]
    pub fn join_room(&self, room_id: &str) -> Promise {
        self.room(room_id, true)
    }

    /// Leaves a room.
    #[wasm_bindgen(js_name = leaveRoom, unchecked_return_type = "Promise<void>")]
    pub fn leave_room(&self, room_id: &str) -> Promise {
        self.room(room_id, false)
    }

    /// Deletes a message on this device only.
    #[wasm_bindgen(js_name = deleteMessage, unchecked_return_type = "Promise<void>")]
    pub fn delete_message(&self, key: &str) -> Promise {
        let deleted = act(&self.sh, |st| {
            let r = st.resolve(key)?;
            st.store.delete_message(&r).map_err(|e| store_error(&e))
        });
        self.after_local_change(deleted)
    }

    /// Deletes a conversation on this device only (it comes back with a newer message).
    #[wasm_bindgen(js_name = deleteConversation, unchecked_return_type = "Promise<void>")]
    pub fn delete_conversation(&self, conversation_id: &str) -> Promise {
        let deleted = parse_conversation(conversation_id).map(|c| {
            act(&self.sh, |st| st.store.delete_conversation(c));
        });
        self.after_local_change(Some(deleted))
    }

    /// Local clock minus server clock in ms (the seed's `offset`); null until calibrated.
    #[wasm_bindgen(js_name = clockOffset)]
    pub fn clock_offset(&self) -> Option<f64> {
        with(&self.sh, |st| {
            st.clock.offset().map(|c| -(c.offset_ms as f64))
        })
        .flatten()
    }

    /// Adds a listener; returns a function that removes it (typed in the declarations).
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: &str, listener: Function) -> Result<JsValue, JsValue> {
        let name = event_name(event)?;
        with(&self.sh, |st| {
            st.listeners.entry(name).or_default().push(listener.clone())
        });
        let weak = Rc::downgrade(&self.sh);
        let off = Closure::once_into_js(move || {
            if let Some(sh) = weak.upgrade() {
                remove_listener(&sh, name, &listener);
            }
        });
        Ok(off)
    }

    /// Removes a listener added with `on`.
    #[wasm_bindgen(skip_typescript)]
    pub fn off(&self, event: &str, listener: Function) -> Result<(), JsValue> {
        let name = event_name(event)?;
        remove_listener(&self.sh, name, &listener);
        Ok(())
    }
}

/// The storage over a JS `KeyValueStore` (the mini-program's `wx` storage); memory, and
/// why, when the object is not one.
fn key_value_storage(me: UserId, kv: JsValue) -> (AnyStorage, Option<StorageError>) {
    match JsKv::new(kv) {
        Ok(kv) => (AnyStorage::from(KvStorage::new(kv, me)), None),
        Err(e) => (AnyStorage::from(MemoryStorage::new()), Some(e)),
    }
}

fn event_name(event: &str) -> Result<&'static str, JsValue> {
    EVENTS
        .iter()
        .find(|e| **e == event)
        .copied()
        .ok_or_else(|| chat_error("invalid-argument", &format!("unknown event: {event}")))
}

fn remove_listener(sh: &Shared, name: &'static str, listener: &Function) {
    with(sh, |st| {
        if let Some(list) = st.listeners.get_mut(name) {
            if let Some(at) = list.iter().position(|f| f == listener) {
                list.remove(at);
            }
        }
    });
}

fn parse_conversation(id: &str) -> Result<ConversationId, JsValue> {
    id.parse()
        .map_err(|_| chat_error("invalid-argument", &format!("not a conversation id: {id}")))
}

fn send_handle(message: JsValue, done: Promise) -> JsValue {
    convert::object(&[("message", message), ("done", done.into())])
}

/// Resolves once every write accepted so far is committed.
async fn flush(sh: &Shared) {
    let persister = with(sh, |st| st.persister.clone());
    if let Some(p) = persister {
        p.flush().await;
    }
}

/// `messages()`: memory, then storage, then the backend, until `limit` are there.
async fn page(
    sh: &Rc<Shared>,
    conversation: ConversationId,
    before: Option<String>,
    limit: Option<usize>,
) -> Result<JsValue, JsValue> {
    let (before, limit) = with(sh, |st| {
        let before = match before {
            Some(key) => {
                let r = st.resolve(&key)?;
                st.store.message(&r).map(|m| m.key.clone())
            }
            None => None,
        };
        Ok::<_, JsValue>((before, limit.unwrap_or(st.page_size).max(1)))
    })
    .ok_or_else(|| chat_error("closed", "busy"))??;
    let held = |sh: &Shared, before: &Option<MessageKey>| {
        with(sh, |st| {
            st.store
                .messages(conversation, before.as_ref(), limit)
                .len()
        })
        .unwrap_or(0)
    };
    if held(sh, &before) < limit {
        let read = with(sh, |st| {
            st.store
                .may_have_older(conversation)
                .then(|| (st.store.paged_from(conversation), st.storage()))
        })
        .flatten();
        if let Some((from, storage)) = read {
            let page = from.map_or(Page::Newest, Page::Before);
            match storage.messages(conversation, page, limit).await {
                Ok(older) => {
                    act(sh, |st| st.store.insert_page(older));
                }
                Err(e) => {
                    act(sh, |st| st.error(storage_error(&e)));
                }
            }
        }
    }
    let have = held(sh, &before);
    if have < limit && with(sh, |st| st.backend().is_some()) == Some(true) {
        let oldest = with(sh, |st| st.store.oldest_key(conversation).map(|k| k.weight)).flatten();
        let answer = call(sh, &api::history(conversation, oldest, limit - have))
            .await
            .and_then(|(s, b)| api::parse_history(s, &b));
        match answer {
            Ok(page) => {
                act(sh, |st| st.store.apply_history(page));
            }
            Err(e) => {
                // Offline: what is held locally is the answer.
                act(sh, |st| st.log(LogLevel::Warn, &format!("history: {e}")));
            }
        }
    }
    with(sh, |st| {
        convert::messages(
            &st.store.messages(conversation, before.as_ref(), limit),
            st.me,
        )
    })
    .ok_or_else(|| chat_error("closed", "busy"))
}

impl ChatClient {
    async fn open(parsed: Parsed) -> ChatClient {
        let Parsed {
            me,
            mode,
            session,
            credentials,
            credentials_fn,
            transport,
            format,
            storage,
            presence,
            contacts,
            page_size,
            nick_name,
            avatar,
            log,
        } = parsed;
        let mut storage_failure = None;
        let storage = match storage {
            StorageChoice::Memory => AnyStorage::from(MemoryStorage::new()),
            StorageChoice::IndexedDb => {
                let (s, e) = AnyStorage::open_or_memory(me).await;
                storage_failure = e;
                s
            }
            StorageChoice::KeyValue(kv) => {
                let (s, e) = key_value_storage(me, kv);
                storage_failure = e;
                s
            }
        };
        let loaded = startup::load(&storage, me, page_size).await;
        let (store, outbox, offset) = match loaded {
            Ok(s) => (s.store, s.outbox, s.clock_offset_ms),
            Err(e) => {
                storage_failure = Some(e);
                (Store::new(me), Vec::new(), None)
            }
        };
        let mut clock = Clock::new();
        if let Some(offset) = offset {
            clock.assume_offset(offset);
        }
        let topics_wanted = match &mode {
            Mode::Direct { topics, .. } => topics.clone(),
            Mode::Backend(_) => vec![topics::chat(me)],
        };
        let direct_url = match &mode {
            Mode::Direct { url, .. } => url.clone(),
            Mode::Backend(b) => b.mqtt_url.clone().unwrap_or_default(),
        };
        let backend = matches!(mode, Mode::Backend(_));
        let sh = Rc::new_cyclic(|weak: &Weak<Shared>| {
            let on_error = {
                let weak = weak.clone();
                Box::new(move |e: &StorageError| {
                    if let Some(sh) = weak.upgrade() {
                        let error = storage_error(e);
                        act(&sh, |st| st.error(error));
                    }
                }) as Box<dyn Fn(&StorageError)>
            };
            Shared {
                state: RefCell::new(State {
                    me,
                    mode,
                    format,
                    page_size,
                    presence,
                    contacts,
                    nick_name,
                    avatar,
                    log,
                    store,
                    clock,
                    mono: MonoClock::new(),
                    persister: Persister::new(storage, on_error),
                    listeners: HashMap::new(),
                    sends: HashMap::new(),
                    publishes: HashMap::new(),
                    topics: topics_wanted,
                    subscribed: HashSet::new(),
                    incoming: VecDeque::new(),
                    draining: false,
                    reads: HashMap::new(),
                    outbox,
                    calibrating: false,
                    connected_once: false,
                    closed: false,
                    notes: Vec::new(),
                }),
                mqtt: OnceCell::new(),
            }
        });
        let mut config: SessionConfig = session;
        if presence {
            config.will = Some(Will {
                topic: topics::presence(me),
                payload: topics::OFFLINE.to_vec(),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties::default(),
            });
        }
        let weak = Rc::downgrade(&sh);
        let hook = Rc::new(move |event: Event| {
            if let Some(sh) = weak.upgrade() {
                on_session_event(&sh, event);
            }
        });
        let source = if backend {
            Some(conn_config_source(Rc::downgrade(&sh)))
        } else {
            credentials_fn.map(CredentialSource::Js)
        };
        let mqtt = MqttClient::build(
            direct_url,
            config,
            credentials,
            source,
            transport,
            Some(hook),
        );
        let _ = sh.mqtt.set(mqtt);
        if let Some(e) = storage_failure {
            with(&sh, |st| {
                st.log(
                    LogLevel::Warn,
                    &format!("local history unavailable, in memory only: {e}"),
                )
            });
        }
        ChatClient { sh }
    }

    fn is_backend(&self) -> bool {
        with(&self.sh, |st| st.backend().is_some()) == Some(true)
    }

    fn send(&self, conversation_id: &str, content: Content) -> Result<JsValue, JsValue> {
        let conversation = parse_conversation(conversation_id)?;
        let (message, out) = act(&self.sh, |st| {
            if st.closed {
                return Err(chat_error("closed", "the client was logged out"));
            }
            let weight = st.weight();
            let local_id = st.local_id();
            let m = st
                .store
                .send_local(conversation, content.clone(), &local_id, weight)
                .map_err(|e| store_error(&e))?;
            Ok((
                convert::message(&m, st.me),
                Outgoing {
                    local_id,
                    conversation,
                    content,
                    weight,
                },
            ))
        })
        .ok_or_else(|| chat_error("closed", "busy"))??;
        let (done, resolve) = promise()?;
        let recalibrate = with(&self.sh, |st| {
            st.sends
                .entry(out.local_id.clone())
                .or_default()
                .push(resolve);
            st.backend().is_some() && st.clock.needs_calibration(st.now_mono(), wall_ms() as u64)
        });
        if recalibrate == Some(true) {
            spawn_local(calibrate(self.sh.clone()));
        }
        transmit(&self.sh, out);
        Ok(send_handle(message, done))
    }

    /// DISCONNECT after a retained `offline` (a clean goodbye fires no will).
    fn goodbye(&self) {
        let presence = with(&self.sh, |st| st.presence.then(|| topics::presence(st.me))).flatten();
        if let Some(mqtt) = self.sh.mqtt.get() {
            if let Some(topic) = presence {
                if mqtt.session_status() == crate::session::Status::Connected {
                    let _ = mqtt.call(
                        |s, now| {
                            s.publish(now, &topic, topics::OFFLINE.to_vec(), QoS::AtMostOnce, true)
                        },
                        |_| {},
                    );
                }
            }
            mqtt.disconnect();
        }
    }

    fn room(&self, room_id: &str, join: bool) -> Promise {
        let Ok(room) = room_id.parse::<u64>() else {
            return Promise::reject(&chat_error(
                "invalid-argument",
                "room ids are decimal strings",
            ));
        };
        let sh = self.sh.clone();
        future_to_promise(async move {
            let backend = with(&sh, |st| st.backend().is_some()).unwrap_or(false);
            if backend {
                let request = if join {
                    api::join_room(room)
                } else {
                    api::leave_room(room)
                };
                call(&sh, &request)
                    .await
                    .and_then(|(s, b)| api::parse_ok(s, &b))
                    .map_err(|e| api_error(&e))?;
            }
            let topic = topics::room(room);
            let conversation = ConversationId::Room(room);
            let subscribe = act(&sh, |st| {
                if join {
                    let now = st.now_server();
                    st.store.ensure_conversation(conversation, now);
                    if !st.topics.contains(&topic) {
                        st.topics.push(topic.clone());
                    }
                    st.subscribed.insert(topic.clone())
                } else {
                    st.topics.retain(|t| *t != topic);
                    st.subscribed.remove(&topic)
                }
            })
            .unwrap_or(false);
            if let (true, Some(mqtt)) = (subscribe, sh.mqtt.get()) {
                let result = if join {
                    let filters = vec![SubscribeFilter::new(topic, QoS::AtLeastOnce)];
                    mqtt.call(|s, now| s.subscribe(now, filters), |_| {})
                } else {
                    mqtt.call(|s, now| s.unsubscribe(now, vec![topic]), |_| {})
                };
                result.map_err(|e| chat_error("mqtt", &e.to_string()))?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    fn after_local_change(&self, result: Option<Result<(), JsValue>>) -> Promise {
        match result {
            Some(Ok(())) => {
                let sh = self.sh.clone();
                future_to_promise(async move {
                    flush(&sh).await;
                    Ok(JsValue::UNDEFINED)
                })
            }
            Some(Err(e)) => Promise::reject(&e),
            None => Promise::reject(&chat_error("closed", "busy")),
        }
    }
}

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
mod incoming;
mod network;
mod options;
mod outgoing;
mod state;

use std::cell::{OnceCell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use super::task::{future_to_promise, spawn_local};
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;

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
use crate::collections::VecMap;
use crate::mqtt::{Properties, Publish, QoS, SubscribeFilter, Will};
use crate::session::{Credentials, Event, PublishId, SessionConfig};
use crate::storage::{meta, startup, KvStorage, MemoryStorage, Page, Storage, StorageError};
use crate::web::storage::{AnyStorage, JsKv};
use http::Backend;
use incoming::*;
use network::*;
use options::{LogLevel, Mode, Parsed, StorageChoice};
use outgoing::*;
use state::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = include_str!("../chat_client.d.ts");

/// The 2-minute revoke window of PROTOCOL.md, checked before asking the backend.
pub(super) const REVOKE_WINDOW_MS: u64 = 120_000;
/// Largest id a direct-mode client draws: ids stay exact as JS numbers too.
pub(super) const MAX_SAFE: u64 = (1 << 53) - 1;

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
        with(&self.sh, |st| st.add_send(&local_id, resolve));
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
                                let why = match other {
                                    Ok((status, _)) => format!("status {status}"),
                                    Err(e) => e.to_string(),
                                };
                                st.log(LogLevel::Warn, &format!("resend failed: {why}"));
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
        with(&self.sh, |st| match st.listeners.get_mut(name) {
            Some(list) => list.push(listener.clone()),
            None => {
                st.listeners.insert(name, vec![listener.clone()]);
            }
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
                    listeners: VecMap::new(),
                    sends: VecMap::new(),
                    publishes: VecMap::new(),
                    topics: topics_wanted,
                    subscribed: VecMap::new(),
                    incoming: VecDeque::new(),
                    draining: false,
                    reads: VecMap::new(),
                    outbox,
                    calibrating: false,
                    offline_since: None,
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
            st.add_send(&out.local_id, resolve);
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
                    st.subscribed.insert(topic.clone(), ()).is_none()
                } else {
                    st.topics.retain(|t| *t != topic);
                    st.subscribed.remove(&topic).is_some()
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

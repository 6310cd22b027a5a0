//! `ChatClient`: the chat product behind one JS object. Every rule lives in the pure
//! [`ChatEngine`](crate::client::ChatEngine); this module only translates.
//!
//! * JS calls become engine commands (arguments parsed, a promise registered under a
//!   command id the engine settles);
//! * the engine's outputs are carried out by the driver loop (`driver`): MQTT calls on the
//!   shell's [`MqttDriver`] (whose session events come back into the engine through a
//!   hook), `fetch` (`http`), storage reads on the current backend and writes through the
//!   [`Persister`], listener calls (`convert` makes the JS values), promise settlements,
//!   console lines and one timer;
//! * start-up opens local storage and loads the conversations before the engine exists, so
//!   `conversations()` answers before any network call.

mod convert;
mod driver;
mod http;
mod options;
mod tape;

use std::rc::Rc;

use super::task::future_to_promise;
use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;

use super::client::{CredentialSource, CredentialsFuture, MqttDriver};
use super::clock::global_property;
use super::js::object;
use super::persist::Persister;
use crate::chat::{Content, ConversationId, UserId};
use crate::client::{self as engine, ChatEngine, ChatError, ErrorCode, Restored};
use crate::session::Event;
#[cfg(feature = "kv")]
use crate::storage::KvStorage;
use crate::storage::{startup, MemoryStorage, StorageError};
use crate::web::storage::AnyStorage;
#[cfg(feature = "kv")]
use crate::web::storage::JsKv;
use driver::{input, read, Shared};
use options::{Parsed, StorageChoice};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = include_str!("../chat_client.d.ts");

thread_local! {
    /// The clients of this JS context that hold (or are getting) a connection: a second
    /// one of the same user would fight the first over its client id at the broker.
    static LIVE: std::cell::RefCell<Vec<(UserId, std::rc::Weak<Shared>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The live client of `me` in this JS context, other than `except`.
fn live_other(me: UserId, except: Option<&Rc<Shared>>) -> bool {
    LIVE.with(|live| {
        let mut live = live.borrow_mut();
        live.retain(|(_, w)| w.strong_count() > 0);
        live.iter().any(|(u, w)| {
            *u == me && except.is_none_or(|sh| !std::ptr::eq(w.as_ptr(), Rc::as_ptr(sh)))
        })
    })
}

fn in_use(me: UserId) -> JsValue {
    js_error(&ChatError::new(
        ErrorCode::InUse,
        format!(
            "user {me} already has a connected ChatClient here: use it, or disconnect it first"
        ),
    ))
}

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

/// A chat client: MQTT session, chat state, local history and (in backend mode) the
/// backend's HTTP API, behind one object. Create it with `ChatClient.create(options)`;
/// see `ChatClientOptions` and `ChatEventMap` in the type declarations.
#[wasm_bindgen]
pub struct ChatClient {
    sh: Rc<Shared>,
}

fn js_error(e: &ChatError) -> JsValue {
    convert::error(e)
}

fn busy() -> JsValue {
    js_error(&ChatError::new(ErrorCode::Closed, "busy"))
}

fn parse_conversation(id: &str) -> Result<ConversationId, JsValue> {
    engine::parse_conversation(id).map_err(|e| js_error(&e))
}

#[wasm_bindgen]
impl ChatClient {
    /// Opens local storage and loads the conversations, each with its newest message (kept
    /// in its record: no message is read), so `conversations()` answers before any
    /// network call. A conversation's pages are read when `messages()` asks. Does not
    /// connect.
    #[wasm_bindgen(unchecked_return_type = "Promise<ChatClient>")]
    pub fn create(
        #[wasm_bindgen(unchecked_param_type = "ChatClientOptions")] options: JsValue,
    ) -> Promise {
        let parsed = match options::parse(&options) {
            Ok(p) => p,
            Err(e) => return Promise::reject(&e),
        };
        if live_other(parsed.engine.me, None) {
            return Promise::reject(&in_use(parsed.engine.me));
        }
        future_to_promise(async move { Ok(ChatClient::open(parsed).await.into()) })
    }

    /// The conversation id of two users' 1:1 chat ("1_2").
    #[wasm_bindgen(js_name = conversationIdOf)]
    pub fn conversation_id_of(user_a: &str, user_b: &str) -> Result<String, JsValue> {
        engine::conversation_id_of(user_a, user_b)
            .map(|c| c.to_string())
            .map_err(|e| js_error(&e))
    }

    /// How long after sending a message its sender may revoke it, in ms of server time
    /// (PROTOCOL.md's window, from the one place the client checks it).
    #[wasm_bindgen(js_name = revokeWindowMs)]
    pub fn revoke_window_ms() -> f64 {
        crate::chat::store::REVOKE_WINDOW_MS as f64
    }

    /// Starts the session (backend mode: conn-config first) and sends what the last run
    /// left unsent.
    pub fn connect(&self) -> Result<(), JsValue> {
        let me = read(&self.sh, |e| e.me()).ok_or_else(busy)?;
        if live_other(me, Some(&self.sh)) {
            return Err(in_use(me));
        }
        LIVE.with(|live| {
            let mut live = live.borrow_mut();
            if !live
                .iter()
                .any(|(_, w)| std::ptr::eq(w.as_ptr(), Rc::as_ptr(&self.sh)))
            {
                live.push((me, Rc::downgrade(&self.sh)));
            }
        });
        input(&self.sh, |e, now| e.connect(now));
        Ok(())
    }

    /// Whether this tab holds the connection ("leader") or is served by the tab that does
    /// ("follower"). A client made straight from the wasm module is always the leader.
    #[wasm_bindgen(unchecked_return_type = "ChatRole")]
    pub fn role(&self) -> String {
        "leader".into()
    }

    /// Reconnects at once if waiting to reconnect, or checks a connection that may have
    /// died unnoticed. Called by itself on the browser's `online` event and when the page
    /// becomes visible; a mini-program calls it from `wx.onAppShow`.
    pub fn wake(&self) {
        if let Some(mqtt) = self.sh.mqtt.get() {
            mqtt.nudge();
        }
    }

    /// Says goodbye (presence `offline`, DISCONNECT) and resolves once local writes are done.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn disconnect(&self) -> Promise {
        self.release();
        input(&self.sh, |e, now| e.disconnect(now));
        self.flushed()
    }

    /// Disconnects and deletes this user's local data.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn logout(&self) -> Promise {
        self.release();
        self.command(|e, now, command| e.logout(now, command))
    }

    /// The connection status.
    #[wasm_bindgen(unchecked_return_type = "ChatStatus")]
    pub fn status(&self) -> String {
        if read(&self.sh, |e| e.is_closed()) == Some(true) {
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
        self.handle(|e, now, command| e.resend(now, command, key))
    }

    /// Revokes a message of mine (within 2 minutes of sending): the content goes on both
    /// sides, a notice stays. Rejects `revoke-expired` after 2 minutes.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn revoke(&self, key: &str) -> Promise {
        self.command(|e, now, command| e.revoke(now, command, key))
    }

    /// Marks a conversation read here and tells the peer (backend: the server).
    #[wasm_bindgen(js_name = markRead, unchecked_return_type = "Promise<void>")]
    pub fn mark_read(&self, conversation_id: &str) -> Promise {
        match parse_conversation(conversation_id) {
            Ok(c) => self.command(|e, now, command| e.mark_read(now, command, c)),
            Err(e) => Promise::reject(&e),
        }
    }

    /// The UI shows this conversation: it is read now, and its unread count stays 0 while
    /// it is open.
    #[wasm_bindgen(js_name = openConversation)]
    pub fn open_conversation(&self, conversation_id: &str) -> Result<(), JsValue> {
        let conversation = parse_conversation(conversation_id)?;
        input(&self.sh, |e, now| e.open_conversation(now, conversation));
        Ok(())
    }

    /// The UI no longer shows a conversation.
    #[wasm_bindgen(js_name = closeConversation)]
    pub fn close_conversation(&self) {
        input(&self.sh, |e, now| e.close_conversation(now));
    }

    /// Every listed conversation, most recent first.
    #[wasm_bindgen(unchecked_return_type = "ChatConversation[]")]
    pub fn conversations(&self) -> JsValue {
        read(&self.sh, |e| convert::conversations(&e.conversations(), e))
            .unwrap_or_else(|| Array::new().into())
    }

    /// Unread messages over all conversations.
    #[wasm_bindgen(js_name = unreadTotal)]
    pub fn unread_total(&self) -> f64 {
        read(&self.sh, |e| e.unread_total() as f64).unwrap_or(0.0)
    }

    /// The messages of a conversation held in memory, ascending.
    #[wasm_bindgen(js_name = loadedMessages, unchecked_return_type = "ChatMessage[]")]
    pub fn loaded_messages(&self, conversation_id: &str) -> Result<JsValue, JsValue> {
        let conversation = parse_conversation(conversation_id)?;
        Ok(read(&self.sh, |e| {
            convert::messages(&e.loaded_messages(conversation), e)
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
        let page = parse_conversation(conversation_id)
            .and_then(|c| options::page(&options).map(|p| (c, p)));
        match page {
            Ok((c, (before, limit))) => self
                .command(|e, now, command| e.messages(now, command, c, before.as_deref(), limit)),
            Err(e) => Promise::reject(&e),
        }
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
        match input(&self.sh, |e, now| e.delete_message(now, key)) {
            Some(Ok(())) => self.flushed(),
            Some(Err(e)) => Promise::reject(&js_error(&e)),
            None => Promise::reject(&busy()),
        }
    }

    /// Deletes a conversation on this device only (it comes back with a newer message).
    #[wasm_bindgen(js_name = deleteConversation, unchecked_return_type = "Promise<void>")]
    pub fn delete_conversation(&self, conversation_id: &str) -> Promise {
        match parse_conversation(conversation_id) {
            Ok(c) => {
                input(&self.sh, |e, now| e.delete_conversation(now, c));
                self.flushed()
            }
            Err(e) => Promise::reject(&e),
        }
    }

    // ---- for the tabs of one user (the package's tab layer; not in the type declarations) --

    /// What tab `tab` shows: `conversationId` (or nothing) while `visible`. A conversation
    /// is open, read now and as messages arrive, while any visible tab shows it.
    #[wasm_bindgen(js_name = setView, skip_typescript)]
    pub fn set_view(
        &self,
        tab: &str,
        conversation_id: Option<String>,
        visible: bool,
    ) -> Result<(), JsValue> {
        let open = conversation_id
            .as_deref()
            .map(parse_conversation)
            .transpose()?;
        input(&self.sh, |e, now| e.set_view(now, tab, open, visible));
        Ok(())
    }

    /// The current status as a `status` event's value (a tab taking over tells its page).
    #[wasm_bindgen(js_name = statusEvent, skip_typescript)]
    pub fn status_event(&self) -> JsValue {
        if read(&self.sh, |e| e.is_closed()) == Some(true) {
            return convert::status(None);
        }
        convert::status(self.sh.mqtt.get().map(|m| m.session_status()))
    }

    /// The other tabs that show a conversation.
    #[wasm_bindgen(js_name = viewTabs, skip_typescript)]
    pub fn view_tabs(&self) -> Vec<String> {
        read(&self.sh, |e| e.view_tabs()).unwrap_or_default()
    }

    /// The local copy `sendText` would show, not sent: a tab without the connection drafts
    /// it, and the tab with it sends it with `sendDraft`.
    #[wasm_bindgen(js_name = draft, skip_typescript)]
    pub fn draft(
        &self,
        conversation_id: &str,
        kind: &str,
        text_or_url: String,
        cover: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let conversation = parse_conversation(conversation_id)?;
        let content = content_of(kind, text_or_url, cover)?;
        input(&self.sh, |e, now| {
            e.draft(now, conversation, content)
                .map(|m| convert::message(&m, e))
        })
        .ok_or_else(busy)?
        .map_err(|e| js_error(&e))
    }

    /// Sends a message drafted by `draft` (in this tab or another); sent once, however
    /// often it is asked.
    #[wasm_bindgen(js_name = sendDraft, skip_typescript)]
    pub fn send_draft(&self, draft: JsValue) -> Result<JsValue, JsValue> {
        let field = |k: &str| {
            js_sys::Reflect::get(&draft, &k.into())
                .ok()
                .and_then(|v| v.as_string())
        };
        let bad = || js_error(&ChatError::new(ErrorCode::InvalidArgument, "not a draft"));
        let local_id = field("localId").ok_or_else(bad)?;
        let conversation = parse_conversation(&field("conversationId").ok_or_else(bad)?)?;
        let kind = field("kind").ok_or_else(bad)?;
        let main = if kind == "text" {
            field("text")
        } else {
            field("url")
        };
        let content = content_of(&kind, main.ok_or_else(bad)?, field("cover"))?;
        let weight = js_sys::Reflect::get(&draft, &"weight".into())
            .ok()
            .and_then(|w| w.as_f64())
            .filter(|w| {
                w.fract() == 0.0 && *w >= 0.0 && *w <= crate::chat::clock::MAX_SAFE_MS as f64
            })
            .ok_or_else(bad)? as u64;
        self.handle(|e, now, command| {
            e.send_draft(now, command, &local_id, conversation, content, weight)
        })
    }

    /// The stored record of a message (JSON), for a tab without the connection to keep.
    #[wasm_bindgen(js_name = recordOf, skip_typescript)]
    pub fn record_of(&self, key: &str) -> Option<String> {
        read(&self.sh, |e| e.record_of(key)).flatten()
    }

    /// Takes in messages (records from `recordOf`) that another tab's client held and this
    /// one may lack; messages of mine it was still sending go out again.
    #[wasm_bindgen(skip_typescript)]
    pub fn adopt(&self, records: Vec<String>) {
        let messages = ChatEngine::parse_records(&records);
        input(&self.sh, |e, now| e.adopt(now, messages));
    }

    /// Assumes a clock offset (local minus server, ms) until calibrated.
    #[wasm_bindgen(js_name = assumeClockOffset, skip_typescript)]
    pub fn assume_clock_offset(&self, offset_ms: f64) {
        if offset_ms.is_finite() {
            let offset = offset_ms as i64;
            input(&self.sh, |e, _| e.assume_clock_offset(offset));
        }
    }

    /// Local clock minus server clock in ms (the seed's `offset`); null until calibrated.
    #[wasm_bindgen(js_name = clockOffset)]
    pub fn clock_offset(&self) -> Option<f64> {
        read(&self.sh, |e| e.clock_offset().map(|o| o as f64)).flatten()
    }

    /// Adds a listener; returns a function that removes it (typed in the declarations).
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: &str, listener: Function) -> Result<JsValue, JsValue> {
        let name = event_name(event)?;
        self.sh.add_listener(name, listener.clone());
        let weak = Rc::downgrade(&self.sh);
        let off = Closure::once_into_js(move || {
            if let Some(sh) = weak.upgrade() {
                sh.remove_listener(name, &listener);
            }
        });
        Ok(off)
    }

    /// Removes a listener added with `on`.
    #[wasm_bindgen(skip_typescript)]
    pub fn off(&self, event: &str, listener: Function) -> Result<(), JsValue> {
        let name = event_name(event)?;
        self.sh.remove_listener(name, &listener);
        Ok(())
    }
}

/// The content of a text, image or video message.
fn content_of(kind: &str, text_or_url: String, cover: Option<String>) -> Result<Content, JsValue> {
    match kind {
        "text" => Ok(Content::Text { text: text_or_url }),
        "image" => Ok(Content::Image {
            url: text_or_url,
            cover,
        }),
        "video" => Ok(Content::Video {
            url: text_or_url,
            cover,
        }),
        other => Err(js_error(&ChatError::new(
            ErrorCode::InvalidArgument,
            format!("cannot send a {other} message"),
        ))),
    }
}

fn event_name(event: &str) -> Result<&'static str, JsValue> {
    EVENTS
        .iter()
        .find(|e| **e == event)
        .copied()
        .ok_or_else(|| {
            js_error(&ChatError::new(
                ErrorCode::InvalidArgument,
                format!("unknown event: {event}"),
            ))
        })
}

/// The storage over a JS `KeyValueStore` (the mini-program's `wx` storage); memory, and
/// why, when the object is not one.
#[cfg(feature = "kv")]
fn key_value_storage(me: UserId, kv: JsValue) -> (AnyStorage, Option<StorageError>) {
    match JsKv::new(kv) {
        Ok(kv) => (AnyStorage::from(KvStorage::new(kv, me)), None),
        Err(e) => (AnyStorage::from(MemoryStorage::new()), Some(e)),
    }
}

/// The page's `location.protocol` (`None` where there is no page: a mini-program).
fn page_protocol() -> Option<String> {
    global_property("location")
        .and_then(|l| js_sys::Reflect::get(&l, &"protocol".into()).ok())
        .and_then(|p| p.as_string())
}

impl ChatClient {
    async fn open(parsed: Parsed) -> ChatClient {
        let Parsed {
            engine: config,
            backend,
            mut session,
            credentials,
            credentials_fn,
            transport,
            storage,
            log,
        } = parsed;
        let me = config.me;
        let (storage, failure) = match storage {
            StorageChoice::Memory => (AnyStorage::from(MemoryStorage::new()), None),
            #[cfg(feature = "indexeddb")]
            StorageChoice::IndexedDb => AnyStorage::open_or_memory(me).await,
            #[cfg(feature = "kv")]
            StorageChoice::KeyValue(kv) => key_value_storage(me, kv),
        };
        let restored = match startup::load(&storage, me).await {
            Ok(s) => Restored {
                store: Some(s.store),
                outbox: s.outbox,
                clock_offset_ms: s.clock_offset_ms,
                failure,
            },
            Err(e) => Restored {
                failure: Some(e),
                ..Restored::default()
            },
        };
        let chat = ChatEngine::new(config, restored);
        session.will = chat.will();
        let is_backend = chat.is_backend();
        let sh = Rc::new_cyclic(|weak: &std::rc::Weak<Shared>| {
            let weak = weak.clone();
            let on_error = Box::new(move |e: &StorageError| {
                if let Some(sh) = weak.upgrade() {
                    input(&sh, |engine, now| engine.handle_storage_failed(now, e));
                }
            }) as Box<dyn Fn(&StorageError)>;
            Shared::new(chat, Persister::new(storage, on_error), backend, log)
        });
        let weak = Rc::downgrade(&sh);
        let hook = Rc::new(move |events: Vec<Event>| {
            if let Some(sh) = weak.upgrade() {
                input(&sh, |e, now| e.handle_session_events(now, events));
            }
        });
        let source = if is_backend {
            Some(conn_config_source(Rc::downgrade(&sh)))
        } else {
            credentials_fn.map(CredentialSource::Js)
        };
        let mqtt = MqttDriver::build(session, credentials, source, transport, hook);
        let _ = sh.mqtt.set(mqtt);
        // What start-up logged (storage unavailable) goes out now.
        driver::pump(&sh);
        ChatClient { sh }
    }

    /// No longer holds the connection: another client of the user may.
    fn release(&self) {
        LIVE.with(|live| {
            live.borrow_mut()
                .retain(|(_, w)| !std::ptr::eq(w.as_ptr(), Rc::as_ptr(&self.sh)))
        });
    }

    fn send(&self, conversation_id: &str, content: Content) -> Result<JsValue, JsValue> {
        let conversation = parse_conversation(conversation_id)?;
        self.handle(|e, now, command| e.send(now, command, conversation, content))
    }

    /// A call answered at once with a message and later through its `done` promise.
    fn handle(
        &self,
        f: impl FnOnce(
            &mut ChatEngine,
            engine::Now,
            engine::CommandId,
        ) -> Result<crate::chat::store::StoredMessage, ChatError>,
    ) -> Result<JsValue, JsValue> {
        let (command, done) = self.sh.command()?;
        let result = input(&self.sh, |e, now| {
            f(e, now, command).map(|m| convert::message(&m, e))
        });
        match result {
            Some(Ok(message)) => Ok(object(&[("message", message), ("done", done.into())])),
            Some(Err(e)) => {
                self.sh.forget(command);
                Err(js_error(&e))
            }
            None => {
                self.sh.forget(command);
                Err(busy())
            }
        }
    }

    /// A call whose promise the engine settles.
    fn command(&self, f: impl FnOnce(&mut ChatEngine, engine::Now, engine::CommandId)) -> Promise {
        let (command, promise) = match self.sh.command() {
            Ok(p) => p,
            Err(e) => return Promise::reject(&e),
        };
        if input(&self.sh, |e, now| f(e, now, command)).is_none() {
            self.sh.forget(command);
            return Promise::reject(&busy());
        }
        promise
    }

    fn room(&self, room_id: &str, join: bool) -> Promise {
        match room_id.parse::<u64>() {
            Ok(room) => self.command(|e, now, command| e.room(now, command, room, join)),
            Err(_) => Promise::reject(&js_error(&ChatError::new(
                ErrorCode::InvalidArgument,
                "room ids are decimal strings",
            ))),
        }
    }

    /// Resolves once every write accepted so far is committed.
    fn flushed(&self) -> Promise {
        let persister = self.sh.persister.clone();
        future_to_promise(async move {
            persister.flush().await;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// Backend mode's credential source: the engine's conn-config request before every
/// attempt; its answer names the broker URL and the credentials.
fn conn_config_source(weak: std::rc::Weak<Shared>) -> CredentialSource {
    CredentialSource::Rust(Rc::new(move || -> CredentialsFuture {
        let weak = weak.clone();
        Box::pin(async move {
            let sh = weak.upgrade().ok_or("the ChatClient was freed")?;
            let request = read(&sh, |e| e.conn_config_request())
                .flatten()
                .ok_or("no conn-config in direct mode")?;
            let backend = sh.backend.clone().ok_or("no backend")?;
            let answer = http::run(&backend, &request).await;
            let protocol = page_protocol();
            let (urls, credentials) = input(&sh, |e, _| {
                e.handle_conn_config(answer, protocol.as_deref())
            })
            .ok_or("the ChatClient is busy")??;
            if let Some(mqtt) = sh.mqtt.get() {
                mqtt.set_urls(urls);
            }
            Ok(credentials)
        })
    }))
}

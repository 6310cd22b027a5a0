//! The client's state, the borrow discipline ([`with`], [`act`]) and the notes
//! (listener calls, promise settlements) that run after the borrow.

use super::*;

/// A listener call or a promise settlement, decided under the borrow and run after it.
pub(super) struct Note {
    pub(super) listeners: Vec<Function>,
    pub(super) value: JsValue,
}

/// What a direct-mode publish was for, by the id the session gave it.
pub(super) struct Publication {
    pub(super) local_id: String,
    pub(super) server_id: ServerId,
    pub(super) weight: u64,
}

/// A message of mine to hand to the network.
pub(super) struct Outgoing {
    pub(super) local_id: String,
    pub(super) conversation: ConversationId,
    pub(super) content: Content,
    pub(super) weight: u64,
}

pub(super) struct State {
    pub(super) me: UserId,
    pub(super) mode: Mode,
    pub(super) format: PayloadFormat,
    pub(super) page_size: usize,
    pub(super) presence: bool,
    pub(super) contacts: Vec<UserId>,
    pub(super) nick_name: Option<String>,
    pub(super) avatar: Option<String>,
    pub(super) log: LogLevel,
    pub(super) store: Store,
    pub(super) clock: Clock,
    pub(super) mono: MonoClock,
    pub(super) persister: Persister,
    // Small maps: VecMap, not HashMap (each HashMap key/value type costs ~1-2 KB of wasm).
    pub(super) listeners: VecMap<&'static str, Vec<Function>>,
    /// `done` promises of sends, by local id.
    pub(super) sends: VecMap<String, Vec<Function>>,
    pub(super) publishes: VecMap<PublishId, Publication>,
    /// Chat topics to be subscribed (own topic, rooms; conn-config's `sub_topics`).
    pub(super) topics: Vec<String>,
    /// Topics subscribed (the values are nothing: a set).
    pub(super) subscribed: VecMap<String, ()>,
    pub(super) incoming: VecDeque<Queued>,
    pub(super) draining: bool,
    /// Read receipts under way, by conversation: `true` when another is due after it.
    pub(super) reads: VecMap<ConversationId, bool>,
    /// Messages of mine left unsent by the last run, sent on `connect()`.
    pub(super) outbox: Vec<OutboxEntry>,
    pub(super) calibrating: bool,
    /// Server time when the connection was lost (the first drop since the last connect).
    pub(super) offline_since: Option<u64>,
    pub(super) closed: bool,
    pub(super) notes: Vec<Note>,
}

pub(super) struct Shared {
    pub(super) state: RefCell<State>,
    pub(super) mqtt: OnceCell<MqttClient>,
}

/// Borrows the state for `f`; `None` if it is borrowed already (never with this module's
/// discipline, but a panic would kill the whole wasm instance).
pub(super) fn with<R>(sh: &Shared, f: impl FnOnce(&mut State) -> R) -> Option<R> {
    let mut st = borrow(sh)?;
    Some(f(&mut st))
}

// `with` and `act` are instantiated for every closure (some hundred call sites); what does
// not depend on the closure lives in these non-generic functions, once.

/// The state, mutably; `None` (and an error logged) if it is borrowed already.
#[inline(never)]
fn borrow(sh: &Shared) -> Option<std::cell::RefMut<'_, State>> {
    match sh.state.try_borrow_mut() {
        Ok(st) => Some(st),
        Err(_) => {
            web_sys::console::error_1(&"[imcore] re-entrant call into ChatClient ignored".into());
            None
        }
    }
}

/// [`with`], then the store's events and the notes are carried out after the borrow.
pub(super) fn act<R>(sh: &Shared, f: impl FnOnce(&mut State) -> R) -> Option<R> {
    let r = {
        let mut st = borrow(sh)?;
        f(&mut st)
    };
    settle_drain(sh);
    Some(r)
}

/// The second half of [`act`]: drains the store's events into notes under the borrow, then
/// calls the listeners after it.
#[inline(never)]
fn settle_drain(sh: &Shared) {
    let Some(notes) = borrow(sh).map(|mut st| st.drain()) else {
        return;
    };
    for note in notes {
        for listener in note.listeners {
            if let Err(e) = listener.call1(&JsValue::UNDEFINED, &note.value) {
                web_sys::console::error_2(&"[imcore] a ChatClient listener threw".into(), &e);
            }
        }
    }
}

/// A JS `Error` named `ChatError` with a stable `code`.
pub(super) fn chat_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("ChatError");
    let _ = Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

pub(super) fn store_error(e: &StoreError) -> JsValue {
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

pub(super) fn api_error(e: &ApiError) -> JsValue {
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

pub(super) fn storage_error(e: &StorageError) -> JsValue {
    chat_error("storage", &e.to_string())
}

/// A promise and its resolve function (the executor runs synchronously inside
/// `new Promise`, so it is always there).
pub(super) fn promise() -> Result<(Promise, Function), JsValue> {
    let mut resolve_fn = None;
    let p = Promise::new(&mut |resolve, _| resolve_fn = Some(resolve));
    resolve_fn
        .map(|f| (p, f))
        .ok_or_else(|| chat_error("invalid-argument", "cannot create a Promise"))
}

impl State {
    pub(super) fn now_mono(&self) -> u64 {
        self.mono.now_ms()
    }

    /// A weight for something I do now (strictly increasing).
    pub(super) fn weight(&mut self) -> u64 {
        let mono = self.mono.now_ms();
        self.clock.weight(mono, wall_ms() as u64)
    }

    /// Now in server time.
    pub(super) fn now_server(&self) -> u64 {
        self.clock.now_server(self.mono.now_ms(), wall_ms() as u64)
    }

    pub(super) fn log(&self, level: LogLevel, message: &str) {
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

    pub(super) fn note(&mut self, event: &str, value: impl FnOnce(&State) -> JsValue) {
        let listeners = self.listeners.get(event).cloned().unwrap_or_default();
        if !listeners.is_empty() {
            let value = value(self);
            self.notes.push(Note { listeners, value });
        }
    }

    /// Reports an error to `error` listeners and the log.
    pub(super) fn error(&mut self, error: JsValue) {
        self.log(LogLevel::Error, &describe(&error));
        self.note("error", |_| error);
    }

    /// Adds a `done` promise's resolve function to the send of `local_id`.
    pub(super) fn add_send(&mut self, local_id: &str, resolve: Function) {
        match self.sends.get_mut(local_id) {
            Some(list) => list.push(resolve),
            None => {
                self.sends.insert(local_id.to_string(), vec![resolve]);
            }
        }
    }

    /// Resolves the `done` promises of a send with the message as it stands.
    pub(super) fn settle_send(&mut self, local_id: &str) {
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
    pub(super) fn drain(&mut self) -> Vec<Note> {
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
    pub(super) fn resolve(&self, key: &str) -> Result<MessageRef, JsValue> {
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
    pub(super) fn local_id(&self) -> String {
        let n = (random_seed() & MAX_SAFE).max(1);
        match self.mode {
            Mode::Direct { .. } => n.to_string(),
            Mode::Backend(_) => format!("l{n:x}"),
        }
    }

    pub(super) fn backend(&self) -> Option<Backend> {
        match &self.mode {
            Mode::Backend(b) => Some(b.clone()),
            Mode::Direct { .. } => None,
        }
    }

    pub(super) fn storage(&self) -> Rc<AnyStorage> {
        self.persister.storage()
    }

    /// A server id that storage may hold while the store does not: read it back before
    /// applying `incoming`.
    pub(super) fn lookup_needed(&self, incoming: &Incoming) -> Option<ServerId> {
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

pub(super) fn message_event(
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

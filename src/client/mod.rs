//! The chat engine: every rule of the chat client, sans-IO, shaped like
//! [`Session`](crate::session::Session) one level up.
//!
//! ```text
//!  user commands ─┐                                   ┌─▶ MQTT commands   (the session)
//!  session events ┤   ChatEngine  (Now in,            ├─▶ HTTP requests   (plain values, with an id)
//!  HTTP answers ──┤   outputs drained in order,       ├─▶ storage reads and writes (with an id)
//!  storage answers┤   next deadline named)            ├─▶ UI events, settled calls, log lines
//!  timer expiry ──┘                                   └─▶ poll_timeout
//! ```
//!
//! The engine owns the [`Store`], the server [`Clock`] and everything that decides what
//! happens next: conn-config before every connection attempt (backend mode), clock samples,
//! which topics to subscribe, presence and the last will, the catch-up after a (re)connect,
//! where the next history page comes from (memory, storage, backend), which message calls
//! for a read receipt and how receipts are batched, the local-id scheme, direct-mode server
//! ids, when a stored copy must be read back before a network input applies, the outbox
//! resent at start-up, revoke by calibrated time, rooms and local deletes.
//!
//! The shell (`web::chat`) executes what [`ChatEngine::poll_output`] hands out, in order,
//! and reports every answer with the id it came with. It knows no rule: no window, no
//! margin, no mode.
//!
//! # Driving it
//!
//! 1. Call an input: a user command (`send`, `revoke`, `messages`, …), a session event
//!    ([`ChatEngine::handle_session_event`], or the events of one WebSocket frame together:
//!    [`ChatEngine::handle_session_events`]), an HTTP answer ([`ChatEngine::handle_http`]),
//!    a storage answer ([`ChatEngine::handle_storage`]), the session's verdict on a command
//!    ([`ChatEngine::handle_mqtt_accepted`] / [`ChatEngine::handle_mqtt_refused`]), or the
//!    timer ([`ChatEngine::handle_timeout`]). Every input takes [`Now`].
//! 2. Drain [`ChatEngine::poll_output`] until `None`, carrying each out before the next
//!    (events before the writes they caused: the page never waits for storage).
//! 3. Arm one timer for [`ChatEngine::poll_timeout`] (monotonic ms).
//!
//! Inputs may arrive while outputs are still queued (a session event raised by an MQTT
//! command): they append to the same queue.

mod backend;
mod commands;
mod history;
mod io;
mod network;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use io::{
    key_of, key_source, ChatError, ChatEvent, CommandId, ErrorCode, HttpId, KeySource, LogLevel,
    MqttCommand, MqttTag, Now, Output, Reply, StorageAnswer, StorageId, StorageOp,
};

use crate::chat::clock::Clock;
use crate::chat::payload::PayloadFormat;
use crate::chat::store::{
    ConversationSummary, MessageRef, OutboxEntry, Store, StoreEvent, StoredMessage,
};
use crate::chat::{topics, ConversationId, UserId};
use crate::collections::{Fifo, Gather, VecMap};
use crate::mqtt::{Properties, QoS, Will};
use crate::session::{self, PublishId, Rng};
use crate::storage::StorageError;

pub use backend::{HttpAnswer, CATCH_UP_MARGIN_MS, CATCH_UP_MAX_PAGES};
pub use network::Accepted;

use backend::CatchUp;
use history::PageJob;
use network::Queued;

/// Messages in a page when the page asks for no other number.
pub const DEFAULT_PAGE_SIZE: usize = 30;
/// The most messages one page may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Largest id a direct-mode client draws: ids stay exact as JS numbers too.
const MAX_SAFE: u64 = (1 << 53) - 1;

/// How the client reaches the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The backend of PROTOCOL.md: conn-config before every connection, `GET /time`, and
    /// sends / revokes / reads / history over HTTP; MQTT only receives. `mqtt_urls`
    /// overrides the brokers conn-config names.
    Backend { mqtt_urls: Option<Vec<String>> },
    /// A broker alone: my messages, revokes and receipts are QoS 1 publishes to
    /// `chat_{peer}` or `room_{id}`; `topics` are subscribed.
    Direct { topics: Vec<String> },
}

/// Everything the engine is configured with.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub me: UserId,
    pub mode: Mode,
    pub format: PayloadFormat,
    /// Messages per page of `messages()` and at start-up.
    pub page_size: usize,
    /// Publish my presence (retained `online`, the last will `offline`) and follow the
    /// presence of `contacts`.
    pub presence: bool,
    pub contacts: Vec<UserId>,
    /// Sent with my messages in direct mode.
    pub nick_name: Option<String>,
    pub avatar: Option<String>,
    /// Seeds the generator of local ids (`crypto.getRandomValues` in a browser).
    pub seed: u64,
}

impl EngineConfig {
    /// A configuration with the defaults: JSON payloads, 30 messages a page, presence on.
    pub fn new(me: UserId, mode: Mode) -> Self {
        EngineConfig {
            me,
            mode,
            format: PayloadFormat::Json,
            page_size: DEFAULT_PAGE_SIZE,
            presence: true,
            contacts: Vec::new(),
            nick_name: None,
            avatar: None,
            seed: 0,
        }
    }
}

/// What local history gave at start-up (see `storage::startup`).
#[derive(Debug, Default)]
pub struct Restored {
    pub store: Option<Store>,
    pub outbox: Vec<OutboxEntry>,
    pub clock_offset_ms: Option<i64>,
    /// Why history is not available (the chat goes on in memory).
    pub failure: Option<StorageError>,
}

/// The MQTT client id of a user's chat client when the page names none.
pub fn default_client_id(me: UserId) -> String {
    topics::chat(me)
}

/// The topics a direct-mode client subscribes when the page names none: its own.
pub fn default_topics(me: UserId) -> Vec<String> {
    vec![topics::chat(me)]
}

/// The conversation id of two users' 1:1 chat, from the decimal ids a page holds.
pub fn conversation_id_of(user_a: &str, user_b: &str) -> Result<ConversationId, ChatError> {
    match (user_a.parse::<u64>(), user_b.parse::<u64>()) {
        (Ok(a), Ok(b)) => ConversationId::direct(a, b).ok_or_else(|| {
            ChatError::new(ErrorCode::SelfMessage, "a user has no chat with themself")
        }),
        _ => Err(ChatError::new(
            ErrorCode::InvalidArgument,
            "user ids are decimal strings",
        )),
    }
}

/// A conversation id from the string a page holds.
pub fn parse_conversation(id: &str) -> Result<ConversationId, ChatError> {
    id.parse().map_err(|_| {
        ChatError::new(
            ErrorCode::InvalidArgument,
            format!("not a conversation id: {id}"),
        )
    })
}

/// What an HTTP request was for.
#[derive(Debug)]
enum HttpPending {
    Time(crate::chat::clock::SampleToken),
    Send {
        local_id: String,
    },
    Resend {
        id: crate::chat::ServerId,
        local_id: String,
    },
    Revoke {
        command: CommandId,
        id: crate::chat::ServerId,
        conversation: ConversationId,
    },
    Read {
        conversation: ConversationId,
        command: Option<CommandId>,
    },
    History(PageJob),
    Room {
        command: CommandId,
        room: u64,
        join: bool,
    },
    Conversations {
        offline_since: Option<u64>,
    },
    CatchUp(Box<CatchUp>),
}

/// What a storage read was for.
#[derive(Debug)]
enum StoragePending {
    Page(PageJob),
    /// A stored copy the head of the incoming queue waits for, at this slot.
    Lookup(usize),
    /// An older page of this conversation the head of the incoming queue waits for.
    Older(ConversationId),
    /// The newest message left after the held ones were deleted.
    Refill,
    Wipe(CommandId),
}

/// What an MQTT command was for.
#[derive(Debug)]
enum TagPending {
    /// A direct-mode message of mine.
    Message(Publication),
    Revoke(CommandId),
    Read {
        conversation: ConversationId,
        command: Option<CommandId>,
    },
    Room(CommandId),
    /// Subscriptions after a connect: a refusal is reported.
    Subscribe,
    /// Presence: nothing waits for it.
    Fire,
}

/// A direct-mode message of mine, until its PUBACK.
#[derive(Debug, Clone)]
struct Publication {
    local_id: String,
    server_id: crate::chat::ServerId,
    weight: u64,
}

/// A message of mine to hand to the network.
#[derive(Debug, Clone)]
struct Outgoing {
    local_id: String,
    conversation: ConversationId,
    content: crate::chat::Content,
    weight: u64,
}

impl From<OutboxEntry> for Outgoing {
    fn from(entry: OutboxEntry) -> Self {
        Outgoing {
            local_id: entry.local_id,
            conversation: entry.conversation_id,
            content: entry.content,
            weight: entry.weight,
        }
    }
}

/// The chat engine. See the [module documentation](self).
#[derive(Debug)]
pub struct ChatEngine {
    me: UserId,
    mode: Mode,
    format: PayloadFormat,
    page_size: usize,
    presence: bool,
    contacts: Vec<UserId>,
    /// Shared by every message I send from here (their store copy, events, payloads).
    nick_name: Option<Arc<str>>,
    avatar: Option<Arc<str>>,
    store: Store,
    clock: Clock,
    rng: Rng,
    outputs: Fifo<Output>,
    /// Set during [`ChatEngine::handle_session_events`]: the store's news is flushed once,
    /// at the end of the run (or before any other output, which keeps the order), and
    /// `flush_due` notes there is some.
    holding: bool,
    flush_due: bool,
    next_id: u64,
    http: VecMap<HttpId, HttpPending>,
    storage: VecMap<StorageId, StoragePending>,
    tags: VecMap<MqttTag, TagPending>,
    publishes: VecMap<PublishId, Publication>,
    /// Calls waiting for a send's outcome, by local id.
    sends: VecMap<String, Vec<CommandId>>,
    /// Chat topics to be subscribed (own topic, rooms; conn-config's `sub_topics`).
    topics: Vec<String>,
    /// Topics subscribed (a set): a persistent session keeps them across reconnects.
    subscribed: VecMap<String, ()>,
    /// Network inputs, applied strictly in arrival order.
    incoming: Fifo<Queued>,
    /// The head of `incoming` while its stored copies are read back.
    applying: Option<network::Applying>,
    /// Read receipts under way, by conversation: `true` when another is due after it.
    reads: VecMap<ConversationId, bool>,
    /// When the last automatic receipt went to each room (monotonic ms), and the next one
    /// due (see `network::ROOM_RECEIPT_INTERVAL_MS`).
    room_receipt_sent: VecMap<ConversationId, u64>,
    room_receipt_due: VecMap<ConversationId, u64>,
    /// Messages of mine left unsent by the last run, sent on `connect()`.
    outbox: Vec<Outgoing>,
    /// Whether `connect()` was called (the outbox went out then).
    started: bool,
    /// What each tab of this user shows: the conversation open in it, while the tab is
    /// visible ("" is the tab that holds this engine). A conversation is open, and read
    /// as messages arrive, while any visible tab shows it.
    views: VecMap<String, ConversationId>,
    calibrating: bool,
    /// After failed samples: when the timer may take the next (monotonic ms), and the wait
    /// that led there.
    calibrate_retry: Option<(u64, u64)>,
    /// Server time when the connection was lost (the first drop since the last connect).
    offline_since: Option<u64>,
    /// Backend mode, connected without a session at the broker: the catch-up is run once
    /// more, from the same point, at the next SUBACK. What the backend published after the
    /// first catch-up read the list and before the broker had our subscription again is on
    /// no queue (RabbitMQ makes the binding after several auth round trips).
    catch_up_on_suback: Option<Option<u64>>,
    status: session::Status,
    closed: bool,
}

impl ChatEngine {
    /// An engine over what local history gave at start-up.
    pub fn new(config: EngineConfig, restored: Restored) -> Self {
        let EngineConfig {
            me,
            mode,
            format,
            page_size,
            presence,
            contacts,
            nick_name,
            avatar,
            seed,
        } = config;
        let mut clock = Clock::new();
        if let Some(offset) = restored.clock_offset_ms {
            clock.assume_offset(offset);
        }
        let topics = match &mode {
            Mode::Direct { topics } => topics.clone(),
            Mode::Backend { .. } => default_topics(me),
        };
        let mut engine = ChatEngine {
            me,
            mode,
            format,
            page_size: page_size.clamp(1, MAX_PAGE_SIZE),
            presence,
            contacts,
            nick_name: nick_name.map(Arc::from),
            avatar: avatar.map(Arc::from),
            store: restored.store.unwrap_or_else(|| Store::new(me)),
            clock,
            rng: Rng::new(seed),
            outputs: Fifo::new(),
            holding: false,
            flush_due: false,
            next_id: 0,
            http: VecMap::new(),
            storage: VecMap::new(),
            tags: VecMap::new(),
            publishes: VecMap::new(),
            sends: VecMap::new(),
            topics,
            subscribed: VecMap::new(),
            incoming: Fifo::new(),
            applying: None,
            reads: VecMap::new(),
            room_receipt_sent: VecMap::new(),
            room_receipt_due: VecMap::new(),
            outbox: restored.outbox.into_iter().map(Outgoing::from).gather(),
            started: false,
            views: VecMap::new(),
            calibrating: false,
            calibrate_retry: None,
            offline_since: None,
            catch_up_on_suback: None,
            status: session::Status::Idle,
            closed: false,
        };
        if let Some(e) = restored.failure {
            engine.log(
                LogLevel::Warn,
                format!("local history unavailable, in memory only: {e}"),
            );
        }
        engine
    }

    // ---- what the shell reads -------------------------------------------------------------

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call [`ChatEngine::handle_timeout`], in monotonic ms: a room receipt held
    /// back is due, or the clock's samples age out (backend mode, while connected) and a
    /// fresh one is taken — not before the wait after a failed one.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.closed {
            return None;
        }
        let receipt = self.room_receipt_due.values().min().copied();
        let connected = self.status == session::Status::Connected;
        let calibration = if self.is_backend() && connected && !self.calibrating {
            let retry = self.calibrate_retry.map(|(at, _)| at);
            match (self.clock.calibration_due(), retry) {
                (Some(due), Some(retry)) => Some(due.max(retry)),
                (due, retry) => due.or(retry),
            }
        } else {
            None
        };
        match (receipt, calibration) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The timer fired (a spurious wake-up is a no-op).
    pub fn handle_timeout(&mut self, now: Now) {
        if self.closed {
            return;
        }
        let due: Vec<ConversationId> = self
            .room_receipt_due
            .iter()
            .filter(|(_, at)| **at <= now.mono_ms)
            .map(|(c, _)| *c)
            .gather();
        for conversation in due {
            self.room_receipt_due.remove(&conversation);
            self.read_soon(now, conversation);
        }
        let waiting = self.calibrate_retry.is_some_and(|(at, _)| now.mono_ms < at);
        if self.status == session::Status::Connected && !waiting {
            self.calibrate_if_needed(now);
        }
    }

    /// The user's id.
    pub fn me(&self) -> UserId {
        self.me
    }

    /// Whether this is backend mode.
    pub fn is_backend(&self) -> bool {
        matches!(self.mode, Mode::Backend { .. })
    }

    /// Logged out: the client does nothing more.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The session's status as last reported.
    pub fn status(&self) -> session::Status {
        self.status
    }

    /// The last will the session connects with: a retained `offline` on my presence topic.
    pub fn will(&self) -> Option<Will> {
        self.presence.then(|| Will {
            topic: topics::presence(self.me),
            payload: topics::OFFLINE.to_vec(),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::default(),
        })
    }

    /// Every listed conversation, most recent first.
    pub fn conversations(&self) -> Vec<ConversationSummary> {
        self.store.conversations()
    }

    /// Unread messages over all conversations.
    pub fn unread_total(&self) -> u64 {
        self.store.unread_total()
    }

    /// The messages of a conversation held in memory, ascending.
    pub fn loaded_messages(&self, conversation: ConversationId) -> Vec<StoredMessage> {
        self.store.messages(conversation, None, usize::MAX)
    }

    /// The stored record of a held message (JSON, as local history keeps it): what a tab
    /// without the connection keeps of each message, to hand back if it takes over.
    pub fn record_of(&self, key: &str) -> Option<String> {
        let r = self.resolve(key).ok()?;
        self.store.message(&r).map(crate::json::to_string)
    }

    /// Messages from their records ([`ChatEngine::record_of`]); unreadable ones are left
    /// out.
    pub fn parse_records(records: &[String]) -> Vec<StoredMessage> {
        records
            .iter()
            .filter_map(|r| crate::json::from_str::<StoredMessage>(r).ok())
            .gather()
    }

    /// Who of the other members has read `m`, a message of mine in a room.
    pub fn read_by(&self, m: &StoredMessage) -> Vec<UserId> {
        self.store.read_by(m)
    }

    /// Local clock minus server clock in ms; `None` until calibrated.
    pub fn clock_offset(&self) -> Option<i64> {
        self.clock.offset().map(|c| c.offset_ms.saturating_neg())
    }

    /// The store (read-only), for tests and diagnostics.
    pub fn store(&self) -> &Store {
        &self.store
    }

    // ---- shared helpers ---------------------------------------------------------------------

    fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn now_server(&self, now: Now) -> u64 {
        self.clock.now_server(now.mono_ms, now.wall_ms)
    }

    /// A weight for something I do now (strictly increasing).
    fn weight(&mut self, now: Now) -> u64 {
        self.clock.weight(now.mono_ms, now.wall_ms)
    }

    /// Queues an output, after the store's news held back for it (see `holding`).
    fn push(&mut self, output: Output) {
        if std::mem::take(&mut self.flush_due) {
            self.flush_store_now();
        }
        self.outputs.push_back(output);
    }

    /// Logs skip the held news: their order beside events does not matter, and a log per
    /// message would flush a run message by message.
    fn log(&mut self, level: LogLevel, message: impl Into<String>) {
        self.outputs.push_back(Output::Log {
            level,
            message: message.into(),
        });
    }

    fn event(&mut self, event: ChatEvent) {
        self.push(Output::Event(event));
    }

    /// Reports an error to the page and the log.
    fn error(&mut self, error: ChatError) {
        self.log(
            LogLevel::Error,
            format!("{}: {}", error.code.name(), error.message),
        );
        self.event(ChatEvent::Error(error));
    }

    fn done(&mut self, command: CommandId, result: Result<Reply, ChatError>) {
        self.push(Output::Done { command, result });
    }

    fn http(&mut self, request: crate::chat::api::Request, pending: HttpPending) {
        let id = HttpId(self.next());
        self.http.insert(id, pending);
        self.push(Output::Http { id, request });
    }

    fn read_storage(&mut self, op: StorageOp, pending: StoragePending) {
        let id = StorageId(self.next());
        self.storage.insert(id, pending);
        self.push(Output::Storage { id, op });
    }

    fn mqtt(&mut self, command: MqttCommand) {
        self.push(Output::Mqtt(command));
    }

    fn tag(&mut self, pending: TagPending) -> MqttTag {
        let tag = MqttTag(self.next());
        self.tags.insert(tag, pending);
        tag
    }

    /// My presence, retained on my presence topic (nothing waits for it).
    fn publish_presence(&mut self, payload: &[u8], qos: QoS) {
        let topic = topics::presence(self.me);
        self.publish(topic, payload.to_vec(), qos, true, TagPending::Fire);
    }

    /// A publish whose outcome `pending` says what to do with.
    fn publish(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        pending: TagPending,
    ) {
        let tag = self.tag(pending);
        self.mqtt(MqttCommand::Publish {
            tag,
            topic,
            payload,
            qos,
            retain,
        });
    }

    /// The store's events for the page and its records for storage, in that order; held
    /// back while `holding`.
    fn flush_store(&mut self) {
        if self.holding {
            self.flush_due = true;
        } else {
            self.flush_store_now();
        }
    }

    fn flush_store_now(&mut self) {
        self.flush_due = false;
        let mut conversations = false;
        while let Some(event) = self.store.poll_event() {
            let event = match event {
                StoreEvent::MessageInserted {
                    conversation_id,
                    index,
                    message,
                } => ChatEvent::Message {
                    conversation: conversation_id,
                    index,
                    message,
                },
                StoreEvent::MessageUpdated {
                    conversation_id,
                    index,
                    message,
                } => ChatEvent::MessageUpdated {
                    conversation: conversation_id,
                    index,
                    message,
                },
                StoreEvent::MessageRemoved {
                    conversation_id,
                    index,
                    id,
                    local_id,
                } => ChatEvent::MessageRemoved {
                    conversation: conversation_id,
                    index,
                    key: key_of(&id, local_id.as_deref()),
                },
                StoreEvent::ConversationInserted { .. }
                | StoreEvent::ConversationUpdated { .. }
                | StoreEvent::ConversationRemoved { .. } => {
                    conversations = true;
                    continue;
                }
                StoreEvent::UnreadTotal(n) => ChatEvent::UnreadTotal(n),
            };
            self.event(event);
        }
        if conversations {
            self.event(ChatEvent::Conversations);
        }
        let batch = self.store.take_persist();
        // Logged out: storage was wiped, and nothing is written again.
        if !batch.is_empty() && !self.closed {
            self.push(Output::Persist(Box::new(batch.into())));
        }
    }

    /// A message by the `key` (or id) the page holds.
    fn resolve(&self, key: &str) -> Result<MessageRef, ChatError> {
        let local = MessageRef::Local(key.to_string());
        if self.store.message(&local).is_some() {
            return Ok(local);
        }
        key.parse()
            .ok()
            .map(MessageRef::Server)
            .filter(|r| self.store.message(r).is_some())
            .ok_or_else(|| {
                ChatError::new(ErrorCode::NotFound, format!("no message with key {key}"))
            })
    }

    /// A fresh local id. Direct mode: a decimal id below 2^53 that doubles as the server
    /// id, so a resend carries the same id and the peer dedupes it. Backend mode: `l` and
    /// hex digits, which no server id looks like.
    fn local_id(&mut self) -> String {
        let n = self.random_id();
        match self.mode {
            Mode::Direct { .. } => n.to_string(),
            Mode::Backend { .. } => format!("l{n:x}"),
        }
    }

    /// A random id in `1..=2^53-1`.
    fn random_id(&mut self) -> u64 {
        (self.rng.next_u64() & MAX_SAFE).max(1)
    }

    /// Registers a call waiting for the send of `local_id`.
    fn add_send(&mut self, local_id: &str, command: CommandId) {
        match self.sends.get_mut(local_id) {
            Some(list) => list.push(command),
            None => {
                self.sends.insert(local_id.to_string(), vec![command]);
            }
        }
    }

    /// Settles the calls waiting for the send of `local_id` with the message as it stands.
    fn settle_send(&mut self, local_id: &str) {
        let Some(commands) = self.sends.remove(local_id) else {
            return;
        };
        let message = self
            .store
            .message(&MessageRef::Local(local_id.to_string()))
            .cloned();
        for command in commands {
            self.done(command, Ok(Reply::Message(message.clone())));
        }
    }
}

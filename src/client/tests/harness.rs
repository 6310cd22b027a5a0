//! The harness: virtual time (monotonic, wall, server), a backend model answering requests
//! by path, a scripted broker and in-memory storage, around one [`ChatEngine`].
//!
//! Nothing runs on its own: every output of the engine is collected, and a test answers
//! it when it wants to (or [`Sim::settle`] answers everything, oldest first).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::chat::api::{Method, Request};
use crate::chat::payload::{self, PayloadFormat};
use crate::chat::store::{MessageRef, Status, Store, StoredMessage};
use crate::chat::{Content, ConversationId, Incoming, ServerId, UserId, WireMessage};
use crate::client::Accepted;
use crate::client::{
    ChatEngine, ChatError, ChatEvent, CommandId, EngineConfig, HttpId, LogLevel, Mode, MqttCommand,
    MqttTag, Now, Output, Reply, Restored, StorageAnswer, StorageId, StorageOp,
};
use crate::mqtt::{Properties, Publish, QoS, ReasonCode};
use crate::session::{ConnectionError, Event, PublishId, RequestId, Status as Link};
use crate::storage::{meta, startup, MemoryStorage, Page, Storage, StorageBatch};
pub use crate::test_support::block_on;

pub const ME: UserId = 1;
pub const PEER: UserId = 2;
pub const PEER3: UserId = 3;
/// 2024-06-01 12:00:00 UTC, server time.
pub const T0: u64 = 1_717_243_200_000;
/// Backend ids start above 2^53: they must survive as exact 64-bit ids.
pub const FIRST_SERVER_ID: u64 = 1 << 60;

/// The two ways the engine reaches the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Direct,
    Backend,
}

pub const KINDS: [Kind; 2] = [Kind::Direct, Kind::Backend];

pub fn c12() -> ConversationId {
    ConversationId::direct(ME, PEER).unwrap()
}

pub fn c13() -> ConversationId {
    ConversationId::direct(ME, PEER3).unwrap()
}

pub fn text(t: &str) -> Content {
    Content::Text { text: t.into() }
}

/// The text of a message (`<revoked>` once revoked).
pub fn text_of(m: &StoredMessage) -> String {
    match m.content.as_deref() {
        Some(Content::Text { text }) => text.clone(),
        Some(other) => format!("{other:?}"),
        None => "<revoked>".into(),
    }
}

pub fn wire(
    id: ServerId,
    conv: ConversationId,
    sender: UserId,
    weight: u64,
    t: &str,
) -> WireMessage {
    let receiver_id = match conv {
        ConversationId::Room(r) => r,
        direct => direct.peer_of(sender).expect("a member"),
    };
    WireMessage {
        id,
        conversation_id: conv,
        sender_id: sender,
        receiver_id,
        content: text(t),
        weight,
        is_read: false,
        revoked: false,
        sender_name: None,
        sender_avatar: None,
    }
}

/// The PUBLISH the broker delivers `incoming` in: my topic, or the room's.
fn publish_of(incoming: &Incoming, dup: bool) -> Publish {
    let conv = match incoming {
        Incoming::Message(m) => m.conversation_id,
        Incoming::Revoke {
            conversation_id, ..
        }
        | Incoming::Read {
            conversation_id, ..
        }
        | Incoming::Members {
            conversation_id, ..
        } => *conversation_id,
    };
    let topic = match conv {
        ConversationId::Room(r) => format!("room_{r}"),
        _ => format!("chat_{ME}"),
    };
    Publish {
        dup,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic,
        packet_id: Some(1),
        properties: Properties::default(),
        payload: payload::encode(PayloadFormat::Json, incoming).unwrap(),
    }
}

fn json_of(incoming: &Incoming) -> String {
    String::from_utf8(payload::encode(PayloadFormat::Json, incoming).expect("encodable")).unwrap()
}

fn ok(data: &str) -> (u16, Vec<u8>) {
    (200, format!(r#"{{"code":0,"data":{data}}}"#).into_bytes())
}

fn refused(code: i64, msg: &str) -> (u16, Vec<u8>) {
    (
        200,
        format!(r#"{{"code":{code},"msg":"{msg}"}}"#).into_bytes(),
    )
}

/// The order of a conversation: the store's `(weight, sender, id)`.
fn order_key(m: &WireMessage) -> (u64, UserId, ServerId) {
    (m.weight, m.sender_id, m.id)
}

/// The backend of PROTOCOL.md in memory: messages with ids and weights, my unread counts.
#[derive(Debug)]
pub struct Server {
    pub messages: Vec<WireMessage>,
    next_id: u64,
    /// My unread count per conversation.
    pub unread: BTreeMap<ConversationId, u32>,
    pub revoke_window_ms: u64,
    /// Every request, in the order it was handled.
    pub requests: Vec<Request>,
    /// What the backend published to my topic, for the broker to deliver (or lose).
    pub to_me: Vec<Incoming>,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            messages: Vec::new(),
            next_id: FIRST_SERVER_ID,
            unread: BTreeMap::new(),
            revoke_window_ms: 120_000,
            requests: Vec::new(),
            to_me: Vec::new(),
        }
    }
}

impl Server {
    /// A message stored by the backend (and published to its receiver).
    pub fn post(
        &mut self,
        sender: UserId,
        conv: ConversationId,
        t: &str,
        weight: u64,
    ) -> WireMessage {
        self.next_id += 1;
        let m = wire(self.next_id, conv, sender, weight, t);
        self.messages.push(m.clone());
        if sender != ME {
            *self.unread.entry(conv).or_default() += 1;
            self.to_me.push(Incoming::Message(m.clone()));
        }
        m
    }

    /// A conversation's messages in the store's order.
    pub fn history(&self, conv: ConversationId) -> Vec<WireMessage> {
        let mut h: Vec<WireMessage> = self
            .messages
            .iter()
            .filter(|m| m.conversation_id == conv)
            .cloned()
            .collect();
        h.sort_by_key(order_key);
        h
    }

    pub fn ids(&self, conv: ConversationId) -> Vec<ServerId> {
        self.history(conv).iter().map(|m| m.id).collect()
    }

    /// Answers one request at server time `now`.
    pub fn handle(&mut self, now: u64, r: &Request) -> (u16, Vec<u8>) {
        self.requests.push(r.clone());
        let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
        let q: BTreeMap<&str, &str> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let body: Value = r
            .body
            .as_deref()
            .map(|b| serde_json::from_str(b).expect("a JSON body"))
            .unwrap_or(Value::Null);
        let num = |k: &str| body[k].as_u64().unwrap_or_else(|| panic!("{k} in {body}"));
        match (r.method, path) {
            (Method::Get, "/mqtt/conn-config") => ok(&format!(
                r#"{{"user_id":"{ME}","password":"pw{n}","server":"127.0.0.1","port":8083,"client_id":"chat_{ME}","sub_topics":["chat_{ME}"]}}"#,
                n = self.requests.len()
            )),
            (Method::Get, "/time") => ok(&format!(r#"{{"time":{now}}}"#)),
            (Method::Post, "/messages") => {
                let conv = match body["conversation_id"].as_str() {
                    Some(c) => c.parse().unwrap(),
                    None => ConversationId::direct(ME, num("receiver_id")).unwrap(),
                };
                let t = body["msg_content"]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let m = self.post(ME, conv, &t, num("weight"));
                ok(&json_of(&Incoming::Message(m)))
            }
            (Method::Post, "/messages/resend") => {
                let (id, weight) = (num("id"), num("weight"));
                match self.messages.iter_mut().find(|m| m.id == id) {
                    Some(m) => {
                        m.weight = weight;
                        ok(&format!(r#"{{"status":1,"weight":{weight}}}"#))
                    }
                    None => refused(1, "no such message"),
                }
            }
            (Method::Post, "/messages/revoke") => {
                let id = num("id");
                let window = self.revoke_window_ms;
                match self.messages.iter_mut().find(|m| m.id == id) {
                    Some(m) if m.sender_id == ME && now.saturating_sub(m.weight) <= window => {
                        m.revoked = true;
                        ok("{}")
                    }
                    _ => refused(100, "too late"),
                }
            }
            (Method::Post, "/messages/read") => {
                let conv: ConversationId =
                    body["conversation_id"].as_str().unwrap().parse().unwrap();
                self.unread.insert(conv, 0);
                ok("{}")
            }
            (Method::Get, "/messages") => {
                let conv: ConversationId = q["conversation_id"].parse().unwrap();
                let limit: usize = q["limit"].parse().unwrap();
                let before: u64 = q
                    .get("before_weight")
                    .map_or(u64::MAX, |w| w.parse().unwrap());
                let page: Vec<String> = self
                    .history(conv)
                    .into_iter()
                    .rev()
                    .filter(|m| m.weight < before)
                    .take(limit)
                    .map(|m| json_of(&Incoming::Message(m)))
                    .collect();
                ok(&format!("[{}]", page.join(",")))
            }
            (Method::Get, "/conversations") => {
                let mut convs: Vec<ConversationId> =
                    self.messages.iter().map(|m| m.conversation_id).collect();
                convs.sort();
                convs.dedup();
                let rows: Vec<String> = convs
                    .into_iter()
                    .map(|c| {
                        let last = self.history(c).pop().unwrap();
                        format!(
                            r#"{{"conversation_id":"{c}","last_msg_id":"{}","last_msg_time":{},"unread":{}}}"#,
                            last.id,
                            last.weight,
                            self.unread.get(&c).copied().unwrap_or(0)
                        )
                    })
                    .collect();
                ok(&format!("[{}]", rows.join(",")))
            }
            (Method::Post, "/rooms/join" | "/rooms/leave") => ok("{}"),
            other => panic!("no such call: {other:?}"),
        }
    }
}

/// An HTTP request the engine is waiting on; `answer` is set when it was computed when the
/// request was made (the backend handled it, the answer is on its way).
#[derive(Debug)]
pub struct PendingHttp {
    pub id: HttpId,
    pub request: Request,
    pub answer: Option<(u16, Vec<u8>)>,
}

/// The engine, and everything around it.
pub struct Sim {
    pub engine: ChatEngine,
    pub config: EngineConfig,
    /// Monotonic ms of this page visit.
    pub mono: u64,
    /// The true server time.
    pub server_ms: u64,
    /// Wall clock minus server time.
    pub skew: i64,
    pub server: Server,
    pub storage: MemoryStorage,
    pub http: Vec<PendingHttp>,
    pub storage_ops: Vec<(StorageId, StorageOp)>,
    /// Publishes, subscribes and unsubscribes the session has not taken yet.
    pub mqtt_pending: Vec<(MqttTag, MqttCommand)>,
    /// QoS 1 publishes the session took, waiting for their PUBACK.
    pub inflight: Vec<PublishId>,
    /// Every MQTT command, in order.
    pub mqtt_log: Vec<MqttCommand>,
    /// Every HTTP request, in order.
    pub http_log: Vec<Request>,
    pub events: Vec<ChatEvent>,
    pub done: Vec<(CommandId, Result<Reply, ChatError>)>,
    pub logs: Vec<(LogLevel, String)>,
    /// Answer HTTP requests as they are made (the answer is delivered later).
    pub http_eager: bool,
    /// Answer the stored-copy lookups a delivery causes at once.
    pub auto_lookups: bool,
    pub connected: bool,
    next_publish: u64,
    next_command: CommandId,
    /// Persist batches written so far.
    pub writes: u64,
}

impl Sim {
    pub fn config(kind: Kind, page_size: usize) -> EngineConfig {
        let mode = match kind {
            Kind::Direct => Mode::Direct {
                topics: vec![format!("chat_{ME}")],
            },
            Kind::Backend => Mode::Backend { mqtt_urls: None },
        };
        let mut c = EngineConfig::new(ME, mode);
        c.page_size = page_size;
        c.contacts = vec![PEER];
        c.seed = 7;
        c
    }

    /// A first start at `T0`, connected, with every answer in.
    pub fn connected(kind: Kind, page_size: usize) -> Sim {
        let mut sim = Sim::new(kind, page_size);
        sim.set_time(T0);
        sim.connect();
        sim.settle();
        sim
    }

    /// A first start: nothing stored.
    pub fn new(kind: Kind, page_size: usize) -> Sim {
        Sim::with_storage(kind, page_size, MemoryStorage::new(), Server::default())
    }

    /// A start from what `storage` holds.
    pub fn with_storage(
        kind: Kind,
        page_size: usize,
        storage: MemoryStorage,
        server: Server,
    ) -> Sim {
        let config = Sim::config(kind, page_size);
        let engine = ChatEngine::new(config.clone(), Restored::default());
        let mut sim = Sim {
            engine,
            config,
            mono: 1_000,
            server_ms: T0 - 600_000,
            skew: 0,
            server,
            storage,
            http: Vec::new(),
            storage_ops: Vec::new(),
            mqtt_pending: Vec::new(),
            inflight: Vec::new(),
            mqtt_log: Vec::new(),
            http_log: Vec::new(),
            events: Vec::new(),
            done: Vec::new(),
            logs: Vec::new(),
            http_eager: false,
            auto_lookups: true,
            connected: false,
            next_publish: 0,
            next_command: 0,
            writes: 0,
        };
        sim.restart();
        sim
    }

    /// A new page visit: a new engine over what storage holds; whatever was in flight is
    /// gone with the old one.
    pub fn restart(&mut self) {
        let s = block_on(startup::load(&self.storage, ME)).expect("load");
        let restored = Restored {
            store: Some(s.store),
            outbox: s.outbox,
            clock_offset_ms: s.clock_offset_ms,
            failure: None,
        };
        self.engine = ChatEngine::new(self.config.clone(), restored);
        self.http.clear();
        self.storage_ops.clear();
        self.mqtt_pending.clear();
        self.inflight.clear();
        self.mqtt_log.clear();
        self.http_log.clear();
        self.events.clear();
        self.done.clear();
        self.connected = false;
        self.mono += 10_000;
        self.server_ms += 10_000;
        self.pump();
    }

    // ---- time ---------------------------------------------------------------------------

    pub fn now(&self) -> Now {
        Now {
            mono_ms: self.mono,
            wall_ms: (self.server_ms as i64 + self.skew) as u64,
        }
    }

    pub fn advance(&mut self, ms: u64) {
        self.mono += ms;
        self.server_ms += ms;
    }

    /// Moves server time to `t` (forwards only).
    pub fn set_time(&mut self, t: u64) {
        assert!(t >= self.server_ms, "time runs forwards");
        self.advance(t - self.server_ms);
    }

    /// Pages a conversation's whole local history into the engine, as paging back in a
    /// page would (a restart holds only each conversation's newest message); storage
    /// only, no backend page.
    pub fn read_back(&mut self, conv: ConversationId) {
        let n = self.stored(conv).len().max(1);
        let c = self.cmd();
        self.engine.messages(self.now(), c, conv, None, Some(n));
        self.pump();
        while !self.storage_ops.is_empty() {
            self.answer_storage(0);
        }
    }

    pub fn cmd(&mut self) -> CommandId {
        self.next_command += 1;
        self.next_command
    }

    // ---- outputs ------------------------------------------------------------------------

    /// Drains the engine's outputs: writes are carried out at once, everything else waits
    /// for an answer.
    pub fn pump(&mut self) {
        while let Some(out) = self.engine.poll_output() {
            match out {
                Output::Mqtt(c) => {
                    self.mqtt_log.push(c.clone());
                    match &c {
                        MqttCommand::Publish { tag, .. }
                        | MqttCommand::Subscribe { tag, .. }
                        | MqttCommand::Unsubscribe { tag, .. } => {
                            self.mqtt_pending.push((*tag, c.clone()))
                        }
                        MqttCommand::Connect | MqttCommand::Disconnect => {}
                    }
                }
                Output::Http { id, request } => {
                    self.http_log.push(request.clone());
                    let answer = self
                        .http_eager
                        .then(|| self.server.handle(self.server_ms, &request));
                    self.http.push(PendingHttp {
                        id,
                        request,
                        answer,
                    });
                }
                Output::Storage { id, op } => self.storage_ops.push((id, op)),
                Output::Persist(batch) => {
                    self.writes += 1;
                    block_on(self.storage.apply(*batch)).expect("write")
                }
                Output::Event(e) => self.events.push(e),
                Output::Done { command, result } => self.done.push((command, result)),
                Output::Log { level, message } => self.logs.push((level, message)),
            }
        }
    }

    /// Answers HTTP request `i` of the pending ones.
    pub fn answer_http(&mut self, i: usize) {
        let p = self.http.remove(i);
        let answer = match p.answer {
            Some(a) => a,
            None => self.server.handle(self.server_ms, &p.request),
        };
        self.engine.handle_http(self.now(), p.id, Ok(answer));
        self.pump();
    }

    /// The index of the first pending request whose path starts with `prefix`.
    pub fn find_http(&self, prefix: &str) -> Option<usize> {
        self.http
            .iter()
            .position(|p| p.request.path.starts_with(prefix))
    }

    pub fn answer_http_path(&mut self, prefix: &str) {
        let i = self
            .find_http(prefix)
            .unwrap_or_else(|| panic!("no request {prefix}"));
        self.answer_http(i);
    }

    /// The index of the pending `POST /messages`.
    pub fn find_send(&self) -> usize {
        self.http
            .iter()
            .position(|p| p.request.method == Method::Post && p.request.path == "/messages")
            .expect("a send in flight")
    }

    /// Answers storage read `i` from what storage holds now.
    pub fn answer_storage(&mut self, i: usize) {
        let (id, op) = self.storage_ops.remove(i);
        let answer = self.read(&op);
        self.engine.handle_storage(self.now(), id, Ok(answer));
        self.pump();
    }

    pub fn read(&self, op: &StorageOp) -> StorageAnswer {
        let s = &self.storage;
        match op {
            StorageOp::Messages {
                conversation,
                page,
                limit,
            } => StorageAnswer::Messages(
                block_on(s.messages(*conversation, page.clone(), *limit)).unwrap(),
            ),
            StorageOp::MessageByServerId(id) => {
                StorageAnswer::Message(block_on(s.message_by_server_id(*id)).unwrap())
            }
            StorageOp::Wipe => {
                block_on(s.wipe()).unwrap();
                StorageAnswer::Wiped
            }
        }
    }

    /// The session takes MQTT command `i`.
    pub fn accept_mqtt(&mut self, i: usize) {
        let (tag, c) = self.mqtt_pending.remove(i);
        self.next_publish += 1;
        let accepted = match c {
            MqttCommand::Publish { qos, .. } => {
                let id = PublishId(self.next_publish);
                if qos != QoS::AtMostOnce {
                    self.inflight.push(id);
                }
                Accepted::Publish(id)
            }
            _ => Accepted::Request(RequestId(self.next_publish)),
        };
        self.engine.handle_mqtt_accepted(self.now(), tag, accepted);
        self.pump();
    }

    /// The broker acknowledges every publish in flight (only while connected).
    pub fn puback_all(&mut self) {
        if !self.connected {
            return;
        }
        for id in std::mem::take(&mut self.inflight) {
            let event = Event::PublishDone {
                id,
                reason: ReasonCode::Success,
            };
            self.engine.handle_session_event(self.now(), event);
            self.pump();
        }
    }

    /// Answers everything, oldest first, until nothing is pending.
    pub fn settle(&mut self) {
        self.pump();
        loop {
            if !self.mqtt_pending.is_empty() {
                self.accept_mqtt(0);
            } else if self.connected && !self.inflight.is_empty() {
                self.puback_all();
            } else if !self.storage_ops.is_empty() {
                self.answer_storage(0);
            } else if !self.http.is_empty() {
                self.answer_http(0);
            } else {
                return;
            }
        }
    }

    // ---- the broker ----------------------------------------------------------------------

    /// Connects: conn-config first (backend mode), then the session comes up.
    pub fn connect(&mut self) {
        self.conn_config();
        self.engine.connect(self.now());
        self.pump();
        self.link_up(true);
    }

    fn conn_config(&mut self) {
        if let Some(request) = self.engine.conn_config_request() {
            let answer = self.server.handle(self.server_ms, &request);
            self.engine
                .handle_conn_config(Ok(answer), Some("http:"))
                .expect("conn-config");
        }
    }

    /// CONNACK: the session is up.
    pub fn link_up(&mut self, session_present: bool) {
        self.connected = true;
        let now = self.now();
        self.engine
            .handle_session_event(now, Event::Status(Link::Connecting));
        self.engine
            .handle_session_event(now, Event::Status(Link::Connected));
        self.engine
            .handle_session_event(now, Event::Connected { session_present });
        self.pump();
    }

    /// The connection is lost.
    pub fn link_down(&mut self) {
        self.connected = false;
        let now = self.now();
        let event = Event::Disconnected {
            error: ConnectionError::TransportClosed("test".into()),
            reconnect_at: Some(self.mono + 1_000),
        };
        self.engine.handle_session_event(now, event);
        self.engine
            .handle_session_event(now, Event::Status(Link::Reconnecting));
        self.pump();
    }

    /// The session reconnects (a fresh conn-config first in backend mode).
    pub fn reconnect(&mut self, session_present: bool) {
        self.conn_config();
        self.link_up(session_present);
    }

    /// The broker delivers a payload on my topic (or the room's).
    pub fn deliver(&mut self, incoming: &Incoming) {
        self.deliver_dup(incoming, false);
    }

    pub fn deliver_dup(&mut self, incoming: &Incoming, dup: bool) {
        let event = Event::Message(Box::new(publish_of(incoming, dup)));
        self.deliver_events(vec![event]);
    }

    /// The broker delivers several payloads in one WebSocket frame: one input of the engine.
    /// (Used by the property tests, which are native only.)
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub fn deliver_frame(&mut self, frame: &[Incoming]) {
        let events = frame
            .iter()
            .map(|incoming| Event::Message(Box::new(publish_of(incoming, false))))
            .collect();
        self.deliver_events(events);
    }

    fn deliver_events(&mut self, events: Vec<Event>) {
        self.engine.handle_session_events(self.now(), events);
        self.pump();
        while self.auto_lookups {
            let Some(i) = self
                .storage_ops
                .iter()
                .position(|(_, op)| matches!(op, StorageOp::MessageByServerId(_)))
            else {
                break;
            };
            self.answer_storage(i);
        }
    }

    /// The session takes every pending command and the broker acknowledges the publishes.
    pub fn settle_mqtt(&mut self) {
        while !self.mqtt_pending.is_empty() {
            self.accept_mqtt(0);
        }
        self.puback_all();
    }

    /// A raw publish on `topic` (presence).
    pub fn deliver_raw(&mut self, topic: &str, payload: &[u8]) {
        let publish = Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: true,
            topic: topic.into(),
            packet_id: None,
            properties: Properties::default(),
            payload: payload.to_vec(),
        };
        self.engine
            .handle_session_event(self.now(), Event::Message(Box::new(publish)));
        self.pump();
    }

    /// Delivers what the backend published to me since the last call.
    pub fn deliver_from_server(&mut self) {
        for incoming in std::mem::take(&mut self.server.to_me) {
            self.deliver(&incoming);
        }
    }

    // ---- what to look at ----------------------------------------------------------------

    /// The publishes I made to `topic`, decoded.
    pub fn published_to(&self, topic: &str) -> Vec<Incoming> {
        self.mqtt_log
            .iter()
            .filter_map(|c| match c {
                MqttCommand::Publish {
                    topic: t, payload, ..
                } if t == topic => Some(payload::decode(PayloadFormat::Json, payload).unwrap()),
                _ => None,
            })
            .collect()
    }

    /// The requests made to `path` (the path without its query).
    pub fn requests_to(&self, method: Method, path: &str) -> Vec<&Request> {
        self.http_log
            .iter()
            .filter(|r| r.method == method && r.path.split('?').next() == Some(path))
            .collect()
    }

    /// The result of call `command`.
    pub fn result(&self, command: CommandId) -> &Result<Reply, ChatError> {
        let mut settled = self.done.iter().filter(|(c, _)| *c == command);
        let (_, r) = settled
            .next()
            .unwrap_or_else(|| panic!("call {command} not settled"));
        assert!(settled.next().is_none(), "call {command} settled twice");
        r
    }

    pub fn page(&self, command: CommandId) -> Vec<StoredMessage> {
        match self.result(command) {
            Ok(Reply::Messages(m)) => m.clone(),
            other => panic!("not a page: {other:?}"),
        }
    }

    pub fn loaded(&self, conv: ConversationId) -> Vec<StoredMessage> {
        self.engine.loaded_messages(conv)
    }

    pub fn loaded_ids(&self, conv: ConversationId) -> Vec<ServerId> {
        self.loaded(conv)
            .iter()
            .map(|m| m.server_id().expect("sent"))
            .collect()
    }

    /// Everything storage holds of a conversation, ascending.
    pub fn stored(&self, conv: ConversationId) -> Vec<StoredMessage> {
        block_on(self.storage.messages(conv, Page::Newest, usize::MAX)).unwrap()
    }

    pub fn unread(&self, conv: ConversationId) -> u32 {
        self.engine
            .store()
            .conversation(conv)
            .map_or(0, |c| c.unread)
    }

    pub fn message(&self, r: &MessageRef) -> Option<StoredMessage> {
        self.engine.store().message(r).cloned()
    }

    /// No error reached the page.
    pub fn assert_no_errors(&self) {
        let errors: Vec<&ChatEvent> = self
            .events
            .iter()
            .filter(|e| matches!(e, ChatEvent::Error(_)))
            .collect();
        assert!(errors.is_empty(), "errors: {errors:?}");
    }
}

/// Strictly ascending keys and no message twice (by server id or local id).
pub fn assert_once_in_order(messages: &[StoredMessage]) {
    for pair in messages.windows(2) {
        assert!(pair[0].key < pair[1].key, "out of order: {pair:?}");
    }
    let mut ids: Vec<&MessageRef> = messages.iter().map(|m| &m.key.id).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "a message twice");
    let mut locals: Vec<&String> = messages
        .iter()
        .filter_map(|m| m.local_id.as_ref())
        .collect();
    locals.sort();
    let n = locals.len();
    locals.dedup();
    assert_eq!(locals.len(), n, "a local id twice");
}

/// Writes messages to storage as a previous run would have: records, unread counts and all.
pub fn seed_storage(storage: &MemoryStorage, messages: Vec<WireMessage>) {
    let mut store = Store::new(ME);
    store.apply_history(messages);
    block_on(storage.apply(store.take_persist().into())).unwrap();
}

/// Writes the clock offset a previous run measured.
pub fn seed_clock_offset(storage: &MemoryStorage, offset_ms: i64) {
    let batch = StorageBatch {
        store: Default::default(),
        put_meta: vec![(meta::CLOCK_OFFSET.to_string(), offset_ms.to_string())],
    };
    block_on(storage.apply(batch)).unwrap();
}

/// Whether `m` is a message of mine that the server stored.
pub fn is_sent(m: &StoredMessage) -> bool {
    m.status == Status::Sent && m.server_id().is_some()
}

//! What arrives from the session: statuses, connects and drops, publishes on chat / room /
//! presence topics, the outcome of my publishes; the queue that applies network inputs in
//! order (reading stored copies back first); and read receipts.

use super::*;
use crate::chat::payload;
use crate::chat::store::StoredMessage;
use crate::chat::topics::Topic;
use crate::chat::{Incoming, ServerId, WireMessage};
use crate::collections::Gather;
use crate::mqtt::{Publish, SubscribeFilter};
use crate::session::{ConnectionError, Event, RequestId, SessionError};

/// Automatic read receipts in one room go out at most once per this long.
pub const ROOM_RECEIPT_INTERVAL_MS: u64 = 1_000;

/// A network input waiting its turn.
#[derive(Debug)]
pub(super) enum Queued {
    /// A payload from the broker.
    Net(Incoming),
    /// What `GET /conversations` said of one conversation: the history this client may
    /// have missed, and the backend's unread count as of its message at weight `up_to`.
    /// Applied together, so the list never shows a count the backend then corrects.
    CatchUp {
        conversation: ConversationId,
        page: Vec<WireMessage>,
        unread: Option<(u32, u64)>,
    },
}

/// The head of the queue while stored copies are read back.
#[derive(Debug)]
pub(super) struct Applying {
    items: Vec<Incoming>,
    stored: Vec<Option<StoredMessage>>,
    unread: Option<(ConversationId, u32, u64)>,
    waiting: usize,
    /// Conversations whose storage ran out of older pages while this head waited.
    exhausted: Vec<ConversationId>,
}

/// What the session said of an MQTT command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Publish(PublishId),
    Request(RequestId),
}

impl ChatEngine {
    /// Events of the MQTT session that came together (a WebSocket frame of messages): as
    /// [`ChatEngine::handle_session_event`] for each, but the store's events and records
    /// are flushed once, at the end (or before any other output, which keeps the order),
    /// so a frame of fifty messages makes one persist batch instead of fifty.
    pub fn handle_session_events(&mut self, now: Now, events: impl IntoIterator<Item = Event>) {
        self.holding = true;
        for event in events {
            self.handle_session_event(now, event);
        }
        self.holding = false;
        if self.flush_due {
            self.flush_store_now();
        }
    }

    /// An event of the MQTT session.
    pub fn handle_session_event(&mut self, now: Now, event: Event) {
        if self.closed {
            return;
        }
        match event {
            Event::Status(s) => {
                self.status = s;
                self.log(LogLevel::Info, format!("status {}", s.name()));
                self.event(ChatEvent::Status(Some(s)));
            }
            Event::Connected { session_present } => self.on_connected(now, session_present),
            Event::Disconnected { error, .. } => {
                // Lost before the SUBACK: the next catch-up goes back as far as this one did.
                if let Some(Some(since)) = self.catch_up_on_suback.take() {
                    self.offline_since = Some(since);
                }
                if self.offline_since.is_none() {
                    self.offline_since = Some(self.now_server(now));
                }
                let refused = matches!(
                    error,
                    ConnectionError::Refused(_)
                        | ConnectionError::Credentials(_)
                        | ConnectionError::Protocol(_)
                        | ConnectionError::Malformed(_)
                );
                if refused {
                    self.error(ChatError::mqtt(error.to_string()));
                } else {
                    self.log(LogLevel::Info, format!("disconnected: {error}"));
                }
            }
            Event::Message(publish) => self.on_publish(now, *publish),
            Event::PublishDone { id, reason } => {
                let Some(p) = self.publishes.remove(&id) else {
                    return;
                };
                let outcome = if reason.is_error() {
                    self.log(
                        LogLevel::Warn,
                        format!("publish refused: 0x{:02x}", reason.as_u8()),
                    );
                    self.store
                        .send_failed(&MessageRef::Local(p.local_id.clone()))
                } else {
                    self.store
                        .send_succeeded(&p.local_id, p.server_id, p.weight)
                        .map(|_| ())
                };
                if let Err(e) = outcome {
                    self.log(LogLevel::Debug, e.to_string());
                }
                self.flush_store();
                self.settle_send(&p.local_id);
            }
            Event::Subscribed { reasons, .. } => {
                if reasons.iter().any(|r| r.is_error()) {
                    self.error(ChatError::mqtt("the broker refused a subscription"));
                }
                if let Some(since) = self.catch_up_on_suback.take() {
                    self.catch_up(since);
                }
            }
            Event::Unsubscribed { .. } => {}
            Event::ProtocolFallback { error } => self.error(ChatError::mqtt(format!(
                "the broker refused MQTT 5.0 ({error}): using MQTT 3.1.1"
            ))),
        }
    }

    /// The session took the command with this tag.
    pub fn handle_mqtt_accepted(&mut self, _now: Now, tag: MqttTag, accepted: Accepted) {
        let Some(pending) = self.tags.remove(&tag) else {
            return;
        };
        match pending {
            TagPending::Message(p) => {
                if let Accepted::Publish(id) = accepted {
                    self.publishes.insert(id, p);
                }
            }
            TagPending::Revoke(command) | TagPending::Room(command) => {
                self.done(command, Ok(Reply::Unit));
            }
            TagPending::Read {
                conversation,
                command,
            } => self.receipt_done(conversation, command, Ok(())),
            TagPending::Subscribe | TagPending::Fire => {}
        }
    }

    /// The session refused the command with this tag; nothing was queued.
    pub fn handle_mqtt_refused(&mut self, now: Now, tag: MqttTag, error: SessionError) {
        self.mqtt_failed(now, tag, error.to_string());
    }

    /// The command with this tag never reached a session (there was none, or it was busy):
    /// what waited for it settles as refused.
    pub fn handle_mqtt_unavailable(&mut self, now: Now, tag: MqttTag) {
        self.mqtt_failed(now, tag, "no MQTT session took the command".to_string());
    }

    fn mqtt_failed(&mut self, _now: Now, tag: MqttTag, why: String) {
        let Some(pending) = self.tags.remove(&tag) else {
            return;
        };
        let error = ChatError::mqtt(why);
        match pending {
            TagPending::Message(p) => self.not_sent(&p.local_id, &error.message),
            TagPending::Revoke(command) | TagPending::Room(command) => {
                self.done(command, Err(error));
            }
            TagPending::Read {
                conversation,
                command,
            } => self.receipt_done(conversation, command, Err(error)),
            TagPending::Subscribe => self.error(error),
            TagPending::Fire => self.log(LogLevel::Debug, error.message),
        }
    }

    fn on_connected(&mut self, now: Now, session_present: bool) {
        self.clock.on_reconnect();
        let mut wanted = self.topics.clone();
        if self.presence {
            self.contacts
                .iter()
                .map(|c| topics::presence(*c))
                .gather_into(&mut wanted);
        }
        let filters: Vec<SubscribeFilter> = wanted
            .into_iter()
            .filter(|t| self.subscribed.insert(t.clone(), ()).is_none())
            .map(|t| SubscribeFilter::new(t, QoS::AtLeastOnce))
            .gather();
        if !filters.is_empty() {
            let tag = self.tag(TagPending::Subscribe);
            self.mqtt(MqttCommand::Subscribe { tag, filters });
        }
        if self.presence {
            self.publish_presence(topics::ONLINE, QoS::AtLeastOnce);
        }
        let offline_since = self.offline_since.take();
        if self.is_backend() {
            self.calibrate(now);
            self.catch_up(offline_since);
            if !session_present {
                self.catch_up_on_suback = Some(offline_since);
            }
        }
    }

    fn on_publish(&mut self, now: Now, publish: Publish) {
        match Topic::parse(&publish.topic) {
            Topic::Presence(user) => {
                if user != self.me {
                    if let Some(online) = topics::parse_presence(&publish.payload) {
                        self.event(ChatEvent::Presence { user, online });
                    }
                }
            }
            Topic::Chat(_) | Topic::Room(_) => match payload::decode(self.format, &publish.payload)
            {
                Ok(incoming) => self.enqueue(now, Queued::Net(incoming)),
                Err(e) => self.error(ChatError::new(
                    ErrorCode::Payload,
                    format!("bad payload on {}: {e}", publish.topic),
                )),
            },
            Topic::Other => self.log(
                LogLevel::Debug,
                format!("ignored a message on {}", publish.topic),
            ),
        }
    }

    /// Queues a network input; applies what can be applied now.
    pub(super) fn enqueue(&mut self, now: Now, item: Queued) {
        self.incoming.push_back(item);
        self.drain_incoming(now);
    }

    /// Applies queued inputs in order until one waits for storage.
    fn drain_incoming(&mut self, now: Now) {
        while self.applying.is_none() {
            let (items, unread) = match self.incoming.pop_front() {
                // What `prepare_head` and `apply_head` do with one input that needs nothing
                // from storage (nearly every message of a backlog), without their lists.
                Some(Queued::Net(incoming))
                    if self.store.needs_older_for(&incoming).is_none()
                        && self.lookup_needed(&incoming).is_none() =>
                {
                    let read = self.apply_incoming(now, incoming, None);
                    self.applied(now, read);
                    continue;
                }
                Some(Queued::Net(incoming)) => (vec![incoming], None),
                Some(Queued::CatchUp {
                    conversation,
                    page,
                    unread,
                }) => (
                    page.into_iter().map(Incoming::Message).gather(),
                    unread.map(|(n, up_to)| (conversation, n, up_to)),
                ),
                None => return,
            };
            self.applying = Some(Applying {
                stored: vec![None; items.len()],
                items,
                unread,
                waiting: 0,
                exhausted: Vec::new(),
            });
            self.prepare_head(now);
        }
    }

    /// Reads back what the head of the queue needs from storage, in two rounds: older
    /// pages for a receipt past unloaded history, then the stored copies that messages and
    /// revokes merge into. Applies the head once nothing is missing.
    fn prepare_head(&mut self, now: Now) {
        let Some(head) = self.applying.as_ref() else {
            return;
        };
        let mut older: Vec<ConversationId> = Vec::new();
        for c in head
            .items
            .iter()
            .filter_map(|i| self.store.needs_older_for(i))
        {
            if !older.contains(&c) && !head.exhausted.contains(&c) {
                older.push(c);
            }
        }
        let lookups: Vec<Option<ServerId>> = if older.is_empty() {
            head.items.iter().map(|i| self.lookup_needed(i)).gather()
        } else {
            Vec::new()
        };
        let waiting = older.len() + lookups.iter().flatten().count();
        if let Some(head) = self.applying.as_mut() {
            head.waiting = waiting;
        }
        if waiting == 0 {
            return self.apply_head(now);
        }
        for conversation in older {
            self.read_storage(
                StorageOp::Messages {
                    conversation,
                    page: self.older_page(conversation),
                    limit: self.page_size,
                },
                StoragePending::Older(conversation),
            );
        }
        for (slot, id) in lookups.into_iter().enumerate() {
            if let Some(id) = id {
                self.read_storage(
                    StorageOp::MessageByServerId(id),
                    StoragePending::Lookup(slot),
                );
            }
        }
    }

    /// An older page the head of the queue waited for.
    pub(super) fn older_read(
        &mut self,
        now: Now,
        conversation: ConversationId,
        answer: Result<Vec<StoredMessage>, StorageError>,
    ) {
        let full = self.take_page(answer, self.page_size);
        let Some(head) = self.applying.as_mut() else {
            return;
        };
        if !full {
            head.exhausted.push(conversation);
        }
        head.waiting = head.waiting.saturating_sub(1);
        if head.waiting == 0 {
            self.prepare_head(now);
            self.drain_incoming(now);
        }
    }

    /// A stored copy the head of the queue waited for (`None`: not stored, or unreadable).
    pub(super) fn looked_up(&mut self, now: Now, slot: usize, stored: Option<StoredMessage>) {
        let Some(head) = self.applying.as_mut() else {
            return;
        };
        if let Some(place) = head.stored.get_mut(slot) {
            *place = stored;
        }
        head.waiting = head.waiting.saturating_sub(1);
        if head.waiting == 0 {
            self.apply_head(now);
            self.drain_incoming(now);
        }
    }

    /// A server id that storage may hold while the store does not: read it back before
    /// applying `incoming`, so a redelivery is not counted unread twice and a revoke
    /// reaches the stored copy.
    fn lookup_needed(&self, incoming: &Incoming) -> Option<ServerId> {
        let (id, conversation, weight) = match incoming {
            Incoming::Message(m) => (m.id, m.conversation_id, Some(m.weight)),
            Incoming::Revoke {
                msg_id,
                conversation_id,
            } => (*msg_id, *conversation_id, None),
            Incoming::Read { .. } | Incoming::Members { .. } => return None,
        };
        let held = self.store.message(&MessageRef::Server(id)).is_some();
        (!held && self.store.may_be_unloaded(conversation, weight)).then_some(id)
    }

    /// Applies the head of the queue, then sends the read receipts it calls for.
    fn apply_head(&mut self, now: Now) {
        let Some(head) = self.applying.take() else {
            return;
        };
        let mut read: Vec<ConversationId> = Vec::new();
        for (incoming, stored) in head.items.into_iter().zip(head.stored) {
            if let Some(c) = self.apply_incoming(now, incoming, stored) {
                if !read.contains(&c) {
                    read.push(c);
                }
            }
        }
        if let Some((conversation, n, up_to)) = head.unread {
            self.store.apply_server_unread(conversation, n, up_to);
        }
        self.applied(now, read);
    }

    /// After inputs were applied: their changes go out, then the read receipts they call
    /// for (the open conversations in `read`).
    fn applied(&mut self, now: Now, read: impl IntoIterator<Item = ConversationId>) {
        self.flush_store();
        for conversation in read {
            self.read_soon(now, conversation);
        }
    }

    /// Applies one network input (after its stored copy, if storage had one the store has
    /// not loaded); the open conversation it makes due for a read receipt, if any.
    fn apply_incoming(
        &mut self,
        now: Now,
        incoming: Incoming,
        stored: Option<StoredMessage>,
    ) -> Option<ConversationId> {
        if let Some(m) = stored {
            if self.store.message(&m.key.id).is_none() {
                self.store.insert_loaded(m);
            }
        }
        let me = self.me;
        let mut read = None;
        // The clock's "now" stands in for the position of a receipt that carries none.
        let received = self.now_server(now);
        match &incoming {
            Incoming::Revoke {
                msg_id,
                conversation_id,
            } => self.event(ChatEvent::Revoke {
                conversation: *conversation_id,
                id: *msg_id,
            }),
            // 1:1: `sender_id` is whose messages were read (mine: the peer read them).
            Incoming::Read {
                sender_id,
                conversation_id: conversation @ ConversationId::Direct { .. },
                up_to_weight,
            } if *sender_id == me => self.event(ChatEvent::Read {
                conversation: *conversation,
                reader: conversation.peer_of(me).unwrap_or(0),
                up_to: up_to_weight.unwrap_or(received),
            }),
            // A room: `sender_id` is the reader.
            Incoming::Read {
                sender_id,
                conversation_id: conversation @ ConversationId::Room(_),
                up_to_weight,
            } if *sender_id != me => self.event(ChatEvent::Read {
                conversation: *conversation,
                reader: *sender_id,
                up_to: up_to_weight.unwrap_or(received),
            }),
            Incoming::Message(m) if m.sender_id != me && self.store.is_open(m.conversation_id) => {
                read = Some(m.conversation_id);
            }
            _ => {}
        }
        self.store.apply(incoming, received);
        read
    }

    /// Sends a read receipt for `conversation` unless one is under way; if more arrived
    /// while it was, exactly one more follows it. In a room, at most one automatic receipt
    /// goes out per [`ROOM_RECEIPT_INTERVAL_MS`]: every member's client hears each one, so
    /// one per arriving message from every member who has the room open would grow as the
    /// square of the room; a later one covers what arrived meanwhile.
    pub(super) fn read_soon(&mut self, now: Now, conversation: ConversationId) {
        if let ConversationId::Room(_) = conversation {
            let due = self
                .room_receipt_sent
                .get(&conversation)
                .map(|last| last.saturating_add(ROOM_RECEIPT_INTERVAL_MS));
            match due {
                Some(due) if now.mono_ms < due => {
                    self.room_receipt_due.insert(conversation, due);
                    return;
                }
                _ => {
                    self.room_receipt_sent.insert(conversation, now.mono_ms);
                }
            }
        }
        match self.reads.get_mut(&conversation) {
            Some(again) => *again = true,
            None => {
                self.reads.insert(conversation, false);
                self.send_receipt(conversation, None);
            }
        }
    }

    /// Tells the peer (backend: the server) that I read `conversation`. `command` is the
    /// page's `markRead` call; `None` is the automatic receipt of an open conversation.
    pub(super) fn send_receipt(
        &mut self,
        conversation: ConversationId,
        command: Option<CommandId>,
    ) {
        if self.is_backend() {
            return self.http(
                crate::chat::api::read(conversation),
                HttpPending::Read {
                    conversation,
                    command,
                },
            );
        }
        let up_to = self
            .store
            .conversation(conversation)
            .map(|c| c.last_activity);
        // 1:1: to the peer, naming the peer (whose messages I read). A room: to the room,
        // naming me (every member counts who read its own messages).
        let (topic, sender_id) = match conversation {
            ConversationId::Room(room) => (topics::room(room), self.me),
            direct => match direct.peer_of(self.me) {
                Some(peer) => (topics::chat(peer), peer),
                None => return self.receipt_done(conversation, command, Ok(())),
            },
        };
        let receipt = Incoming::Read {
            sender_id,
            conversation_id: conversation,
            up_to_weight: up_to,
        };
        match payload::encode(self.format, &receipt) {
            Ok(bytes) => self.publish(
                topic,
                bytes,
                QoS::AtLeastOnce,
                false,
                TagPending::Read {
                    conversation,
                    command,
                },
            ),
            Err(e) => self.receipt_done(
                conversation,
                command,
                Err(ChatError::new(ErrorCode::Payload, e.to_string())),
            ),
        }
    }

    /// A receipt went out (or failed): settle `markRead`, or send the next automatic one.
    pub(super) fn receipt_done(
        &mut self,
        conversation: ConversationId,
        command: Option<CommandId>,
        result: Result<(), ChatError>,
    ) {
        if let Some(command) = command {
            return self.done(command, result.map(|()| Reply::Unit));
        }
        if let Err(e) = result {
            self.log(LogLevel::Warn, e.message);
        }
        match self.reads.get_mut(&conversation) {
            Some(again) if *again => {
                *again = false;
                self.send_receipt(conversation, None);
            }
            _ => {
                self.reads.remove(&conversation);
            }
        }
    }
}

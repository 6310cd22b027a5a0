//! What the page asks for: connect and goodbye, sends, resends, revokes, read marks, open
//! conversations, rooms and local deletes.

use super::*;
use crate::chat::api::{self, CODE_REVOKE_REFUSED};
use crate::chat::payload;
use crate::chat::store::StoreError;
use crate::chat::{Content, Incoming, WireMessage};
use crate::collections::Gather;
use crate::mqtt::SubscribeFilter;

impl ChatEngine {
    /// Starts the session (backend mode: conn-config first, and a clock sample) and sends
    /// what the last run left unsent.
    pub fn connect(&mut self, now: Now) {
        if self.closed {
            return;
        }
        let outbox = std::mem::take(&mut self.outbox);
        self.started = true;
        self.calibrate(now);
        self.mqtt(MqttCommand::Connect);
        for out in outbox {
            self.transmit(out);
        }
    }

    /// Says goodbye: a retained `offline` (a clean DISCONNECT fires no will), then
    /// DISCONNECT.
    pub fn disconnect(&mut self, _now: Now) {
        if self.presence && self.status == session::Status::Connected {
            self.publish_presence(topics::OFFLINE, QoS::AtMostOnce);
        }
        self.mqtt(MqttCommand::Disconnect);
    }

    /// Disconnects and deletes this user's local data (once every accepted write is done);
    /// `command` settles when it is gone.
    pub fn logout(&mut self, now: Now, command: CommandId) {
        self.disconnect(now);
        self.read_storage(StorageOp::Wipe, StoragePending::Wipe(command));
    }

    pub(super) fn wiped(&mut self, command: CommandId, result: Result<(), StorageError>) {
        self.store = Store::new(self.me);
        self.closed = true;
        // Whatever was under way ends here: its calls settle now, and late answers are
        // dropped (nothing of the user is written after the wipe).
        let mut open: Vec<CommandId> = Vec::new();
        for pending in std::mem::take(&mut self.http).into_values() {
            match pending {
                HttpPending::Revoke { command, .. }
                | HttpPending::Room { command, .. }
                | HttpPending::Read {
                    command: Some(command),
                    ..
                } => open.push(command),
                HttpPending::History(job) => open.push(job.command()),
                _ => {}
            }
        }
        for pending in std::mem::take(&mut self.storage).into_values() {
            match pending {
                StoragePending::Page(job) => open.push(job.command()),
                StoragePending::Wipe(c) if c != command => open.push(c),
                _ => {}
            }
        }
        for pending in std::mem::take(&mut self.tags).into_values() {
            match pending {
                TagPending::Revoke(c)
                | TagPending::Room(c)
                | TagPending::Read {
                    command: Some(c), ..
                } => open.push(c),
                _ => {}
            }
        }
        for c in open {
            self.done(c, Err(ChatError::closed()));
        }
        for commands in std::mem::take(&mut self.sends).into_values() {
            for c in commands {
                self.done(c, Ok(Reply::Message(None)));
            }
        }
        self.publishes.clear();
        self.incoming.clear();
        self.applying = None;
        self.reads.clear();
        self.room_receipt_due.clear();
        self.outbox.clear();
        self.event(ChatEvent::Conversations);
        self.event(ChatEvent::UnreadTotal(0));
        self.event(ChatEvent::Status(None));
        let result = result
            .map(|()| Reply::Unit)
            .map_err(|e| ChatError::from(&e));
        self.done(command, result);
    }

    /// Sends a message: the local copy at once; `command` settles with the outcome.
    pub fn send(
        &mut self,
        now: Now,
        command: CommandId,
        conversation: ConversationId,
        content: Content,
    ) -> Result<StoredMessage, ChatError> {
        let draft = self.draft(now, conversation, content.clone())?;
        let local_id = draft.local_id.unwrap_or_default();
        self.send_draft(
            now,
            command,
            &local_id,
            conversation,
            content,
            draft.key.weight,
        )
    }

    /// The local copy a send would show, with its local id and weight drawn here, not yet
    /// sent: a tab that does not hold the connection drafts its message, and the one that
    /// does sends it with [`ChatEngine::send_draft`].
    pub fn draft(
        &mut self,
        now: Now,
        conversation: ConversationId,
        content: Content,
    ) -> Result<StoredMessage, ChatError> {
        if self.closed {
            return Err(ChatError::closed());
        }
        let weight = self.weight(now);
        let local_id = self.local_id();
        self.store
            .draft_local(conversation, content, &local_id, weight)
            .map_err(|e| ChatError::from(&e))
    }

    /// Sends a drafted message; `command` settles with the outcome. A draft already held
    /// (asked again after the tab that held the connection went away) is not sent twice:
    /// `command` waits for the send under way, or settles at once.
    pub fn send_draft(
        &mut self,
        now: Now,
        command: CommandId,
        local_id: &str,
        conversation: ConversationId,
        content: Content,
        weight: u64,
    ) -> Result<StoredMessage, ChatError> {
        if self.closed {
            return Err(ChatError::closed());
        }
        let local_id = local_id.to_string();
        let held = MessageRef::Local(local_id.clone());
        if let Some(m) = self.store.message(&held).cloned() {
            self.add_send(&local_id, command);
            if m.status != crate::chat::store::Status::Sending {
                self.settle_send(&local_id);
            }
            return Ok(m);
        }
        // The clock never hands out a weight at or below one already used.
        self.clock.note_weight(weight);
        let m = self
            .store
            .send_local(conversation, content.clone(), &local_id, weight)
            .map_err(|e| ChatError::from(&e))?;
        self.flush_store();
        self.add_send(&local_id, command);
        self.calibrate_if_needed(now);
        self.transmit(Outgoing {
            local_id,
            conversation,
            content,
            weight,
        });
        Ok(m)
    }

    /// Takes in what another tab's client held that this one does not (storage may lack
    /// it when that tab went away mid-write); messages of mine it was still sending go out
    /// again (now, or on `connect()`). Those of others in an open conversation are read,
    /// and a receipt goes out, as when they arrive.
    pub fn adopt(&mut self, now: Now, messages: Vec<StoredMessage>) {
        let me = self.me;
        let mut read: Vec<ConversationId> = Vec::new();
        for m in messages {
            let conversation = m.conversation_id;
            let theirs_open = m.sender_id() != me && self.store.is_open(conversation);
            let resend = match (&m.local_id, &m.content) {
                (Some(local_id), Some(content))
                    if m.sender_id() == me && m.status == crate::chat::store::Status::Sending =>
                {
                    Some(Outgoing {
                        local_id: local_id.clone(),
                        conversation,
                        content: Content::clone(content),
                        weight: m.weight(),
                    })
                }
                _ => None,
            };
            if !self.store.adopt(m) {
                continue;
            }
            if theirs_open && !read.contains(&conversation) {
                read.push(conversation);
            }
            if let Some(out) = resend {
                if self.started {
                    self.transmit(out);
                } else {
                    self.outbox.push(out);
                }
            }
        }
        self.flush_store();
        for conversation in read {
            self.read_soon(now, conversation);
        }
    }

    /// Assumes a clock offset (local minus server, ms) until calibrated: a tab without the
    /// connection takes the one of the tab that has it.
    pub fn assume_clock_offset(&mut self, local_minus_server_ms: i64) {
        self.clock
            .assume_offset(local_minus_server_ms.saturating_neg());
    }

    /// Sends a failed message of mine again, with a new weight (it moves to the end).
    pub fn resend(
        &mut self,
        now: Now,
        command: CommandId,
        key: &str,
    ) -> Result<StoredMessage, ChatError> {
        let r = self.resolve(key)?;
        let weight = self.weight(now);
        let m = self
            .store
            .resend(&r, weight)
            .map_err(|e| ChatError::from(&e))?;
        self.flush_store();
        let local_id = m.local_id.clone().unwrap_or_else(|| key.to_string());
        self.add_send(&local_id, command);
        match (m.server_id(), self.is_backend()) {
            // Stored by the backend already: it moves it to the end for everyone.
            (Some(id), true) => self.http(
                api::resend(id, m.receiver_id, m.conversation_id, m.weight()),
                HttpPending::Resend { id, local_id },
            ),
            _ => match m.content.as_deref().cloned() {
                Some(content) => self.transmit(Outgoing {
                    local_id,
                    conversation: m.conversation_id,
                    content,
                    weight: m.weight(),
                }),
                None => self.settle_send(&local_id),
            },
        }
        Ok(m)
    }

    /// Revokes a message of mine within [`REVOKE_WINDOW_MS`](crate::chat::store::REVOKE_WINDOW_MS) of calibrated time: the
    /// content goes on both sides, a notice stays.
    pub fn revoke(&mut self, now: Now, command: CommandId, key: &str) {
        let r = match self.resolve(key) {
            Ok(r) => r,
            Err(e) => return self.done(command, Err(e)),
        };
        let id = match self.store.check_revoke(&r, self.now_server(now)) {
            Ok(id) => id,
            // Revoked already (asked again, say by a tab whose first ask went unanswered
            // when the tab holding the connection went away): done.
            Err(StoreError::AlreadyRevoked) => return self.done(command, Ok(Reply::Unit)),
            Err(e) => return self.done(command, Err(ChatError::from(&e))),
        };
        let Some(conversation) = self.store.message(&r).map(|m| m.conversation_id) else {
            return self.done(command, Err(ChatError::new(ErrorCode::NotFound, key)));
        };
        if self.is_backend() {
            return self.http(
                api::revoke(id),
                HttpPending::Revoke {
                    command,
                    id,
                    conversation,
                },
            );
        }
        let revoked = self.store.revoke_mine(&r, self.now_server(now));
        self.flush_store();
        if let Err(e) = revoked {
            return self.done(command, Err(ChatError::from(&e)));
        }
        self.event(ChatEvent::Revoke { conversation, id });
        let notice = Incoming::Revoke {
            msg_id: id,
            conversation_id: conversation,
        };
        let encoded = payload::encode(self.format, &notice)
            .map_err(|e| ChatError::new(ErrorCode::Payload, e.to_string()));
        let topic = conversation
            .topic_from(self.me)
            .ok_or_else(|| ChatError::new(ErrorCode::InvalidArgument, "no topic"));
        match encoded.and_then(|p| topic.map(|t| (t, p))) {
            Ok((topic, payload)) => self.publish(
                topic,
                payload,
                QoS::AtLeastOnce,
                false,
                TagPending::Revoke(command),
            ),
            Err(e) => self.done(command, Err(e)),
        }
    }

    /// The backend's answer to a revoke.
    pub(super) fn revoked(
        &mut self,
        now: Now,
        command: CommandId,
        id: crate::chat::ServerId,
        conversation: ConversationId,
        answer: Result<(), api::ApiError>,
    ) {
        match answer {
            Ok(()) => {
                let received = self.now_server(now);
                self.store.apply(
                    Incoming::Revoke {
                        msg_id: id,
                        conversation_id: conversation,
                    },
                    received,
                );
                self.flush_store();
                self.event(ChatEvent::Revoke { conversation, id });
                self.done(command, Ok(Reply::Unit));
            }
            Err(api::ApiError::Backend { code, message }) if code == CODE_REVOKE_REFUSED => {
                self.done(
                    command,
                    Err(ChatError::new(ErrorCode::RevokeExpired, message)),
                );
            }
            Err(e) => self.done(command, Err(ChatError::from(&e))),
        }
    }

    /// Marks a conversation read here and tells the peer (backend: the server).
    pub fn mark_read(&mut self, _now: Now, command: CommandId, conversation: ConversationId) {
        self.store.mark_read(conversation);
        self.flush_store();
        self.send_receipt(conversation, Some(command));
    }

    /// The page shows this conversation: it is read now, and stays read while open.
    pub fn open_conversation(&mut self, now: Now, conversation: ConversationId) {
        self.set_view(now, "", Some(conversation), true);
    }

    /// The page no longer shows a conversation.
    pub fn close_conversation(&mut self, now: Now) {
        self.set_view(now, "", None, true);
    }

    /// What tab `tab` shows (`""`: this one): `open` while `visible`. A conversation counts
    /// as open, read now and read as messages arrive, while any visible tab shows it.
    pub fn set_view(&mut self, now: Now, tab: &str, open: Option<ConversationId>, visible: bool) {
        match open.filter(|_| visible) {
            Some(c) => {
                self.views.insert(tab.to_string(), c);
            }
            None => {
                self.views.remove(tab);
            }
        }
        let mut open: Vec<ConversationId> = Vec::new();
        for c in self.views.values() {
            if !open.contains(c) {
                open.push(*c);
            }
        }
        let moved = self.store.set_open(open);
        self.flush_store();
        for conversation in moved {
            self.read_soon(now, conversation);
        }
    }

    /// The tabs other than this one that show something (to drop those that went away).
    pub fn view_tabs(&self) -> Vec<String> {
        self.views
            .keys()
            .filter(|t| !t.is_empty())
            .cloned()
            .gather()
    }

    /// Joins (or leaves) a room: backend mode asks the backend first; then its topic is
    /// subscribed (or unsubscribed).
    pub fn room(&mut self, now: Now, command: CommandId, room: u64, join: bool) {
        if self.is_backend() {
            let request = if join {
                api::join_room(room)
            } else {
                api::leave_room(room)
            };
            return self.http(
                request,
                HttpPending::Room {
                    command,
                    room,
                    join,
                },
            );
        }
        self.room_topic(now, command, room, join);
    }

    pub(super) fn room_topic(&mut self, now: Now, command: CommandId, room: u64, join: bool) {
        let topic = topics::room(room);
        let changed = if join {
            let at = self.now_server(now);
            self.store
                .ensure_conversation(ConversationId::Room(room), at);
            if !self.topics.contains(&topic) {
                self.topics.push(topic.clone());
            }
            self.subscribed.insert(topic.clone(), ()).is_none()
        } else {
            self.topics.retain(|t| *t != topic);
            self.subscribed.remove(&topic).is_some()
        };
        self.flush_store();
        if !changed {
            return self.done(command, Ok(Reply::Unit));
        }
        let tag = self.tag(TagPending::Room(command));
        self.mqtt(if join {
            MqttCommand::Subscribe {
                tag,
                filters: vec![SubscribeFilter::new(topic, QoS::AtLeastOnce)],
            }
        } else {
            MqttCommand::Unsubscribe {
                tag,
                topics: vec![topic],
            }
        });
    }

    /// Deletes a message on this device only.
    pub fn delete_message(&mut self, _now: Now, key: &str) -> Result<(), ChatError> {
        let r = self.resolve(key)?;
        let conversation = self.store.message(&r).map(|m| m.conversation_id);
        let deleted = self.store.delete_message(&r);
        self.flush_store();
        deleted.map_err(|e| ChatError::from(&e))?;
        // The list shows each conversation's newest message: when the deleted one was the
        // last held, the one before it comes back from storage.
        if let Some(c) = conversation {
            if self.store.message_count(c) == 0 && self.store.may_have_older(c) {
                self.read_storage(
                    StorageOp::Messages {
                        conversation: c,
                        page: self.older_page(c),
                        limit: 1,
                    },
                    StoragePending::Refill,
                );
            }
        }
        Ok(())
    }

    /// Deletes a conversation on this device only (it comes back with a newer message).
    pub fn delete_conversation(&mut self, _now: Now, conversation: ConversationId) {
        self.store.delete_conversation(conversation);
        self.flush_store();
    }

    /// Hands a message of mine to the network; the store hears how it went.
    pub(super) fn transmit(&mut self, out: Outgoing) {
        if self.is_backend() {
            match api::send(self.me, out.conversation, &out.content, out.weight) {
                Ok(request) => self.http(
                    request,
                    HttpPending::Send {
                        local_id: out.local_id,
                    },
                ),
                Err(e) => self.sent(&out.local_id, Err(api::ApiError::Payload(e))),
            }
            return;
        }
        let server_id = match out.local_id.parse::<u64>() {
            Ok(id) => id,
            Err(_) => self.random_id(),
        };
        let receiver_id = match out.conversation {
            ConversationId::Room(id) => id,
            direct => direct.peer_of(self.me).unwrap_or(0),
        };
        let wire = WireMessage {
            id: server_id,
            conversation_id: out.conversation,
            sender_id: self.me,
            receiver_id,
            content: out.content,
            weight: out.weight,
            is_read: false,
            revoked: false,
            sender_name: self.nick_name.clone(),
            sender_avatar: self.avatar.clone(),
        };
        let topic = out.conversation.topic_from(self.me);
        let encoded = payload::encode(self.format, &Incoming::Message(wire));
        match (topic, encoded) {
            (Some(topic), Ok(payload)) => self.publish(
                topic,
                payload,
                QoS::AtLeastOnce,
                false,
                TagPending::Message(Publication {
                    local_id: out.local_id,
                    server_id,
                    weight: out.weight,
                }),
            ),
            (None, _) => self.not_sent(&out.local_id, "no topic for this conversation"),
            (_, Err(e)) => self.not_sent(&out.local_id, &e.to_string()),
        }
    }

    /// A direct-mode message that could not be handed to the session.
    pub(super) fn not_sent(&mut self, local_id: &str, why: &str) {
        self.error(ChatError::mqtt(format!("send failed: {why}")));
        let _ = self
            .store
            .send_failed(&MessageRef::Local(local_id.to_string()));
        self.flush_store();
        self.settle_send(local_id);
    }

    /// The backend's answer to `POST /messages`.
    pub(super) fn sent(
        &mut self,
        local_id: &str,
        answer: Result<Option<WireMessage>, api::ApiError>,
    ) {
        let local = MessageRef::Local(local_id.to_string());
        let outcome = match answer {
            Ok(Some(m)) => self
                .store
                .send_succeeded(local_id, m.id, m.weight)
                .map(|_| ()),
            Ok(None) => {
                self.log(LogLevel::Warn, "the backend stored the message as failed");
                self.store.send_failed(&local)
            }
            Err(e) => {
                self.log(LogLevel::Warn, format!("send failed: {e}"));
                self.store.send_failed(&local)
            }
        };
        if let Err(e) = outcome {
            self.log(LogLevel::Debug, e.to_string());
        }
        self.flush_store();
        self.settle_send(local_id);
    }

    /// The backend's answer to `POST /messages/resend`.
    pub(super) fn resent(
        &mut self,
        id: crate::chat::ServerId,
        local_id: &str,
        answer: Result<(i64, u64), api::ApiError>,
    ) {
        match answer {
            Ok((1, weight)) => self.store.apply_resend(id, weight),
            other => {
                let why = match other {
                    Ok((status, _)) => format!("status {status}"),
                    Err(e) => e.to_string(),
                };
                self.log(LogLevel::Warn, format!("resend failed: {why}"));
                let _ = self.store.send_failed(&MessageRef::Server(id));
            }
        }
        self.flush_store();
        self.settle_send(local_id);
    }
}

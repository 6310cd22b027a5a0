//! My messages: sending, the HTTP answer or the echo that confirms them, failure,
//! resending and revoking, and the outbox that survives a restart.

use std::sync::Arc;

use super::*;

impl Store {
    // ---- local actions --------------------------------------------------------------------

    /// A message I am sending: shown at once with status `Sending` under `local_id`.
    pub fn send_local(
        &mut self,
        conversation_id: ConversationId,
        content: Content,
        local_id: &str,
        weight: u64,
    ) -> Result<StoredMessage, StoreError> {
        let message = self.draft_local(conversation_id, content, local_id, weight)?;
        self.place(conversation_id, None, message.clone());
        self.persist.put_outbox(outbox_entry(&message));
        self.finish();
        Ok(message)
    }

    /// The message [`Store::send_local`] would show, without showing it: a tab that does
    /// not hold the connection drafts it, the one that does sends it.
    pub fn draft_local(
        &self,
        conversation_id: ConversationId,
        content: Content,
        local_id: &str,
        weight: u64,
    ) -> Result<StoredMessage, StoreError> {
        let local = MessageRef::Local(local_id.to_string());
        if self.locate.contains_key(&local) {
            return Err(StoreError::DuplicateLocalId(local_id.to_string()));
        }
        let receiver_id = match conversation_id {
            ConversationId::Room(room) => room,
            direct => direct
                .peer_of(self.me)
                .filter(|peer| *peer != self.me)
                .ok_or(StoreError::SelfMessage)?,
        };
        let message = StoredMessage {
            key: MessageKey {
                weight,
                sender_id: self.me,
                id: local,
            },
            conversation_id,
            local_id: Some(local_id.to_string()),
            receiver_id,
            content: Some(Arc::new(content)),
            status: Status::Sending,
            read: false,
            server_read: false,
            sender_name: None,
            sender_avatar: None,
        };
        Ok(message)
    }

    /// A message another tab's client held that this store does not (storage may lack it
    /// when that tab closed mid-write): listed, counted and written like a new one.
    /// Returns whether it was taken in.
    pub fn adopt(&mut self, message: StoredMessage) -> bool {
        if self.locate.contains_key(&message.key.id) {
            return false;
        }
        if message.status == Status::Sending && message.local_id.is_some() {
            self.persist.put_outbox(outbox_entry(&message));
        }
        self.place(message.conversation_id, None, message);
        self.finish();
        true
    }

    /// The server stored my message: it now has `server_id` (and the server's `weight`).
    /// If a copy with that id arrived first (an echo), the two become one.
    pub fn send_succeeded(
        &mut self,
        local_id: &str,
        server_id: ServerId,
        weight: u64,
    ) -> Result<StoredMessage, StoreError> {
        let local = MessageRef::Local(local_id.to_string());
        let (cid, key) = self
            .locate
            .get(&local)
            .cloned()
            .ok_or_else(|| StoreError::NoSuchMessage(local.clone()))?;
        let old = self
            .get(cid, &key)
            .cloned()
            .ok_or_else(|| StoreError::NoSuchMessage(local.clone()))?;
        self.persist.delete_outbox(local_id);
        let server = MessageRef::Server(server_id);
        // The echo came first and was not recognised as this send (an echo of the same
        // weight and content merges into the optimistic copy as it arrives:
        // `Store::unconfirmed_send`; a server that changed the weight makes another): a
        // copy with the server id is listed beside the optimistic one. The UI knows each by
        // its own key, so the echo goes (removed under its server id) and the optimistic
        // copy takes its place, keeping its local key. What the echo learnt (read, revoked,
        // the sender's name) carries over.
        let echo = self
            .locate
            .get(&server)
            .cloned()
            .filter(|(_, skey)| *skey != key)
            .and_then(|(scid, skey)| {
                let m = self.get(scid, &skey).cloned();
                self.remove(scid, &skey);
                m
            });
        let mut new = old;
        // The server's weight is what every other copy of this message carries (a second
        // answer for the same message never moves it back).
        new.key.weight = if new.key.id == server {
            weight.max(new.key.weight)
        } else {
            weight
        };
        new.key.id = server;
        if let Some(echo) = &echo {
            new.key.weight = weight.max(echo.key.weight);
            new.server_read |= echo.server_read;
            if new.sender_name.is_none() {
                new.sender_name.clone_from(&echo.sender_name);
            }
            if new.sender_avatar.is_none() {
                new.sender_avatar.clone_from(&echo.sender_avatar);
            }
        }
        let revoked = self.tombstones.get(&server_id) == Some(&Tombstone::Revoked)
            || echo.as_ref().is_some_and(StoredMessage::is_revoked);
        new.status = if revoked {
            Status::Revoked
        } else {
            Status::Sent
        };
        if revoked {
            new.content = None;
        }
        self.place(cid, Some(key), new);
        self.finish();
        self.message(&MessageRef::Server(server_id))
            .cloned()
            .ok_or(StoreError::NoSuchMessage(MessageRef::Server(server_id)))
    }

    /// My message could not be sent: it stays, marked `Failed`, ready for a resend.
    pub fn send_failed(&mut self, r: &MessageRef) -> Result<(), StoreError> {
        let (cid, key, old) = self.find(r)?;
        if old.status == Status::Sending {
            if let Some(local) = &old.local_id {
                self.persist.delete_outbox(local);
            }
            let mut new = old;
            new.status = Status::Failed;
            self.place(cid, Some(key), new);
        }
        self.finish();
        Ok(())
    }

    /// Resends a failed message of mine: `Sending` again, with a new weight, so it moves
    /// to the end.
    pub fn resend(&mut self, r: &MessageRef, weight: u64) -> Result<StoredMessage, StoreError> {
        let (cid, key, old) = self.find(r)?;
        if old.status != Status::Failed {
            return Err(StoreError::NotFailed(old.status));
        }
        let mut new = old;
        new.status = Status::Sending;
        new.key.weight = new.key.weight.max(weight);
        self.place(cid, Some(key), new.clone());
        if new.local_id.is_some() {
            self.persist.put_outbox(outbox_entry(&new));
        }
        self.finish();
        Ok(new)
    }

    /// Revokes my own message, refused after [`REVOKE_WINDOW_MS`] of calibrated time.
    pub fn revoke_mine(&mut self, r: &MessageRef, now_weight: u64) -> Result<ServerId, StoreError> {
        let server_id = self.check_revoke(r, now_weight)?;
        let (_, _, old) = self.find(r)?;
        self.merge_revoke(server_id, old.conversation_id);
        self.finish();
        Ok(server_id)
    }

    /// Whether I may revoke `r` at `now_weight` (calibrated time): mine, sent, not revoked,
    /// at most [`REVOKE_WINDOW_MS`] old. Its server id if so. Changes nothing (a backend
    /// revokes first, and the store hears of it after).
    pub fn check_revoke(&self, r: &MessageRef, now_weight: u64) -> Result<ServerId, StoreError> {
        let old = self
            .message(r)
            .ok_or_else(|| StoreError::NoSuchMessage(r.clone()))?;
        if old.sender_id() != self.me {
            return Err(StoreError::NotMine);
        }
        if old.is_revoked() {
            return Err(StoreError::AlreadyRevoked);
        }
        let Some(server_id) = old.server_id() else {
            return Err(StoreError::NotSent);
        };
        let age_ms = now_weight.saturating_sub(old.weight());
        if age_ms > REVOKE_WINDOW_MS {
            return Err(StoreError::RevokeTooLate { age_ms });
        }
        Ok(server_id)
    }
}

/// The outbox record of a message of mine being sent.
fn outbox_entry(m: &StoredMessage) -> OutboxEntry {
    OutboxEntry {
        local_id: m.local_id.clone().unwrap_or_default(),
        conversation_id: m.conversation_id,
        receiver_id: m.receiver_id,
        content: m.content.as_deref().cloned().unwrap_or(Content::Text {
            text: String::new(),
        }),
        weight: m.key.weight,
    }
}

//! The records the store keeps, shows and persists.

use serde::{Deserialize, Serialize};

use crate::chat::ids::{ConversationId, ServerId, UserId};
use crate::chat::model::Content;

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Mine, handed to the network, no server id yet.
    Sending,
    /// Stored by the server (every received message is `Sent`).
    Sent,
    /// Mine, the send failed: it can be resent.
    Failed,
    /// Revoked by its sender: the content is gone, a notice remains.
    Revoked,
}

impl Status {
    /// The seed's numeric status: 0 not sent, 1 sent, 2 failed, 3 revoked.
    pub fn code(self) -> u8 {
        match self {
            Status::Sending => 0,
            Status::Sent => 1,
            Status::Failed => 2,
            Status::Revoked => 3,
        }
    }
}

/// The identity of a message: its server id once it has one, its client-generated local
/// id before.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRef {
    Server(ServerId),
    Local(String),
}

/// The position of a message in its conversation: ascending `(weight, sender, id)`, a
/// total order consistent with weight.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageKey {
    pub weight: u64,
    pub sender_id: UserId,
    pub id: MessageRef,
}

/// A message as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub key: MessageKey,
    pub conversation_id: ConversationId,
    /// The client-generated id of a message I sent from this client (kept after the server
    /// id arrives, so the UI can match its optimistic copy).
    pub local_id: Option<String>,
    pub receiver_id: u64,
    /// `None` once revoked.
    pub content: Option<Content>,
    pub status: Status,
    /// Mine and read by the peer (from a read receipt or the server's history).
    pub read: bool,
    /// The server said so in a history page (kept so receipts and pages merge in any order).
    pub server_read: bool,
    pub sender_name: Option<String>,
    pub sender_avatar: Option<String>,
}

impl StoredMessage {
    pub fn server_id(&self) -> Option<ServerId> {
        match self.key.id {
            MessageRef::Server(id) => Some(id),
            MessageRef::Local(_) => None,
        }
    }

    pub fn weight(&self) -> u64 {
        self.key.weight
    }

    pub fn sender_id(&self) -> UserId {
        self.key.sender_id
    }

    pub fn is_revoked(&self) -> bool {
        self.status == Status::Revoked
    }
}

/// A conversation as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    pub id: ConversationId,
    /// The newest message (a revoked one shows as a notice).
    pub last_message: Option<StoredMessage>,
    /// Weight of the newest message, or when the conversation was created.
    pub last_activity: u64,
    pub unread: u32,
    /// Room members, when known.
    pub members: Vec<UserId>,
}

/// What is persisted per conversation besides its messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationRecord {
    pub id: ConversationId,
    /// Messages of the peer up to this weight are read by me.
    pub my_read_mark: u64,
    /// Messages of mine up to this weight are read by the peer.
    pub peer_read_mark: u64,
    /// Messages at or below this weight were deleted locally (with the conversation).
    pub cleared_mark: u64,
    pub created_at: u64,
    pub members: Vec<UserId>,
    /// Unread messages, kept so a store loaded with only the newest pages knows the count.
    pub unread: u32,
    /// Shown in the conversation list (a room joined before any message, a chat whose
    /// last message was deleted), so a restart lists exactly what was listed.
    #[serde(default)]
    pub listed: bool,
}

/// A message of mine waiting to be sent: survives a reload and goes out after the next
/// connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub local_id: String,
    pub conversation_id: ConversationId,
    pub receiver_id: u64,
    pub content: Content,
    pub weight: u64,
}

//! The engine's vocabulary: what it asks the shell to do ([`Output`]), what the shell
//! reports back, the events a UI receives and the typed errors of the JS API.

use thiserror::Error;

use crate::chat::api::{ApiError, Request};
use crate::chat::store::{MessageRef, StoreError, StoredMessage};
use crate::chat::{ConversationId, ServerId, UserId};
use crate::mqtt::{QoS, SubscribeFilter};
use crate::session;
use crate::storage::{Page, StorageBatch, StorageError};

/// The shell's name for a call it is waiting on (a promise): the engine hands it back in
/// [`Output::Done`].
pub type CommandId = u64;

/// Matches an [`Output::Http`] with its answer ([`super::ChatEngine::handle_http`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HttpId(pub u64);

/// Matches an [`Output::Storage`] with its answer ([`super::ChatEngine::handle_storage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StorageId(pub u64);

/// Matches an [`MqttCommand`] with the session's verdict on it
/// ([`super::ChatEngine::handle_mqtt_accepted`] / [`super::ChatEngine::handle_mqtt_refused`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MqttTag(pub u64);

/// Wall and monotonic time of one input. The monotonic clock (`performance.now()`) drives
/// the clock calibration; the wall clock (`Date.now()`) is what calibration corrects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono_ms: u64,
    pub wall_ms: u64,
}

/// A call on the MQTT session. `Publish`, `Subscribe` and `Unsubscribe` are answered with
/// their tag: accepted (with the session's id) or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttCommand {
    Connect,
    Disconnect,
    Publish {
        tag: MqttTag,
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
    },
    Subscribe {
        tag: MqttTag,
        filters: Vec<SubscribeFilter>,
    },
    Unsubscribe {
        tag: MqttTag,
        topics: Vec<String>,
    },
}

/// A storage read (or the wipe of logout), answered with a [`StorageAnswer`]. The wipe runs
/// after every write accepted before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageOp {
    Messages {
        conversation: ConversationId,
        page: Page,
        limit: usize,
    },
    MessageByServerId(ServerId),
    Wipe,
}

/// What a [`StorageOp`] gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageAnswer {
    Messages(Vec<StoredMessage>),
    Message(Option<StoredMessage>),
    Wiped,
}

impl StorageAnswer {
    /// The messages it holds, as a page.
    pub fn into_messages(self) -> Vec<StoredMessage> {
        match self {
            StorageAnswer::Messages(m) => m,
            StorageAnswer::Message(m) => m.map_or_else(Vec::new, |m| vec![m]),
            StorageAnswer::Wiped => Vec::new(),
        }
    }
}

/// Console verbosity, least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Silent,
    Error,
    Warn,
    Info,
    Debug,
}

/// One thing for the shell to do, drained in order with
/// [`super::ChatEngine::poll_output`].
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Call the MQTT session.
    Mqtt(MqttCommand),
    /// Run a request against the backend (base URL and token are the shell's).
    Http { id: HttpId, request: Request },
    /// Read storage (or wipe it).
    Storage { id: StorageId, op: StorageOp },
    /// Write a batch (queued behind earlier writes; the UI does not wait for it). Boxed:
    /// inline it made every output twice the size of the next largest, an event, and a
    /// backlog moves several outputs per message through the queue.
    Persist(Box<StorageBatch>),
    /// Tell the page.
    Event(ChatEvent),
    /// Settle the shell's pending call.
    Done {
        command: CommandId,
        result: Result<Reply, ChatError>,
    },
    /// A console line, shown when the page's log level lets it through.
    Log { level: LogLevel, message: String },
}

/// What a finished call gives back.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Unit,
    /// A send's outcome: the message as it stands (gone: `None`).
    Message(Option<StoredMessage>),
    /// A page of messages, ascending.
    Messages(Vec<StoredMessage>),
}

/// What the page hears (the `ChatEventMap` of the type declarations).
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// The connection status (`None`: closed by logout).
    Status(Option<session::Status>),
    Message {
        conversation: ConversationId,
        index: usize,
        message: StoredMessage,
    },
    MessageUpdated {
        conversation: ConversationId,
        index: usize,
        message: StoredMessage,
    },
    MessageRemoved {
        conversation: ConversationId,
        index: usize,
        /// The key the UI knows the message by.
        key: String,
    },
    /// The conversation list changed: read it with
    /// [`super::ChatEngine::conversations`].
    Conversations,
    UnreadTotal(u64),
    Revoke {
        conversation: ConversationId,
        id: ServerId,
    },
    /// `reader` read my messages in `conversation` up to `up_to`.
    Read {
        conversation: ConversationId,
        reader: UserId,
        up_to: u64,
    },
    Presence {
        user: UserId,
        online: bool,
    },
    Error(ChatError),
}

/// The stable codes of `ChatError` in JS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    NotFound,
    RevokeExpired,
    SelfMessage,
    Closed,
    /// Another client of the same user holds the connection in this JS context.
    InUse,
    Http,
    /// The backend refused with this `code`.
    Backend(i64),
    Payload,
    Storage,
    Mqtt,
}

impl ErrorCode {
    /// The `code` of the JS error.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid-argument",
            ErrorCode::NotFound => "not-found",
            ErrorCode::RevokeExpired => "revoke-expired",
            ErrorCode::SelfMessage => "self-message",
            ErrorCode::Closed => "closed",
            ErrorCode::InUse => "in-use",
            ErrorCode::Http => "http",
            ErrorCode::Backend(_) => "backend",
            ErrorCode::Payload => "payload",
            ErrorCode::Storage => "storage",
            ErrorCode::Mqtt => "mqtt",
        }
    }
}

/// Why a call failed or what went wrong in the background.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ChatError {
    pub code: ErrorCode,
    pub message: String,
}

impl ChatError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ChatError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn closed() -> Self {
        ChatError::new(ErrorCode::Closed, "the client was logged out")
    }

    pub(crate) fn mqtt(message: impl Into<String>) -> Self {
        ChatError::new(ErrorCode::Mqtt, message)
    }
}

impl From<&StoreError> for ChatError {
    fn from(e: &StoreError) -> Self {
        let code = match e {
            StoreError::NoSuchMessage(_) => ErrorCode::NotFound,
            StoreError::RevokeTooLate { .. } => ErrorCode::RevokeExpired,
            StoreError::SelfMessage => ErrorCode::SelfMessage,
            StoreError::NotMine
            | StoreError::NotSent
            | StoreError::AlreadyRevoked
            | StoreError::NotFailed(_)
            | StoreError::DuplicateLocalId(_) => ErrorCode::InvalidArgument,
        };
        ChatError::new(code, e.to_string())
    }
}

impl From<&ApiError> for ChatError {
    fn from(e: &ApiError) -> Self {
        let code = match e {
            ApiError::Network(_) | ApiError::Status { .. } => ErrorCode::Http,
            ApiError::Backend { code, .. } => ErrorCode::Backend(*code),
            ApiError::Malformed(_) | ApiError::Payload(_) => ErrorCode::Payload,
        };
        ChatError::new(code, e.to_string())
    }
}

impl From<&StorageError> for ChatError {
    fn from(e: &StorageError) -> Self {
        ChatError::new(ErrorCode::Storage, e.to_string())
    }
}

/// The UI key of a message: the local id it was sent with, else its server id.
pub fn key_of(id: &MessageRef, local_id: Option<&str>) -> String {
    match key_source(id, local_id) {
        KeySource::Local(local) => local.to_string(),
        KeySource::Server(id) => id.to_string(),
    }
}

/// What [`key_of`] makes the key of, for a writer that puts it in place (the message
/// tape writes one per message event).
pub enum KeySource<'a> {
    /// A local id, the key as it stands.
    Local(&'a str),
    /// A server id, the key in decimal.
    Server(ServerId),
}

/// The [`KeySource`] of [`key_of`]`(id, local_id)`.
pub fn key_source<'a>(id: &'a MessageRef, local_id: Option<&'a str>) -> KeySource<'a> {
    match (local_id, id) {
        (Some(local), _) => KeySource::Local(local),
        (None, MessageRef::Local(local)) => KeySource::Local(local),
        (None, MessageRef::Server(id)) => KeySource::Server(*id),
    }
}

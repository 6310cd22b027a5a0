//! What the session hands back to its driver: outputs, events, statuses and errors.

use thiserror::Error;

use crate::mqtt::{DecodeError, EncodeError, Publish, ReasonCode};

/// Identifies a publish accepted by [`crate::session::Session::publish`] until its
/// [`Event::PublishDone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublishId(pub u64);

/// Identifies a subscribe or unsubscribe request until its acknowledgement event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// One thing the driver must do, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Obtain credentials (for instance from the backend's conn-config) and call
    /// [`crate::session::Session::handle_credentials`].
    NeedCredentials { attempt: u32 },
    /// Open a new transport to `url` (the broker this attempt goes to, from
    /// [`crate::session::Session::set_urls`]; empty when none was given) and report it with
    /// `handle_transport_open` or `handle_transport_closed`.
    Open { url: String },
    /// Write these bytes to the open transport (possibly several packets).
    Transmit(Vec<u8>),
    /// Close the transport; ignore whatever it reports afterwards.
    Close,
    /// Tell the application.
    Event(Event),
}

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The connection status changed.
    Status(Status),
    /// CONNACK accepted the connection.
    Connected { session_present: bool },
    /// The connection (or an attempt) ended. `reconnect_at` is when the next attempt starts.
    Disconnected {
        error: ConnectionError,
        reconnect_at: Option<u64>,
    },
    /// An incoming application message (topic alias already resolved). QoS 2 messages are
    /// delivered exactly once; QoS 1 messages at least once.
    Message(Box<Publish>),
    /// A publish finished: QoS 0 when written, QoS 1 on PUBACK, QoS 2 on PUBCOMP. A reason
    /// of 0x80 or more means the server refused it (or it could never be sent).
    PublishDone { id: PublishId, reason: ReasonCode },
    /// SUBACK: one reason (granted QoS or error) per filter.
    Subscribed {
        id: RequestId,
        reasons: Vec<ReasonCode>,
    },
    /// UNSUBACK (empty reasons in 3.1.1).
    Unsubscribed {
        id: RequestId,
        reasons: Vec<ReasonCode>,
    },
    /// The broker refused MQTT 5.0 (CONNACK "unsupported protocol version", or the
    /// connection ended after CONNECT before any CONNACK): the session speaks 3.1.1 from
    /// now on, for good. Comes before the [`Event::Disconnected`] of that attempt.
    ProtocolFallback { error: ConnectionError },
}

/// Connection status, as a UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not started, or stopped by [`crate::session::Session::disconnect`].
    Idle,
    /// Waiting for the caller's credentials.
    FetchingCredentials,
    /// Transport opening or CONNECT sent.
    Connecting,
    Connected,
    /// Lost or failed; the next attempt is scheduled.
    Reconnecting,
    /// Lost or failed, and reconnecting is off.
    Offline,
}

impl Status {
    /// The status name used in JS events.
    pub fn name(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::FetchingCredentials => "fetching-config",
            Status::Connecting => "connecting",
            Status::Connected => "connected",
            Status::Reconnecting => "reconnecting",
            Status::Offline => "offline",
        }
    }
}

/// Why a connection or an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnectionError {
    #[error("the broker refused the connection: {0:?}")]
    Refused(ReasonCode),
    #[error("the broker disconnected: {0:?}")]
    ServerDisconnect(ReasonCode),
    #[error("no answer to PINGREQ: keepalive timeout")]
    KeepAliveTimeout,
    #[error("connect timed out ({0})")]
    ConnectTimeout(&'static str),
    #[error("transport closed: {0}")]
    TransportClosed(String),
    #[error("could not obtain credentials: {0}")]
    Credentials(String),
    #[error("malformed packet from the broker: {0}")]
    Malformed(#[from] DecodeError),
    #[error("protocol violation by the broker: {0}")]
    Protocol(&'static str),
    #[error("disconnected by the application")]
    Requested,
}

/// Why a call to the session was refused. Nothing was queued or sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionError {
    #[error("the offline queue is full ({limit} messages)")]
    QueueFull { limit: usize },
    #[error("invalid topic name '{0}'")]
    InvalidTopic(String),
    #[error("invalid topic filter '{0}'")]
    InvalidFilter(String),
    #[error("no topic filters given")]
    NoFilters,
    #[error("all 65535 packet identifiers are in use")]
    PacketIdsExhausted,
    #[error("packet of {size} bytes exceeds the broker's maximum of {max}")]
    PacketTooLarge { size: usize, max: u32 },
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

//! The MQTT codec: one packet tree for MQTT 3.1.1 and 5.0.
//!
//! * [`Packet`] is every control packet; each family lives in its own file
//!   (`connect.rs`, `publish.rs`, `ack.rs`, …) with its `encode` / `decode`.
//! * [`Properties`] is the one bag of MQTT 5.0 properties; which of them a packet may carry is
//!   checked on decode (and on encode) against that packet's list.
//! * [`StreamDecoder`] turns a byte stream into packets: a WebSocket frame may hold half a
//!   packet, several packets or a single byte. "Need more bytes" is `Ok(None)`, never an
//!   error; malformed input is a [`DecodeError`] that names what was wrong.
//!
//! Nothing here panics on input: every read is bounds-checked through [`primitives::Reader`].

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod error;
mod fuzz;
mod packet;
pub mod primitives;
mod properties;
mod publish;
mod reason;
mod stream;
mod subscribe;
mod unsubscribe;

pub use ack::Ack;
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use error::{DecodeError, EncodeError};
#[doc(hidden)]
pub use fuzz::fuzz_check;
pub use packet::{Packet, PacketType};
pub use properties::{Properties, PropertyId};
pub use publish::Publish;
pub use reason::ReasonCode;
pub use stream::StreamDecoder;
pub use subscribe::{RetainHandling, SubAck, Subscribe, SubscribeFilter};
pub use unsubscribe::{UnsubAck, Unsubscribe};

/// The largest remaining length MQTT can express (four variable-byte-integer bytes).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// The protocol level sent in CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1, protocol level 4.
    V311,
    /// MQTT 5.0, protocol level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The version for a protocol level byte.
    pub fn from_level(level: u8) -> Result<Self, DecodeError> {
        match level {
            4 => Ok(ProtocolVersion::V311),
            5 => Ok(ProtocolVersion::V5),
            other => Err(DecodeError::UnsupportedProtocolLevel(other)),
        }
    }
}

/// Quality of service of a publish or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    /// At most once (fire and forget).
    #[default]
    AtMostOnce = 0,
    /// At least once (PUBACK).
    AtLeastOnce = 1,
    /// Exactly once (PUBREC / PUBREL / PUBCOMP).
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for its two-bit value.
    pub fn from_u8(v: u8) -> Result<Self, DecodeError> {
        match v {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            other => Err(DecodeError::InvalidQoS(other)),
        }
    }
}

//! Codec errors.

use thiserror::Error;

use super::{PacketType, PropertyId, ProtocolVersion, ReasonCode};

/// Why bytes from the network are not a valid MQTT packet. Each variant names one rule.
///
/// `field` values are short static names ("topic", "properties", …) meant for logs; they
/// are not a stable interface.
///
/// `Copy` (every field is): the sticky error a [`super::StreamDecoder`] hands out again is
/// a plain copy, not a derived `clone` (~350 B of wasm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// CONNECT protocol level other than 4 (3.1.1) or 5 (5.0).
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolLevel(u8),
    /// A QoS field (PUBLISH header, will QoS, subscription option) holds 3.
    #[error("invalid QoS value {0}")]
    InvalidQoS(u8),
    /// The type nibble is 0 (reserved) or 15 (AUTH) in 3.1.1.
    #[error("invalid packet type {0} for this protocol version")]
    InvalidPacketType(u8),
    /// The fixed header flags of a non-PUBLISH packet differ from the value the spec fixes.
    #[error("invalid fixed header flags {flags:#04x} for {packet:?}")]
    InvalidHeaderFlags { packet: PacketType, flags: u8 },
    /// PUBLISH with the DUP flag set and QoS 0.
    #[error("PUBLISH with DUP set and QoS 0")]
    DupWithQoS0,
    /// A variable byte integer longer than four bytes.
    #[error("malformed variable byte integer in {field}")]
    MalformedVarInt { field: &'static str },
    /// The packet (fixed header included) is larger than the configured maximum.
    #[error("packet of {size} bytes exceeds the maximum packet size {max}")]
    PacketTooLarge { size: usize, max: usize },
    /// The packet body ends before `field`.
    #[error("{packet:?} truncated in {field}")]
    Truncated {
        packet: PacketType,
        field: &'static str,
    },
    /// Bytes left in the packet body after its last field.
    #[error("trailing bytes after the last field of {packet:?}")]
    TrailingBytes { packet: PacketType },
    /// A string field is not valid UTF-8.
    #[error("invalid UTF-8 in {field}")]
    InvalidUtf8 { field: &'static str },
    /// A string field contains U+0000, which MQTT forbids.
    #[error("U+0000 in {field}")]
    NullCharacter { field: &'static str },
    /// CONNECT protocol name other than "MQTT".
    #[error("protocol name is not \"MQTT\"")]
    InvalidProtocolName,
    /// CONNECT flags bit 0 is reserved and must be 0.
    #[error("reserved CONNECT flag set")]
    ConnectReservedFlag,
    /// Will QoS or will retain set without the will flag.
    #[error("will QoS or retain set without a will")]
    WillFlagsWithoutWill,
    /// 3.1.1 CONNECT with a password but no user name.
    #[error("password without user name")]
    PasswordWithoutUsername,
    /// CONNACK acknowledge flags with bits 1-7 set.
    #[error("invalid CONNACK flags {0:#04x}")]
    InvalidConnAckFlags(u8),
    /// CONNACK with session present and a failure reason.
    #[error("session present with a failure reason")]
    SessionPresentWithError,
    /// A reason code (or 3.1.1 return code) value that does not exist for this packet.
    #[error("invalid reason code {code:#04x} in {packet:?}")]
    InvalidReasonCode { packet: PacketType, code: u8 },
    /// A known reason code that the spec does not allow in this packet.
    #[error("reason code {reason:?} not allowed in {packet:?}")]
    ReasonCodeNotAllowed {
        packet: PacketType,
        reason: ReasonCode,
    },
    /// A topic name (PUBLISH or will) containing `+` or `#`.
    #[error("wildcard in topic name")]
    WildcardInTopicName,
    /// An empty topic name (allowed in 5.0 PUBLISH only with a topic alias).
    #[error("empty topic name")]
    EmptyTopicName,
    /// Packet identifier 0, which is reserved.
    #[error("packet identifier 0 in {packet:?}")]
    ZeroPacketId { packet: PacketType },
    /// SUBSCRIBE / UNSUBSCRIBE without any topic filter.
    #[error("{packet:?} without topic filters")]
    NoTopicFilters { packet: PacketType },
    /// An empty topic filter.
    #[error("empty topic filter")]
    EmptyTopicFilter,
    /// SUBACK / 5.0 UNSUBACK without any reason code.
    #[error("{packet:?} without reason codes")]
    NoReasonCodes { packet: PacketType },
    /// Subscription options with reserved bits set (bits 6-7; bits 2-7 in 3.1.1).
    #[error("reserved bits set in subscription options {0:#04x}")]
    InvalidSubscriptionOptions(u8),
    /// Subscription option retain handling 3.
    #[error("retain handling 3 is reserved")]
    InvalidRetainHandling,
    /// A property identifier that MQTT 5.0 does not define.
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u8),
    /// A property the spec does not allow in this packet (will properties report `Connect`).
    #[error("property {id:?} not allowed in {packet:?}")]
    PropertyNotAllowed { packet: PacketType, id: PropertyId },
    /// A property that may appear once appears twice.
    #[error("duplicate property {0:?}")]
    DuplicateProperty(PropertyId),
    /// A property value outside its allowed range.
    #[error("invalid value for property {0:?}")]
    InvalidPropertyValue(PropertyId),
    /// A packet only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE) read by
    /// [`super::Packet::decode_from_server`].
    #[error("{0:?} from the server (only a client sends it)")]
    ClientOnlyPacket(PacketType),
}

/// Why a packet cannot be encoded for the chosen protocol version.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// Remaining length (or a property block) above [`super::MAX_REMAINING_LENGTH`].
    #[error("packet of {size} bytes exceeds the maximum packet size {max}")]
    PacketTooLarge { size: usize, max: usize },
    /// The packet breaks a rule that decoding enforces, so the peer would refuse it.
    #[error("invalid packet: {0}")]
    Invalid(#[from] DecodeError),
    /// `Connect::protocol` differs from the version passed to `encode`.
    #[error("CONNECT for {packet:?} encoded as {encoder:?}")]
    ProtocolMismatch {
        packet: ProtocolVersion,
        encoder: ProtocolVersion,
    },
    /// A packet type that 3.1.1 does not have (AUTH).
    #[error("{0:?} does not exist in MQTT 3.1.1")]
    PacketNotInV311(PacketType),
    /// Non-empty properties (or will properties) in 3.1.1.
    #[error("properties in a 3.1.1 {0:?}")]
    PropertiesInV311(PacketType),
    /// A reason code 3.1.1 cannot express in this packet.
    #[error("reason {reason:?} cannot be sent in a 3.1.1 {packet:?}")]
    ReasonInV311 {
        packet: PacketType,
        reason: ReasonCode,
    },
    /// No local, retain as published or retain handling other than default in 3.1.1.
    #[error("5.0 subscription options in 3.1.1")]
    SubscriptionOptionsInV311,
    /// A string or binary field longer than 65,535 bytes.
    #[error("{field} longer than 65535 bytes")]
    TooLong { field: &'static str },
    /// PUBLISH `packet_id` must be `Some` exactly when QoS is 1 or 2.
    #[error("PUBLISH packet identifier presence does not match its QoS")]
    PacketIdMismatch,
    /// A packet only a server sends (CONNACK, SUBACK, UNSUBACK) given to
    /// [`super::Packet::encode_to_server`].
    #[error("{0:?} is sent by a server, not a client")]
    ServerOnlyPacket(PacketType),
}

//! MQTT 5.0 properties: one struct holds them all; each packet accepts its own subset.

use super::primitives::{prefix_len, put_binary, put_str, put_u16, put_u32, put_varint, Reader};
use super::{DecodeError, EncodeError, PacketType, ProtocolVersion, MAX_REMAINING_LENGTH};

/// Every MQTT 5.0 property. A field that is `None` / empty is absent on the wire.
/// Properties that may repeat are vectors (user properties everywhere, subscription
/// identifiers in PUBLISH); any other property that appears twice is a decode error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Properties {
    pub payload_format_indicator: Option<u8>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub subscription_identifiers: Vec<u32>,
    pub session_expiry_interval: Option<u32>,
    pub assigned_client_identifier: Option<String>,
    pub server_keep_alive: Option<u16>,
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Vec<u8>>,
    pub request_problem_information: Option<u8>,
    pub will_delay_interval: Option<u32>,
    pub request_response_information: Option<u8>,
    pub response_information: Option<String>,
    pub server_reference: Option<String>,
    pub reason_string: Option<String>,
    pub receive_maximum: Option<u16>,
    pub topic_alias_maximum: Option<u16>,
    pub topic_alias: Option<u16>,
    pub maximum_qos: Option<u8>,
    pub retain_available: Option<u8>,
    pub user_properties: Vec<(String, String)>,
    pub maximum_packet_size: Option<u32>,
    pub wildcard_subscription_available: Option<u8>,
    pub subscription_identifier_available: Option<u8>,
    pub shared_subscription_available: Option<u8>,
}

/// Written out rather than derived, and never inlined: a packet without properties builds
/// the empty set in many decode and encode paths, and the derived `default` was copied
/// into each of them (the struct has 27 fields).
impl Default for Properties {
    #[inline(never)]
    fn default() -> Self {
        Properties {
            payload_format_indicator: None,
            message_expiry_interval: None,
            content_type: None,
            response_topic: None,
            correlation_data: None,
            subscription_identifiers: Vec::new(),
            session_expiry_interval: None,
            assigned_client_identifier: None,
            server_keep_alive: None,
            authentication_method: None,
            authentication_data: None,
            request_problem_information: None,
            will_delay_interval: None,
            request_response_information: None,
            response_information: None,
            server_reference: None,
            reason_string: None,
            receive_maximum: None,
            topic_alias_maximum: None,
            topic_alias: None,
            maximum_qos: None,
            retain_available: None,
            user_properties: Vec::new(),
            maximum_packet_size: None,
            wildcard_subscription_available: None,
            subscription_identifier_available: None,
            shared_subscription_available: None,
        }
    }
}

/// The property identifiers of MQTT 5.0 (section 2.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyId {
    PayloadFormatIndicator = 0x01,
    MessageExpiryInterval = 0x02,
    ContentType = 0x03,
    ResponseTopic = 0x08,
    CorrelationData = 0x09,
    SubscriptionIdentifier = 0x0B,
    SessionExpiryInterval = 0x11,
    AssignedClientIdentifier = 0x12,
    ServerKeepAlive = 0x13,
    AuthenticationMethod = 0x15,
    AuthenticationData = 0x16,
    RequestProblemInformation = 0x17,
    WillDelayInterval = 0x18,
    RequestResponseInformation = 0x19,
    ResponseInformation = 0x1A,
    ServerReference = 0x1C,
    ReasonString = 0x1F,
    ReceiveMaximum = 0x21,
    TopicAliasMaximum = 0x22,
    TopicAlias = 0x23,
    MaximumQoS = 0x24,
    RetainAvailable = 0x25,
    UserProperty = 0x26,
    MaximumPacketSize = 0x27,
    WildcardSubscriptionAvailable = 0x28,
    SubscriptionIdentifierAvailable = 0x29,
    SharedSubscriptionAvailable = 0x2A,
}

/// Where a property block sits: in a packet, or in the will of a CONNECT (which accepts a
/// different set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Packet(PacketType),
    Will,
}

impl Scope {
    /// Bit of this scope in [`PropertyId::allowed_in`] masks. Packet type 0 is reserved,
    /// so bit 0 is free for the will.
    fn bit(self) -> u16 {
        match self {
            Scope::Packet(t) => 1 << (t as u16),
            Scope::Will => 1,
        }
    }

    fn packet(self) -> PacketType {
        match self {
            Scope::Packet(t) => t,
            Scope::Will => PacketType::Connect,
        }
    }
}

impl PropertyId {
    /// Bit mask of the scopes that may carry this property (spec table 2.2.2.2).
    fn allowed_in(self) -> u16 {
        use PacketType as T;
        use PropertyId::*;
        const WILL: u16 = 1;
        const fn b(t: PacketType) -> u16 {
            1 << (t as u16)
        }
        match self {
            PayloadFormatIndicator
            | MessageExpiryInterval
            | ContentType
            | ResponseTopic
            | CorrelationData => b(T::Publish) | WILL,
            SubscriptionIdentifier => b(T::Publish) | b(T::Subscribe),
            SessionExpiryInterval => b(T::Connect) | b(T::ConnAck) | b(T::Disconnect),
            AssignedClientIdentifier
            | ServerKeepAlive
            | ResponseInformation
            | MaximumQoS
            | RetainAvailable
            | WildcardSubscriptionAvailable
            | SubscriptionIdentifierAvailable
            | SharedSubscriptionAvailable => b(T::ConnAck),
            AuthenticationMethod | AuthenticationData => b(T::Connect) | b(T::ConnAck) | b(T::Auth),
            RequestProblemInformation | RequestResponseInformation => b(T::Connect),
            WillDelayInterval => WILL,
            ServerReference => b(T::ConnAck) | b(T::Disconnect),
            ReasonString => {
                b(T::ConnAck)
                    | b(T::PubAck)
                    | b(T::PubRec)
                    | b(T::PubRel)
                    | b(T::PubComp)
                    | b(T::SubAck)
                    | b(T::UnsubAck)
                    | b(T::Disconnect)
                    | b(T::Auth)
            }
            ReceiveMaximum | TopicAliasMaximum | MaximumPacketSize => b(T::Connect) | b(T::ConnAck),
            TopicAlias => b(T::Publish),
            // Everywhere properties exist.
            UserProperty => !(b(T::PingReq) | b(T::PingResp)),
        }
    }

    /// Whether the spec allows this property in `packet` (will properties are not covered:
    /// they sit inside CONNECT but follow their own list).
    pub fn is_allowed_in(self, packet: PacketType) -> bool {
        self.allowed_in() & Scope::Packet(packet).bit() != 0
    }
}

impl PropertyId {
    /// Every property, in identifier order (the order they are written in).
    pub const ALL: [PropertyId; 27] = {
        use PropertyId::*;
        [
            PayloadFormatIndicator,
            MessageExpiryInterval,
            ContentType,
            ResponseTopic,
            CorrelationData,
            SubscriptionIdentifier,
            SessionExpiryInterval,
            AssignedClientIdentifier,
            ServerKeepAlive,
            AuthenticationMethod,
            AuthenticationData,
            RequestProblemInformation,
            WillDelayInterval,
            RequestResponseInformation,
            ResponseInformation,
            ServerReference,
            ReasonString,
            ReceiveMaximum,
            TopicAliasMaximum,
            TopicAlias,
            MaximumQoS,
            RetainAvailable,
            UserProperty,
            MaximumPacketSize,
            WildcardSubscriptionAvailable,
            SubscriptionIdentifierAvailable,
            SharedSubscriptionAvailable,
        ]
    };
}

impl TryFrom<u8> for PropertyId {
    /// The unknown identifier.
    type Error = u8;

    fn try_from(v: u8) -> Result<Self, u8> {
        PropertyId::ALL
            .into_iter()
            .find(|&id| id as u8 == v)
            .ok_or(v)
    }
}

const F: &str = "properties";

/// A property's value as [`Properties`] holds it, borrowed; the variant is also how the
/// value is written on the wire. One match over the identifiers ([`Properties::held`])
/// serves the encoder, the checks and `is_empty`, and the decoder's slots are five small
/// matches by value type: a table instead of code per property, about half the wasm of
/// writing each of the 27 out in every direction.
#[derive(Clone, Copy)]
enum Held<'a> {
    /// A byte; every byte property is a 0/1 flag (MaximumQoS too: 0 or 1).
    Byte(Option<u8>),
    Two(Option<u16>),
    Four(Option<u32>),
    Str(Option<&'a str>),
    Bin(Option<&'a [u8]>),
    /// Subscription identifiers: variable byte integers, repeatable.
    Vars(&'a [u32]),
    /// User properties: string pairs, repeatable.
    Pairs(&'a [(String, String)]),
}

impl Held<'_> {
    fn is_present(self) -> bool {
        match self {
            Held::Byte(v) => v.is_some(),
            Held::Two(v) => v.is_some(),
            Held::Four(v) => v.is_some(),
            Held::Str(v) => v.is_some(),
            Held::Bin(v) => v.is_some(),
            Held::Vars(v) => !v.is_empty(),
            Held::Pairs(v) => !v.is_empty(),
        }
    }

    /// Whether the value is in the spec's range for `id`: flags are 0 or 1; Receive
    /// Maximum, Topic Alias, Maximum Packet Size and each subscription identifier are not 0
    /// (and an identifier fits a variable byte integer).
    fn is_valid(self, id: PropertyId) -> bool {
        use PropertyId::*;
        match self {
            Held::Byte(v) => v.is_none_or(|v| v <= 1),
            Held::Two(Some(0)) | Held::Four(Some(0)) => {
                !matches!(id, ReceiveMaximum | TopicAlias | MaximumPacketSize)
            }
            Held::Vars(ids) => ids
                .iter()
                .all(|&v| v != 0 && v as usize <= MAX_REMAINING_LENGTH),
            _ => true,
        }
    }
}

/// Stores a non-repeatable property, refusing a second occurrence. `slot` is `None` only if
/// the slot functions disagree with [`Properties::held`] (a bug, reported, not a panic).
fn set<T>(slot: Option<&mut Option<T>>, id: PropertyId, v: T) -> Result<(), DecodeError> {
    match slot {
        Some(slot) if slot.is_none() => {
            *slot = Some(v);
            Ok(())
        }
        Some(_) => Err(DecodeError::DuplicateProperty(id)),
        None => Err(DecodeError::InvalidPropertyValue(id)),
    }
}

fn string(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    r.string(F).map(str::to_owned)
}

impl Properties {
    /// The value of property `id`.
    fn held(&self, id: PropertyId) -> Held<'_> {
        use PropertyId::*;
        match id {
            PayloadFormatIndicator => Held::Byte(self.payload_format_indicator),
            MessageExpiryInterval => Held::Four(self.message_expiry_interval),
            ContentType => Held::Str(self.content_type.as_deref()),
            ResponseTopic => Held::Str(self.response_topic.as_deref()),
            CorrelationData => Held::Bin(self.correlation_data.as_deref()),
            SubscriptionIdentifier => Held::Vars(&self.subscription_identifiers),
            SessionExpiryInterval => Held::Four(self.session_expiry_interval),
            AssignedClientIdentifier => Held::Str(self.assigned_client_identifier.as_deref()),
            ServerKeepAlive => Held::Two(self.server_keep_alive),
            AuthenticationMethod => Held::Str(self.authentication_method.as_deref()),
            AuthenticationData => Held::Bin(self.authentication_data.as_deref()),
            RequestProblemInformation => Held::Byte(self.request_problem_information),
            WillDelayInterval => Held::Four(self.will_delay_interval),
            RequestResponseInformation => Held::Byte(self.request_response_information),
            ResponseInformation => Held::Str(self.response_information.as_deref()),
            ServerReference => Held::Str(self.server_reference.as_deref()),
            ReasonString => Held::Str(self.reason_string.as_deref()),
            ReceiveMaximum => Held::Two(self.receive_maximum),
            TopicAliasMaximum => Held::Two(self.topic_alias_maximum),
            TopicAlias => Held::Two(self.topic_alias),
            MaximumQoS => Held::Byte(self.maximum_qos),
            RetainAvailable => Held::Byte(self.retain_available),
            UserProperty => Held::Pairs(&self.user_properties),
            MaximumPacketSize => Held::Four(self.maximum_packet_size),
            WildcardSubscriptionAvailable => Held::Byte(self.wildcard_subscription_available),
            SubscriptionIdentifierAvailable => Held::Byte(self.subscription_identifier_available),
            SharedSubscriptionAvailable => Held::Byte(self.shared_subscription_available),
        }
    }

    // The decoder's slots, by value type (the ids whose `held` is of that type).

    fn byte_slot(&mut self, id: PropertyId) -> Option<&mut Option<u8>> {
        use PropertyId::*;
        Some(match id {
            PayloadFormatIndicator => &mut self.payload_format_indicator,
            RequestProblemInformation => &mut self.request_problem_information,
            RequestResponseInformation => &mut self.request_response_information,
            MaximumQoS => &mut self.maximum_qos,
            RetainAvailable => &mut self.retain_available,
            WildcardSubscriptionAvailable => &mut self.wildcard_subscription_available,
            SubscriptionIdentifierAvailable => &mut self.subscription_identifier_available,
            SharedSubscriptionAvailable => &mut self.shared_subscription_available,
            _ => return None,
        })
    }

    fn two_slot(&mut self, id: PropertyId) -> Option<&mut Option<u16>> {
        use PropertyId::*;
        Some(match id {
            ServerKeepAlive => &mut self.server_keep_alive,
            ReceiveMaximum => &mut self.receive_maximum,
            TopicAliasMaximum => &mut self.topic_alias_maximum,
            TopicAlias => &mut self.topic_alias,
            _ => return None,
        })
    }

    fn four_slot(&mut self, id: PropertyId) -> Option<&mut Option<u32>> {
        use PropertyId::*;
        Some(match id {
            MessageExpiryInterval => &mut self.message_expiry_interval,
            SessionExpiryInterval => &mut self.session_expiry_interval,
            WillDelayInterval => &mut self.will_delay_interval,
            MaximumPacketSize => &mut self.maximum_packet_size,
            _ => return None,
        })
    }

    fn str_slot(&mut self, id: PropertyId) -> Option<&mut Option<String>> {
        use PropertyId::*;
        Some(match id {
            ContentType => &mut self.content_type,
            ResponseTopic => &mut self.response_topic,
            AssignedClientIdentifier => &mut self.assigned_client_identifier,
            AuthenticationMethod => &mut self.authentication_method,
            ResponseInformation => &mut self.response_information,
            ServerReference => &mut self.server_reference,
            ReasonString => &mut self.reason_string,
            _ => return None,
        })
    }

    fn bin_slot(&mut self, id: PropertyId) -> Option<&mut Option<Vec<u8>>> {
        use PropertyId::*;
        Some(match id {
            CorrelationData => &mut self.correlation_data,
            AuthenticationData => &mut self.authentication_data,
            _ => return None,
        })
    }

    /// True when no property is set (the 3.1.1 wire format can carry nothing else).
    /// Through `Properties::held`, which names every field: a new property cannot be
    /// left out (rather than `== Properties::default()`: ~1 KB of wasm comparing every
    /// string and vector).
    pub fn is_empty(&self) -> bool {
        PropertyId::ALL
            .into_iter()
            .all(|id| !self.held(id).is_present())
    }

    /// Checks what both directions must agree on: every present property is allowed in
    /// `scope`, every value is in range, and SUBSCRIBE carries at most one subscription
    /// identifier. The first property in identifier order that fails is named.
    pub(crate) fn check(&self, scope: Scope) -> Result<(), DecodeError> {
        for id in PropertyId::ALL {
            let held = self.held(id);
            if !held.is_present() {
                continue;
            }
            if id.allowed_in() & scope.bit() == 0 {
                return Err(DecodeError::PropertyNotAllowed {
                    packet: scope.packet(),
                    id,
                });
            }
            if !held.is_valid(id) {
                return Err(DecodeError::InvalidPropertyValue(id));
            }
        }
        if scope == Scope::Packet(PacketType::Subscribe) && self.subscription_identifiers.len() > 1
        {
            return Err(DecodeError::DuplicateProperty(
                PropertyId::SubscriptionIdentifier,
            ));
        }
        Ok(())
    }

    /// Reads a property block (length included) for `scope`.
    pub(crate) fn decode(r: &mut Reader<'_>, scope: Scope) -> Result<Self, DecodeError> {
        let len = r.varint("property length")?;
        let mut r = Reader::new(r.take(len as usize, F)?, r.packet());
        let mut p = Properties::default();
        while !r.is_empty() {
            let raw = r.u8(F)?;
            let id = PropertyId::try_from(raw).map_err(DecodeError::UnknownProperty)?;
            if id.allowed_in() & scope.bit() == 0 {
                return Err(DecodeError::PropertyNotAllowed {
                    packet: scope.packet(),
                    id,
                });
            }
            match p.held(id) {
                Held::Byte(_) => {
                    let v = r.u8(F)?;
                    set(p.byte_slot(id), id, v)?
                }
                Held::Two(_) => {
                    let v = r.u16(F)?;
                    set(p.two_slot(id), id, v)?
                }
                Held::Four(_) => {
                    let v = r.u32(F)?;
                    set(p.four_slot(id), id, v)?
                }
                Held::Str(_) => {
                    let v = string(&mut r)?;
                    set(p.str_slot(id), id, v)?
                }
                Held::Bin(_) => {
                    let v = r.binary(F)?.to_vec();
                    set(p.bin_slot(id), id, v)?
                }
                Held::Vars(_) => {
                    let v = r.varint(F)?;
                    p.subscription_identifiers.push(v);
                }
                Held::Pairs(_) => {
                    let k = string(&mut r)?;
                    let v = string(&mut r)?;
                    p.user_properties.push((k, v));
                }
            }
        }
        p.check(scope)?;
        Ok(p)
    }

    /// Appends the property block (length included) in identifier order, after checking
    /// it against `scope` like the decoder would.
    pub(crate) fn encode(&self, scope: Scope, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.check(scope)?;
        let start = out.len();
        for id in PropertyId::ALL {
            let tag = id as u8;
            match self.held(id) {
                Held::Byte(Some(v)) => out.extend_from_slice(&[tag, v]),
                Held::Two(Some(v)) => {
                    out.push(tag);
                    put_u16(out, v);
                }
                Held::Four(Some(v)) => {
                    out.push(tag);
                    put_u32(out, v);
                }
                Held::Str(Some(s)) => {
                    out.push(tag);
                    put_str(out, s, F)?;
                }
                Held::Bin(Some(b)) => {
                    out.push(tag);
                    put_binary(out, b, F)?;
                }
                Held::Vars(ids) => {
                    for &v in ids {
                        out.push(tag);
                        put_varint(out, v);
                    }
                }
                Held::Pairs(pairs) => {
                    for (k, v) in pairs {
                        out.push(tag);
                        put_str(out, k, F)?;
                        put_str(out, v, F)?;
                    }
                }
                Held::Byte(None)
                | Held::Two(None)
                | Held::Four(None)
                | Held::Str(None)
                | Held::Bin(None) => {}
            }
        }
        prefix_len(out, start)
    }

    /// [`Properties::decode`] in 5.0; nothing to read (empty properties) in 3.1.1.
    pub(crate) fn decode_for(
        version: ProtocolVersion,
        r: &mut Reader<'_>,
        scope: Scope,
    ) -> Result<Self, DecodeError> {
        match version {
            ProtocolVersion::V311 => Ok(Properties::default()),
            ProtocolVersion::V5 => Properties::decode(r, scope),
        }
    }

    /// [`Properties::encode`] in 5.0; in 3.1.1 writes nothing and refuses any property.
    pub(crate) fn encode_for(
        &self,
        version: ProtocolVersion,
        scope: Scope,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        match version {
            ProtocolVersion::V5 => self.encode(scope, out),
            ProtocolVersion::V311 if self.is_empty() => Ok(()),
            ProtocolVersion::V311 => Err(EncodeError::PropertiesInV311(scope.packet())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_identifier_once_in_order() {
        assert!(PropertyId::ALL
            .windows(2)
            .all(|w| (w[0] as u8) < (w[1] as u8)));
        for byte in 0..=u8::MAX {
            match PropertyId::try_from(byte) {
                Ok(id) => assert_eq!(id as u8, byte),
                Err(unknown) => {
                    assert_eq!(unknown, byte);
                    assert!(PropertyId::ALL.iter().all(|&id| id as u8 != byte));
                }
            }
        }
    }

    /// Each single-valued property has exactly one decoder slot, of the type `held` says
    /// (a missing one would make the decoder refuse the property).
    #[test]
    fn every_slot_agrees_with_held() {
        let mut p = Properties::default();
        for id in PropertyId::ALL {
            let found = match p.held(id) {
                Held::Byte(_) => p.byte_slot(id).is_some(),
                Held::Two(_) => p.two_slot(id).is_some(),
                Held::Four(_) => p.four_slot(id).is_some(),
                Held::Str(_) => p.str_slot(id).is_some(),
                Held::Bin(_) => p.bin_slot(id).is_some(),
                Held::Vars(_) | Held::Pairs(_) => true,
            };
            assert!(found, "{id:?} has no slot of its type");
            let slots = [
                p.byte_slot(id).is_some(),
                p.two_slot(id).is_some(),
                p.four_slot(id).is_some(),
                p.str_slot(id).is_some(),
                p.bin_slot(id).is_some(),
            ];
            assert!(
                slots.iter().filter(|&&s| s).count() <= 1,
                "{id:?} has two slots"
            );
        }
    }
}

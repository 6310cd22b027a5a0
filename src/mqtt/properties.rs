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

impl TryFrom<u8> for PropertyId {
    /// The unknown identifier.
    type Error = u8;

    fn try_from(v: u8) -> Result<Self, u8> {
        use PropertyId::*;
        Ok(match v {
            0x01 => PayloadFormatIndicator,
            0x02 => MessageExpiryInterval,
            0x03 => ContentType,
            0x08 => ResponseTopic,
            0x09 => CorrelationData,
            0x0B => SubscriptionIdentifier,
            0x11 => SessionExpiryInterval,
            0x12 => AssignedClientIdentifier,
            0x13 => ServerKeepAlive,
            0x15 => AuthenticationMethod,
            0x16 => AuthenticationData,
            0x17 => RequestProblemInformation,
            0x18 => WillDelayInterval,
            0x19 => RequestResponseInformation,
            0x1A => ResponseInformation,
            0x1C => ServerReference,
            0x1F => ReasonString,
            0x21 => ReceiveMaximum,
            0x22 => TopicAliasMaximum,
            0x23 => TopicAlias,
            0x24 => MaximumQoS,
            0x25 => RetainAvailable,
            0x26 => UserProperty,
            0x27 => MaximumPacketSize,
            0x28 => WildcardSubscriptionAvailable,
            0x29 => SubscriptionIdentifierAvailable,
            0x2A => SharedSubscriptionAvailable,
            other => return Err(other),
        })
    }
}

const F: &str = "properties";

/// Stores a non-repeatable property, refusing a second occurrence.
fn set<T>(slot: &mut Option<T>, id: PropertyId, v: T) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty(id));
    }
    *slot = Some(v);
    Ok(())
}

fn string(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    r.string(F).map(str::to_owned)
}

fn opt_str(out: &mut Vec<u8>, id: PropertyId, v: &Option<String>) -> Result<(), EncodeError> {
    if let Some(s) = v {
        out.push(id as u8);
        put_str(out, s, F)?;
    }
    Ok(())
}

fn opt_bin(out: &mut Vec<u8>, id: PropertyId, v: &Option<Vec<u8>>) -> Result<(), EncodeError> {
    if let Some(b) = v {
        out.push(id as u8);
        put_binary(out, b, F)?;
    }
    Ok(())
}

fn opt_u8(out: &mut Vec<u8>, id: PropertyId, v: Option<u8>) {
    if let Some(v) = v {
        out.extend_from_slice(&[id as u8, v]);
    }
}

fn opt_u16(out: &mut Vec<u8>, id: PropertyId, v: Option<u16>) {
    if let Some(v) = v {
        out.push(id as u8);
        put_u16(out, v);
    }
}

fn opt_u32(out: &mut Vec<u8>, id: PropertyId, v: Option<u32>) {
    if let Some(v) = v {
        out.push(id as u8);
        put_u32(out, v);
    }
}

impl Properties {
    /// True when no property is set (the 3.1.1 wire format can carry nothing else).
    ///
    /// Field by field rather than `== Properties::default()`: that comparison is ~1 KB of
    /// wasm (every string and vector compared) that nothing else in a client needs. Every
    /// field is named (no `..`), so a new property cannot be left out.
    pub fn is_empty(&self) -> bool {
        let Properties {
            payload_format_indicator,
            message_expiry_interval,
            content_type,
            response_topic,
            correlation_data,
            subscription_identifiers,
            session_expiry_interval,
            assigned_client_identifier,
            server_keep_alive,
            authentication_method,
            authentication_data,
            request_problem_information,
            will_delay_interval,
            request_response_information,
            response_information,
            server_reference,
            reason_string,
            receive_maximum,
            topic_alias_maximum,
            topic_alias,
            maximum_qos,
            retain_available,
            user_properties,
            maximum_packet_size,
            wildcard_subscription_available,
            subscription_identifier_available,
            shared_subscription_available,
        } = self;
        payload_format_indicator.is_none()
            && message_expiry_interval.is_none()
            && content_type.is_none()
            && response_topic.is_none()
            && correlation_data.is_none()
            && subscription_identifiers.is_empty()
            && session_expiry_interval.is_none()
            && assigned_client_identifier.is_none()
            && server_keep_alive.is_none()
            && authentication_method.is_none()
            && authentication_data.is_none()
            && request_problem_information.is_none()
            && will_delay_interval.is_none()
            && request_response_information.is_none()
            && response_information.is_none()
            && server_reference.is_none()
            && reason_string.is_none()
            && receive_maximum.is_none()
            && topic_alias_maximum.is_none()
            && topic_alias.is_none()
            && maximum_qos.is_none()
            && retain_available.is_none()
            && user_properties.is_empty()
            && maximum_packet_size.is_none()
            && wildcard_subscription_available.is_none()
            && subscription_identifier_available.is_none()
            && shared_subscription_available.is_none()
    }

    /// Checks what both directions must agree on: every present property is allowed in
    /// `scope`, every value is in range, and SUBSCRIBE carries at most one subscription
    /// identifier.
    pub(crate) fn check(&self, scope: Scope) -> Result<(), DecodeError> {
        use PropertyId::*;
        let flag = |v: Option<u8>| v.is_none_or(|v| v <= 1);
        let items = [
            (
                PayloadFormatIndicator,
                self.payload_format_indicator.is_some(),
                flag(self.payload_format_indicator),
            ),
            (
                MessageExpiryInterval,
                self.message_expiry_interval.is_some(),
                true,
            ),
            (ContentType, self.content_type.is_some(), true),
            (ResponseTopic, self.response_topic.is_some(), true),
            (CorrelationData, self.correlation_data.is_some(), true),
            (
                SubscriptionIdentifier,
                !self.subscription_identifiers.is_empty(),
                self.subscription_identifiers
                    .iter()
                    .all(|&v| v != 0 && v as usize <= MAX_REMAINING_LENGTH),
            ),
            (
                SessionExpiryInterval,
                self.session_expiry_interval.is_some(),
                true,
            ),
            (
                AssignedClientIdentifier,
                self.assigned_client_identifier.is_some(),
                true,
            ),
            (ServerKeepAlive, self.server_keep_alive.is_some(), true),
            (
                AuthenticationMethod,
                self.authentication_method.is_some(),
                true,
            ),
            (AuthenticationData, self.authentication_data.is_some(), true),
            (
                RequestProblemInformation,
                self.request_problem_information.is_some(),
                flag(self.request_problem_information),
            ),
            (WillDelayInterval, self.will_delay_interval.is_some(), true),
            (
                RequestResponseInformation,
                self.request_response_information.is_some(),
                flag(self.request_response_information),
            ),
            (
                ResponseInformation,
                self.response_information.is_some(),
                true,
            ),
            (ServerReference, self.server_reference.is_some(), true),
            (ReasonString, self.reason_string.is_some(), true),
            (
                ReceiveMaximum,
                self.receive_maximum.is_some(),
                self.receive_maximum != Some(0),
            ),
            (TopicAliasMaximum, self.topic_alias_maximum.is_some(), true),
            (
                TopicAlias,
                self.topic_alias.is_some(),
                self.topic_alias != Some(0),
            ),
            (
                MaximumQoS,
                self.maximum_qos.is_some(),
                flag(self.maximum_qos),
            ),
            (
                RetainAvailable,
                self.retain_available.is_some(),
                flag(self.retain_available),
            ),
            (UserProperty, !self.user_properties.is_empty(), true),
            (
                MaximumPacketSize,
                self.maximum_packet_size.is_some(),
                self.maximum_packet_size != Some(0),
            ),
            (
                WildcardSubscriptionAvailable,
                self.wildcard_subscription_available.is_some(),
                flag(self.wildcard_subscription_available),
            ),
            (
                SubscriptionIdentifierAvailable,
                self.subscription_identifier_available.is_some(),
                flag(self.subscription_identifier_available),
            ),
            (
                SharedSubscriptionAvailable,
                self.shared_subscription_available.is_some(),
                flag(self.shared_subscription_available),
            ),
        ];
        for (id, present, valid) in items {
            if !present {
                continue;
            }
            if id.allowed_in() & scope.bit() == 0 {
                return Err(DecodeError::PropertyNotAllowed {
                    packet: scope.packet(),
                    id,
                });
            }
            if !valid {
                return Err(DecodeError::InvalidPropertyValue(id));
            }
        }
        if scope == Scope::Packet(PacketType::Subscribe) && self.subscription_identifiers.len() > 1
        {
            return Err(DecodeError::DuplicateProperty(SubscriptionIdentifier));
        }
        Ok(())
    }

    /// Reads a property block (length included) for `scope`.
    pub(crate) fn decode(r: &mut Reader<'_>, scope: Scope) -> Result<Self, DecodeError> {
        use PropertyId::*;
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
            match id {
                PayloadFormatIndicator => set(&mut p.payload_format_indicator, id, r.u8(F)?)?,
                MessageExpiryInterval => set(&mut p.message_expiry_interval, id, r.u32(F)?)?,
                ContentType => set(&mut p.content_type, id, string(&mut r)?)?,
                ResponseTopic => set(&mut p.response_topic, id, string(&mut r)?)?,
                CorrelationData => set(&mut p.correlation_data, id, r.binary(F)?.to_vec())?,
                SubscriptionIdentifier => {
                    let v = r.varint(F)?;
                    p.subscription_identifiers.push(v);
                }
                SessionExpiryInterval => set(&mut p.session_expiry_interval, id, r.u32(F)?)?,
                AssignedClientIdentifier => {
                    set(&mut p.assigned_client_identifier, id, string(&mut r)?)?
                }
                ServerKeepAlive => set(&mut p.server_keep_alive, id, r.u16(F)?)?,
                AuthenticationMethod => set(&mut p.authentication_method, id, string(&mut r)?)?,
                AuthenticationData => set(&mut p.authentication_data, id, r.binary(F)?.to_vec())?,
                RequestProblemInformation => set(&mut p.request_problem_information, id, r.u8(F)?)?,
                WillDelayInterval => set(&mut p.will_delay_interval, id, r.u32(F)?)?,
                RequestResponseInformation => {
                    set(&mut p.request_response_information, id, r.u8(F)?)?
                }
                ResponseInformation => set(&mut p.response_information, id, string(&mut r)?)?,
                ServerReference => set(&mut p.server_reference, id, string(&mut r)?)?,
                ReasonString => set(&mut p.reason_string, id, string(&mut r)?)?,
                ReceiveMaximum => set(&mut p.receive_maximum, id, r.u16(F)?)?,
                TopicAliasMaximum => set(&mut p.topic_alias_maximum, id, r.u16(F)?)?,
                TopicAlias => set(&mut p.topic_alias, id, r.u16(F)?)?,
                MaximumQoS => set(&mut p.maximum_qos, id, r.u8(F)?)?,
                RetainAvailable => set(&mut p.retain_available, id, r.u8(F)?)?,
                UserProperty => {
                    let k = string(&mut r)?;
                    let v = string(&mut r)?;
                    p.user_properties.push((k, v));
                }
                MaximumPacketSize => set(&mut p.maximum_packet_size, id, r.u32(F)?)?,
                WildcardSubscriptionAvailable => {
                    set(&mut p.wildcard_subscription_available, id, r.u8(F)?)?
                }
                SubscriptionIdentifierAvailable => {
                    set(&mut p.subscription_identifier_available, id, r.u8(F)?)?
                }
                SharedSubscriptionAvailable => {
                    set(&mut p.shared_subscription_available, id, r.u8(F)?)?
                }
            }
        }
        p.check(scope)?;
        Ok(p)
    }

    /// Appends the property block (length included) in identifier order, after checking
    /// it against `scope` like the decoder would.
    pub(crate) fn encode(&self, scope: Scope, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        use PropertyId::*;
        self.check(scope)?;
        let start = out.len();
        opt_u8(out, PayloadFormatIndicator, self.payload_format_indicator);
        opt_u32(out, MessageExpiryInterval, self.message_expiry_interval);
        opt_str(out, ContentType, &self.content_type)?;
        opt_str(out, ResponseTopic, &self.response_topic)?;
        opt_bin(out, CorrelationData, &self.correlation_data)?;
        for &v in &self.subscription_identifiers {
            out.push(SubscriptionIdentifier as u8);
            put_varint(out, v);
        }
        opt_u32(out, SessionExpiryInterval, self.session_expiry_interval);
        opt_str(
            out,
            AssignedClientIdentifier,
            &self.assigned_client_identifier,
        )?;
        opt_u16(out, ServerKeepAlive, self.server_keep_alive);
        opt_str(out, AuthenticationMethod, &self.authentication_method)?;
        opt_bin(out, AuthenticationData, &self.authentication_data)?;
        opt_u8(
            out,
            RequestProblemInformation,
            self.request_problem_information,
        );
        opt_u32(out, WillDelayInterval, self.will_delay_interval);
        opt_u8(
            out,
            RequestResponseInformation,
            self.request_response_information,
        );
        opt_str(out, ResponseInformation, &self.response_information)?;
        opt_str(out, ServerReference, &self.server_reference)?;
        opt_str(out, ReasonString, &self.reason_string)?;
        opt_u16(out, ReceiveMaximum, self.receive_maximum);
        opt_u16(out, TopicAliasMaximum, self.topic_alias_maximum);
        opt_u16(out, TopicAlias, self.topic_alias);
        opt_u8(out, MaximumQoS, self.maximum_qos);
        opt_u8(out, RetainAvailable, self.retain_available);
        for (k, v) in &self.user_properties {
            out.push(UserProperty as u8);
            put_str(out, k, F)?;
            put_str(out, v, F)?;
        }
        opt_u32(out, MaximumPacketSize, self.maximum_packet_size);
        opt_u8(
            out,
            WildcardSubscriptionAvailable,
            self.wildcard_subscription_available,
        );
        opt_u8(
            out,
            SubscriptionIdentifierAvailable,
            self.subscription_identifier_available,
        );
        opt_u8(
            out,
            SharedSubscriptionAvailable,
            self.shared_subscription_available,
        );
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

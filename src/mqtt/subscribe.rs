//! SUBSCRIBE and SUBACK.

use super::ack::check_reason;
use super::primitives::{check_packet_id, put_str, put_u16, Reader};
use super::properties::Scope;
use super::{DecodeError, EncodeError, PacketType, Properties, ProtocolVersion, QoS, ReasonCode};

/// SUBSCRIBE: at least one filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: u16,
    pub filters: Vec<SubscribeFilter>,
    /// 5.0 only: subscription identifier, user properties.
    pub properties: Properties,
}

/// One topic filter with its subscription options. In 3.1.1 only `qos` exists; the other
/// options must be at their defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeFilter {
    pub filter: String,
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

impl SubscribeFilter {
    /// A filter with the given QoS and default options.
    pub fn new(filter: impl Into<String>, qos: QoS) -> Self {
        SubscribeFilter {
            filter: filter.into(),
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }
}

/// 5.0 retain handling option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetainHandling {
    #[default]
    SendAtSubscribe = 0,
    SendAtSubscribeIfNew = 1,
    DoNotSend = 2,
}

/// SUBACK: one reason per filter (3.1.1 return codes 0, 1, 2 and 0x80 are the 5.0
/// GrantedQoS0/1/2 and UnspecifiedError codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: u16,
    pub reasons: Vec<ReasonCode>,
    pub properties: Properties,
}

impl SubscribeFilter {
    /// The subscription options byte; 3.1.1 has only the QoS bits.
    fn options(&self, version: ProtocolVersion) -> Result<u8, EncodeError> {
        let extra = (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4);
        if version == ProtocolVersion::V311 && extra != 0 {
            return Err(EncodeError::SubscriptionOptionsInV311);
        }
        Ok(self.qos as u8 | extra)
    }

    fn from_options(
        filter: String,
        options: u8,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let reserved = match version {
            ProtocolVersion::V311 => 0b1111_1100,
            ProtocolVersion::V5 => 0b1100_0000,
        };
        if options & reserved != 0 {
            return Err(DecodeError::InvalidSubscriptionOptions(options));
        }
        let retain_handling = match (options >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::InvalidRetainHandling),
        };
        Ok(SubscribeFilter {
            filter,
            qos: QoS::from_u8(options & 0b11)?,
            no_local: options & 0b0100 != 0,
            retain_as_published: options & 0b1000 != 0,
            retain_handling,
        })
    }
}

/// Reads a non-empty topic filter.
pub(crate) fn read_filter(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    let f = r.string("topic filter")?;
    if f.is_empty() {
        return Err(DecodeError::EmptyTopicFilter);
    }
    Ok(f.to_owned())
}

/// Writes a non-empty topic filter.
pub(crate) fn put_filter(out: &mut Vec<u8>, f: &str) -> Result<(), EncodeError> {
    if f.is_empty() {
        return Err(DecodeError::EmptyTopicFilter.into());
    }
    put_str(out, f, "topic filter")
}

impl Subscribe {
    pub(crate) fn decode(
        version: ProtocolVersion,
        r: &mut Reader<'_>,
    ) -> Result<Self, DecodeError> {
        const T: PacketType = PacketType::Subscribe;
        let packet_id = check_packet_id(r.u16("packet identifier")?, T)?;
        let properties = Properties::decode_for(version, r, Scope::Packet(T))?;
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = read_filter(r)?;
            let options = r.u8("subscription options")?;
            filters.push(SubscribeFilter::from_options(filter, options, version)?);
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters { packet: T });
        }
        Ok(Subscribe {
            packet_id,
            filters,
            properties,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        const T: PacketType = PacketType::Subscribe;
        put_u16(out, check_packet_id(self.packet_id, T)?);
        self.properties.encode_for(version, Scope::Packet(T), out)?;
        if self.filters.is_empty() {
            return Err(DecodeError::NoTopicFilters { packet: T }.into());
        }
        for f in &self.filters {
            put_filter(out, &f.filter)?;
            out.push(f.options(version)?);
        }
        Ok(())
    }
}

/// 3.1.1 SUBACK return codes: granted QoS 0-2 or failure.
fn v311_suback_code(code: u8) -> Option<ReasonCode> {
    match code {
        0x00 => Some(ReasonCode::Success),
        0x01 => Some(ReasonCode::GrantedQoS1),
        0x02 => Some(ReasonCode::GrantedQoS2),
        0x80 => Some(ReasonCode::UnspecifiedError),
        _ => None,
    }
}

/// Reads the reason list of SUBACK / 5.0 UNSUBACK (at least one).
pub(crate) fn read_reasons(
    version: ProtocolVersion,
    r: &mut Reader<'_>,
) -> Result<Vec<ReasonCode>, DecodeError> {
    let packet = r.packet();
    let mut reasons = Vec::with_capacity(r.remaining());
    while !r.is_empty() {
        let code = r.u8("reason code")?;
        let reason = match version {
            ProtocolVersion::V311 => v311_suback_code(code).ok_or(code),
            ProtocolVersion::V5 => ReasonCode::try_from(code),
        }
        .map_err(|code| DecodeError::InvalidReasonCode { packet, code })?;
        check_reason(reason, packet)?;
        reasons.push(reason);
    }
    if reasons.is_empty() {
        return Err(DecodeError::NoReasonCodes { packet });
    }
    Ok(reasons)
}

/// Writes a reason list, refusing what [`read_reasons`] would refuse.
pub(crate) fn put_reasons(
    version: ProtocolVersion,
    reasons: &[ReasonCode],
    packet: PacketType,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if reasons.is_empty() {
        return Err(DecodeError::NoReasonCodes { packet }.into());
    }
    for &reason in reasons {
        check_reason(reason, packet)?;
        if version == ProtocolVersion::V311 && v311_suback_code(reason.as_u8()) != Some(reason) {
            return Err(EncodeError::ReasonInV311 { packet, reason });
        }
        out.push(reason.as_u8());
    }
    Ok(())
}

impl SubAck {
    pub(crate) fn decode(
        version: ProtocolVersion,
        r: &mut Reader<'_>,
    ) -> Result<Self, DecodeError> {
        const T: PacketType = PacketType::SubAck;
        let packet_id = check_packet_id(r.u16("packet identifier")?, T)?;
        let properties = Properties::decode_for(version, r, Scope::Packet(T))?;
        let reasons = read_reasons(version, r)?;
        Ok(SubAck {
            packet_id,
            reasons,
            properties,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        const T: PacketType = PacketType::SubAck;
        put_u16(out, check_packet_id(self.packet_id, T)?);
        self.properties.encode_for(version, Scope::Packet(T), out)?;
        put_reasons(version, &self.reasons, T, out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, ProtocolVersion::*};
    use super::*;

    #[test]
    fn subscribe_options() {
        let mut f = SubscribeFilter::new("a/#", QoS::AtLeastOnce);
        f.no_local = true;
        f.retain_handling = RetainHandling::DoNotSend;
        let p = Packet::Subscribe(Subscribe {
            packet_id: 10,
            filters: vec![f.clone()],
            properties: Properties {
                subscription_identifiers: vec![200],
                ..Properties::default()
            },
        });
        let mut out = Vec::new();
        p.encode(V5, &mut out).unwrap();
        assert_eq!(out, b"\x82\x0c\x00\x0a\x03\x0b\xc8\x01\x00\x03a/#\x25");
        assert_eq!(
            Packet::decode(V5, &out, 100),
            Ok(Some((p.clone(), out.len())))
        );
        assert_eq!(
            p.encode(V311, &mut Vec::new()),
            Err(EncodeError::PropertiesInV311(PacketType::Subscribe))
        );
        let p = Packet::Subscribe(Subscribe {
            packet_id: 10,
            filters: vec![f],
            properties: Properties::default(),
        });
        assert_eq!(
            p.encode(V311, &mut Vec::new()),
            Err(EncodeError::SubscriptionOptionsInV311)
        );
        // 3.1.1 forbids option bits 2-7; 5.0 bits 6-7 and retain handling 3.
        let body = |opt: u8| [0x82, 6, 0, 1, 0, 1, b'a', opt];
        assert_eq!(
            Packet::decode(V311, &body(0b0100), 100),
            Err(DecodeError::InvalidSubscriptionOptions(0b0100))
        );
        assert_eq!(
            Packet::decode(V5, &[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x30], 100),
            Err(DecodeError::InvalidRetainHandling)
        );
    }

    #[test]
    fn suback_codes() {
        let p = Packet::SubAck(SubAck {
            packet_id: 1,
            reasons: vec![
                ReasonCode::GRANTED_QOS0,
                ReasonCode::GrantedQoS2,
                ReasonCode::UnspecifiedError,
            ],
            properties: Properties::default(),
        });
        let mut out = Vec::new();
        p.encode(V311, &mut out).unwrap();
        assert_eq!(out, [0x90, 5, 0, 1, 0, 2, 0x80]);
        assert_eq!(Packet::decode(V311, &out, 100), Ok(Some((p, 7))));
        assert_eq!(
            Packet::decode(V311, &[0x90, 3, 0, 1, 0x87], 100),
            Err(DecodeError::InvalidReasonCode {
                packet: PacketType::SubAck,
                code: 0x87
            })
        );
        assert_eq!(
            Packet::decode(V5, &[0x90, 4, 0, 1, 0, 0x87], 100),
            Ok(Some((
                Packet::SubAck(SubAck {
                    packet_id: 1,
                    reasons: vec![ReasonCode::NotAuthorized],
                    properties: Properties::default()
                }),
                6
            )))
        );
    }
}

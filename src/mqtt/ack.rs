//! PUBACK, PUBREC, PUBREL and PUBCOMP: one shape, four packet types.

use super::primitives::{check_packet_id, put_u16, Reader};
use super::properties::Scope;
use super::{DecodeError, EncodeError, PacketType, Properties, ProtocolVersion, ReasonCode};

/// The body of PUBACK / PUBREC / PUBREL / PUBCOMP. In 3.1.1 the reason is always
/// `Success` and the properties empty. In 5.0 a success reason with no properties is
/// encoded in the short two-byte form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub packet_id: u16,
    pub reason: ReasonCode,
    pub properties: Properties,
}

/// Reads an optional 5.0 reason code (absent means Success) valid for `packet`.
pub(crate) fn decode_reason(r: &mut Reader<'_>) -> Result<ReasonCode, DecodeError> {
    if r.is_empty() {
        return Ok(ReasonCode::Success);
    }
    let packet = r.packet();
    let code = r.u8("reason code")?;
    let reason = ReasonCode::try_from(code)
        .map_err(|code| DecodeError::InvalidReasonCode { packet, code })?;
    check_reason(reason, packet)?;
    Ok(reason)
}

pub(crate) fn check_reason(reason: ReasonCode, packet: PacketType) -> Result<(), DecodeError> {
    if reason.is_valid_for(packet) {
        Ok(())
    } else {
        Err(DecodeError::ReasonCodeNotAllowed { packet, reason })
    }
}

/// Writes the 5.0 reason and properties in the shortest form the spec allows: nothing for
/// success without properties, the reason alone without properties.
pub(crate) fn encode_reason(
    reason: ReasonCode,
    properties: &Properties,
    packet: PacketType,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    check_reason(reason, packet)?;
    if properties.is_empty() {
        if reason != ReasonCode::Success {
            out.push(reason.as_u8());
        }
        return Ok(());
    }
    out.push(reason.as_u8());
    properties.encode(Scope::Packet(packet), out)
}

/// 3.1.1 has no reason or properties in acks and DISCONNECT.
pub(crate) fn check_v311_empty(
    reason: ReasonCode,
    properties: &Properties,
    packet: PacketType,
) -> Result<(), EncodeError> {
    if reason != ReasonCode::Success {
        return Err(EncodeError::ReasonInV311 { packet, reason });
    }
    if !properties.is_empty() {
        return Err(EncodeError::PropertiesInV311(packet));
    }
    Ok(())
}

impl Ack {
    pub(crate) fn decode(
        version: ProtocolVersion,
        r: &mut Reader<'_>,
    ) -> Result<Self, DecodeError> {
        let packet = r.packet();
        let packet_id = check_packet_id(r.u16("packet identifier")?, packet)?;
        let (reason, properties) = match version {
            ProtocolVersion::V311 => (ReasonCode::Success, Properties::default()),
            ProtocolVersion::V5 => {
                let reason = decode_reason(r)?;
                let properties = if r.is_empty() {
                    Properties::default()
                } else {
                    Properties::decode(r, Scope::Packet(packet))?
                };
                (reason, properties)
            }
        };
        Ok(Ack {
            packet_id,
            reason,
            properties,
        })
    }

    pub(crate) fn encode(
        &self,
        packet: PacketType,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        put_u16(out, check_packet_id(self.packet_id, packet)?);
        match version {
            ProtocolVersion::V311 => check_v311_empty(self.reason, &self.properties, packet),
            ProtocolVersion::V5 => encode_reason(self.reason, &self.properties, packet, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, ProtocolVersion::*};
    use super::*;

    fn puback(reason: ReasonCode, reason_string: Option<&str>) -> Packet {
        Packet::PubAck(Ack {
            packet_id: 0x1234,
            reason,
            properties: Properties {
                reason_string: reason_string.map(Into::into),
                ..Properties::default()
            },
        })
    }

    #[test]
    fn short_forms() {
        for (p, bytes) in [
            (
                puback(ReasonCode::Success, None),
                &[0x40, 2, 0x12, 0x34][..],
            ),
            (
                puback(ReasonCode::QuotaExceeded, None),
                &[0x40, 3, 0x12, 0x34, 0x97],
            ),
            (
                puback(ReasonCode::Success, Some("x")),
                &[0x40, 8, 0x12, 0x34, 0, 4, 0x1F, 0, 1, b'x'],
            ),
        ] {
            let mut out = Vec::new();
            p.encode(V5, &mut out).unwrap();
            assert_eq!(out, bytes);
            assert_eq!(Packet::decode(V5, bytes, 100), Ok(Some((p, bytes.len()))));
        }
        // Reason present, property length omitted.
        assert_eq!(
            Packet::decode(V5, &[0x40, 3, 0x12, 0x34, 0], 100),
            Ok(Some((puback(ReasonCode::Success, None), 5)))
        );
    }

    #[test]
    fn reason_rules() {
        assert_eq!(
            Packet::decode(V5, &[0x40, 3, 0, 1, 0x01], 100),
            Err(DecodeError::ReasonCodeNotAllowed {
                packet: PacketType::PubAck,
                reason: ReasonCode::GrantedQoS1
            })
        );
        assert_eq!(
            puback(ReasonCode::QuotaExceeded, None).encode(V311, &mut Vec::new()),
            Err(EncodeError::ReasonInV311 {
                packet: PacketType::PubAck,
                reason: ReasonCode::QuotaExceeded
            })
        );
        assert_eq!(
            Packet::decode(V311, &[0x62, 2, 0, 1], 100),
            Ok(Some((
                Packet::PubRel(Ack {
                    packet_id: 1,
                    reason: ReasonCode::Success,
                    properties: Properties::default()
                }),
                4
            )))
        );
        assert_eq!(
            Packet::decode(V311, &[0x60, 2, 0, 1], 100),
            Err(DecodeError::InvalidHeaderFlags {
                packet: PacketType::PubRel,
                flags: 0
            })
        );
    }
}

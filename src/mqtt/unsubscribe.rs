//! UNSUBSCRIBE and UNSUBACK.

use super::primitives::{check_packet_id, put_u16, Reader};
use super::properties::Scope;
use super::subscribe::{put_filter, put_reasons, read_filter, read_reasons};
use super::{DecodeError, EncodeError, PacketType, Properties, ProtocolVersion, ReasonCode};

/// UNSUBSCRIBE: at least one filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<String>,
    pub properties: Properties,
}

/// UNSUBACK. 3.1.1 carries no reasons (`reasons` is empty); 5.0 one per filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    pub packet_id: u16,
    pub reasons: Vec<ReasonCode>,
    pub properties: Properties,
}

impl Unsubscribe {
    pub(crate) fn decode(
        version: ProtocolVersion,
        r: &mut Reader<'_>,
    ) -> Result<Self, DecodeError> {
        const T: PacketType = PacketType::Unsubscribe;
        let packet_id = check_packet_id(r.u16("packet identifier")?, T)?;
        let properties = Properties::decode_for(version, r, Scope::Packet(T))?;
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(read_filter(r)?);
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters { packet: T });
        }
        Ok(Unsubscribe {
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
        const T: PacketType = PacketType::Unsubscribe;
        put_u16(out, check_packet_id(self.packet_id, T)?);
        self.properties.encode_for(version, Scope::Packet(T), out)?;
        if self.filters.is_empty() {
            return Err(DecodeError::NoTopicFilters { packet: T }.into());
        }
        for f in &self.filters {
            put_filter(out, f)?;
        }
        Ok(())
    }
}

impl UnsubAck {
    pub(crate) fn decode(
        version: ProtocolVersion,
        r: &mut Reader<'_>,
    ) -> Result<Self, DecodeError> {
        const T: PacketType = PacketType::UnsubAck;
        let packet_id = check_packet_id(r.u16("packet identifier")?, T)?;
        let (reasons, properties) = match version {
            ProtocolVersion::V311 => (Vec::new(), Properties::default()),
            ProtocolVersion::V5 => {
                let properties = Properties::decode(r, Scope::Packet(T))?;
                (read_reasons(version, r)?, properties)
            }
        };
        Ok(UnsubAck {
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
        const T: PacketType = PacketType::UnsubAck;
        put_u16(out, check_packet_id(self.packet_id, T)?);
        match version {
            ProtocolVersion::V311 => {
                if let Some(&reason) = self.reasons.first() {
                    return Err(EncodeError::ReasonInV311 { packet: T, reason });
                }
                self.properties.encode_for(version, Scope::Packet(T), out)
            }
            ProtocolVersion::V5 => {
                self.properties.encode(Scope::Packet(T), out)?;
                put_reasons(version, &self.reasons, T, out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, ProtocolVersion::*};
    use super::*;

    #[test]
    fn unsubscribe_and_ack() {
        let p = Packet::Unsubscribe(Unsubscribe {
            packet_id: 2,
            filters: vec!["a".into(), "b/+".into()],
            properties: Properties::default(),
        });
        let mut out = Vec::new();
        p.encode(V311, &mut out).unwrap();
        assert_eq!(out, [0xA2, 10, 0, 2, 0, 1, b'a', 0, 3, b'b', b'/', b'+']);
        assert_eq!(Packet::decode(V311, &out, 100), Ok(Some((p, 12))));
        assert_eq!(
            Packet::decode(V5, &[0xA2, 3, 0, 2, 0], 100),
            Err(DecodeError::NoTopicFilters {
                packet: PacketType::Unsubscribe
            })
        );
        let ack = |reasons| {
            Packet::UnsubAck(UnsubAck {
                packet_id: 2,
                reasons,
                properties: Properties::default(),
            })
        };
        assert_eq!(
            Packet::decode(V311, &[0xB0, 2, 0, 2], 100),
            Ok(Some((ack(vec![]), 4)))
        );
        assert_eq!(
            Packet::decode(V5, &[0xB0, 4, 0, 2, 0, 0x11], 100),
            Ok(Some((ack(vec![ReasonCode::NoSubscriptionExisted]), 6)))
        );
        assert_eq!(
            ack(vec![ReasonCode::Success]).encode(V311, &mut Vec::new()),
            Err(EncodeError::ReasonInV311 {
                packet: PacketType::UnsubAck,
                reason: ReasonCode::Success
            })
        );
    }
}

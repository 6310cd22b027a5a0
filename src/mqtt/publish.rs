//! PUBLISH.

use super::primitives::{check_packet_id, check_topic_name, put_str, put_u16, Reader};
use super::properties::Scope;
use super::{DecodeError, EncodeError, PacketType, Properties, ProtocolVersion, QoS};

/// PUBLISH. `packet_id` is `Some` exactly when `qos` is 1 or 2 (checked both ways).
/// In 5.0 `topic` may be empty when the properties carry a topic alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: String,
    pub packet_id: Option<u16>,
    pub properties: Properties,
    pub payload: Vec<u8>,
}

const T: PacketType = PacketType::Publish;

impl Publish {
    /// `flags` were checked by the fixed header (QoS ≠ 3, no DUP at QoS 0).
    pub(crate) fn decode(
        version: ProtocolVersion,
        flags: u8,
        r: &mut Reader<'_>,
    ) -> Result<Self, DecodeError> {
        let qos = QoS::from_u8((flags >> 1) & 0b11)?;
        let topic = r.string("topic")?.to_owned();
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            _ => Some(check_packet_id(r.u16("packet identifier")?, T)?),
        };
        let properties = Properties::decode_for(version, r, Scope::Packet(T))?;
        check_topic_name(&topic, properties.topic_alias.is_some())?;
        Ok(Publish {
            dup: flags & 0b1000 != 0,
            qos,
            retain: flags & 1 != 0,
            topic,
            packet_id,
            properties,
            payload: r.rest().to_vec(),
        })
    }

    /// Writes the body and returns the fixed header flags.
    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<u8, EncodeError> {
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0.into());
        }
        // In 3.1.1 properties must be empty, so no topic alias can excuse an empty name.
        check_topic_name(&self.topic, self.properties.topic_alias.is_some())?;
        put_str(out, &self.topic, "topic")?;
        match (self.qos, self.packet_id) {
            (QoS::AtMostOnce, None) => {}
            (QoS::AtLeastOnce | QoS::ExactlyOnce, Some(id)) => {
                put_u16(out, check_packet_id(id, T)?)
            }
            _ => return Err(EncodeError::PacketIdMismatch),
        }
        self.properties.encode_for(version, Scope::Packet(T), out)?;
        out.extend_from_slice(&self.payload);
        Ok((u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, ProtocolVersion::*};
    use super::*;

    fn publish(topic: &str, alias: Option<u16>) -> Packet {
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: topic.into(),
            packet_id: Some(7),
            properties: Properties {
                topic_alias: alias,
                ..Properties::default()
            },
            payload: b"hi".to_vec(),
        })
    }

    #[test]
    fn bytes_v311_and_v5() {
        let mut out = Vec::new();
        publish("a/b", None).encode(V311, &mut out).unwrap();
        assert_eq!(out, [0x3D, 9, 0, 3, b'a', b'/', b'b', 0, 7, b'h', b'i']);
        out.clear();
        publish("", Some(3)).encode(V5, &mut out).unwrap();
        assert_eq!(out, [0x3D, 10, 0, 0, 0, 7, 3, 0x23, 0, 3, b'h', b'i']);
        assert_eq!(
            Packet::decode(V5, &out, 100),
            Ok(Some((publish("", Some(3)), out.len())))
        );
    }

    #[test]
    fn topic_rules() {
        let mut out = Vec::new();
        assert_eq!(
            publish("", None).encode(V5, &mut out),
            Err(DecodeError::EmptyTopicName.into())
        );
        assert_eq!(
            publish("a/+", None).encode(V311, &mut out),
            Err(DecodeError::WildcardInTopicName.into())
        );
        assert_eq!(
            publish("", Some(1)).encode(V311, &mut out),
            Err(EncodeError::PropertiesInV311(T))
        );
        // Empty topic without alias, 5.0.
        assert_eq!(
            Packet::decode(V5, &[0x30, 3, 0, 0, 0], 100),
            Err(DecodeError::EmptyTopicName)
        );
        assert_eq!(
            Packet::decode(V311, &[0x30, 3, 0, 1, b'#'], 100),
            Err(DecodeError::WildcardInTopicName)
        );
        assert!(out.is_empty());
    }
}

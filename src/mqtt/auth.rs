//! AUTH (MQTT 5.0 enhanced authentication).

use super::ack::encode_reason;
use super::disconnect::decode_short_form;
use super::primitives::Reader;
use super::{DecodeError, EncodeError, PacketType, Properties, ProtocolVersion, ReasonCode};

/// AUTH: reason Success, ContinueAuthentication or ReAuthenticate. An empty body means
/// Success with no properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub reason: ReasonCode,
    pub properties: Properties,
}

impl Auth {
    /// Only reached in 5.0: the fixed header refuses type 15 in 3.1.1.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (reason, properties) = decode_short_form(r)?;
        Ok(Auth { reason, properties })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        match version {
            ProtocolVersion::V311 => Err(EncodeError::PacketNotInV311(PacketType::Auth)),
            ProtocolVersion::V5 => {
                encode_reason(self.reason, &self.properties, PacketType::Auth, out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, ProtocolVersion::*};
    use super::*;

    #[test]
    fn auth() {
        let p = Packet::Auth(Auth {
            reason: ReasonCode::ContinueAuthentication,
            properties: Properties {
                authentication_method: Some("X".into()),
                authentication_data: Some(vec![9]),
                ..Properties::default()
            },
        });
        let mut out = Vec::new();
        p.encode(V5, &mut out).unwrap();
        assert_eq!(out, [0xF0, 10, 0x18, 8, 0x15, 0, 1, b'X', 0x16, 0, 1, 9]);
        assert_eq!(Packet::decode(V5, &out, 100), Ok(Some((p.clone(), 12))));
        assert_eq!(
            p.encode(V311, &mut out),
            Err(EncodeError::PacketNotInV311(PacketType::Auth))
        );
        assert_eq!(
            Packet::decode(V311, &[0xF0, 0], 100),
            Err(DecodeError::InvalidPacketType(15))
        );
    }
}

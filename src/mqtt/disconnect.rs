//! DISCONNECT.

use super::ack::{check_v311_empty, decode_reason, encode_reason};
use super::primitives::Reader;
use super::properties::Scope;
use super::{DecodeError, EncodeError, PacketType, Properties, ProtocolVersion, ReasonCode};

/// DISCONNECT. 3.1.1 has no body (reason `NormalDisconnection`, no properties). 5.0 uses the
/// short forms when possible: no body for a normal disconnect without properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    pub reason: ReasonCode,
    pub properties: Properties,
}

const T: PacketType = PacketType::Disconnect;

impl Disconnect {
    /// In 3.1.1 the body is empty; the caller's trailing-bytes check enforces it.
    pub(crate) fn decode(
        version: ProtocolVersion,
        r: &mut Reader<'_>,
    ) -> Result<Self, DecodeError> {
        let (reason, properties) = match version {
            ProtocolVersion::V311 => (ReasonCode::NORMAL_DISCONNECTION, Properties::default()),
            ProtocolVersion::V5 => decode_short_form(r)?,
        };
        Ok(Disconnect { reason, properties })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        match version {
            ProtocolVersion::V311 => check_v311_empty(self.reason, &self.properties, T),
            ProtocolVersion::V5 => encode_reason(self.reason, &self.properties, T, out),
        }
    }
}

/// The optional reason and optional properties of 5.0 DISCONNECT and AUTH.
pub(crate) fn decode_short_form(
    r: &mut Reader<'_>,
) -> Result<(ReasonCode, Properties), DecodeError> {
    let reason = decode_reason(r)?;
    let properties = if r.is_empty() {
        Properties::default()
    } else {
        Properties::decode(r, Scope::Packet(r.packet()))?
    };
    Ok((reason, properties))
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, ProtocolVersion::*};
    use super::*;

    #[test]
    fn forms() {
        let d = |reason, session_expiry_interval| {
            Packet::Disconnect(Disconnect {
                reason,
                properties: Properties {
                    session_expiry_interval,
                    ..Properties::default()
                },
            })
        };
        for (p, v, bytes) in [
            (d(ReasonCode::Success, None), V311, &[0xE0, 0][..]),
            (d(ReasonCode::Success, None), V5, &[0xE0, 0]),
            (
                d(ReasonCode::ServerShuttingDown, None),
                V5,
                &[0xE0, 1, 0x8B],
            ),
            (
                d(ReasonCode::Success, Some(0)),
                V5,
                &[0xE0, 7, 0, 5, 0x11, 0, 0, 0, 0],
            ),
        ] {
            let mut out = Vec::new();
            p.encode(v, &mut out).unwrap();
            assert_eq!(out, bytes);
            assert_eq!(Packet::decode(v, bytes, 100), Ok(Some((p, bytes.len()))));
        }
        assert_eq!(
            Packet::decode(V311, &[0xE0, 1, 0], 100),
            Err(DecodeError::TrailingBytes { packet: T })
        );
        assert_eq!(
            Packet::decode(V5, &[0xE0, 1, 0x8A], 100),
            Err(DecodeError::ReasonCodeNotAllowed {
                packet: T,
                reason: ReasonCode::Banned
            })
        );
    }
}

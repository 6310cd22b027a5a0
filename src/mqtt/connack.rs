//! CONNACK.

use super::primitives::Reader;
use super::properties::Scope;
use super::{DecodeError, EncodeError, PacketType, Properties, ProtocolVersion, ReasonCode};

/// CONNACK. 3.1.1 return codes map onto the 5.0 reason codes with the same meaning
/// (1 → UnsupportedProtocolVersion, 2 → ClientIdentifierNotValid, 3 → ServerUnavailable,
/// 4 → BadUserNameOrPassword, 5 → NotAuthorized) and back on encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    pub reason: ReasonCode,
    pub properties: Properties,
}

/// 3.1.1 return codes, indexed by their wire value.
const V311_CODES: [ReasonCode; 6] = [
    ReasonCode::Success,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::ServerUnavailable,
    ReasonCode::BadUserNameOrPassword,
    ReasonCode::NotAuthorized,
];

const T: PacketType = PacketType::ConnAck;

impl ConnAck {
    pub(crate) fn decode(
        version: ProtocolVersion,
        r: &mut Reader<'_>,
    ) -> Result<Self, DecodeError> {
        let flags = r.u8("acknowledge flags")?;
        if flags & !1 != 0 {
            return Err(DecodeError::InvalidConnAckFlags(flags));
        }
        let code = r.u8("reason code")?;
        let invalid = DecodeError::InvalidReasonCode { packet: T, code };
        let reason = match version {
            ProtocolVersion::V311 => *V311_CODES.get(usize::from(code)).ok_or(invalid)?,
            ProtocolVersion::V5 => {
                let reason = ReasonCode::try_from(code).map_err(|_| invalid)?;
                if !reason.is_valid_for(T) {
                    return Err(DecodeError::ReasonCodeNotAllowed { packet: T, reason });
                }
                reason
            }
        };
        // 3.1.1 (MQTT-3.2.2-4) and 5.0 (MQTT-3.2.2-6) both require it.
        let session_present = flags & 1 != 0;
        if session_present && reason.is_error() {
            return Err(DecodeError::SessionPresentWithError);
        }
        let properties = Properties::decode_for(version, r, Scope::Packet(T))?;
        Ok(ConnAck {
            session_present,
            reason,
            properties,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let code = match version {
            ProtocolVersion::V311 => V311_CODES.iter().position(|&c| c == self.reason).ok_or(
                EncodeError::ReasonInV311 {
                    packet: T,
                    reason: self.reason,
                },
            )? as u8,
            ProtocolVersion::V5 => {
                if !self.reason.is_valid_for(T) {
                    return Err(DecodeError::ReasonCodeNotAllowed {
                        packet: T,
                        reason: self.reason,
                    }
                    .into());
                }
                self.reason.as_u8()
            }
        };
        if self.session_present && self.reason.is_error() {
            return Err(DecodeError::SessionPresentWithError.into());
        }
        out.extend_from_slice(&[u8::from(self.session_present), code]);
        self.properties.encode_for(version, Scope::Packet(T), out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, ProtocolVersion::*};
    use super::*;

    #[test]
    fn v5_with_properties() {
        let bytes = [
            0x20, 0x0D, 0x01, 0x00, // session present, success
            0x0A, // property length
            0x21, 0x00, 0x0A, // receive maximum 10
            0x24, 0x01, // maximum QoS 1
            0x13, 0x00, 0x3C, // server keep alive 60
            0x25, 0x00, // retain not available
        ];
        let (p, n) = Packet::decode(V5, &bytes, 64).unwrap().unwrap();
        assert_eq!(n, bytes.len());
        let Packet::ConnAck(ack) = &p else {
            panic!("not a CONNACK: {p:?}")
        };
        assert!(ack.session_present);
        assert_eq!(ack.reason, ReasonCode::Success);
        assert_eq!(ack.properties.receive_maximum, Some(10));
        assert_eq!(ack.properties.maximum_qos, Some(1));
        assert_eq!(ack.properties.server_keep_alive, Some(60));
        assert_eq!(ack.properties.retain_available, Some(0));
        // Re-encoded in identifier order.
        let mut out = Vec::new();
        p.encode(V5, &mut out).unwrap();
        let expected = [
            0x20, 0x0D, 0x01, 0x00, 0x0A, 0x13, 0x00, 0x3C, 0x21, 0x00, 0x0A,
        ];
        assert_eq!(out, [&expected[..], &[0x24, 0x01, 0x25, 0x00]].concat());
    }

    #[test]
    fn v311_return_codes() {
        for (code, reason) in V311_CODES.iter().enumerate() {
            let bytes = [0x20, 2, 0, code as u8];
            let p = Packet::ConnAck(ConnAck {
                session_present: false,
                reason: *reason,
                properties: Properties::default(),
            });
            assert_eq!(Packet::decode(V311, &bytes, 4), Ok(Some((p.clone(), 4))));
            let mut out = Vec::new();
            p.encode(V311, &mut out).unwrap();
            assert_eq!(out, bytes);
        }
        assert_eq!(
            Packet::decode(V311, &[0x20, 2, 0, 6], 4),
            Err(DecodeError::InvalidReasonCode { packet: T, code: 6 })
        );
        let banned = Packet::ConnAck(ConnAck {
            session_present: false,
            reason: ReasonCode::Banned,
            properties: Properties::default(),
        });
        assert_eq!(
            banned.encode(V311, &mut Vec::new()),
            Err(EncodeError::ReasonInV311 {
                packet: T,
                reason: ReasonCode::Banned
            })
        );
        assert_eq!(
            Packet::decode(V311, &[0x20, 2, 1, 5], 4),
            Err(DecodeError::SessionPresentWithError)
        );
    }
}

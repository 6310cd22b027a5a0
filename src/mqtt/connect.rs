//! CONNECT and its last will.

use super::primitives::{check_topic_name, put_binary, put_str, put_u16, Reader};
use super::properties::Scope;
use super::{DecodeError, EncodeError, PacketType, Properties, ProtocolVersion, QoS};

/// CONNECT. On decode, `protocol` comes from the packet itself (the only packet that says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub protocol: ProtocolVersion,
    /// Clean Session (3.1.1) / Clean Start (5.0).
    pub clean_start: bool,
    /// Seconds; 0 turns keepalive off.
    pub keep_alive: u16,
    pub client_id: String,
    pub will: Option<Will>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    /// 5.0 only: session expiry, receive maximum, maximum packet size, topic alias maximum,
    /// request response/problem information, user properties, authentication method/data.
    pub properties: Properties,
}

/// The last will, published by the broker when the connection drops without DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
    /// 5.0 only: will delay, payload format, message expiry, content type, response topic,
    /// correlation data, user properties.
    pub properties: Properties,
}

const WILL: u8 = 0b0000_0100;
const WILL_RETAIN: u8 = 0b0010_0000;
const PASSWORD: u8 = 0b0100_0000;
const USERNAME: u8 = 0b1000_0000;
const CLEAN_START: u8 = 0b0000_0010;

impl Connect {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.string("protocol name")? != "MQTT" {
            return Err(DecodeError::InvalidProtocolName);
        }
        let protocol = ProtocolVersion::from_level(r.u8("protocol level")?)?;
        let flags = r.u8("connect flags")?;
        if flags & 1 != 0 {
            return Err(DecodeError::ConnectReservedFlag);
        }
        let will_qos = (flags >> 3) & 0b11;
        if flags & WILL == 0 && (will_qos != 0 || flags & WILL_RETAIN != 0) {
            return Err(DecodeError::WillFlagsWithoutWill);
        }
        let will_qos = QoS::from_u8(will_qos)?;
        if protocol == ProtocolVersion::V311 && flags & PASSWORD != 0 && flags & USERNAME == 0 {
            return Err(DecodeError::PasswordWithoutUsername);
        }
        let keep_alive = r.u16("keep alive")?;
        let properties = Properties::decode_for(protocol, r, Scope::Packet(PacketType::Connect))?;
        let client_id = r.string("client identifier")?.to_owned();
        let will = if flags & WILL != 0 {
            let properties = Properties::decode_for(protocol, r, Scope::Will)?;
            let topic = r.string("will topic")?;
            check_topic_name(topic, false)?;
            Some(Will {
                topic: topic.to_owned(),
                payload: r.binary("will payload")?.to_vec(),
                qos: will_qos,
                retain: flags & WILL_RETAIN != 0,
                properties,
            })
        } else {
            None
        };
        let username = if flags & USERNAME != 0 {
            Some(r.string("user name")?.to_owned())
        } else {
            None
        };
        let password = if flags & PASSWORD != 0 {
            Some(r.binary("password")?.to_vec())
        } else {
            None
        };
        Ok(Connect {
            protocol,
            clean_start: flags & CLEAN_START != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        if self.protocol != version {
            return Err(EncodeError::ProtocolMismatch {
                packet: self.protocol,
                encoder: version,
            });
        }
        if version == ProtocolVersion::V311 && self.password.is_some() && self.username.is_none() {
            return Err(DecodeError::PasswordWithoutUsername.into());
        }
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(w) = &self.will {
            flags |= WILL | ((w.qos as u8) << 3);
            if w.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        put_str(out, "MQTT", "protocol name")?;
        out.extend_from_slice(&[version.level(), flags]);
        put_u16(out, self.keep_alive);
        self.properties
            .encode_for(version, Scope::Packet(PacketType::Connect), out)?;
        put_str(out, &self.client_id, "client identifier")?;
        if let Some(w) = &self.will {
            w.properties.encode_for(version, Scope::Will, out)?;
            check_topic_name(&w.topic, false)?;
            put_str(out, &w.topic, "will topic")?;
            put_binary(out, &w.payload, "will payload")?;
        }
        if let Some(u) = &self.username {
            put_str(out, u, "user name")?;
        }
        if let Some(p) = &self.password {
            put_binary(out, p, "password")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Packet, ProtocolVersion::*};
    use super::*;

    #[test]
    fn spec_v311_example() {
        // CONNECT from the 3.1.1 spec (section 3.1.2.10 example variable header) with
        // keep alive 10, clean session, client id "a".
        let bytes = b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x0a\x00\x01a";
        let (p, n) = Packet::decode(V311, bytes, 1024).unwrap().unwrap();
        assert_eq!(n, bytes.len());
        let expected = Packet::Connect(Connect {
            protocol: V311,
            clean_start: true,
            keep_alive: 10,
            client_id: "a".into(),
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
        });
        assert_eq!(p, expected);
        let mut out = Vec::new();
        expected.encode(V311, &mut out).unwrap();
        assert_eq!(out, *bytes);
    }

    #[test]
    fn v5_with_will_and_credentials() {
        let c = Connect {
            protocol: V5,
            clean_start: false,
            keep_alive: 60,
            client_id: String::new(),
            will: Some(Will {
                topic: "bye".into(),
                payload: vec![1, 2],
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties {
                    will_delay_interval: Some(5),
                    ..Properties::default()
                },
            }),
            username: None,
            password: Some(b"pw".to_vec()),
            properties: Properties {
                session_expiry_interval: Some(30),
                ..Properties::default()
            },
        };
        let mut out = Vec::new();
        Packet::Connect(c.clone()).encode(V5, &mut out).unwrap();
        let expected: Vec<u8> = [
            &b"\x10\x25\x00\x04MQTT\x05\x6c\x00\x3c"[..], // fixed header, variable header
            b"\x05\x11\x00\x00\x00\x1e",                  // session expiry 30
            b"\x00\x00",                                  // empty client id
            b"\x05\x18\x00\x00\x00\x05",                  // will delay 5
            b"\x00\x03bye\x00\x02\x01\x02",               // will topic, payload
            b"\x00\x02pw",                                // password
        ]
        .concat();
        assert_eq!(out, expected);
        // Decoding does not depend on the stream's version: CONNECT names its own.
        let (p, _) = Packet::decode(V311, &out, 1024).unwrap().unwrap();
        assert_eq!(p, Packet::Connect(c.clone()));
        // 3.1.1 forbids a password without a user name, and the version must match.
        let c311 = Connect {
            protocol: V311,
            will: None,
            properties: Properties::default(),
            ..c
        };
        assert_eq!(
            Packet::Connect(c311.clone()).encode(V311, &mut out),
            Err(DecodeError::PasswordWithoutUsername.into())
        );
        assert_eq!(
            Packet::Connect(c311).encode(V5, &mut out),
            Err(EncodeError::ProtocolMismatch {
                packet: V311,
                encoder: V5
            })
        );
        assert_eq!(
            out.len(),
            expected.len(),
            "failed encode leaves out unchanged"
        );
    }

    #[test]
    fn will_property_scope() {
        // Topic alias is a PUBLISH property, never a will property.
        let bytes =
            b"\x10\x16\x00\x04MQTT\x05\x04\x00\x00\x00\x00\x00\x03\x23\x00\x01\x00\x01t\x00\x00";
        assert_eq!(
            Packet::decode(V5, bytes, 1024),
            Err(DecodeError::PropertyNotAllowed {
                packet: PacketType::Connect,
                id: super::super::PropertyId::TopicAlias
            })
        );
    }
}

//! The [`Packet`] enum and the fixed header shared by all packet families.

use super::primitives::{parse_varint, prefix_len, Reader};
use super::{
    Ack, Auth, ConnAck, Connect, DecodeError, Disconnect, EncodeError, ProtocolVersion, Publish,
    QoS, SubAck, Subscribe, UnsubAck, Unsubscribe,
};

/// The four-bit control packet type of the fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    /// MQTT 5.0 only.
    Auth = 15,
}

/// One MQTT control packet, for either protocol version.
// CONNECT is large (two property sets) but rare: boxing it would cost every user an
// allocation and a less direct shape for no measurable gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    /// MQTT 5.0 only.
    Auth(Auth),
}

impl PacketType {
    /// The type for a fixed header's high nibble in `version`; 0 is reserved and AUTH does
    /// not exist in 3.1.1.
    pub fn from_nibble(v: u8, version: ProtocolVersion) -> Option<Self> {
        use PacketType::*;
        Some(match v {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 if version == ProtocolVersion::V5 => Auth,
            _ => return None,
        })
    }

    /// The fixed header flags every packet but PUBLISH must carry.
    fn required_flags(self) -> u8 {
        match self {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
}

impl Packet {
    /// The packet's control type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// Appends the encoded packet (fixed header included) to `out`.
    ///
    /// `version` decides the wire format; a packet or field the version cannot express
    /// (AUTH, properties or reason codes other than success in 3.1.1, …) is an error, and
    /// `out` is left as it was on error. A CONNECT must be encoded with its own
    /// `protocol`. Anything [`Packet::decode`] would refuse is refused here too, so
    /// `decode(encode(p)) == p`.
    pub fn encode(&self, version: ProtocolVersion, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encode_as::<false>(version, out)
    }

    /// [`Packet::encode`] for a client: the packets only a server sends (CONNACK, SUBACK,
    /// UNSUBACK) are [`EncodeError::ServerOnlyPacket`] (and `out` is left as it was), so
    /// their encoders are not part of a client's code (~350 B of the gzipped MQTT-only
    /// module). PINGRESP, which has no body, is still encoded.
    pub fn encode_to_server(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        self.encode_as::<true>(version, out)
    }

    /// [`Packet::encode`], or [`Packet::encode_to_server`] when `TO_SERVER`.
    fn encode_as<const TO_SERVER: bool>(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let start = out.len();
        let t = self.packet_type();
        // The body is written first and the fixed header inserted in front of it once its
        // length is known, so no size pass is needed.
        out.push(0);
        let result = self
            .encode_body::<TO_SERVER>(version, out)
            .and_then(|flags| {
                if let Some(first) = out.get_mut(start) {
                    *first = ((t as u8) << 4) | flags;
                }
                prefix_len(out, start + 1)
            });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Writes the body and returns the fixed header flags.
    fn encode_body<const TO_SERVER: bool>(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<u8, EncodeError> {
        let t = self.packet_type();
        match self {
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) if TO_SERVER => {
                return Err(EncodeError::ServerOnlyPacket(t))
            }
            Packet::Connect(c) => c.encode(version, out)?,
            Packet::ConnAck(c) => c.encode(version, out)?,
            Packet::Publish(p) => return p.encode(version, out),
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                a.encode(t, version, out)?
            }
            Packet::Subscribe(s) => s.encode(version, out)?,
            Packet::SubAck(s) => s.encode(version, out)?,
            Packet::Unsubscribe(u) => u.encode(version, out)?,
            Packet::UnsubAck(u) => u.encode(version, out)?,
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(d) => d.encode(version, out)?,
            Packet::Auth(a) => a.encode(version, out)?,
        }
        Ok(t.required_flags())
    }

    /// Decodes one whole packet from the front of `buf`.
    ///
    /// `Ok(None)`: `buf` does not yet hold a whole packet. `Ok(Some((packet, n)))`: the packet
    /// took the first `n` bytes. A packet whose total size exceeds `max_packet_size` is
    /// refused as soon as its fixed header is readable, without waiting for its body.
    ///
    /// A CONNECT is parsed with the protocol level it carries, whatever `version` says.
    pub fn decode(
        version: ProtocolVersion,
        buf: &[u8],
        max_packet_size: usize,
    ) -> Result<Option<(Packet, usize)>, DecodeError> {
        Self::decode_as::<false>(version, buf, max_packet_size)
    }

    /// [`Packet::decode`] for a client: the packets only a client sends (CONNECT,
    /// SUBSCRIBE, UNSUBSCRIBE) are [`DecodeError::ClientOnlyPacket`] once whole (their
    /// fixed header checked like any other), never parsed, so their decoders are not part
    /// of a client's code (~2 KB of the gzipped MQTT-only module). PINGREQ, which has no
    /// body, is still decoded.
    pub fn decode_from_server(
        version: ProtocolVersion,
        buf: &[u8],
        max_packet_size: usize,
    ) -> Result<Option<(Packet, usize)>, DecodeError> {
        Self::decode_as::<true>(version, buf, max_packet_size)
    }

    /// [`Packet::decode`], or [`Packet::decode_from_server`] when `FROM_SERVER`.
    pub(crate) fn decode_as<const FROM_SERVER: bool>(
        version: ProtocolVersion,
        buf: &[u8],
        max_packet_size: usize,
    ) -> Result<Option<(Packet, usize)>, DecodeError> {
        let Some((&first, rest)) = buf.split_first() else {
            return Ok(None);
        };
        let t = PacketType::from_nibble(first >> 4, version)
            .ok_or(DecodeError::InvalidPacketType(first >> 4))?;
        let flags = first & 0x0F;
        if t == PacketType::Publish {
            let qos = QoS::from_u8((flags >> 1) & 0b11)?;
            if flags & 0b1000 != 0 && qos == QoS::AtMostOnce {
                return Err(DecodeError::DupWithQoS0);
            }
        } else if flags != t.required_flags() {
            return Err(DecodeError::InvalidHeaderFlags { packet: t, flags });
        }
        let (len, len_bytes) = match parse_varint(rest) {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(None),
            Err(()) => {
                return Err(DecodeError::MalformedVarInt {
                    field: "remaining length",
                })
            }
        };
        // At most 1 + 4 + 268,435,455, so saturation never happens with a 32-bit usize; it
        // only keeps the arithmetic obviously panic-free.
        let header = len_bytes.saturating_add(1);
        let size = header.saturating_add(len as usize);
        if size > max_packet_size {
            return Err(DecodeError::PacketTooLarge {
                size,
                max: max_packet_size,
            });
        }
        let Some(body) = buf.get(header..size) else {
            return Ok(None);
        };
        let mut r = Reader::new(body, t);
        let packet = match t {
            PacketType::Connect | PacketType::Subscribe | PacketType::Unsubscribe
                if FROM_SERVER =>
            {
                return Err(DecodeError::ClientOnlyPacket(t))
            }
            PacketType::Connect => Packet::Connect(Connect::decode(&mut r)?),
            PacketType::ConnAck => Packet::ConnAck(ConnAck::decode(version, &mut r)?),
            PacketType::Publish => Packet::Publish(Publish::decode(version, flags, &mut r)?),
            PacketType::PubAck => Packet::PubAck(Ack::decode(version, &mut r)?),
            PacketType::PubRec => Packet::PubRec(Ack::decode(version, &mut r)?),
            PacketType::PubRel => Packet::PubRel(Ack::decode(version, &mut r)?),
            PacketType::PubComp => Packet::PubComp(Ack::decode(version, &mut r)?),
            PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(version, &mut r)?),
            PacketType::SubAck => Packet::SubAck(SubAck::decode(version, &mut r)?),
            PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(version, &mut r)?),
            PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(version, &mut r)?),
            PacketType::PingReq => Packet::PingReq,
            PacketType::PingResp => Packet::PingResp,
            PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(version, &mut r)?),
            PacketType::Auth => Packet::Auth(Auth::decode(&mut r)?),
        };
        r.finish()?;
        Ok(Some((packet, size)))
    }
}

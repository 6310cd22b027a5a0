//! Malformed packets, each breaking one rule, with the exact error it must produce, both
//! from `Packet::decode` and from a `StreamDecoder` fed one byte at a time.
#![cfg(not(target_arch = "wasm32"))] // proptest, std::fs: native only

use imcore::mqtt::{
    DecodeError as E, Packet, PacketType as T, PropertyId as P, ProtocolVersion, ReasonCode as R,
    StreamDecoder,
};
use ProtocolVersion::{V311, V5};

const MAX: usize = 1 << 16;

/// (what, version, max packet size, bytes, expected error)
#[rustfmt::skip]
fn table() -> Vec<(&'static str, ProtocolVersion, usize, &'static [u8], E)> {
    vec![
        ("reserved packet type 0", V311, MAX, b"\x00\x00", E::InvalidPacketType(0)),
        ("AUTH in 3.1.1", V311, MAX, b"\xf0\x00", E::InvalidPacketType(15)),
        ("SUBSCRIBE flags 0000", V311, MAX, b"\x80\x00",
            E::InvalidHeaderFlags { packet: T::Subscribe, flags: 0 }),
        ("PUBACK flags 0010", V5, MAX, b"\x42\x02\x00\x01",
            E::InvalidHeaderFlags { packet: T::PubAck, flags: 2 }),
        ("PUBLISH QoS 3", V311, MAX, b"\x36\x00", E::InvalidQoS(3)),
        ("PUBLISH DUP at QoS 0", V311, MAX, b"\x38\x00", E::DupWithQoS0),
        ("remaining length of 5 bytes", V311, MAX, b"\x30\xff\xff\xff\xff\x01",
            E::MalformedVarInt { field: "remaining length" }),
        ("larger than max packet size", V311, 16, b"\x30\x7f", E::PacketTooLarge { size: 129, max: 16 }),
        ("CONNECT body shorter than protocol name", V311, MAX, b"\x10\x02\x00\x04",
            E::Truncated { packet: T::Connect, field: "protocol name" }),
        ("PINGREQ with a body", V311, MAX, b"\xc0\x01\x00", E::TrailingBytes { packet: T::PingReq }),
        ("3.1.1 DISCONNECT with a body", V311, MAX, b"\xe0\x01\x00", E::TrailingBytes { packet: T::Disconnect }),
        ("topic not UTF-8", V311, MAX, b"\x30\x04\x00\x02\xc3\x28", E::InvalidUtf8 { field: "topic" }),
        ("topic with U+0000", V311, MAX, b"\x30\x03\x00\x01\x00", E::NullCharacter { field: "topic" }),
        ("protocol name MQIsdp (3.1)", V311, MAX, b"\x10\x0c\x00\x06MQIsdp\x03\x02\x00\x0a",
            E::InvalidProtocolName),
        ("protocol level 3", V311, MAX, b"\x10\x0a\x00\x04MQTT\x03\x02\x00\x0a", E::UnsupportedProtocolLevel(3)),
        ("reserved CONNECT flag", V311, MAX, b"\x10\x0a\x00\x04MQTT\x04\x03\x00\x0a", E::ConnectReservedFlag),
        ("will QoS without will flag", V311, MAX, b"\x10\x0a\x00\x04MQTT\x04\x08\x00\x0a", E::WillFlagsWithoutWill),
        ("will QoS 3", V311, MAX, b"\x10\x0a\x00\x04MQTT\x04\x1c\x00\x0a", E::InvalidQoS(3)),
        ("3.1.1 password without user name", V311, MAX, b"\x10\x0a\x00\x04MQTT\x04\x40\x00\x0a",
            E::PasswordWithoutUsername),
        ("will topic with wildcard", V311, MAX,
            b"\x10\x12\x00\x04MQTT\x04\x04\x00\x0a\x00\x01c\x00\x01#\x00\x00", E::WildcardInTopicName),
        ("CONNACK flags bit 1", V311, MAX, b"\x20\x02\x02\x00", E::InvalidConnAckFlags(2)),
        ("CONNACK session present with error", V5, MAX, b"\x20\x03\x01\x80\x00", E::SessionPresentWithError),
        ("3.1.1 CONNACK return code 6", V311, MAX, b"\x20\x02\x00\x06",
            E::InvalidReasonCode { packet: T::ConnAck, code: 6 }),
        ("unknown reason code", V5, MAX, b"\x40\x03\x00\x01\x05", E::InvalidReasonCode { packet: T::PubAck, code: 5 }),
        ("GrantedQoS1 in PUBACK", V5, MAX, b"\x40\x03\x00\x01\x01",
            E::ReasonCodeNotAllowed { packet: T::PubAck, reason: R::GrantedQoS1 }),
        ("failure in AUTH", V5, MAX, b"\xf0\x01\x80",
            E::ReasonCodeNotAllowed { packet: T::Auth, reason: R::UnspecifiedError }),
        ("3.1.1 SUBACK code 0x87", V311, MAX, b"\x90\x03\x00\x01\x87",
            E::InvalidReasonCode { packet: T::SubAck, code: 0x87 }),
        ("PUBLISH topic with +", V311, MAX, b"\x30\x05\x00\x03a/+", E::WildcardInTopicName),
        ("empty topic without alias", V5, MAX, b"\x30\x03\x00\x00\x00", E::EmptyTopicName),
        ("PUBLISH QoS 1 packet id 0", V311, MAX, b"\x32\x05\x00\x01a\x00\x00", E::ZeroPacketId { packet: T::Publish }),
        ("PUBACK packet id 0", V311, MAX, b"\x40\x02\x00\x00", E::ZeroPacketId { packet: T::PubAck }),
        ("SUBSCRIBE without filters", V311, MAX, b"\x82\x02\x00\x01", E::NoTopicFilters { packet: T::Subscribe }),
        ("UNSUBSCRIBE without filters", V5, MAX, b"\xa2\x03\x00\x01\x00", E::NoTopicFilters { packet: T::Unsubscribe }),
        ("empty topic filter", V311, MAX, b"\x82\x05\x00\x01\x00\x00\x00", E::EmptyTopicFilter),
        ("SUBACK without reason codes", V311, MAX, b"\x90\x02\x00\x01", E::NoReasonCodes { packet: T::SubAck }),
        ("5.0 UNSUBACK without reason codes", V5, MAX, b"\xb0\x03\x00\x01\x00", E::NoReasonCodes { packet: T::UnsubAck }),
        ("3.1.1 subscription option bit 2", V311, MAX, b"\x82\x06\x00\x01\x00\x01a\x04",
            E::InvalidSubscriptionOptions(4)),
        ("5.0 subscription option bit 6", V5, MAX, b"\x82\x07\x00\x01\x00\x00\x01a\x40",
            E::InvalidSubscriptionOptions(0x40)),
        ("retain handling 3", V5, MAX, b"\x82\x07\x00\x01\x00\x00\x01a\x30", E::InvalidRetainHandling),
        ("subscription QoS 3", V311, MAX, b"\x82\x06\x00\x01\x00\x01a\x03", E::InvalidQoS(3)),
        ("unknown property 0x05", V5, MAX, b"\xe0\x03\x00\x01\x05", E::UnknownProperty(5)),
        ("topic alias in DISCONNECT", V5, MAX, b"\xe0\x05\x00\x03\x23\x00\x01",
            E::PropertyNotAllowed { packet: T::Disconnect, id: P::TopicAlias }),
        ("will delay in CONNECT properties", V5, MAX, b"\x10\x10\x00\x04MQTT\x05\x00\x00\x0a\x05\x18\x00\x00\x00\x01",
            E::PropertyNotAllowed { packet: T::Connect, id: P::WillDelayInterval }),
        ("session expiry twice", V5, MAX, b"\xe0\x0c\x00\x0a\x11\x00\x00\x00\x01\x11\x00\x00\x00\x02",
            E::DuplicateProperty(P::SessionExpiryInterval)),
        ("two subscription identifiers in SUBSCRIBE", V5, MAX, b"\x82\x0b\x00\x01\x04\x0b\x01\x0b\x02\x00\x01a\x00",
            E::DuplicateProperty(P::SubscriptionIdentifier)),
        ("receive maximum 0", V5, MAX, b"\x20\x06\x00\x00\x03\x21\x00\x00", E::InvalidPropertyValue(P::ReceiveMaximum)),
        ("payload format indicator 2", V5, MAX, b"\x30\x06\x00\x01a\x02\x01\x02",
            E::InvalidPropertyValue(P::PayloadFormatIndicator)),
        ("subscription identifier 0", V5, MAX, b"\x30\x06\x00\x01a\x02\x0b\x00",
            E::InvalidPropertyValue(P::SubscriptionIdentifier)),
        ("topic alias 0", V5, MAX, b"\x30\x07\x00\x01a\x03\x23\x00\x00", E::InvalidPropertyValue(P::TopicAlias)),
        ("property length of 5 bytes", V5, MAX, b"\xe0\x06\x00\xff\xff\xff\xff\x01",
            E::MalformedVarInt { field: "property length" }),
        ("property length past the packet", V5, MAX, b"\xe0\x03\x00\x05\x11",
            E::Truncated { packet: T::Disconnect, field: "properties" }),
        ("property value past the property block", V5, MAX, b"\xe0\x06\x00\x02\x11\x00\x00\x00",
            E::Truncated { packet: T::Disconnect, field: "properties" }),
        ("5.0 CONNACK without property length", V5, MAX, b"\x20\x02\x00\x00",
            E::Truncated { packet: T::ConnAck, field: "property length" }),
    ]
}

#[test]
fn malformed_packets() {
    let rows = table();
    assert!(rows.len() >= 30);
    for (what, v, max, bytes, expected) in rows {
        assert_eq!(
            Packet::decode(v, bytes, max),
            Err(expected),
            "decode: {what}"
        );
        let mut d = StreamDecoder::new(v, max);
        let mut got = Ok(None);
        for b in bytes {
            d.push(std::slice::from_ref(b));
            got = d.next_packet();
            if got.is_err() {
                break;
            }
        }
        assert_eq!(got, Err(expected), "stream: {what}");
        // Errors are sticky.
        d.push(b"\xc0\x00");
        assert_eq!(d.next_packet(), Err(expected), "sticky: {what}");
    }
}

#[test]
fn every_decode_error_variant_is_covered() {
    // A new variant must get a row: this match stops compiling until it is listed.
    let mut seen = std::collections::HashSet::new();
    for (_, _, _, _, e) in table() {
        let name = match e {
            E::UnsupportedProtocolLevel(_) => "UnsupportedProtocolLevel",
            E::InvalidQoS(_) => "InvalidQoS",
            E::InvalidPacketType(_) => "InvalidPacketType",
            E::InvalidHeaderFlags { .. } => "InvalidHeaderFlags",
            E::DupWithQoS0 => "DupWithQoS0",
            E::MalformedVarInt { .. } => "MalformedVarInt",
            E::PacketTooLarge { .. } => "PacketTooLarge",
            E::Truncated { .. } => "Truncated",
            E::TrailingBytes { .. } => "TrailingBytes",
            E::InvalidUtf8 { .. } => "InvalidUtf8",
            E::NullCharacter { .. } => "NullCharacter",
            E::InvalidProtocolName => "InvalidProtocolName",
            E::ConnectReservedFlag => "ConnectReservedFlag",
            E::WillFlagsWithoutWill => "WillFlagsWithoutWill",
            E::PasswordWithoutUsername => "PasswordWithoutUsername",
            E::InvalidConnAckFlags(_) => "InvalidConnAckFlags",
            E::SessionPresentWithError => "SessionPresentWithError",
            E::InvalidReasonCode { .. } => "InvalidReasonCode",
            E::ReasonCodeNotAllowed { .. } => "ReasonCodeNotAllowed",
            E::WildcardInTopicName => "WildcardInTopicName",
            E::EmptyTopicName => "EmptyTopicName",
            E::ZeroPacketId { .. } => "ZeroPacketId",
            E::NoTopicFilters { .. } => "NoTopicFilters",
            E::EmptyTopicFilter => "EmptyTopicFilter",
            E::NoReasonCodes { .. } => "NoReasonCodes",
            E::InvalidSubscriptionOptions(_) => "InvalidSubscriptionOptions",
            E::InvalidRetainHandling => "InvalidRetainHandling",
            E::UnknownProperty(_) => "UnknownProperty",
            E::PropertyNotAllowed { .. } => "PropertyNotAllowed",
            E::DuplicateProperty(_) => "DuplicateProperty",
            E::InvalidPropertyValue(_) => "InvalidPropertyValue",
            // Only from Packet::decode_from_server: see client_only_packets below.
            E::ClientOnlyPacket(_) => "ClientOnlyPacket",
        };
        seen.insert(name);
    }
    assert_eq!(seen.len(), 31, "{seen:?}");
}

/// A client's decoder (`Packet::decode_from_server`, `StreamDecoder::from_server`) refuses
/// CONNECT, SUBSCRIBE and UNSUBSCRIBE unparsed once whole, and gives every other row of the
/// table the same error as `Packet::decode`.
#[test]
fn client_only_packets() {
    let client_only = [T::Connect, T::Subscribe, T::Unsubscribe];
    for (what, v, max, bytes, expected) in table() {
        let nibble = bytes.first().map(|b| b >> 4);
        let refused = client_only
            .into_iter()
            .find(|t| Some(*t as u8) == nibble)
            .map(E::ClientOnlyPacket);
        let got = Packet::decode_from_server(v, bytes, max);
        match (&got, refused) {
            // Header errors (flags, size, remaining length) come first, as for any packet.
            (Err(e), Some(r)) => assert!(*e == expected || *e == r, "decode: {what}: {e:?}"),
            _ => assert_eq!(got, Err(expected), "decode: {what}"),
        }
        let mut d = StreamDecoder::from_server(v, max);
        d.push(bytes);
        assert_eq!(
            d.next_packet().map(|_| ()),
            got.map(|_| ()),
            "stream: {what}"
        );
    }
    // Well-formed ones: SUBSCRIBE id 1 "a"; UNSUBSCRIBE id 1 "a"; a 3.1.1 CONNECT.
    let rows: [(&[u8], T); 3] = [
        (b"\x82\x06\x00\x01\x00\x01a\x00", T::Subscribe),
        (b"\xa2\x05\x00\x01\x00\x01a", T::Unsubscribe),
        (b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", T::Connect),
    ];
    for (bytes, t) in rows {
        assert!(
            matches!(Packet::decode(V311, bytes, MAX), Ok(Some(_))),
            "{t:?}"
        );
        assert_eq!(
            Packet::decode_from_server(V311, bytes, MAX),
            Err(E::ClientOnlyPacket(t)),
            "{t:?}"
        );
    }
}

/// A client's encoder (`Packet::encode_to_server`) refuses CONNACK, SUBACK and UNSUBACK,
/// leaving the buffer as it was, and writes every other packet as `Packet::encode` does.
#[test]
fn server_only_packets() {
    let rows: [(&[u8], Option<T>); 6] = [
        (b"\x20\x02\x00\x00", Some(T::ConnAck)),
        (b"\x90\x03\x00\x01\x00", Some(T::SubAck)),
        (b"\xb0\x02\x00\x01", Some(T::UnsubAck)),
        (b"\xc0\x00", None),
        (b"\xd0\x00", None),
        (b"\x82\x06\x00\x01\x00\x01a\x00", None),
    ];
    for (bytes, refused) in rows {
        let Ok(Some((packet, _))) = Packet::decode(V311, bytes, MAX) else {
            panic!("{bytes:?} does not decode");
        };
        let mut out = b"before".to_vec();
        packet.encode(V311, &mut out).unwrap();
        assert_eq!(out.get(6..), Some(bytes));
        let mut out = b"before".to_vec();
        let got = packet.encode_to_server(V311, &mut out);
        match refused {
            Some(t) => {
                assert_eq!(got, Err(imcore::mqtt::EncodeError::ServerOnlyPacket(t)));
                assert_eq!(out, b"before");
            }
            None => {
                assert_eq!(got, Ok(()));
                assert_eq!(out.get(6..), Some(bytes));
            }
        }
    }
}

//! Property tests of the MQTT codec: every valid packet round-trips in both versions,
//! stream reassembly does not depend on how the bytes are split, and arbitrary bytes never
//! panic nor produce a packet that fails to round-trip.
#![cfg(not(target_arch = "wasm32"))] // proptest, std::fs: native only

use imcore::mqtt::{
    fuzz_check, Ack, Auth, ConnAck, Connect, Disconnect, Packet, PacketType, Properties,
    PropertyId, ProtocolVersion, Publish, QoS, ReasonCode, RetainHandling, StreamDecoder, SubAck,
    Subscribe, SubscribeFilter, UnsubAck, Unsubscribe, Will,
};
use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::select;

use PropertyId::*;
use ProtocolVersion::{V311, V5};

const MAX: usize = 1 << 20;

// Which properties each packet may carry, written out from spec table 2.2.2.2 rather than
// taken from the library, so the two are checked against each other.
const CONNECT: &[PropertyId] = &[
    SessionExpiryInterval,
    AuthenticationMethod,
    AuthenticationData,
    RequestProblemInformation,
    RequestResponseInformation,
    ReceiveMaximum,
    TopicAliasMaximum,
    UserProperty,
    MaximumPacketSize,
];
const WILL: &[PropertyId] = &[
    PayloadFormatIndicator,
    MessageExpiryInterval,
    ContentType,
    ResponseTopic,
    CorrelationData,
    WillDelayInterval,
    UserProperty,
];
const CONNACK: &[PropertyId] = &[
    SessionExpiryInterval,
    AssignedClientIdentifier,
    ServerKeepAlive,
    AuthenticationMethod,
    AuthenticationData,
    ResponseInformation,
    ServerReference,
    ReasonString,
    ReceiveMaximum,
    TopicAliasMaximum,
    MaximumQoS,
    RetainAvailable,
    UserProperty,
    MaximumPacketSize,
    WildcardSubscriptionAvailable,
    SubscriptionIdentifierAvailable,
    SharedSubscriptionAvailable,
];
const PUBLISH: &[PropertyId] = &[
    PayloadFormatIndicator,
    MessageExpiryInterval,
    ContentType,
    ResponseTopic,
    CorrelationData,
    SubscriptionIdentifier,
    TopicAlias,
    UserProperty,
];
const ACK: &[PropertyId] = &[ReasonString, UserProperty];
const SUBSCRIBE: &[PropertyId] = &[SubscriptionIdentifier, UserProperty];
const UNSUBSCRIBE: &[PropertyId] = &[UserProperty];
const DISCONNECT: &[PropertyId] = &[
    SessionExpiryInterval,
    ServerReference,
    ReasonString,
    UserProperty,
];
const AUTH: &[PropertyId] = &[
    AuthenticationMethod,
    AuthenticationData,
    ReasonString,
    UserProperty,
];

fn allowed(t: PacketType) -> &'static [PropertyId] {
    match t {
        PacketType::Connect => CONNECT,
        PacketType::ConnAck => CONNACK,
        PacketType::Publish => PUBLISH,
        PacketType::PubAck
        | PacketType::PubRec
        | PacketType::PubRel
        | PacketType::PubComp
        | PacketType::SubAck
        | PacketType::UnsubAck => ACK,
        PacketType::Subscribe => SUBSCRIBE,
        PacketType::Unsubscribe => UNSUBSCRIBE,
        PacketType::Disconnect => DISCONNECT,
        PacketType::Auth => AUTH,
        PacketType::PingReq | PacketType::PingResp => &[],
    }
}

const ALL_TYPES: [PacketType; 15] = [
    PacketType::Connect,
    PacketType::ConnAck,
    PacketType::Publish,
    PacketType::PubAck,
    PacketType::PubRec,
    PacketType::PubRel,
    PacketType::PubComp,
    PacketType::Subscribe,
    PacketType::SubAck,
    PacketType::Unsubscribe,
    PacketType::UnsubAck,
    PacketType::PingReq,
    PacketType::PingResp,
    PacketType::Disconnect,
    PacketType::Auth,
];

#[test]
fn property_tables_match_the_spec() {
    for t in ALL_TYPES {
        for raw in 0..=255u8 {
            if let Ok(id) = PropertyId::try_from(raw) {
                assert_eq!(id as u8, raw);
                assert_eq!(
                    id.is_allowed_in(t),
                    allowed(t).contains(&id),
                    "{id:?} in {t:?}"
                );
            }
        }
    }
}

/// Any string MQTT accepts: valid UTF-8 without U+0000.
fn text() -> impl Strategy<Value = String> {
    "[^\\x00]{0,8}"
}

fn topic_name() -> impl Strategy<Value = String> {
    "[^\\x00+#]{1,8}"
}

fn topic_filter() -> impl Strategy<Value = String> {
    "[^\\x00]{1,8}"
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..16)
}

fn flag() -> impl Strategy<Value = u8> {
    0..=1u8
}

fn some<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    weighted(0.25, s)
}

/// Properties with every field at a valid value (or absent).
fn any_properties() -> impl Strategy<Value = Properties> {
    let a = (
        some(flag()),
        some(any::<u32>()),
        some(text()),
        some(text()),
        some(bytes()),
        vec(1..=268_435_455u32, 0..3),
        some(any::<u32>()),
        some(text()),
        some(any::<u16>()),
        some(text()),
        some(bytes()),
        some(flag()),
    );
    let b = (
        some(any::<u32>()),
        some(flag()),
        some(text()),
        some(text()),
        some(text()),
        some(1..=u16::MAX),
        some(any::<u16>()),
        some(1..=u16::MAX),
        some(flag()),
        some(flag()),
        vec((text(), text()), 0..3),
        some(1..=u32::MAX),
    );
    let c = (some(flag()), some(flag()), some(flag()));
    (a, b, c).prop_map(
        |(
            (pfi, mei, ct, rt, cd, subs, sei, aci, ska, am, ad, rpi),
            (wdi, rri, ri, sr, rs, rm, tam, ta, mq, ra, up, mps),
            (wsa, sia, ssa),
        )| Properties {
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            content_type: ct,
            response_topic: rt,
            correlation_data: cd,
            subscription_identifiers: subs,
            session_expiry_interval: sei,
            assigned_client_identifier: aci,
            server_keep_alive: ska,
            authentication_method: am,
            authentication_data: ad,
            request_problem_information: rpi,
            will_delay_interval: wdi,
            request_response_information: rri,
            response_information: ri,
            server_reference: sr,
            reason_string: rs,
            receive_maximum: rm,
            topic_alias_maximum: tam,
            topic_alias: ta,
            maximum_qos: mq,
            retain_available: ra,
            user_properties: up,
            maximum_packet_size: mps,
            wildcard_subscription_available: wsa,
            subscription_identifier_available: sia,
            shared_subscription_available: ssa,
        },
    )
}

/// Drops every property not in `keep`.
fn restrict(mut p: Properties, keep: &[PropertyId]) -> Properties {
    fn drop<T>(keep: &[PropertyId], id: PropertyId, v: &mut Option<T>) {
        if !keep.contains(&id) {
            *v = None;
        }
    }
    drop(
        keep,
        PayloadFormatIndicator,
        &mut p.payload_format_indicator,
    );
    drop(keep, MessageExpiryInterval, &mut p.message_expiry_interval);
    drop(keep, ContentType, &mut p.content_type);
    drop(keep, ResponseTopic, &mut p.response_topic);
    drop(keep, CorrelationData, &mut p.correlation_data);
    if !keep.contains(&SubscriptionIdentifier) {
        p.subscription_identifiers.clear();
    }
    drop(keep, SessionExpiryInterval, &mut p.session_expiry_interval);
    drop(
        keep,
        AssignedClientIdentifier,
        &mut p.assigned_client_identifier,
    );
    drop(keep, ServerKeepAlive, &mut p.server_keep_alive);
    drop(keep, AuthenticationMethod, &mut p.authentication_method);
    drop(keep, AuthenticationData, &mut p.authentication_data);
    drop(
        keep,
        RequestProblemInformation,
        &mut p.request_problem_information,
    );
    drop(keep, WillDelayInterval, &mut p.will_delay_interval);
    drop(
        keep,
        RequestResponseInformation,
        &mut p.request_response_information,
    );
    drop(keep, ResponseInformation, &mut p.response_information);
    drop(keep, ServerReference, &mut p.server_reference);
    drop(keep, ReasonString, &mut p.reason_string);
    drop(keep, ReceiveMaximum, &mut p.receive_maximum);
    drop(keep, TopicAliasMaximum, &mut p.topic_alias_maximum);
    drop(keep, TopicAlias, &mut p.topic_alias);
    drop(keep, MaximumQoS, &mut p.maximum_qos);
    drop(keep, RetainAvailable, &mut p.retain_available);
    if !keep.contains(&UserProperty) {
        p.user_properties.clear();
    }
    drop(keep, MaximumPacketSize, &mut p.maximum_packet_size);
    drop(
        keep,
        WildcardSubscriptionAvailable,
        &mut p.wildcard_subscription_available,
    );
    drop(
        keep,
        SubscriptionIdentifierAvailable,
        &mut p.subscription_identifier_available,
    );
    drop(
        keep,
        SharedSubscriptionAvailable,
        &mut p.shared_subscription_available,
    );
    p
}

/// Properties for `keep` in 5.0, none in 3.1.1.
fn props(v: ProtocolVersion, keep: &'static [PropertyId]) -> BoxedStrategy<Properties> {
    match v {
        V311 => Just(Properties::default()).boxed(),
        V5 => any_properties()
            .prop_map(move |p| restrict(p, keep))
            .boxed(),
    }
}

fn qos() -> impl Strategy<Value = QoS> {
    select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
}

fn packet_id() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

/// Reason codes `t` may carry in `v`.
fn reason(v: ProtocolVersion, t: PacketType) -> BoxedStrategy<ReasonCode> {
    use ReasonCode as R;
    let codes: Vec<ReasonCode> = match (v, t) {
        (V311, PacketType::ConnAck) => vec![
            R::Success,
            R::UnsupportedProtocolVersion,
            R::ClientIdentifierNotValid,
            R::ServerUnavailable,
            R::BadUserNameOrPassword,
            R::NotAuthorized,
        ],
        (V311, PacketType::SubAck) => {
            vec![
                R::Success,
                R::GrantedQoS1,
                R::GrantedQoS2,
                R::UnspecifiedError,
            ]
        }
        (V311, _) => vec![R::Success],
        (V5, _) => (0..=255u8)
            .filter_map(|b| ReasonCode::try_from(b).ok())
            .filter(|r| r.is_valid_for(t))
            .collect(),
    };
    select(codes).boxed()
}

fn connect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let will = (topic_name(), bytes(), qos(), any::<bool>(), props(v, WILL)).prop_map(
        |(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        },
    );
    (
        any::<bool>(),
        any::<u16>(),
        text(),
        weighted(0.5, will),
        weighted(0.5, text()),
        weighted(0.5, bytes()),
        props(v, CONNECT),
    )
        .prop_map(
            move |(
                clean_start,
                keep_alive,
                client_id,
                will,
                mut username,
                password,
                properties,
            )| {
                if v == V311 && password.is_some() && username.is_none() {
                    username = Some(String::new());
                }
                Packet::Connect(Connect {
                    protocol: v,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                })
            },
        )
}

fn connack(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        reason(v, PacketType::ConnAck),
        props(v, CONNACK),
    )
        .prop_map(|(session_present, reason, properties)| {
            Packet::ConnAck(ConnAck {
                session_present: session_present && !reason.is_error(),
                reason,
                properties,
            })
        })
}

fn publish(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        (any::<bool>(), qos(), any::<bool>()),
        topic_name(),
        packet_id(),
        props(v, PUBLISH),
        vec(any::<u8>(), 0..64),
        (any::<bool>(), 1..=u16::MAX),
    )
        .prop_map(
            move |((dup, qos, retain), mut topic, id, mut properties, payload, (alias, a))| {
                if v == V5 && alias {
                    topic.clear();
                    properties.topic_alias = Some(a);
                }
                let packet_id = (qos != QoS::AtMostOnce).then_some(id);
                Packet::Publish(Publish {
                    dup: dup && packet_id.is_some(),
                    qos,
                    retain,
                    topic,
                    packet_id,
                    properties,
                    payload,
                })
            },
        )
}

fn ack(v: ProtocolVersion, t: PacketType) -> impl Strategy<Value = Packet> {
    (packet_id(), reason(v, t), props(v, ACK)).prop_map(move |(packet_id, reason, properties)| {
        let a = Ack {
            packet_id,
            reason,
            properties,
        };
        match t {
            PacketType::PubAck => Packet::PubAck(a),
            PacketType::PubRec => Packet::PubRec(a),
            PacketType::PubRel => Packet::PubRel(a),
            _ => Packet::PubComp(a),
        }
    })
}

fn subscribe(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let filter = (
        topic_filter(),
        qos(),
        any::<bool>(),
        any::<bool>(),
        select(vec![
            RetainHandling::SendAtSubscribe,
            RetainHandling::SendAtSubscribeIfNew,
            RetainHandling::DoNotSend,
        ]),
    )
        .prop_map(move |(filter, qos, no_local, rap, rh)| {
            let mut f = SubscribeFilter::new(filter, qos);
            if v == V5 {
                f.no_local = no_local;
                f.retain_as_published = rap;
                f.retain_handling = rh;
            }
            f
        });
    (packet_id(), vec(filter, 1..4), props(v, SUBSCRIBE)).prop_map(
        |(packet_id, filters, mut properties)| {
            properties.subscription_identifiers.truncate(1);
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties,
            })
        },
    )
}

fn suback(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        vec(reason(v, PacketType::SubAck), 1..4),
        props(v, ACK),
    )
        .prop_map(|(packet_id, reasons, properties)| {
            Packet::SubAck(SubAck {
                packet_id,
                reasons,
                properties,
            })
        })
}

fn unsubscribe(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        vec(topic_filter(), 1..4),
        props(v, UNSUBSCRIBE),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn unsuback(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let reasons = match v {
        V311 => Just(Vec::new()).boxed(),
        V5 => vec(reason(v, PacketType::UnsubAck), 1..4).boxed(),
    };
    (packet_id(), reasons, props(v, ACK)).prop_map(|(packet_id, reasons, properties)| {
        Packet::UnsubAck(UnsubAck {
            packet_id,
            reasons,
            properties,
        })
    })
}

fn disconnect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (reason(v, PacketType::Disconnect), props(v, DISCONNECT))
        .prop_map(|(reason, properties)| Packet::Disconnect(Disconnect { reason, properties }))
}

fn auth() -> impl Strategy<Value = Packet> {
    (reason(V5, PacketType::Auth), props(V5, AUTH))
        .prop_map(|(reason, properties)| Packet::Auth(Auth { reason, properties }))
}

/// Any packet `v` can express.
fn packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let common = prop_oneof![
        connect(v),
        connack(v),
        publish(v),
        ack(v, PacketType::PubAck),
        ack(v, PacketType::PubRec),
        ack(v, PacketType::PubRel),
        ack(v, PacketType::PubComp),
        subscribe(v),
        suback(v),
        unsubscribe(v),
        unsuback(v),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        disconnect(v),
    ];
    match v {
        V311 => common.boxed(),
        V5 => prop_oneof![14 => common, 1 => auth()].boxed(),
    }
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    select(vec![V311, V5])
}

fn encode(v: ProtocolVersion, p: &Packet) -> Vec<u8> {
    let mut out = Vec::new();
    p.encode(v, &mut out)
        .unwrap_or_else(|e| panic!("encoding {p:?}: {e}"));
    out
}

fn round_trip(v: ProtocolVersion, p: &Packet) -> Result<(), TestCaseError> {
    let bytes = encode(v, p);
    prop_assert_eq!(
        Packet::decode(v, &bytes, MAX),
        Ok(Some((p.clone(), bytes.len())))
    );
    // Every strict prefix is "need more bytes", never an error.
    for n in 0..bytes.len() {
        prop_assert_eq!(Packet::decode(v, &bytes[..n], MAX), Ok(None));
    }
    // Bytes after the packet are left for the next one.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0xC0, 0]);
    prop_assert_eq!(
        Packet::decode(v, &longer, MAX),
        Ok(Some((p.clone(), bytes.len())))
    );
    Ok(())
}

/// Decodes a stream fed in chunks of the given sizes (cycled), until the bytes run out.
fn feed(v: ProtocolVersion, bytes: &[u8], chunks: &[usize]) -> Vec<Packet> {
    let mut d = StreamDecoder::new(v, MAX);
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        let (head, tail) = rest.split_at(n);
        d.push(head);
        rest = tail;
        while let Some(p) = d.next_packet().expect("valid stream") {
            out.push(p);
        }
    }
    assert_eq!(d.buffered(), 0);
    out
}

proptest! {
    #[test]
    fn round_trip_v311(p in packet(V311)) {
        round_trip(V311, &p)?;
    }

    #[test]
    fn round_trip_v5(p in packet(V5)) {
        round_trip(V5, &p)?;
    }

    #[test]
    fn stream_splitting(
        (v, packets) in version().prop_flat_map(|v| (Just(v), vec(packet(v), 0..8))),
        chunks in vec(1usize..40, 1..16),
    ) {
        let bytes: Vec<u8> = packets.iter().flat_map(|p| encode(v, p)).collect();
        prop_assert_eq!(&feed(v, &bytes, &[bytes.len().max(1)]), &packets);
        prop_assert_eq!(&feed(v, &bytes, &[1]), &packets);
        prop_assert_eq!(&feed(v, &bytes, &chunks), &packets);
    }

    #[test]
    fn random_bytes_never_panic(data in vec(any::<u8>(), 0..200)) {
        for v in [V311, V5] {
            for max in [4, 64, MAX] {
                let _ = Packet::decode(v, &data, max);
                let mut d = StreamDecoder::new(v, max);
                for chunk in data.chunks(7) {
                    d.push(chunk);
                    while let Ok(Some(_)) = d.next_packet() {}
                }
            }
        }
        prop_assert_eq!(fuzz_check(&data).err(), None);
    }

    /// Valid packets with a few bytes changed reach far deeper than random bytes; whatever
    /// still decodes must round-trip.
    #[test]
    fn mutated_packets_round_trip(
        (v, p) in version().prop_flat_map(|v| (Just(v), packet(v))),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        chunk in 0u8..128,
    ) {
        let mut bytes = encode(v, &p);
        for (i, b) in edits {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let ctl = (chunk << 1) | u8::from(v == V5);
        let data: Vec<u8> = std::iter::once(ctl).chain(bytes).collect();
        prop_assert_eq!(fuzz_check(&data).err(), None);
    }
}

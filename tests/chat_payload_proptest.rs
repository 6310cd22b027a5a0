//! Property tests of the chat payload codecs: every value a format can carry round-trips
//! through it; whatever `encode` accepts decodes back to itself; ids written as decimal
//! strings and `msg_content` written as a string decode the same; arbitrary (and mutated)
//! payloads never panic, and whatever they decode to encodes back.
#![cfg(not(target_arch = "wasm32"))] // proptest: native only

use imcore::chat::payload::{decode, encode, PayloadFormat};
use imcore::chat::{Content, ConversationId, Incoming, WireMessage};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use PayloadFormat::{Json, Protobuf};

/// The `msg_type`s with a meaning; `Content::Custom` uses any other.
const KNOWN_TYPES: [i64; 7] = [1, 2, 3, 5, 6, 7, 8];

/// Every top-level field a payload may carry, and one nobody reads.
const FIELDS: [&str; 16] = [
    "id",
    "msg_id",
    "conversation_id",
    "sender_id",
    "receiver_id",
    "msg_type",
    "msg_content",
    "is_read",
    "status",
    "weight",
    "read_weight",
    "avatar",
    "nick_name",
    "members",
    "create_time",
    "unknown",
];

/// Ids, small, around 2^53 (the JS limit) and anywhere in u64.
fn id() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..10, (1u64 << 53) - 2..(1u64 << 53) + 2, any::<u64>(),]
}

fn conversation() -> impl Strategy<Value = ConversationId> {
    prop_oneof![
        (id(), id()).prop_filter_map("self conversation", |(a, b)| ConversationId::direct(a, b)),
        id().prop_map(ConversationId::Room),
    ]
}

/// Any JSON value (non-finite floats become `null`).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(".{0,4}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn custom_type() -> impl Strategy<Value = i64> {
    prop_oneof![-2i64..50, any::<i64>()].prop_filter("known msg_type", |t| !KNOWN_TYPES.contains(t))
}

/// Content JSON can carry: `Custom.raw` is one JSON value, compact or pretty-printed.
fn content() -> impl Strategy<Value = Content> {
    prop_oneof![
        any::<String>().prop_map(|text| Content::Text { text }),
        (any::<String>(), option::of(any::<String>()))
            .prop_map(|(url, cover)| Content::Image { url, cover }),
        (any::<String>(), option::of(any::<String>()))
            .prop_map(|(url, cover)| Content::Video { url, cover }),
        any::<String>().prop_map(|text| Content::System { text }),
        (custom_type(), json_value(), any::<bool>()).prop_map(|(msg_type, v, pretty)| {
            Content::Custom {
                msg_type,
                raw: if pretty {
                    serde_json::to_string_pretty(&v).unwrap()
                } else {
                    v.to_string()
                },
            }
        }),
    ]
}

/// A member of `c` (either side of a 1:1 conversation, anyone in a room) and whom they
/// send to (the peer, or the room).
fn route(c: ConversationId, low_sends: bool, anyone: u64) -> (u64, u64) {
    match c {
        ConversationId::Direct { low, high } if low_sends => (low, high),
        ConversationId::Direct { low, high } => (high, low),
        ConversationId::Room(room) => (anyone, room),
    }
}

/// A message JSON can carry: sender and receiver match the conversation.
fn message() -> impl Strategy<Value = WireMessage> {
    (
        (conversation(), any::<bool>(), id()),
        id(),
        content(),
        id(),
        any::<bool>(),
        any::<bool>(),
        option::of(any::<String>()),
        option::of(any::<String>()),
    )
        .prop_map(
            |((c, low_sends, anyone), id, content, weight, is_read, revoked, name, avatar)| {
                let (sender_id, receiver_id) = route(c, low_sends, anyone);
                WireMessage {
                    id,
                    conversation_id: c,
                    sender_id,
                    receiver_id,
                    content,
                    weight,
                    is_read,
                    revoked,
                    sender_name: name.map(Into::into),
                    sender_avatar: avatar.map(Into::into),
                }
            },
        )
}

/// Any value JSON can carry, every variant.
fn json_incoming() -> impl Strategy<Value = Incoming> {
    prop_oneof![
        4 => message().prop_map(Incoming::Message),
        1 => (id(), conversation()).prop_map(|(msg_id, conversation_id)| Incoming::Revoke {
            msg_id,
            conversation_id,
        }),
        1 => (conversation(), any::<bool>(), id(), option::of(id())).prop_map(
            |(c, low_sends, anyone, up_to_weight)| Incoming::Read {
                sender_id: route(c, low_sends, anyone).0,
                conversation_id: c,
                up_to_weight,
            }
        ),
        1 => (id(), vec(id(), 0..6)).prop_map(|(room, members)| Incoming::Members {
            conversation_id: ConversationId::Room(room),
            members,
        }),
    ]
}

/// What protobuf carries: a 1:1 text message, unread, not revoked, without name/avatar.
fn proto_incoming() -> impl Strategy<Value = Incoming> {
    (id(), id(), id(), any::<String>(), id()).prop_filter_map(
        "self message",
        |(id, sender_id, receiver_id, text, weight)| {
            Some(Incoming::Message(WireMessage {
                id,
                conversation_id: ConversationId::direct(sender_id, receiver_id)?,
                sender_id,
                receiver_id,
                content: Content::Text { text },
                weight,
                is_read: false,
                revoked: false,
                sender_name: None,
                sender_avatar: None,
            }))
        },
    )
}

/// Any value at all, consistent or not: mismatched routes, custom content reusing known
/// types or with raw text that is not compact JSON, member lists of 1:1 conversations.
fn any_incoming() -> impl Strategy<Value = Incoming> {
    let content = prop_oneof![
        3 => content(),
        1 => (select(KNOWN_TYPES.to_vec()), ".{0,6}")
            .prop_map(|(msg_type, raw)| Content::Custom { msg_type, raw }),
        1 => (custom_type(), prop_oneof![Just(" 1".to_string()), Just("{\"b\":1,\"a\":2}".to_string()), ".{0,6}"])
            .prop_map(|(msg_type, raw)| Content::Custom { msg_type, raw }),
    ];
    let message = (
        (conversation(), id(), id()),
        id(),
        content,
        id(),
        any::<bool>(),
        any::<bool>(),
        option::of(".{0,3}"),
        option::of(".{0,3}"),
    )
        .prop_map(
            |(
                (conversation_id, sender_id, receiver_id),
                id,
                content,
                weight,
                is_read,
                revoked,
                name,
                avatar,
            )| {
                WireMessage {
                    id,
                    conversation_id,
                    sender_id,
                    receiver_id,
                    content,
                    weight,
                    is_read,
                    revoked,
                    sender_name: name.map(Into::into),
                    sender_avatar: avatar.map(Into::into),
                }
            },
        );
    prop_oneof![
        3 => message.prop_map(Incoming::Message),
        1 => proto_incoming(),
        1 => json_incoming(),
        1 => (id(), conversation(), option::of(id())).prop_map(
            |(sender_id, conversation_id, up_to_weight)| Incoming::Read {
                sender_id,
                conversation_id,
                up_to_weight,
            }
        ),
        1 => (conversation(), vec(id(), 0..3)).prop_map(|(conversation_id, members)| {
            Incoming::Members {
                conversation_id,
                members,
            }
        }),
    ]
}

/// The encoded JSON object of `x`.
fn json_object(x: &Incoming) -> serde_json::Map<String, Value> {
    match serde_json::from_slice(&encode(Json, x).unwrap()).unwrap() {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Whatever `decode` returns encodes again, and decodes back to itself.
fn check_decoded(format: PayloadFormat, bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(x) = decode(format, bytes) {
        let again = encode(format, &x);
        prop_assert!(
            again.is_ok(),
            "{x:?} decoded from {bytes:?} does not encode: {again:?}"
        );
        prop_assert_eq!(decode(format, &again.unwrap()), Ok(x));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_round_trips_every_variant(x in json_incoming()) {
        let bytes = encode(Json, &x).unwrap();
        prop_assert_eq!(decode(Json, &bytes), Ok(x));
    }

    #[test]
    fn protobuf_round_trips_text_messages(x in proto_incoming()) {
        let bytes = encode(Protobuf, &x).unwrap();
        prop_assert_eq!(decode(Protobuf, &bytes), Ok(x.clone()));
        // The same value is a JSON payload too.
        let bytes = encode(Json, &x).unwrap();
        prop_assert_eq!(decode(Json, &bytes), Ok(x));
    }

    #[test]
    fn whatever_encodes_decodes_back(x in any_incoming()) {
        for format in [Json, Protobuf] {
            if let Ok(bytes) = encode(format, &x) {
                prop_assert_eq!(decode(format, &bytes), Ok(x.clone()), "{:?}", format);
            }
        }
    }

    #[test]
    fn ids_as_strings_and_content_as_string_decode_the_same(x in json_incoming()) {
        let mut map = json_object(&x);
        for (field, value) in map.iter_mut() {
            if field == "msg_content" {
                continue;
            }
            match value {
                Value::Number(n) => *value = Value::String(n.to_string()),
                Value::Array(items) => {
                    for item in items {
                        if let Value::Number(n) = item {
                            *item = Value::String(n.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        let mut expected = x.clone();
        if let (Incoming::Message(m), Some(content)) = (&mut expected, map.get_mut("msg_content")) {
            match &mut m.content {
                // Custom content stays as it is, but went through a `Value` here (which
                // sorts keys and may round floats): expect what this test writes.
                Content::Custom { raw, .. } => *raw = content.to_string(),
                _ => *content = Value::String(content.to_string()),
            }
        }
        let bytes = serde_json::to_vec(&map).unwrap();
        prop_assert_eq!(decode(Json, &bytes), Ok(expected));
    }

    #[test]
    fn mutated_json_payloads_never_panic(
        x in json_incoming(),
        edits in vec((select(FIELDS.to_vec()), option::of(json_value())), 1..4),
    ) {
        let mut map = json_object(&x);
        for (field, value) in edits {
            match value {
                Some(value) => map.insert(field.to_string(), value),
                None => map.remove(field),
            };
        }
        check_decoded(Json, &serde_json::to_vec(&map).unwrap())?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..64)) {
        check_decoded(Json, &bytes)?;
        check_decoded(Protobuf, &bytes)?;
    }

    #[test]
    fn arbitrary_protobuf_fields_never_panic(
        fields in vec((0u32..8, 0u8..8, vec(any::<u8>(), 0..12)), 0..6),
    ) {
        // Plausible protobuf: a key (field, wire type) followed by random bytes.
        let mut bytes = Vec::new();
        for (field, wire_type, rest) in fields {
            bytes.push(((field << 3) as u8) | wire_type);
            bytes.extend(rest);
        }
        check_decoded(Protobuf, &bytes)?;
        check_decoded(Json, &bytes)?;
    }

    #[test]
    fn arbitrary_json_text_never_panics(text in "[{}\\[\\]\",:0-9a-z_ -]{0,48}") {
        check_decoded(Json, text.as_bytes())?;
    }
}

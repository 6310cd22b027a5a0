//! The JSON codec against the examples of PROTOCOL.md, its leniencies and its refusals.

use super::content::member_text;
use super::MAX_SAFE_INTEGER;
use crate::chat::ids::ConversationId;
use crate::chat::model::{Content, Incoming, WireMessage};
use crate::chat::payload::{decode as decode_as, encode as encode_as, PayloadError, PayloadFormat};

const J: PayloadFormat = PayloadFormat::Json;

fn dec(s: &str) -> Result<Incoming, PayloadError> {
    decode_as(J, s.as_bytes())
}

fn enc(x: &Incoming) -> String {
    String::from_utf8(encode_as(J, x).unwrap()).unwrap()
}

fn conv(s: &str) -> ConversationId {
    s.parse().unwrap()
}

/// A plain 1:1 text message 1 → 2 in "1_2".
fn text(id: u64, text: &str, weight: u64) -> WireMessage {
    crate::test_support::text_message(id, conv("1_2"), 1, 2, text, weight)
}

#[test]
fn protocol_examples_decode() {
    let new_message = r#"{"id": 123, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2, "msg_type": 1,
 "msg_content": {"content": "hi"}, "create_time": "2024-06-01 12:00:00",
 "is_read": 0, "weight": 1717214400123, "avatar": "…", "nick_name": "…"}"#;
    assert_eq!(
        dec(new_message),
        Ok(Incoming::Message(WireMessage {
            sender_name: Some("…".into()),
            sender_avatar: Some("…".into()),
            ..text(123, "hi", 1_717_214_400_123)
        }))
    );

    let image = r#"{"id": 124, "conversation_id": "1_2", "sender_id": 2, "receiver_id": 1,
        "msg_type": 2, "msg_content": {"url": "https://x/a.png", "cover": "https://x/a_s.png"},
        "is_read": 1, "weight": 5}"#;
    assert_eq!(
        dec(image),
        Ok(Incoming::Message(WireMessage {
            sender_id: 2,
            receiver_id: 1,
            content: Content::Image {
                url: "https://x/a.png".into(),
                cover: Some("https://x/a_s.png".into()),
            },
            is_read: true,
            ..text(124, "", 5)
        }))
    );

    let video = r#"{"id": 125, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2,
        "msg_type": 3, "msg_content": {"url": "v.mp4"}, "weight": 6}"#;
    assert_eq!(
        dec(video),
        Ok(Incoming::Message(WireMessage {
            content: Content::Video {
                url: "v.mp4".into(),
                cover: None,
            },
            ..text(125, "", 6)
        }))
    );

    assert_eq!(
        dec(r#"{"msg_id": 123, "msg_type": 5, "conversation_id": "1_2"}"#),
        Ok(Incoming::Revoke {
            msg_id: 123,
            conversation_id: conv("1_2"),
        })
    );
    assert_eq!(
        dec(r#"{"sender_id": 1, "msg_type": 6, "is_read": 1, "conversation_id": "1_2"}"#),
        Ok(Incoming::Read {
            sender_id: 1,
            conversation_id: conv("1_2"),
            up_to_weight: None,
        })
    );
    assert_eq!(
        dec(r#"{"msg_type": 8, "conversation_id": "room_1", "members": [1, 2]}"#),
        Ok(Incoming::Members {
            conversation_id: conv("room_1"),
            members: vec![1, 2],
        })
    );

    let notice = r#"{"id": 9, "conversation_id": "room_1", "sender_id": 3, "msg_type": 7,
        "msg_content": {"content": "alice joined"}, "weight": 7}"#;
    assert_eq!(
        dec(notice),
        Ok(Incoming::Message(WireMessage {
            conversation_id: conv("room_1"),
            sender_id: 3,
            receiver_id: 1,
            content: Content::System {
                text: "alice joined".into(),
            },
            ..text(9, "", 7)
        }))
    );
}

#[test]
fn ids_may_be_decimal_strings_and_64_bit() {
    let big = 1u64 << 63;
    let payload = format!(
        r#"{{"id": "{big}", "sender_id": "{}", "receiver_id": {}, "msg_type": "1",
            "msg_content": {{"content": "x"}}, "weight": "{}"}}"#,
        u64::MAX,
        big + 1,
        u64::MAX - 1
    );
    assert_eq!(
        dec(&payload),
        Ok(Incoming::Message(WireMessage {
            conversation_id: ConversationId::direct(u64::MAX, big + 1).unwrap(),
            sender_id: u64::MAX,
            receiver_id: big + 1,
            ..text(big, "x", u64::MAX - 1)
        }))
    );
    // Revoke, read and member ids too.
    assert_eq!(
        dec(&format!(
            r#"{{"msg_id": "{big}", "msg_type": 5, "conversation_id": "1_{big}"}}"#
        )),
        Ok(Incoming::Revoke {
            msg_id: big,
            conversation_id: ConversationId::direct(1, big).unwrap(),
        })
    );
    assert_eq!(
        dec(&format!(
            r#"{{"msg_type": 8, "conversation_id": "room_{big}", "members": ["{big}", 1]}}"#
        )),
        Ok(Incoming::Members {
            conversation_id: ConversationId::Room(big),
            members: vec![big, 1],
        })
    );
}

#[test]
fn msg_content_may_be_a_string_holding_the_object() {
    let payload = r#"{"id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2,
        "msg_type": 1, "msg_content": "{\"content\": \"hi\"}", "weight": 2}"#;
    assert_eq!(dec(payload), Ok(Incoming::Message(text(1, "hi", 2))));
    let image = r#"{"id": 1, "sender_id": 1, "receiver_id": 2, "msg_type": 2,
        "msg_content": "{\"url\": \"u\", \"cover\": null}", "weight": 2}"#;
    assert_eq!(
        dec(image),
        Ok(Incoming::Message(WireMessage {
            content: Content::Image {
                url: "u".into(),
                cover: None,
            },
            ..text(1, "", 2)
        }))
    );
}

#[test]
fn unknown_fields_and_create_time_are_ignored() {
    let payload = r#"{"id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2,
        "msg_type": 1, "msg_content": {"content": "hi", "extra": [1, {"a": null}]},
        "weight": 2, "create_time": 1717214400, "status": 1, "future": {"x": [true]},
        "avatar": null, "nick_name": null, "read_weight": "not looked at"}"#;
    assert_eq!(dec(payload), Ok(Incoming::Message(text(1, "hi", 2))));
}

#[test]
fn unknown_msg_type_is_kept_as_custom() {
    let payload = r#"{"id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2,
        "msg_type": 42, "msg_content": {"z": 1, "a": [true, null, 2.5, "s"]}, "weight": 2}"#;
    let custom = |msg_type, raw: &str| {
        Ok(Incoming::Message(WireMessage {
            content: Content::Custom {
                msg_type,
                raw: raw.into(),
            },
            ..text(1, "", 2)
        }))
    };
    // Verbatim: key order, spacing and number spelling as the sender wrote them.
    assert_eq!(
        dec(payload),
        custom(42, r#"{"z": 1, "a": [true, null, 2.5, "s"]}"#)
    );
    let payload = r#"{"msg_content" :	18446744073709551616123 ,"id": 1, "sender_id": 1,
        "receiver_id": 2, "msg_type": 42, "weight": 2, "z": "\"}"}"#;
    assert_eq!(dec(payload), custom(42, "18446744073709551616123"));
    let payload = r#"{"a\"b": "\"msg_content\"", "msg_content": {"x": "}\"]"}, "id": 1,
        "sender_id": 1, "receiver_id": 2, "msg_type": 42, "weight": 2}"#;
    assert_eq!(dec(payload), custom(42, r#"{"x": "}\"]"}"#));
    let payload = r#"{"id": 1, "sender_id": 1, "receiver_id": 2, "msg_type": -4,
        "msg_content": "{\"a\": 1}", "weight": 2}"#;
    assert_eq!(dec(payload), custom(-4, r#""{\"a\": 1}""#));
    let payload = r#"{"id": 1, "sender_id": 1, "receiver_id": 2, "msg_type": 4, "weight": 2}"#;
    assert_eq!(dec(payload), custom(4, "null"));
}

#[test]
fn routes_are_completed_from_what_is_given() {
    // No conversation_id: the 1:1 conversation of sender and receiver.
    let payload = r#"{"id": 1, "sender_id": 2, "receiver_id": 1, "msg_type": 1,
        "msg_content": {"content": "hi"}, "weight": 2}"#;
    assert_eq!(
        dec(payload),
        Ok(Incoming::Message(WireMessage {
            sender_id: 2,
            receiver_id: 1,
            ..text(1, "hi", 2)
        }))
    );
    // No receiver_id: the sender's peer.
    let payload = r#"{"id": 1, "conversation_id": "1_2", "sender_id": 1, "msg_type": 1,
        "msg_content": {"content": "hi"}, "weight": 2}"#;
    assert_eq!(dec(payload), Ok(Incoming::Message(text(1, "hi", 2))));
}

#[test]
fn flags_status_and_read_positions() {
    let with = |extra: &str| {
        dec(&format!(
            r#"{{"id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 2,
                "msg_type": 1, "msg_content": {{"content": "hi"}}, "weight": 2{extra}}}"#
        ))
    };
    let flags = |is_read, revoked| {
        Ok(Incoming::Message(WireMessage {
            is_read,
            revoked,
            ..text(1, "hi", 2)
        }))
    };
    assert_eq!(with(r#", "is_read": true"#), flags(true, false));
    assert_eq!(with(r#", "is_read": "1""#), flags(true, false));
    assert_eq!(
        with(r#", "is_read": false, "status": 2"#),
        flags(false, false)
    );
    assert_eq!(with(r#", "is_read": 1, "status": "3""#), flags(true, true));
    assert_eq!(with(r#", "status": 3"#), flags(false, true));

    let read = |extra: &str| {
        dec(&format!(
            r#"{{"sender_id": 2, "msg_type": 6, "conversation_id": "1_2"{extra}}}"#
        ))
    };
    let up_to = |up_to_weight| {
        Ok(Incoming::Read {
            sender_id: 2,
            conversation_id: conv("1_2"),
            up_to_weight,
        })
    };
    assert_eq!(read(r#", "weight": 10"#), up_to(Some(10)));
    assert_eq!(read(r#", "read_weight": "11""#), up_to(Some(11)));
    assert_eq!(
        read(r#", "weight": 10, "read_weight": 11"#),
        up_to(Some(10))
    );
    assert_eq!(read(r#", "is_read": "whatever""#), up_to(None));
}

#[test]
fn encode_writes_the_protocol_shapes() {
    let message = Incoming::Message(WireMessage {
        sender_name: Some("Al".into()),
        sender_avatar: Some("a.png".into()),
        ..text(123, "hi", 1_717_214_400_123)
    });
    assert_eq!(
        enc(&message),
        r#"{"id":123,"conversation_id":"1_2","sender_id":1,"receiver_id":2,"msg_type":1,"msg_content":{"content":"hi"},"create_time":"2024-06-01 04:00:00","is_read":0,"weight":1717214400123,"avatar":"a.png","nick_name":"Al"}"#
    );
    let revoke = Incoming::Revoke {
        msg_id: 123,
        conversation_id: conv("1_2"),
    };
    assert_eq!(
        enc(&revoke),
        r#"{"msg_id":123,"msg_type":5,"conversation_id":"1_2"}"#
    );
    let read = Incoming::Read {
        sender_id: 1,
        conversation_id: conv("1_2"),
        up_to_weight: None,
    };
    assert_eq!(
        enc(&read),
        r#"{"sender_id":1,"msg_type":6,"is_read":1,"conversation_id":"1_2"}"#
    );
    let members = Incoming::Members {
        conversation_id: conv("room_1"),
        members: vec![1, 2],
    };
    assert_eq!(
        enc(&members),
        r#"{"msg_type":8,"conversation_id":"room_1","members":[1,2]}"#
    );
    let media = Incoming::Message(WireMessage {
        content: Content::Video {
            url: "v".into(),
            cover: Some("c".into()),
        },
        is_read: true,
        revoked: true,
        ..text(1, "", 0)
    });
    assert_eq!(
        enc(&media),
        r#"{"id":1,"conversation_id":"1_2","sender_id":1,"receiver_id":2,"msg_type":3,"msg_content":{"url":"v","cover":"c"},"create_time":"1970-01-01 00:00:00","is_read":1,"weight":0,"status":3}"#
    );
    for x in [message, revoke, read, members, media] {
        assert_eq!(dec(&enc(&x)), Ok(x));
    }
}

#[test]
fn encode_writes_unsafe_integers_as_strings() {
    let safe = MAX_SAFE_INTEGER;
    let x = Incoming::Message(WireMessage {
        conversation_id: ConversationId::direct(safe, safe + 1).unwrap(),
        sender_id: safe,
        receiver_id: safe + 1,
        content: Content::Custom {
            msg_type: i64::MIN,
            raw: "[]".into(),
        },
        ..text(u64::MAX, "", 1 << 63)
    });
    let json = enc(&x);
    for field in [
        r#""id":"18446744073709551615""#,
        r#""conversation_id":"9007199254740991_9007199254740992""#,
        r#""sender_id":9007199254740991,"#,
        r#""receiver_id":"9007199254740992""#,
        r#""msg_type":"-9223372036854775808""#,
        r#""weight":"9223372036854775808""#,
    ] {
        assert!(json.contains(field), "{field} in {json}");
    }
    assert_eq!(dec(&json), Ok(x));
}

#[test]
fn encode_refuses_what_would_not_decode_back() {
    const ONE_VALUE: &str = "custom content whose raw is not one JSON value";
    let not = |what| Err(PayloadError::NotExpressible { format: J, what });
    let custom = |msg_type, raw: &str| {
        Incoming::Message(WireMessage {
            content: Content::Custom {
                msg_type,
                raw: raw.into(),
            },
            ..text(1, "", 2)
        })
    };
    let cases: Vec<(Incoming, Result<Vec<u8>, PayloadError>)> = vec![
        (custom(1, "{}"), not("custom content with a known msg_type")),
        (custom(8, "{}"), not("custom content with a known msg_type")),
        (custom(42, "{"), not(ONE_VALUE)),
        (custom(42, ""), not(ONE_VALUE)),
        (custom(42, " 1"), not(ONE_VALUE)),
        (custom(42, "1\n"), not(ONE_VALUE)),
        (custom(42, "1 2"), not(ONE_VALUE)),
        (custom(42, "{} x"), not(ONE_VALUE)),
        (
            Incoming::Message(WireMessage {
                receiver_id: 1,
                ..text(1, "", 2)
            }),
            Err(PayloadError::SelfMessage(1)),
        ),
        (
            Incoming::Message(WireMessage {
                sender_id: 3,
                ..text(1, "", 2)
            }),
            Err(PayloadError::NotAMember {
                conversation_id: conv("1_2"),
                user_id: 3,
            }),
        ),
        (
            Incoming::Message(WireMessage {
                conversation_id: conv("room_7"),
                ..text(1, "", 2)
            }),
            Err(PayloadError::ConversationMismatch {
                conversation_id: conv("room_7"),
                sender_id: 1,
                receiver_id: 2,
            }),
        ),
        (
            Incoming::Read {
                sender_id: 3,
                conversation_id: conv("1_2"),
                up_to_weight: None,
            },
            Err(PayloadError::NotAMember {
                conversation_id: conv("1_2"),
                user_id: 3,
            }),
        ),
        (
            Incoming::Members {
                conversation_id: conv("1_2"),
                members: vec![1],
            },
            Err(PayloadError::NotARoom(conv("1_2"))),
        ),
    ];
    for (x, expected) in cases {
        assert_eq!(encode_as(J, &x), expected, "{x:?}");
    }
    // Any single JSON value goes through verbatim.
    for raw in [
        r#"{"b": 1,"a":[1.50, -0e3, "é\n", "\u00e9"]}"#,
        "null",
        "-2.3952573480200564e+206",
        "184467440737095516160",
        r#""{\"content\": \"hi\"}""#,
    ] {
        let x = custom(42, raw);
        assert_eq!(dec(&enc(&x)), Ok(x));
    }
    // Nesting: whatever encodes decodes back (serde_json stops at 128 levels).
    let mut encoded = 0;
    for depth in 120..135 {
        let x = custom(42, &format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
        if let Ok(bytes) = encode_as(J, &x) {
            encoded += 1;
            assert_eq!(decode_as(J, &bytes), Ok(x), "depth {depth}");
        }
    }
    assert!((1..15).contains(&encoded), "{encoded}");
}

/// What a malformed payload must give: an exact error, or, for messages from serde,
/// the variant and a fragment of the message.
enum Want {
    Is(PayloadError),
    Json(&'static str),
    Content(i64, &'static str),
}

#[rustfmt::skip]
fn malformed() -> Vec<(&'static str, &'static str, Want)> {
    use PayloadError as E;
    use Want::*;
    let bad_number = |field, found: &str| Is(E::BadNumber { field, found: found.into() });
    let mismatch = |c: &str, sender_id, receiver_id| Is(E::ConversationMismatch {
        conversation_id: conv(c), sender_id, receiver_id,
    });
    let not_member = |c: &str, user_id| Is(E::NotAMember { conversation_id: conv(c), user_id });
    vec![
        ("empty", "", Is(E::Empty)),
        ("whitespace", " \r\n\t", Is(E::Empty)),
        ("array", "[1]", Is(E::NotAnObject)),
        ("number", "42", Is(E::NotAnObject)),
        ("string", r#""{}""#, Is(E::NotAnObject)),
        ("null", "null", Is(E::NotAnObject)),
        ("not JSON", "hello", Is(E::NotAnObject)),
        ("unterminated", r#"{"msg_type": 1"#, Json("EOF")),
        ("trailing comma", r#"{"msg_type": 1,}"#, Json("trailing comma")),
        ("trailing data", r#"{"msg_type": 5} {}"#, Json("trailing characters")),
        ("duplicate field", r#"{"msg_type": 1, "msg_type": 1}"#, Json("duplicate field")),
        ("object msg_type", r#"{"msg_type": {}}"#, Json("invalid type: map")),
        ("string avatar", r#"{"msg_type": 1, "avatar": 5}"#, Json("invalid type: integer")),
        ("numeric conversation", r#"{"msg_type": 5, "conversation_id": 12}"#, Json("invalid type")),
        ("null member", r#"{"msg_type": 8, "conversation_id": "room_1", "members": [null]}"#, Json("invalid type: null")),
        ("members not a list", r#"{"msg_type": 8, "conversation_id": "room_1", "members": "1,2"}"#, Json("invalid type: string")),
        ("no msg_type", "{}", Is(E::MissingField("msg_type"))),
        ("null msg_type", r#"{"msg_type": null}"#, Is(E::MissingField("msg_type"))),
        ("word msg_type", r#"{"msg_type": "text"}"#, bad_number("msg_type", r#""text""#)),
        ("float msg_type", r#"{"msg_type": 1.5}"#, bad_number("msg_type", "a floating-point number")),
        ("bool msg_type", r#"{"msg_type": true}"#, bad_number("msg_type", "true")),
        ("huge msg_type", r#"{"msg_type": 9223372036854775808}"#, bad_number("msg_type", "9223372036854775808")),
        ("no id", r#"{"msg_type": 1, "sender_id": 1, "receiver_id": 2}"#, Is(E::MissingField("id"))),
        ("negative id", r#"{"msg_type": 1, "id": -1}"#, bad_number("id", "-1")),
        ("float id", r#"{"msg_type": 1, "id": 1.0}"#, bad_number("id", "a floating-point number")),
        ("id past u64", r#"{"msg_type": 1, "id": 18446744073709551616}"#, bad_number("id", "a floating-point number")),
        ("id string past u64", r#"{"msg_type": 1, "id": "18446744073709551616"}"#, bad_number("id", r#""18446744073709551616""#)),
        ("id with letters", r#"{"msg_type": 1, "id": "12a"}"#, bad_number("id", r#""12a""#)),
        ("id with a sign", r#"{"msg_type": 1, "id": "+12"}"#, bad_number("id", r#""+12""#)),
        ("id with a space", r#"{"msg_type": 1, "id": " 12"}"#, bad_number("id", r#"" 12""#)),
        ("empty id", r#"{"msg_type": 1, "id": ""}"#, bad_number("id", r#""""#)),
        ("long id", r#"{"msg_type": 1, "id": "0123456789abcdefghijklmnopqrstuvwxyz"}"#, bad_number("id", r#""0123456789abcdefghijklmnopqrstuv…""#)),
        ("no sender", r#"{"msg_type": 1, "id": 1, "receiver_id": 2}"#, Is(E::MissingField("sender_id"))),
        ("no receiver nor conversation", r#"{"msg_type": 1, "id": 1, "sender_id": 1}"#, Is(E::MissingField("receiver_id"))),
        ("bad receiver", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": "x"}"#, bad_number("receiver_id", r#""x""#)),
        ("self message", r#"{"msg_type": 1, "id": 1, "sender_id": 4, "receiver_id": 4}"#, Is(E::SelfMessage(4))),
        ("self message in conversation", r#"{"msg_type": 1, "id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 1}"#, Is(E::SelfMessage(1))),
        ("unordered conversation", r#"{"msg_type": 1, "id": 1, "conversation_id": "2_1", "sender_id": 1}"#, Is(E::BadConversationId(crate::chat::ids::InvalidConversationId("2_1".into())))),
        ("garbage conversation", r#"{"msg_type": 5, "msg_id": 1, "conversation_id": "chat_1"}"#, Is(E::BadConversationId(crate::chat::ids::InvalidConversationId("chat_1".into())))),
        ("sender outside", r#"{"msg_type": 1, "id": 1, "conversation_id": "1_2", "sender_id": 3, "receiver_id": 1}"#, not_member("1_2", 3)),
        ("sender outside, no receiver", r#"{"msg_type": 1, "id": 1, "conversation_id": "1_2", "sender_id": 3}"#, not_member("1_2", 3)),
        ("receiver outside", r#"{"msg_type": 1, "id": 1, "conversation_id": "1_2", "sender_id": 1, "receiver_id": 3}"#, mismatch("1_2", 1, 3)),
        ("room receiver", r#"{"msg_type": 1, "id": 1, "conversation_id": "room_5", "sender_id": 1, "receiver_id": 6}"#, mismatch("room_5", 1, 6)),
        ("no weight", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2}"#, Is(E::MissingField("weight"))),
        ("no weight, custom", r#"{"msg_type": 42, "id": 1, "sender_id": 1, "receiver_id": 2}"#, Is(E::MissingField("weight"))),
        ("bad weight", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": "soon"}"#, bad_number("weight", r#""soon""#)),
        ("is_read 2", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "is_read": 2}"#, Is(E::BadFlag { field: "is_read", found: "2".into() })),
        ("is_read yes", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "is_read": "yes"}"#, Is(E::BadFlag { field: "is_read", found: r#""yes""#.into() })),
        ("bad status", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "status": "revoked"}"#, bad_number("status", r#""revoked""#)),
        ("no content", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1}"#, Is(E::MissingField("msg_content"))),
        ("null content", r#"{"msg_type": 7, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": null}"#, Is(E::MissingField("msg_content"))),
        ("empty content", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": {}}"#, Content(1, "missing field `content`")),
        ("plain string content", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": "hi"}"#, Content(1, "a string that is not a JSON object")),
        ("list content", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": [1]}"#, Content(1, "not an object")),
        ("string of a list", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": "[1]"}"#, Content(1, "not an object")),
        ("numeric text", r#"{"msg_type": 1, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": {"content": 5}}"#, Content(1, "invalid type: integer")),
        ("image without url", r#"{"msg_type": 2, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": {"cover": "c"}}"#, Content(2, "missing field `url`")),
        ("video with numeric cover", r#"{"msg_type": 3, "id": 1, "sender_id": 1, "receiver_id": 2, "weight": 1, "msg_content": {"url": "u", "cover": 1}}"#, Content(3, "invalid type: integer")),
        ("revoke without msg_id", r#"{"msg_type": 5, "id": 1, "conversation_id": "1_2"}"#, Is(E::MissingField("msg_id"))),
        ("revoke without conversation", r#"{"msg_type": 5, "msg_id": 1, "sender_id": 1, "receiver_id": 2}"#, Is(E::MissingField("conversation_id"))),
        ("read without sender", r#"{"msg_type": 6, "is_read": 1, "conversation_id": "1_2"}"#, Is(E::MissingField("sender_id"))),
        ("read without conversation", r#"{"msg_type": 6, "sender_id": 1}"#, Is(E::MissingField("conversation_id"))),
        ("read by a stranger", r#"{"msg_type": 6, "sender_id": 3, "conversation_id": "1_2"}"#, not_member("1_2", 3)),
        ("read with a bad weight", r#"{"msg_type": 6, "sender_id": 1, "conversation_id": "1_2", "weight": -5}"#, bad_number("weight", "-5")),
        ("read with a bad read_weight", r#"{"msg_type": 6, "sender_id": 1, "conversation_id": "1_2", "read_weight": true}"#, bad_number("read_weight", "true")),
        ("members of a 1:1", r#"{"msg_type": 8, "conversation_id": "1_2", "members": [1, 2]}"#, Is(E::NotARoom(conv("1_2")))),
        ("members missing", r#"{"msg_type": 8, "conversation_id": "room_1"}"#, Is(E::MissingField("members"))),
        ("bad member", r#"{"msg_type": 8, "conversation_id": "room_1", "members": [1, "x"]}"#, bad_number("members", r#""x""#)),
    ]
}

#[test]
fn malformed_payloads_give_their_error() {
    for (what, payload, want) in malformed() {
        let got = dec(payload);
        let ok = match (&want, &got) {
            (Want::Is(e), got) => got.as_ref() == Err(e),
            (Want::Json(fragment), Err(PayloadError::Json(m))) => m.contains(fragment),
            (Want::Content(t, fragment), Err(PayloadError::BadContent { msg_type, reason })) => {
                msg_type == t && reason.contains(fragment)
            }
            _ => false,
        };
        assert!(ok, "{what}: {payload} gave {got:?}");
    }
}

#[test]
fn invalid_utf8_is_malformed_json() {
    let got = decode_as(J, b"{\"msg_type\": 1, \"avatar\": \"\xff\"}");
    assert!(matches!(got, Err(PayloadError::Json(_))), "{got:?}");
}

#[test]
fn member_text_finds_top_level_members_only() {
    let json = r#" { "a" : {"msg_content": 1, "s": "}{\\\"" } ,
        "msg\u005fcontent"	:	[ "]" , {"x":[]} ]	, "b": -1.5e-3 , "c":true}"#;
    assert_eq!(
        member_text(json, "msg_content"),
        Some(r#"[ "]" , {"x":[]} ]"#)
    );
    assert_eq!(member_text(json, "b"), Some("-1.5e-3"));
    assert_eq!(member_text(json, "c"), Some("true"));
    assert_eq!(member_text(json, "s"), None);
    assert_eq!(member_text("{}", "a"), None);
    assert_eq!(member_text("[]", "a"), None);
    // Not validated, but never out of bounds.
    for broken in [
        r#"{"a"#,
        r#"{"a":"#,
        r#"{"a":"x"#,
        r#"{"a":[{"#,
        r#"{"a":]]]"#,
        "{\"a\\",
    ] {
        assert_eq!(member_text(broken, "a"), None, "{broken}");
    }
}

#[test]
fn errors_read_well() {
    let e = dec(r#"{"msg_type": 1, "id": "x"}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"field `id` is not an integer in range: "x""#
    );
    let e = dec(r#"{"msg_type": 6, "sender_id": 1, "conversation_id": "2_1"}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad conversation_id: invalid conversation id '2_1'"
    );
}

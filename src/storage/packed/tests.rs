use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::*;

fn conversation() -> impl Strategy<Value = ConversationId> {
    prop_oneof![
        (any::<u64>(), any::<u64>()).prop_filter_map("a user with themself", |(a, b)| {
            ConversationId::direct(a, b)
        }),
        any::<u64>().prop_map(ConversationId::Room),
    ]
}

fn content() -> impl Strategy<Value = Content> {
    prop_oneof![
        any::<String>().prop_map(|text| Content::Text { text }),
        any::<String>().prop_map(|text| Content::System { text }),
        (any::<String>(), option::of(any::<String>()))
            .prop_map(|(url, cover)| Content::Image { url, cover }),
        (any::<String>(), option::of(any::<String>()))
            .prop_map(|(url, cover)| Content::Video { url, cover }),
        (any::<i64>(), any::<String>())
            .prop_map(|(msg_type, raw)| Content::Custom { msg_type, raw }),
    ]
}

fn message() -> impl Strategy<Value = StoredMessage> {
    let id = prop_oneof![
        any::<u64>().prop_map(MessageRef::Server),
        any::<String>().prop_map(MessageRef::Local),
    ];
    let status = prop_oneof![
        Just(Status::Sending),
        Just(Status::Sent),
        Just(Status::Failed),
        Just(Status::Revoked),
    ];
    (
        (any::<u64>(), any::<u64>(), id, conversation()),
        (
            option::of(any::<String>()),
            any::<u64>(),
            option::of(content()),
        ),
        (status, any::<bool>(), any::<bool>()),
        (option::of(any::<String>()), option::of(any::<String>())),
    )
        .prop_map(
            |(
                (weight, sender_id, id, conversation_id),
                (local_id, receiver_id, content),
                (status, read, server_read),
                (name, avatar),
            )| StoredMessage {
                key: MessageKey {
                    weight,
                    sender_id,
                    id,
                },
                conversation_id,
                local_id,
                receiver_id,
                content: content.map(Arc::new),
                status,
                read,
                server_read,
                sender_name: name.map(Arc::from),
                sender_avatar: avatar.map(Arc::from),
            },
        )
}

fn record() -> impl Strategy<Value = ConversationRecord> {
    let newest = prop_oneof![
        Just(Newest::Unknown),
        Just(Newest::Empty),
        message().prop_map(|m| Newest::Message(Box::new(m))),
    ];
    (
        conversation(),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        vec(any::<u64>(), 0..4),
        vec((any::<u64>(), any::<u64>()), 0..4),
        (any::<u32>(), any::<bool>()),
        newest,
    )
        .prop_map(
            |(
                id,
                (mine, peer, cleared, created),
                members,
                member_reads,
                (unread, listed),
                newest,
            )| {
                ConversationRecord {
                    id,
                    my_read_mark: mine,
                    peer_read_mark: peer,
                    cleared_mark: cleared,
                    created_at: created,
                    members,
                    member_reads,
                    unread,
                    listed,
                    newest,
                }
            },
        )
}

fn packed(r: &ConversationRecord) -> Vec<u8> {
    let mut out = Vec::new();
    pack(r, &mut out);
    out
}

proptest! {
    #[test]
    fn every_record_comes_back(r in record()) {
        prop_assert_eq!(unpack(&packed(&r)), Ok(r));
    }

    /// Every proper prefix is refused, and so is anything appended.
    #[test]
    fn a_cut_or_extended_record_is_an_error(r in record(), extra in vec(any::<u8>(), 1..4)) {
        let bytes = packed(&r);
        for end in 0..bytes.len() {
            prop_assert!(unpack(bytes.get(..end).unwrap_or_default()).is_err(), "prefix {}", end);
        }
        let mut longer = bytes.clone();
        longer.extend(extra);
        prop_assert!(unpack(&longer).is_err());
    }

    /// Changed bytes give an error or some record, never a panic; what reads back packs
    /// again to something that reads back the same.
    #[test]
    fn changed_bytes_never_panic(r in record(), at in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut bytes = packed(&r);
        let i = at.index(bytes.len());
        if let Some(slot) = bytes.get_mut(i) {
            *slot = b;
        }
        if let Ok(read) = unpack(&bytes) {
            prop_assert_eq!(unpack(&packed(&read)), Ok(read));
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..64)) {
        let mut with_format = vec![FORMAT];
        with_format.extend_from_slice(&bytes);
        let _ = unpack(&bytes);
        let _ = unpack(&with_format);
    }
}

/// The form is stored: these bytes must read back the same in every later version.
#[test]
fn a_record_packs_to_these_bytes() {
    let m = StoredMessage {
        key: MessageKey {
            weight: 300,
            sender_id: 2,
            id: MessageRef::Server(u64::MAX),
        },
        conversation_id: ConversationId::Direct { low: 1, high: 2 },
        local_id: Some("é".into()),
        receiver_id: 1,
        content: Some(
            Content::Custom {
                msg_type: -2,
                raw: "{}".into(),
            }
            .into(),
        ),
        status: Status::Failed,
        read: false,
        server_read: true,
        sender_name: Some(Arc::from("n")),
        sender_avatar: None,
    };
    let r = ConversationRecord {
        id: ConversationId::Room(7),
        my_read_mark: 1,
        peer_read_mark: 128,
        cleared_mark: 0,
        created_at: 5,
        members: vec![1, 2],
        member_reads: vec![(2, 3)],
        unread: 4,
        listed: true,
        newest: Newest::Message(Box::new(m)),
    };
    let bytes = [
        1, // format
        1, 7, // room 7
        1, 0x80, 1, 0, 5, // marks, created_at
        2, 1, 2, // members
        4, 1, // unread, listed
        1, 2, 3, // member_reads
        2, // newest: a message
        0xac, 2, 2, // weight 300, sender 2
        0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, // server id u64::MAX
        0, 1, 2, // conversation 1_2
        1, 2, 0xc3, 0xa9, // local id "é"
        1,    // receiver
        5, 3, 2, b'{', b'}', // custom -2 "{}"
        2, 2, // failed, server_read
        1, 1, b'n', 0, // sender name, no avatar
    ];
    assert_eq!(packed(&r), bytes);
    assert_eq!(unpack(&bytes), Ok(r));
    assert_eq!(unpack(&[2]), Err(PackError::Format(2)));
    assert_eq!(unpack(&[1, 0, 2, 2]), Err(PackError::Conversation(2, 2)));
    // An eleventh varint byte, or a tenth with more than one bit, does not fit in 64.
    assert_eq!(
        unpack(&[1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2]),
        Err(PackError::Varint("conversation id"))
    );
}

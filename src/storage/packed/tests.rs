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

    /// Every proper prefix is refused, and so is anything appended; changed bytes give an
    /// error or some record, never a panic.
    #[test]
    fn a_cut_extended_or_changed_record_never_panics(
        r in record(),
        damage in damage(),
    ) {
        damaged_bytes_are_refused(&r, packed, unpack, damage)?;
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..64)) {
        let mut with_format = vec![FORMAT];
        with_format.extend_from_slice(&bytes);
        let _ = unpack(&bytes);
        let _ = unpack(&with_format);
    }
}

/// What [`damaged_bytes_are_refused`] does to a record: bytes appended, one byte changed.
type Damage = (Vec<u8>, prop::sample::Index, u8);

fn damage() -> impl Strategy<Value = Damage> {
    (
        vec(any::<u8>(), 1..4),
        any::<prop::sample::Index>(),
        any::<u8>(),
    )
}

/// The bytes of `value` cut short at every length, or with bytes appended, do not read;
/// with one byte changed they give an error or something that packs again to bytes that
/// read back the same. Nothing panics.
fn damaged_bytes_are_refused<T: PartialEq + std::fmt::Debug>(
    value: &T,
    pack: impl Fn(&T) -> Vec<u8>,
    unpack: impl Fn(&[u8]) -> Result<T, PackError>,
    (extra, at, b): Damage,
) -> Result<(), TestCaseError> {
    let bytes = pack(value);
    for end in 0..bytes.len() {
        prop_assert!(
            unpack(bytes.get(..end).unwrap_or_default()).is_err(),
            "prefix {}",
            end
        );
    }
    let mut longer = bytes.clone();
    longer.extend(extra);
    prop_assert!(unpack(&longer).is_err());
    let mut changed = bytes;
    let i = at.index(changed.len());
    if let Some(slot) = changed.get_mut(i) {
        *slot = b;
    }
    if let Ok(read) = unpack(&changed) {
        prop_assert_eq!(unpack(&pack(&read)), Ok(read));
    }
    Ok(())
}

fn packed_block(ms: &[StoredMessage]) -> Vec<u8> {
    let mut out = Vec::new();
    pack_block(ms, &mut out);
    out
}

/// Messages of a block: some of them with the name and avatar of the one before (the
/// usual run of one sender's messages).
fn block() -> impl Strategy<Value = Vec<StoredMessage>> {
    vec((message(), any::<bool>(), any::<bool>()), 0..6).prop_map(|ms| {
        let mut out: Vec<StoredMessage> = Vec::new();
        for (mut m, same_name, same_avatar) in ms {
            if let Some(before) = out.last() {
                if same_name {
                    m.sender_name = before.sender_name.clone();
                }
                if same_avatar {
                    m.sender_avatar = before.sender_avatar.clone();
                }
            }
            out.push(m);
        }
        out
    })
}

proptest! {
    /// Every block comes back, and a name or avatar equal to the one before shares its copy.
    #[test]
    fn every_block_comes_back(ms in block()) {
        let read = unpack_block(&packed_block(&ms));
        prop_assert_eq!(read.as_ref(), Ok(&ms));
        let read = read.unwrap_or_default();
        for pair in read.windows(2) {
            if let [a, b] = pair {
                for (x, y) in [(&a.sender_name, &b.sender_name), (&a.sender_avatar, &b.sender_avatar)] {
                    if let (Some(x), Some(y)) = (x, y) {
                        prop_assert_eq!(x == y, Arc::ptr_eq(x, y));
                    }
                }
            }
        }
    }

    /// As [`a_cut_extended_or_changed_record_never_panics`], for blocks.
    #[test]
    fn a_cut_extended_or_changed_block_never_panics(ms in block(), damage in damage()) {
        damaged_bytes_are_refused(&ms, |ms: &Vec<StoredMessage>| packed_block(ms), unpack_block, damage)?;
    }

    #[test]
    fn random_block_bytes_never_panic(bytes in vec(any::<u8>(), 0..64)) {
        let mut with_format = vec![BLOCK_FORMAT];
        with_format.extend_from_slice(&bytes);
        let _ = unpack_block(&bytes);
        let _ = unpack_block(&with_format);
    }
}

/// The block form is stored too: these bytes must read back the same in every later
/// version.
#[test]
fn a_block_packs_to_these_bytes() {
    let m = |id: u64, name: &str| StoredMessage {
        key: MessageKey {
            weight: 10 + id,
            sender_id: 2,
            id: MessageRef::Server(id),
        },
        conversation_id: ConversationId::Direct { low: 1, high: 2 },
        local_id: None,
        receiver_id: 1,
        content: Some(Content::Text { text: "hi".into() }.into()),
        status: Status::Sent,
        read: false,
        server_read: false,
        sender_name: Some(Arc::from(name)),
        sender_avatar: Some(Arc::from("a")),
    };
    let ms = vec![m(1, "n"), m(2, "n"), m(3, "o")];
    // weight, sender; server id; conversation 1_2; no local id; receiver 1; text "hi";
    // sent, unread
    let message = |id: u8| [10 + id, 2, 0, id, 0, 1, 2, 0, 1, 1, 2, b'h', b'i', 1, 0];
    let mut bytes = vec![1, 3]; // format, three messages
    bytes.extend(message(1));
    bytes.extend([1, 1, b'n', 1, 1, b'a']); // name "n", avatar "a"
    bytes.extend(message(2));
    bytes.extend([2, 2]); // both as the message before
    bytes.extend(message(3));
    bytes.extend([1, 1, b'o', 2]); // name "o", avatar as before
    assert_eq!(packed_block(&ms), bytes);
    assert_eq!(unpack_block(&bytes), Ok(ms));
    assert_eq!(unpack_block(&[2, 0]), Err(PackError::Format(2)));
    // The first message has none before it.
    let mut first_shares = vec![1, 1];
    first_shares.extend(message(1));
    first_shares.extend([2, 0]);
    assert_eq!(
        unpack_block(&first_shares),
        Err(PackError::Tag {
            what: "sender_name",
            tag: 2
        })
    );
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
    // A block's "as the message before" has no meaning in a record.
    let mut shares = bytes.to_vec();
    if let Some(avatar) = shares.last_mut() {
        *avatar = 2;
    }
    assert_eq!(
        unpack(&shares),
        Err(PackError::Tag {
            what: "sender_avatar",
            tag: 2
        })
    );
    assert_eq!(unpack(&[2]), Err(PackError::Format(2)));
    assert_eq!(unpack(&[1, 0, 2, 2]), Err(PackError::Conversation(2, 2)));
    // An eleventh varint byte, or a tenth with more than one bit, does not fit in 64.
    assert_eq!(
        unpack(&[1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2]),
        Err(PackError::Varint("conversation id"))
    );
}

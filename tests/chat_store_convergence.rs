//! The store converges: any set of message / revoke / read / history-page / resend inputs,
//! delivered in any order with any duplication, leaves the same store — order, statuses,
//! unread counts, read flags and conversation list — and its order is a total order
//! consistent with weight.
#![cfg(not(target_arch = "wasm32"))] // proptest: native only

use proptest::prelude::*;

use imcore::chat::store::{ConversationSummary, MessageKey, Status, Store, StoredMessage};
use imcore::chat::{Content, ConversationId, Incoming, WireMessage};

const ME: u64 = 1;

/// One network input.
#[derive(Debug, Clone)]
enum Input {
    Message(WireMessage),
    History(Vec<WireMessage>),
    Revoke(u64, ConversationId),
    Read {
        sender: u64,
        conversation: ConversationId,
        up_to: u64,
    },
    Resend(u64, u64),
}

fn conversations() -> Vec<ConversationId> {
    vec![
        ConversationId::direct(ME, 2).unwrap(),
        ConversationId::direct(ME, 3).unwrap(),
        ConversationId::Room(9),
    ]
}

/// A message universe: unique server ids, weights drawn from a small range so that ties
/// in weight (and in weight and sender) happen often.
fn message(id: u64) -> impl Strategy<Value = WireMessage> {
    (0usize..3, 0u64..40, any::<bool>(), any::<bool>(), 0u8..10).prop_map(
        move |(c, w, mine, server_read, kind)| {
            let conversation_id = conversations()[c];
            let (sender_id, receiver_id) = match conversation_id {
                ConversationId::Room(room) => (if mine { ME } else { 2 + (id % 2) }, room),
                direct => {
                    let peer = direct.peer_of(ME).unwrap_or(2);
                    if mine {
                        (ME, peer)
                    } else {
                        (peer, ME)
                    }
                }
            };
            let content = match (kind, conversation_id) {
                (0, ConversationId::Room(_)) => Content::System {
                    text: format!("notice {id}"),
                },
                (1, _) => Content::Image {
                    url: format!("https://img/{id}"),
                    cover: None,
                },
                (2, _) => Content::Custom {
                    msg_type: 42,
                    raw: format!("{{\"n\":{id}}}"),
                },
                _ => Content::Text {
                    text: format!("text {id}"),
                },
            };
            WireMessage {
                id,
                conversation_id,
                sender_id: if matches!(content, Content::System { .. }) {
                    0
                } else {
                    sender_id
                },
                receiver_id,
                content,
                weight: 1_000_000 + w * 100,
                is_read: server_read && mine,
                revoked: false,
                sender_name: Some(format!("user {sender_id}").into()),
                sender_avatar: None,
            }
        },
    )
}

/// A set of inputs: the messages (each delivered by MQTT and/or in history pages, some
/// already revoked in a page), revokes, read receipts both ways, and resends.
fn inputs() -> impl Strategy<Value = Vec<Input>> {
    (1usize..30)
        .prop_flat_map(|n| {
            let msgs: Vec<_> = (1..=n as u64).map(message).collect();
            (
                msgs,
                prop::collection::vec(any::<(u8, u8, u8, u8)>(), 0..12),
                prop::collection::vec((0usize..3, any::<bool>(), 0u64..45), 0..6),
            )
        })
        .prop_map(|(msgs, extras, reads)| {
            let mut out: Vec<Input> = Vec::new();
            for (i, m) in msgs.iter().enumerate() {
                if i % 3 != 2 {
                    out.push(Input::Message(m.clone()));
                }
            }
            // History pages: overlapping slices, some copies revoked or read as the server
            // would report them.
            for (a, b, flags, _) in &extras {
                let len = msgs.len();
                let start = usize::from(*a) % len;
                let end = (start + usize::from(*b) % 6 + 1).min(len);
                let page = msgs[start..end]
                    .iter()
                    .map(|m| {
                        let mut m = m.clone();
                        match flags % 4 {
                            0 => m.revoked = true,
                            // Read by the peer by the time this page was served.
                            1 => m.is_read = m.sender_id == ME,
                            _ => {}
                        }
                        m
                    })
                    .collect();
                out.push(Input::History(page));
            }
            // Every message arrives at least once somewhere.
            out.push(Input::History(msgs.clone()));
            for (a, b, c, d) in &extras {
                let m = &msgs[usize::from(*a) % msgs.len()];
                match c % 3 {
                    0 => out.push(Input::Revoke(m.id, m.conversation_id)),
                    1 => out.push(Input::Resend(m.id, m.weight + 1 + u64::from(*d) * 100)),
                    _ => {
                        // A resend as the receiver sees it: the same message, a larger weight.
                        let mut again = m.clone();
                        again.weight += 1 + u64::from(*b) * 50;
                        out.push(Input::Message(again));
                    }
                }
            }
            for (c, mine, w) in reads {
                let conversation = conversations()[c];
                let sender = if mine {
                    ME
                } else {
                    conversation.peer_of(ME).unwrap_or(2)
                };
                out.push(Input::Read {
                    sender,
                    conversation,
                    up_to: 1_000_000 + w * 100,
                });
            }
            out
        })
}

fn apply(store: &mut Store, input: &Input) {
    match input.clone() {
        Input::Message(m) => store.apply(Incoming::Message(m), 0),
        Input::History(page) => store.apply_history(page),
        Input::Revoke(msg_id, conversation_id) => store.apply(
            Incoming::Revoke {
                msg_id,
                conversation_id,
            },
            0,
        ),
        Input::Read {
            sender,
            conversation,
            up_to,
        } => store.apply(
            Incoming::Read {
                sender_id: sender,
                conversation_id: conversation,
                up_to_weight: Some(up_to),
            },
            0,
        ),
        Input::Resend(id, weight) => store.apply_resend(id, weight),
    }
    while store.poll_event().is_some() {}
}

/// Everything a user could see.
#[derive(Debug, PartialEq)]
struct Snapshot {
    list: Vec<ConversationSummary>,
    messages: Vec<Vec<StoredMessage>>,
    unread_total: u64,
}

fn snapshot(store: &Store) -> Snapshot {
    let list = store.conversations();
    let messages = conversations()
        .into_iter()
        .map(|c| store.messages(c, None, usize::MAX))
        .collect();
    Snapshot {
        list,
        messages,
        unread_total: store.unread_total(),
    }
}

/// A permutation with repetitions, from proptest's seeds.
fn shuffled(inputs: &[Input], order: &[(u16, bool)]) -> Vec<Input> {
    let mut out: Vec<Input> = inputs.to_vec();
    let n = out.len();
    for (i, (j, _)) in order.iter().enumerate() {
        let a = i % n;
        let b = usize::from(*j) % n;
        out.swap(a, b);
    }
    for (j, dup) in order {
        if *dup {
            let pick = out[usize::from(*j) % n].clone();
            let at = usize::from(j.rotate_left(3)) % (out.len() + 1);
            out.insert(at, pick);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_order_and_any_duplication_converge(
        inputs in inputs(),
        order_a in prop::collection::vec(any::<(u16, bool)>(), 0..60),
        order_b in prop::collection::vec(any::<(u16, bool)>(), 0..60),
    ) {
        let mut reference = Store::new(ME);
        for input in &inputs {
            apply(&mut reference, input);
        }
        let expected = snapshot(&reference);

        for order in [&order_a, &order_b] {
            let mut store = Store::new(ME);
            for input in shuffled(&inputs, order) {
                apply(&mut store, &input);
            }
            prop_assert_eq!(&snapshot(&store), &expected);
        }

        // The order is total and consistent with weight; statuses agree with the inputs.
        for msgs in &expected.messages {
            let keys: Vec<&MessageKey> = msgs.iter().map(|m| &m.key).collect();
            prop_assert!(keys.windows(2).all(|w| w[0] < w[1]), "strictly ascending keys");
            prop_assert!(msgs.windows(2).all(|w| w[0].key.weight <= w[1].key.weight));
            for m in msgs {
                prop_assert!(matches!(m.status, Status::Sent | Status::Revoked));
                prop_assert_eq!(m.content.is_none(), m.status == Status::Revoked);
                prop_assert!(!m.read || m.key.sender_id == ME);
            }
        }
        let total: u64 = expected.list.iter().map(|c| u64::from(c.unread)).sum();
        prop_assert_eq!(total, expected.unread_total);
        let activity: Vec<u64> = expected.list.iter().map(|c| c.last_activity).collect();
        prop_assert!(activity.windows(2).all(|w| w[0] >= w[1]), "most recent first");
    }
}

//! Convergence: the same inputs in any interleaving end in the same state.
//!
//! The inputs: user commands (send, markRead, open/close, a page of history), incoming
//! publishes (new messages, redeliveries of messages held in memory, in storage only, or
//! twice, revokes, read receipts of my other device), alone or several in one frame
//! ([`crate::client::ChatEngine::handle_session_events`]), and the answers to
//! every request (HTTP, storage, the session's), delivered in a random order. User
//! commands keep their order (they are the user's); time stands still, so my weights do
//! not depend on the interleaving.
//!
//! A message that arrives while its conversation is open is read by definition, so the
//! conversation the user views (1_2) is marked read at the end of every run; the unread
//! count of the other one (1_3) comes from network inputs only and must converge as is.
//!
//! Compared: the conversation list (order, unread counts, last message), the unread total,
//! and the whole history as a restart would show it (storage, read back with
//! `startup::load` and paged back to the start), message by message.

use proptest::prelude::*;

use super::harness::*;
use crate::chat::store::{ConversationSummary, StoredMessage};
use crate::chat::{ConversationId, Incoming, WireMessage};
use crate::client::key_of;
use crate::client::ChatEvent;
use crate::storage::{startup, MemoryStorage};

#[derive(Debug, Clone)]
enum Cmd {
    Send(bool),
    MarkRead,
    Open,
    Close,
    /// The page before the oldest message held (`true`) or the newest page.
    Page(bool, bool),
}

#[derive(Debug, Clone)]
enum Net {
    /// A message of the pool.
    Msg(usize),
    /// A revoke of a message of the pool.
    Revoke(usize),
    /// My other device read a conversation up to a weight.
    MyRead(bool, u64),
}

fn conv(first: bool) -> ConversationId {
    if first {
        c12()
    } else {
        c13()
    }
}

/// Weight of old message `i` (storage holds them).
fn old_weight(i: u64) -> u64 {
    T0 - 600_000 + i * 10_000
}

/// The world before the run: 8 old messages per conversation in storage (and on the
/// backend), the newest loaded (from its conversation record), pages of 3.
fn world(kind: Kind) -> Sim {
    let mut server = Server::default();
    for c in [c12(), c13()] {
        let peer = c.peer_of(ME).unwrap();
        for i in 0..8 {
            let sender = if i % 3 == 1 { ME } else { peer };
            server.post(sender, c, &format!("old{i}"), old_weight(i));
        }
    }
    server.to_me.clear();
    let storage = MemoryStorage::new();
    let mut all = server.history(c12());
    all.extend(server.history(c13()));
    seed_storage(&storage, all);
    let mut sim = Sim::with_storage(kind, 3, storage, server);
    sim.set_time(T0);
    sim.http_eager = true;
    sim.auto_lookups = false;
    // The broker acknowledges publishes; nothing else of a connection is involved.
    sim.connected = true;
    sim
}

/// The incoming messages: new ones from the peers, and the old ones again.
fn pool(sim: &Sim) -> Vec<WireMessage> {
    let mut p: Vec<WireMessage> = Vec::new();
    for c in [c12(), c13()] {
        let peer = c.peer_of(ME).unwrap();
        for i in 0..5u64 {
            let id = 7_000 + i + if c == c12() { 0 } else { 100 };
            p.push(wire(
                id,
                c,
                peer,
                T0 - 5_000 + i * 1_000,
                &format!("new{i}"),
            ));
        }
        p.extend(sim.server.history(c));
    }
    p
}

/// What the broker delivers for `n`.
fn incoming(n: &Net, pool: &[WireMessage]) -> Incoming {
    match *n {
        Net::Msg(i) => Incoming::Message(pool[i % pool.len()].clone()),
        Net::Revoke(i) => {
            let m = &pool[i % pool.len()];
            Incoming::Revoke {
                msg_id: m.id,
                conversation_id: m.conversation_id,
            }
        }
        Net::MyRead(first, w) => Incoming::Read {
            sender_id: conv(first).peer_of(ME).unwrap(),
            conversation_id: conv(first),
            up_to_weight: Some(w),
        },
    }
}

#[derive(Debug, PartialEq)]
struct Final {
    list: Vec<ConversationSummary>,
    unread_total: u64,
    history: Vec<(ConversationId, Vec<StoredMessage>)>,
    restarted_list: Vec<(ConversationId, u32)>,
}

fn run(kind: Kind, cmds: &[Cmd], net: &[Net], schedule: &[u16]) -> Final {
    let mut sim = world(kind);
    let pool = pool(&sim);
    let mut cmds = cmds.iter();
    let mut net: Vec<Net> = net.to_vec();
    let mut choices = schedule.iter().copied().chain(std::iter::repeat(0));
    let mut next_cmd = cmds.next();
    loop {
        // What may happen next: (kind of action, how many of it).
        let ready = [
            usize::from(next_cmd.is_some()),
            net.len(),
            sim.http.len(),
            sim.storage_ops.len(),
            sim.mqtt_pending.len(),
            sim.inflight.len(),
        ];
        let total: usize = ready.iter().sum();
        if total == 0 {
            break;
        }
        let mut pick = usize::from(choices.next().unwrap()) % total;
        let mut action = 0;
        while pick >= ready[action] {
            pick -= ready[action];
            action += 1;
        }
        let now = sim.now();
        match action {
            0 => {
                let c = sim.cmd();
                match next_cmd.take().unwrap() {
                    Cmd::Send(first) => {
                        let t = format!("mine{c}");
                        sim.engine.send(now, c, conv(*first), text(&t)).unwrap();
                    }
                    Cmd::MarkRead => sim.engine.mark_read(now, c, c12()),
                    Cmd::Open => sim.engine.open_conversation(now, c12()),
                    Cmd::Close => sim.engine.close_conversation(now),
                    Cmd::Page(first, older) => {
                        let before = older
                            .then(|| sim.loaded(conv(*first)).into_iter().next())
                            .flatten()
                            .map(|m| key_of(&m.key.id, m.local_id.as_deref()));
                        sim.engine
                            .messages(now, c, conv(*first), before.as_deref(), Some(3));
                    }
                }
                sim.pump();
                next_cmd = cmds.next();
            }
            1 => {
                // A frame: this publish and up to three more, one input of the engine.
                let extra = usize::from(choices.next().unwrap() % 4);
                let frame: Vec<Incoming> = (0..=extra)
                    .map_while(|_| (pick < net.len()).then(|| net.remove(pick)))
                    .map(|n| incoming(&n, &pool))
                    .collect();
                sim.deliver_frame(&frame);
            }
            2 => sim.answer_http(pick),
            3 => sim.answer_storage(pick),
            4 => sim.accept_mqtt(pick),
            _ => {
                let id = sim.inflight.remove(pick);
                let event = crate::session::Event::PublishDone {
                    id,
                    reason: crate::mqtt::ReasonCode::Success,
                };
                sim.engine.handle_session_event(now, event);
                sim.pump();
            }
        }
    }
    sim.settle();
    let now = sim.now();
    sim.engine.close_conversation(now);
    let c = sim.cmd();
    sim.engine.mark_read(now, c, c12());
    sim.settle();
    sim.assert_no_errors();

    for c in [c12(), c13()] {
        assert_once_in_order(&sim.loaded(c));
    }
    let mut restarted = block_on(startup::load(&sim.storage, ME)).unwrap();
    for c in [c12(), c13()] {
        while block_on(startup::load_older(
            &sim.storage,
            &mut restarted.store,
            c,
            64,
        ))
        .unwrap()
            > 0
        {}
    }
    let history = [c12(), c13()]
        .into_iter()
        .map(|c| {
            let all = restarted.store.messages(c, None, usize::MAX);
            assert_once_in_order(&all);
            // What the engine holds is what storage holds.
            for m in sim.loaded(c) {
                assert!(all.contains(&m), "held but not stored as is: {m:?}");
            }
            (c, all)
        })
        .collect();
    let restarted_list = restarted
        .store
        .conversations()
        .into_iter()
        .map(|c| (c.id, c.unread))
        .collect();
    Final {
        list: sim.engine.conversations(),
        unread_total: sim.engine.unread_total(),
        history,
        restarted_list,
    }
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        3 => any::<bool>().prop_map(Cmd::Send),
        1 => Just(Cmd::MarkRead),
        1 => Just(Cmd::Open),
        1 => Just(Cmd::Close),
        2 => (any::<bool>(), any::<bool>()).prop_map(|(c, o)| Cmd::Page(c, o)),
    ]
}

fn net() -> impl Strategy<Value = Net> {
    // Pool: 0..5 new in 1_2, 5..13 old in 1_2, 13..18 new in 1_3, 18..26 old in 1_3.
    let weight = prop_oneof![
        (0..8u64).prop_map(old_weight),
        (0..5u64).prop_map(|i| T0 - 5_000 + i * 1_000),
        Just(T0 + 10),
    ];
    prop_oneof![
        6 => (0..26usize).prop_map(Net::Msg),
        2 => (0..26usize).prop_map(Net::Revoke),
        // My other device's read marks stay at or above the page loaded at start-up, and
        // the peer's receipts are left out: a mark inside unloaded history does not
        // converge in the store (src/chat/store: `advance_my_read_mark` cannot subtract
        // unloaded unread messages and takes the oldest message held, which may be one
        // read back out of order, for the edge of history; `load_one` does not derive
        // `read` from the peer's mark). Reported, not fixed here (outside src/client).
        1 => (any::<bool>(), weight.prop_map(|w| w.max(old_weight(5))))
            .prop_map(|(c, w)| Net::MyRead(c, w)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn interleavings_converge(
        backend in any::<bool>(),
        cmds in proptest::collection::vec(cmd(), 0..8),
        net in proptest::collection::vec(net(), 0..16),
        schedules in proptest::collection::vec(proptest::collection::vec(any::<u16>(), 0..80), 2),
    ) {
        let kind = if backend { Kind::Backend } else { Kind::Direct };
        let canonical = run(kind, &cmds, &net, &[]);
        for schedule in &schedules {
            let other = run(kind, &cmds, &net, schedule);
            prop_assert_eq!(&other, &canonical);
        }
    }
}

/// What delivering some frames did: the events (but the conversation lists), what
/// storage holds of each conversation, and how many writes it took.
struct Delivered {
    events: Vec<ChatEvent>,
    stored: Vec<(ConversationId, Vec<StoredMessage>)>,
    writes: u64,
}

/// `frames`, each delivered as one input, to the same world.
fn deliver_in(frames: &[Vec<Incoming>]) -> Delivered {
    let mut sim = world(Kind::Direct);
    sim.auto_lookups = true;
    sim.pump();
    sim.events.clear();
    let writes = sim.writes;
    for frame in frames {
        sim.deliver_frame(frame);
    }
    sim.assert_no_errors();
    // The conversation list is sent once per flush, so once per frame: left out.
    let events = std::mem::take(&mut sim.events)
        .into_iter()
        .filter(|e| !matches!(e, ChatEvent::Conversations))
        .collect();
    let stored = [c12(), c13()]
        .into_iter()
        .map(|c| (c, sim.stored(c)))
        .collect();
    Delivered {
        events,
        stored,
        writes: sim.writes - writes,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A frame of publishes (one `handle_session_events`) tells the page and storage what
    /// its publishes one by one would, in the same order, and is written by the end of the
    /// input, in no more writes (one, unless a storage read came between: see
    /// `a_frame_of_new_messages_is_one_write`).
    #[test]
    fn a_frame_is_its_publishes_one_by_one(picks in proptest::collection::vec(net(), 1..12)) {
        let sim = world(Kind::Direct);
        let pool = pool(&sim);
        let frame: Vec<Incoming> = picks
            .iter()
            .filter(|n| !matches!(n, Net::MyRead(..)))
            .map(|n| incoming(n, &pool))
            .collect();
        let one_by_one: Vec<Vec<Incoming>> = frame.iter().map(|i| vec![i.clone()]).collect();
        let one_by_one = deliver_in(&one_by_one);
        let framed = deliver_in(&[frame]);
        prop_assert_eq!(framed.events, one_by_one.events);
        prop_assert_eq!(framed.stored, one_by_one.stored);
        prop_assert!(framed.writes <= one_by_one.writes.max(1));
    }
}

#[test]
fn a_frame_of_new_messages_is_one_write() {
    // Newer than anything stored, as a backlog is: nothing to read back first.
    let frame: Vec<Incoming> = (0..10u64)
        .map(|i| {
            let c = if i % 2 == 0 { c12() } else { c13() };
            let peer = c.peer_of(ME).unwrap();
            Incoming::Message(wire(900_000 + i, c, peer, T0 + 1_000 * (i + 1), "new"))
        })
        .collect();
    let Delivered {
        events,
        stored,
        writes,
    } = deliver_in(std::slice::from_ref(&frame));
    assert_eq!(writes, 1);
    let inserted = events
        .iter()
        .filter(|e| matches!(e, ChatEvent::Message { .. }))
        .count();
    assert_eq!(inserted, frame.len());
    for (c, messages) in stored {
        let new = messages.iter().filter(|m| {
            m.server_id()
                .is_some_and(|id| (900_000..900_010).contains(&id))
        });
        assert_eq!(new.count(), 5, "{c}");
    }
}

//! One connection shared by a user's tabs: the views of every tab decide what is open
//! (read now, read as messages arrive); a tab without the connection drafts a message and
//! the one that holds it sends it, once however often it is asked; a tab taking over adopts
//! what the mirror held, sending again what was still under way, once. Both modes.

use super::harness::*;
use crate::chat::api::Method;
use crate::chat::store::{MessageRef, Status, StoredMessage};
use crate::chat::{ConversationId, Incoming};
use crate::client::{key_of, ChatEngine, ErrorCode, Reply};
use crate::storage::{MemoryStorage, Storage};

/// A second page visit of the same user: its own engine, its own draws of local ids.
fn other_tab(kind: Kind) -> Sim {
    let mut sim = Sim::new(kind, 30);
    sim.config.seed = 4_242;
    sim.restart();
    sim
}

/// The read receipts sent for `conv`: direct, the publishes to the peer's topic; backend,
/// the `POST /messages/read` naming it.
fn receipts(sim: &Sim, kind: Kind, conv: ConversationId) -> usize {
    match kind {
        Kind::Direct => {
            let topic = format!("chat_{}", conv.peer_of(ME).unwrap());
            sim.published_to(&topic)
                .iter()
                .filter(|i| matches!(i, Incoming::Read { conversation_id, .. } if *conversation_id == conv))
                .count()
        }
        Kind::Backend => sim
            .requests_to(Method::Post, "/messages/read")
            .iter()
            .filter(|r| {
                let body: serde_json::Value =
                    serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
                body["conversation_id"].as_str() == Some(conv.to_string().as_str())
            })
            .count(),
    }
}

/// My messages as the peer (direct) or the backend (backend) got them.
fn transmitted(sim: &Sim, kind: Kind) -> usize {
    match kind {
        Kind::Direct => sim
            .published_to("chat_2")
            .iter()
            .filter(|i| matches!(i, Incoming::Message(_)))
            .count(),
        Kind::Backend => sim.requests_to(Method::Post, "/messages").len(),
    }
}

/// A message of the peer of `conv`, now.
fn arrive(sim: &mut Sim, id: u64, conv: ConversationId, t: &str) {
    sim.advance(1_000);
    let sender = conv.peer_of(ME).unwrap();
    let w = sim.server_ms;
    sim.deliver(&Incoming::Message(wire(id, conv, sender, w, t)));
}

// ---- 1. views -------------------------------------------------------------------------------

/// A conversation is open while any visible tab shows it: read at once (one receipt), read
/// as messages arrive; hidden or closed everywhere, messages count unread again.
#[test]
fn a_conversation_is_open_while_any_visible_tab_shows_it() {
    for kind in KINDS {
        let mut sim = Sim::connected(kind, 30);
        arrive(&mut sim, 10, c12(), "a");
        arrive(&mut sim, 11, c12(), "b");
        arrive(&mut sim, 12, c13(), "c");
        sim.settle();
        assert_eq!((sim.unread(c12()), sim.unread(c13())), (2, 1), "{kind:?}");
        assert_eq!(receipts(&sim, kind, c12()), 0);

        // Tab "a" shows c12: read now, one receipt; c13 untouched.
        sim.engine.set_view(sim.now(), "a", Some(c12()), true);
        sim.pump();
        assert_eq!(sim.unread(c12()), 0, "{kind:?}: read while tab a shows it");
        assert_eq!(sim.unread(c13()), 1, "{kind:?}");
        assert_eq!(receipts(&sim, kind, c12()), 1, "{kind:?}");
        assert_eq!(receipts(&sim, kind, c13()), 0, "{kind:?}");
        assert_eq!(sim.engine.view_tabs(), vec!["a".to_string()]);
        if kind == Kind::Direct {
            let last = sim.published_to("chat_2").pop().unwrap();
            assert_eq!(
                last,
                Incoming::Read {
                    sender_id: PEER,
                    conversation_id: c12(),
                    up_to_weight: Some(T0 + 2_000),
                }
            );
        }
        sim.settle();
        if kind == Kind::Backend {
            assert_eq!(sim.server.unread[&c12()], 0, "the backend heard it");
        }

        // Arriving while shown: read at once, and a receipt follows.
        arrive(&mut sim, 13, c12(), "d");
        assert_eq!(sim.unread(c12()), 0, "{kind:?}: read as it arrives");
        sim.settle();
        assert_eq!(receipts(&sim, kind, c12()), 2, "{kind:?}");
        assert_eq!(sim.engine.unread_total(), 1);

        // The tab is hidden: c12 is not open anywhere.
        sim.engine.set_view(sim.now(), "a", Some(c12()), false);
        sim.pump();
        arrive(&mut sim, 14, c12(), "e");
        sim.settle();
        assert_eq!(sim.unread(c12()), 1, "{kind:?}: hidden, so unread");
        assert_eq!(receipts(&sim, kind, c12()), 2, "{kind:?}: no receipt");

        // Visible again: read again.
        sim.engine.set_view(sim.now(), "a", Some(c12()), true);
        sim.settle();
        assert_eq!(sim.unread(c12()), 0, "{kind:?}");
        assert_eq!(receipts(&sim, kind, c12()), 3, "{kind:?}");

        // Two tabs, two conversations: both open.
        sim.engine.set_view(sim.now(), "b", Some(c13()), true);
        sim.settle();
        assert_eq!((sim.unread(c12()), sim.unread(c13())), (0, 0), "{kind:?}");
        assert_eq!(receipts(&sim, kind, c13()), 1, "{kind:?}");
        arrive(&mut sim, 15, c12(), "f");
        arrive(&mut sim, 16, c13(), "g");
        sim.settle();
        assert_eq!((sim.unread(c12()), sim.unread(c13())), (0, 0), "{kind:?}");
        assert_eq!(receipts(&sim, kind, c12()), 4, "{kind:?}");
        assert_eq!(receipts(&sim, kind, c13()), 2, "{kind:?}");
        let mut tabs = sim.engine.view_tabs();
        tabs.sort();
        assert_eq!(tabs, vec!["a".to_string(), "b".to_string()]);

        // This engine's own tab shows c13 too; tab b drops its view: c13 stays open.
        sim.engine.open_conversation(sim.now(), c13());
        sim.settle();
        assert_eq!(
            receipts(&sim, kind, c13()),
            2,
            "{kind:?}: nothing new to read"
        );
        sim.engine.set_view(sim.now(), "b", None, true);
        sim.settle();
        assert_eq!(sim.engine.view_tabs(), vec!["a".to_string()], "{kind:?}");
        arrive(&mut sim, 17, c13(), "h");
        sim.settle();
        assert_eq!(sim.unread(c13()), 0, "{kind:?}: still shown here");
        assert_eq!(receipts(&sim, kind, c13()), 3, "{kind:?}");

        // Closed here: c13 is shown nowhere; c12 still in tab a.
        sim.engine.close_conversation(sim.now());
        sim.settle();
        assert_eq!(sim.engine.view_tabs(), vec!["a".to_string()], "{kind:?}");
        arrive(&mut sim, 18, c13(), "i");
        arrive(&mut sim, 19, c12(), "j");
        sim.settle();
        assert_eq!((sim.unread(c12()), sim.unread(c13())), (0, 1), "{kind:?}");

        // Tab a goes away: nothing is open, nothing listed.
        sim.engine.set_view(sim.now(), "a", None, true);
        sim.settle();
        assert!(sim.engine.view_tabs().is_empty(), "{kind:?}");
        arrive(&mut sim, 20, c12(), "k");
        sim.settle();
        assert_eq!((sim.unread(c12()), sim.unread(c13())), (1, 1), "{kind:?}");
        assert_eq!(receipts(&sim, kind, c12()), 5, "{kind:?}");
        assert_eq!(receipts(&sim, kind, c13()), 3, "{kind:?}");
        assert_eq!(sim.engine.unread_total(), 2);
        sim.assert_no_errors();
    }
}

// ---- 2. draft here, send there ----------------------------------------------------------------

/// A follower tab drafts (nothing held, nothing written); the leader sends the draft once,
/// keeping its local id and weight; asked again with the same local id, before or after
/// the send completed, it sends nothing more and the call settles with the same message.
#[test]
fn a_draft_is_sent_once_by_the_leader() {
    for kind in KINDS {
        let mut follower = other_tab(kind);
        follower.set_time(T0);
        // The follower's wall clock runs ahead: its weight is above the leader's "now".
        follower.skew = 5_000;
        let mut leader = Sim::connected(kind, 30);

        let draft = follower
            .engine
            .draft(follower.now(), c12(), text("from tab b"))
            .expect("a draft");
        follower.pump();
        let local = draft.local_id.clone().expect("a local id");
        assert_eq!(draft.key.id, MessageRef::Local(local.clone()));
        assert_eq!(draft.status, Status::Sending);
        assert_eq!(draft.sender_id(), ME);
        assert_eq!(draft.receiver_id, PEER);
        assert_eq!(draft.conversation_id, c12());
        assert!(
            draft.weight() >= T0 + 5_000,
            "{kind:?}: the follower's clock"
        );
        assert!(follower.loaded(c12()).is_empty(), "{kind:?}: not held");
        assert!(follower.engine.conversations().is_empty());
        assert!(follower.stored(c12()).is_empty(), "{kind:?}: not written");
        assert!(block_on(follower.storage.outbox()).unwrap().is_empty());
        assert!(follower.mqtt_log.is_empty() && follower.http_log.is_empty());
        let second = follower
            .engine
            .draft(follower.now(), c12(), text("another"))
            .unwrap();
        assert_ne!(second.local_id, draft.local_id, "a fresh local id each");
        assert!(second.weight() > draft.weight(), "a fresh weight each");

        // Nobody's chat of mine: refused, in both engines.
        let others = ConversationId::direct(PEER, PEER3).unwrap();
        let e = follower
            .engine
            .draft(follower.now(), others, text("x"))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::SelfMessage, "{kind:?}");
        let refused = leader.cmd();
        let e = leader
            .engine
            .send_draft(leader.now(), refused, "99", others, text("x"), T0)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::SelfMessage, "{kind:?}");
        leader.pump();
        assert_eq!(transmitted(&leader, kind), 0);

        // The leader sends it: the same local copy, transmitted once.
        let first = leader.cmd();
        let shown = leader
            .engine
            .send_draft(
                leader.now(),
                first,
                &local,
                c12(),
                text("from tab b"),
                draft.weight(),
            )
            .expect("sent");
        assert_eq!(
            shown, draft,
            "{kind:?}: the follower showed what the leader holds"
        );
        leader.pump();
        assert_eq!(transmitted(&leader, kind), 1, "{kind:?}");
        assert_eq!(leader.loaded(c12()), vec![draft.clone()]);

        // Asked again while under way: no second transmission, settles with the first.
        let again = leader.cmd();
        let held = leader
            .engine
            .send_draft(
                leader.now(),
                again,
                &local,
                c12(),
                text("from tab b"),
                draft.weight(),
            )
            .expect("held");
        assert_eq!(held, draft);
        leader.pump();
        assert_eq!(transmitted(&leader, kind), 1, "{kind:?}: not twice");
        assert!(
            !leader.done.iter().any(|(c, _)| *c == again || *c == first),
            "{kind:?}: nothing settles before the send does"
        );

        leader.settle();
        let sent = match leader.result(first) {
            Ok(Reply::Message(Some(m))) => m.clone(),
            other => panic!("{kind:?}: {other:?}"),
        };
        assert!(is_sent(&sent), "{kind:?}: {sent:?}");
        assert_eq!(sent.local_id.as_deref(), Some(local.as_str()));
        assert_eq!(leader.result(again), leader.result(first), "{kind:?}");
        assert_eq!(transmitted(&leader, kind), 1, "{kind:?}");
        match kind {
            Kind::Direct => {
                let published: Vec<Incoming> = leader
                    .published_to("chat_2")
                    .into_iter()
                    .filter(|i| matches!(i, Incoming::Message(_)))
                    .collect();
                match &published[..] {
                    [Incoming::Message(m)] => {
                        assert_eq!(m.id, local.parse::<u64>().unwrap(), "the local id");
                        assert_eq!(m.weight, draft.weight(), "the drafted weight");
                        assert_eq!(sent.server_id(), Some(m.id));
                    }
                    other => panic!("{other:?}"),
                }
            }
            Kind::Backend => {
                assert_eq!(leader.server.messages.len(), 1);
                assert_eq!(leader.server.messages[0].weight, draft.weight());
                assert_eq!(sent.server_id(), Some(leader.server.messages[0].id));
            }
        }

        // Asked again after it was sent: settles at once, nothing transmitted.
        let late = leader.cmd();
        let held = leader
            .engine
            .send_draft(
                leader.now(),
                late,
                &local,
                c12(),
                text("from tab b"),
                draft.weight(),
            )
            .expect("held");
        assert_eq!(held, sent);
        leader.pump();
        assert_eq!(leader.result(late), &Ok(Reply::Message(Some(sent.clone()))));
        leader.settle();
        assert_eq!(transmitted(&leader, kind), 1, "{kind:?}");
        assert_eq!(
            leader.loaded(c12()),
            vec![sent.clone()],
            "{kind:?}: held once"
        );

        // The leader's own next message comes after the draft, whatever its clock says.
        let own = leader.cmd();
        let mine = leader
            .engine
            .send(leader.now(), own, c12(), text("from tab a"))
            .unwrap();
        assert!(mine.weight() > draft.weight(), "{kind:?}");
        leader.settle();
        assert_eq!(transmitted(&leader, kind), 2, "{kind:?}");
        let loaded = leader.loaded(c12());
        assert_once_in_order(&loaded);
        assert_eq!(loaded.len(), 2);
        assert!(loaded.iter().all(is_sent), "{kind:?}: {loaded:?}");

        // Kept: a restart finds both, and nothing left to send.
        leader.restart();
        leader.read_back(c12());
        assert_eq!(leader.loaded(c12()), loaded, "{kind:?}");
        assert!(block_on(leader.storage.outbox()).unwrap().is_empty());
        leader.assert_no_errors();
        follower.assert_no_errors();
    }
}

/// A follower takes the leader's clock offset: its drafts carry server time, not its own
/// wall clock, and the leader sends them with that weight.
#[test]
fn a_follower_drafts_in_the_leaders_time() {
    for kind in KINDS {
        // One machine: both tabs' wall clocks run 5 s ahead of the server.
        let mut leader = Sim::new(kind, 30);
        leader.skew = 5_000;
        leader.set_time(T0);
        leader.connect();
        leader.settle();
        let offset = match kind {
            Kind::Backend => leader.engine.clock_offset().expect("calibrated"),
            // Nothing to measure against: an offset an earlier visit measured.
            Kind::Direct => 5_000,
        };
        assert_eq!(offset, 5_000, "{kind:?}");
        let mut follower = other_tab(kind);
        follower.skew = 5_000;
        follower.set_time(T0 + 1_000);
        leader.set_time(T0 + 1_000);
        follower.engine.assume_clock_offset(offset);
        let d = follower
            .engine
            .draft(follower.now(), c12(), text("on time"))
            .unwrap();
        assert_eq!(d.weight(), T0 + 1_000, "{kind:?}: server time");
        let c = leader.cmd();
        leader
            .engine
            .send_draft(
                leader.now(),
                c,
                d.local_id.as_deref().unwrap(),
                c12(),
                text("on time"),
                d.weight(),
            )
            .unwrap();
        leader.settle();
        match leader.result(c) {
            Ok(Reply::Message(Some(m))) => {
                assert!(is_sent(m), "{kind:?}");
                assert_eq!(m.weight(), T0 + 1_000, "{kind:?}");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
        leader.assert_no_errors();
    }
}

// ---- 3. hand-over ---------------------------------------------------------------------------

/// Engine A holds messages received and sent, and one of mine whose send never heard back.
/// Engine B, over empty storage, adopts their records: it lists and counts them as A did,
/// writes them, and sends the one under way exactly once (at once if connected, else on
/// connect). Adopting the same records again changes nothing.
#[test]
fn a_tab_taking_over_adopts_what_the_mirror_held() {
    for kind in KINDS {
        for connect_first in [false, true] {
            let label = format!("{kind:?}, connected before adopting: {connect_first}");
            let mut a = Sim::connected(kind, 30);
            let peer_says = |a: &mut Sim, id: u64, conv: ConversationId, t: &str| {
                a.advance(1_000);
                let w = a.server_ms;
                let sender = conv.peer_of(ME).unwrap();
                match kind {
                    Kind::Direct => a.deliver(&Incoming::Message(wire(id, conv, sender, w, t))),
                    Kind::Backend => {
                        a.server.post(sender, conv, t, w);
                        a.deliver_from_server();
                    }
                }
            };
            peer_says(&mut a, 10, c12(), "hello");
            peer_says(&mut a, 11, c13(), "from 3");
            a.advance(1_000);
            let sent_cmd = a.cmd();
            a.engine
                .send(a.now(), sent_cmd, c12(), text("answered"))
                .unwrap();
            a.settle();
            assert!(matches!(a.result(sent_cmd), Ok(Reply::Message(Some(m))) if is_sent(m)));
            peer_says(&mut a, 12, c12(), "and?");
            // Mine, under way: the PUBACK (direct) or the HTTP answer (backend) never comes.
            a.advance(1_000);
            let lost_cmd = a.cmd();
            let lost = a
                .engine
                .send(a.now(), lost_cmd, c12(), text("under way"))
                .unwrap();
            a.pump();
            if kind == Kind::Direct {
                let i = a.mqtt_pending.len() - 1;
                a.accept_mqtt(i);
            }
            peer_says(&mut a, 13, c12(), "after");
            let lost_local = lost.local_id.clone().unwrap();
            assert_eq!(
                a.message(&MessageRef::Local(lost_local.clone()))
                    .unwrap()
                    .status,
                Status::Sending
            );
            assert_eq!(transmitted(&a, kind), 2);

            let held: Vec<StoredMessage> = [c12(), c13()]
                .into_iter()
                .flat_map(|c| a.loaded(c))
                .collect();
            assert_eq!(held.len(), 6, "{label}");
            let records: Vec<String> = held
                .iter()
                .map(|m| {
                    let key = key_of(&m.key.id, m.local_id.as_deref());
                    a.engine.record_of(&key).expect("a record")
                })
                .collect();
            let parsed = ChatEngine::parse_records(&records);
            assert_eq!(parsed, held, "{label}: records round-trip");
            let mut with_junk = records.clone();
            with_junk.insert(1, "not a record".into());
            assert_eq!(ChatEngine::parse_records(&with_junk), held, "{label}");
            assert_eq!(a.engine.record_of("no such key"), None);

            // B takes over, over empty storage; the backend is the same one.
            let server = std::mem::take(&mut a.server);
            let mut b = Sim::with_storage(kind, 30, MemoryStorage::new(), server);
            b.config.seed = 4_242;
            b.restart();
            b.set_time(a.server_ms + 1_000);
            if connect_first {
                // Connected; the catch-up (backend) is still on its way.
                b.connect();
                b.settle_mqtt();
                assert_eq!(transmitted(&b, kind), 0);
            }
            b.events.clear();
            b.engine.adopt(b.now(), parsed.clone());
            b.pump();
            let expect_now = usize::from(connect_first);
            assert_eq!(transmitted(&b, kind), expect_now, "{label}");
            for c in [c12(), c13()] {
                assert_eq!(b.loaded(c), a.loaded(c), "{label}: {c} listed as in A");
                assert_eq!(b.unread(c), a.unread(c), "{label}: {c} unread as in A");
                assert_eq!(b.stored(c), b.loaded(c), "{label}: {c} written");
            }
            assert_eq!((b.unread(c12()), b.unread(c13())), (3, 1), "{label}");
            assert_eq!(b.engine.unread_total(), a.engine.unread_total());
            assert_eq!(
                b.engine.conversations(),
                a.engine.conversations(),
                "{label}"
            );
            if !connect_first {
                let outbox = block_on(b.storage.outbox()).unwrap();
                let locals: Vec<&str> = outbox.iter().map(|e| e.local_id.as_str()).collect();
                assert_eq!(locals, vec![lost_local.as_str()], "{label}: kept to send");
            }

            // The same records again: nothing changes, nothing is sent.
            let before = (b.loaded(c12()), b.loaded(c13()), b.engine.conversations());
            b.events.clear();
            b.engine.adopt(b.now(), parsed.clone());
            b.pump();
            assert!(b.events.is_empty(), "{label}: {:?}", b.events);
            assert_eq!(
                (b.loaded(c12()), b.loaded(c13()), b.engine.conversations()),
                before
            );
            assert_eq!(transmitted(&b, kind), expect_now, "{label}");

            if !connect_first {
                // Written: a restart of B holds them all, and still sends the one once.
                b.restart();
                for c in [c12(), c13()] {
                    b.read_back(c);
                    assert_eq!(b.loaded(c), a.loaded(c), "{label}: {c} after a restart");
                    assert_eq!(b.unread(c), a.unread(c), "{label}");
                }
            }
            // The tab that drafted it asks the new leader again: it waits for that send.
            let asked = b.cmd();
            let waiting = b
                .engine
                .send_draft(
                    b.now(),
                    asked,
                    &lost_local,
                    c12(),
                    text("under way"),
                    lost.weight(),
                )
                .expect("held");
            assert_eq!(waiting.status, Status::Sending, "{label}");
            b.pump();
            assert!(!b.done.iter().any(|(c, _)| *c == asked), "{label}");
            if !connect_first {
                b.connect();
            }
            b.settle();
            assert_eq!(transmitted(&b, kind), 1, "{label}: sent exactly once");
            let now_sent = b.message(&MessageRef::Local(lost_local.clone())).unwrap();
            assert!(is_sent(&now_sent), "{label}: {now_sent:?}");
            assert_eq!(now_sent.content, lost.content);
            assert_eq!(
                b.result(asked),
                &Ok(Reply::Message(Some(now_sent.clone()))),
                "{label}"
            );
            match kind {
                Kind::Direct => {
                    // The id A published with: the peer dedupes it.
                    let ids = |s: &Sim| -> Vec<u64> {
                        s.published_to("chat_2")
                            .into_iter()
                            .filter_map(|i| match i {
                                Incoming::Message(m) => Some(m.id),
                                _ => None,
                            })
                            .collect()
                    };
                    assert_eq!(ids(&b), vec![*ids(&a).last().unwrap()], "{label}");
                    assert_eq!(now_sent.server_id(), ids(&b).first().copied());
                }
                Kind::Backend => {
                    let mine: Vec<_> = b
                        .server
                        .messages
                        .iter()
                        .filter(|m| m.sender_id == ME)
                        .collect();
                    assert_eq!(mine.len(), 2, "{label}: the lost one stored once");
                    assert_eq!(b.loaded_ids(c12()), b.server.ids(c12()), "{label}");
                }
            }
            let loaded = b.loaded(c12());
            assert_once_in_order(&loaded);
            assert_eq!(loaded.len(), 5, "{label}");
            assert!(block_on(b.storage.outbox()).unwrap().is_empty(), "{label}");

            // Adopting the old records after the send changes nothing either.
            b.events.clear();
            b.engine.adopt(b.now(), parsed);
            b.settle();
            assert!(b.events.is_empty(), "{label}: {:?}", b.events);
            assert_eq!(b.loaded(c12()), loaded);
            assert_eq!(transmitted(&b, kind), 1, "{label}");

            // And a later start sends nothing.
            b.restart();
            b.connect();
            b.settle();
            assert_eq!(transmitted(&b, kind), 0, "{label}");
            b.read_back(c12());
            assert_eq!(b.loaded(c12()), loaded, "{label}");
            b.assert_no_errors();
            a.assert_no_errors();
        }
    }
}

/// Adopted messages of the peer land in a conversation a visible tab shows: read like
/// any message arriving there, so a receipt goes out for them too.
#[test]
fn adopted_into_an_open_conversation_they_are_read() {
    for kind in KINDS {
        let mut a = Sim::connected(kind, 30);
        arrive(&mut a, 10, c12(), "one");
        arrive(&mut a, 11, c12(), "two");
        arrive(&mut a, 12, c13(), "three");
        let records: Vec<String> = [c12(), c13()]
            .into_iter()
            .flat_map(|c| a.loaded(c))
            .map(|m| a.engine.record_of(&key_of(&m.key.id, None)).unwrap())
            .collect();

        let mut b = other_tab(kind);
        b.set_time(a.server_ms + 1_000);
        b.connect();
        b.settle();
        // A follower tab shows c12 before the records come.
        b.engine.set_view(b.now(), "a", Some(c12()), true);
        b.settle();
        assert_eq!(
            receipts(&b, kind, c12()),
            0,
            "{kind:?}: nothing to read yet"
        );
        b.engine.adopt(b.now(), ChatEngine::parse_records(&records));
        b.pump();
        assert_eq!(b.loaded(c12()).len(), 2, "{kind:?}");
        assert_eq!(b.unread(c12()), 0, "{kind:?}: shown, so read");
        assert_eq!(b.unread(c13()), 1, "{kind:?}: not shown");
        b.settle();
        assert_eq!(receipts(&b, kind, c12()), 1, "{kind:?}: the peer hears it");
        assert_eq!(receipts(&b, kind, c13()), 0, "{kind:?}");
        if kind == Kind::Direct {
            let last = b.published_to("chat_2").pop().unwrap();
            assert_eq!(
                last,
                Incoming::Read {
                    sender_id: PEER,
                    conversation_id: c12(),
                    up_to_weight: Some(T0 + 2_000),
                }
            );
        }
        b.assert_no_errors();
    }
}

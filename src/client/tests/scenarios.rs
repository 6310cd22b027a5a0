//! The scenarios: catch-up, the history race, paging across sources, the outbox, revoke by
//! calibrated time, read receipts, presence and rooms, each in both modes where it applies.

use super::harness::*;
use crate::chat::api::Method;
use crate::chat::store::{MessageRef, Status, REVOKE_WINDOW_MS};
use crate::chat::{ConversationId, Incoming, WireMessage};
use crate::client::{key_of, ChatEvent, ErrorCode, MqttCommand, Reply};
use crate::mqtt::{QoS, ReasonCode};
use crate::session::{Event, RequestId};
use crate::storage::{MemoryStorage, Storage};

// ---- 1. catch-up after a broker drop ----------------------------------------------------

/// Backend mode: the broker lost everything published while the client was away (and what
/// was in flight at the drop). After the reconnect, `GET /conversations` and the history
/// pages bring every message, each once, in weight order; a redelivery racing the
/// catch-up changes nothing.
#[test]
fn catch_up_after_broker_drop_backend() {
    let mut sim = Sim::new(Kind::Backend, 5);
    sim.set_time(T0);
    sim.connect();
    sim.settle();
    for i in 0..6 {
        sim.advance(5_000);
        let w = sim.server_ms;
        sim.server.post(PEER, c12(), &format!("a{i}"), w);
        sim.deliver_from_server();
    }
    sim.advance(1_000);
    let cmd = sim.cmd();
    sim.engine
        .send(sim.now(), cmd, c12(), text("mine"))
        .unwrap();
    for i in 0..2 {
        sim.advance(1_000);
        let w = sim.server_ms;
        sim.server.post(PEER3, c13(), &format!("c{i}"), w);
        sim.deliver_from_server();
    }
    sim.engine.open_conversation(sim.now(), c12());
    sim.settle();
    sim.engine.close_conversation(sim.now());
    assert_eq!(
        sim.server.unread[&c12()],
        0,
        "the open conversation was read"
    );

    // In flight at the drop: published, lost with the broker.
    sim.advance(1_000);
    let w = sim.server_ms;
    sim.server.post(PEER, c12(), "in flight", w);
    sim.server.to_me.clear();
    sim.advance(500);
    sim.link_down();
    for i in 0..7 {
        sim.advance(10_000);
        let w = sim.server_ms;
        sim.server.post(PEER, c12(), &format!("b{i}"), w);
    }
    for i in 2..5 {
        sim.advance(3_000);
        let w = sim.server_ms;
        sim.server.post(PEER3, c13(), &format!("c{i}"), w);
    }
    // The broker kept only the last one (published after its restart).
    let kept = sim.server.to_me.pop().unwrap();
    sim.server.to_me.clear();

    sim.advance(20_000);
    let before = sim.http_log.len();
    sim.reconnect(false);
    sim.answer_http_path("/conversations");
    // The redelivery arrives while the history of c12 is in flight.
    sim.deliver(&kept);
    sim.settle();
    sim.deliver_dup(&kept, true);
    sim.settle();

    for c in [c12(), c13()] {
        let loaded = sim.loaded(c);
        assert_once_in_order(&loaded);
        assert_eq!(sim.loaded_ids(c), sim.server.ids(c), "{c}: nothing missing");
        let stored = sim.stored(c);
        assert_once_in_order(&stored);
        assert_eq!(stored, loaded, "{c}: storage holds the same");
        assert_eq!(sim.unread(c), sim.server.unread[&c], "{c}: unread");
    }
    assert_eq!(sim.unread(c12()), 8);
    assert_eq!(sim.unread(c13()), 5);
    let pages = sim.http_log[before..]
        .iter()
        .filter(|r| r.path.starts_with("/messages?conversation_id=1_2"))
        .count();
    assert!(
        pages >= 2,
        "c12 was paged back to the drop: {pages} page(s)"
    );
    sim.assert_no_errors();
}

/// Direct mode: nothing but the broker. It redelivers what was unacknowledged at the drop
/// (DUP) and what was queued for the persistent session, some of it twice; with the client
/// restarted while away too, so redeliveries of messages it holds only in storage are read
/// back first. Every message once, in order, counted unread once.
#[test]
fn redelivery_after_broker_drop_direct() {
    for restart in [false, true] {
        let mut sim = Sim::new(Kind::Direct, 5);
        sim.set_time(T0);
        sim.connect();
        sim.settle();
        let m: Vec<WireMessage> = (0..12)
            .map(|i| wire(100 + i, c12(), PEER, T0 + 1_000 * (i + 1), &format!("m{i}")))
            .collect();
        for w in &m[..8] {
            sim.advance(1_000);
            sim.deliver(&Incoming::Message(w.clone()));
        }
        sim.advance(500);
        sim.link_down();
        if restart {
            sim.restart();
            assert_eq!(
                sim.loaded(c12()).len(),
                1,
                "only the newest, from its record"
            );
            sim.connect();
        } else {
            sim.advance(10_000);
            sim.reconnect(true);
        }
        sim.settle();
        // Unacknowledged at the drop, then the queue, then a second redelivery.
        for i in [6, 7, 1, 8, 9, 10, 11, 9, 0] {
            sim.deliver_dup(&Incoming::Message(m[i].clone()), true);
        }
        sim.settle();
        let loaded = sim.loaded(c12());
        assert_once_in_order(&loaded);
        let stored = sim.stored(c12());
        assert_once_in_order(&stored);
        let ids: Vec<u64> = stored.iter().map(|s| s.server_id().unwrap()).collect();
        assert_eq!(ids, (100..112).collect::<Vec<_>>(), "restart {restart}");
        assert_eq!(sim.unread(c12()), 12, "restart {restart}");
        assert_eq!(sim.engine.unread_total(), 12);
        sim.assert_no_errors();
    }
}

// ---- 2. seed 001's race -------------------------------------------------------------------

/// History requested at 12:00:00, a message at 12:00:01 (the peer's, delivered live; or
/// mine, whose POST is answered before or after the page), the page at 12:00:02 with or
/// without it: the message is there once, last.
#[test]
fn history_race_backend() {
    for mine in [false, true] {
        for page_has_it in [false, true] {
            for answer_first in [false, true] {
                if !mine && answer_first {
                    continue;
                }
                let label =
                    format!("mine {mine}, page has it {page_has_it}, answer first {answer_first}");
                let mut sim = Sim::new(Kind::Backend, 30);
                for i in 0..10u64 {
                    let sender = if i % 3 == 0 { ME } else { PEER };
                    sim.server
                        .post(sender, c12(), &format!("old{i}"), T0 - 60_000 + i * 1_000);
                }
                sim.server.to_me.clear();
                sim.set_time(T0);
                let page = sim.cmd();
                sim.engine.messages(sim.now(), page, c12(), None, None);
                sim.pump();
                // A conversation without a record has nothing stored: the backend at once.
                assert!(sim.storage_ops.is_empty(), "{label}");
                let history = sim.find_http("/messages?").expect("history requested");
                if !page_has_it {
                    // Handled by the backend now; the answer travels for two seconds.
                    let request = sim.http[history].request.clone();
                    sim.http[history].answer = Some(sim.server.handle(sim.server_ms, &request));
                }
                sim.set_time(T0 + 1_000);
                let send = sim.cmd();
                if mine {
                    sim.engine.send(sim.now(), send, c12(), text("M")).unwrap();
                    sim.pump();
                    let i = sim.find_send();
                    if answer_first {
                        sim.answer_http(i);
                    } else {
                        // The backend stores it now; its answer comes after the page.
                        let request = sim.http[i].request.clone();
                        sim.http[i].answer = Some(sim.server.handle(sim.server_ms, &request));
                    }
                } else {
                    sim.server.post(PEER, c12(), "M", T0 + 1_000);
                    sim.deliver_from_server();
                }
                sim.set_time(T0 + 2_000);
                let i = sim.find_http("/messages?").unwrap();
                sim.answer_http(i);
                sim.settle();

                let loaded = sim.loaded(c12());
                assert_once_in_order(&loaded);
                assert_eq!(loaded.len(), 11, "{label}");
                assert_eq!(text_of(loaded.last().unwrap()), "M", "{label}");
                assert_eq!(sim.loaded_ids(c12()), sim.server.ids(c12()), "{label}");
                assert!(loaded.iter().all(is_sent), "{label}");
                let got = sim.page(page);
                assert_once_in_order(&got);
                assert!(got.len() >= 10, "{label}");
                assert_eq!(sim.stored(c12()), loaded, "{label}");
                let peer_messages = loaded.iter().filter(|m| m.sender_id() == PEER).count();
                assert_eq!(
                    sim.unread(c12()) as usize,
                    peer_messages,
                    "{label}: counted once"
                );
                if mine {
                    let sent = match sim.result(send) {
                        Ok(Reply::Message(Some(m))) => m.clone(),
                        other => panic!("{label}: {other:?}"),
                    };
                    assert_eq!(sent.status, Status::Sent);
                    assert_eq!(sent.key, loaded.last().unwrap().key);
                    assert!(sent.local_id.is_some(), "the UI keeps its key");
                }
                sim.assert_no_errors();
            }
        }
    }
}

/// Direct mode's version: the older page comes from storage. Read at 12:00:00, the
/// message at 12:00:01, the storage answer at 12:00:02 (read when asked, or when answered).
#[test]
fn history_race_direct() {
    for mine in [false, true] {
        for read_late in [false, true] {
            let label = format!("mine {mine}, read late {read_late}");
            let storage = MemoryStorage::new();
            seed_storage(
                &storage,
                (0..10u64)
                    .map(|i| {
                        let sender = if i % 3 == 0 { ME } else { PEER };
                        wire(
                            500 + i,
                            c12(),
                            sender,
                            T0 - 60_000 + i * 1_000,
                            &format!("old{i}"),
                        )
                    })
                    .collect(),
            );
            let mut sim = Sim::with_storage(Kind::Direct, 4, storage, Server::default());
            sim.connect();
            sim.settle();
            assert_eq!(
                sim.loaded(c12()).len(),
                1,
                "only the newest, from its record"
            );
            sim.set_time(T0);
            let page = sim.cmd();
            sim.engine.messages(sim.now(), page, c12(), None, Some(8));
            sim.pump();
            assert_eq!(sim.storage_ops.len(), 1, "{label}");
            let early = sim.read(&sim.storage_ops[0].1.clone());
            sim.set_time(T0 + 1_000);
            if mine {
                let c = sim.cmd();
                sim.engine.send(sim.now(), c, c12(), text("M")).unwrap();
                sim.settle_mqtt();
            } else {
                sim.deliver(&Incoming::Message(wire(900, c12(), PEER, T0 + 1_000, "M")));
            }
            sim.set_time(T0 + 2_000);
            if read_late {
                sim.answer_storage(0);
            } else {
                let (id, _) = sim.storage_ops.remove(0);
                sim.engine.handle_storage(sim.now(), id, Ok(early));
                sim.pump();
            }
            sim.settle();
            let got = sim.page(page);
            assert_once_in_order(&got);
            assert_eq!(got.len(), 8, "{label}");
            assert_eq!(text_of(got.last().unwrap()), "M", "{label}");
            let loaded = sim.loaded(c12());
            assert_once_in_order(&loaded);
            // The newest from its record, the page of 8 before it, and M: all but old0.
            assert_eq!(loaded.len(), 10, "{label}");
            assert_eq!(sim.stored(c12()).get(1..), Some(&loaded[..]), "{label}");
            assert!(loaded.iter().all(is_sent), "{label}");
            sim.assert_no_errors();
        }
    }
}

/// A restart holds each conversation's newest message only, from its record. A receipt of
/// my other device that reads into the unloaded history pages it back first, so the
/// unread count stays exact; deleting the one message held brings the one before it back
/// as the conversation's last message, now and after the next restart.
#[test]
fn a_restart_holds_the_newest_and_reads_back_what_a_change_needs() {
    let weight = |i: u64| T0 - 60_000 + i * 1_000;
    let storage = MemoryStorage::new();
    seed_storage(
        &storage,
        (0..6u64)
            .map(|i| wire(100 + i, c12(), PEER, weight(i), &format!("m{i}")))
            .collect(),
    );
    let mut sim = Sim::with_storage(Kind::Direct, 2, storage, Server::default());
    sim.connect();
    sim.settle();
    assert_eq!(sim.loaded(c12()).len(), 1);
    assert_eq!(sim.unread(c12()), 6);

    // My phone read up to m2: m3, m4 and m5 stay unread.
    sim.deliver(&Incoming::Read {
        sender_id: PEER,
        conversation_id: c12(),
        up_to_weight: Some(weight(2)),
    });
    sim.settle();
    assert_eq!(sim.unread(c12()), 3);
    sim.restart();
    assert_eq!(sim.unread(c12()), 3, "after a restart");

    let last = |sim: &Sim| {
        sim.engine.conversations()[0]
            .last_message
            .as_ref()
            .map(text_of)
    };
    assert_eq!(sim.loaded(c12()).len(), 1);
    let newest = sim.loaded(c12()).remove(0);
    sim.engine
        .delete_message(sim.now(), &key_of(&newest.key.id, None))
        .unwrap();
    sim.settle();
    assert_eq!(last(&sim).as_deref(), Some("m4"));
    sim.restart();
    assert_eq!(last(&sim).as_deref(), Some("m4"), "after a restart");
    assert_eq!(sim.unread(c12()), 2);
    sim.assert_no_errors();
}

/// Every conversation with a stored message has a record, and start-up loads them all:
/// the first message of a conversation the store does not know applies at once, with no
/// storage read before it (a backlog from 100 new peers waited for 100 of them).
#[test]
fn a_new_conversation_needs_no_storage_read() {
    let mut sim = Sim::new(Kind::Direct, 5);
    sim.auto_lookups = false;
    sim.connect();
    sim.settle();
    sim.deliver(&Incoming::Message(wire(7, c12(), PEER, T0, "first")));
    assert!(sim.storage_ops.is_empty(), "{:?}", sim.storage_ops);
    assert_eq!(sim.loaded_ids(c12()), [7]);
    assert_eq!(sim.unread(c12()), 1);
}

// ---- 3. paging across memory, storage and the backend ------------------------------------

/// The store holds the newest message, storage the 40 newest, the backend all 60 (direct
/// mode: storage all there is). Paging back 7 at a time gives everything once, and the
/// backend is asked only once storage ran out.
#[test]
fn paging_across_memory_storage_and_backend() {
    for kind in KINDS {
        let mut server = Server::default();
        for i in 0..60u64 {
            let sender = if i % 4 == 0 { ME } else { PEER };
            server.post(sender, c12(), &format!("h{i}"), T0 - 3_600_000 + i * 10_000);
        }
        server.to_me.clear();
        let all = server.history(c12());
        let storage = MemoryStorage::new();
        seed_storage(&storage, all[20..].to_vec());
        let mut sim = Sim::with_storage(kind, 10, storage, server);
        assert_eq!(
            sim.loaded(c12()).len(),
            1,
            "only the newest, from its record"
        );
        let mut pages: Vec<Vec<u64>> = Vec::new();
        let mut before: Option<String> = None;
        for _ in 0..20 {
            let cmd = sim.cmd();
            sim.engine
                .messages(sim.now(), cmd, c12(), before.as_deref(), Some(7));
            sim.settle();
            let page = sim.page(cmd);
            assert_once_in_order(&page);
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 7);
            before = Some(key_of(&page[0].key.id, page[0].local_id.as_deref()));
            pages.push(page.iter().map(|m| m.server_id().unwrap()).collect());
        }
        let got: Vec<u64> = pages.into_iter().rev().flatten().collect();
        let expected: Vec<u64> = match kind {
            Kind::Backend => all.iter().map(|m| m.id).collect(),
            Kind::Direct => all[20..].iter().map(|m| m.id).collect(),
        };
        assert_eq!(got, expected, "{kind:?}: no gap, no duplicate");
        assert_once_in_order(&sim.loaded(c12()));
        let history = sim.requests_to(Method::Get, "/messages");
        match kind {
            Kind::Direct => assert!(history.is_empty()),
            Kind::Backend => {
                let first = &history.first().expect("the backend was asked").path;
                assert!(
                    first.ends_with(&format!("before_weight={}", all[20].weight)),
                    "the backend only after storage ran out: {first}"
                );
            }
        }
        sim.assert_no_errors();
    }
}

// ---- 4. the outbox after a restart --------------------------------------------------------

/// Sent while offline, the page closed before anything went out: the next start sends
/// each message exactly once (direct: one publish, with the id of the first attempt, so a
/// peer that got the first one dedupes it; backend: one `POST /messages`), and each ends
/// sent. A third start sends nothing.
#[test]
fn outbox_is_sent_once_after_a_restart() {
    for kind in KINDS {
        let mut sim = Sim::new(kind, 30);
        sim.set_time(T0);
        let mut locals = Vec::new();
        for i in 0..3 {
            sim.advance(1_000);
            let c = sim.cmd();
            let m = sim
                .engine
                .send(sim.now(), c, c12(), text(&format!("o{i}")))
                .unwrap();
            locals.push(m.local_id.unwrap());
        }
        sim.pump();
        let first_attempt: Vec<u64> = sim
            .published_to("chat_2")
            .into_iter()
            .map(|i| match i {
                Incoming::Message(m) => m.id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(block_on(sim.storage.outbox()).unwrap().len(), 3);

        sim.restart();
        let restored = sim.loaded(c12());
        assert_eq!(restored.len(), 3);
        assert!(restored.iter().all(|m| m.status == Status::Sending));
        sim.advance(5_000);
        sim.connect();
        sim.settle();

        let loaded = sim.loaded(c12());
        assert_once_in_order(&loaded);
        assert_eq!(loaded.len(), 3, "{kind:?}: no copy twice");
        assert!(loaded.iter().all(is_sent), "{kind:?}: {loaded:?}");
        let got: Vec<&String> = loaded.iter().filter_map(|m| m.local_id.as_ref()).collect();
        assert_eq!(
            got,
            locals.iter().collect::<Vec<_>>(),
            "{kind:?}: kept their keys"
        );
        match kind {
            Kind::Direct => {
                let ids: Vec<u64> = sim
                    .published_to("chat_2")
                    .into_iter()
                    .map(|i| match i {
                        Incoming::Message(m) => m.id,
                        other => panic!("{other:?}"),
                    })
                    .collect();
                assert_eq!(ids, first_attempt, "one publish each, same ids");
                assert_eq!(sim.loaded_ids(c12()), first_attempt);
            }
            Kind::Backend => {
                assert_eq!(sim.requests_to(Method::Post, "/messages").len(), 3);
                assert_eq!(sim.server.messages.len(), 3);
                assert_eq!(sim.loaded_ids(c12()), sim.server.ids(c12()));
            }
        }
        assert!(block_on(sim.storage.outbox()).unwrap().is_empty());

        sim.restart();
        sim.connect();
        sim.settle();
        assert!(sim.published_to("chat_2").is_empty(), "{kind:?}");
        assert!(sim.requests_to(Method::Post, "/messages").is_empty());
        assert!(sim.loaded(c12()).iter().all(is_sent));
        sim.assert_no_errors();
    }
}

// ---- 5. revoke by calibrated time ---------------------------------------------------------

/// The wall clock is an hour ahead. Backend mode calibrates against `GET /time`; direct
/// mode starts from the offset the last run measured, or from none (weights and "now" are
/// then both the wall clock's). Revoke is allowed exactly 120,000 ms after the send and
/// refused (locally, `RevokeExpired`, nothing sent) at 120,001 ms.
#[test]
fn revoke_window_by_calibrated_time() {
    let cases = [
        (Kind::Backend, false),
        (Kind::Direct, true),
        (Kind::Direct, false),
    ];
    for (kind, hint) in cases {
        let label = format!("{kind:?}, offset hint {hint}");
        let storage = MemoryStorage::new();
        if hint {
            seed_clock_offset(&storage, -3_600_000);
        }
        let mut sim = Sim::with_storage(kind, 30, storage, Server::default());
        sim.skew = 3_600_000;
        sim.set_time(T0);
        sim.connect();
        sim.settle();

        let mut sent = Vec::new();
        for t in ["allowed", "refused"] {
            let c = sim.cmd();
            sim.engine.send(sim.now(), c, c12(), text(t)).unwrap();
            sim.settle();
            let m = sim.loaded(c12()).pop().unwrap();
            assert!(is_sent(&m), "{label}");
            if kind == Kind::Backend || hint {
                assert_eq!(
                    m.weight(),
                    sim.server_ms,
                    "{label}: weights are server time"
                );
            }
            sent.push((m, sim.server_ms));
            sim.advance(7);
        }
        let revokes_before = sim.requests_to(Method::Post, "/messages/revoke").len();

        let (m, at) = &sent[0];
        sim.set_time(at + REVOKE_WINDOW_MS);
        let ok = sim.cmd();
        sim.engine
            .revoke(sim.now(), ok, &key_of(&m.key.id, m.local_id.as_deref()));
        sim.settle();
        assert_eq!(sim.result(ok), &Ok(Reply::Unit), "{label}");
        let after = sim.message(&m.key.id).unwrap();
        assert_eq!(after.status, Status::Revoked, "{label}");
        assert!(after.content.is_none());

        let (m, at) = &sent[1];
        sim.set_time(at + REVOKE_WINDOW_MS + 1);
        let late = sim.cmd();
        sim.engine
            .revoke(sim.now(), late, &key_of(&m.key.id, m.local_id.as_deref()));
        sim.settle();
        match sim.result(late) {
            Err(e) => assert_eq!(e.code, ErrorCode::RevokeExpired, "{label}"),
            other => panic!("{label}: {other:?}"),
        }
        assert_eq!(sim.message(&m.key.id).unwrap().status, Status::Sent);

        let id = sent[0].0.server_id().unwrap();
        match kind {
            Kind::Backend => {
                let revokes = sim.requests_to(Method::Post, "/messages/revoke");
                assert_eq!(
                    revokes.len() - revokes_before,
                    1,
                    "{label}: refused locally"
                );
                assert_eq!(
                    revokes.last().unwrap().body.as_deref(),
                    Some(format!(r#"{{"id":{id}}}"#).as_str())
                );
            }
            Kind::Direct => {
                let notices: Vec<Incoming> = sim
                    .published_to("chat_2")
                    .into_iter()
                    .filter(|i| matches!(i, Incoming::Revoke { .. }))
                    .collect();
                assert_eq!(
                    notices,
                    [Incoming::Revoke {
                        msg_id: id,
                        conversation_id: c12()
                    }],
                    "{label}"
                );
            }
        }
        assert!(sim.events.contains(&ChatEvent::Revoke {
            conversation: c12(),
            id
        }));
        sim.assert_no_errors();
    }
}

/// The backend has the last word: a revoke it refuses (code 100) is `RevokeExpired`, and
/// the message keeps its content.
#[test]
fn revoke_refused_by_the_backend() {
    let mut sim = Sim::new(Kind::Backend, 30);
    sim.set_time(T0);
    sim.connect();
    sim.settle();
    let c = sim.cmd();
    sim.engine.send(sim.now(), c, c12(), text("x")).unwrap();
    sim.settle();
    let m = sim.loaded(c12()).pop().unwrap();
    sim.server.revoke_window_ms = 1_000;
    sim.advance(60_000);
    let r = sim.cmd();
    sim.engine
        .revoke(sim.now(), r, &key_of(&m.key.id, m.local_id.as_deref()));
    sim.settle();
    match sim.result(r) {
        Err(e) => assert_eq!(e.code, ErrorCode::RevokeExpired),
        other => panic!("{other:?}"),
    }
    let after = sim.message(&m.key.id).unwrap();
    assert_eq!(after.status, Status::Sent);
    assert_eq!(text_of(&after), "x");
}

// ---- read receipts, presence, rooms ---------------------------------------------------------

/// Five messages arrive in the open conversation while its receipt is in flight: exactly
/// one more receipt follows it, and none after that.
#[test]
fn read_receipts_are_batched() {
    for kind in KINDS {
        let mut sim = Sim::connected(kind, 30);
        sim.deliver(&Incoming::Message(wire(10, c12(), PEER, T0 + 1, "first")));
        assert_eq!(
            sim.unread(c12()),
            1,
            "{:?} {:?} {:?} {:?}",
            sim.logs,
            sim.events,
            sim.storage_ops,
            sim.loaded(c12())
        );
        let receipts = |sim: &Sim| match kind {
            Kind::Backend => sim.requests_to(Method::Post, "/messages/read").len(),
            Kind::Direct => sim
                .published_to("chat_2")
                .iter()
                .filter(|i| matches!(i, Incoming::Read { .. }))
                .count(),
        };
        sim.engine.open_conversation(sim.now(), c12());
        sim.pump();
        assert_eq!(receipts(&sim), 1, "{kind:?}");
        assert_eq!(sim.unread(c12()), 0);
        for i in 0..5 {
            sim.advance(100);
            sim.deliver(&Incoming::Message(wire(
                11 + i,
                c12(),
                PEER,
                T0 + 100 * (i + 1),
                "more",
            )));
        }
        assert_eq!(receipts(&sim), 1, "{kind:?}: one in flight at a time");
        assert_eq!(sim.unread(c12()), 0, "{kind:?}: read while open");
        sim.settle();
        assert_eq!(receipts(&sim), 2, "{kind:?}: exactly one more");
        sim.deliver(&Incoming::Message(wire(
            20,
            c12(),
            PEER,
            T0 + 5_000,
            "later",
        )));
        sim.settle();
        assert_eq!(receipts(&sim), 3, "{kind:?}: a new message, a new receipt");
        if kind == Kind::Direct {
            let last = sim.published_to("chat_2").pop().unwrap();
            assert_eq!(
                last,
                Incoming::Read {
                    sender_id: PEER,
                    conversation_id: c12(),
                    up_to_weight: Some(T0 + 5_000)
                }
            );
        }
        sim.engine.close_conversation(sim.now());
        sim.deliver(&Incoming::Message(wire(
            21,
            c12(),
            PEER,
            T0 + 6_000,
            "closed",
        )));
        sim.settle();
        assert_eq!(receipts(&sim), 3);
        assert_eq!(sim.unread(c12()), 1);
        sim.assert_no_errors();
    }
}

/// On connect: the subscriptions (my topic, my contacts' presence) and a retained
/// `online`; the last will is a retained `offline`; a reconnect of a persistent session
/// subscribes nothing again but says `online` again; goodbye publishes `offline` first.
#[test]
fn presence_on_connect_and_the_will() {
    for kind in KINDS {
        let mut sim = Sim::new(kind, 30);
        let will = sim.engine.will().expect("a will");
        assert_eq!(will.topic, "presence_1");
        assert_eq!(will.payload, b"offline");
        assert!(will.retain);
        assert_eq!(will.qos, QoS::AtLeastOnce);
        sim.connect();
        sim.settle();
        let subscribed: Vec<String> = sim
            .mqtt_log
            .iter()
            .filter_map(|c| match c {
                MqttCommand::Subscribe { filters, .. } => {
                    Some(filters.iter().map(|f| f.filter.clone()))
                }
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(subscribed, ["chat_1", "presence_2"], "{kind:?}");
        let online = |sim: &Sim| {
            sim.mqtt_log
                .iter()
                .filter(|c| {
                    matches!(c, MqttCommand::Publish { topic, payload, retain: true, .. }
                    if topic == "presence_1" && payload == b"online")
                })
                .count()
        };
        assert_eq!(online(&sim), 1);
        let n = sim.mqtt_log.len();
        sim.link_down();
        sim.reconnect(true);
        sim.settle();
        assert!(
            !sim.mqtt_log[n..]
                .iter()
                .any(|c| matches!(c, MqttCommand::Subscribe { .. })),
            "{kind:?}: subscribed once"
        );
        assert_eq!(online(&sim), 2);
        sim.deliver_raw("presence_2", b"online");
        assert!(sim.events.contains(&ChatEvent::Presence {
            user: PEER,
            online: true
        }));
        let n = sim.mqtt_log.len();
        sim.engine.disconnect(sim.now());
        sim.pump();
        assert!(matches!(&sim.mqtt_log[n..], [
            MqttCommand::Publish { topic, payload, retain: true, .. },
            MqttCommand::Disconnect,
        ] if topic == "presence_1" && payload == b"offline"));
    }
}

/// Joining a room subscribes its topic once (backend mode: after `POST /rooms/join`);
/// joining again, or reconnecting, subscribes nothing more; leaving unsubscribes.
#[test]
fn room_join_subscribes_once() {
    for kind in KINDS {
        let mut sim = Sim::new(kind, 30);
        sim.connect();
        sim.settle();
        let room_subs = |sim: &Sim| {
            sim.mqtt_log
                .iter()
                .filter(|c| {
                    matches!(c, MqttCommand::Subscribe { filters, .. }
                    if filters.iter().any(|f| f.filter == "room_5"))
                })
                .count()
        };
        let j1 = sim.cmd();
        sim.engine.room(sim.now(), j1, 5, true);
        sim.settle();
        assert_eq!(sim.result(j1), &Ok(Reply::Unit));
        assert_eq!(room_subs(&sim), 1, "{kind:?}");
        assert!(sim
            .engine
            .conversations()
            .iter()
            .any(|c| c.id == ConversationId::Room(5)));
        let j2 = sim.cmd();
        sim.engine.room(sim.now(), j2, 5, true);
        sim.settle();
        assert_eq!(sim.result(j2), &Ok(Reply::Unit));
        sim.link_down();
        sim.reconnect(true);
        sim.settle();
        assert_eq!(room_subs(&sim), 1, "{kind:?}: once");
        if kind == Kind::Backend {
            assert_eq!(sim.requests_to(Method::Post, "/rooms/join").len(), 2);
        }
        let msg = wire(77, ConversationId::Room(5), PEER, T0, "hello room");
        sim.deliver(&Incoming::Message(msg));
        assert_eq!(sim.loaded(ConversationId::Room(5)).len(), 1);
        let l = sim.cmd();
        sim.engine.room(sim.now(), l, 5, false);
        sim.settle();
        assert_eq!(sim.result(l), &Ok(Reply::Unit));
        assert!(sim.mqtt_log.iter().any(
            |c| matches!(c, MqttCommand::Unsubscribe { topics, .. } if topics == &["room_5"])
        ));
        sim.assert_no_errors();
    }
}

/// A message sent while its echo from the backend (another device of mine) arrives first:
/// one message, keyed as the UI knows it.
#[test]
fn echo_before_the_send_answer_is_one_message() {
    let mut sim = Sim::new(Kind::Backend, 30);
    sim.set_time(T0);
    sim.connect();
    sim.settle();
    let c = sim.cmd();
    let local = sim.engine.send(sim.now(), c, c12(), text("e")).unwrap();
    sim.pump();
    let i = sim.find_send();
    let request = sim.http[i].request.clone();
    sim.http[i].answer = Some(sim.server.handle(sim.server_ms, &request));
    let stored = sim.server.messages.last().unwrap().clone();
    sim.deliver(&Incoming::Message(stored.clone()));
    sim.settle();
    let loaded = sim.loaded(c12());
    assert_eq!(loaded.len(), 1, "{loaded:?}");
    assert_eq!(loaded[0].key.id, MessageRef::Server(stored.id));
    assert_eq!(loaded[0].local_id, local.local_id);
    assert_eq!(sim.stored(c12()), loaded);
}

// ---- catch-up once more at the SUBACK ---------------------------------------------------

/// Backend mode, back on a broker that kept no session for us (a RabbitMQ node that never
/// had our queue): the subscription is made again after CONNACK, and what the backend
/// publishes between the catch-up's list and the SUBACK lands on no queue. The catch-up runs
/// once more, from the same point, when the SUBACK comes, and brings it, once.
#[test]
fn what_the_backend_published_before_the_suback_is_caught_up() {
    let mut sim = Sim::new(Kind::Backend, 5);
    sim.set_time(T0);
    sim.connect();
    sim.settle();
    sim.advance(1_000);
    let w = sim.server_ms;
    sim.server.post(PEER, c12(), "before the drop", w);
    sim.deliver_from_server();
    sim.settle();
    sim.advance(1_000);
    sim.link_down();
    sim.advance(5_000);
    sim.reconnect(false);
    sim.settle();
    let lists = |sim: &Sim| {
        sim.http_log
            .iter()
            .filter(|r| r.path == "/conversations")
            .count()
    };
    let after_connect = lists(&sim);

    sim.advance(50);
    let w = sim.server_ms;
    sim.server.post(PEER, c12(), "in the gap", w);
    sim.server.to_me.clear(); // on no queue
    let now = sim.now();
    sim.engine.handle_session_event(
        now,
        Event::Subscribed {
            id: RequestId(9_999),
            reasons: vec![ReasonCode::GrantedQoS1],
        },
    );
    sim.settle();
    assert_eq!(
        lists(&sim),
        after_connect + 1,
        "one more catch-up at the SUBACK"
    );
    assert_eq!(
        sim.loaded_ids(c12()),
        sim.server.ids(c12()),
        "nothing missing"
    );
    assert_once_in_order(&sim.loaded(c12()));

    // Later SUBACKs (a room joined) do not repeat it.
    sim.engine.handle_session_event(
        now,
        Event::Subscribed {
            id: RequestId(10_000),
            reasons: vec![ReasonCode::GrantedQoS1],
        },
    );
    sim.settle();
    assert_eq!(lists(&sim), after_connect + 1);
    sim.assert_no_errors();
}

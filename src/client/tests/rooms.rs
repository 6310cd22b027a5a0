//! Read receipts in rooms: each member's receipt names the reader, and a message of mine
//! counts who of the others has read it — in both modes, kept across a restart.

use super::harness::*;
use crate::chat::api::Method;
use crate::chat::{ConversationId, Incoming};
use crate::client::{ChatEvent, Reply};

const ROOM: ConversationId = ConversationId::Room(5);

fn receipt(reader: u64, up_to: u64) -> Incoming {
    Incoming::Read {
        sender_id: reader,
        conversation_id: ROOM,
        up_to_weight: Some(up_to),
    }
}

#[test]
fn room_messages_of_mine_count_their_readers() {
    for kind in KINDS {
        let mut sim = Sim::connected(kind, 30);
        let join = sim.cmd();
        sim.engine.room(sim.now(), join, 5, true);
        sim.settle();
        assert_eq!(sim.result(join), &Ok(Reply::Unit));

        sim.advance(1_000);
        let send = sim.cmd();
        let local = sim
            .engine
            .send(sim.now(), send, ROOM, text("who reads this?"))
            .expect("sent");
        sim.settle();
        let mine = || crate::chat::store::MessageRef::Local(local.local_id.clone().unwrap());
        let m = sim.message(&mine()).expect("held");
        assert!(is_sent(&m), "{kind:?}");
        assert_eq!(
            sim.engine.read_by(&m),
            Vec::<u64>::new(),
            "{kind:?}: nobody yet"
        );
        assert!(!m.read);
        let w = m.weight();

        // A reader who has not got as far as my message changes nothing.
        sim.deliver(&receipt(PEER, w - 1));
        let m = sim.message(&mine()).unwrap();
        assert_eq!(sim.engine.read_by(&m), Vec::<u64>::new(), "{kind:?}");

        // Read by 1 of the 2 others: the page hears who, and the message is read.
        sim.events.clear();
        sim.advance(1_000);
        sim.deliver(&receipt(PEER, w + 500));
        let m = sim.message(&mine()).unwrap();
        assert_eq!(sim.engine.read_by(&m), vec![PEER], "{kind:?}");
        assert!(m.read, "{kind:?}: read once a member has read it");
        assert!(sim.events.iter().any(|e| matches!(e,
            ChatEvent::Read { conversation, reader, .. } if *conversation == ROOM && *reader == PEER)));
        assert!(sim.events.iter().any(|e| matches!(e,
            ChatEvent::MessageUpdated { message, .. } if message.key == m.key)));

        // Read by 2 of 2; a late, older receipt and my own echo change nothing.
        sim.events.clear();
        sim.deliver(&receipt(PEER3, w));
        let m = sim.message(&mine()).unwrap();
        assert_eq!(sim.engine.read_by(&m), vec![PEER, PEER3], "{kind:?}");
        assert!(
            sim.events.iter().any(|e| matches!(e,
            ChatEvent::MessageUpdated { message, .. } if message.key == m.key)),
            "{kind:?}: the second reader updates the message too"
        );
        sim.deliver(&receipt(PEER, w - 10));
        sim.deliver(&receipt(ME, w + 600));
        let m = sim.message(&mine()).unwrap();
        assert_eq!(sim.engine.read_by(&m), vec![PEER, PEER3], "{kind:?}");

        // A message of a member is nobody's to count here.
        sim.advance(1_000);
        let theirs = wire(9_001, ROOM, PEER, sim.server_ms, "mine to read");
        sim.deliver(&Incoming::Message(theirs.clone()));
        let held = sim
            .loaded(ROOM)
            .into_iter()
            .find(|m| m.server_id() == Some(9_001))
            .unwrap();
        assert_eq!(sim.engine.read_by(&held), Vec::<u64>::new());

        // My receipt goes to the room, naming me (backend: the backend publishes it).
        let read = sim.cmd();
        sim.engine.mark_read(sim.now(), read, ROOM);
        sim.settle();
        assert_eq!(sim.result(read), &Ok(Reply::Unit));
        match kind {
            Kind::Direct => {
                let sent = sim.published_to("room_5");
                assert!(
                    sent.iter().any(|i| matches!(i,
                    Incoming::Read { sender_id, conversation_id, up_to_weight: Some(u) }
                    if *sender_id == ME && *conversation_id == ROOM && *u >= theirs.weight)),
                    "{sent:?}"
                );
            }
            Kind::Backend => {
                assert_eq!(sim.requests_to(Method::Post, "/messages/read").len(), 1);
            }
        }

        // The marks are kept with local history.
        sim.restart();
        sim.read_back(ROOM);
        let m = sim
            .engine
            .loaded_messages(ROOM)
            .into_iter()
            .find(|x| x.key.id == m.key.id)
            .expect("restored");
        assert_eq!(
            sim.engine.read_by(&m),
            vec![PEER, PEER3],
            "{kind:?}: after a restart"
        );
        sim.assert_no_errors();
    }
}

/// While a room is open, its automatic receipts are batched in time: a burst of messages
/// gives one receipt now and one more a second later, not one per message.
#[test]
fn automatic_room_receipts_go_out_at_most_once_a_second() {
    for kind in KINDS {
        let mut sim = Sim::connected(kind, 30);
        let join = sim.cmd();
        sim.engine.room(sim.now(), join, 5, true);
        sim.settle();
        sim.engine.open_conversation(sim.now(), ROOM);
        sim.settle();
        let receipts = |sim: &Sim| match kind {
            Kind::Direct => sim
                .published_to("room_5")
                .iter()
                .filter(|i| matches!(i, Incoming::Read { sender_id, .. } if *sender_id == ME))
                .count(),
            Kind::Backend => sim.requests_to(Method::Post, "/messages/read").len(),
        };
        let opened = receipts(&sim);
        sim.advance(2_000);
        for i in 0..5 {
            sim.advance(10);
            let w = sim.server_ms;
            sim.deliver(&Incoming::Message(wire(7_000 + i, ROOM, PEER, w, "burst")));
            sim.settle();
        }
        assert_eq!(
            receipts(&sim),
            opened + 1,
            "{kind:?}: one receipt for the burst so far"
        );
        let due = sim.engine.poll_timeout().expect("the next receipt is due");
        assert!(due <= sim.mono + 1_000, "{kind:?}: within a second");
        sim.mono = due;
        sim.engine.handle_timeout(sim.now());
        sim.settle();
        assert_eq!(
            receipts(&sim),
            opened + 2,
            "{kind:?}: one more covers the rest"
        );
        // Nothing more is due.
        sim.engine.handle_timeout(sim.now());
        sim.settle();
        assert_eq!(receipts(&sim), opened + 2, "{kind:?}");
        assert_eq!(sim.unread(ROOM), 0);
    }
}

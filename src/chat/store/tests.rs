//! One test per rule of the store.

use super::*;
use crate::test_support::{text_message, ME, T0};

const PEER: UserId = 2;

fn c12() -> ConversationId {
    ConversationId::direct(ME, PEER).unwrap()
}

fn wire(id: ServerId, sender: UserId, weight: u64, text: &str) -> WireMessage {
    let receiver = if sender == ME { PEER } else { ME };
    text_message(id, c12(), sender, receiver, text, weight)
}

fn text(t: &str) -> Content {
    Content::Text { text: t.into() }
}

fn events(s: &mut Store) -> Vec<StoreEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn texts(s: &Store, c: ConversationId) -> Vec<String> {
    s.messages(c, None, usize::MAX)
        .into_iter()
        .map(|m| match m.content.as_deref() {
            Some(Content::Text { text }) => text.clone(),
            Some(other) => format!("{other:?}"),
            None => "<revoked>".into(),
        })
        .collect()
}

fn unread(s: &Store) -> u32 {
    s.conversation(c12()).map_or(0, |c| c.unread)
}

#[test]
fn messages_are_kept_in_weight_order_with_insert_indices() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(10, PEER, T0 + 2_000, "c")), 0);
    s.apply(Incoming::Message(wire(11, PEER, T0, "a")), 0);
    s.apply(Incoming::Message(wire(12, ME, T0 + 1_000, "b")), 0);
    assert_eq!(texts(&s, c12()), ["a", "b", "c"]);
    let inserted: Vec<usize> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            StoreEvent::MessageInserted { index, .. } => Some(index),
            _ => None,
        })
        .collect();
    assert_eq!(inserted, [0, 0, 1]);
}

#[test]
fn ties_in_weight_are_broken_by_sender_then_id() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(7, PEER, T0, "peer-7")), 0);
    s.apply(Incoming::Message(wire(9, ME, T0, "me-9")), 0);
    s.apply(Incoming::Message(wire(3, PEER, T0, "peer-3")), 0);
    assert_eq!(texts(&s, c12()), ["me-9", "peer-3", "peer-7"]);
}

#[test]
fn unread_counts_each_incoming_message_once_and_never_mine() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, PEER, T0, "a")), 0);
    s.apply(Incoming::Message(wire(1, PEER, T0, "a")), 0);
    s.apply(Incoming::Message(wire(2, ME, T0 + 1, "mine")), 0);
    s.apply(Incoming::Message(wire(3, PEER, T0 + 2, "b")), 0);
    assert_eq!(unread(&s), 2);
    assert_eq!(s.unread_total(), 2);
    let totals: Vec<u64> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            StoreEvent::UnreadTotal(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(totals, [1, 2]);
    assert_eq!(texts(&s, c12()).len(), 3, "the duplicate is applied once");
}

#[test]
fn unread_survives_a_reconnect_redelivery_unchanged() {
    let mut s = Store::new(ME);
    let backlog: Vec<WireMessage> = (0..5).map(|i| wire(100 + i, PEER, T0 + i, "x")).collect();
    for m in &backlog {
        s.apply(Incoming::Message(m.clone()), 0);
    }
    assert_eq!(unread(&s), 5);
    // The broker redelivers the whole backlog (QoS 1, DUP) after a reconnect.
    for m in backlog {
        s.apply(Incoming::Message(m), 0);
    }
    assert_eq!(unread(&s), 5);
    s.mark_read(c12());
    assert_eq!(unread(&s), 0);
    s.apply(Incoming::Message(wire(100, PEER, T0, "x")), 0);
    assert_eq!(
        unread(&s),
        0,
        "a redelivery after mark-read is not unread again"
    );
}

#[test]
fn an_open_conversation_stays_read() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, PEER, T0, "a")), 0);
    assert!(s.open(c12()));
    assert_eq!(unread(&s), 0);
    s.apply(Incoming::Message(wire(2, PEER, T0 + 5, "b")), 0);
    assert_eq!(unread(&s), 0);
    s.close();
    s.apply(Incoming::Message(wire(3, PEER, T0 + 9, "c")), 0);
    assert_eq!(unread(&s), 1);
}

#[test]
fn a_read_by_my_other_device_clears_unread() {
    let mut s = Store::new(ME);
    for i in 0..3 {
        s.apply(Incoming::Message(wire(i, PEER, T0 + i, "x")), 0);
    }
    s.apply(
        Incoming::Read {
            sender_id: PEER,
            conversation_id: c12(),
            up_to_weight: Some(T0 + 1),
        },
        0,
    );
    assert_eq!(unread(&s), 1, "only the message after the mark is unread");
}

#[test]
fn send_lifecycle_sending_sent_failed_resend() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, PEER, T0, "hello")), 0);
    let m = s.send_local(c12(), text("hi"), "L1", T0 + 10).unwrap();
    assert_eq!(m.status, Status::Sending);
    events(&mut s);
    let sent = s.send_succeeded("L1", 500, T0 + 10).unwrap();
    assert_eq!(sent.status, Status::Sent);
    assert_eq!(sent.local_id.as_deref(), Some("L1"));
    assert_eq!(
        events(&mut s)
            .iter()
            .filter(|e| matches!(e, StoreEvent::MessageUpdated { index: 1, .. }))
            .count(),
        1,
        "the optimistic copy is updated in place, not duplicated"
    );
    assert_eq!(texts(&s, c12()), ["hello", "hi"]);
    assert!(s.message(&MessageRef::Local("L1".into())).is_some());

    // A second message fails, a newer one goes through, then the failed one is resent.
    s.send_local(c12(), text("lost"), "L2", T0 + 20).unwrap();
    s.send_failed(&MessageRef::Local("L2".into())).unwrap();
    assert_eq!(
        s.message(&MessageRef::Local("L2".into())).unwrap().status,
        Status::Failed
    );
    s.send_local(c12(), text("later"), "L3", T0 + 30).unwrap();
    assert_eq!(texts(&s, c12()), ["hello", "hi", "lost", "later"]);
    assert_eq!(
        s.resend(&MessageRef::Local("L3".into()), T0 + 40),
        Err(StoreError::NotFailed(Status::Sending))
    );
    events(&mut s);
    s.resend(&MessageRef::Local("L2".into()), T0 + 40).unwrap();
    assert_eq!(
        texts(&s, c12()),
        ["hello", "hi", "later", "lost"],
        "a resend moves to the end"
    );
    let ev = events(&mut s);
    assert!(ev.contains(&StoreEvent::MessageRemoved {
        conversation_id: c12(),
        index: 2,
        id: MessageRef::Local("L2".into()),
        local_id: Some("L2".into()),
    }));
    s.send_succeeded("L2", 501, T0 + 40).unwrap();
    assert_eq!(
        s.message(&MessageRef::Server(501)).unwrap().status,
        Status::Sent
    );
    assert_eq!(unread(&s), 1, "my own messages never count");
}

/// The message events drained from `s`: what happened, to which id, with which local id.
fn message_events(s: &mut Store) -> Vec<(&'static str, MessageRef, Option<String>)> {
    events(s)
        .into_iter()
        .filter_map(|e| match e {
            StoreEvent::MessageInserted { message, .. } => {
                Some(("inserted", message.key.id, message.local_id))
            }
            StoreEvent::MessageUpdated { message, .. } => {
                Some(("updated", message.key.id, message.local_id))
            }
            StoreEvent::MessageRemoved { id, local_id, .. } => Some(("removed", id, local_id)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_echo_that_beats_the_http_answer_is_not_duplicated() {
    let mut s = Store::new(ME);
    s.send_local(c12(), text("hi"), "L1", T0).unwrap();
    events(&mut s);
    s.take_persist();
    // My other device (or the broker) delivers the stored copy before POST /messages answers.
    s.apply(Incoming::Message(wire(77, ME, T0, "hi")), 0);
    assert_eq!(
        texts(&s, c12()),
        ["hi"],
        "never listed twice, not even for a moment"
    );
    let m = s.message(&MessageRef::Local("L1".into())).unwrap();
    assert_eq!(m.server_id(), Some(77));
    assert_eq!(m.local_id.as_deref(), Some("L1"));
    assert_eq!(m.status, Status::Sent);
    assert_eq!(s.message(&MessageRef::Server(77)), Some(m));
    // The UI knows the message by its local id: the optimistic copy is updated in place.
    assert_eq!(
        message_events(&mut s),
        [("updated", MessageRef::Server(77), Some("L1".into()))]
    );
    // Stored: the message under its server id, and no longer in the outbox (a reload before
    // the answer does not send it again).
    let persisted = s.take_persist();
    assert!(persisted.delete_outbox.contains_key("L1"));
    assert!(persisted
        .put_messages
        .contains_key(&(c12(), MessageRef::Server(77))));
    // The HTTP answer then changes nothing.
    let answered = s.send_succeeded("L1", 77, T0).unwrap();
    assert_eq!(answered.server_id(), Some(77));
    assert_eq!(texts(&s, c12()), ["hi"]);
    assert_eq!(message_events(&mut s), []);

    // Someone else's message, or mine with another weight or text, is not a confirmation.
    s.send_local(c12(), text("again"), "L2", T0 + 10).unwrap();
    for other in [
        wire(78, PEER, T0 + 10, "again"),
        wire(79, ME, T0 + 11, "again"),
        wire(80, ME, T0 + 10, "other"),
    ] {
        s.apply(Incoming::Message(other), 0);
    }
    assert_eq!(
        s.message(&MessageRef::Local("L2".into())).unwrap().status,
        Status::Sending
    );
    assert_eq!(texts(&s, c12()).len(), 5);

    // A send whose HTTP call failed although the server stored it: its copy confirms it,
    // so it is not left failed beside the copy (nor resent as a second message).
    s.send_local(c12(), text("late"), "L3", T0 + 20).unwrap();
    s.send_failed(&MessageRef::Local("L3".into())).unwrap();
    s.apply(Incoming::Message(wire(81, ME, T0 + 20, "late")), 0);
    let m = s.message(&MessageRef::Local("L3".into())).unwrap();
    assert_eq!((m.server_id(), m.status), (Some(81), Status::Sent));
    assert_eq!(texts(&s, c12()).len(), 6);
}

#[test]
fn an_echo_the_send_does_not_recognise_is_merged_by_the_http_answer() {
    let mut s = Store::new(ME);
    s.send_local(c12(), text("hi"), "L1", T0).unwrap();
    // The stored copy carries another weight than the send did (a server that sets its
    // own): it cannot be told from another message of mine until the answer names its id.
    s.apply(Incoming::Message(wire(77, ME, T0 + 5, "hi")), 0);
    assert_eq!(texts(&s, c12()).len(), 2);
    events(&mut s);
    s.send_succeeded("L1", 77, T0 + 5).unwrap();
    assert_eq!(texts(&s, c12()), ["hi"]);
    let m = s.message(&MessageRef::Local("L1".into())).unwrap();
    assert_eq!(m.server_id(), Some(77));
    assert_eq!(m.local_id.as_deref(), Some("L1"));
    assert_eq!(m.status, Status::Sent);
    // The UI listed both, each under its own key (the echo's is its server id, the
    // optimistic copy's its local id): the echo is removed, the optimistic copy updated.
    assert_eq!(
        message_events(&mut s),
        [
            ("removed", MessageRef::Server(77), None),
            ("updated", MessageRef::Server(77), Some("L1".into())),
        ]
    );
}

#[test]
fn an_echo_first_passes_on_a_revoke_and_a_read() {
    let mut s = Store::new(ME);
    s.send_local(c12(), text("hi"), "L1", T0).unwrap();
    s.apply(Incoming::Message(wire(78, ME, T0, "hi")), 0);
    s.apply(
        Incoming::Revoke {
            msg_id: 78,
            conversation_id: c12(),
        },
        0,
    );
    s.send_succeeded("L1", 78, T0).unwrap();
    let m = s.message(&MessageRef::Local("L1".into())).unwrap();
    assert_eq!((m.status, m.content.clone()), (Status::Revoked, None));
    assert_eq!(texts(&s, c12()), ["<revoked>"]);
}

#[test]
fn revoke_drops_content_keeps_a_notice_and_fixes_unread() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, PEER, T0, "oops")), 0);
    assert_eq!(unread(&s), 1);
    s.apply(
        Incoming::Revoke {
            msg_id: 1,
            conversation_id: c12(),
        },
        0,
    );
    let m = s.message(&MessageRef::Server(1)).unwrap();
    assert_eq!(m.status, Status::Revoked);
    assert_eq!(m.content, None);
    assert_eq!(unread(&s), 0);
    let persisted = s.take_persist();
    let rec = persisted
        .put_messages
        .get(&(c12(), MessageRef::Server(1)))
        .unwrap();
    assert_eq!(rec.content, None, "the content is gone from storage too");
}

#[test]
fn a_revoke_before_its_message_makes_it_arrive_revoked() {
    let mut s = Store::new(ME);
    s.apply(
        Incoming::Revoke {
            msg_id: 5,
            conversation_id: c12(),
        },
        0,
    );
    s.apply(Incoming::Message(wire(5, PEER, T0, "secret")), 0);
    let m = s.message(&MessageRef::Server(5)).unwrap();
    assert_eq!(m.status, Status::Revoked);
    assert_eq!(m.content, None);
    assert_eq!(unread(&s), 0);
}

#[test]
fn revoking_my_own_message_is_refused_after_two_minutes() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, ME, T0, "a")), 0);
    s.apply(Incoming::Message(wire(2, ME, T0, "b")), 0);
    s.apply(Incoming::Message(wire(3, PEER, T0, "theirs")), 0);
    assert_eq!(
        s.revoke_mine(&MessageRef::Server(1), T0 + REVOKE_WINDOW_MS + 1),
        Err(StoreError::RevokeTooLate {
            age_ms: REVOKE_WINDOW_MS + 1
        })
    );
    assert_eq!(
        s.message(&MessageRef::Server(1)).unwrap().status,
        Status::Sent
    );
    assert_eq!(
        s.revoke_mine(&MessageRef::Server(2), T0 + REVOKE_WINDOW_MS),
        Ok(2)
    );
    assert_eq!(
        s.message(&MessageRef::Server(2)).unwrap().status,
        Status::Revoked
    );
    assert_eq!(
        s.revoke_mine(&MessageRef::Server(2), T0),
        Err(StoreError::AlreadyRevoked)
    );
    assert_eq!(
        s.revoke_mine(&MessageRef::Server(3), T0),
        Err(StoreError::NotMine)
    );
    s.send_local(c12(), text("pending"), "L", T0).unwrap();
    assert_eq!(
        s.revoke_mine(&MessageRef::Local("L".into()), T0),
        Err(StoreError::NotSent)
    );
}

#[test]
fn a_read_receipt_marks_my_messages_up_to_its_mark() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, ME, T0, "a")), 0);
    s.apply(Incoming::Message(wire(2, ME, T0 + 10, "b")), 0);
    s.apply(
        Incoming::Read {
            sender_id: ME,
            conversation_id: c12(),
            up_to_weight: None,
        },
        T0 + 5,
    );
    assert!(s.message(&MessageRef::Server(1)).unwrap().read);
    assert!(!s.message(&MessageRef::Server(2)).unwrap().read);
    // A receipt that arrived before the message still applies to it.
    s.apply(
        Incoming::Read {
            sender_id: ME,
            conversation_id: c12(),
            up_to_weight: Some(T0 + 100),
        },
        0,
    );
    s.apply(Incoming::Message(wire(3, ME, T0 + 50, "c")), 0);
    assert!(s.message(&MessageRef::Server(2)).unwrap().read);
    assert!(s.message(&MessageRef::Server(3)).unwrap().read);
}

#[test]
fn a_history_page_merges_with_realtime_messages_of_the_same_moment() {
    // Seed 001's race: the page request leaves at 12:00:00, a realtime message lands at
    // 12:00:01, the page (holding 12:00:00 and 12:00:02) answers at 12:00:02.
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(2, PEER, T0 + 1_000, "12:00:01")), 0);
    s.apply(Incoming::Message(wire(3, PEER, T0 + 2_000, "12:00:02")), 0);
    s.apply_history(vec![
        wire(3, PEER, T0 + 2_000, "12:00:02"),
        wire(1, PEER, T0, "12:00:00"),
        wire(2, PEER, T0 + 1_000, "12:00:01"),
    ]);
    assert_eq!(texts(&s, c12()), ["12:00:00", "12:00:01", "12:00:02"]);
    assert_eq!(unread(&s), 3);
}

#[test]
fn a_server_resend_moves_the_message_to_the_end() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, PEER, T0, "first")), 0);
    s.apply(Incoming::Message(wire(2, PEER, T0 + 1, "second")), 0);
    s.apply_resend(1, T0 + 100);
    assert_eq!(texts(&s, c12()), ["second", "first"]);
    // The older copy arriving again does not move it back.
    s.apply(Incoming::Message(wire(1, PEER, T0, "first")), 0);
    assert_eq!(texts(&s, c12()), ["second", "first"]);
}

#[test]
fn conversations_are_listed_most_recent_first_and_move() {
    let mut s = Store::new(ME);
    let c13 = ConversationId::direct(ME, 3).unwrap();
    s.apply(Incoming::Message(wire(1, PEER, T0, "a")), 0);
    let mut other = wire(2, 3, T0 + 10, "b");
    other.conversation_id = c13;
    s.apply(Incoming::Message(other), 0);
    let order: Vec<ConversationId> = s.conversations().iter().map(|c| c.id).collect();
    assert_eq!(order, [c13, c12()]);
    events(&mut s);
    s.apply(Incoming::Message(wire(3, PEER, T0 + 20, "c")), 0);
    let order: Vec<ConversationId> = s.conversations().iter().map(|c| c.id).collect();
    assert_eq!(order, [c12(), c13]);
    assert!(events(&mut s).iter().any(|e| matches!(
        e,
        StoreEvent::ConversationUpdated { from: 1, to: 0, conversation_id } if *conversation_id == c12()
    )));
    let summary = s.conversation(c12()).unwrap();
    assert_eq!(summary.last_activity, T0 + 20);
    assert_eq!(summary.unread, 2);
}

#[test]
fn rooms_have_notices_that_are_not_unread_and_members() {
    let mut s = Store::new(ME);
    let room = ConversationId::Room(9);
    s.ensure_conversation(room, T0);
    s.apply(
        Incoming::Members {
            conversation_id: room,
            members: vec![1, 2, 3],
        },
        0,
    );
    let notice = WireMessage {
        id: 1,
        conversation_id: room,
        sender_id: 0,
        receiver_id: 9,
        content: Content::System {
            text: "3 joined".into(),
        },
        weight: T0 + 1,
        is_read: false,
        revoked: false,
        sender_name: None,
        sender_avatar: None,
    };
    s.apply(Incoming::Message(notice.clone()), 0);
    let mut from3 = notice;
    from3.id = 2;
    from3.sender_id = 3;
    from3.content = text("hello room");
    from3.weight = T0 + 2;
    s.apply(Incoming::Message(from3), 0);
    let summary = s.conversation(room).unwrap();
    assert_eq!(summary.members, [1, 2, 3]);
    assert_eq!(summary.unread, 1);
    assert_eq!(s.message_count(room), 2);
}

#[test]
fn local_deletes_do_not_come_back_from_history() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, PEER, T0, "a")), 0);
    s.apply(Incoming::Message(wire(2, PEER, T0 + 1, "b")), 0);
    s.delete_message(&MessageRef::Server(1)).unwrap();
    assert_eq!(texts(&s, c12()), ["b"]);
    assert_eq!(unread(&s), 1);
    s.apply_history(vec![wire(1, PEER, T0, "a")]);
    assert_eq!(texts(&s, c12()), ["b"]);

    s.delete_conversation(c12());
    assert!(s.conversations().is_empty());
    assert_eq!(s.unread_total(), 0);
    s.apply_history(vec![wire(2, PEER, T0 + 1, "b")]);
    assert!(
        s.conversations().is_empty(),
        "older history does not bring it back"
    );
    s.apply(Incoming::Message(wire(3, PEER, T0 + 2, "new")), 0);
    assert_eq!(texts(&s, c12()), ["new"]);
    assert_eq!(s.conversations().len(), 1);
}

#[test]
fn retention_drops_old_messages_when_switched_on() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, PEER, T0, "old")), 0);
    s.apply(Incoming::Message(wire(2, PEER, T0 + 8 * DAY_MS, "new")), 0);
    s.prune(T0 + 8 * DAY_MS);
    assert_eq!(texts(&s, c12()).len(), 2, "off by default");
    s.set_retention(Some(7));
    s.prune(T0 + 8 * DAY_MS);
    assert_eq!(texts(&s, c12()), ["new"]);
    s.apply_history(vec![wire(1, PEER, T0, "old")]);
    assert_eq!(texts(&s, c12()), ["new"]);
}

#[test]
fn paging_returns_the_messages_before_a_key() {
    let mut s = Store::new(ME);
    for i in 0..10 {
        s.apply(Incoming::Message(wire(i, PEER, T0 + i, &i.to_string())), 0);
    }
    let newest = s.messages(c12(), None, 3);
    assert_eq!(newest.len(), 3);
    assert_eq!(newest[0].server_id(), Some(7));
    let older = s.messages(c12(), Some(&newest[0].key), 5);
    let ids: Vec<Option<u64>> = older.iter().map(|m| m.server_id()).collect();
    assert_eq!(ids, [Some(2), Some(3), Some(4), Some(5), Some(6)]);
}

#[test]
fn a_receipt_for_a_message_still_in_storage_marks_it_read_when_it_is_loaded() {
    // Storage holds an older message of mine, not loaded; the newest page is loaded.
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, ME, T0, "old")), 0);
    s.apply(Incoming::Message(wire(2, PEER, T0 + 10, "new")), 0);
    let stored_old = s.message(&MessageRef::Server(1)).unwrap().clone();
    assert!(!stored_old.read);
    let batch = s.take_persist();
    let newest: Vec<StoredMessage> = batch
        .put_messages
        .into_values()
        .filter(|m| m.server_id() == Some(2))
        .collect();
    let mut s = Store::restore(
        ME,
        batch.put_conversations.into_values().collect(),
        newest,
        Vec::new(),
    );
    // The peer's receipt covers it while it sits in storage; then it is paged in.
    s.apply(
        Incoming::Read {
            sender_id: ME,
            conversation_id: c12(),
            up_to_weight: Some(T0 + 10),
        },
        0,
    );
    s.insert_page(vec![stored_old]);
    assert!(
        s.message(&MessageRef::Server(1)).unwrap().read,
        "read, as the mark says"
    );
    assert!(s
        .take_persist()
        .put_messages
        .values()
        .any(|m| m.server_id() == Some(1) && m.read));
}

#[test]
fn the_persisted_records_restore_the_same_store() {
    let mut s = Store::new(ME);
    for i in 0..20 {
        let sender = if i % 3 == 0 { ME } else { PEER };
        s.apply(Incoming::Message(wire(i, sender, T0 + i * 10, "m")), 0);
    }
    s.apply(
        Incoming::Read {
            sender_id: ME,
            conversation_id: c12(),
            up_to_weight: Some(T0 + 95),
        },
        0,
    );
    s.apply(
        Incoming::Revoke {
            msg_id: 4,
            conversation_id: c12(),
        },
        0,
    );
    s.send_local(c12(), text("pending"), "L9", T0 + 1_000)
        .unwrap();
    let batch = s.take_persist();
    assert!(batch.delete_messages.is_empty());
    let restored = Store::restore(
        ME,
        batch.put_conversations.into_values().collect(),
        batch.put_messages.into_values().collect(),
        batch.put_tombstones.into_iter().collect(),
    );
    assert_eq!(restored.conversations(), s.conversations());
    assert_eq!(
        restored.messages(c12(), None, usize::MAX),
        s.messages(c12(), None, usize::MAX)
    );
    assert_eq!(restored.unread_total(), s.unread_total());
}

#[test]
fn a_message_to_myself_is_refused() {
    let mut s = Store::new(ME);
    let me_me = ConversationId::Direct { low: ME, high: ME };
    assert_eq!(
        s.send_local(me_me, text("x"), "L", T0),
        Err(StoreError::SelfMessage)
    );
}

#[test]
fn the_servers_unread_count_reads_what_was_read_elsewhere() {
    let mut s = Store::new(ME);
    // A fresh device: the history page holds five messages of the peer, all new here.
    s.apply_history((1..=5).map(|i| wire(i, PEER, T0 + i, "m")).collect());
    s.apply(Incoming::Message(wire(9, ME, T0 + 9, "mine")), 0);
    assert_eq!(unread(&s), 5);
    // The server says two are unread as of message 5: the three older ones were read.
    s.apply_server_unread(c12(), 2, T0 + 5);
    assert_eq!(unread(&s), 2);
    assert_eq!(s.unread_total(), 2);
    assert_eq!(
        s.conversation_record(c12()).unwrap().my_read_mark,
        T0 + 3,
        "read up to the third"
    );
    // A higher count, or a message newer than the server's view, never adds unread.
    s.apply_server_unread(c12(), 4, T0 + 5);
    assert_eq!(unread(&s), 2);
    s.apply(Incoming::Message(wire(10, PEER, T0 + 10, "new")), 0);
    s.apply_server_unread(c12(), 0, T0 + 5);
    assert_eq!(unread(&s), 1, "message 10 came after the server's count");
    // Unknown conversations are ignored.
    s.apply_server_unread(ConversationId::direct(ME, 7).unwrap(), 0, T0);
    assert_eq!(s.unread_total(), 1);
}

/// A message of the peer as storage holds it.
fn stored(id: ServerId, weight: u64) -> StoredMessage {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(id, PEER, weight, "m")), 0);
    s.message(&MessageRef::Server(id)).unwrap().clone()
}

/// The record a batch writes for `c12`, if any.
fn written_record(batch: &PersistBatch) -> Option<&ConversationRecord> {
    batch.put_conversations.get(&c12())
}

#[test]
fn each_record_keeps_its_newest_message() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(10, PEER, T0, "a")), 0);
    s.apply(Incoming::Message(wire(11, PEER, T0 + 1_000, "b")), 0);
    let batch = s.take_persist();
    let newest = |b: &PersistBatch| written_record(b).map(|r| r.newest.clone());
    assert!(matches!(newest(&batch), Some(Newest::Message(m)) if m.server_id() == Some(11)));

    // An older message does not change it.
    s.apply(Incoming::Message(wire(9, PEER, T0 - 1_000, "old")), 0);
    assert!(
        matches!(newest(&s.take_persist()), Some(Newest::Message(m)) if m.server_id() == Some(11))
    );

    // A change to the newest message (a revoke) is written with the record.
    s.apply(
        Incoming::Revoke {
            msg_id: 11,
            conversation_id: c12(),
        },
        0,
    );
    assert!(matches!(newest(&s.take_persist()), Some(Newest::Message(m)) if m.is_revoked()));

    // Deleting it: the one before is newest now.
    s.delete_message(&MessageRef::Server(11)).unwrap();
    assert!(matches!(newest(&s.take_persist()),
        Some(Newest::Message(m)) if m.server_id() == Some(10)));

    // Everything deleted, nothing older anywhere: empty.
    s.delete_conversation(c12());
    assert_eq!(newest(&s.take_persist()), Some(Newest::Empty));
}

#[test]
fn deleting_the_only_loaded_message_leaves_the_newest_unknown() {
    // Restored with only the newest of a longer history: storage may hold older ones.
    let older = stored;
    let mut record = ConversationRecord {
        newest: Newest::Message(Box::new(older(12, T0 + 2_000))),
        listed: true,
        ..Conv::new(c12(), 0).record
    };
    record.unread = 0;
    let mut s = Store::restore(ME, vec![record], Vec::new(), Vec::new());
    assert_eq!(s.message_count(c12()), 1);
    assert!(s.take_persist().is_empty(), "nothing to repair");
    s.delete_message(&MessageRef::Server(12)).unwrap();
    assert_eq!(
        written_record(&s.take_persist()).map(|r| r.newest.clone()),
        Some(Newest::Unknown),
        "read back at the next start"
    );
    // The one before it, read back, is the newest again and listed as such.
    events(&mut s);
    s.insert_page(vec![older(11, T0 + 1_000)]);
    assert!(events(&mut s).iter().any(|e| matches!(e,
        StoreEvent::ConversationUpdated { conversation_id, .. } if *conversation_id == c12())));
    let summary = s.conversation(c12()).unwrap();
    assert_eq!(
        summary.last_message.as_ref().and_then(|m| m.server_id()),
        Some(11)
    );
    assert!(
        matches!(written_record(&s.take_persist()).map(|r| &r.newest),
        Some(Newest::Message(m)) if m.server_id() == Some(11))
    );
}

#[test]
fn a_restart_learns_the_newest_a_record_did_not_know() {
    // A record written before records kept the newest message.
    let m = stored(5, T0);
    let record = ConversationRecord {
        newest: Newest::Unknown,
        listed: true,
        ..Conv::new(c12(), 0).record
    };
    let mut s = Store::restore(ME, vec![record.clone()], vec![m.clone()], Vec::new());
    assert!(
        matches!(written_record(&s.take_persist()).map(|r| &r.newest),
        Some(Newest::Message(n)) if **n == m)
    );
    // Storage had nothing for it: known empty from now on.
    let mut s = Store::restore(ME, vec![record], Vec::new(), Vec::new());
    assert_eq!(
        written_record(&s.take_persist()).map(|r| r.newest.clone()),
        Some(Newest::Empty)
    );
}

/// The persisted record of `r` in `batch`, if it puts one.
fn put_of<'a>(batch: &'a PersistBatch, r: &MessageRef) -> Option<&'a StoredMessage> {
    batch.put_messages.get(&(c12(), r.clone()))
}

/// The keys `batch` deletes in `c12`.
fn deleted_keys(batch: &PersistBatch) -> Vec<MessageKey> {
    batch
        .delete_messages
        .keys()
        .filter(|(c, _)| *c == c12())
        .map(|(_, k)| k.clone())
        .collect()
}

#[test]
fn a_resend_of_a_failed_message_puts_the_new_copy_and_deletes_the_old_key() {
    let mut s = Store::new(ME);
    let local = MessageRef::Local("L1".into());
    s.send_local(c12(), text("lost"), "L1", T0 + 10).unwrap();
    s.send_failed(&local).unwrap();
    let old_key = s.message(&local).unwrap().key.clone();
    s.take_persist();

    s.resend(&local, T0 + 40).unwrap();
    let batch = s.take_persist();
    let new = put_of(&batch, &local).expect("the resent copy is put");
    assert_eq!(new.key.weight, T0 + 40);
    assert_eq!(new.key.id, local);
    assert_eq!(new.status, Status::Sending);
    assert_eq!(
        deleted_keys(&batch),
        [old_key],
        "the copy at the old key is deleted in the same batch"
    );
    assert_eq!(batch.delete_messages.len(), 1);
}

#[test]
fn a_message_that_moves_deletes_its_old_key_and_one_that_stays_does_not() {
    let mut s = Store::new(ME);
    s.apply(Incoming::Message(wire(1, PEER, T0, "first")), 0);
    let server = MessageRef::Server(1);
    let k1 = s.message(&server).unwrap().key.clone();
    s.take_persist();

    // Changed in place (read): a put at the same key, no delete.
    s.apply(
        Incoming::Read {
            sender_id: PEER,
            conversation_id: c12(),
            up_to_weight: Some(T0),
        },
        0,
    );
    s.apply(
        Incoming::Revoke {
            msg_id: 1,
            conversation_id: c12(),
        },
        0,
    );
    let batch = s.take_persist();
    assert_eq!(put_of(&batch, &server).map(|m| &m.key), Some(&k1));
    assert!(batch.delete_messages.is_empty());

    // A server resend raises its weight: put at the new key, the old one deleted.
    s.apply_resend(1, T0 + 100);
    let batch = s.take_persist();
    let k2 = put_of(&batch, &server).map(|m| m.key.clone()).unwrap();
    assert_eq!(k2.weight, T0 + 100);
    assert_eq!(deleted_keys(&batch), [k1]);

    // A copy from history with a higher weight (the max of both): moved again.
    s.apply_history(vec![wire(1, PEER, T0 + 200, "first")]);
    let batch = s.take_persist();
    assert_eq!(
        put_of(&batch, &server).map(|m| m.key.weight),
        Some(T0 + 200)
    );
    assert_eq!(deleted_keys(&batch), [k2]);

    // Deleted: at the key it is stored at.
    let k3 = s.message(&server).unwrap().key.clone();
    s.delete_message(&server).unwrap();
    let batch = s.take_persist();
    assert_eq!(deleted_keys(&batch), [k3]);
    assert!(batch.put_messages.is_empty());
}

#[test]
fn a_sent_message_deletes_its_local_key_and_puts_its_server_key() {
    let mut s = Store::new(ME);
    s.send_local(c12(), text("hi"), "L1", T0).unwrap();
    let local_key = s
        .message(&MessageRef::Local("L1".into()))
        .unwrap()
        .key
        .clone();
    s.take_persist();
    s.send_succeeded("L1", 500, T0 + 5).unwrap();
    let batch = s.take_persist();
    let sent = put_of(&batch, &MessageRef::Server(500)).unwrap();
    assert_eq!(sent.key.weight, T0 + 5);
    assert_eq!(deleted_keys(&batch), [local_key]);
}

#[test]
fn merged_batches_delete_by_key_and_keep_a_move() {
    let a1 = stored(1, T0);
    let mut a2 = a1.clone();
    a2.key.weight = T0 + 5;
    let (k1, k2) = (a1.key.clone(), a2.key.clone());
    let keyed = |b: &PersistBatch| -> (Vec<MessageKey>, Vec<MessageKey>) {
        let puts = b.put_messages.values().map(|m| m.key.clone()).collect();
        (puts, deleted_keys(b))
    };

    // Put A@k1, then a later batch deletes A@k1: the delete, no put.
    let mut earlier = PersistBatch::default();
    earlier.put_message(&a1);
    let mut later = PersistBatch::default();
    later.delete_message(c12(), k1.clone());
    earlier.merge(later);
    assert_eq!(keyed(&earlier), (vec![], vec![k1.clone()]));

    // A move in one batch (delete A@k1, put A@k2) keeps both.
    let mut moved = PersistBatch::default();
    moved.delete_message(c12(), k1.clone());
    moved.put_message(&a2);
    assert_eq!(keyed(&moved), (vec![k2.clone()], vec![k1.clone()]));
    // Merged after a batch that put A@k1, too: its delete does not take away its own put.
    let mut earlier = PersistBatch::default();
    earlier.put_message(&a1);
    earlier.merge(moved.clone());
    assert_eq!(keyed(&earlier), (vec![k2.clone()], vec![k1.clone()]));

    // Moved back later (delete A@k2, put A@k1): the delete of k1 goes, a put replaces it.
    let mut back = PersistBatch::default();
    back.delete_message(c12(), k2.clone());
    back.put_message(&a1);
    assert_eq!(keyed(&back), (vec![k1.clone()], vec![k2.clone()]));
    let mut merged = moved.clone();
    merged.merge(back);
    assert_eq!(keyed(&merged), (vec![k1.clone()], vec![k2.clone()]));

    // The same message put back at the key it was deleted from: the put only.
    let mut again = PersistBatch::default();
    again.delete_message(c12(), k1.clone());
    again.put_message(&a1);
    assert_eq!(keyed(&again), (vec![k1.clone()], vec![]));
    let mut merged = PersistBatch::default();
    merged.delete_message(c12(), k1.clone());
    let mut later = PersistBatch::default();
    later.put_message(&a1);
    merged.merge(later);
    assert_eq!(keyed(&merged), (vec![k1], vec![]));
}

#[test]
fn a_senders_name_and_avatar_are_shared_by_their_messages_while_the_same() {
    use std::sync::Arc;
    let mut s = Store::new(ME);
    let named = |id, weight, name: &str, avatar: &str| {
        let mut w = wire(id, PEER, weight, "hi");
        w.sender_name = Some(name.into());
        w.sender_avatar = Some(avatar.into());
        Incoming::Message(w)
    };
    s.apply(named(1, T0, "Bo", "https://a/1.png"), 0);
    s.apply(named(2, T0 + 1, "Bo", "https://a/1.png"), 0);
    s.apply(named(3, T0 + 2, "Bo", "https://a/2.png"), 0);
    // My message between: the conversation's newest is not the peer's, so their next one
    // keeps its own copy (with the right text).
    s.apply(Incoming::Message(wire(4, ME, T0 + 3, "yo")), 0);
    s.apply(named(5, T0 + 4, "Bo", "https://a/2.png"), 0);
    let m = |id| s.message(&MessageRef::Server(id)).unwrap().clone();
    let (m1, m2, m3, m5) = (m(1), m(2), m(3), m(5));
    let same = |a: &Option<Arc<str>>, b: &Option<Arc<str>>| match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    };
    assert!(same(&m1.sender_name, &m2.sender_name));
    assert!(same(&m1.sender_avatar, &m2.sender_avatar));
    assert!(same(&m2.sender_name, &m3.sender_name));
    assert!(
        !same(&m2.sender_avatar, &m3.sender_avatar),
        "a new avatar is its own"
    );
    assert_eq!(m3.sender_avatar.as_deref(), Some("https://a/2.png"));
    assert!(!same(&m3.sender_name, &m5.sender_name));
    assert_eq!(m5.sender_name.as_deref(), Some("Bo"));
    assert_eq!(m5.sender_avatar.as_deref(), Some("https://a/2.png"));
}

//! The storage conformance suite on the memory backend, and the write queue with a store.
#![cfg(not(target_arch = "wasm32"))]

use imcore::chat::store::Store;
use imcore::chat::{Content, ConversationId, Incoming, WireMessage};
use imcore::storage::{
    conformance, startup, MemoryStorage, Page, Storage, StorageBatch, WriteQueue,
};
use imcore::test_support::{block_on, text_message};

#[test]
fn memory_backend_passes_the_conformance_suite() {
    block_on(conformance::run_all(&MemoryStorage::new())).unwrap();
}

#[test]
fn a_store_persisted_through_the_queue_restores_identically() {
    let storage = MemoryStorage::new();
    let mut store = Store::new(1);
    let mut queue = WriteQueue::new();
    for i in 0..2_000u64 {
        let peer = 2 + i % 20;
        let (sender, receiver) = if i % 4 == 0 { (1, peer) } else { (peer, 1) };
        let c = ConversationId::direct(1, peer).unwrap();
        let m = WireMessage {
            revoked: i % 50 == 0,
            ..text_message(
                i + 1,
                c,
                sender,
                receiver,
                format!("m{i}"),
                1_000 + i * 7 % 1_300,
            )
        };
        store.apply(Incoming::Message(m), 0);
        while store.poll_event().is_some() {}
        queue.push(StorageBatch::from(store.take_persist()));
        // Writes complete only every 100 messages: the queue coalesces the rest.
        if i % 100 == 99 {
            if let Some(batch) = queue.take_next() {
                block_on(storage.apply(batch)).unwrap();
                queue.done();
            }
        }
    }
    let c = ConversationId::direct(1, 3).unwrap();
    store.mark_read(c);
    store
        .send_local(
            c,
            Content::Text {
                text: "queued".into(),
            },
            "L1",
            5_000,
        )
        .unwrap();
    queue.push(StorageBatch::from(store.take_persist()));
    while let Some(batch) = queue.take_next() {
        block_on(storage.apply(batch)).unwrap();
        queue.done();
    }
    assert!(queue.is_idle());
    assert!(
        queue.writes <= 21,
        "2,002 batches in {} writes",
        queue.writes
    );

    let records = block_on(storage.conversations()).unwrap();
    let mut messages = Vec::new();
    for r in &records {
        messages.extend(block_on(storage.messages(r.id, Page::Newest, usize::MAX)).unwrap());
    }
    let restored = Store::restore(
        1,
        records,
        messages,
        block_on(storage.tombstones()).unwrap(),
    );
    assert_eq!(restored.conversations(), store.conversations());
    assert_eq!(restored.unread_total(), store.unread_total());
    for summary in store.conversations() {
        assert_eq!(
            restored.messages(summary.id, None, usize::MAX),
            store.messages(summary.id, None, usize::MAX)
        );
    }
    let outbox = block_on(storage.outbox()).unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].local_id, "L1");
}

#[test]
fn start_up_shows_conversations_unread_and_the_newest_page_then_pages_back() {
    let storage = MemoryStorage::new();
    let mut store = Store::new(1);
    let c = ConversationId::direct(1, 2).unwrap();
    for i in 0..300u64 {
        let m = text_message(i + 1, c, 2, 1, format!("m{i}"), 10_000 + i);
        store.apply(Incoming::Message(m), 0);
    }
    // Read up to the 250th, then a message waits in the outbox.
    store.apply(
        Incoming::Read {
            sender_id: 2,
            conversation_id: c,
            up_to_weight: Some(10_249),
        },
        0,
    );
    store
        .send_local(
            c,
            Content::Text {
                text: "offline".into(),
            },
            "L1",
            20_000,
        )
        .unwrap();
    block_on(storage.apply(StorageBatch::from(store.take_persist()))).unwrap();

    let mut loaded = block_on(startup::load(&storage, 1)).unwrap();
    let s = &mut loaded.store;
    assert_eq!(s.conversations().len(), 1);
    assert_eq!(
        s.unread_total(),
        50,
        "unread comes from the record, not the one message loaded"
    );
    // Only the newest, from the conversation record: pages are read when shown.
    assert_eq!(s.message_count(c), 1);
    assert_eq!(loaded.outbox.len(), 1);
    assert_eq!(
        s.conversations()[0]
            .last_message
            .as_ref()
            .and_then(|m| m.local_id.clone()),
        Some("L1".to_string())
    );
    let mut pages = 0;
    while block_on(startup::load_older(&storage, s, c, 50)).unwrap() > 0 {
        pages += 1;
    }
    assert_eq!(pages, 6);
    assert_eq!(s.message_count(c), 301);
    assert_eq!(
        s.messages(c, None, usize::MAX),
        store.messages(c, None, usize::MAX)
    );
    // Marking read on the partially loaded store is exact once the mark covers what is held.
    s.mark_read(c);
    assert_eq!(s.unread_total(), 0);
}

/// Five unread messages from the peer persisted; a restart, which loads only the newest.
fn five_unread_then_restart() -> (MemoryStorage, Store) {
    let storage = MemoryStorage::new();
    let mut store = Store::new(1);
    for i in 0..5 {
        store.apply(
            Incoming::Message(peer_message(100 + i, 10_000 + i * 1_000)),
            0,
        );
    }
    block_on(storage.apply(StorageBatch::from(store.take_persist()))).unwrap();
    let restarted = block_on(startup::load(&storage, 1)).unwrap().store;
    assert_eq!(restarted.unread_total(), 5);
    assert_eq!(restarted.message_count(c12()), 1);
    (storage, restarted)
}

fn c12() -> ConversationId {
    ConversationId::direct(1, 2).unwrap()
}

fn peer_message(id: u64, weight: u64) -> WireMessage {
    text_message(id, c12(), 2, 1, format!("m{id}"), weight)
}

fn persist(storage: &MemoryStorage, store: &mut Store) {
    block_on(storage.apply(StorageBatch::from(store.take_persist()))).unwrap();
}

#[test]
fn a_redelivery_of_a_stored_unloaded_message_is_not_unread_twice() {
    let (storage, mut s) = five_unread_then_restart();
    block_on(startup::apply_incoming(
        &storage,
        &mut s,
        Incoming::Message(peer_message(100, 10_000)),
        0,
    ))
    .unwrap();
    block_on(startup::apply_history(
        &storage,
        &mut s,
        vec![peer_message(101, 11_000), peer_message(102, 12_000)],
    ))
    .unwrap();
    assert_eq!(s.unread_total(), 5);
    // Paging back still finds every message once.
    while block_on(startup::load_older(&storage, &mut s, c12(), 1)).unwrap() > 0 {}
    assert_eq!(s.message_count(c12()), 5);
}

#[test]
fn a_revoke_of_an_unloaded_message_reaches_storage_and_the_count() {
    let (storage, mut s) = five_unread_then_restart();
    block_on(startup::apply_incoming(
        &storage,
        &mut s,
        Incoming::Revoke {
            msg_id: 100,
            conversation_id: c12(),
        },
        0,
    ))
    .unwrap();
    assert_eq!(s.unread_total(), 4);
    // A revoke that reached only the tombstones (applied without storage at hand) is
    // applied when the message is read back.
    s.apply(
        Incoming::Revoke {
            msg_id: 101,
            conversation_id: c12(),
        },
        0,
    );
    persist(&storage, &mut s);
    let mut again = block_on(startup::load(&storage, 1)).unwrap().store;
    while block_on(startup::load_older(&storage, &mut again, c12(), 2)).unwrap() > 0 {}
    let revoked: Vec<u64> = again
        .messages(c12(), None, usize::MAX)
        .iter()
        .filter(|m| m.content.is_none())
        .filter_map(|m| m.server_id())
        .collect();
    assert_eq!(revoked, [100, 101]);
    assert_eq!(again.unread_total(), 3);
}

#[test]
fn deleting_a_conversation_clears_unloaded_history_and_its_unread() {
    let (storage, mut s) = five_unread_then_restart();
    s.delete_conversation(c12());
    assert_eq!(s.unread_total(), 0);
    persist(&storage, &mut s);
    assert_eq!(
        block_on(startup::load_older(&storage, &mut s, c12(), 10)).unwrap(),
        0
    );
    let again = block_on(startup::load(&storage, 1)).unwrap().store;
    assert!(again.conversations().is_empty());
    assert_eq!(again.unread_total(), 0);
}

#[test]
fn deleting_a_message_being_sent_takes_it_out_of_the_outbox() {
    let storage = MemoryStorage::new();
    let mut s = Store::new(1);
    s.send_local(
        c12(),
        Content::Text {
            text: "oops".into(),
        },
        "L1",
        5,
    )
    .unwrap();
    persist(&storage, &mut s);
    assert_eq!(block_on(storage.outbox()).unwrap().len(), 1);
    s.delete_message(&imcore::chat::store::MessageRef::Local("L1".into()))
        .unwrap();
    persist(&storage, &mut s);
    assert!(block_on(storage.outbox()).unwrap().is_empty());
}

#[test]
fn a_restart_lists_exactly_the_conversations_that_were_listed() {
    let storage = MemoryStorage::new();
    let mut s = Store::new(1);
    // A chat whose only message is deleted stays listed; a room joined before any message
    // is listed; a conversation known only from a read receipt is not.
    s.apply(Incoming::Message(peer_message(7, 1_000)), 0);
    s.delete_message(&imcore::chat::store::MessageRef::Server(7))
        .unwrap();
    s.ensure_conversation(ConversationId::Room(9), 2_000);
    s.apply(
        Incoming::Read {
            sender_id: 1,
            conversation_id: ConversationId::direct(1, 3).unwrap(),
            up_to_weight: Some(3_000),
        },
        0,
    );
    persist(&storage, &mut s);
    let again = block_on(startup::load(&storage, 1)).unwrap().store;
    assert_eq!(again.conversations(), s.conversations());
    assert_eq!(s.conversations().len(), 2);
}

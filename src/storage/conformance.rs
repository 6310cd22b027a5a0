//! The conformance suite every [`Storage`] backend runs: natively on [`MemoryStorage`]
//! (`tests/storage_memory.rs`) and on the key-value layout over [`MemoryKv`]
//! (`kv/tests.rs`), and in headless Chromium on IndexedDB and on the JS key-value store
//! through the shell's `AnyStorage` (`tests/web_storage.rs`).
//! Each check returns `Err(what went wrong)` rather than panicking, so a browser test can
//! report it.
//!
//! [`MemoryStorage`]: super::MemoryStorage
//! [`MemoryKv`]: super::MemoryKv
#![doc(hidden)]
// Test support: it indexes fixtures it built itself, never input from outside.
#![allow(clippy::indexing_slicing)]

use super::{meta, Page, StartupRecords, Storage, StorageBatch};
use crate::chat::store::{
    ConversationRecord, MessageKey, MessageRef, Newest, OutboxEntry, PersistBatch, Status,
    StoredMessage, Tombstone,
};
use crate::chat::{Content, ConversationId};
use crate::test_support::{direct, ME, T0};

/// A message of conversation `1_{peer}` (or a room) for the suite.
pub fn message(conversation: ConversationId, n: u64, sender: u64, weight: u64) -> StoredMessage {
    StoredMessage {
        key: MessageKey {
            weight,
            sender_id: sender,
            id: MessageRef::Server(n),
        },
        conversation_id: conversation,
        local_id: None,
        receiver_id: conversation.peer_of(sender).unwrap_or(0),
        content: Some(
            Content::Text {
                text: format!("message {n} — 你好 <b>{n}</b>"),
            }
            .into(),
        ),
        status: Status::Sent,
        read: n % 3 == 0,
        server_read: n % 3 == 0,
        sender_name: Some(format!("user {sender}").into()),
        sender_avatar: None,
    }
}

/// A conversation record for the suite.
pub fn record(id: ConversationId, unread: u32) -> ConversationRecord {
    ConversationRecord {
        id,
        my_read_mark: T0,
        peer_read_mark: T0 + 1,
        cleared_mark: 0,
        created_at: T0 - 5,
        members: vec![ME, 2, 3],
        // Every backend keeps the room receipts of the other members.
        member_reads: vec![(2, T0 + 1), (3, T0)],
        unread,
        listed: unread > 0,
        newest: Newest::Empty,
    }
}

/// A batch that puts these messages.
pub fn put_all(messages: &[StoredMessage]) -> StorageBatch {
    let mut store = PersistBatch::default();
    for m in messages {
        store
            .put_messages
            .insert((m.conversation_id, m.key.id.clone()), m.clone());
    }
    store.into()
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

macro_rules! try_s {
    ($e:expr) => {
        $e.map_err(|e| format!("{}: {e}", stringify!($e)))?
    };
}

/// Messages come back in key order, per conversation, in pages before and after a key.
pub async fn pages<S: Storage>(s: &S) -> Result<(), String> {
    let a = direct(2);
    let b = direct(3);
    // Ties in weight: the order is (weight, sender, id).
    let mut msgs: Vec<StoredMessage> = (1..=40)
        .map(|n| message(a, n, if n % 2 == 0 { ME } else { 2 }, T0 + (n / 3) * 10))
        .collect();
    msgs.extend((41..=50).map(|n| message(b, n, 3, T0 + n)));
    try_s!(s.apply(put_all(&msgs)).await);
    let mut expected: Vec<StoredMessage> = msgs
        .iter()
        .filter(|m| m.conversation_id == a)
        .cloned()
        .collect();
    expected.sort_by(|x, y| x.key.cmp(&y.key));

    let newest = try_s!(s.messages(a, Page::Newest, 7).await);
    check(newest == expected[33..], || format!("newest 7: {newest:?}"))?;
    let before = try_s!(
        s.messages(a, Page::Before(expected[33].key.clone()), 10)
            .await
    );
    check(before == expected[23..33], || format!("before: {before:?}"))?;
    let after = try_s!(s.messages(a, Page::After(expected[4].key.clone()), 3).await);
    check(after == expected[5..8], || format!("after: {after:?}"))?;
    let first = try_s!(
        s.messages(a, Page::Before(expected[2].key.clone()), 10)
            .await
    );
    check(first == expected[..2], || format!("first: {first:?}"))?;
    let other = try_s!(s.messages(b, Page::Newest, 100).await);
    check(other.len() == 10, || {
        format!("conversation b: {}", other.len())
    })?;
    let none = try_s!(s.messages(direct(9), Page::Newest, 10).await);
    check(none.is_empty(), || {
        "unknown conversation has messages".into()
    })?;
    // Start-up's read: the same pages, conversation after conversation.
    let all = try_s!(s.newest_pages(&[a, direct(9), b], 7).await);
    let mut want = try_s!(s.messages(a, Page::Newest, 7).await);
    want.extend(try_s!(s.messages(b, Page::Newest, 7).await));
    check(all == want, || format!("newest pages: {all:?}"))?;
    let one = try_s!(s.newest_pages(&[a], 1).await);
    check(one[..] == expected[39..], || {
        format!("newest page of 1: {one:?}")
    })
}

/// Walks a conversation from the newest page back to the first message: no gap, no
/// duplicate.
pub async fn walk_back<S: Storage>(
    s: &S,
    conversation: ConversationId,
    total: usize,
    page: usize,
) -> Result<usize, String> {
    let mut seen: Vec<MessageKey> = Vec::new();
    let mut cursor = Page::Newest;
    let mut pages = 0;
    loop {
        let got = try_s!(s.messages(conversation, cursor.clone(), page).await);
        if got.is_empty() {
            break;
        }
        pages += 1;
        check(got.windows(2).all(|w| w[0].key < w[1].key), || {
            "a page is not ascending".into()
        })?;
        if let Some(prev_first) = seen.last() {
            let last = got.last().map(|m| m.key.clone());
            check(last.as_ref().is_some_and(|l| l < prev_first), || {
                "pages overlap".into()
            })?;
        }
        cursor = Page::Before(got[0].key.clone());
        for m in got.into_iter().rev() {
            seen.push(m.key);
        }
    }
    check(seen.len() == total, || {
        format!("walked {} of {total} messages", seen.len())
    })?;
    check(seen.windows(2).all(|w| w[0] > w[1]), || {
        "gap or duplicate while walking back".into()
    })?;
    Ok(pages)
}

/// Puts replace, deletes remove, lookups by server and local id follow a re-keyed message.
pub async fn updates_and_lookups<S: Storage>(s: &S) -> Result<(), String> {
    let c = direct(4);
    let mut local = message(c, 0, ME, T0);
    local.key.id = MessageRef::Local("L-1".into());
    local.local_id = Some("L-1".into());
    local.status = Status::Sending;
    try_s!(s.apply(put_all(std::slice::from_ref(&local))).await);
    let found = try_s!(s.message_by_local_id("L-1").await);
    check(found.as_ref() == Some(&local), || {
        format!("by local id: {found:?}")
    })?;

    // The server id arrives: the local record goes (deleted at the key it is stored at),
    // the server record comes, in one batch.
    let mut sent = local.clone();
    sent.key.id = MessageRef::Server(900);
    sent.status = Status::Sent;
    let mut batch = put_all(std::slice::from_ref(&sent));
    batch
        .store
        .delete_messages
        .insert((c, local.key.clone()), ());
    try_s!(s.apply(batch).await);
    let all = try_s!(s.messages(c, Page::Newest, 10).await);
    check(all == vec![sent.clone()], || {
        format!("after re-key: {all:?}")
    })?;
    let by_server = try_s!(s.message_by_server_id(900).await);
    check(by_server.as_ref() == Some(&sent), || {
        format!("by server id: {by_server:?}")
    })?;
    let by_local = try_s!(s.message_by_local_id("L-1").await);
    check(by_local.as_ref() == Some(&sent), || {
        format!("local id kept: {by_local:?}")
    })?;

    // Revoked: content gone.
    let mut revoked = sent.clone();
    revoked.status = Status::Revoked;
    revoked.content = None;
    try_s!(s.apply(put_all(std::slice::from_ref(&revoked))).await);
    let back = try_s!(s.message_by_server_id(900).await);
    check(back.as_ref() == Some(&revoked), || {
        format!("revoked: {back:?}")
    })?;

    let mut del = PersistBatch::default();
    del.delete_messages.insert((c, revoked.key.clone()), ());
    try_s!(s.apply(del.into()).await);
    let gone = try_s!(s.message_by_server_id(900).await);
    check(gone.is_none(), || "deleted message still found".into())
}

/// Conversation records, the outbox, tombstones and metadata round-trip.
pub async fn records<S: Storage>(s: &S) -> Result<(), String> {
    let mut batch = PersistBatch::default();
    // Each form of `newest` comes back as it went in.
    let newest = [
        Newest::Message(Box::new(message(direct(2), 9, 2, T0 + 9))),
        Newest::Empty,
        Newest::Unknown,
    ];
    let mut written = Vec::new();
    for (i, (id, newest)) in [direct(2), direct(3), ConversationId::Room(7)]
        .into_iter()
        .zip(newest)
        .enumerate()
    {
        let record = ConversationRecord {
            newest,
            ..record(id, i as u32 * 4)
        };
        written.push(record.clone());
        batch.put_conversations.insert(id, record);
    }
    written.sort_by_key(|c| c.id);
    let entry = |n: u64| OutboxEntry {
        local_id: format!("out-{n}"),
        conversation_id: direct(2),
        receiver_id: 2,
        content: Content::Image {
            url: format!("https://img/{n}"),
            cover: Some("c".into()),
        },
        weight: T0 + 100 - n,
    };
    for n in 0..3 {
        batch.put_outbox.insert(format!("out-{n}"), entry(n));
    }
    batch.put_tombstones.insert(77, Tombstone::Revoked);
    batch.put_tombstones.insert(78, Tombstone::Deleted);
    let mut b: StorageBatch = batch.into();
    b.put_meta
        .push((meta::CLOCK_OFFSET.into(), "-3600000".into()));
    try_s!(s.apply(b).await);

    let mut convs = try_s!(s.conversations().await);
    convs.sort_by_key(|c| c.id);
    check(convs == written, || {
        format!("conversations: {convs:?}, written {written:?}")
    })?;
    let outbox = try_s!(s.outbox().await);
    let ids: Vec<&str> = outbox.iter().map(|e| e.local_id.as_str()).collect();
    check(ids == ["out-2", "out-1", "out-0"], || {
        format!("outbox oldest first: {ids:?}")
    })?;
    check(outbox.first() == Some(&entry(2)), || {
        "outbox entry differs".into()
    })?;
    let tombs = try_s!(s.tombstones().await);
    check(
        tombs.contains(&(77, Tombstone::Revoked)) && tombs.contains(&(78, Tombstone::Deleted)),
        || format!("tombstones: {tombs:?}"),
    )?;
    let offset = try_s!(s.meta(meta::CLOCK_OFFSET).await);
    check(offset.as_deref() == Some("-3600000"), || {
        format!("meta: {offset:?}")
    })?;
    check(try_s!(s.meta("nope").await).is_none(), || {
        "unknown meta key".into()
    })?;
    // Start-up's read of them all at once gives what the calls one by one give.
    let together = try_s!(s.startup_records().await);
    let one_by_one = StartupRecords {
        conversations: try_s!(s.conversations().await),
        tombstones: try_s!(s.tombstones().await),
        outbox,
        clock_offset: offset,
    };
    check(together == one_by_one, || {
        format!("startup records: {together:?}, one by one {one_by_one:?}")
    })?;

    let mut done = PersistBatch::default();
    done.delete_outbox.insert("out-1".into(), ());
    done.delete_conversations.insert(direct(3), ());
    try_s!(s.apply(done.into()).await);
    check(try_s!(s.outbox().await).len() == 2, || {
        "outbox delete".into()
    })?;
    check(try_s!(s.conversations().await).len() == 2, || {
        "conversation delete".into()
    })
}

/// Wipe leaves nothing.
pub async fn wipe<S: Storage>(s: &S) -> Result<(), String> {
    try_s!(s.apply(put_all(&[message(direct(2), 1, 2, T0)])).await);
    try_s!(s.wipe().await);
    check(
        try_s!(s.messages(direct(2), Page::Newest, 10).await).is_empty(),
        || "messages survive wipe".into(),
    )?;
    check(try_s!(s.conversations().await).is_empty(), || {
        "conversations survive wipe".into()
    })?;
    check(try_s!(s.outbox().await).is_empty(), || {
        "outbox survives wipe".into()
    })
}

/// Every check above, on fresh (wiped) storage each time.
pub async fn run_all<S: Storage>(s: &S) -> Result<(), String> {
    try_s!(s.wipe().await);
    pages(s).await?;
    try_s!(s.wipe().await);
    let c = direct(5);
    let msgs: Vec<StoredMessage> = (1..=500).map(|n| message(c, n, 5, T0 + n / 2)).collect();
    try_s!(s.apply(put_all(&msgs)).await);
    walk_back(s, c, 500, 50).await?;
    try_s!(s.wipe().await);
    updates_and_lookups(s).await?;
    try_s!(s.wipe().await);
    records(s).await?;
    wipe(s).await
}

//! Start-up from local history: the conversation list, unread counts and each
//! conversation's newest message come from storage before any network call. They come
//! from the conversation records alone (each keeps its newest message), so start-up
//! reads no message, however long the history: a conversation's pages are read when it
//! is shown ([`load_older`]).

use super::{Page, StartupRecords, Storage, StorageError};
use crate::chat::store::{MessageRef, Newest, OutboxEntry, Store};
use crate::chat::Incoming;
use crate::chat::UserId;
use crate::collections::Gather;

/// What a client has at start-up, before it connects.
#[derive(Debug)]
pub struct Startup {
    /// The store with every conversation, its unread count and its newest message.
    pub store: Store,
    /// Messages of mine still to send, oldest first: they go out after the next connect.
    pub outbox: Vec<OutboxEntry>,
    /// The last clock offset, a first guess until the clock is calibrated again.
    pub clock_offset_ms: Option<i64>,
}

/// Loads the store of user `me`. Only a record that does not know its newest message
/// (written before records kept it, or its newest was deleted with older ones unloaded)
/// costs a message read; the store then writes the record with it.
pub async fn load<S: Storage>(storage: &S, me: UserId) -> Result<Startup, StorageError> {
    let StartupRecords {
        conversations,
        tombstones,
        outbox,
        clock_offset,
    } = storage.startup_records().await?;
    let unknown: Vec<_> = conversations
        .iter()
        .filter(|c| c.newest == Newest::Unknown)
        .map(|c| c.id)
        .gather();
    let messages = if unknown.is_empty() {
        Vec::new()
    } else {
        storage.newest_pages(&unknown, 1).await?
    };
    let clock_offset_ms = clock_offset.and_then(|v| v.parse().ok());
    let mut store = Store::restore(me, conversations, messages, tombstones);
    // Messages still being sent are held whatever page they are on: their sends settle
    // them (status, server id) after the next connect.
    for e in &outbox {
        if let Some(m) = storage.message_by_local_id(&e.local_id).await? {
            store.insert_loaded(m);
        }
    }
    // Restored state, not changes: no UI event for it.
    while store.poll_event().is_some() {}
    Ok(Startup {
        store,
        outbox,
        clock_offset_ms,
    })
}

/// Loads the page before the oldest message held of `conversation` into the store; returns
/// how many messages came (0: local history is exhausted, ask the backend).
pub async fn load_older<S: Storage>(
    storage: &S,
    store: &mut Store,
    conversation: crate::chat::ConversationId,
    limit: usize,
) -> Result<usize, StorageError> {
    if !store.may_have_older(conversation) {
        return Ok(0);
    }
    let page = match store.paged_from(conversation) {
        Some(oldest) => Page::Before(oldest),
        None => Page::Newest,
    };
    let older = storage.messages(conversation, page, limit).await?;
    let n = older.len();
    store.insert_page(older);
    Ok(n)
}

/// Applies a network input to a store that holds only part of the history: a message or a
/// revoke for a server id that is in storage but not loaded is read back first, so a
/// redelivery is not counted unread twice and a revoke reaches the stored copy.
pub async fn apply_incoming<S: Storage>(
    storage: &S,
    store: &mut Store,
    incoming: Incoming,
    received_weight: u64,
) -> Result<(), StorageError> {
    let id = match &incoming {
        Incoming::Message(m) => Some(m.id),
        Incoming::Revoke { msg_id, .. } => Some(*msg_id),
        Incoming::Read { .. } | Incoming::Members { .. } => None,
    };
    if let Some(id) = id {
        if store.message(&MessageRef::Server(id)).is_none() {
            if let Some(stored) = storage.message_by_server_id(id).await? {
                store.insert_loaded(stored);
            }
        }
    }
    store.apply(incoming, received_weight);
    Ok(())
}

/// [`apply_incoming`] for every message of a history page.
pub async fn apply_history<S: Storage>(
    storage: &S,
    store: &mut Store,
    page: Vec<crate::chat::WireMessage>,
) -> Result<(), StorageError> {
    for m in page {
        apply_incoming(storage, store, Incoming::Message(m), 0).await?;
    }
    Ok(())
}

//! Start-up from local history: the conversation list, unread counts and the newest page
//! of every conversation come from storage before any network call.

use super::{meta, Page, Storage, StorageError};
use crate::chat::store::{OutboxEntry, Store};
use crate::chat::UserId;

/// What a client has at start-up, before it connects.
#[derive(Debug)]
pub struct Startup {
    /// The store with every conversation, its unread count and its newest page.
    pub store: Store,
    /// Messages of mine still to send, oldest first: they go out after the next connect.
    pub outbox: Vec<OutboxEntry>,
    /// The last clock offset, a first guess until the clock is calibrated again.
    pub clock_offset_ms: Option<i64>,
}

/// Loads the store of user `me` with the newest `page` messages of each conversation.
pub async fn load<S: Storage>(
    storage: &S,
    me: UserId,
    page: usize,
) -> Result<Startup, StorageError> {
    let conversations = storage.conversations().await?;
    let mut messages = Vec::new();
    for c in &conversations {
        messages.extend(storage.messages(c.id, Page::Newest, page).await?);
    }
    let tombstones = storage.tombstones().await?;
    let outbox = storage.outbox().await?;
    let clock_offset_ms = storage
        .meta(meta::CLOCK_OFFSET)
        .await?
        .and_then(|v| v.parse().ok());
    Ok(Startup {
        store: Store::restore(me, conversations, messages, tombstones),
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
    let page = match store.oldest_key(conversation) {
        Some(oldest) => Page::Before(oldest),
        None => Page::Newest,
    };
    let older = storage.messages(conversation, page, limit).await?;
    let n = older.len();
    store.insert_loaded(older);
    Ok(n)
}

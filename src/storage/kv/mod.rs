//! [`Storage`] on a plain key-value store with string values and size limits: the WeChat
//! mini-program's `wx.setStorage` (1 MB per key, 10 MB in all), behind [`KvBackend`]. The
//! layout is pure; the JS binding (`JsKv`) is the shell's, in `web::storage`.
//!
//! # Layout
//!
//! Every key of a user starts with `imcore:{user_id}:`; after the prefix:
//!
//! * `root`: JSON of the index — every message chunk (id, conversation, lowest
//!   [`MessageKey`], newest weight, bytes, server-id range, local-id flags; ~80 bytes
//!   each, as arrays), the part ids of the four record blobs, and the next free id. It
//!   must fit one key: with wx's limits and 32 KB chunks it stays near 25 KB; with odd
//!   limits (total / min(32 KB, per-key) × 80 B above per-key) chunks are trimmed until
//!   it fits.
//! * `{id}` (decimal): a message chunk ([`StoredMessage`]s in key order, one JSON per
//!   line), or one part of a record blob (the conversation records, the outbox, the
//!   tombstones or the metadata, one JSON per line, cut into parts at the per-key limit).
//!
//! The root and the records are read once, on first use (and keys outside the root
//! removed: leftovers of an interrupted write); conversations, outbox, tombstones and
//! metadata are then answered from memory, and a page of messages reads the one or two
//! chunks it covers (the last 8 chunks read stay decoded in memory).
//!
//! # Chunks
//!
//! A conversation's chunks cover disjoint, ascending key ranges; a message goes into the
//! last chunk whose lowest key is not above its own. A changed chunk is repacked in key
//! order into chunks of at most min(32 KB, per-key limit) (key + value, UTF-8 bytes), all
//! full but the last (appending keeps filling the newest chunk) — or, for the first chunk
//! of a conversation with several, all full but the first (older pages keep filling it).
//! Chunks emptied by deletes go; small neighbours are not merged. Finding a message by id
//! reads only the chunks whose server-id range holds it (server ids grow with time, so a
//! new message usually reads none); by local id, only chunks with local ids.
//!
//! # Trimming
//!
//! When a batch would take this user's keys above the total budget (at any moment of the
//! write, see below), whole chunks are dropped, oldest first: the first chunk of a
//! conversation with the smallest newest weight, taken from conversations with more than
//! one chunk while there are any, so the newest messages of every conversation stay.
//! Conversation records, outbox, tombstones and metadata are never trimmed; a batch that
//! does not fit once every chunk is gone fails with [`StorageError::QuotaExceeded`] and
//! writes nothing. Trimmed history is gone locally only (the backend still has it). The
//! budget is the backend's `max_total_bytes`, lowered for the session when the backend
//! refuses a write below it (other data in the same store): the batch is then planned
//! again, once, within what this user held at that moment.
//!
//! # Atomicity
//!
//! Data keys are never overwritten: an apply writes changed chunks and blobs under new
//! ids, then the root (the commit point), then removes what the old root referenced and
//! the new one does not. A crash or failed write before the root leaves the old state
//! readable (the new keys are garbage, removed on the next load, or at once on a failed
//! write), except that chunks trimmed by that batch are removed *before* the writes (to
//! make room): the old root then finds them missing and reads them as empty, i.e. the
//! old state with some of its oldest history trimmed. Calls run one at a time, like
//! IndexedDB transactions: a read waits for the apply in flight.

mod layout;
mod memory;
// Native only: they run on MemoryKv and use proptest, which is not built for wasm32.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

pub use memory::MemoryKv;

use super::gate::{Gate, Pass};
use crate::collections::Gather;
use layout::{decode, encode, lines, pack, split, unlines, Chunk, Part, Records, Root, VERSION};

use super::{Page, Storage, StorageBatch, StorageError};
use crate::chat::store::{
    ConversationRecord, MessageKey, MessageRef, OutboxEntry, StoredMessage, Tombstone,
};
use crate::chat::{ConversationId, ServerId};

/// `wx`'s limit per key.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1_000_000;
/// `wx`'s limit in all.
pub const DEFAULT_MAX_TOTAL_BYTES: usize = 10_000_000;
/// Chunks and record parts are cut at this size (or the per-key limit if lower): a page
/// read or an appended message reads or rewrites this much, and the root lists
/// total / this many chunks.
const CHUNK_TARGET: usize = 32 * 1024;
const CACHED_CHUNKS: usize = 8;
const ROOT: &str = "root";

/// A key-value store of strings. Sizes are UTF-8 bytes of key + value.
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait KvBackend {
    async fn get(&self, key: &str) -> Result<Option<String>, StorageError>;
    async fn set(&self, key: &str, value: &str) -> Result<(), StorageError>;
    async fn remove(&self, key: &str) -> Result<(), StorageError>;
    /// Every key of the store (all users and other data included).
    async fn keys(&self) -> Result<Vec<String>, StorageError>;
    /// The most one key + value may take.
    fn max_value_bytes(&self) -> usize {
        DEFAULT_MAX_VALUE_BYTES
    }
    /// The most the whole store may take.
    fn max_total_bytes(&self) -> usize {
        DEFAULT_MAX_TOTAL_BYTES
    }
}

impl<T: KvBackend + ?Sized> KvBackend for &T {
    async fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        (**self).get(key).await
    }
    async fn set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        (**self).set(key, value).await
    }
    async fn remove(&self, key: &str) -> Result<(), StorageError> {
        (**self).remove(key).await
    }
    async fn keys(&self) -> Result<Vec<String>, StorageError> {
        (**self).keys().await
    }
    fn max_value_bytes(&self) -> usize {
        (**self).max_value_bytes()
    }
    fn max_total_bytes(&self) -> usize {
        (**self).max_total_bytes()
    }
}

/// The committed state, as the root describes it.
#[derive(Debug, Default)]
struct Loaded {
    root: Root,
    records: Records,
    root_bytes: usize,
    /// Bytes of the root and every key it references.
    total: usize,
}

impl Loaded {
    fn new(root: Root, records: Records, root_bytes: usize) -> Self {
        let total = root_bytes + root.data_bytes();
        Loaded {
            root,
            records,
            root_bytes,
            total,
        }
    }
}

/// Keys an apply writes and removes.
#[derive(Default)]
struct Draft {
    next: u64,
    /// New data keys and values, written before the root.
    writes: Vec<(String, String)>,
    /// Their messages, for the chunk cache.
    fresh: Vec<(u64, Rc<Vec<StoredMessage>>)>,
    /// Ids the new root no longer references, removed after it.
    after: Vec<u64>,
    /// Committed chunks trimmed, removed before the writes, and their bytes.
    early: Vec<u64>,
    early_bytes: usize,
    trimmed: u64,
}

/// A failed write, and how many bytes this user held when the backend said its quota
/// was exceeded.
type Failure = (StorageError, Option<usize>);

/// Chunks being changed by an apply: `(id, messages)`.
type Work = Vec<(u64, Vec<StoredMessage>)>;

/// [`Storage`] over a [`KvBackend`], under the key prefix of one user. See the module
/// documentation for the layout and its guarantees.
#[derive(Debug)]
pub struct KvStorage<B> {
    backend: B,
    prefix: String,
    state: RefCell<Option<Rc<Loaded>>>,
    /// Recently read chunks, most recent first.
    cache: RefCell<Vec<(u64, Rc<Vec<StoredMessage>>)>>,
    gate: Gate,
    budget: Cell<usize>,
    trimmed: Cell<u64>,
}

impl<B: KvBackend> KvStorage<B> {
    /// The storage of `user_id`: keys `imcore:{user_id}:…`. Nothing is read before the
    /// first call.
    pub fn new(backend: B, user_id: u64) -> Self {
        KvStorage {
            backend,
            prefix: format!("imcore:{user_id}:"),
            state: RefCell::default(),
            cache: RefCell::default(),
            gate: Gate::default(),
            budget: Cell::new(usize::MAX),
            trimmed: Cell::new(0),
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn into_backend(self) -> B {
        self.backend
    }

    /// Message chunks trimmed to stay within the budget so far.
    pub fn trimmed_chunks(&self) -> u64 {
        self.trimmed.get()
    }

    fn key(&self, id: u64) -> String {
        format!("{}{id}", self.prefix)
    }

    fn root_key(&self) -> String {
        format!("{}{ROOT}", self.prefix)
    }

    /// Waits for the calls before, then loads the state if not loaded yet.
    async fn enter(&self) -> Result<(Pass<'_>, Rc<Loaded>), StorageError> {
        let pass = self.gate.enter().await;
        let current = self.state.borrow().clone();
        let loaded = match current {
            Some(s) => s,
            None => {
                let s = Rc::new(self.load().await?);
                *self.state.borrow_mut() = Some(s.clone());
                s
            }
        };
        Ok((pass, loaded))
    }

    async fn load(&self) -> Result<Loaded, StorageError> {
        let root_key = self.root_key();
        let (root, root_bytes) = match self.backend.get(&root_key).await? {
            Some(text) => {
                let root: Root = decode(&text)?;
                if root.version != VERSION {
                    return Err(StorageError::Corrupt(format!(
                        "key-value layout version {}",
                        root.version
                    )));
                }
                (root, root_key.len() + text.len())
            }
            None => (Root::default(), 0),
        };
        let records = Records {
            conversations: self.read_blob(&root.conversations).await?,
            outbox: self.read_blob(&root.outbox).await?,
            tombstones: self.read_blob(&root.tombstones).await?,
            meta: self.read_blob(&root.meta).await?,
        };
        let live: Vec<u64> = root.ids().gather();
        for key in self.backend.keys().await? {
            let Some(rest) = key.strip_prefix(&self.prefix) else {
                continue;
            };
            if rest != ROOT && !rest.parse().is_ok_and(|id| live.contains(&id)) {
                self.backend.remove(&key).await?;
            }
        }
        Ok(Loaded::new(root, records, root_bytes))
    }

    async fn read_blob<T: crate::json::FromJson>(
        &self,
        parts: &[Part],
    ) -> Result<Vec<T>, StorageError> {
        let mut text = String::new();
        for (id, _) in parts {
            let piece = self.backend.get(&self.key(*id)).await?;
            let piece =
                piece.ok_or_else(|| StorageError::Corrupt(format!("record part {id} missing")))?;
            text.push_str(&piece);
        }
        unlines(&text)
    }

    /// The messages of a chunk; a missing chunk (trimmed by an interrupted write) is empty.
    async fn chunk(&self, id: u64) -> Result<Rc<Vec<StoredMessage>>, StorageError> {
        let hit = {
            let cache = self.cache.borrow();
            cache.iter().find(|(i, _)| *i == id).map(|(_, m)| m.clone())
        };
        let messages = match hit {
            Some(m) => m,
            None => match self.backend.get(&self.key(id)).await? {
                Some(text) => Rc::new(unlines(&text)?),
                None => Rc::default(),
            },
        };
        self.remember(id, messages.clone());
        Ok(messages)
    }

    fn remember(&self, id: u64, messages: Rc<Vec<StoredMessage>>) {
        let mut cache = self.cache.borrow_mut();
        cache.retain(|(i, _)| *i != id);
        cache.insert(0, (id, messages));
        cache.truncate(CACHED_CHUNKS);
    }

    /// A chunk's messages to change, read on first use.
    async fn working<'w>(
        &self,
        work: &'w mut Work,
        id: u64,
    ) -> Result<&'w mut Vec<StoredMessage>, StorageError> {
        if !work.iter().any(|(i, _)| *i == id) {
            let read = self.chunk(id).await?;
            work.push((id, (*read).clone()));
        }
        work.iter_mut()
            .find(|(i, _)| *i == id)
            .map(|(_, m)| m)
            .ok_or_else(|| StorageError::Corrupt(format!("chunk {id} not loaded")))
    }

    /// Replaces a record blob with new parts (none when empty).
    fn rewrite(
        &self,
        text: String,
        parts: &mut Vec<Part>,
        d: &mut Draft,
    ) -> Result<(), StorageError> {
        let max = self.backend.max_value_bytes().min(CHUNK_TARGET);
        parts.iter().map(|p| p.0).gather_into(&mut d.after);
        parts.clear();
        for piece in split(&text, max.saturating_sub(self.prefix.len() + 20))? {
            let id = d.next;
            d.next += 1;
            let key = self.key(id);
            parts.push((id, key.len() + piece.len()));
            d.writes.push((key, piece.to_string()));
        }
        Ok(())
    }

    /// The new state after `batch`, trimmed to `budget`, and the writes that get there.
    async fn plan(
        &self,
        old: &Loaded,
        batch: &StorageBatch,
        budget: usize,
    ) -> Result<(Loaded, String, Draft), StorageError> {
        let limit = self.backend.max_value_bytes();
        let target = limit.min(CHUNK_TARGET);
        let s = &batch.store;
        let mut root = old.root.clone();
        let first_fresh = root.next;
        let mut d = Draft {
            next: root.next,
            ..Draft::default()
        };

        // Take out every message the batch deletes or replaces, then insert the puts.
        let mut work = Work::new();
        let mut dirty = Vec::new();
        // By reference: a delete takes out its message wherever it is, as a put does.
        let deleted = s.delete_messages.keys().map(|(cid, key)| (cid, &key.id));
        for (cid, id) in deleted.chain(s.put_messages.keys().map(|(cid, id)| (cid, id))) {
            for c in old.root.of(*cid) {
                if c.may_hold(id) {
                    let messages = self.working(&mut work, c.id).await?;
                    let before = messages.len();
                    messages.retain(|m| m.key.id != *id);
                    if messages.len() != before && !dirty.contains(&c.id) {
                        dirty.push(c.id);
                    }
                }
            }
        }
        for m in s.put_messages.values() {
            let range = root.range(m.conversation_id);
            let list = root.chunks.get(range.clone()).unwrap_or(&[]);
            let id = match list.iter().rev().find(|c| c.lo <= m.key).or(list.first()) {
                Some(c) => c.id,
                None => {
                    let id = d.next;
                    d.next += 1;
                    root.chunks.insert(range.start, Chunk::placeholder(id, m));
                    work.push((id, Vec::new()));
                    id
                }
            };
            let messages = self.working(&mut work, id).await?;
            let at = messages.partition_point(|x| x.key < m.key);
            messages.insert(at, m.clone());
            if !dirty.contains(&id) {
                dirty.push(id);
            }
        }
        let key_len = self.prefix.len() + 20;
        let mut chunks = Vec::with_capacity(root.chunks.len() + 1);
        let mut previous = None;
        let mut old_chunks = std::mem::take(&mut root.chunks).into_iter().peekable();
        while let Some(c) = old_chunks.next() {
            let first = previous != Some(c.conversation);
            previous = Some(c.conversation);
            if !dirty.contains(&c.id) {
                chunks.push(c);
                continue;
            }
            if c.id < first_fresh {
                d.after.push(c.id);
            }
            let more = old_chunks
                .peek()
                .is_some_and(|n| n.conversation == c.conversation);
            let at = work.iter().position(|(i, _)| *i == c.id);
            let messages = at.map(|at| work.swap_remove(at).1).unwrap_or_default();
            let next = &mut d.next;
            let ids = || {
                let id = *next;
                *next += 1;
                (id, self.key(id).len())
            };
            let sizes = (target, limit, key_len);
            for (chunk, text, messages) in pack(messages, first && more, sizes, ids)? {
                d.writes.push((self.key(chunk.id), text));
                d.fresh.push((chunk.id, messages));
                chunks.push(chunk);
            }
        }
        root.chunks = chunks;

        let mut r = old.records.clone();
        if !s.delete_conversations.is_empty() || !s.put_conversations.is_empty() {
            r.conversations.retain(|c| {
                !s.delete_conversations.contains_key(&c.id)
                    && !s.put_conversations.contains_key(&c.id)
            });
            s.put_conversations
                .values()
                .cloned()
                .gather_into(&mut r.conversations);
            self.rewrite(lines(&r.conversations)?, &mut root.conversations, &mut d)?;
        }
        if !s.delete_outbox.is_empty() || !s.put_outbox.is_empty() {
            r.outbox.retain(|e| {
                !s.delete_outbox.contains_key(&e.local_id)
                    && !s.put_outbox.contains_key(&e.local_id)
            });
            s.put_outbox.values().cloned().gather_into(&mut r.outbox);
            self.rewrite(lines(&r.outbox)?, &mut root.outbox, &mut d)?;
        }
        if !s.put_tombstones.is_empty() {
            r.tombstones
                .retain(|(id, _)| !s.put_tombstones.contains_key(id));
            s.put_tombstones
                .iter()
                .map(|(k, v)| (*k, *v))
                .gather_into(&mut r.tombstones);
            self.rewrite(lines(&r.tombstones)?, &mut root.tombstones, &mut d)?;
        }
        if !batch.put_meta.is_empty() {
            for (k, v) in &batch.put_meta {
                r.meta.retain(|(old, _)| old != k);
                r.meta.push((k.clone(), v.clone()));
            }
            self.rewrite(lines(&r.meta)?, &mut root.meta, &mut d)?;
        }

        // Trim until the write fits at its peak: the old keys (less the trimmed ones), the
        // new ones, and the root's growth.
        let root_key_len = self.root_key().len();
        root.version = VERSION;
        loop {
            root.next = d.next;
            let root_text = encode(&root)?;
            let root_bytes = root_key_len + root_text.len();
            let written: usize = d.writes.iter().map(|(k, v)| k.len() + v.len()).sum();
            let peak = old.total.saturating_sub(d.early_bytes)
                + written
                + root_bytes.saturating_sub(old.root_bytes);
            if peak <= budget && root_bytes <= limit {
                return Ok((Loaded::new(root, r, root_bytes), root_text, d));
            }
            let mut excess = peak.saturating_sub(budget).max(1);
            while excess > 0 {
                let Some(victim) = take_oldest(&mut root.chunks) else {
                    return Err(StorageError::QuotaExceeded(format!(
                        "{peak} bytes needed, {budget} available, index {root_bytes} bytes"
                    )));
                };
                excess = excess.saturating_sub(victim.bytes);
                d.trimmed += 1;
                if victim.id >= first_fresh {
                    let key = self.key(victim.id);
                    d.writes.retain(|(k, _)| *k != key);
                    d.fresh.retain(|(id, _)| *id != victim.id);
                } else {
                    d.early.push(victim.id);
                    d.early_bytes += victim.bytes;
                }
            }
        }
    }

    /// Removes the trimmed chunks, writes the new keys, then the root; on success swaps
    /// the state in and removes the superseded keys.
    async fn commit(
        &self,
        old: &Loaded,
        next: Loaded,
        root_text: String,
        d: Draft,
    ) -> Result<(), Failure> {
        for id in &d.early {
            self.backend
                .remove(&self.key(*id))
                .await
                .map_err(|e| (e, None))?;
        }
        let mut usage = old.total.saturating_sub(d.early_bytes);
        let mut written = 0;
        let mut failed = None;
        for (k, v) in &d.writes {
            if let Err(e) = self.backend.set(k, v).await {
                failed = Some(e);
                break;
            }
            usage += k.len() + v.len();
            written += 1;
        }
        if failed.is_none() {
            failed = self.backend.set(&self.root_key(), &root_text).await.err();
        }
        if let Some(e) = failed {
            for (k, _) in d.writes.iter().take(written) {
                let _ = self.backend.remove(k).await;
            }
            let quota = matches!(e, StorageError::QuotaExceeded(_));
            return Err((e, quota.then_some(usage)));
        }
        self.trimmed.set(self.trimmed.get() + d.trimmed);
        for (id, messages) in d.fresh {
            self.remember(id, messages);
        }
        *self.state.borrow_mut() = Some(Rc::new(next));
        for id in d.after {
            // A failure leaves garbage that the next load removes.
            let _ = self.backend.remove(&self.key(id)).await;
        }
        Ok(())
    }
}

/// Takes the chunk to trim: the oldest first chunk of a conversation, from conversations
/// with more than one chunk while there are any.
fn take_oldest(chunks: &mut Vec<Chunk>) -> Option<Chunk> {
    let mut best: Option<((bool, u64), usize)> = None;
    let mut previous = None;
    for (i, c) in chunks.iter().enumerate() {
        if previous == Some(c.conversation) {
            continue;
        }
        previous = Some(c.conversation);
        let alone = chunks
            .get(i + 1)
            .is_none_or(|n| n.conversation != c.conversation);
        let rank = (alone, c.newest);
        if best.is_none_or(|(b, _)| rank < b) {
            best = Some((rank, i));
        }
    }
    let (_, at) = best?;
    Some(chunks.remove(at))
}

impl<B: KvBackend> Storage for KvStorage<B> {
    async fn apply(&self, batch: StorageBatch) -> Result<(), StorageError> {
        if batch.is_empty() {
            return Ok(());
        }
        let (_pass, old) = self.enter().await?;
        let mut budget = self.budget.get().min(self.backend.max_total_bytes());
        let mut retried = false;
        loop {
            let (next, root_text, draft) = self.plan(&old, &batch, budget).await?;
            match self.commit(&old, next, root_text, draft).await {
                Err((StorageError::QuotaExceeded(_), Some(usage)))
                    if !retried && usage < budget =>
                {
                    retried = true;
                    budget = usage;
                    self.budget.set(usage);
                }
                result => return result.map_err(|(e, _)| e),
            }
        }
    }

    async fn conversations(&self) -> Result<Vec<ConversationRecord>, StorageError> {
        let (_pass, st) = self.enter().await?;
        Ok(st.records.conversations.clone())
    }

    async fn messages(
        &self,
        conversation: ConversationId,
        page: Page,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StorageError> {
        let (_pass, st) = self.enter().await?;
        let list = st.root.of(conversation);
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        if let Page::After(k) = &page {
            let start = list.partition_point(|c| c.lo <= *k).saturating_sub(1);
            for c in list.iter().skip(start) {
                let messages = self.chunk(c.id).await?;
                let room = limit.saturating_sub(out.len());
                messages
                    .iter()
                    .filter(|m| m.key > *k)
                    .take(room)
                    .cloned()
                    .gather_into(&mut out);
                if out.len() >= limit {
                    break;
                }
            }
            return Ok(out);
        }
        let bound: Option<&MessageKey> = match &page {
            Page::Before(k) => Some(k),
            _ => None,
        };
        let end = bound.map_or(list.len(), |k| list.partition_point(|c| c.lo < *k));
        for c in list.iter().take(end).rev() {
            let messages = self.chunk(c.id).await?;
            let room = limit.saturating_sub(out.len());
            let older = messages.iter().rev();
            older
                .filter(|m| bound.is_none_or(|k| m.key < *k))
                .take(room)
                .cloned()
                .gather_into(&mut out);
            if out.len() >= limit {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    async fn message_by_server_id(
        &self,
        id: ServerId,
    ) -> Result<Option<StoredMessage>, StorageError> {
        let (_pass, st) = self.enter().await?;
        let id_ref = MessageRef::Server(id);
        for c in st.root.chunks.iter().filter(|c| c.may_hold(&id_ref)) {
            let messages = self.chunk(c.id).await?;
            if let Some(m) = messages.iter().find(|m| m.key.id == id_ref) {
                return Ok(Some(m.clone()));
            }
        }
        Ok(None)
    }

    async fn message_by_local_id(
        &self,
        local_id: &str,
    ) -> Result<Option<StoredMessage>, StorageError> {
        let (_pass, st) = self.enter().await?;
        for c in st.root.chunks.iter().filter(|c| c.local) {
            let messages = self.chunk(c.id).await?;
            let local = |m: &&StoredMessage| m.local_id.as_deref() == Some(local_id);
            if let Some(m) = messages.iter().find(local) {
                return Ok(Some(m.clone()));
            }
        }
        Ok(None)
    }

    async fn outbox(&self) -> Result<Vec<OutboxEntry>, StorageError> {
        let (_pass, st) = self.enter().await?;
        // Oldest first; an insertion sort (the outbox is short) keeps the wasm smaller.
        let mut out: Vec<OutboxEntry> = Vec::with_capacity(st.records.outbox.len());
        for e in &st.records.outbox {
            let at = out.partition_point(|x| (x.weight, &x.local_id) <= (e.weight, &e.local_id));
            out.insert(at, e.clone());
        }
        Ok(out)
    }

    async fn tombstones(&self) -> Result<Vec<(ServerId, Tombstone)>, StorageError> {
        let (_pass, st) = self.enter().await?;
        Ok(st.records.tombstones.clone())
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StorageError> {
        let (_pass, st) = self.enter().await?;
        let found = st.records.meta.iter().find(|(k, _)| k == key);
        Ok(found.map(|(_, v)| v.clone()))
    }

    /// Removes every key of this user (the root first), nothing else.
    async fn wipe(&self) -> Result<(), StorageError> {
        let _pass = self.gate.enter().await;
        *self.state.borrow_mut() = None;
        self.cache.borrow_mut().clear();
        self.backend.remove(&self.root_key()).await?;
        for key in self.backend.keys().await? {
            if key.starts_with(&self.prefix) {
                self.backend.remove(&key).await?;
            }
        }
        *self.state.borrow_mut() = Some(Rc::default());
        Ok(())
    }
}

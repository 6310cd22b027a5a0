//! [`Storage`] on IndexedDB (wasm32 only): one database per user, `imcore-{user_id}`.
//!
//! # Schema ([`SchemaVersion::V5`])
//!
//! | store | key | indexes |
//! | --- | --- | --- |
//! | `blocks` | `pk` = `[conversation, order key of lo]` | `server_id` on `sid`, `local_id` on `lid` (both multi-entry) |
//! | `conversation_records` | the conversation id string (out-of-line) | |
//! | `outbox` | `local_id` | `weight`; `conversation` (V2) |
//! | `tombstones` | `server_id` | |
//! | `meta` | `key` | |
//!
//! * **Messages in blocks** of up to 64 of one conversation ([`crate::storage::blocks`]:
//!   the rules, pure and tested natively). IndexedDB costs about the same per record,
//!   whatever its size: a 10,000-message backlog is some 160 puts instead of 10,000. A
//!   block's key is its conversation and the order key of its lowest key (`lo`): weight and
//!   sender as 20-digit zero-padded decimals (string order == numeric order over all of
//!   `u64`; a JS number is exact only to 2^53), then `"s"` + 20 digits of the server id or
//!   `"t"` + the local id, so the blocks of a conversation sort as their
//!   [`MessageKey`](crate::chat::store::MessageKey)s. `sid` and `lid` list the ids of its
//!   messages, so a lookup by id is one index `get`.
//! * **Pages** walk the conversation's blocks with a value cursor (`[c]` .. `[c, []]`: an
//!   array sorts after every string), newest first for the newest page and `Before`, one
//!   event per block, until the page is full: a first page of 50 is one or two blocks.
//! * **Writes.** [`Storage::apply`] is one `readwrite` transaction: the blocks the batch
//!   changes are read inside it (all at once), changed and written back with the other
//!   stores' requests, none awaited one by one; then `commit()` and wait for `complete`.
//!   Which blocks those are comes from the directory of every block's `lo`, read by the
//!   first apply (`getAllKeys`) and kept in memory after it, applies running one at a
//!   time. Each apply with messages writes a new random `blocks_generation` into `meta`
//!   and reads it along with the blocks: when it is not the one this connection wrote
//!   last, another connection wrote blocks (two tabs of a user write one after the other
//!   when the leader changes), and the directory is read again. An apply that fails drops
//!   it too. An abort reports the transaction's DOMException (`QuotaExceededError` →
//!   [`StorageError::QuotaExceeded`], others → [`StorageError::Operation`] with its name
//!   and message).
//! * **Block records** are packed bytes ([`crate::storage::packed::pack_block`], V5), a
//!   name or avatar equal to the message before's written as one byte: a write makes no
//!   JSON and hands IndexedDB a byte array to copy instead of a long string, and a page
//!   read parses no JSON. A block written before V5 keeps its JSON text until it is
//!   next written; reads take either form.
//! * **Conversation records** are packed bytes ([`crate::storage::packed`], V4; JSON
//!   texts in V3) alone, under their id: start-up's `getAll` returns `Uint8Array`s, which
//!   JS joins into one, so a thousand records cross into wasm as one copy and decode
//!   without a JSON parse (that parse and the string's crossing were half the time from
//!   `ChatClient.create` to the list).
//! * **Values** of the outbox, tombstones and meta (and of blocks before V5). Each object
//!   holds the plain fields above (only what key paths read) and `record`, the Rust record
//!   as a JSON string (`crate::json`, which reads and writes the text serde_json did). It
//!   is lossless (`u64` ids are JSON integers parsed in Rust, never by JS) and fast: a
//!   record crosses the JS boundary as one string, where serde-wasm-bindgen would make a
//!   JS call per field and need BigInts for exact 64-bit ids.
//! * **Start-up reads no message.** A conversation record carries its newest message
//!   ([`Newest`](crate::chat::store::Newest)), kept current by the store, so the list
//!   comes from the `conversation_records` store alone, however long the history. This
//!   needed no schema step: records written before it carry no `newest` (read as
//!   unknown), and start-up reads those conversations' newest message once and writes
//!   their records with it, the migration happening record by record.
//! * **Versions.** See [`SchemaVersion`]: each step adds, migrates data, deletes, inside the
//!   upgrade transaction. When another tab opens a newer version, this connection gets
//!   `versionchange`, closes itself (so the other tab is not blocked), and calls the
//!   [`IndexedDbStorage::on_version_change`] callback; later calls fail with
//!   [`StorageError::VersionChange`]. An open that another tab blocks resolves with
//!   [`StorageError::Blocked`] instead of waiting.
//!
//! # Why web-sys and not indexed_db_futures
//!
//! This backend talks to web-sys directly through a few small futures (`request`),
//! because indexed_db_futures 0.6 cannot do three things it needs: hand out the
//! `versionchange` transaction inside `upgradeneeded` (so a data migration could not run
//! atomically with its schema change), resolve an open on `blocked` and then abort the
//! abandoned upgrade, and listen to `versionchange` without its `version-change` feature
//! (which pulls in tokio's macros). Writing values as JSON strings and packed bytes, it
//! needs no serde bridge either; a put costs no closure or channel.

mod codec;
mod open;
mod request;
mod schema;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};

use js_sys::Array;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    IdbCursorDirection, IdbCursorWithValue, IdbDatabase, IdbIndex, IdbKeyRange, IdbObjectStore,
    IdbTransaction, IdbTransactionMode,
};
use IdbCursorDirection::{Next, Prev};

pub use schema::SchemaVersion;

use codec::Names;
use request::{issued, js_error, request, CursorWalk, RequestFuture, Step, TransactionDone};
use schema::current;

use crate::chat::store::{
    ConversationRecord, MessageKey, OutboxEntry, PersistBatch, StoredMessage, Tombstone,
};
use crate::chat::{ConversationId, ServerId};
use crate::collections::Gather;
use crate::storage::blocks::{self, Directory};
use crate::storage::gate::Gate;
use crate::storage::{meta, Page, StartupRecords, Storage, StorageBatch, StorageError};

/// The database of a user: `imcore-{user_id}`.
pub fn database_name(user_id: u64) -> String {
    format!("imcore-{user_id}")
}

/// [`Storage`] on an IndexedDB connection. See the module documentation for the schema.
///
/// Single-threaded (wasm): the connection sits behind interior mutability, calls may
/// overlap, and IndexedDB commits `readwrite` transactions in the order they were created,
/// which is the order of the [`Storage::apply`] calls.
pub struct IndexedDbStorage {
    inner: Rc<Inner>,
}

enum Conn {
    Open(IdbDatabase),
    Closed,
    VersionChanged,
}

struct Inner {
    name: String,
    version: SchemaVersion,
    conn: RefCell<Conn>,
    on_version_change: RefCell<Option<Rc<dyn Fn()>>>,
    /// The `versionchange` listener, owned here and unregistered when the connection
    /// closes.
    listener: RefCell<Option<Closure<dyn FnMut()>>>,
    names: Rc<Names>,
    /// Every block's `(conversation, lo)` and the generation of the blocks it describes,
    /// read by the first apply and kept by each after it; read again when the stored
    /// generation differs (another connection wrote) or an apply failed.
    directory: RefCell<Option<(u64, Directory)>>,
    /// Applies run one at a time: each plans its blocks on what the one before left.
    gate: Gate,
    /// The block the last page ended in ([`PageTail`]), while nothing was written since.
    page_tail: RefCell<Option<Rc<PageTail>>>,
    /// Write transactions started: a page read kept as [`PageTail`] only when none started
    /// while it was read (a read issued before a write sees what was there before it).
    writes: Cell<u64>,
}

impl Inner {
    fn db(&self) -> Result<IdbDatabase, StorageError> {
        match &*self.conn.borrow() {
            Conn::Open(db) => Ok(db.clone()),
            Conn::Closed => Err(StorageError::Closed),
            Conn::VersionChanged => Err(StorageError::VersionChange),
        }
    }

    /// Leaves the `Open` state for `to`; returns the connection if it was open.
    fn take_connection(&self, to: Conn) -> Option<IdbDatabase> {
        let mut conn = self.conn.borrow_mut();
        if !matches!(*conn, Conn::Open(_)) {
            return None;
        }
        match std::mem::replace(&mut *conn, to) {
            Conn::Open(db) => Some(db),
            _ => None,
        }
    }

    /// Another connection wants a newer version (or to delete the database): step aside.
    fn version_changed(&self) {
        if let Some(db) = self.take_connection(Conn::VersionChanged) {
            db.set_onversionchange(None);
            db.close();
        }
        let callback = self.on_version_change.borrow().clone();
        if let Some(f) = callback {
            f();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Conn::Open(db) = &*self.conn.borrow() {
            db.set_onversionchange(None);
            db.close();
        }
    }
}

impl fmt::Debug for IndexedDbStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &*self.inner.conn.borrow() {
            Conn::Open(_) => "open",
            Conn::Closed => "closed",
            Conn::VersionChanged => "closed by a version change",
        };
        f.debug_struct("IndexedDbStorage")
            .field("name", &self.inner.name)
            .field("version", &self.inner.version)
            .field("state", &state)
            .finish()
    }
}

impl IndexedDbStorage {
    /// Opens (creating or upgrading) the database of `user_id` at the latest schema.
    ///
    /// Errors: [`StorageError::Unavailable`] without a usable IndexedDB (private mode, a
    /// WebView without it, a failed open); [`StorageError::Blocked`] when another tab holds
    /// an older version open and does not close it; [`StorageError::Operation`] for a
    /// failed migration or a database newer than this code (`VersionError`).
    pub async fn open(user_id: u64) -> Result<Self, StorageError> {
        Self::open_at(user_id, SchemaVersion::LATEST).await
    }

    /// Opens the database of `user_id` at `version`: tests create old versions this way.
    /// Only with `test-support`: the writes of a version before the latest are compiled
    /// only there, so a shipped build never writes a layout that older code would misread.
    #[cfg(feature = "test-support")]
    pub async fn open_version(user_id: u64, version: SchemaVersion) -> Result<Self, StorageError> {
        Self::open_at(user_id, version).await
    }

    async fn open_at(user_id: u64, version: SchemaVersion) -> Result<Self, StorageError> {
        let name = database_name(user_id);
        let db = open::open(&name, version).await?;
        let inner = Rc::new(Inner {
            name,
            version,
            conn: RefCell::new(Conn::Open(db.clone())),
            on_version_change: RefCell::new(None),
            listener: RefCell::new(None),
            names: Rc::new(Names::new()),
            directory: RefCell::new(None),
            gate: Gate::default(),
            page_tail: RefCell::new(None),
            writes: Cell::new(0),
        });
        let weak: Weak<Inner> = Rc::downgrade(&inner);
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.version_changed();
            }
        });
        db.set_onversionchange(Some(listener.as_ref().unchecked_ref()));
        *inner.listener.borrow_mut() = Some(listener);
        Ok(IndexedDbStorage { inner })
    }

    /// Deletes the database of `user_id`. [`StorageError::Blocked`] if a connection of
    /// another tab stays open (the deletion then completes once it closes); connections
    /// of this crate close themselves when asked.
    pub async fn delete_database(user_id: u64) -> Result<(), StorageError> {
        open::delete(&database_name(user_id)).await
    }

    /// Closes the connection; later calls fail with [`StorageError::Closed`]. Transactions
    /// already started still complete.
    pub fn close(&self) {
        if let Some(db) = self.inner.take_connection(Conn::Closed) {
            db.set_onversionchange(None);
            db.close();
        }
    }

    /// `f` runs after this connection closed itself because another tab opened a newer
    /// version of the database (or deleted it); from then on calls fail with
    /// [`StorageError::VersionChange`]. Replaces an earlier callback; runs at once if
    /// that already happened.
    pub fn on_version_change(&self, f: impl Fn() + 'static) {
        let f: Rc<dyn Fn()> = Rc::new(f);
        *self.inner.on_version_change.borrow_mut() = Some(f.clone());
        let already = matches!(*self.inner.conn.borrow(), Conn::VersionChanged);
        if already {
            f();
        }
    }

    /// The schema version of this connection.
    pub fn version(&self) -> SchemaVersion {
        self.inner.version
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether calls can still succeed (not closed, not version-changed).
    pub fn is_open(&self) -> bool {
        matches!(*self.inner.conn.borrow(), Conn::Open(_))
    }

    /// The outbox entries of one conversation, oldest first: through the V2 index
    /// `conversation` (so it also shows that the 1 → 2 migration filled it), or by
    /// filtering the whole outbox on a V1 connection.
    pub async fn outbox_of(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<OutboxEntry>, StorageError> {
        if self.inner.version < SchemaVersion::V2 {
            let mut all = self.outbox().await?;
            all.retain(|e| e.conversation_id == conversation);
            return Ok(all);
        }
        let index = self.index(current::OUTBOX, current::OUTBOX_CONVERSATION)?;
        let key = JsValue::from_str(&conversation.to_string());
        let all = request(get_all(&index, &key, 0)).await?;
        let entries: Vec<OutboxEntry> = codec::decode_all(&self.inner.names, &all)?;
        Ok(crate::storage::outbox_order(entries))
    }

    fn transaction(
        &self,
        stores: &[&str],
        mode: IdbTransactionMode,
    ) -> Result<IdbTransaction, StorageError> {
        let db = self.inner.db()?;
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        db.transaction_with_str_sequence_and_mode(&names, mode)
            .map_err(|e| js_error(&e))
    }

    fn read(&self, store: &str) -> Result<web_sys::IdbObjectStore, StorageError> {
        self.transaction(&[store], IdbTransactionMode::Readonly)?
            .object_store(store)
            .map_err(|e| js_error(&e))
    }

    fn index(&self, store: &str, index: &str) -> Result<IdbIndex, StorageError> {
        self.read(store)?.index(index).map_err(|e| js_error(&e))
    }

    /// Issues the block writes of `batch`'s messages on `tx`: reads the directory if not
    /// held, then the blocks the batch changes (all at once), then deletes and puts the
    /// blocks [`blocks::write`] makes of them. Awaits inside `tx`, which stays active: each
    /// read resolves in a microtask of its success event.
    async fn write_messages(
        &self,
        tx: &IdbTransaction,
        s: &PersistBatch,
    ) -> Result<(), StorageError> {
        if s.put_messages.is_empty() && s.delete_messages.is_empty() {
            return Ok(());
        }
        #[cfg(feature = "test-support")]
        if self.inner.version < SchemaVersion::V3 {
            return write_v2_messages(tx, &self.inner.names, s);
        }
        let n = &self.inner.names;
        let store = tx.object_store(current::BLOCKS).map_err(|e| js_error(&e))?;
        let meta_store = tx.object_store(current::META).map_err(|e| js_error(&e))?;
        let generation_key = JsValue::from_str(schema::BLOCKS_GENERATION);
        let generation = meta_store
            .get(&generation_key)
            .map(RequestFuture::new)
            .map_err(|e| js_error(&e))?;
        // The blocks the held directory names are read along with the generation: when it
        // is still the stored one (the usual case), one round trip.
        let held = self.inner.directory.borrow().as_ref().map(|(g, _)| *g);
        let mut reads = self.read_blocks(&store, s)?;
        let stored = codec::decode_meta(n, &generation.await?)?
            .and_then(|g| g.parse::<u64>().ok())
            .unwrap_or(0);
        if held != Some(stored) {
            drop(reads);
            let keys = request(store.get_all_keys()).await?;
            *self.inner.directory.borrow_mut() = Some((stored, codec::directory(&keys)?));
            reads = self.read_blocks(&store, s)?;
        }
        let mut read = Vec::with_capacity(reads.len());
        for pending in reads {
            let found = pending.await?;
            read.push(if found.is_undefined() {
                Vec::new()
            } else {
                codec::decode_block(n, &found)?
            });
        }
        // Random, not a count: a count restarts when `wipe` clears `meta`, and a directory
        // held from before could then match a count reached again.
        let next = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64 | 1;
        let writes = {
            let mut held = self.inner.directory.borrow_mut();
            let (generation, dir) = held.get_or_insert_with(|| (stored, Directory::default()));
            *generation = next;
            blocks::write(dir, s, read)
        };
        for (c, lo) in &writes.delete {
            issued(store.delete(&codec::block_pk(*c, lo)))?;
        }
        for b in &writes.put {
            #[cfg(feature = "test-support")]
            if self.inner.version < SchemaVersion::V5 {
                issued(store.put(&codec::encode_block_text(n, b)?))?;
                continue;
            }
            issued(store.put(&codec::encode_block(n, b)?))?;
        }
        let entry = codec::encode_meta(n, schema::BLOCKS_GENERATION, &next.to_string())?;
        issued(meta_store.put(&entry))
    }

    /// A write transaction was just created: pages read from now on come after it; what
    /// was read before may be gone.
    fn written(&self) {
        self.inner
            .writes
            .set(self.inner.writes.get().wrapping_add(1));
        self.inner.page_tail.borrow_mut().take();
    }

    /// Keeps the oldest of `blocks` (read newest first, from when `writes` were started)
    /// as the [`PageTail`], if no write started since.
    fn keep_tail(&self, conversation: ConversationId, writes: u64, blocks: &[Read]) {
        if self.inner.writes.get() != writes {
            return;
        }
        if let Some((lo, messages)) = blocks.last() {
            *self.inner.page_tail.borrow_mut() = Some(Rc::new(PageTail {
                conversation,
                lo: lo.clone(),
                messages: messages.clone(),
            }));
        }
    }

    /// Issues a `get` of each block the held directory says `s` changes (none without
    /// one), in the order [`blocks::touched`] names them.
    fn read_blocks(
        &self,
        store: &IdbObjectStore,
        s: &PersistBatch,
    ) -> Result<Vec<RequestFuture>, StorageError> {
        let wanted = match &*self.inner.directory.borrow() {
            Some((_, dir)) => blocks::touched(dir, s),
            None => Vec::new(),
        };
        let mut reads = Vec::with_capacity(wanted.len());
        for (c, lo) in wanted {
            let req = store
                .get(&codec::block_pk(c, &lo))
                .map_err(|e| js_error(&e))?;
            reads.push(RequestFuture::new(req));
        }
        Ok(reads)
    }

    /// Issues the requests of `batch` but its messages on `tx`: deletes first, then puts.
    fn write(&self, tx: &IdbTransaction, batch: &StorageBatch) -> Result<(), StorageError> {
        let n = &self.inner.names;
        let s = &batch.store;
        let store = |name: &str| tx.object_store(name).map_err(|e| js_error(&e));
        let key = |k: String| JsValue::from_str(&k);

        if !s.delete_conversations.is_empty() || !s.put_conversations.is_empty() {
            let conversations = store(self.conversation_store())?;
            for cid in s.delete_conversations.keys() {
                issued(conversations.delete(&key(cid.to_string())))?;
            }
            for c in s.put_conversations.values() {
                #[cfg(feature = "test-support")]
                if self.inner.version < SchemaVersion::V3 {
                    issued(conversations.put(&codec::encode_conversation(n, c)?))?;
                    continue;
                }
                let id = key(c.id.to_string());
                #[cfg(feature = "test-support")]
                if self.inner.version < SchemaVersion::V4 {
                    let text = JsValue::from_str(&crate::json::to_string(c));
                    issued(conversations.put_with_key(&text, &id))?;
                    continue;
                }
                issued(conversations.put_with_key(&codec::packed_conversation(c), &id))?;
            }
        }
        if !s.delete_outbox.is_empty() || !s.put_outbox.is_empty() {
            let outbox = store(current::OUTBOX)?;
            for local in s.delete_outbox.keys() {
                issued(outbox.delete(&JsValue::from_str(local)))?;
            }
            for e in s.put_outbox.values() {
                issued(outbox.put(&codec::encode_outbox(n, e, self.inner.version)?))?;
            }
        }
        if !s.put_tombstones.is_empty() {
            let tombstones = store(current::TOMBSTONES)?;
            for (id, t) in &s.put_tombstones {
                issued(tombstones.put(&codec::encode_tombstone(n, *id, *t)?))?;
            }
        }
        if !batch.put_meta.is_empty() {
            let meta_store = store(current::META)?;
            for (k, v) in &batch.put_meta {
                issued(meta_store.put(&codec::encode_meta(n, k, v)?))?;
            }
        }
        Ok(())
    }

    /// Runs `issue` in one `readwrite` transaction over `stores`, commits, and waits for
    /// the outcome.
    async fn write_transaction(
        &self,
        stores: &[&str],
        issue: impl FnOnce(&IdbTransaction) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let tx = self.transaction(stores, IdbTransactionMode::Readwrite)?;
        self.written();
        let done = TransactionDone::new(&tx);
        let issued = issue(&tx);
        finish(&tx, done, issued).await
    }
}

/// Commits `tx` once every request is issued (`issued` is `Ok`), or aborts it; then waits
/// for the outcome.
async fn finish(
    tx: &IdbTransaction,
    done: TransactionDone,
    issued: Result<(), StorageError>,
) -> Result<(), StorageError> {
    match issued {
        Ok(()) => {
            done.commit();
            done.await
        }
        Err(e) => {
            let _ = tx.abort();
            Err(e)
        }
    }
}

/// `index.getAll(query, count)`, the one form of an index's `getAll` used here (each web-sys
/// method is an import and a JS shim of its own): `count` 0 is no limit, an undefined
/// `query` every record.
fn get_all(index: &IdbIndex, query: &JsValue, count: u32) -> Result<web_sys::IdbRequest, JsValue> {
    index.get_all_with_key_and_limit(query, count)
}

/// The block keys just below and above every block of conversation `c`: `[c]` and
/// `[c, []]` (an array sorts after every string).
fn conversation_bounds(c: &str) -> (JsValue, JsValue) {
    let c = JsValue::from_str(c);
    (Array::of1(&c).into(), Array::of2(&c, &Array::new()).into())
}

fn bound(
    lower: &JsValue,
    upper: &JsValue,
    lower_open: bool,
    upper_open: bool,
) -> Result<IdbKeyRange, StorageError> {
    // (The four-argument form only: one import less.)
    IdbKeyRange::bound_with_lower_open_and_upper_open(lower, upper, lower_open, upper_open)
        .map_err(|e| js_error(&e))
}

impl IndexedDbStorage {
    /// The stores a batch writes to.
    fn touched(&self, batch: &StorageBatch) -> Vec<&'static str> {
        let s = &batch.store;
        let mut stores = Vec::with_capacity(5);
        let messages = !s.put_messages.is_empty() || !s.delete_messages.is_empty();
        if messages {
            stores.push(self.message_store());
        }
        if !s.put_conversations.is_empty() || !s.delete_conversations.is_empty() {
            stores.push(self.conversation_store());
        }
        if !s.put_outbox.is_empty() || !s.delete_outbox.is_empty() {
            stores.push(current::OUTBOX);
        }
        if !s.put_tombstones.is_empty() {
            stores.push(current::TOMBSTONES);
        }
        // Block writes also write their generation.
        if !batch.put_meta.is_empty() || messages {
            stores.push(current::META);
        }
        stores
    }

    /// Where this connection's messages are: `blocks`, or `messages` before V3 (tests).
    fn message_store(&self) -> &'static str {
        #[cfg(feature = "test-support")]
        if self.inner.version < SchemaVersion::V3 {
            return schema::v2::MESSAGES;
        }
        current::BLOCKS
    }

    /// A `getAll` of `conversation_records`: packed, or JSON texts before V4 (tests).
    fn decode_conversations(&self, all: &JsValue) -> Result<Vec<ConversationRecord>, StorageError> {
        #[cfg(feature = "test-support")]
        if self.inner.version < SchemaVersion::V4 {
            return codec::decode_texts(all);
        }
        codec::decode_packed(all)
    }

    /// Where this connection's conversation records are: `conversation_records`, or
    /// `conversations` (objects) before V3 (tests).
    fn conversation_store(&self) -> &'static str {
        #[cfg(feature = "test-support")]
        if self.inner.version < SchemaVersion::V3 {
            return schema::v2::CONVERSATIONS;
        }
        current::CONVERSATIONS
    }
}

/// Which messages of the blocks walked a page takes.
#[derive(Clone)]
enum Keep {
    All,
    Below(MessageKey),
    Above(MessageKey),
}

/// The blocks of a key range walked with a value cursor, newest first (`Prev`) or oldest
/// first (`Next`), one event each, until `limit` messages that `keep` takes were seen or
/// `blocks` blocks were read or the range ends.
struct BlockWalk {
    walk: CursorWalk,
    found: Rc<RefCell<Vec<Read>>>,
    keep: Keep,
}

/// A block read whole: its `lo` and its messages.
type Read = (MessageKey, Vec<StoredMessage>);

impl Keep {
    fn takes(&self, m: &StoredMessage) -> bool {
        match self {
            Keep::All => true,
            Keep::Below(k) => m.key < *k,
            Keep::Above(k) => m.key > *k,
        }
    }
}

impl BlockWalk {
    fn issue(
        storage: &IndexedDbStorage,
        store: &IdbObjectStore,
        range: &IdbKeyRange,
        direction: IdbCursorDirection,
        (limit, blocks): (usize, usize),
        keep: Keep,
    ) -> Result<BlockWalk, StorageError> {
        let found: Rc<RefCell<Vec<Read>>> = Rc::default();
        let (sink, names, counting) = (found.clone(), storage.inner.names.clone(), keep.clone());
        let mut kept = 0;
        let cursor = store.open_cursor_with_range_and_direction(range, direction);
        let walk = CursorWalk::new(
            cursor,
            Box::new(move |cursor| {
                let Some(cursor) = cursor.and_then(|c| c.dyn_ref::<IdbCursorWithValue>()) else {
                    return Ok(Step::Stop);
                };
                let value = cursor.value().map_err(|e| js_error(&e))?;
                let messages = codec::decode_block(&names, &value)?;
                let lo = codec::block_lo(&cursor.primary_key().map_err(|e| js_error(&e))?)?;
                kept += messages.iter().filter(|m| counting.takes(m)).count();
                let mut sink = sink.borrow_mut();
                sink.push((lo, messages));
                Ok(if kept >= limit || sink.len() >= blocks {
                    Step::Stop
                } else {
                    Step::Continue
                })
            }),
        )?;
        Ok(BlockWalk { walk, found, keep })
    }

    /// The blocks read, whole, in walk order, and what `keep` takes of each.
    async fn fetch(self) -> Result<(Vec<Read>, Keep), StorageError> {
        self.walk.await?;
        Ok((self.found.take(), self.keep))
    }
}

/// What `keep` takes of blocks read in key order, in key order.
fn taken(blocks: impl Iterator<Item = Read>, keep: &Keep) -> Vec<StoredMessage> {
    blocks
        .flat_map(|(_, messages)| messages)
        .filter(|m| keep.takes(m))
        .gather()
}

/// The newest `limit` messages `keep` takes, ascending, of blocks read newest first, after
/// `also` (messages above all of them, ascending).
fn newest(
    (blocks, keep): (Vec<Read>, Keep),
    also: Vec<StoredMessage>,
    limit: usize,
) -> Vec<StoredMessage> {
    let mut out = taken(blocks.into_iter().rev(), &keep);
    out.extend(also);
    let drop = out.len().saturating_sub(limit);
    out.drain(..drop);
    out
}

/// The oldest block a page read newest first, kept whole: the page before that one starts
/// in it (a conversation scrolled up), so it is not read and decoded again.
struct PageTail {
    conversation: ConversationId,
    lo: MessageKey,
    messages: Vec<StoredMessage>,
}

/// Before V3 a message was a record of its own (only tests write that layout now, to
/// migrate from): deletes, then puts.
#[cfg(feature = "test-support")]
fn write_v2_messages(
    tx: &IdbTransaction,
    n: &Names,
    s: &crate::chat::store::PersistBatch,
) -> Result<(), StorageError> {
    let messages = tx
        .object_store(schema::v2::MESSAGES)
        .map_err(|e| js_error(&e))?;
    for (cid, key) in s.delete_messages.keys() {
        issued(messages.delete(&JsValue::from_str(&codec::message_pk(*cid, &key.id))))?;
    }
    for m in s.put_messages.values() {
        issued(messages.put(&codec::encode_message(n, m)?))?;
    }
    Ok(())
}

impl Storage for IndexedDbStorage {
    async fn apply(&self, batch: StorageBatch) -> Result<(), StorageError> {
        let stores = self.touched(&batch);
        if stores.is_empty() {
            return Ok(());
        }
        let _pass = self.inner.gate.enter().await;
        let tx = self.transaction(&stores, IdbTransactionMode::Readwrite)?;
        self.written();
        let done = TransactionDone::new(&tx);
        let issued = match self.write_messages(&tx, &batch.store).await {
            Ok(()) => self.write(&tx, &batch),
            Err(e) => Err(e),
        };
        let result = finish(&tx, done, issued).await;
        if result.is_err() {
            // The blocks it planned may not be there: read them again next time.
            self.inner.directory.borrow_mut().take();
        }
        result
    }

    async fn conversations(&self) -> Result<Vec<ConversationRecord>, StorageError> {
        let all = request(self.read(current::CONVERSATIONS)?.get_all()).await?;
        self.decode_conversations(&all)
    }

    async fn messages(
        &self,
        conversation: ConversationId,
        page: Page,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let store = self.read(current::BLOCKS)?;
        let (first, last) = conversation_bounds(&conversation.to_string());
        let all = usize::MAX;
        match page {
            Page::Newest => {
                let writes = self.inner.writes.get();
                let range = bound(&first, &last, false, false)?;
                let walk = BlockWalk::issue(self, &store, &range, Prev, (limit, all), Keep::All)?;
                let read = walk.fetch().await?;
                self.keep_tail(conversation, writes, &read.0);
                Ok(newest(read, Vec::new(), limit))
            }
            // The blocks whose lo is below `k`, newest first; the first of them is often the
            // one the page above ended in.
            Page::Before(k) => {
                let writes = self.inner.writes.get();
                let tail = self.inner.page_tail.borrow().clone().filter(|t| {
                    t.conversation == conversation
                        && t.lo < k
                        && t.messages.last().is_some_and(|m| k <= m.key)
                });
                let (upper, held) = match &tail {
                    Some(t) => {
                        let keep = Keep::Below(k.clone());
                        let held: Vec<StoredMessage> = t
                            .messages
                            .iter()
                            .filter(|m| keep.takes(m))
                            .cloned()
                            .gather();
                        (codec::block_pk(conversation, &t.lo), held)
                    }
                    None => (codec::block_pk(conversation, &k), Vec::new()),
                };
                if held.len() >= limit {
                    return Ok(newest((Vec::new(), Keep::All), held, limit));
                }
                let range = bound(&first, &upper, false, true)?;
                let need = limit - held.len();
                let walk =
                    BlockWalk::issue(self, &store, &range, Prev, (need, all), Keep::Below(k))?;
                let read = walk.fetch().await?;
                self.keep_tail(conversation, writes, &read.0);
                Ok(newest(read, held, limit))
            }
            // The block that would hold `k`, then those above it: both walks at once.
            Page::After(k) => {
                let at = codec::block_pk(conversation, &k);
                let holder = bound(&first, &at, false, false)?;
                let above = bound(&at, &last, true, false)?;
                let keep = Keep::Above(k);
                let holder =
                    BlockWalk::issue(self, &store, &holder, Prev, (limit, 1), keep.clone())?;
                let above = BlockWalk::issue(self, &store, &above, Next, (limit, all), keep)?;
                let (blocks, keep) = holder.fetch().await?;
                let mut out = taken(blocks.into_iter(), &keep);
                let (blocks, keep) = above.fetch().await?;
                out.extend(taken(blocks.into_iter(), &keep));
                out.truncate(limit);
                Ok(out)
            }
        }
    }

    async fn newest_pages(
        &self,
        conversations: &[ConversationId],
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // One transaction, every walk issued before the first is awaited: the browser
        // serves them side by side instead of one after the other.
        let store = self.read(current::BLOCKS)?;
        let mut walks = Vec::with_capacity(conversations.len());
        for c in conversations {
            let (first, last) = conversation_bounds(&c.to_string());
            let range = bound(&first, &last, false, false)?;
            walks.push(BlockWalk::issue(
                self,
                &store,
                &range,
                Prev,
                (limit, usize::MAX),
                Keep::All,
            )?);
        }
        let mut out = Vec::new();
        for walk in walks {
            out.extend(newest(walk.fetch().await?, Vec::new(), limit));
        }
        Ok(out)
    }

    async fn message_by_server_id(
        &self,
        id: ServerId,
    ) -> Result<Option<StoredMessage>, StorageError> {
        let index = self.index(current::BLOCKS, current::BLOCKS_SERVER_ID)?;
        let found = request(index.get(&JsValue::from_str(&codec::fixed(id)))).await?;
        let block = optional_block(&self.inner.names, &found)?;
        Ok(block.and_then(|b| b.into_iter().find(|m| m.server_id() == Some(id))))
    }

    async fn message_by_local_id(
        &self,
        local_id: &str,
    ) -> Result<Option<StoredMessage>, StorageError> {
        let index = self.index(current::BLOCKS, current::BLOCKS_LOCAL_ID)?;
        let found = request(index.get(&JsValue::from_str(local_id))).await?;
        let block = optional_block(&self.inner.names, &found)?;
        Ok(block.and_then(|b| {
            b.into_iter()
                .find(|m| m.local_id.as_deref() == Some(local_id))
        }))
    }

    async fn outbox(&self) -> Result<Vec<OutboxEntry>, StorageError> {
        // (weight, local_id): the index key, then the primary key.
        let index = self.index(current::OUTBOX, current::OUTBOX_WEIGHT)?;
        let all = request(get_all(&index, &JsValue::UNDEFINED, 0)).await?;
        codec::decode_all(&self.inner.names, &all)
    }

    async fn tombstones(&self) -> Result<Vec<(ServerId, Tombstone)>, StorageError> {
        let all = request(self.read(current::TOMBSTONES)?.get_all()).await?;
        codec::decode_tombstones(&self.inner.names, &all)
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StorageError> {
        let found = request(self.read(current::META)?.get(&JsValue::from_str(key))).await?;
        codec::decode_meta(&self.inner.names, &found)
    }

    async fn startup_records(&self) -> Result<StartupRecords, StorageError> {
        // One transaction, the four requests issued before the first is awaited.
        let stores = [
            current::CONVERSATIONS,
            current::TOMBSTONES,
            current::OUTBOX,
            current::META,
        ];
        let tx = self.transaction(&stores, IdbTransactionMode::Readonly)?;
        let store = |name: &str| tx.object_store(name).map_err(|e| js_error(&e));
        let issue = |r: Result<web_sys::IdbRequest, JsValue>| {
            r.map(RequestFuture::new).map_err(|e| js_error(&e))
        };
        let conversations = issue(store(current::CONVERSATIONS)?.get_all())?;
        let tombstones = issue(store(current::TOMBSTONES)?.get_all())?;
        let outbox = store(current::OUTBOX)?
            .index(current::OUTBOX_WEIGHT)
            .map_err(|e| js_error(&e))?;
        let outbox = issue(get_all(&outbox, &JsValue::UNDEFINED, 0))?;
        let clock = issue(store(current::META)?.get(&JsValue::from_str(meta::CLOCK_OFFSET)))?;
        let names = &self.inner.names;
        Ok(StartupRecords {
            conversations: self.decode_conversations(&conversations.await?)?,
            tombstones: codec::decode_tombstones(names, &tombstones.await?)?,
            outbox: codec::decode_all(names, &outbox.await?)?,
            clock_offset: codec::decode_meta(names, &clock.await?)?,
        })
    }

    async fn wipe(&self) -> Result<(), StorageError> {
        let _pass = self.inner.gate.enter().await;
        self.inner.directory.borrow_mut().take();
        let version = self.inner.version.number().to_string();
        self.write_transaction(&schema::ALL_STORES, |tx| {
            for name in schema::ALL_STORES {
                let store = tx.object_store(name).map_err(|e| js_error(&e))?;
                store.clear().map_err(|e| js_error(&e))?;
            }
            // The data left (none) is still of this schema version.
            let meta_store = tx.object_store(current::META).map_err(|e| js_error(&e))?;
            let entry = codec::encode_meta(&self.inner.names, meta::SCHEMA_VERSION, &version)?;
            meta_store.put(&entry).map_err(|e| js_error(&e))?;
            Ok(())
        })
        .await
    }
}

/// A block from a `get` (`undefined` when absent).
fn optional_block(
    names: &Names,
    found: &JsValue,
) -> Result<Option<Vec<StoredMessage>>, StorageError> {
    if found.is_undefined() || found.is_null() {
        Ok(None)
    } else {
        codec::decode_block(names, found).map(Some)
    }
}

//! [`Storage`] on IndexedDB (wasm32 only): one database per user, `imcore-{user_id}`.
//!
//! # Schema ([`SchemaVersion::V2`])
//!
//! | store | key | indexes |
//! | --- | --- | --- |
//! | `messages` | `pk` = `"{conversation}\|{sort}"` | `order` = `[conversation, weight, sender, sort]`; `server_id`; `local_id` |
//! | `conversations` | `id` (conversation id string) | |
//! | `outbox` | `local_id` | `weight`; `conversation` (V2) |
//! | `tombstones` | `server_id` | |
//! | `meta` | `key` | |
//!
//! * **Order.** The `order` index sorts exactly like [`MessageKey`]:
//!   `weight` and `sender` are 20-digit zero-padded decimals (string order == numeric
//!   order over all of `u64`; a JS number is exact only to 2^53, and user ids need not stay
//!   below that), and `sort` is `"s"` + 20 digits of the server id or `"t"` + the local
//!   id, so every server id sorts before every local id as `MessageRef::Server <
//!   MessageRef::Local`. A page is one key range on that index bounded to the conversation
//!   (`[c]` .. `[c, []]`: an array sorts after every string) and to the page key; the
//!   newest `n` are a `prev` cursor stopped after `n` records, whatever the size of the
//!   conversation; unbounded or `After` pages are a single `getAll(range, n)`.
//! * **Values.** Each object holds the plain string fields above (only what key paths
//!   read) and `record`, the Rust record as a JSON string (`crate::json`, which reads and
//!   writes the text serde_json did). It is lossless (`u64` ids are JSON integers parsed
//!   in Rust, never by JS) and fast: a record crosses the JS boundary as one string, where
//!   serde-wasm-bindgen would make a JS call per field and need BigInts for exact 64-bit
//!   ids. The identity of a message is `(conversation, MessageRef)`, as in
//!   [`PersistBatch`](crate::chat::store::PersistBatch), so deletes need no lookup.
//! * **Start-up reads no message.** A conversation record carries its newest message
//!   ([`Newest`](crate::chat::store::Newest)), kept current by the store, so the list
//!   comes from the `conversations` store alone, however long the history. This needs no
//!   schema step: records written before it carry no `newest` (read as unknown), and
//!   start-up reads those conversations' newest message once and writes their records
//!   with it, the migration happening record by record; an older client reading a newer
//!   record ignores the field, as it ignores any field it does not know.
//! * **Writes.** [`Storage::apply`] is one `readwrite` transaction over the stores the
//!   batch touches, deletes issued before puts, none awaited one by one; then `commit()`
//!   and wait for `complete`. An abort reports the transaction's DOMException
//!   (`QuotaExceededError` → [`StorageError::QuotaExceeded`], others →
//!   [`StorageError::Operation`] with its name and message).
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
//! (which pulls in tokio's macros). Writing values as JSON strings, it needs no serde
//! bridge either; a put costs no closure or channel.

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
    IdbCursorDirection, IdbDatabase, IdbIndex, IdbKeyRange, IdbTransaction, IdbTransactionMode,
};

pub use schema::SchemaVersion;

use codec::Names;
use request::{dom_error, js_error, request, CursorWalk, RequestFuture, Step, TransactionDone};
use schema::current;

use crate::chat::store::{ConversationRecord, MessageKey, OutboxEntry, StoredMessage, Tombstone};
use crate::chat::{ConversationId, ServerId};
use crate::storage::{
    meta, newest_pages_one_by_one, Page, StartupRecords, Storage, StorageBatch, StorageError,
};

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
    names: Names,
    /// `getAll` takes `{ query, count, direction }` here (see [`NewestPage`]).
    reverse_get_all: Cell<bool>,
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
        Self::open_version(user_id, SchemaVersion::LATEST).await
    }

    /// Opens the database of `user_id` at `version` (tests create old versions this way).
    pub async fn open_version(user_id: u64, version: SchemaVersion) -> Result<Self, StorageError> {
        let name = database_name(user_id);
        let db = open::open(&name, version).await?;
        let inner = Rc::new(Inner {
            name,
            version,
            conn: RefCell::new(Conn::Open(db.clone())),
            on_version_change: RefCell::new(None),
            listener: RefCell::new(None),
            names: Names::new(),
            reverse_get_all: Cell::new(reverse_get_all()),
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

    /// Issues every request of `batch` on `tx`: deletes first, then puts.
    fn write(&self, tx: &IdbTransaction, batch: &StorageBatch) -> Result<(), StorageError> {
        let n = &self.inner.names;
        let s = &batch.store;
        let store = |name: &str| tx.object_store(name).map_err(|e| js_error(&e));
        let key = |k: String| JsValue::from_str(&k);
        let ok = |r: Result<web_sys::IdbRequest, JsValue>| r.map(|_| ()).map_err(|e| js_error(&e));

        if !s.delete_messages.is_empty() || !s.put_messages.is_empty() {
            let messages = store(current::MESSAGES)?;
            for (cid, id) in s.delete_messages.keys() {
                ok(messages.delete(&key(codec::message_pk(*cid, &id.id))))?;
            }
            for m in s.put_messages.values() {
                ok(messages.put(&codec::encode_message(n, m)?))?;
            }
        }
        if !s.delete_conversations.is_empty() || !s.put_conversations.is_empty() {
            let conversations = store(current::CONVERSATIONS)?;
            for cid in s.delete_conversations.keys() {
                ok(conversations.delete(&key(cid.to_string())))?;
            }
            for c in s.put_conversations.values() {
                ok(conversations.put(&codec::encode_conversation(n, c)?))?;
            }
        }
        if !s.delete_outbox.is_empty() || !s.put_outbox.is_empty() {
            let outbox = store(current::OUTBOX)?;
            for local in s.delete_outbox.keys() {
                ok(outbox.delete(&JsValue::from_str(local)))?;
            }
            for e in s.put_outbox.values() {
                ok(outbox.put(&codec::encode_outbox(n, e, self.inner.version)?))?;
            }
        }
        if !s.put_tombstones.is_empty() {
            let tombstones = store(current::TOMBSTONES)?;
            for (id, t) in &s.put_tombstones {
                ok(tombstones.put(&codec::encode_tombstone(n, *id, *t)?))?;
            }
        }
        if !batch.put_meta.is_empty() {
            let meta_store = store(current::META)?;
            for (k, v) in &batch.put_meta {
                ok(meta_store.put(&codec::encode_meta(n, k, v)?))?;
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
        let done = TransactionDone::new(&tx);
        if let Err(e) = issue(&tx) {
            let _ = tx.abort();
            return Err(e);
        }
        done.commit();
        done.await
    }
}

/// `index.getAll(query, count)`, the one form of an index's `getAll` used here (each web-sys
/// method is an import and a JS shim of its own): `count` 0 is no limit, an undefined
/// `query` every record.
fn get_all(index: &IdbIndex, query: &JsValue, count: u32) -> Result<web_sys::IdbRequest, JsValue> {
    index.get_all_with_key_and_limit(query, count)
}

/// The `order` index keys just below and above every message of conversation `c`: `[c]`
/// and `[c, []]` (an array sorts after every string).
fn conversation_bounds(c: &str) -> (JsValue, JsValue) {
    let c = JsValue::from_str(c);
    (Array::of1(&c).into(), Array::of2(&c, &Array::new()).into())
}

/// The `order` index key of a message of conversation `c`.
fn order_key(c: &str, k: &MessageKey) -> JsValue {
    Array::of4(
        &JsValue::from_str(c),
        &JsValue::from_str(&codec::fixed(k.weight)),
        &JsValue::from_str(&codec::fixed(k.sender_id)),
        &JsValue::from_str(&codec::sort_key(&k.id)),
    )
    .into()
}

/// The stores a batch writes to.
fn touched(batch: &StorageBatch) -> Vec<&'static str> {
    let s = &batch.store;
    let mut stores = Vec::with_capacity(5);
    if !s.put_messages.is_empty() || !s.delete_messages.is_empty() {
        stores.push(current::MESSAGES);
    }
    if !s.put_conversations.is_empty() || !s.delete_conversations.is_empty() {
        stores.push(current::CONVERSATIONS);
    }
    if !s.put_outbox.is_empty() || !s.delete_outbox.is_empty() {
        stores.push(current::OUTBOX);
    }
    if !s.put_tombstones.is_empty() {
        stores.push(current::TOMBSTONES);
    }
    if !batch.put_meta.is_empty() {
        stores.push(current::META);
    }
    stores
}

/// The `count` of a `getAll` for `limit`; `None` means everything (`usize::MAX` is
/// `u32::MAX` on wasm32, and a page that large is "all of them").
fn get_all_count(limit: usize) -> Option<u32> {
    u32::try_from(limit).ok().filter(|n| *n < u32::MAX)
}

/// Whether `getAll` here takes an options dictionary with a `direction` (IndexedDB 3,
/// shipped with `getAllRecords`: Chromium 141 and later). A browser without it reads the
/// dictionary as a key and throws, so it is asked once, by that sibling method.
fn reverse_get_all() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"IDBIndex".into())
        .and_then(|c| js_sys::Reflect::get(&c, &"prototype".into()))
        .and_then(|p| js_sys::Reflect::has(&p, &"getAllRecords".into()))
        .unwrap_or(false)
}

/// The newest `count` records of an `order` range, whatever their number:
///
/// * where `getAll` takes a direction, one request: `getAll({ query, count, direction:
///   "prev" })`, newest first;
/// * elsewhere three events: a key cursor from the top of the range, advanced in one step
///   to the count-th newest, then one getAll from that key up. (A value cursor walked back
///   costs an event and a JS call per record.) The getAll is issued inside the cursor's
///   success event, while the transaction is surely active.
enum NewestPage {
    Reverse(RequestFuture),
    Walk {
        walk: CursorWalk,
        fetch: Rc<RefCell<Option<RequestFuture>>>,
    },
}

impl NewestPage {
    /// Issues the read on `index`'s transaction.
    fn issue(
        storage: &IndexedDbStorage,
        index: &IdbIndex,
        range: IdbKeyRange,
        count: u32,
    ) -> Result<NewestPage, StorageError> {
        if storage.inner.reverse_get_all.get() {
            let options = js_sys::Object::new();
            let set = |k: &str, v: &JsValue| {
                js_sys::Reflect::set(&options, &k.into(), v).map_err(|e| js_error(&e))
            };
            set("query", &range)?;
            set("count", &count.into())?;
            set("direction", &"prev".into())?;
            let req = index.get_all_with_key(&options).map_err(|e| js_error(&e))?;
            return Ok(NewestPage::Reverse(RequestFuture::new(req)));
        }
        let (upper, upper_open) = (range.upper().map_err(|e| js_error(&e))?, range.upper_open());
        let fetch: Rc<RefCell<Option<RequestFuture>>> = Rc::new(RefCell::new(None));
        let (sink, index_in) = (fetch.clone(), index.clone());
        let cursor =
            index.open_key_cursor_with_range_and_direction(&range, IdbCursorDirection::Prev);
        let mut at_top = true;
        let walk = CursorWalk::new(cursor, move |cursor| {
            let from = match cursor {
                Some(_) if at_top && count > 1 => {
                    at_top = false;
                    return Ok(Step::Advance(count - 1));
                }
                // The count-th newest: from its key to the top.
                Some(cursor) => {
                    let key = cursor.key().map_err(|e| js_error(&e))?;
                    IdbKeyRange::bound_with_lower_open_and_upper_open(
                        &key, &upper, false, upper_open,
                    )
                    .map_err(|e| js_error(&e))?
                }
                // Fewer than `count`: all of the range.
                None => range.clone(),
            };
            let issued =
                RequestFuture::new(get_all(&index_in, &from, count).map_err(|e| js_error(&e))?);
            *sink.borrow_mut() = Some(issued);
            Ok(Step::Stop)
        })?;
        Ok(NewestPage::Walk { walk, fetch })
    }

    /// The records, oldest first.
    async fn fetch(self) -> Result<JsValue, StorageError> {
        match self {
            NewestPage::Reverse(issued) => {
                let newest_first = issued.await?;
                if let Some(array) = newest_first.dyn_ref::<Array>() {
                    array.reverse();
                }
                Ok(newest_first)
            }
            NewestPage::Walk { walk, fetch } => {
                walk.await?;
                let issued = fetch.take().ok_or_else(|| {
                    dom_error(
                        "UnknownError".into(),
                        "the page's getAll was not issued".into(),
                    )
                })?;
                issued.await
            }
        }
    }
}

#[cfg(feature = "test-support")]
impl IndexedDbStorage {
    /// Reads newest pages in three events even where one `getAll` with a direction would
    /// do: tests run the conformance suite both ways.
    pub fn use_cursor_pages(&self) {
        self.inner.reverse_get_all.set(false);
    }
}

impl Storage for IndexedDbStorage {
    async fn apply(&self, batch: StorageBatch) -> Result<(), StorageError> {
        let stores = touched(&batch);
        if stores.is_empty() {
            return Ok(());
        }
        self.write_transaction(&stores, |tx| self.write(tx, &batch))
            .await
    }

    async fn conversations(&self) -> Result<Vec<ConversationRecord>, StorageError> {
        let all = request(self.read(current::CONVERSATIONS)?.get_all()).await?;
        codec::decode_all(&self.inner.names, &all)
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
        let index = self.index(current::MESSAGES, current::MESSAGES_ORDER)?;
        let c = conversation.to_string();
        let (first, last) = conversation_bounds(&c);
        let (lower, lower_open, upper, upper_open, newest_first) = match &page {
            Page::Newest => (first, false, last, false, true),
            Page::Before(k) => (first, false, order_key(&c, k), true, true),
            Page::After(k) => (order_key(&c, k), true, last, false, false),
        };
        // (The four-argument form only: one import less.)
        let range = IdbKeyRange::bound_with_lower_open_and_upper_open(
            &lower, &upper, lower_open, upper_open,
        )
        .map_err(|e| js_error(&e))?;
        let names = &self.inner.names;
        let count = match get_all_count(limit) {
            // Everything: one getAll, the newest `limit` of it.
            None => {
                let all = request(get_all(&index, &range, 0)).await?;
                let mut out: Vec<StoredMessage> = codec::decode_all(names, &all)?;
                if newest_first {
                    let drop = out.len().saturating_sub(limit);
                    out.drain(..drop);
                }
                return Ok(out);
            }
            Some(count) => count,
        };
        if !newest_first {
            // Oldest first: one getAll.
            let all = request(get_all(&index, &range, count)).await?;
            return codec::decode_all(names, &all);
        }
        let newest = NewestPage::issue(self, &index, range, count)?;
        codec::decode_all(names, &newest.fetch().await?)
    }

    async fn newest_pages(
        &self,
        conversations: &[ConversationId],
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StorageError> {
        let Some(count) = get_all_count(limit).filter(|c| *c > 0) else {
            return newest_pages_one_by_one(self, conversations, limit).await;
        };
        // One transaction, every page issued before the first is awaited: the browser
        // walks them side by side instead of one after the other.
        let index = self.index(current::MESSAGES, current::MESSAGES_ORDER)?;
        let mut pages = Vec::with_capacity(conversations.len());
        for c in conversations {
            let (first, last) = conversation_bounds(&c.to_string());
            let range =
                IdbKeyRange::bound_with_lower_open_and_upper_open(&first, &last, false, false)
                    .map_err(|e| js_error(&e))?;
            pages.push(NewestPage::issue(self, &index, range, count)?);
        }
        let mut out = Vec::new();
        for page in pages {
            out.extend(codec::decode_all::<StoredMessage>(
                &self.inner.names,
                &page.fetch().await?,
            )?);
        }
        Ok(out)
    }

    async fn message_by_server_id(
        &self,
        id: ServerId,
    ) -> Result<Option<StoredMessage>, StorageError> {
        let index = self.index(current::MESSAGES, current::MESSAGES_SERVER_ID)?;
        let found = request(index.get(&JsValue::from_str(&codec::fixed(id)))).await?;
        optional(&self.inner.names, &found)
    }

    async fn message_by_local_id(
        &self,
        local_id: &str,
    ) -> Result<Option<StoredMessage>, StorageError> {
        let index = self.index(current::MESSAGES, current::MESSAGES_LOCAL_ID)?;
        let found = request(index.get(&JsValue::from_str(local_id))).await?;
        optional(&self.inner.names, &found)
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
            conversations: codec::decode_all(names, &conversations.await?)?,
            tombstones: codec::decode_tombstones(names, &tombstones.await?)?,
            outbox: codec::decode_all(names, &outbox.await?)?,
            clock_offset: codec::decode_meta(names, &clock.await?)?,
        })
    }

    async fn wipe(&self) -> Result<(), StorageError> {
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

/// A record from a `get` (`undefined` when absent).
fn optional<T: crate::json::FromJson>(
    names: &Names,
    found: &JsValue,
) -> Result<Option<T>, StorageError> {
    if found.is_undefined() || found.is_null() {
        Ok(None)
    } else {
        codec::decode(names, found).map(Some)
    }
}

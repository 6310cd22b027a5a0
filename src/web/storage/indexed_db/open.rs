//! Opening (and upgrading) or deleting a database without ever hanging.
//!
//! An `IDBOpenDBRequest` fires `upgradeneeded` (run the migrations), then `success` or
//! `error`; when another connection keeps an older version open it fires `blocked` first
//! and waits, possibly forever. Here:
//!
//! * `blocked` starts a short grace period ([`BLOCKED_GRACE_MS`]): a connection that was
//!   closed while a transaction was still running counts as open until that transaction
//!   ends, and Chromium fires `blocked` for it. If the request has not succeeded by then,
//!   the open (or delete) resolves with [`StorageError::Blocked`];
//! * a request that hears nothing at all for [`SILENCE_MS`] (it is queued behind another
//!   tab's blocked upgrade, which fires no event at the queued one) resolves the same way;
//! * a request made while an abandoned one of this page is still pending on the same
//!   database would queue behind it: it fails with `Blocked` at once.
//!
//! A request that gave up is *abandoned*: its handlers stay registered (deliberately
//! leaked, a few closures) so that when the other connection finally closes, the late
//! upgrade is aborted (the version does not change behind the caller's back) and a late
//! connection is closed. Dropping the future before it resolves abandons the request the
//! same way.

use crate::collections::VecMap;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use gloo_timers::callback::Timeout;
use js_sys::Reflect;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbFactory, IdbOpenDbRequest, IdbVersionChangeEvent};

use super::request::{dom_error, fill, is_filled, js_error, poll_slot, slot, take, SharedSlot};
use super::schema::{self, SchemaVersion};
use crate::storage::StorageError;

/// `indexedDB` of the global scope (window or worker), or why there is none: absent in a
/// WebView or a mini-program, throwing in some sandboxed or private contexts.
pub(super) fn factory() -> Result<IdbFactory, StorageError> {
    let value = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .map_err(|e| StorageError::Unavailable(describe(&e)))?;
    if value.is_undefined() || value.is_null() {
        return Err(StorageError::Unavailable(
            "this environment has no indexedDB".into(),
        ));
    }
    value
        .dyn_into::<IdbFactory>()
        .map_err(|_| StorageError::Unavailable("indexedDB is not an IDBFactory".into()))
}

fn describe(e: &JsValue) -> String {
    match js_error(e) {
        StorageError::Operation { name, message } => format!("{name}: {message}"),
        other => other.to_string(),
    }
}

/// Why an open failed, from the error event: a failed migration keeps its own error;
/// `VersionError` (the database is newer than this code) and quota errors keep theirs;
/// anything else means IndexedDB is not usable here.
fn open_error(e: StorageError) -> StorageError {
    match e {
        StorageError::Operation { ref name, .. } if name == "VersionError" => e,
        StorageError::Operation { name, message } => {
            StorageError::Unavailable(format!("{name}: {message}"))
        }
        other => other,
    }
}

/// How long after `blocked` a request may still succeed before the open gives up.
pub(super) const BLOCKED_GRACE_MS: u32 = 2_000;

/// How long a request may hear nothing at all (no `upgradeneeded`, `blocked`, `success`
/// or `error`) before the open gives up.
pub(super) const SILENCE_MS: u32 = 10_000;

thread_local! {
    /// Abandoned requests of this page still pending, per database name.
    static ABANDONED: RefCell<VecMap<String, usize>> = RefCell::new(VecMap::new());
}

fn abandoned_pending(name: &str) -> bool {
    ABANDONED.with(|a| a.borrow().get(name).is_some_and(|n| *n > 0))
}

fn count_abandoned(name: &str, delta: isize) {
    ABANDONED.with(|a| {
        let mut a = a.borrow_mut();
        let n = a
            .get(name)
            .copied()
            .unwrap_or(0)
            .saturating_add_signed(delta);
        if n == 0 {
            a.remove(name);
        } else {
            a.insert(name.to_string(), n);
        }
    });
}

struct State {
    name: String,
    slot: SharedSlot<Result<JsValue, StorageError>>,
    /// Nobody waits any more: abort a late upgrade, close a late connection.
    abandoned: Cell<bool>,
    /// The caller got its answer (a connection, or an error other than `Blocked`).
    settled: Cell<bool>,
    /// Why the migration aborted the upgrade, reported instead of the `AbortError`.
    migration_error: RefCell<Option<StorageError>>,
    /// The grace or silence timer; replaced or dropped (cancelled) as events arrive.
    timer: RefCell<Option<Timeout>>,
}

impl State {
    /// Gives up on the request: the caller gets `Blocked`, late events are neutralised.
    fn abandon(&self) {
        if self.abandoned.get() || is_filled(&self.slot) || self.settled.get() {
            return;
        }
        self.abandoned.set(true);
        count_abandoned(&self.name, 1);
        fill(&self.slot, Err(StorageError::Blocked));
    }

    /// The request ended (success or error) after it was abandoned.
    fn abandoned_request_ended(&self) {
        count_abandoned(&self.name, -1);
    }

    /// (Re)arms the timer: after `ms` without an answer, abandon.
    fn arm(self: &Rc<Self>, ms: u32) {
        let weak = Rc::downgrade(self);
        let t = Timeout::new(ms, move || {
            if let Some(state) = weak.upgrade() {
                state.abandon();
            }
        });
        // The old timer (if any) is dropped, i.e. cancelled, after the borrow ends.
        let old = self.timer.borrow_mut().replace(t);
        drop(old);
    }

    fn disarm(&self) {
        let old = self.timer.borrow_mut().take();
        drop(old);
    }
}

struct Handlers {
    success: Closure<dyn FnMut()>,
    error: Closure<dyn FnMut()>,
    blocked: Closure<dyn FnMut()>,
    upgrade: Option<Closure<dyn FnMut(IdbVersionChangeEvent)>>,
}

/// An open or delete request in flight.
pub(super) struct OpenFuture {
    req: IdbOpenDbRequest,
    state: Rc<State>,
    handlers: Option<Handlers>,
}

impl OpenFuture {
    /// Opens `name` at `version`, upgrading it with [`schema::upgrade`].
    pub(super) fn open(name: &str, version: SchemaVersion) -> Result<Self, StorageError> {
        if abandoned_pending(name) {
            return Err(StorageError::Blocked);
        }
        let req = factory()?
            .open_with_u32(name, version.number())
            .map_err(|e| StorageError::Unavailable(describe(&e)))?;
        Ok(Self::listen(name, req, Some(version)))
    }

    /// Deletes `name` (resolves with `undefined`).
    pub(super) fn delete(name: &str) -> Result<Self, StorageError> {
        if abandoned_pending(name) {
            return Err(StorageError::Blocked);
        }
        let req = factory()?
            .delete_database(name)
            .map_err(|e| StorageError::Unavailable(describe(&e)))?;
        Ok(Self::listen(name, req, None))
    }

    fn listen(name: &str, req: IdbOpenDbRequest, upgrade_to: Option<SchemaVersion>) -> Self {
        let state = Rc::new(State {
            name: name.to_string(),
            slot: slot(),
            abandoned: Cell::new(false),
            settled: Cell::new(false),
            migration_error: RefCell::new(None),
            timer: RefCell::new(None),
        });
        state.arm(SILENCE_MS);
        let is_open = upgrade_to.is_some();
        let success = {
            let (state, req) = (state.clone(), req.clone());
            Closure::<dyn FnMut()>::new(move || {
                state.disarm();
                let result = req.result();
                if state.abandoned.get() {
                    if let Ok(db) = result.and_then(|r| r.dyn_into::<IdbDatabase>()) {
                        db.close();
                    }
                    state.abandoned_request_ended();
                    return;
                }
                fill(&state.slot, result.map_err(|e| js_error(&e)));
            })
        };
        let error = {
            let (state, req) = (state.clone(), req.clone());
            Closure::<dyn FnMut()>::new(move || {
                state.disarm();
                if state.abandoned.get() {
                    state.abandoned_request_ended();
                    return;
                }
                let migration = state.migration_error.borrow_mut().take();
                let err = migration.unwrap_or_else(|| {
                    let e = match req.error() {
                        Ok(Some(d)) => dom_error(d.name(), d.message()),
                        Ok(None) => StorageError::Unavailable("the request failed".into()),
                        Err(e) => js_error(&e),
                    };
                    if is_open {
                        open_error(e)
                    } else {
                        e
                    }
                });
                fill(&state.slot, Err(err));
            })
        };
        let blocked = {
            let state = state.clone();
            Closure::<dyn FnMut()>::new(move || {
                if !state.abandoned.get() {
                    state.arm(BLOCKED_GRACE_MS);
                }
            })
        };
        let upgrade = upgrade_to.map(|target| {
            let (state, req) = (state.clone(), req.clone());
            Closure::<dyn FnMut(IdbVersionChangeEvent)>::new(move |e: IdbVersionChangeEvent| {
                let Some(tx) = req.transaction() else {
                    return;
                };
                if state.abandoned.get() {
                    let _ = tx.abort();
                    return;
                }
                // The upgrade runs: no longer blocked, however long the migration takes.
                state.disarm();
                let db = match req.result().map(|r| r.dyn_into::<IdbDatabase>()) {
                    Ok(Ok(db)) => db,
                    _ => {
                        *state.migration_error.borrow_mut() = Some(StorageError::Corrupt(
                            "upgradeneeded without a database".into(),
                        ));
                        let _ = tx.abort();
                        return;
                    }
                };
                // Saturating: a version this code never wrote is handled by the browser
                // (VersionError) before this event.
                let old = e.old_version() as u32;
                let state = state.clone();
                // Runs in a microtask of this event: the transaction is still active, and
                // every later step runs inside a request event of the same transaction.
                crate::web::task::spawn_local(async move {
                    if let Err(err) = schema::upgrade(&db, &tx, old, target).await {
                        *state.migration_error.borrow_mut() = Some(err);
                        let _ = tx.abort();
                    }
                });
            })
        });
        req.set_onsuccess(Some(success.as_ref().unchecked_ref()));
        req.set_onerror(Some(error.as_ref().unchecked_ref()));
        req.set_onblocked(Some(blocked.as_ref().unchecked_ref()));
        if let Some(u) = &upgrade {
            req.set_onupgradeneeded(Some(u.as_ref().unchecked_ref()));
        }
        OpenFuture {
            req,
            state,
            handlers: Some(Handlers {
                success,
                error,
                blocked,
                upgrade,
            }),
        }
    }
}

impl Future for OpenFuture {
    type Output = Result<JsValue, StorageError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let out = poll_slot(&self.state.slot, cx);
        if let Poll::Ready(r) = &out {
            if !matches!(r, Err(StorageError::Blocked)) {
                self.state.settled.set(true);
            }
        }
        out
    }
}

impl Drop for OpenFuture {
    fn drop(&mut self) {
        let Some(h) = self.handlers.take() else {
            return;
        };
        self.state.disarm();
        if !self.state.settled.get() && !self.state.abandoned.get() {
            match take(&self.state.slot) {
                // The request ended but nobody took the answer: close a connection.
                Some(Ok(v)) => {
                    if let Ok(db) = v.dyn_into::<IdbDatabase>() {
                        db.close();
                    }
                }
                Some(Err(_)) => {}
                // Still pending: let its late events be neutralised.
                None => {
                    self.state.abandoned.set(true);
                    count_abandoned(&self.state.name, 1);
                }
            }
        }
        if self.state.abandoned.get() {
            // The request is still pending: its handlers must outlive this future.
            h.success.forget();
            h.error.forget();
            h.blocked.forget();
            if let Some(u) = h.upgrade {
                u.forget();
            }
        } else {
            self.req.set_onsuccess(None);
            self.req.set_onerror(None);
            self.req.set_onblocked(None);
            self.req.set_onupgradeneeded(None);
        }
    }
}

/// Opens `name` at `version`: the connection, or why not.
pub(super) async fn open(name: &str, version: SchemaVersion) -> Result<IdbDatabase, StorageError> {
    let db = OpenFuture::open(name, version)?.await?;
    db.dyn_into::<IdbDatabase>()
        .map_err(|_| StorageError::Unavailable("open did not return a database".into()))
}

/// Deletes `name`; [`StorageError::Blocked`] if another connection does not close (the
/// deletion then happens once it does).
pub(super) async fn delete(name: &str) -> Result<(), StorageError> {
    OpenFuture::delete(name)?.await.map(|_| ())
}

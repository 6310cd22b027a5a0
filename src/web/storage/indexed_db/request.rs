//! Futures over IndexedDB's event-based requests, straight on web-sys.
//!
//! Each future owns the closures it registered and unregisters them when dropped
//! (principle 11), so an abandoned future never leaves a dangling Rust callback behind.
//! Callbacks only fill a [`Slot`] and wake the task: no JS runs while a `RefCell` borrow
//! is held, and waking only queues the task (wasm-bindgen-futures runs it in a microtask,
//! still inside the IndexedDB event dispatch, so the transaction stays active).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{DomException, IdbCursor, IdbRequest, IdbTransaction};

use crate::storage::StorageError;

/// A one-shot value handed from a JS callback to a future.
pub(super) struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// A shared [`Slot`].
pub(super) type SharedSlot<T> = Rc<RefCell<Slot<T>>>;

pub(super) fn slot<T>() -> SharedSlot<T> {
    Rc::new(RefCell::new(Slot {
        value: None,
        waker: None,
    }))
}

/// Fills the slot (the first value wins) and wakes the waiting task.
pub(super) fn fill<T>(slot: &SharedSlot<T>, value: T) {
    let waker = {
        let mut s = slot.borrow_mut();
        if s.value.is_some() {
            return;
        }
        s.value = Some(value);
        s.waker.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
}

/// Takes the value, if any, without waiting.
pub(super) fn take<T>(slot: &SharedSlot<T>) -> Option<T> {
    slot.borrow_mut().value.take()
}

/// Whether the slot holds a value not yet taken.
pub(super) fn is_filled<T>(slot: &SharedSlot<T>) -> bool {
    slot.borrow().value.is_some()
}

/// Takes the value, or registers the task to be woken when it comes.
pub(super) fn poll_slot<T>(slot: &SharedSlot<T>, cx: &mut Context<'_>) -> Poll<T> {
    let mut s = slot.borrow_mut();
    match s.value.take() {
        Some(v) => Poll::Ready(v),
        None => {
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// The DOMException (or other JS error) as a [`StorageError`], keeping its name and
/// message; `QuotaExceededError` becomes [`StorageError::QuotaExceeded`].
pub(super) fn js_error(e: &JsValue) -> StorageError {
    let (name, message) = if let Some(d) = e.dyn_ref::<DomException>() {
        (d.name(), d.message())
    } else if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        (String::from(err.name()), String::from(err.message()))
    } else {
        (
            "Error".to_string(),
            // Not `{e:?}`: JsValue's Debug needs wasm-bindgen's debugString glue (~2 KB).
            crate::web::describe(e),
        )
    };
    dom_error(name, message)
}

/// A DOMException's name and message as a [`StorageError`].
pub(super) fn dom_error(name: String, message: String) -> StorageError {
    if name == "QuotaExceededError" {
        StorageError::QuotaExceeded(message)
    } else {
        StorageError::Operation { name, message }
    }
}

/// A request's error, or a generic one when it has none.
fn request_error(req: &IdbRequest) -> StorageError {
    match req.error() {
        Ok(Some(d)) => dom_error(d.name(), d.message()),
        Ok(None) => dom_error("UnknownError".into(), "request failed".into()),
        Err(e) => js_error(&e),
    }
}

/// A transaction's error after it aborted (`AbortError` when it was aborted without one).
pub(super) fn transaction_error(tx: &IdbTransaction) -> StorageError {
    match tx.error() {
        Some(d) => dom_error(d.name(), d.message()),
        None => dom_error("AbortError".into(), "the transaction was aborted".into()),
    }
}

/// Resolves with a request's `result` on `success`, or its error on `error`.
pub(super) struct RequestFuture {
    req: IdbRequest,
    slot: SharedSlot<Result<JsValue, StorageError>>,
    _on_success: Closure<dyn FnMut()>,
    _on_error: Closure<dyn FnMut()>,
}

impl RequestFuture {
    /// Listens to `req` (issued in the current task, so no event has fired yet).
    pub(super) fn new(req: IdbRequest) -> Self {
        let slot = slot();
        let on_success = {
            let (slot, req) = (slot.clone(), req.clone());
            Closure::<dyn FnMut()>::new(move || {
                let result = req.result().map_err(|e| js_error(&e));
                fill(&slot, result);
            })
        };
        let on_error = {
            let (slot, req) = (slot.clone(), req.clone());
            Closure::<dyn FnMut()>::new(move || fill(&slot, Err(request_error(&req))))
        };
        req.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
        req.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        RequestFuture {
            req,
            slot,
            _on_success: on_success,
            _on_error: on_error,
        }
    }
}

impl Future for RequestFuture {
    type Output = Result<JsValue, StorageError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_slot(&self.slot, cx)
    }
}

impl Drop for RequestFuture {
    fn drop(&mut self) {
        self.req.set_onsuccess(None);
        self.req.set_onerror(None);
    }
}

/// A request issued without awaiting its result (a put or delete in a write transaction,
/// whose outcome is the transaction's): only a throw of the synchronous call is an error.
pub(super) fn issued(issue: Result<IdbRequest, JsValue>) -> Result<(), StorageError> {
    issue.map(|_| ()).map_err(|e| js_error(&e))
}

/// Awaits a request issued by `issue` (a synchronous IndexedDB call that may throw).
pub(super) async fn request(issue: Result<IdbRequest, JsValue>) -> Result<JsValue, StorageError> {
    RequestFuture::new(issue.map_err(|e| js_error(&e))?).await
}

/// What a cursor step decides.
pub(super) enum Step {
    /// Move to the next record.
    Continue,
    /// Stop here: the walk is complete.
    Stop,
}

/// What a [`CursorWalk`] does at each record (boxed: one copy of the walk for all).
pub(super) type Visit = Box<dyn FnMut(Option<&IdbCursor>) -> Result<Step, StorageError>>;

/// Walks a cursor request (a value or a key cursor): `visit` sees each record, then `None`
/// once the cursor ran past the last one, inside the success event (so it may issue
/// `update`/`delete` on the cursor, or new requests on the transaction), and decides
/// whether to go on. Resolves when `visit` stops or has seen the end; the first error ends
/// the walk.
pub(super) struct CursorWalk {
    req: IdbRequest,
    slot: SharedSlot<Result<(), StorageError>>,
    _on_success: Closure<dyn FnMut()>,
    _on_error: Closure<dyn FnMut()>,
}

impl CursorWalk {
    pub(super) fn new(
        issue: Result<IdbRequest, JsValue>,
        mut visit: Visit,
    ) -> Result<Self, StorageError> {
        let req = issue.map_err(|e| js_error(&e))?;
        let slot = slot();
        let on_success = {
            let (slot, req) = (slot.clone(), req.clone());
            Closure::<dyn FnMut()>::new(move || {
                if is_filled(&slot) {
                    return;
                }
                let result = match req.result() {
                    Ok(r) => r,
                    Err(e) => return fill(&slot, Err(js_error(&e))),
                };
                // null: the cursor ran past the last record.
                let Some(cursor) = result.dyn_ref::<IdbCursor>() else {
                    return fill(&slot, visit(None).map(|_| ()));
                };
                let moved = match visit(Some(cursor)) {
                    Ok(Step::Continue) => cursor.continue_(),
                    Ok(Step::Stop) => return fill(&slot, Ok(())),
                    Err(e) => return fill(&slot, Err(e)),
                };
                if let Err(e) = moved {
                    fill(&slot, Err(js_error(&e)));
                }
            })
        };
        let on_error = {
            let (slot, req) = (slot.clone(), req.clone());
            Closure::<dyn FnMut()>::new(move || fill(&slot, Err(request_error(&req))))
        };
        req.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
        req.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(CursorWalk {
            req,
            slot,
            _on_success: on_success,
            _on_error: on_error,
        })
    }
}

impl Future for CursorWalk {
    type Output = Result<(), StorageError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_slot(&self.slot, cx)
    }
}

impl Drop for CursorWalk {
    fn drop(&mut self) {
        self.req.set_onsuccess(None);
        self.req.set_onerror(None);
    }
}

/// Resolves when a transaction commits (`complete`), or with its error when it aborts.
pub(super) struct TransactionDone {
    tx: IdbTransaction,
    slot: SharedSlot<Result<(), StorageError>>,
    _on_complete: Closure<dyn FnMut()>,
    _on_abort: Closure<dyn FnMut()>,
}

impl TransactionDone {
    /// Listens to `tx`; call it before issuing requests, in the task that created `tx`.
    pub(super) fn new(tx: &IdbTransaction) -> Self {
        let slot = slot();
        let on_complete = {
            let slot = slot.clone();
            Closure::<dyn FnMut()>::new(move || fill(&slot, Ok(())))
        };
        let on_abort = {
            let (slot, tx) = (slot.clone(), tx.clone());
            Closure::<dyn FnMut()>::new(move || fill(&slot, Err(transaction_error(&tx))))
        };
        tx.set_oncomplete(Some(on_complete.as_ref().unchecked_ref()));
        tx.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
        TransactionDone {
            tx: tx.clone(),
            slot,
            _on_complete: on_complete,
            _on_abort: on_abort,
        }
    }

    /// Asks the browser to commit now instead of when the last request settles
    /// (`IDBTransaction.commit()`; where a browser lacks it, the transaction still commits
    /// by itself once its requests are done).
    pub(super) fn commit(&self) {
        #[allow(deprecated)] // web-sys marks it deprecated; it is standard since 2021
        let _ = self.tx.commit();
    }
}

impl Future for TransactionDone {
    type Output = Result<(), StorageError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_slot(&self.slot, cx)
    }
}

impl Drop for TransactionDone {
    fn drop(&mut self) {
        self.tx.set_oncomplete(None);
        self.tx.set_onabort(None);
    }
}

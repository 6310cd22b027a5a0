//! The shell's write path: every persist batch the store produces goes to [`Persister::push`],
//! and one writer task at a time applies what has accumulated.
//!
//! The writer loops [`WriteQueue::take_next`] → [`Storage::apply`] → [`WriteQueue::done`]
//! until the queue is idle. While a transaction is in flight, later batches merge into
//! one, so a burst (the offline backlog after a reconnect) becomes a few transactions
//! instead of one per message, and the UI never waits for storage.
//!
//! A failed write is reported once through the `on_error` callback, and the writer
//! switches to a fresh [`MemoryStorage`]: the store in memory still holds everything, so
//! the chat goes on; only history across reloads is lost. The batch that failed is not
//! written again.
//!
//! The writer waits for the batches to stop coming before it writes (see [`quiet`]): a
//! backlog arrives as a burst of WebSocket frames, one task each, and a transaction
//! started between two frames puts IndexedDB's cost (tens of µs per record, on this
//! thread) between them, delaying every later message on its way to the page.
//!
//! Borrows of the internal state are released before any await and before `on_error`
//! runs, so the callback may push again.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use gloo_timers::callback::Timeout;

use crate::storage::{MemoryStorage, Storage, StorageBatch, StorageError, WriteQueue};
use crate::web::clock::Clock;
use crate::web::storage::AnyStorage;

/// The write path to storage. See the module documentation. Clones share one queue.
#[derive(Clone)]
pub struct Persister {
    inner: Rc<Inner>,
}

struct Inner {
    /// Shared with the writer, which holds a clone across its await: switching to memory
    /// replaces this without disturbing a write in flight.
    storage: RefCell<Rc<AnyStorage>>,
    queue: RefCell<WriteQueue>,
    /// A writer task is running.
    writing: Cell<bool>,
    on_error: Box<dyn Fn(&StorageError)>,
    /// Tasks waiting in [`Persister::flush`].
    idle_waiters: RefCell<Vec<Waker>>,
    failures: Cell<u64>,
    /// Times the writer's wait for a burst to end.
    clock: Clock,
}

impl fmt::Debug for Persister {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Persister")
            .field("storage", &self.inner.storage.borrow())
            .field("queue", &self.inner.queue.borrow())
            .field("writing", &self.inner.writing.get())
            .field("failures", &self.inner.failures.get())
            .finish()
    }
}

impl Persister {
    /// Writes to `storage`; `on_error` hears about a failed write (after which writes go
    /// to memory).
    pub fn new(storage: AnyStorage, on_error: Box<dyn Fn(&StorageError)>) -> Self {
        Persister {
            inner: Rc::new(Inner {
                storage: RefCell::new(Rc::new(storage)),
                queue: RefCell::new(WriteQueue::new()),
                writing: Cell::new(false),
                on_error,
                idle_waiters: RefCell::new(Vec::new()),
                failures: Cell::new(0),
                clock: Clock::new(),
            }),
        }
    }

    /// Queues a batch (empty ones are dropped) and starts the writer if it is not running.
    /// Returns at once; the write happens in a task.
    pub fn push(&self, batch: StorageBatch) {
        self.inner.queue.borrow_mut().push(batch);
        if !self.inner.writing.get() && !self.inner.queue.borrow().is_idle() {
            self.inner.writing.set(true);
            super::task::spawn_local(write_until_idle(self.inner.clone()));
        }
    }

    /// Resolves once every batch pushed so far (and any pushed meanwhile) is committed, or
    /// has failed and been reported.
    pub async fn flush(&self) {
        std::future::poll_fn(|cx| {
            if self.inner.is_idle() {
                Poll::Ready(())
            } else {
                self.inner
                    .idle_waiters
                    .borrow_mut()
                    .push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }

    /// Flushes, then closes the storage.
    pub async fn close(self) {
        self.flush().await;
        self.storage().close();
    }

    /// The storage written to now (for reads: older pages, the outbox). After a failure it
    /// is the memory fallback.
    pub fn storage(&self) -> Rc<AnyStorage> {
        self.inner.storage.borrow().clone()
    }

    /// Transactions started so far ([`WriteQueue::writes`]).
    pub fn transactions(&self) -> u64 {
        self.inner.queue.borrow().writes
    }

    /// Non-empty batches accepted so far ([`WriteQueue::batches`]).
    pub fn batches(&self) -> u64 {
        self.inner.queue.borrow().batches
    }

    /// Failed writes so far (each reported once, each followed by a switch to memory).
    pub fn failures(&self) -> u64 {
        self.inner.failures.get()
    }
}

impl Inner {
    fn is_idle(&self) -> bool {
        !self.writing.get() && self.queue.borrow().is_idle()
    }

    /// A write to `failed` went wrong: continue in memory, close what failed, report.
    fn fall_back(&self, failed: &AnyStorage, error: &StorageError) {
        *self.storage.borrow_mut() = Rc::new(AnyStorage::Memory(MemoryStorage::new()));
        self.failures.set(self.failures.get() + 1);
        failed.close();
        (self.on_error)(error);
    }
}

/// The longest the writer waits for a burst to end, from when it starts waiting: a burst
/// longer than that is written in slices this far apart.
const MAX_QUIET_WAIT_MS: u64 = 500;

/// Tasks in a row without a new batch that end a burst. One is not enough: the browser
/// may run the writer's timer task between two frames of a burst (measured: a tenth of
/// a 10,000-message backlog's time to the page went to writes started mid-burst).
const QUIET_TASKS: u32 = 2;

/// Waits until [`QUIET_TASKS`] tasks pass without a new batch (a single message waits that
/// many), for at most [`MAX_QUIET_WAIT_MS`], and not at all once someone awaits
/// [`Persister::flush`].
async fn quiet(inner: &Inner) {
    let start = inner.clock.now_ms();
    let batches = || inner.queue.borrow().batches;
    let mut quiet_tasks = 0;
    loop {
        if !inner.idle_waiters.borrow().is_empty() {
            return;
        }
        let seen = batches();
        NextTask::default().await;
        quiet_tasks = if batches() == seen {
            quiet_tasks + 1
        } else {
            0
        };
        if quiet_tasks >= QUIET_TASKS
            || inner.clock.now_ms().saturating_sub(start) >= MAX_QUIET_WAIT_MS
        {
            return;
        }
    }
}

/// Ready in a later task: a `setTimeout(0)` runs after the tasks already queued (the
/// next frames of a burst), where a microtask would run before them.
#[derive(Default)]
struct NextTask {
    state: Rc<RefCell<(bool, Option<Waker>)>>,
    /// Dropping it after it fired is harmless (`clearTimeout` of a spent id).
    timeout: Option<Timeout>,
}

impl Future for NextTask {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.borrow().0 {
            return Poll::Ready(());
        }
        self.state.borrow_mut().1 = Some(cx.waker().clone());
        if self.timeout.is_none() {
            let state = self.state.clone();
            self.timeout = Some(Timeout::new(0, move || {
                let waker = {
                    let mut s = state.borrow_mut();
                    s.0 = true;
                    s.1.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            }));
        }
        Poll::Pending
    }
}

/// The writer task: one transaction at a time until nothing is pending, each once the
/// batches stop coming.
async fn write_until_idle(inner: Rc<Inner>) {
    loop {
        quiet(&inner).await;
        let next = inner.queue.borrow_mut().take_next();
        let Some(batch) = next else {
            break;
        };
        let storage = inner.storage.borrow().clone();
        let result = storage.apply(batch).await;
        if let Err(e) = result {
            inner.fall_back(&storage, &e);
        }
        inner.queue.borrow_mut().done();
    }
    inner.writing.set(false);
    let waiters = std::mem::take(&mut *inner.idle_waiters.borrow_mut());
    for w in waiters {
        w.wake();
    }
}

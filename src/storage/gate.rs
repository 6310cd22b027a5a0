//! One call at a time, for backends whose apply reads before it writes: the key-value
//! layout awaits many key writes, and a read in between could see a chunk already replaced;
//! the IndexedDB blocks are read and rewritten by one apply, planned on what the one before
//! it left. Like IndexedDB, a call waits for the one before it.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};

#[derive(Debug, Default)]
pub(crate) struct Gate {
    busy: Cell<bool>,
    waiting: RefCell<Vec<Waker>>,
}

/// Held while a call runs; dropping it lets the next one in.
pub(crate) struct Pass<'a>(&'a Gate);

impl Gate {
    pub async fn enter(&self) -> Pass<'_> {
        poll_fn(|cx| {
            if self.busy.replace(true) {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        Pass(self)
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.busy.set(false);
        let waiting = std::mem::take(&mut *self.0.waiting.borrow_mut());
        for w in waiting {
            w.wake();
        }
    }
}

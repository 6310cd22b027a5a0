//! One timer for the session's next deadline.
//!
//! The session reports a single deadline ([`crate::session::Session::poll_timeout`]); the
//! shell keeps at most one `setTimeout` (a gloo-timers [`Timeout`]) armed for it. A deadline
//! that moves later keeps the armed timer: it fires early, the session does nothing (a
//! spurious wake-up is harmless by contract) and the timer is armed again for the real
//! deadline. A deadline that moves earlier, or appears, re-arms; `None` cancels.

use gloo_timers::callback::Timeout;

/// `setTimeout` treats delays above 2^31 - 1 ms as 0: never ask for more.
const MAX_DELAY_MS: u64 = i32::MAX as u64;

/// The armed timer, if any, and the deadline it was armed for.
#[derive(Debug, Default)]
pub(crate) struct DeadlineTimer {
    armed: Option<Armed>,
    next_seq: u64,
}

#[derive(Debug)]
struct Armed {
    deadline: u64,
    seq: u64,
    /// Dropping it calls `clearTimeout`.
    _timeout: Timeout,
}

impl DeadlineTimer {
    /// Makes sure a timer fires no later than `deadline` (same clock as `now`); `None`
    /// cancels. `on_fire(seq)` runs when it fires: pass `seq` back to [`Self::fired`].
    /// `now` is read only when a timer is armed: most calls find one armed early enough
    /// (a backlog asks once per message).
    pub(crate) fn schedule<F>(
        &mut self,
        deadline: Option<u64>,
        now: impl FnOnce() -> u64,
        on_fire: F,
    ) where
        F: FnOnce(u64) + 'static,
    {
        let Some(deadline) = deadline else {
            self.armed = None;
            return;
        };
        if self.armed.as_ref().is_some_and(|a| a.deadline <= deadline) {
            return;
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let delay = deadline.saturating_sub(now()).min(MAX_DELAY_MS);
        // Fits: capped at i32::MAX above.
        let delay = u32::try_from(delay).unwrap_or(i32::MAX as u32);
        self.armed = Some(Armed {
            deadline,
            seq,
            _timeout: Timeout::new(delay, move || on_fire(seq)),
        });
    }

    /// The timer armed as `seq` fired: forget it, so the next [`Self::schedule`] arms anew.
    /// Returns false for a timer that was replaced meanwhile (nothing to do then).
    pub(crate) fn fired(&mut self, seq: u64) -> bool {
        if self.armed.as_ref().is_some_and(|a| a.seq == seq) {
            self.armed = None;
            true
        } else {
            false
        }
    }

    /// Cancels the armed timer.
    pub(crate) fn cancel(&mut self) {
        self.armed = None;
    }
}

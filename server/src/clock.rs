//! The server's clock: Unix ms, plus an offset the test hook `POST /test/clock` advances.
//! It gives `/time`, the weights the server assigns, `create_time` and the 2-minute revoke
//! rule. Token expiry uses the real clock ([`real_now_ms`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Real wall-clock Unix ms.
pub fn real_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Wall clock plus a test offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicU64,
}

impl Clock {
    pub fn now_ms(&self) -> u64 {
        real_now_ms().saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Moves the clock forward by `ms`; returns the new time.
    pub fn advance(&self, ms: u64) -> u64 {
        let _ = self
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| {
                Some(o.saturating_add(ms))
            });
        self.now_ms()
    }

    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::SeqCst);
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, the `create_time` format of PROTOCOL.md: the client
/// core's own, so what the server writes cannot drift from what clients write.
pub use imcore::chat::payload::utc_date_time;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance() {
        let c = Clock::default();
        let before = c.now_ms();
        let after = c.advance(3_600_000);
        assert!(after >= before + 3_600_000);
        c.reset();
        assert!(c.now_ms() < after);
    }
}

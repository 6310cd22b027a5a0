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

/// `YYYY-MM-DD HH:MM:SS` in UTC, the `create_time` format of PROTOCOL.md.
pub fn utc_date_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), in i128 so no
    // input overflows.
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    format!("{year:04}-{month:02}-{d:02} {h:02}:{m:02}:{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_date_time(1_717_214_400_123), "2024-06-01 04:00:00");
        assert_eq!(utc_date_time(951_868_799_999), "2000-02-29 23:59:59");
        assert_eq!(utc_date_time(951_868_800_000), "2000-03-01 00:00:00");
        assert!(!utc_date_time(u64::MAX).is_empty());
    }

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

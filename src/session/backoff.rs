//! Reconnect delays: capped exponential backoff with full jitter, from a seeded generator.

use super::config::ReconnectPolicy;

/// SplitMix64: tiny, seedable, good enough for jitter (not for secrets).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, max]`.
    pub(crate) fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(span) => self.next_u64() % span,
            None => self.next_u64(),
        }
    }
}

/// Counts failed attempts since the last stable connection.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    attempt: u32,
    rng: Rng,
}

impl Backoff {
    pub(crate) fn new(seed: u64) -> Self {
        Backoff {
            attempt: 0,
            rng: Rng::new(seed),
        }
    }

    /// The ceiling of the jitter window for the current attempt.
    pub(crate) fn ceiling(&self, policy: &ReconnectPolicy) -> u64 {
        let factor = 1u64.checked_shl(self.attempt.min(40)).unwrap_or(u64::MAX);
        policy
            .initial_delay_ms
            .saturating_mul(factor)
            .min(policy.max_delay_ms)
    }

    /// The delay before the next attempt; advances the attempt counter.
    pub(crate) fn next_delay(&mut self, policy: &ReconnectPolicy) -> u64 {
        let ceiling = self.ceiling(policy);
        self.attempt = self.attempt.saturating_add(1);
        self.rng.up_to(ceiling)
    }

    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_a_capped_doubling_window() {
        let policy = ReconnectPolicy::default();
        let mut b = Backoff::new(7);
        let ceilings: Vec<u64> = (0..8)
            .map(|_| {
                let c = b.ceiling(&policy);
                assert!(b.next_delay(&policy) <= c);
                c
            })
            .collect();
        assert_eq!(
            ceilings,
            [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        b.reset();
        assert_eq!(b.ceiling(&policy), 1_000);
    }

    #[test]
    fn jitter_is_spread_over_the_window() {
        let policy = ReconnectPolicy {
            initial_delay_ms: 10_000,
            max_delay_ms: 10_000,
            ..ReconnectPolicy::default()
        };
        let mut b = Backoff::new(1);
        let draws: Vec<u64> = (0..1000).map(|_| b.next_delay(&policy)).collect();
        let low = draws.iter().filter(|d| **d < 2_500).count();
        let high = draws.iter().filter(|d| **d > 7_500).count();
        assert!(low > 150 && high > 150, "low {low} high {high}");
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let policy = ReconnectPolicy::default();
        let mut b = Backoff::new(3);
        for _ in 0..200 {
            assert!(b.next_delay(&policy) <= policy.max_delay_ms);
        }
    }
}

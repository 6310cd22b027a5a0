//! Server time from round-trip samples, and strictly increasing message `weight`s.
//!
//! PROTOCOL.md orders a conversation by `weight`: the sender's clock corrected to the
//! server's, in Unix ms. The seed computes `offset = local_now - server_time` once per page
//! visit, so its estimate is off by the whole response latency, never follows a change of
//! the device clock, and two messages sent in the same millisecond tie. [`Clock`] measures
//! the offset NTP-style, bounds its error, notices clock changes and never repeats a weight.
//! Like the rest of the core it reads no clock: every call takes the shell's readings.
//!
//! # Inputs
//!
//! * `wall_ms`: `Date.now()`, Unix ms. The user, NTP or a wake-up from sleep may step it,
//!   forwards or backwards.
//! * `mono_ms`: `performance.now()` floored to whole ms, arbitrary origin. It never steps,
//!   but on many platforms it stops while the device sleeps.
//! * `server_time_ms`: the `{time}` of `GET /time`, the server's clock in Unix ms, read
//!   while it handled the request.
//!
//! # Samples
//!
//! Call [`Clock::begin_sample`] right before sending `GET /time` and
//! [`Clock::finish_sample`] with its answer. The [`SampleToken`] carries the send readings,
//! so a sample cannot be assembled from mismatched numbers, and is consumed by
//! `finish_sample`. With `rtt = recv_mono - send_mono` (monotonic, so a wall-clock step
//! cannot corrupt it), the server read its clock somewhere inside the round trip; taking
//! the midpoint,
//!
//! ```text
//! offset = server_time - (send_wall + rtt/2)        (add it to wall time: server time)
//! ```
//!
//! and, however asymmetric the path, the true offset lies within `±rtt/2` of it: the
//! sample's `error_bound_ms` is `rtt/2` rounded up. (Exact for clocks that tick whole
//! milliseconds in step; sub-millisecond phase between the three clocks can add under
//! 2 ms when the server stamps at the very edge of the round trip. Drift since the sample,
//! typically under 0.05 ms/s for a quartz clock, comes on top: one reason for `max_age`.)
//! Queueing only ever lengthens a round trip, so of the
//! last [`ClockConfig::window`] samples of the current epoch the one with the smallest
//! `rtt` wins (NTP's clock filter; the newest on a tie). Samples more than
//! [`ClockConfig::max_age_ms`] older than the newest are dropped. A sample is rejected with
//! a typed [`SampleError`] (and changes nothing) when a reading is absurd, the monotonic
//! clock ran backwards, the round trip exceeds [`ClockConfig::max_rtt_ms`], or the wall
//! clock stepped during the round trip.
//!
//! # Epochs and re-calibration
//!
//! Between steps, wall and monotonic clocks advance together, so `skew = wall - mono` is
//! constant (up to slow slewing). Each sample records its skew. When the current skew
//! differs from the last sample's by more than [`ClockConfig::jump_threshold_ms`], the wall
//! clock was stepped (user, NTP) or the monotonic clock stood still while the device
//! slept. The offsets measured so far are relative to the old wall clock: the next accepted
//! sample starts a new epoch and the old epoch's samples are discarded. Until then they
//! stay, as the best information available (see below).
//!
//! [`Clock::needs_calibration`] is true, meaning "fetch `GET /time` now", before the first
//! sample, after [`Clock::on_reconnect`] (the path, and the server behind it, may have
//! changed) until a sample begun after it completes, once the last sample is
//! [`ClockConfig::max_age_ms`] old, and while the wall clock is stepped from the last
//! sample's skew. Taking two or three samples per calibration lets the filter pick a quiet
//! round trip.
//!
//! # Now, in server time
//!
//! [`Clock::now_server`] in each state (`best` is the winning sample of the epoch):
//!
//! | state | `now_server(mono, wall)` |
//! |---|---|
//! | no sample yet | `wall`, plus the [`Clock::assume_offset`] hint if one was given |
//! | calibrated, skew unchanged (also past `max_age`) | `best.server_time + (mono - best.mid_mono)` |
//! | calibrated, skew changed (stepped or slept) | the later of that and `wall + best.offset` |
//!
//! Calibrated, the time runs on the monotonic clock from the instant the server read its
//! clock, so a step of the wall clock does not move it. After a skew change the two
//! candidates disagree and the clock cannot tell which one moved: a wall clock set
//! backwards (or stepped back by NTP) lags, and so does a monotonic clock that stood still
//! during sleep, while the wall clock kept time. Taking the later one is right in both
//! common cases; it only overshoots when the user sets the wall clock forwards while the
//! app runs, until the re-calibration that `needs_calibration` asks for. Results are
//! clamped to `0..=`[`MAX_SAFE_MS`] (a weight travels as a JSON number into JavaScript).
//!
//! # Weights
//!
//! [`Clock::weight`] is `now_server`, raised to one more than the previous weight when it
//! would not exceed it: strictly increasing within one `Clock`, across calls in the same
//! millisecond, a wall clock stepped back, or a re-calibration that lowered the estimate
//! (after an overshoot, weights advance by 1 per call until server time catches up).
//!
//! A `Clock` lives as long as its monotonic clock's origin: one page visit. Persist
//! [`Calibration::offset_ms`] and pass it to [`Clock::assume_offset`] on the next visit to
//! have a better-than-raw first weight before the first sample.
//!
//! Arithmetic is checked or saturating throughout, and nothing panics, whatever the inputs.

use thiserror::Error;

/// The largest integer a JavaScript `number` holds exactly (`2^53 - 1`): the upper limit
/// of monotonic readings and of [`Clock::now_server`].
pub const MAX_SAFE_MS: u64 = (1 << 53) - 1;
/// The latest plausible Unix ms (9999-12-31T23:59:59.999Z): the upper limit of wall and
/// server readings in a sample.
pub const MAX_UNIX_MS: u64 = 253_402_300_799_999;
/// The earliest plausible server time (2000-01-01T00:00:00Z). Device clocks may be set
/// earlier (a flat RTC battery), servers are not.
pub const MIN_SERVER_MS: u64 = 946_684_800_000;

/// Tuning of a [`Clock`]; [`Default`] suits a chat client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockConfig {
    /// Samples kept per epoch; the smallest round trip among them wins. At least 1
    /// (0 is treated as 1). Default 8.
    pub window: usize,
    /// Age of the last sample after which [`Clock::needs_calibration`] asks for another,
    /// and beyond which older samples are dropped when a new one arrives. Default 10 min.
    pub max_age_ms: u64,
    /// Change of `wall - mono` beyond which the wall clock counts as stepped. Default 1 s.
    pub jump_threshold_ms: u64,
    /// Longest round trip accepted (its error bound would be half of it). Default 30 s.
    pub max_rtt_ms: u64,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            window: 8,
            max_age_ms: 10 * 60 * 1000,
            jump_threshold_ms: 1000,
            max_rtt_ms: 30_000,
        }
    }
}

/// An open round trip, from [`Clock::begin_sample`] to [`Clock::finish_sample`].
///
/// Neither `Clone` nor constructible outside this module: one token, one answer.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "pass the token to Clock::finish_sample with the server's answer"]
pub struct SampleToken {
    send_mono: u64,
    send_wall: u64,
    /// `Clock::reconnects` when the sample began.
    generation: u64,
}

impl SampleToken {
    /// The monotonic reading when the request was sent, e.g. to time it out.
    pub fn send_mono_ms(&self) -> u64 {
        self.send_mono
    }
}

/// Why [`Clock::finish_sample`] rejected a sample. A rejected sample changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SampleError {
    /// A monotonic reading above [`MAX_SAFE_MS`].
    #[error("monotonic reading {0} ms is out of range")]
    MonotonicOutOfRange(u64),
    /// A wall-clock reading above [`MAX_UNIX_MS`].
    #[error("wall-clock reading {0} ms is out of range")]
    WallOutOfRange(u64),
    /// A server time outside [`MIN_SERVER_MS`]`..=`[`MAX_UNIX_MS`].
    #[error("server time {0} ms is not a plausible Unix time")]
    ServerTimeOutOfRange(u64),
    /// The monotonic clock read earlier at the answer than at the request.
    #[error(
        "monotonic clock ran backwards: sent at {send_mono_ms} ms, answered at {recv_mono_ms} ms"
    )]
    NegativeRoundTrip {
        /// Monotonic reading at the request.
        send_mono_ms: u64,
        /// Monotonic reading at the answer.
        recv_mono_ms: u64,
    },
    /// The round trip took longer than [`ClockConfig::max_rtt_ms`].
    #[error("round trip of {rtt_ms} ms exceeds the {max_rtt_ms} ms limit")]
    RoundTripTooLong {
        /// Measured round trip.
        rtt_ms: u64,
        /// The configured limit.
        max_rtt_ms: u64,
    },
    /// `wall - mono` changed by more than [`ClockConfig::jump_threshold_ms`] during the
    /// round trip: the wall clock was stepped. Sample again.
    #[error("wall clock stepped by {step_ms} ms during the round trip")]
    WallClockStepped {
        /// Change of `wall - mono` between request and answer.
        step_ms: i64,
    },
}

/// The current calibration, for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    /// Add to the wall clock to get server time (negative when the device runs ahead),
    /// relative to the wall clock of the current epoch.
    pub offset_ms: i64,
    /// The true offset was within `±error_bound_ms` of `offset_ms` at the winning sample:
    /// half its round trip, rounded up.
    pub error_bound_ms: u64,
    /// Samples in the current epoch's window.
    pub samples: usize,
}

/// An accepted sample. All readings are validated (`<= MAX_SAFE_MS`), so the `i64`
/// quantities below cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    rtt: u64,
    /// Monotonic reading at the midpoint of the round trip, where `server_time` is placed.
    mid_mono: u64,
    recv_mono: u64,
    server_time: u64,
    /// `server_time - (send_wall + rtt/2)`.
    offset: i64,
    /// `wall - mono` at the answer.
    skew: i64,
}

impl Sample {
    fn error_bound(&self) -> u64 {
        self.rtt.div_ceil(2)
    }
}

/// Server-time calibration and weights. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Clock {
    config: ClockConfig,
    /// The current epoch, oldest first (in order of arrival); at most `window` of them, so
    /// a `Vec` (a `VecDeque`'s code would be some 1 KB of wasm for this one type).
    samples: Vec<Sample>,
    /// Count of [`Clock::on_reconnect`] calls; a token remembers it.
    reconnects: u64,
    /// Set by `on_reconnect`, cleared by a sample begun after it.
    reconnect_pending: bool,
    /// Offset to use before the first sample.
    hint: Option<i64>,
    last_weight: Option<u64>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    /// An uncalibrated clock with the default [`ClockConfig`].
    pub fn new() -> Self {
        Clock::with_config(ClockConfig::default())
    }

    /// An uncalibrated clock with `config` (a `window` of 0 is taken as 1).
    pub fn with_config(config: ClockConfig) -> Self {
        let config = ClockConfig {
            window: config.window.max(1),
            ..config
        };
        Clock {
            config,
            samples: Vec::with_capacity(config.window),
            reconnects: 0,
            reconnect_pending: false,
            hint: None,
            last_weight: None,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> ClockConfig {
        self.config
    }

    /// An offset to apply to the wall clock until the first sample, e.g. the last
    /// [`Calibration::offset_ms`] of a previous visit. It calibrates nothing:
    /// [`Clock::needs_calibration`] stays true and [`Clock::offset`] `None`.
    pub fn assume_offset(&mut self, offset_ms: i64) {
        self.hint = Some(offset_ms);
    }

    /// Starts a sample: call right before sending `GET /time`.
    pub fn begin_sample(&self, mono_ms: u64, wall_ms: u64) -> SampleToken {
        SampleToken {
            send_mono: mono_ms,
            send_wall: wall_ms,
            generation: self.reconnects,
        }
    }

    /// Completes a sample with the server's `time` (Unix ms), read when the answer
    /// arrived. Returns the calibration that results, or why the sample was rejected (and
    /// nothing changed).
    pub fn finish_sample(
        &mut self,
        token: SampleToken,
        server_time_ms: u64,
        mono_ms: u64,
        wall_ms: u64,
    ) -> Result<Calibration, SampleError> {
        let SampleToken {
            send_mono,
            send_wall,
            generation,
        } = token;
        for mono in [send_mono, mono_ms] {
            if mono > MAX_SAFE_MS {
                return Err(SampleError::MonotonicOutOfRange(mono));
            }
        }
        for wall in [send_wall, wall_ms] {
            if wall > MAX_UNIX_MS {
                return Err(SampleError::WallOutOfRange(wall));
            }
        }
        if !(MIN_SERVER_MS..=MAX_UNIX_MS).contains(&server_time_ms) {
            return Err(SampleError::ServerTimeOutOfRange(server_time_ms));
        }
        let Some(rtt) = mono_ms.checked_sub(send_mono) else {
            return Err(SampleError::NegativeRoundTrip {
                send_mono_ms: send_mono,
                recv_mono_ms: mono_ms,
            });
        };
        if rtt > self.config.max_rtt_ms {
            return Err(SampleError::RoundTripTooLong {
                rtt_ms: rtt,
                max_rtt_ms: self.config.max_rtt_ms,
            });
        }
        // Every reading is below 2^58, so these i64 differences cannot overflow.
        let send_skew = to_i64(send_wall) - to_i64(send_mono);
        let skew = to_i64(wall_ms) - to_i64(mono_ms);
        let step = skew - send_skew;
        if step.unsigned_abs() > self.config.jump_threshold_ms {
            return Err(SampleError::WallClockStepped { step_ms: step });
        }
        let half = rtt / 2;
        let sample = Sample {
            rtt,
            mid_mono: send_mono + half,
            recv_mono: mono_ms,
            server_time: server_time_ms,
            offset: to_i64(server_time_ms) - (to_i64(send_wall) + to_i64(half)),
            skew,
        };

        if let Some(last) = self.samples.last() {
            if self.stepped(last.skew, i128::from(skew)) {
                // A new epoch: the old offsets are relative to the old wall clock.
                self.samples.clear();
            }
        }
        let max_age = self.config.max_age_ms;
        self.samples
            .retain(|s| mono_ms.saturating_sub(s.recv_mono) <= max_age);
        self.samples.push(sample);
        let excess = self.samples.len().saturating_sub(self.config.window);
        self.samples.drain(..excess);
        if generation == self.reconnects {
            self.reconnect_pending = false;
        }
        Ok(self.calibration_now())
    }

    /// Notes a reconnection of the transport: [`Clock::needs_calibration`] is true until a
    /// sample begun after this call completes. The samples are kept.
    pub fn on_reconnect(&mut self) {
        self.reconnects = self.reconnects.wrapping_add(1);
        self.reconnect_pending = true;
    }

    /// Whether to take a sample now: before the first one, after [`Clock::on_reconnect`],
    /// once the last sample is `max_age_ms` old (or the monotonic clock reads before it),
    /// and while the wall clock is stepped from the last sample's `wall - mono`.
    pub fn needs_calibration(&self, mono_ms: u64, wall_ms: u64) -> bool {
        let Some(last) = self.samples.last() else {
            return true;
        };
        self.reconnect_pending
            || mono_ms < last.recv_mono
            || mono_ms - last.recv_mono >= self.config.max_age_ms
            || self.stepped(last.skew, i128::from(wall_ms) - i128::from(mono_ms))
    }

    /// When (monotonic ms) the last sample grows too old and [`Clock::needs_calibration`]
    /// turns true by age; `None` before the first sample.
    pub fn calibration_due(&self) -> Option<u64> {
        self.samples
            .last()
            .map(|last| last.recv_mono.saturating_add(self.config.max_age_ms))
    }

    /// The current calibration, `None` before the first sample. After a wall-clock step it
    /// describes the old epoch until the next sample.
    pub fn offset(&self) -> Option<Calibration> {
        (!self.samples.is_empty()).then(|| self.calibration_now())
    }

    /// Now, in server time (Unix ms); see the table in the
    /// [module documentation](self#now-in-server-time).
    pub fn now_server(&self, mono_ms: u64, wall_ms: u64) -> u64 {
        let wall = i128::from(wall_ms);
        let now = match (self.best(), self.samples.last()) {
            (Some(best), Some(last)) => {
                let anchored =
                    i128::from(best.server_time) + i128::from(mono_ms) - i128::from(best.mid_mono);
                if self.stepped(last.skew, wall - i128::from(mono_ms)) {
                    anchored.max(wall + i128::from(best.offset))
                } else {
                    anchored
                }
            }
            _ => wall + i128::from(self.hint.unwrap_or(0)),
        };
        // In range after the clamp, so the conversion cannot fail.
        u64::try_from(now.clamp(0, i128::from(MAX_SAFE_MS))).unwrap_or(0)
    }

    /// A weight for a message sent now: [`Clock::now_server`], but strictly greater than
    /// every weight this clock returned before.
    pub fn weight(&mut self, mono_ms: u64, wall_ms: u64) -> u64 {
        let now = self.now_server(mono_ms, wall_ms);
        let weight = match self.last_weight {
            Some(last) => now.max(last.saturating_add(1)),
            None => now,
        };
        self.last_weight = Some(weight);
        weight
    }

    /// The last weight returned by [`Clock::weight`].
    pub fn last_weight(&self) -> Option<u64> {
        self.last_weight
    }

    /// A weight used elsewhere (drafted by another tab): later ones stay above it.
    pub fn note_weight(&mut self, weight: u64) {
        self.last_weight = Some(self.last_weight.map_or(weight, |w| w.max(weight)));
    }

    /// Whether `skew` differs from a sample's `sample_skew` by more than the threshold.
    fn stepped(&self, sample_skew: i64, skew: i128) -> bool {
        (skew - i128::from(sample_skew)).unsigned_abs() > u128::from(self.config.jump_threshold_ms)
    }

    /// The sample with the smallest round trip, the newest on a tie.
    fn best(&self) -> Option<&Sample> {
        self.samples.iter().rev().min_by_key(|s| s.rtt)
    }

    fn calibration_now(&self) -> Calibration {
        let (offset_ms, error_bound_ms) = self
            .best()
            .map_or((0, 0), |best| (best.offset, best.error_bound()));
        Calibration {
            offset_ms,
            error_bound_ms,
            samples: self.samples.len(),
        }
    }
}

/// A validated reading (`<= MAX_UNIX_MS < 2^58`) as `i64`.
fn to_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-06-01T04:00:00Z.
    const T0: u64 = 1_717_214_400_000;
    /// A device one hour ahead of the server, `mono = wall - SKEW`.
    const AHEAD: u64 = 3_600_000;
    const SKEW: u64 = T0 + AHEAD - 5_000;

    /// A sample sent at true instant `t` (ms after T0) by the device above, stamped by the
    /// server `up` ms later and answered `down` ms after that.
    fn sample(clock: &mut Clock, t: u64, up: u64, down: u64) -> Result<Calibration, SampleError> {
        let wall = |t: u64| T0 + AHEAD + t;
        let token = clock.begin_sample(wall(t) - SKEW, wall(t));
        let recv = t + up + down;
        clock.finish_sample(token, T0 + t + up, wall(recv) - SKEW, wall(recv))
    }

    #[test]
    fn uncalibrated_follows_the_wall_clock_and_the_hint() {
        let mut clock = Clock::new();
        assert!(clock.needs_calibration(0, T0));
        assert_eq!(clock.offset(), None);
        assert_eq!(clock.now_server(5, T0), T0);
        clock.assume_offset(-(AHEAD as i64));
        assert_eq!(clock.now_server(5, T0 + AHEAD), T0);
        assert!(clock.needs_calibration(5, T0 + AHEAD));
        assert_eq!(clock.offset(), None);
    }

    #[test]
    fn midpoint_offset_and_half_rtt_bound() {
        let mut clock = Clock::new();
        // Stamped 5 ms into an 85 ms round trip: the midpoint is 42, the error 37 <= 43.
        let cal = sample(&mut clock, 1_000, 5, 80).unwrap();
        assert_eq!(
            cal,
            Calibration {
                offset_ms: -(AHEAD as i64) - 37,
                error_bound_ms: 43,
                samples: 1
            }
        );
        assert_eq!(clock.offset(), Some(cal));
        assert!(!clock.needs_calibration(1_085 + T0 + AHEAD - SKEW, T0 + AHEAD + 1_085));
    }

    #[test]
    fn smallest_round_trip_wins_newest_on_tie() {
        let mut clock = Clock::new();
        sample(&mut clock, 1_000, 50, 50).unwrap();
        let cal = sample(&mut clock, 2_000, 10, 10).unwrap();
        assert_eq!((cal.offset_ms, cal.error_bound_ms), (-(AHEAD as i64), 10));
        let cal = sample(&mut clock, 3_000, 200, 10).unwrap();
        assert_eq!((cal.error_bound_ms, cal.samples), (10, 3));
        // Same round trip, stamped late: the newer sample wins the tie.
        let cal = sample(&mut clock, 4_000, 20, 0).unwrap();
        assert_eq!(
            (cal.offset_ms, cal.error_bound_ms),
            (-(AHEAD as i64) + 10, 10)
        );
    }

    #[test]
    fn window_keeps_the_last_n() {
        let mut clock = Clock::with_config(ClockConfig {
            window: 3,
            ..ClockConfig::default()
        });
        sample(&mut clock, 0, 1, 1).unwrap();
        for i in 1..=3 {
            sample(&mut clock, i * 1_000, 30, 30).unwrap();
        }
        // The 2 ms sample fell out of the window.
        assert_eq!(clock.offset().unwrap().error_bound_ms, 30);
        assert_eq!(clock.offset().unwrap().samples, 3);
        let zero = Clock::with_config(ClockConfig {
            window: 0,
            ..ClockConfig::default()
        });
        assert_eq!(zero.config().window, 1);
    }

    #[test]
    fn old_samples_age_out() {
        let mut clock = Clock::new();
        sample(&mut clock, 0, 1, 1).unwrap();
        let wall = T0 + AHEAD + 600_002;
        assert!(!clock.needs_calibration(wall - 1 - SKEW, wall - 1));
        assert!(clock.needs_calibration(wall - SKEW, wall));
        let cal = sample(&mut clock, 700_000, 40, 40).unwrap();
        assert_eq!((cal.error_bound_ms, cal.samples), (40, 1));
    }

    #[test]
    fn reconnect_needs_a_sample_begun_after_it() {
        let mut clock = Clock::new();
        sample(&mut clock, 0, 10, 10).unwrap();
        let now = |t: u64| (T0 + AHEAD + t - SKEW, T0 + AHEAD + t);
        let (mono, wall) = now(100);
        assert!(!clock.needs_calibration(mono, wall));
        let early = clock.begin_sample(mono, wall);
        clock.on_reconnect();
        assert!(clock.needs_calibration(mono, wall));
        let (mono, wall) = now(150);
        clock.finish_sample(early, T0 + 120, mono, wall).unwrap();
        assert!(clock.needs_calibration(mono, wall));
        sample(&mut clock, 200, 10, 10).unwrap();
        let (mono, wall) = now(300);
        assert!(!clock.needs_calibration(mono, wall));
        assert_eq!(clock.offset().unwrap().samples, 3);
    }

    #[test]
    fn rejects_bad_samples_without_changing_anything() {
        let mut clock = Clock::new();
        sample(&mut clock, 0, 10, 10).unwrap();
        let before = clock.clone();
        use SampleError::*;
        let (m, w) = (1_000, T0);
        // [send_mono, send_wall, server_time, recv_mono, recv_wall]
        let cases = [
            (
                [m, w, T0, m - 1, w + 10],
                NegativeRoundTrip {
                    send_mono_ms: m,
                    recv_mono_ms: m - 1,
                },
            ),
            (
                [m, w, T0, m + 40_000, w + 40_000],
                RoundTripTooLong {
                    rtt_ms: 40_000,
                    max_rtt_ms: 30_000,
                },
            ),
            ([m, w, 0, m + 10, w + 10], ServerTimeOutOfRange(0)),
            (
                [m, w, MAX_UNIX_MS + 1, m + 10, w + 10],
                ServerTimeOutOfRange(MAX_UNIX_MS + 1),
            ),
            ([m, u64::MAX, T0, m + 10, w + 10], WallOutOfRange(u64::MAX)),
            (
                [m, w, T0, m + 10, MAX_UNIX_MS + 1],
                WallOutOfRange(MAX_UNIX_MS + 1),
            ),
            (
                [u64::MAX, w, T0, m + 10, w + 10],
                MonotonicOutOfRange(u64::MAX),
            ),
            (
                [m, w, T0, MAX_SAFE_MS + 1, w + 10],
                MonotonicOutOfRange(MAX_SAFE_MS + 1),
            ),
            (
                [m, w, T0, m + 10, w - 2_000],
                WallClockStepped { step_ms: -2_010 },
            ),
        ];
        for ([send_mono, send_wall, server, recv_mono, recv_wall], expected) in cases {
            let token = clock.begin_sample(send_mono, send_wall);
            assert_eq!(token.send_mono_ms(), send_mono);
            let got = clock.finish_sample(token, server, recv_mono, recv_wall);
            assert_eq!(got, Err(expected));
            assert!(!expected.to_string().is_empty());
            assert_eq!(format!("{clock:?}"), format!("{before:?}"));
        }
    }

    #[test]
    fn calibrated_time_runs_on_the_monotonic_clock() {
        let mut clock = Clock::new();
        // Symmetric 20 ms: exact.
        sample(&mut clock, 0, 10, 10).unwrap();
        let mono = |t: u64| T0 + AHEAD + t - SKEW;
        assert_eq!(
            clock.now_server(mono(5_000), T0 + AHEAD + 5_000),
            T0 + 5_000
        );
        // The wall clock drifts 900 ms (under the threshold): ignored.
        assert_eq!(
            clock.now_server(mono(6_000), T0 + AHEAD + 6_900),
            T0 + 6_000
        );
        // Stepped back 10 min: the monotonic anchor is the later, and right.
        assert_eq!(
            clock.now_server(mono(7_000), T0 + AHEAD + 7_000 - 600_000),
            T0 + 7_000
        );
        assert!(clock.needs_calibration(mono(7_000), T0 + AHEAD + 7_000 - 600_000));
        // Slept 30 min with the monotonic clock stopped: wall + offset is the later, and right.
        let wall = T0 + AHEAD + 8_000 + 1_800_000;
        assert_eq!(clock.now_server(mono(8_000), wall), T0 + 1_808_000);
        assert!(clock.needs_calibration(mono(8_000), wall));
    }

    #[test]
    fn a_step_starts_a_new_epoch() {
        let mut clock = Clock::new();
        sample(&mut clock, 0, 1, 1).unwrap();
        sample(&mut clock, 1_000, 30, 30).unwrap();
        // The user sets the clock back two hours (now one hour behind the server).
        let back = 2 * AHEAD;
        let send_wall = T0 + AHEAD + 5_000 - back;
        let token = clock.begin_sample(T0 + AHEAD + 5_000 - SKEW, send_wall);
        let cal = clock
            .finish_sample(token, T0 + 5_025, T0 + AHEAD + 5_050 - SKEW, send_wall + 50)
            .unwrap();
        assert_eq!(
            cal,
            Calibration {
                offset_ms: AHEAD as i64,
                error_bound_ms: 25,
                samples: 1
            }
        );
        assert!(!clock.needs_calibration(T0 + AHEAD + 6_000 - SKEW, send_wall + 1_000));
    }

    #[test]
    fn weights_strictly_increase() {
        let mut clock = Clock::new();
        let first = clock.weight(0, T0);
        assert_eq!(first, T0);
        assert_eq!(clock.weight(0, T0), T0 + 1);
        assert_eq!(clock.weight(1, T0 - 600_000), T0 + 2);
        assert_eq!(clock.last_weight(), Some(T0 + 2));
        assert_eq!(clock.weight(10, T0 + 10), T0 + 10);
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let mut clock = Clock::new();
        for (m, w) in [(0, 0), (u64::MAX, u64::MAX), (0, u64::MAX), (u64::MAX, 0)] {
            assert!(clock.now_server(m, w) <= MAX_SAFE_MS);
            let _ = clock.weight(m, w);
            let _ = clock.needs_calibration(m, w);
        }
        sample(&mut clock, 0, 0, 0).unwrap();
        clock.assume_offset(i64::MIN);
        for (m, w) in [(0, 0), (u64::MAX, u64::MAX), (0, u64::MAX), (u64::MAX, 0)] {
            let before = clock.last_weight().unwrap();
            assert!(clock.weight(m, w) > before);
            let _ = clock.needs_calibration(m, w);
        }
        let mut clock = Clock::new();
        clock.assume_offset(i64::MAX);
        assert_eq!(clock.now_server(0, u64::MAX), MAX_SAFE_MS);
        clock.assume_offset(i64::MIN);
        assert_eq!(clock.now_server(0, 0), 0);
        clock.last_weight = Some(u64::MAX - 1);
        assert_eq!(clock.weight(0, 0), u64::MAX);
        assert_eq!(clock.weight(0, 0), u64::MAX);
    }
}

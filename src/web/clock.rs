//! Time and randomness for the session, read from the JS host.
//!
//! The session's clock is monotonic milliseconds: `performance.now()` where the host has it,
//! else `Date.now()` kept from running backwards. Wall time (`Date.now()`) is only used to
//! turn the session's deadlines into timestamps JS can show. The reconnect jitter is seeded
//! from `crypto.getRandomValues` (or `Math.random` on a host without Web Crypto).
//!
//! Everything is looked up on `globalThis`, so the same code runs in a window, a worker or a
//! mini-program (which has no `window`).

use std::cell::Cell;

use js_sys::{Function, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// A monotonic millisecond clock.
#[derive(Debug)]
pub(crate) struct Clock {
    /// `performance` and its `now` method, if the host has them.
    performance: Option<(JsValue, Function)>,
    /// The last value returned: the clock never goes backwards.
    last: Cell<u64>,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        let performance = global_property("performance").and_then(|perf| {
            let now = Reflect::get(&perf, &"now".into()).ok()?;
            let now = now.dyn_into::<Function>().ok()?;
            Some((perf, now))
        });
        Clock {
            performance,
            last: Cell::new(0),
        }
    }

    /// Milliseconds on a monotonic clock (only differences mean anything).
    pub(crate) fn now_ms(&self) -> u64 {
        let raw = self
            .performance
            .as_ref()
            .and_then(|(perf, now)| now.call0(perf).ok())
            .and_then(|v| v.as_f64())
            .unwrap_or_else(js_sys::Date::now);
        // `as` saturates: NaN and negatives become 0, huge values u64::MAX.
        let now = (raw as u64).max(self.last.get());
        self.last.set(now);
        now
    }
}

/// Milliseconds since the Unix epoch, like `Date.now()`.
pub(crate) fn wall_ms() -> f64 {
    js_sys::Date::now()
}

/// 64 random bits for the reconnect jitter.
pub(crate) fn random_seed() -> u64 {
    let bytes = Uint8Array::new_with_length(8);
    let filled = global_property("crypto")
        .and_then(|crypto| {
            let get = Reflect::get(&crypto, &"getRandomValues".into()).ok()?;
            let get = get.dyn_into::<Function>().ok()?;
            get.call1(&crypto, &bytes).ok()
        })
        .is_some();
    if filled {
        let mut out = [0u8; 8];
        bytes.copy_to(&mut out);
        u64::from_le_bytes(out)
    } else {
        let hi = (js_sys::Math::random() * 4_294_967_296.0) as u64;
        let lo = (js_sys::Math::random() * 4_294_967_296.0) as u64;
        (hi << 32) ^ lo ^ (wall_ms() as u64)
    }
}

/// `globalThis[name]` if it is an object.
pub(crate) fn global_property(name: &str) -> Option<JsValue> {
    Reflect::get(&js_sys::global(), &name.into())
        .ok()
        .filter(|v| v.is_object())
}

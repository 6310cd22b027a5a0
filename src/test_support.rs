//! Fixtures shared by the unit tests, the integration tests (native and wasm32), the
//! benches and the storage conformance suite, so that the shape of a test message is
//! written once and a new `WireMessage` field is added in one place. Compiled only for
//! tests (`cfg(test)` or the `test-support` feature, see Cargo.toml) and the bench-only
//! build (`browser-bench`, whose seeder writes these messages).
#![doc(hidden)]
// Test support: `block_on` panics on the one thing a memory backend never does.
#![allow(clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::chat::{Content, ConversationId, ServerId, UserId, WireMessage};

/// The user whose client the tests run.
pub const ME: UserId = 1;
/// 2024-06-01 12:00:00 UTC, where the tests' clocks start.
pub const T0: u64 = 1_717_214_400_000;

/// The 1:1 conversation of [`ME`] with `peer` (any `peer` above [`ME`]).
pub fn direct(peer: UserId) -> ConversationId {
    ConversationId::Direct {
        low: ME,
        high: peer,
    }
}

/// A text message `sender` → `receiver` in `conversation`: unread, not revoked, no sender
/// name or avatar. Tests change the field they are about with `..text_message(…)`.
pub fn text_message(
    id: ServerId,
    conversation: ConversationId,
    sender: UserId,
    receiver: u64,
    text: impl Into<String>,
    weight: u64,
) -> WireMessage {
    WireMessage {
        id,
        conversation_id: conversation,
        sender_id: sender,
        receiver_id: receiver,
        content: Content::Text { text: text.into() },
        weight,
        is_read: false,
        revoked: false,
        sender_name: None,
        sender_avatar: None,
    }
}

/// Runs a future of a backend that never waits (the memory and key-value backends): one
/// poll finishes it.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a memory backend never returns Pending"),
    }
}

/// Deterministic xorshift64*: the same seed gives the same run on every machine, so a
/// failing randomized test or a benchmark input can be replayed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    // Not an `Iterator`: it never ends, and callers want a `u64`, not an `Option`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
    }
}

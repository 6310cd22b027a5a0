//! The session's queue of outputs, and the write that packets encoded now join.
//!
//! Packets join the last [`Output::Transmit`] queued as long as nothing but events to the
//! application came after it. Events never touch the wire, so a PUBACK may overtake the
//! message it acknowledges within one drain; what it gains is one write per input instead of
//! one per packet: a chunk of fifty QoS 1 publishes is answered by one WebSocket message
//! holding fifty PUBACKs, not fifty messages of four bytes. A `Close`, `Open` or credentials
//! request ends the open write, so bytes never cross a connection boundary.

use super::events::Output;
use crate::collections::Fifo;

#[derive(Debug, Default)]
pub(super) struct Outputs {
    queue: Fifo<Output>,
    /// Outputs ever popped: the absolute position of the queue's front.
    popped: u64,
    /// Absolute position of the `Transmit` that packets join, while one is open.
    open_write: Option<u64>,
}

impl Outputs {
    pub(super) fn push(&mut self, output: Output) {
        if !matches!(output, Output::Event(_)) {
            self.open_write = None;
        }
        self.queue.push_back(output);
    }

    pub(super) fn pop(&mut self) -> Option<Output> {
        let output = self.queue.pop_front()?;
        self.popped += 1;
        Some(output)
    }

    /// Runs `encode` on the open write, or on a new one when none is open (or it holds
    /// `limit` bytes already, or was popped). A write left empty is dropped again.
    pub(super) fn write<R>(&mut self, limit: usize, encode: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let index = self
            .open_write
            .and_then(|at| at.checked_sub(self.popped))
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| matches!(self.queue.get(i), Some(Output::Transmit(b)) if b.len() < limit));
        let index = match index {
            Some(i) => i,
            None => {
                self.queue.push_back(Output::Transmit(Vec::new()));
                let i = self.queue.len().saturating_sub(1);
                self.open_write = Some(self.popped + i as u64);
                i
            }
        };
        // Always a Transmit: found or pushed above.
        let Some(Output::Transmit(buf)) = self.queue.get_mut(index) else {
            return encode(&mut Vec::new());
        };
        let result = encode(buf);
        if buf.is_empty() {
            self.queue.remove(index);
            self.open_write = None;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::events::{Event, Status};

    fn drain(o: &mut Outputs) -> Vec<Output> {
        std::iter::from_fn(|| o.pop()).collect()
    }

    #[test]
    fn packets_join_across_events_but_not_across_a_close() {
        let mut o = Outputs::default();
        o.write(100, |b| b.push(1));
        o.push(Output::Event(Event::Status(Status::Connected)));
        o.write(100, |b| b.push(2));
        o.push(Output::Close);
        o.write(100, |b| b.push(3));
        assert_eq!(
            drain(&mut o),
            vec![
                Output::Transmit(vec![1, 2]),
                Output::Event(Event::Status(Status::Connected)),
                Output::Close,
                Output::Transmit(vec![3]),
            ]
        );
    }

    #[test]
    fn a_popped_or_full_write_is_not_joined_and_an_empty_one_is_dropped() {
        let mut o = Outputs::default();
        o.write(2, |b| b.extend([1, 2]));
        o.write(2, |b| b.push(3));
        assert_eq!(o.pop(), Some(Output::Transmit(vec![1, 2])));
        assert_eq!(o.pop(), Some(Output::Transmit(vec![3])));
        o.write(2, |b| b.push(4));
        o.push(Output::Event(Event::Status(Status::Idle)));
        assert_eq!(o.pop(), Some(Output::Transmit(vec![4])));
        o.write(2, |b| b.push(5));
        o.write(2, |_| ());
        o.write(2, |b| b.push(6));
        assert_eq!(
            drain(&mut o),
            vec![
                Output::Event(Event::Status(Status::Idle)),
                Output::Transmit(vec![5, 6]),
            ]
        );
        o.write(2, |_| ());
        assert_eq!(o.pop(), None);
    }
}

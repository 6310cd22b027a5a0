//! Outgoing publishes: the queue of those not yet sent, the in-flight window of those
//! awaiting acknowledgement, and the packet identifiers they hold.

use crate::collections::{Fifo, Gather, VecMap};
use crate::mqtt::{Publish, QoS};

use super::events::PublishId;

/// Where an in-flight publish stands in its QoS flow: the acknowledgement it awaits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// QoS 1: PUBLISH sent, PUBACK awaited.
    Qos1Sent,
    /// QoS 2: PUBLISH sent, PUBREC awaited.
    Qos2Sent,
    /// QoS 2: PUBREL sent, PUBCOMP awaited.
    Released,
}

#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub(crate) id: PublishId,
    pub(crate) publish: Publish,
    pub(crate) stage: Stage,
    /// Written on the current connection; false after a reconnect until resent.
    pub(crate) sent: bool,
    /// Written on some connection of this session: a resend carries DUP.
    pub(crate) sent_before: bool,
}

/// A publish accepted but not yet given a packet identifier.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) id: PublishId,
    pub(crate) publish: Publish,
}

/// Outgoing state that survives reconnections of a persistent session.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    pub(crate) queue: Fifo<Queued>,
    /// In-flight publishes by send order (ascending sequence number), so that a resend
    /// keeps the original order. Acks mostly come in send order, so removals are mostly at
    /// the front (a queue instead of a `BTreeMap`: a fraction of the wasm code).
    inflight: Fifo<(u64, InFlight)>,
    // VecMaps, not HashMap / HashSet (code shared with the other u16-keyed maps): ids are
    // handed out in increasing order, so inserts are mostly at the end.
    by_packet_id: VecMap<u16, u64>,
    next_seq: u64,
    /// Packet identifiers held by SUBSCRIBE / UNSUBSCRIBE awaiting their acks.
    pub(crate) request_ids: VecMap<u16, ()>,
    last_packet_id: u16,
}

impl Outgoing {
    pub(crate) fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// The next free packet identifier, never one held by an in-flight publish or a
    /// pending subscribe/unsubscribe.
    pub(crate) fn allocate_packet_id(&mut self) -> Option<u16> {
        let mut candidate = self.last_packet_id;
        for _ in 0..u16::MAX {
            candidate = if candidate == u16::MAX {
                1
            } else {
                candidate + 1
            };
            if !self.by_packet_id.contains_key(&candidate)
                && !self.request_ids.contains_key(&candidate)
            {
                self.last_packet_id = candidate;
                return Some(candidate);
            }
        }
        None
    }

    /// Moves a queued QoS 1/2 publish into the window under `packet_id`.
    pub(crate) fn start(&mut self, id: PublishId, mut publish: Publish, packet_id: u16) {
        publish.packet_id = Some(packet_id);
        publish.dup = false;
        let stage = if publish.qos == QoS::ExactlyOnce {
            Stage::Qos2Sent
        } else {
            Stage::Qos1Sent
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_packet_id.insert(packet_id, seq);
        // `seq` is above every sequence number in the window: it goes at the end.
        self.inflight.push_back((
            seq,
            InFlight {
                id,
                publish,
                stage,
                sent: false,
                sent_before: false,
            },
        ));
    }

    /// The position of sequence number `seq` in the window.
    fn slot(&self, seq: u64) -> Option<usize> {
        self.inflight.binary_search_by_key(&seq, |(s, _)| *s).ok()
    }

    pub(crate) fn get_mut(&mut self, packet_id: u16) -> Option<&mut InFlight> {
        let at = self.slot(*self.by_packet_id.get(&packet_id)?)?;
        self.inflight.get_mut(at).map(|(_, f)| f)
    }

    pub(crate) fn finish(&mut self, packet_id: u16) -> Option<InFlight> {
        let seq = self.by_packet_id.remove(&packet_id)?;
        let at = self.slot(seq)?;
        self.inflight.remove(at).map(|(_, f)| f)
    }

    /// In-flight entries in send order.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut InFlight> {
        self.inflight.iter_mut().map(|(_, f)| f)
    }

    /// Takes out of the window, in send order, the entries `pick` selects (and their
    /// packet identifiers).
    fn take_where(&mut self, pick: impl Fn(&InFlight) -> bool) -> Vec<InFlight> {
        let mut taken = Vec::new();
        let mut kept = Fifo::new();
        for (seq, f) in self.inflight.drain() {
            if pick(&f) {
                self.by_packet_id.remove(&f.publish.packet_id.unwrap_or(0));
                taken.push(f);
            } else {
                kept.push_back((seq, f));
            }
        }
        self.inflight = kept;
        taken
    }

    /// Takes back into the front of the queue, in order, every in-flight publish whose QoS
    /// the broker no longer accepts (a reconnect to a broker with a lower Maximum QoS): it
    /// is sent again as a new publish, at the QoS the broker allows.
    pub(crate) fn requeue_above(&mut self, max_qos: QoS) {
        let over = self.take_where(|f| f.publish.qos > max_qos && f.stage != Stage::Released);
        for f in over.into_iter().rev() {
            let mut publish = f.publish;
            publish.packet_id = None;
            publish.dup = false;
            self.queue.push_front(Queued { id: f.id, publish });
        }
    }

    /// Drops every QoS 2 entry whose PUBREC already arrived and returns their ids: the
    /// broker had the message, but a new session has no PUBREL to resume.
    pub(crate) fn drop_released(&mut self) -> Vec<PublishId> {
        self.take_where(|f| f.stage == Stage::Released)
            .into_iter()
            .map(|f| f.id)
            .gather()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::Properties;

    fn publish(qos: QoS) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: "t".into(),
            packet_id: None,
            properties: Properties::default(),
            payload: vec![],
        }
    }

    #[test]
    fn packet_ids_skip_those_in_flight_and_wrap() {
        let mut o = Outgoing {
            last_packet_id: u16::MAX - 1,
            ..Outgoing::default()
        };
        let a = o.allocate_packet_id();
        assert_eq!(a, Some(u16::MAX));
        o.start(PublishId(1), publish(QoS::AtLeastOnce), u16::MAX);
        o.request_ids.insert(1, ());
        assert_eq!(o.allocate_packet_id(), Some(2));
        o.last_packet_id = u16::MAX - 1;
        assert_eq!(o.allocate_packet_id(), Some(2), "skips 65535 and 1");
    }

    #[test]
    fn all_ids_in_use_is_reported_not_looped() {
        let mut o = Outgoing::default();
        for pid in 1..=u16::MAX {
            o.request_ids.insert(pid, ());
        }
        assert_eq!(o.allocate_packet_id(), None);
    }

    #[test]
    fn inflight_keeps_send_order() {
        let mut o = Outgoing::default();
        for (n, pid) in [(1, 40u16), (2, 3), (3, 700)] {
            o.start(PublishId(n), publish(QoS::AtLeastOnce), pid);
        }
        let order: Vec<u64> = o.iter_mut().map(|f| f.id.0).collect();
        assert_eq!(order, [1, 2, 3]);
        assert!(o.finish(3).is_some());
        assert!(o.finish(3).is_none());
        assert_eq!(o.inflight_len(), 2);
    }
}

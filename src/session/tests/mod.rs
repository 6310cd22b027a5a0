//! Deterministic tests of the session against a scripted broker: virtual time, every
//! written byte decoded back into packets.

use super::*;
use crate::mqtt::{Will, MAX_REMAINING_LENGTH};
use std::collections::HashSet;

mod failover;

const K: u64 = 10_000;

/// Drives a session the way a shell would, with a scripted broker on the other side.
struct Sim {
    s: Session,
    now: u64,
    version: ProtocolVersion,
    /// Packets the client wrote, decoded.
    sent: Vec<Packet>,
    /// Number of `Output::Transmit` writes.
    writes: usize,
    events: Vec<Event>,
    credential_requests: Vec<u32>,
    /// The URL of every `Output::Open`, in order.
    opened: Vec<String>,
    closes: usize,
    server: StreamDecoder,
}

impl Sim {
    fn new(config: SessionConfig) -> Sim {
        let version = config.protocol;
        Sim {
            s: Session::new(config),
            now: 1_000_000,
            version,
            sent: vec![],
            writes: 0,
            events: vec![],
            credential_requests: vec![],
            opened: vec![],
            closes: 0,
            server: StreamDecoder::new(version, MAX_REMAINING_LENGTH + 5),
        }
    }

    fn config(version: ProtocolVersion) -> SessionConfig {
        let mut c = SessionConfig::new("chat_1");
        c.protocol = version;
        c.keep_alive_secs = (K / 1000) as u16;
        c.offline_queue_limit = 5_000;
        c.max_inflight = u16::MAX;
        c
    }

    fn drain(&mut self) {
        while let Some(out) = self.s.poll_output() {
            match out {
                Output::NeedCredentials { attempt } => self.credential_requests.push(attempt),
                Output::Open { url } => self.opened.push(url),
                Output::Close => {
                    self.closes += 1;
                    self.server = StreamDecoder::new(self.version, MAX_REMAINING_LENGTH + 5);
                }
                Output::Transmit(bytes) => {
                    self.writes += 1;
                    self.server.push(&bytes);
                    while let Some(p) = self.server.next_packet().expect("client wrote garbage") {
                        self.sent.push(p);
                    }
                }
                Output::Event(e) => self.events.push(e),
            }
        }
    }

    fn take_sent(&mut self) -> Vec<Packet> {
        self.drain();
        std::mem::take(&mut self.sent)
    }

    fn take_events(&mut self) -> Vec<Event> {
        self.drain();
        std::mem::take(&mut self.events)
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    fn user(&mut self) -> Credentials {
        Credentials {
            username: Some("1".into()),
            password: Some(format!("pw{}", self.credential_requests.len()).into_bytes()),
        }
    }

    /// Credentials answered and the transport open (after the reconnect timer, if one is
    /// pending): CONNECT written, CONNACK awaited. The CONNECT.
    fn handshake(&mut self) -> Connect {
        if self
            .s
            .poll_timeout()
            .is_some_and(|_| self.s.status() == Status::Reconnecting)
        {
            self.fire_timer();
        }
        let creds = self.user();
        self.s.handle_credentials(self.now, Ok(creds));
        self.s.handle_transport_open(self.now);
        match self.take_sent().first() {
            Some(Packet::Connect(c)) => c.clone(),
            other => panic!("CONNECT expected, got {other:?}"),
        }
    }

    /// connect → credentials → open → CONNECT → CONNACK.
    fn establish(&mut self, session_present: bool, props: Properties) {
        if matches!(self.s.state, State::Idle | State::Offline) {
            self.s.connect(self.now);
        }
        self.drain();
        self.handshake();
        self.server_sends(Packet::ConnAck(ConnAck {
            session_present,
            reason: ReasonCode::Success,
            properties: props,
        }));
    }

    fn server_sends(&mut self, p: Packet) {
        let mut buf = vec![];
        p.encode(self.version, &mut buf).expect("encode");
        self.s.handle_bytes(self.now, &buf);
        self.drain();
    }

    fn drop_link(&mut self) {
        self.s.handle_transport_closed(self.now, "test");
        self.drain();
    }

    /// Advances to the next reconnect deadline and fires it.
    fn fire_timer(&mut self) {
        let at = self.s.poll_timeout().expect("a deadline");
        self.now = self.now.max(at);
        self.s.handle_timeout(self.now);
        self.drain();
    }

    fn publishes(sent: &[Packet]) -> Vec<&Publish> {
        sent.iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    fn disconnected(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Disconnected { .. }))
    }
}

fn ack(packet_id: u16) -> Ack {
    Ack {
        packet_id,
        reason: ReasonCode::Success,
        properties: Properties::default(),
    }
}

fn incoming(qos: QoS, pid: Option<u16>, payload: &str) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: "chat_1".into(),
        packet_id: pid,
        properties: Properties::default(),
        payload: payload.as_bytes().to_vec(),
    }
}

fn messages(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(p) => Some(String::from_utf8_lossy(&p.payload).into_owned()),
            _ => None,
        })
        .collect()
}

fn both_versions() -> [ProtocolVersion; 2] {
    [ProtocolVersion::V311, ProtocolVersion::V5]
}

#[test]
fn connect_asks_for_credentials_then_sends_them_in_connect() {
    for v in both_versions() {
        let mut sim = Sim::new(Sim::config(v));
        sim.s.connect(sim.now);
        sim.drain();
        assert_eq!(sim.credential_requests, [0]);
        assert_eq!(sim.s.status(), Status::FetchingCredentials);
        sim.s.handle_credentials(
            sim.now,
            Ok(Credentials {
                username: Some("1".into()),
                password: Some(b"secret".to_vec()),
            }),
        );
        sim.drain();
        assert_eq!(sim.opened.len(), 1);
        sim.s.handle_transport_open(sim.now);
        let sent = sim.take_sent();
        let Some(Packet::Connect(c)) = sent.first() else {
            panic!("no CONNECT: {sent:?}")
        };
        assert_eq!(c.protocol, v);
        assert_eq!(c.client_id, "chat_1");
        assert_eq!(c.username.as_deref(), Some("1"));
        assert_eq!(c.password.as_deref(), Some(&b"secret"[..]));
        assert!(!c.clean_start);
        assert_eq!(u64::from(c.keep_alive) * 1000, K);
        if v == ProtocolVersion::V5 {
            assert_eq!(c.properties.session_expiry_interval, Some(u32::MAX));
            assert_eq!(c.properties.receive_maximum, Some(100));
        } else {
            assert!(c.properties.is_empty());
        }
        sim.server_sends(Packet::ConnAck(ConnAck {
            session_present: false,
            reason: ReasonCode::Success,
            properties: Properties::default(),
        }));
        let events = sim.take_events();
        assert!(events.contains(&Event::Connected {
            session_present: false
        }));
        assert_eq!(sim.s.status(), Status::Connected);
    }
}

#[test]
fn qos1_and_qos2_outgoing_flows_complete() {
    for v in both_versions() {
        let mut sim = Sim::new(Sim::config(v));
        sim.establish(false, Properties::default());
        sim.drain();
        let a = sim
            .s
            .publish(sim.now, "chat_2", b"one".to_vec(), QoS::AtLeastOnce, false)
            .unwrap();
        let b = sim
            .s
            .publish(sim.now, "chat_2", b"two".to_vec(), QoS::ExactlyOnce, false)
            .unwrap();
        let sent = sim.take_sent();
        let pubs = Sim::publishes(&sent);
        assert_eq!(pubs.len(), 2);
        let (pa, pb) = (pubs[0].packet_id.unwrap(), pubs[1].packet_id.unwrap());
        assert_ne!(pa, pb);
        assert_eq!(sim.s.inflight_len(), 2);

        sim.server_sends(Packet::PubAck(ack(pa)));
        sim.server_sends(Packet::PubRec(ack(pb)));
        assert_eq!(sim.take_sent(), vec![Packet::PubRel(ack(pb))]);
        sim.server_sends(Packet::PubComp(ack(pb)));
        let done: Vec<PublishId> = sim
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::PublishDone { id, reason } => {
                    assert_eq!(reason, ReasonCode::Success);
                    Some(id)
                }
                _ => None,
            })
            .collect();
        assert_eq!(done, [a, b]);
        assert_eq!(sim.s.inflight_len(), 0);
    }
}

#[test]
fn incoming_qos1_is_acked_and_qos2_delivered_exactly_once() {
    for v in both_versions() {
        let mut sim = Sim::new(Sim::config(v));
        sim.establish(false, Properties::default());
        sim.drain();
        sim.take_events();
        sim.server_sends(Packet::Publish(incoming(QoS::AtLeastOnce, Some(3), "q1")));
        assert_eq!(sim.take_sent(), vec![Packet::PubAck(ack(3))]);

        sim.server_sends(Packet::Publish(incoming(QoS::ExactlyOnce, Some(7), "q2")));
        let mut dup = incoming(QoS::ExactlyOnce, Some(7), "q2");
        dup.dup = true;
        sim.server_sends(Packet::Publish(dup));
        assert_eq!(
            sim.take_sent(),
            vec![Packet::PubRec(ack(7)), Packet::PubRec(ack(7))]
        );
        sim.server_sends(Packet::PubRel(ack(7)));
        assert_eq!(sim.take_sent(), vec![Packet::PubComp(ack(7))]);
        // After PUBCOMP the identifier is free: a new message with it is a new message.
        sim.server_sends(Packet::Publish(incoming(
            QoS::ExactlyOnce,
            Some(7),
            "again",
        )));
        assert_eq!(messages(&sim.take_events()), ["q1", "q2", "again"]);
    }
}

#[test]
fn the_acks_of_a_chunk_of_publishes_leave_in_one_write() {
    for v in both_versions() {
        let mut sim = Sim::new(Sim::config(v));
        sim.establish(false, Properties::default());
        sim.drain();
        sim.take_events();
        let mut chunk = vec![];
        for id in 1..=50u16 {
            let qos = if id % 5 == 0 {
                QoS::ExactlyOnce
            } else {
                QoS::AtLeastOnce
            };
            Packet::Publish(incoming(qos, Some(id), &format!("m{id}")))
                .encode(v, &mut chunk)
                .expect("encode");
        }
        sim.writes = 0;
        sim.s.handle_bytes(sim.now, &chunk);
        let expected: Vec<Packet> = (1..=50u16)
            .map(|id| match id % 5 {
                0 => Packet::PubRec(ack(id)),
                _ => Packet::PubAck(ack(id)),
            })
            .collect();
        assert_eq!(sim.take_sent(), expected);
        assert_eq!(sim.writes, 1);
        let names: Vec<String> = (1..=50).map(|id| format!("m{id}")).collect();
        assert_eq!(messages(&sim.take_events()), names);
    }
}

#[test]
fn incoming_qos2_is_not_redelivered_after_reconnect_with_session_present() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V311));
    sim.establish(false, Properties::default());
    sim.server_sends(Packet::Publish(incoming(QoS::ExactlyOnce, Some(9), "once")));
    assert_eq!(sim.take_sent(), vec![Packet::PubRec(ack(9))]);
    sim.drop_link();
    sim.fire_timer();
    sim.establish(true, Properties::default());
    let mut again = incoming(QoS::ExactlyOnce, Some(9), "once");
    again.dup = true;
    sim.server_sends(Packet::Publish(again));
    assert_eq!(messages(&sim.take_events()), ["once"]);
    assert!(sim.take_sent().contains(&Packet::PubRec(ack(9))));
}

#[test]
fn unacked_publishes_are_resent_with_dup_in_order_and_pipelined() {
    for v in both_versions() {
        let mut sim = Sim::new(Sim::config(v));
        sim.establish(false, Properties::default());
        sim.drain();
        for i in 0..1000 {
            sim.s
                .publish(
                    sim.now,
                    "chat_2",
                    format!("m{i}").into_bytes(),
                    QoS::AtLeastOnce,
                    false,
                )
                .unwrap();
        }
        let first: Vec<Publish> = Sim::publishes(&sim.take_sent())
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(first.len(), 1000);
        assert!(first.iter().all(|p| !p.dup));
        sim.drop_link();
        sim.fire_timer();
        sim.writes = 0;
        sim.establish(true, Properties::default());
        let resent = sim.take_sent();
        let pubs = Sim::publishes(&resent);
        assert_eq!(pubs.len(), 1000, "all resent before any ack");
        assert!(pubs.iter().all(|p| p.dup), "DUP set on every resend");
        let order: Vec<&[u8]> = pubs.iter().map(|p| p.payload.as_slice()).collect();
        let orig: Vec<&[u8]> = first.iter().map(|p| p.payload.as_slice()).collect();
        assert_eq!(order, orig, "same order");
        let ids: Vec<Option<u16>> = pubs.iter().map(|p| p.packet_id).collect();
        let orig_ids: Vec<Option<u16>> = first.iter().map(|p| p.packet_id).collect();
        assert_eq!(ids, orig_ids, "same packet ids");
        assert!(
            sim.writes <= 5,
            "pipelined into few writes, got {}",
            sim.writes
        );
        for id in orig_ids.into_iter().flatten() {
            sim.server_sends(Packet::PubAck(ack(id)));
        }
        assert_eq!(sim.s.inflight_len(), 0);
    }
}

#[test]
fn a_qos2_publish_past_pubrec_resends_pubrel_after_reconnect() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V5));
    sim.establish(false, Properties::default());
    sim.s
        .publish(sim.now, "t", b"x".to_vec(), QoS::ExactlyOnce, false)
        .unwrap();
    let pid = Sim::publishes(&sim.take_sent())[0].packet_id.unwrap();
    sim.server_sends(Packet::PubRec(ack(pid)));
    sim.take_sent();
    sim.drop_link();
    sim.fire_timer();
    sim.establish(true, Properties::default());
    assert_eq!(sim.take_sent(), vec![Packet::PubRel(ack(pid))]);
}

#[test]
fn a_lost_session_republishes_as_new_and_resubscribes() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V5));
    sim.establish(false, Properties::default());
    sim.s
        .subscribe(
            sim.now,
            vec![SubscribeFilter::new("chat_1", QoS::AtLeastOnce)],
        )
        .unwrap();
    sim.s
        .publish(sim.now, "t", b"x".to_vec(), QoS::AtLeastOnce, false)
        .unwrap();
    sim.take_sent();
    sim.drop_link();
    sim.fire_timer();
    sim.establish(false, Properties::default());
    let sent = sim.take_sent();
    assert!(sent
        .iter()
        .any(|p| matches!(p, Packet::Subscribe(s) if s.filters[0].filter == "chat_1")));
    let pubs = Sim::publishes(&sent);
    assert_eq!(pubs.len(), 1);
    assert!(!pubs[0].dup, "a new session never saw it: no DUP");
}

#[test]
fn receive_maximum_of_the_server_limits_the_window() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V5));
    sim.establish(
        false,
        Properties {
            receive_maximum: Some(10),
            ..Properties::default()
        },
    );
    for i in 0..25 {
        sim.s
            .publish(sim.now, "t", vec![i], QoS::AtLeastOnce, false)
            .unwrap();
    }
    let first = Sim::publishes(&sim.take_sent())
        .iter()
        .map(|p| p.packet_id.unwrap())
        .collect::<Vec<_>>();
    assert_eq!(first.len(), 10);
    assert_eq!(sim.s.queued_len(), 15);
    sim.server_sends(Packet::PubAck(ack(first[0])));
    sim.server_sends(Packet::PubAck(ack(first[1])));
    let next = sim.take_sent();
    assert_eq!(Sim::publishes(&next).len(), 2);
    assert_eq!(Sim::publishes(&next)[0].payload, vec![10]);
    // Reconnect with a smaller window: only five of the ten in flight are resent at once.
    sim.drop_link();
    sim.fire_timer();
    sim.establish(
        true,
        Properties {
            receive_maximum: Some(5),
            ..Properties::default()
        },
    );
    let resent = sim.take_sent();
    let pids: Vec<u16> = Sim::publishes(&resent)
        .iter()
        .map(|p| p.packet_id.unwrap())
        .collect();
    assert_eq!(pids.len(), 5);
    sim.server_sends(Packet::PubAck(ack(pids[0])));
    assert_eq!(Sim::publishes(&sim.take_sent()).len(), 1);
}

#[test]
fn packet_ids_are_never_reused_while_in_flight() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V311));
    sim.establish(false, Properties::default());
    let mut live = HashSet::new();
    for round in 0..300u32 {
        for _ in 0..300 {
            sim.s
                .publish(sim.now, "t", vec![], QoS::AtLeastOnce, false)
                .unwrap();
        }
        let sent = sim.take_sent();
        for p in Sim::publishes(&sent) {
            assert!(
                live.insert(p.packet_id.unwrap()),
                "reused {:?}",
                p.packet_id
            );
        }
        // Ack all but a few, so that old ids stay in flight while the counter wraps.
        let mut ids: Vec<u16> = live.iter().copied().collect();
        ids.sort_unstable();
        for id in ids.into_iter().skip(3 + (round as usize % 5)) {
            sim.server_sends(Packet::PubAck(ack(id)));
            live.remove(&id);
        }
    }
}

#[test]
fn incoming_topic_aliases_are_resolved_and_invalid_ones_refused() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V5));
    sim.establish(false, Properties::default());
    let mut p = incoming(QoS::AtMostOnce, None, "a");
    p.properties.topic_alias = Some(3);
    sim.server_sends(Packet::Publish(p));
    let mut p = incoming(QoS::AtMostOnce, None, "b");
    p.topic = String::new();
    p.properties.topic_alias = Some(3);
    sim.server_sends(Packet::Publish(p));
    let events = sim.take_events();
    let topics: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Message(p) => Some(p.topic.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(topics, ["chat_1", "chat_1"]);

    let mut p = incoming(QoS::AtMostOnce, None, "c");
    p.properties.topic_alias = Some(1000);
    sim.server_sends(Packet::Publish(p));
    let sent = sim.take_sent();
    assert!(sent
        .iter()
        .any(|p| matches!(p, Packet::Disconnect(d) if d.reason == ReasonCode::TopicAliasInvalid)));
    assert!(sim.disconnected());
    assert_eq!(sim.s.status(), Status::Reconnecting);
}

#[test]
fn inbound_receive_maximum_is_enforced_in_v5() {
    let mut config = Sim::config(ProtocolVersion::V5);
    config.receive_maximum = 2;
    let mut sim = Sim::new(config);
    sim.establish(false, Properties::default());
    for pid in 1..=3 {
        sim.server_sends(Packet::Publish(incoming(QoS::ExactlyOnce, Some(pid), "x")));
    }
    let sent = sim.take_sent();
    assert!(sent.iter().any(
        |p| matches!(p, Packet::Disconnect(d) if d.reason == ReasonCode::ReceiveMaximumExceeded)
    ));
}

#[test]
fn idle_connection_pings_and_a_silent_broker_is_declared_dead_within_1_5_keepalive() {
    for v in both_versions() {
        let mut sim = Sim::new(Sim::config(v));
        sim.establish(false, Properties::default());
        sim.take_sent();
        let last_heard = sim.now;
        assert_eq!(sim.s.poll_timeout(), Some(last_heard + K));
        sim.fire_timer();
        assert_eq!(sim.take_sent(), vec![Packet::PingReq]);
        // Broker frozen: no answer. The timer fires on time.
        sim.fire_timer();
        let events = sim.take_events();
        assert!(events.iter().any(|e| matches!(
            e,
            Event::Disconnected {
                error: ConnectionError::KeepAliveTimeout,
                reconnect_at: Some(_)
            }
        )));
        assert!(
            sim.now - last_heard <= K * 3 / 2,
            "dead after {} ms",
            sim.now - last_heard
        );
        assert_eq!(sim.closes, 1);
        assert_eq!(sim.s.status(), Status::Reconnecting);
        // ...and the reconnect starts by asking for fresh credentials.
        sim.fire_timer();
        assert_eq!(sim.credential_requests.len(), 2);
    }
}

#[test]
fn a_timer_60s_late_on_a_healthy_connection_does_not_disconnect() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V311));
    sim.establish(false, Properties::default());
    sim.take_sent();
    sim.take_events();
    // The tab was throttled: the keepalive timer fires a minute late.
    let due = sim.s.poll_timeout().unwrap();
    sim.now = due + 60_000;
    sim.s.handle_timeout(sim.now);
    assert_eq!(sim.take_sent(), vec![Packet::PingReq]);
    assert_eq!(sim.s.status(), Status::Connected);
    // The ping-timeout timer is late too; the answer is still queued behind it.
    let due = sim.s.poll_timeout().unwrap();
    sim.now = due + 60_000;
    sim.s.handle_timeout(sim.now);
    assert_eq!(
        sim.take_sent(),
        vec![Packet::PingReq],
        "asks again instead of giving up"
    );
    assert_eq!(sim.s.status(), Status::Connected);
    sim.advance(50);
    sim.server_sends(Packet::PingResp);
    sim.server_sends(Packet::PingResp);
    assert!(!sim.disconnected());
    assert_eq!(sim.s.status(), Status::Connected);
    assert_eq!(sim.closes, 0);
    // And a later, on-time check still finds a dead broker.
    sim.fire_timer();
    sim.fire_timer();
    assert!(sim.disconnected());
}

#[test]
fn incoming_traffic_postpones_the_ping() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V311));
    sim.establish(false, Properties::default());
    sim.take_sent();
    for _ in 0..5 {
        sim.advance(K / 2);
        sim.s.handle_timeout(sim.now);
        sim.server_sends(Packet::Publish(incoming(QoS::AtLeastOnce, Some(1), "x")));
    }
    // The client wrote PUBACKs and read PUBLISHes: both directions are live, no ping needed.
    assert!(!sim.take_sent().contains(&Packet::PingReq));
}

#[test]
fn backoff_grows_and_resets_after_a_stable_connection() {
    let mut config = Sim::config(ProtocolVersion::V311);
    config.reconnect.initial_delay_ms = 1_000;
    config.reconnect.max_delay_ms = 8_000;
    let mut sim = Sim::new(config);
    sim.s.connect(sim.now);
    sim.drain();
    let mut waits = vec![];
    for _ in 0..6 {
        sim.s
            .handle_credentials(sim.now, Err("conn-config failed".into()));
        sim.drain();
        let at = sim.s.poll_timeout().unwrap();
        waits.push(at - sim.now);
        sim.fire_timer();
    }
    let ceilings = [1_000, 2_000, 4_000, 8_000, 8_000, 8_000];
    for (w, c) in waits.iter().zip(ceilings) {
        assert!(*w <= c, "wait {w} over ceiling {c}");
    }
    assert_eq!(sim.credential_requests, [0, 1, 2, 3, 4, 5, 6]);
    sim.establish(false, Properties::default());
    sim.advance(20_000);
    sim.server_sends(Packet::PingResp);
    sim.drop_link();
    let at = sim.s.poll_timeout().unwrap();
    assert!(at - sim.now <= 1_000, "reset after a stable connection");
}

#[test]
fn wake_skips_the_backoff_wait() {
    let mut config = Sim::config(ProtocolVersion::V311);
    config.reconnect.initial_delay_ms = 60_000;
    config.reconnect.max_delay_ms = 60_000;
    config.rng_seed = 99;
    let mut sim = Sim::new(config);
    sim.establish(false, Properties::default());
    sim.drop_link();
    assert_eq!(sim.s.status(), Status::Reconnecting);
    sim.s.wake(sim.now);
    sim.drain();
    assert_eq!(sim.s.status(), Status::FetchingCredentials);
    assert_eq!(sim.credential_requests.len(), 2);
}

#[test]
fn offline_queue_is_bounded_and_flushed_in_order_on_connect() {
    let mut config = Sim::config(ProtocolVersion::V311);
    config.offline_queue_limit = 3;
    let mut sim = Sim::new(config);
    for i in 0..3u8 {
        sim.s
            .publish(sim.now, "t", vec![i], QoS::AtLeastOnce, false)
            .unwrap();
    }
    assert_eq!(
        sim.s.publish(sim.now, "t", vec![9], QoS::AtMostOnce, false),
        Err(SessionError::QueueFull { limit: 3 })
    );
    sim.establish(false, Properties::default());
    let sent = sim.take_sent();
    let payloads: Vec<Vec<u8>> = Sim::publishes(&sent)
        .iter()
        .map(|p| p.payload.clone())
        .collect();
    assert_eq!(payloads, [vec![0], vec![1], vec![2]]);
}

#[test]
fn malformed_bytes_end_the_connection_with_a_typed_error_and_reconnect() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V5));
    sim.establish(false, Properties::default());
    sim.take_events();
    sim.s.handle_bytes(sim.now, &[0x00, 0x00]);
    let events = sim.take_events();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            error: ConnectionError::Malformed(_),
            reconnect_at: Some(_)
        }
    )));
    assert_eq!(sim.closes, 1);
    // Bytes from the dead connection are ignored.
    sim.s.handle_bytes(sim.now, &[0xff; 16]);
    assert!(sim.take_events().is_empty());
}

#[test]
fn refused_connack_and_server_disconnect_are_reported() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V5));
    sim.s.connect(sim.now);
    sim.drain();
    sim.s
        .handle_credentials(sim.now, Ok(Credentials::default()));
    sim.s.handle_transport_open(sim.now);
    sim.take_sent();
    sim.server_sends(Packet::ConnAck(ConnAck {
        session_present: false,
        reason: ReasonCode::BadUserNameOrPassword,
        properties: Properties::default(),
    }));
    assert!(sim.take_events().iter().any(|e| matches!(
        e,
        Event::Disconnected {
            error: ConnectionError::Refused(ReasonCode::BadUserNameOrPassword),
            ..
        }
    )));
    sim.fire_timer();
    sim.establish(false, Properties::default());
    sim.server_sends(Packet::Disconnect(Disconnect {
        reason: ReasonCode::ServerShuttingDown,
        properties: Properties::default(),
    }));
    assert!(sim.take_events().iter().any(|e| matches!(
        e,
        Event::Disconnected {
            error: ConnectionError::ServerDisconnect(ReasonCode::ServerShuttingDown),
            reconnect_at: Some(_)
        }
    )));
}

#[test]
fn application_disconnect_sends_disconnect_and_stays_idle() {
    let mut config = Sim::config(ProtocolVersion::V311);
    config.will = Some(Will {
        topic: "presence_1".into(),
        payload: b"offline".to_vec(),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties::default(),
    });
    let mut sim = Sim::new(config);
    sim.establish(false, Properties::default());
    sim.take_sent();
    sim.s.disconnect(sim.now);
    assert_eq!(
        sim.take_sent(),
        vec![Packet::Disconnect(Disconnect {
            reason: ReasonCode::NORMAL_DISCONNECTION,
            properties: Properties::default()
        })]
    );
    assert_eq!(sim.closes, 1);
    assert_eq!(sim.s.status(), Status::Idle);
    assert_eq!(sim.s.poll_timeout(), None);
}

#[test]
fn the_brokers_maximum_packet_size_is_respected() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V5));
    sim.establish(
        false,
        Properties {
            maximum_packet_size: Some(100),
            ..Properties::default()
        },
    );
    let err = sim
        .s
        .publish(sim.now, "t", vec![0; 200], QoS::AtLeastOnce, false)
        .unwrap_err();
    assert!(matches!(err, SessionError::PacketTooLarge { max: 100, .. }));
    assert!(sim
        .s
        .publish(sim.now, "t", vec![0; 20], QoS::AtLeastOnce, false)
        .is_ok());
}

#[test]
fn invalid_topics_and_filters_are_refused() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V311));
    assert!(matches!(
        sim.s
            .publish(sim.now, "a/+", vec![], QoS::AtMostOnce, false),
        Err(SessionError::InvalidTopic(_))
    ));
    assert!(matches!(
        sim.s.subscribe(
            sim.now,
            vec![SubscribeFilter::new("a/#/b", QoS::AtMostOnce)]
        ),
        Err(SessionError::InvalidFilter(_))
    ));
    assert!(valid_topic_filter("a/+/#"));
    assert!(valid_topic_filter("+"));
    assert!(!valid_topic_filter("a+"));
}

#[test]
fn a_late_credentials_answer_after_a_timeout_is_ignored() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V311));
    sim.s.connect(sim.now);
    sim.drain();
    sim.fire_timer();
    assert_eq!(sim.s.status(), Status::Reconnecting);
    sim.s
        .handle_credentials(sim.now, Ok(Credentials::default()));
    sim.drain();
    assert_eq!(sim.opened.len(), 0);
}

#[test]
fn a_subscribe_made_before_connack_is_sent_once() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V311));
    sim.s.connect(sim.now);
    sim.drain();
    sim.s
        .handle_credentials(sim.now, Ok(Credentials::default()));
    sim.s.handle_transport_open(sim.now);
    sim.s
        .subscribe(
            sim.now,
            vec![SubscribeFilter::new("chat_1", QoS::AtLeastOnce)],
        )
        .unwrap();
    sim.take_sent();
    sim.server_sends(Packet::ConnAck(ConnAck {
        session_present: false,
        reason: ReasonCode::Success,
        properties: Properties::default(),
    }));
    let subscribes = sim
        .take_sent()
        .into_iter()
        .filter(|p| matches!(p, Packet::Subscribe(_)))
        .count();
    assert_eq!(subscribes, 1);
}

#[test]
fn a_broker_too_small_for_pingreq_ends_the_connection_instead_of_spinning() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V5));
    sim.establish(
        false,
        Properties {
            maximum_packet_size: Some(1),
            ..Properties::default()
        },
    );
    sim.take_events();
    sim.fire_timer();
    assert!(sim.take_events().iter().any(|e| matches!(
        e,
        Event::Disconnected {
            error: ConnectionError::Protocol(_),
            ..
        }
    )));
    assert!(sim.s.poll_timeout().is_some_and(|t| t > sim.now));
}

#[test]
fn a_reconnect_to_a_broker_with_a_lower_maximum_qos_resends_within_it() {
    let mut sim = Sim::new(Sim::config(ProtocolVersion::V5));
    sim.establish(false, Properties::default());
    for i in 0..3u8 {
        sim.s
            .publish(sim.now, "t", vec![i], QoS::ExactlyOnce, false)
            .unwrap();
    }
    sim.take_sent();
    sim.drop_link();
    sim.fire_timer();
    sim.establish(
        true,
        Properties {
            maximum_qos: Some(1),
            ..Properties::default()
        },
    );
    let sent = sim.take_sent();
    let pubs = Sim::publishes(&sent);
    assert_eq!(pubs.len(), 3);
    assert!(pubs.iter().all(|p| p.qos == QoS::AtLeastOnce && !p.dup));
    let payloads: Vec<u8> = pubs.iter().map(|p| p.payload[0]).collect();
    assert_eq!(payloads, [0, 1, 2], "still in order");
    for p in &pubs {
        sim.server_sends(Packet::PubAck(ack(p.packet_id.unwrap())));
    }
    assert_eq!(sim.s.inflight_len(), 0);
}

//! Several brokers tried in turn, and the fall back from MQTT 5.0 to 3.1.1.

use super::*;

fn cluster(version: ProtocolVersion) -> Sim {
    let mut c = Sim::config(version);
    c.urls = vec!["ws://a/ws".into(), "ws://b/ws".into(), "ws://c/ws".into()];
    Sim::new(c)
}

fn connack(sim: &mut Sim, session_present: bool, reason: ReasonCode) {
    sim.server_sends(Packet::ConnAck(ConnAck {
        session_present,
        reason,
        properties: Properties::default(),
    }));
}

fn fallbacks(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::ProtocolFallback { .. }))
        .count()
}

#[test]
fn each_attempt_after_a_refusal_or_a_loss_goes_to_the_next_broker() {
    for version in both_versions() {
        let mut sim = cluster(version);
        sim.s.connect(sim.now);
        sim.drain();
        sim.handshake();
        connack(&mut sim, false, ReasonCode::Success);
        assert_eq!(sim.s.url(), "ws://a/ws");
        // Lost: the next attempt goes to b, which refuses; then c, whose socket never opens;
        // then a again.
        sim.drop_link();
        sim.handshake();
        connack(&mut sim, false, ReasonCode::NotAuthorized);
        sim.fire_timer();
        let creds = sim.user();
        sim.s.handle_credentials(sim.now, Ok(creds));
        sim.drain();
        sim.drop_link();
        sim.handshake();
        assert_eq!(
            sim.opened,
            ["ws://a/ws", "ws://b/ws", "ws://c/ws", "ws://a/ws"]
        );
        assert_eq!(fallbacks(&sim.take_events()), 0);
    }
}

#[test]
fn a_failed_credentials_request_does_not_skip_a_broker() {
    let mut sim = cluster(ProtocolVersion::V311);
    sim.s.connect(sim.now);
    sim.drain();
    sim.s
        .handle_credentials(sim.now, Err("backend down".into()));
    sim.fire_timer();
    sim.handshake();
    assert_eq!(sim.opened, ["ws://a/ws"]);
}

#[test]
fn the_persistent_session_and_the_queue_carry_over_to_the_next_broker() {
    let mut sim = cluster(ProtocolVersion::V311);
    sim.establish(false, Properties::default());
    sim.s
        .publish(sim.now, "t", b"in flight".to_vec(), QoS::AtLeastOnce, false)
        .expect("publish");
    let first = Sim::publishes(&sim.take_sent())
        .first()
        .map(|p| p.packet_id)
        .expect("written");
    sim.drop_link();
    // Offline: queued, not written.
    sim.s
        .publish(sim.now, "t", b"queued".to_vec(), QoS::AtLeastOnce, false)
        .expect("publish");
    sim.handshake();
    connack(&mut sim, true, ReasonCode::Success);
    assert_eq!(sim.s.url(), "ws://b/ws");
    let sent = sim.take_sent();
    let publishes = Sim::publishes(&sent);
    assert_eq!(publishes.len(), 2, "{sent:?}");
    assert!(publishes[0].dup && publishes[0].packet_id == first);
    assert!(!publishes[1].dup);
}

#[test]
fn setting_the_same_list_keeps_the_rotation_and_a_new_list_starts_over() {
    let mut sim = cluster(ProtocolVersion::V311);
    sim.establish(false, Properties::default());
    sim.drop_link();
    sim.s.set_urls(vec![
        "ws://a/ws".into(),
        "ws://b/ws".into(),
        "ws://c/ws".into(),
    ]);
    sim.handshake();
    assert_eq!(sim.opened.last().map(String::as_str), Some("ws://b/ws"));
    connack(&mut sim, false, ReasonCode::Success);
    sim.s.set_urls(vec!["ws://x/ws".into()]);
    sim.drop_link();
    sim.handshake();
    assert_eq!(sim.opened.last().map(String::as_str), Some("ws://x/ws"));
}

/// A 3.1.1-only broker (RabbitMQ 3.10) hangs up on a level-5 CONNECT: the same broker is
/// tried again in 3.1.1, once, and the application is told.
#[test]
fn a_socket_closed_after_a_5_0_connect_falls_back_to_3_1_1_once() {
    let mut sim = cluster(ProtocolVersion::V5);
    sim.s.connect(sim.now);
    sim.drain();
    let connect = sim.handshake();
    assert_eq!(connect.protocol, ProtocolVersion::V5);
    sim.drop_link();
    let events = sim.take_events();
    let fallback = events
        .iter()
        .position(|e| matches!(e, Event::ProtocolFallback { .. }))
        .expect("a fallback event");
    let disconnected = events
        .iter()
        .position(|e| matches!(e, Event::Disconnected { .. }))
        .expect("a disconnect event");
    assert!(fallback < disconnected);
    assert_eq!(sim.s.config().protocol, ProtocolVersion::V311);

    sim.version = ProtocolVersion::V311;
    sim.server = StreamDecoder::new(ProtocolVersion::V311, MAX_REMAINING_LENGTH + 5);
    let connect = sim.handshake();
    assert_eq!(connect.protocol, ProtocolVersion::V311);
    assert_eq!(
        sim.opened,
        ["ws://a/ws", "ws://a/ws"],
        "the same broker again"
    );
    // Later failures are ordinary ones: no second fallback, the next broker.
    sim.drop_link();
    sim.handshake();
    assert_eq!(fallbacks(&sim.take_events()), 0);
    assert_eq!(sim.opened.last().map(String::as_str), Some("ws://b/ws"));
}

#[test]
fn connack_unsupported_protocol_version_falls_back_too() {
    let mut sim = cluster(ProtocolVersion::V5);
    sim.s.connect(sim.now);
    sim.drain();
    sim.handshake();
    connack(&mut sim, false, ReasonCode::UnsupportedProtocolVersion);
    assert_eq!(fallbacks(&sim.take_events()), 1);
    assert_eq!(sim.s.config().protocol, ProtocolVersion::V311);
}

#[test]
fn a_3_1_1_session_or_a_refusal_for_another_reason_never_falls_back() {
    let mut sim = cluster(ProtocolVersion::V311);
    sim.s.connect(sim.now);
    sim.drain();
    sim.handshake();
    sim.drop_link();
    let mut v5 = cluster(ProtocolVersion::V5);
    v5.s.connect(v5.now);
    v5.drain();
    v5.handshake();
    connack(&mut v5, false, ReasonCode::NotAuthorized);
    // Lost after CONNACK accepted it: 5.0 works there.
    v5.handshake();
    connack(&mut v5, false, ReasonCode::Success);
    v5.drop_link();
    assert_eq!(
        fallbacks(&sim.take_events()) + fallbacks(&v5.take_events()),
        0
    );
    assert_eq!(v5.s.config().protocol, ProtocolVersion::V5);
}

//! The sans-IO session over a real WebSocket against a real Mosquitto (one broker per test,
//! started on free 127.0.0.1 ports and stopped afterwards).
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::disallowed_methods)] // tests own the clock

#[path = "support/broker.rs"]
mod broker;
#[path = "support/client.rs"]
mod client;

use std::cell::Cell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::{Duration, Instant};

use broker::{Broker, BrokerOptions};
use client::Client;
use imcore::mqtt::{ProtocolVersion, QoS};
use imcore::session::{ConnectionError, Credentials, Event, Status};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];
const SECS: Duration = Duration::from_secs(1);

fn connected(url: &str, id: &str, v: ProtocolVersion) -> Client {
    let mut c = Client::anonymous(url, Client::config(id, v));
    c.connect();
    assert!(
        c.run_until(10 * SECS, Client::is_connected),
        "{id} did not connect"
    );
    c
}

fn subscribed(url: &str, id: &str, v: ProtocolVersion, topic: &str) -> Client {
    let mut c = connected(url, id, v);
    c.subscribe(topic, QoS::ExactlyOnce);
    assert!(c.run_until(30 * SECS, |c| c.subscribed_count() == 1));
    c
}

/// Steps two clients in turn until `done` holds for them.
fn run_both(
    a: &mut Client,
    b: &mut Client,
    timeout: Duration,
    mut done: impl FnMut(&Client, &Client) -> bool,
) -> bool {
    let end = Instant::now() + timeout;
    while !done(a, b) {
        if Instant::now() >= end {
            return false;
        }
        a.step(Duration::from_millis(5));
        b.step(Duration::from_millis(5));
    }
    true
}

#[test]
fn qos_0_1_2_round_trips_for_both_versions() {
    let broker = Broker::start(BrokerOptions::default());
    for v in VERSIONS {
        let url = broker.ws_url();
        let mut sub = subscribed(&url, &format!("sub-{v:?}"), v, "rt/+");
        let mut publ = connected(&url, &format!("pub-{v:?}"), v);
        for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
            .into_iter()
            .enumerate()
        {
            publ.publish(
                &format!("rt/{i}"),
                format!("{v:?} qos{i}").into_bytes(),
                qos,
            );
        }
        assert!(
            run_both(&mut sub, &mut publ, 10 * SECS, |s, p| s.messages().len()
                >= 3
                && p.done_count() == 3),
            "{v:?}: got {:?}",
            sub.messages()
        );
        // Let any duplicate arrive before counting.
        sub.run_until(Duration::from_millis(300), |_| false);
        let got: Vec<String> = sub
            .messages()
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect();
        assert_eq!(
            got,
            [
                format!("{v:?} qos0"),
                format!("{v:?} qos1"),
                format!("{v:?} qos2")
            ]
        );
        let qos: Vec<QoS> = sub
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Message(p) => Some(p.qos),
                _ => None,
            })
            .collect();
        assert_eq!(qos, [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]);
        assert_eq!(publ.session.inflight_len(), 0);
    }
}

#[test]
fn a_persistent_session_receives_what_was_published_while_away_exactly_once() {
    let broker = Broker::start(BrokerOptions::default());
    let url = broker.ws_url();
    for v in VERSIONS {
        let id = format!("persistent-{v:?}");
        let topic = format!("away/{v:?}");
        let mut away = subscribed(&url, &id, v, &topic);
        away.disconnect();
        assert_eq!(away.session.status(), Status::Idle);

        let mut publ = connected(&url, &format!("pub-away-{v:?}"), v);
        for i in 0..50 {
            publ.publish(&topic, format!("{i}").into_bytes(), QoS::AtLeastOnce);
        }
        assert!(publ.run_until(10 * SECS, |p| p.done_count() == 50));

        away.connect();
        assert!(
            away.run_until(10 * SECS, |c| c.messages().len() >= 50),
            "{v:?}: {}",
            away.messages().len()
        );
        away.run_until(Duration::from_millis(500), |_| false);
        assert_eq!(away.last_session_present(), Some(true));
        let expected: Vec<Vec<u8>> = (0..50).map(|i| format!("{i}").into_bytes()).collect();
        assert_eq!(away.messages(), expected, "{v:?}: each once, in order");
    }
}

#[test]
fn sigkill_and_restart_mid_stream_reconnects_with_hook_credentials_and_loses_nothing() {
    for v in VERSIONS {
        let mut broker = Broker::start(BrokerOptions {
            persistence: true,
            password: Some(("1".into(), "s3cret".into())),
            ..Default::default()
        });
        let url = broker.ws_url();
        let calls = Rc::new(Cell::new(0u32));
        let hook = |calls: Rc<Cell<u32>>| {
            Box::new(move |_attempt: u32| {
                calls.set(calls.get() + 1);
                Ok(Credentials {
                    username: Some("1".into()),
                    password: Some(b"s3cret".to_vec()),
                })
            })
        };
        let mut sub = Client::new(
            &url,
            Client::config(&format!("kill-sub-{v:?}"), v),
            hook(calls.clone()),
        );
        sub.connect();
        sub.subscribe("kill/t", QoS::AtLeastOnce);
        assert!(sub.run_until(30 * SECS, |c| c.subscribed_count() == 1));
        let mut publ = Client::new(
            &url,
            Client::config(&format!("kill-pub-{v:?}"), v),
            hook(calls.clone()),
        );
        publ.connect();
        assert!(publ.run_until(10 * SECS, Client::is_connected));

        const N: usize = 300;
        let mut killed_at = None;
        for i in 0..N {
            publ.publish("kill/t", format!("{i}").into_bytes(), QoS::AtLeastOnce);
            publ.step(Duration::from_millis(2));
            sub.step(Duration::from_millis(2));
            if i == N / 2 {
                broker.kill();
                killed_at = Some(i);
                std::thread::sleep(Duration::from_millis(300));
                broker.restart();
            }
        }
        assert!(killed_at.is_some());
        let everything = |s: &Client, p: &Client| {
            let got: BTreeSet<Vec<u8>> = s.messages().into_iter().collect();
            got.len() == N && p.session.inflight_len() == 0 && p.session.queued_len() == 0
        };
        let ok = run_both(&mut sub, &mut publ, 30 * SECS, everything);
        let got: BTreeSet<Vec<u8>> = sub.messages().into_iter().collect();
        let missing: Vec<usize> = (0..N)
            .filter(|i| !got.contains(format!("{i}").as_bytes()))
            .collect();
        assert!(
            ok,
            "{v:?}: missing {missing:?}; broker log:\n{}",
            broker.log_tail()
        );
        assert!(
            sub.connected_count() >= 2 && publ.connected_count() >= 2,
            "both reconnected by themselves"
        );
        assert!(
            calls.get() >= 4,
            "credentials fetched before every attempt: {}",
            calls.get()
        );
        assert!(
            sub.disconnects().iter().all(|(_, e)| matches!(
                e,
                ConnectionError::TransportClosed(_) | ConnectionError::ConnectTimeout(_)
            )),
            "{:?}",
            sub.disconnects()
        );
    }
}

#[test]
fn a_frozen_broker_is_declared_dead_within_one_and_a_half_keepalives_and_reconnect_starts() {
    let broker = Broker::start(BrokerOptions::default());
    let url = broker.ws_url();
    for v in VERSIONS {
        let mut config = Client::config(&format!("frozen-{v:?}"), v);
        config.keep_alive_secs = 4;
        let keepalive = Duration::from_secs(4);
        let mut c = Client::anonymous(&url, config);
        c.connect();
        assert!(c.run_until(10 * SECS, Client::is_connected));
        // Some traffic first, so the freeze lands on a live, recently used connection.
        c.publish("frozen/t", b"x".to_vec(), QoS::AtLeastOnce);
        assert!(c.run_until(5 * SECS, |c| c.done_count() == 1));

        broker.freeze();
        let frozen = Instant::now();
        let calls_before = c.credential_calls;
        let dead = c.run_until(5 * keepalive, |c| {
            c.disconnects()
                .iter()
                .any(|(_, e)| *e == ConnectionError::KeepAliveTimeout)
        });
        let took = frozen.elapsed();
        assert!(dead, "{v:?}: never declared dead");
        assert!(
            took <= keepalive * 3 / 2,
            "{v:?}: dead after {took:?}, keepalive {keepalive:?}"
        );
        assert!(
            c.run_until(5 * SECS, |c| c.credential_calls > calls_before),
            "{v:?}: reconnect did not start"
        );
        broker.thaw();
        assert!(
            c.run_until(15 * SECS, Client::is_connected),
            "{v:?}: reconnect after thaw"
        );
    }
}

#[test]
fn a_thousand_unacknowledged_publishes_are_redelivered_with_dup_pipelined() {
    // Mosquitto's default receive maximum (20) would cap the 5.0 window; let it be 1,000.
    let broker = Broker::start(BrokerOptions {
        extra_config: "max_inflight_messages 1000\n".into(),
        ..Default::default()
    });
    let url = broker.ws_url();
    for v in VERSIONS {
        let topic = format!("replay/{v:?}");
        let mut sub = subscribed(&url, &format!("replay-sub-{v:?}"), v, &topic);
        let mut publ = connected(&url, &format!("replay-pub-{v:?}"), v);

        // The link dies with 1,000 publishes written but never seen by the broker.
        publ.withhold = true;
        for i in 0..1000 {
            publ.publish(&topic, format!("{i}").into_bytes(), QoS::AtLeastOnce);
        }
        assert_eq!(publ.session.inflight_len(), 1000);
        publ.break_link();
        publ.withhold = false;
        publ.written.clear();
        let before = publ.events.len();

        assert!(publ.run_until(30 * SECS, |p| p.done_count() == 1000));
        assert_eq!(publ.last_session_present(), Some(true));
        assert_eq!(publ.written.len(), 1000);
        assert!(
            publ.written.iter().all(|p| p.dup),
            "every resend carries DUP"
        );
        let after = &publ.events[before..];
        let connected_at = after
            .iter()
            .find_map(|(t, e)| matches!(e, Event::Connected { .. }).then_some(*t))
            .expect("reconnected");
        let last_ack_at = after
            .iter()
            .filter_map(|(t, e)| matches!(e, Event::PublishDone { .. }).then_some(*t))
            .max()
            .expect("acks");
        let took = Duration::from_millis((last_ack_at - connected_at).max(1));
        println!(
            "replay {v:?}: 1000 unacknowledged QoS 1 messages resent with DUP and acknowledged {took:?} after CONNACK: {:.0} msg/s (MQTT.js, one per round trip: ~20 msg/s)",
            1000.0 / took.as_secs_f64()
        );
        assert!(sub.run_until(20 * SECS, |s| s.messages().len() >= 1000));
        let got: BTreeSet<Vec<u8>> = sub.messages().into_iter().collect();
        assert_eq!(got.len(), 1000);
    }
}

//! `make bench`: how fast a reconnect replays QoS 1 publishes the broker has not acknowledged,
//! imcore beside MQTT.js 5.16, against the same Mosquitto, directly on loopback and through
//! a proxy that adds a 50 ms round trip (tools/latency-proxy.mjs).
//!
//! imcore pipelines the replay up to the broker's receive maximum; MQTT.js sends the next
//! stored message from the previous one's PUBACK callback, one per round trip.
#![allow(clippy::disallowed_methods)] // a benchmark owns real time

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main()
}

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/broker.rs"]
mod broker;
#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/client.rs"]
mod client;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use crate::broker::{Broker, BrokerOptions};
    use crate::client::Client;
    use imcore::mqtt::{ProtocolVersion, QoS};
    use imcore::session::Event;

    const LIMIT: Duration = Duration::from_secs(120);

    /// Time from CONNACK to the last acknowledgement, from the events' own timestamps.
    fn connack_to_last_ack(c: &Client, from: usize) -> Duration {
        let events = c.events.get(from..).unwrap_or_default();
        let connected = events
            .iter()
            .find_map(|(t, e)| matches!(e, Event::Connected { .. }).then_some(*t));
        let last = events
            .iter()
            .filter_map(|(t, e)| matches!(e, Event::PublishDone { .. }).then_some(*t))
            .max();
        match (connected, last) {
            (Some(a), Some(b)) => Duration::from_millis(b.saturating_sub(a).max(1)),
            _ => panic!("no reconnect or no acknowledgement"),
        }
    }

    /// Publishes made while offline, sent when the connection comes up.
    fn imcore_offline(url: &str, n: usize, tag: &str) -> Duration {
        let mut c = Client::anonymous(
            url,
            Client::config(&format!("imcore-offline-{tag}"), ProtocolVersion::V311),
        );
        for i in 0..n {
            c.publish("bench/imcore", i.to_string().into_bytes(), QoS::AtLeastOnce);
        }
        c.connect();
        assert!(
            c.run_until(LIMIT, |c| c.done_count() == n),
            "imcore offline replay timed out"
        );
        connack_to_last_ack(&c, 0)
    }

    /// Publishes written on a link that died before the broker saw them: resent with DUP.
    fn imcore_unacked(url: &str, n: usize, tag: &str) -> Duration {
        let mut c = Client::anonymous(
            url,
            Client::config(&format!("imcore-unacked-{tag}"), ProtocolVersion::V311),
        );
        c.connect();
        assert!(c.run_until(LIMIT, Client::is_connected));
        c.withhold = true;
        for i in 0..n {
            c.publish("bench/imcore", i.to_string().into_bytes(), QoS::AtLeastOnce);
        }
        c.break_link();
        c.withhold = false;
        let from = c.events.len();
        assert!(
            c.run_until(LIMIT, |c| c.done_count() == n),
            "imcore resend timed out"
        );
        connack_to_last_ack(&c, from)
    }

    fn mqttjs(url: &str, n: usize) -> Option<Duration> {
        let out = Command::new("node")
            .args(["bench/replay-mqttjs.mjs", url, &n.to_string()])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let ms: f64 = text
            .split("\"ms\":")
            .nth(1)?
            .split([',', '}'])
            .next()?
            .trim()
            .parse()
            .ok()?;
        if !out.status.success() {
            eprintln!("MQTT.js: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        Some(Duration::from_secs_f64(ms / 1000.0))
    }

    struct Proxy(Child, u16);

    impl Proxy {
        fn start(target_port: u16, delay_ms: u64) -> Proxy {
            let mut child = Command::new("node")
                .args([
                    "tools/latency-proxy.mjs",
                    "--target",
                    &format!("127.0.0.1:{target_port}"),
                ])
                .args(["--delay-ms", &delay_ms.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("node tools/latency-proxy.mjs");
            let mut line = String::new();
            if let Some(out) = child.stdout.take() {
                let _ = BufReader::new(out).read_line(&mut line);
            }
            let port = line
                .trim()
                .strip_prefix("READY ")
                .and_then(|p| p.parse().ok())
                .expect("proxy did not start");
            Proxy(child, port)
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn rate(n: usize, d: Duration) -> String {
        format!(
            "{:>9.0} msg/s ({:>8.1} ms)",
            n as f64 / d.as_secs_f64(),
            d.as_secs_f64() * 1000.0
        )
    }

    pub fn main() {
        if std::env::args().any(|a| a == "--list") {
            return; // `cargo test --benches` asks for the list of benchmarks
        }
        let broker = Broker::start(BrokerOptions::default());
        println!("QoS 1 replay after (re)connect, MQTT 3.1.1, Mosquitto 2.0 — time from CONNACK to the last PUBACK");
        println!(
            "{:<22} {:>6}  {:<32} {:<32} {:<32}",
            "link",
            "msgs",
            "imcore: unacked, DUP resend",
            "imcore: queued offline",
            "MQTT.js 5.16: stored offline"
        );
        for (label, delay, n) in [("loopback", 0u64, 1000usize), ("50 ms round trip", 25, 200)] {
            let proxy = (delay > 0).then(|| Proxy::start(broker.ws_port, delay));
            let url = match &proxy {
                Some(p) => format!("ws://127.0.0.1:{}/mqtt", p.1),
                None => broker.ws_url(),
            };
            let tag = format!("{delay}");
            let unacked = imcore_unacked(&url, n, &tag);
            let offline = imcore_offline(&url, n, &tag);
            let baseline =
                mqttjs(&url, n).map_or("failed (see stderr)".to_string(), |d| rate(n, d));
            println!(
                "{:<22} {:>6}  {:<32} {:<32} {:<32}",
                label,
                n,
                rate(n, unacked),
                rate(n, offline),
                baseline
            );
        }
    }
}

//! The server's own MQTT connection: rumqttc over TCP with a persistent session
//! (`clean_session = false`, a fixed client id) and QoS 1 publishes.
//!
//! The event loop is polled in its own task for the life of the server. While the broker
//! is down, publishes wait in the request channel; publishes that were in flight when the
//! connection dropped are kept by rumqttc (`EventLoop::clean`) and sent again first after
//! the reconnect, so what the server published while the broker was away is delivered once
//! it is back.
//!
//! Given several broker addresses (the nodes of a RabbitMQ cluster, `--mqtt-addrs`), it
//! tries the next one after each failed connection attempt or lost connection. The event
//! loop, with its session state and queued publishes, stays the same; only its
//! `mqtt_options` (which hold the address) are replaced.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::task::JoinHandle;

/// Requests that may wait for the broker (about 10 MB of 1 KB messages).
const QUEUE_CAPACITY: usize = 10_000;
/// Pause between connection attempts while the broker is down.
const RETRY_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// The broker's TCP listeners (host, port), tried in turn; at least one.
    pub addrs: Vec<(String, u16)>,
    pub client_id: String,
    pub user: String,
    pub password: String,
}

#[derive(Debug)]
pub struct Publisher {
    client: AsyncClient,
    connected: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Publisher {
    /// Starts the connection task; returns at once (the broker may be down).
    pub fn start(settings: &MqttSettings) -> Publisher {
        let mut addrs = settings.addrs.clone();
        let first = match addrs.first() {
            Some(a) => a.clone(),
            None => {
                let a = ("127.0.0.1".to_string(), 1883);
                addrs.push(a.clone());
                a
            }
        };
        let options_for = {
            let settings = settings.clone();
            move |(host, port): &(String, u16)| {
                let mut options = MqttOptions::new(&settings.client_id, host, *port);
                options
                    .set_credentials(&settings.user, &settings.password)
                    .set_clean_session(false)
                    .set_keep_alive(Duration::from_secs(20))
                    .set_max_packet_size(256 * 1024, 256 * 1024);
                options
            }
        };
        let mut current = 0usize;
        let (client, mut eventloop) = AsyncClient::new(options_for(&first), QUEUE_CAPACITY);
        let connected = Arc::new(AtomicBool::new(false));
        let flag = connected.clone();
        let task = tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        let (host, port) = eventloop.mqtt_options.broker_address();
                        crate::log(&format!(
                            "mqtt: connected to {host}:{port} (session present: {})",
                            ack.session_present
                        ));
                        flag.store(true, Ordering::SeqCst);
                        failures = 0;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let lost = flag.swap(false, Ordering::SeqCst);
                        if lost || failures == 0 {
                            let (host, port) = eventloop.mqtt_options.broker_address();
                            crate::log(&format!(
                                "mqtt: connection to {host}:{port} lost or refused: {e}"
                            ));
                        }
                        failures = failures.saturating_add(1);
                        if addrs.len() > 1 {
                            current = (current + 1) % addrs.len();
                            if let Some(next) = addrs.get(current) {
                                eventloop.mqtt_options = options_for(next);
                                if lost || failures == 1 {
                                    crate::log(&format!("mqtt: trying {}:{}", next.0, next.1));
                                }
                            }
                            // A whole round failed: pause before the next.
                            if current != 0 {
                                continue;
                            }
                        }
                        tokio::time::sleep(RETRY_EVERY).await;
                    }
                }
            }
        });
        Publisher {
            client,
            connected,
            task,
        }
    }

    /// Queues a QoS 1 publish; `false` if the queue is full.
    pub fn publish(&self, topic: &str, payload: Vec<u8>) -> bool {
        self.client
            .try_publish(topic, QoS::AtLeastOnce, false, payload)
            .is_ok()
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Sends DISCONNECT (if connected) and stops the task.
    pub async fn stop(&self) {
        if self.is_connected() {
            let _ = self.client.try_disconnect();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.task.abort();
        crate::log("mqtt: stopped");
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

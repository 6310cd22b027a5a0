//! Drives the sans-IO [`Session`] over a real WebSocket (tungstenite, subprotocol `mqtt`)
//! the way the wasm shell does: carry out outputs in order, read with a timeout bounded
//! by the session's next deadline, fire the deadline.
//!
//! Include with `#[path = "support/client.rs"] mod client;`.
#![allow(dead_code)]
#![allow(clippy::disallowed_methods)] // the harness owns the clock the session is fed

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use imcore::mqtt::{Packet, ProtocolVersion, Publish, QoS, StreamDecoder, SubscribeFilter};
use imcore::session::{
    ConnectionError, Credentials, Event, Output, PublishId, Session, SessionConfig, Status,
};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

type Hook = Box<dyn FnMut(u32) -> Result<Credentials, String>>;

/// One client: a session, its socket and everything it reported.
pub struct Client {
    pub session: Session,
    url: String,
    ws: Option<WebSocket<TcpStream>>,
    epoch: Instant,
    hook: Hook,
    /// Events in arrival order, with the time (ms since creation) they arrived.
    pub events: Vec<(u64, Event)>,
    pub credential_calls: u32,
    /// While set, bytes the session writes are dropped instead of sent (a link that died
    /// with the data in flight, unseen by the broker).
    pub withhold: bool,
    /// Every PUBLISH the session wrote (even withheld ones), decoded.
    pub written: Vec<Publish>,
    outgoing: StreamDecoder,
    inbox: VecDeque<Vec<u8>>,
}

impl Client {
    pub fn new(url: &str, config: SessionConfig, hook: Hook) -> Client {
        let version = config.protocol;
        Client {
            session: Session::new(config),
            url: url.to_string(),
            ws: None,
            epoch: Instant::now(),
            hook,
            events: vec![],
            credential_calls: 0,
            withhold: false,
            written: vec![],
            outgoing: StreamDecoder::new(version, 1 << 28),
            inbox: VecDeque::new(),
        }
    }

    /// A client with anonymous credentials.
    pub fn anonymous(url: &str, config: SessionConfig) -> Client {
        Client::new(url, config, Box::new(|_| Ok(Credentials::default())))
    }

    pub fn config(client_id: &str, version: ProtocolVersion) -> SessionConfig {
        let mut c = SessionConfig::new(client_id);
        c.protocol = version;
        c.reconnect.initial_delay_ms = 200;
        c.reconnect.max_delay_ms = 1_000;
        c.connect_timeout_ms = 5_000;
        c.offline_queue_limit = 100_000;
        c.max_inflight = u16::MAX;
        c.rng_seed = 42;
        c
    }

    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn connect(&mut self) {
        let now = self.now();
        self.session.connect(now);
        self.pump();
    }

    pub fn disconnect(&mut self) {
        let now = self.now();
        self.session.disconnect(now);
        self.pump();
    }

    pub fn subscribe(&mut self, filter: &str, qos: QoS) {
        let now = self.now();
        self.session
            .subscribe(now, vec![SubscribeFilter::new(filter, qos)])
            .expect("subscribe");
        self.pump();
    }

    pub fn publish(&mut self, topic: &str, payload: Vec<u8>, qos: QoS) -> PublishId {
        let now = self.now();
        let id = self
            .session
            .publish(now, topic, payload, qos, false)
            .expect("publish");
        self.pump();
        id
    }

    /// Closes the socket under the session, as a network failure would.
    pub fn break_link(&mut self) {
        self.ws = None;
        let now = self.now();
        self.session
            .handle_transport_closed(now, "link broken by the test");
        self.pump();
    }

    /// Carries out every pending output, in order.
    pub fn pump(&mut self) {
        while let Some(out) = self.session.poll_output() {
            let now = self.now();
            match out {
                Output::NeedCredentials { attempt } => {
                    self.credential_calls += 1;
                    let creds = (self.hook)(attempt);
                    self.session.handle_credentials(now, creds);
                }
                Output::Open { .. } => match open(&self.url) {
                    Ok(ws) => {
                        self.ws = Some(ws);
                        let now = self.now();
                        self.session.handle_transport_open(now);
                    }
                    Err(e) => {
                        let now = self.now();
                        self.session.handle_transport_closed(now, &e);
                    }
                },
                Output::Transmit(bytes) => {
                    self.outgoing.push(&bytes);
                    while let Ok(Some(p)) = self.outgoing.next_packet() {
                        if let Packet::Publish(p) = p {
                            self.written.push(p);
                        }
                    }
                    if self.withhold {
                        continue;
                    }
                    let Some(ws) = self.ws.as_mut() else { continue };
                    if let Err(e) = ws.send(Message::Binary(bytes.into())) {
                        self.ws = None;
                        let now = self.now();
                        self.session.handle_transport_closed(now, &e.to_string());
                    }
                }
                Output::Close => {
                    if let Some(mut ws) = self.ws.take() {
                        let _ = ws.close(None);
                        let _ = ws.flush();
                    }
                    self.outgoing = StreamDecoder::new(self.session.config().protocol, 1 << 28);
                }
                Output::Event(e) => self.events.push((now, e)),
            }
        }
    }

    /// One turn of the loop: read for at most `max_wait` (less if a deadline is nearer),
    /// then fire a due deadline.
    pub fn step(&mut self, max_wait: Duration) {
        self.pump();
        let now = self.now();
        let wait = match self.session.poll_timeout() {
            Some(at) => Duration::from_millis(at.saturating_sub(now)).min(max_wait),
            None => max_wait,
        }
        .max(Duration::from_millis(1));
        match self.ws.as_mut() {
            Some(ws) => {
                // Wait for the first frame, then take whatever else is already there, as a
                // browser's event loop would deliver a burst of frames.
                let _ = ws.get_mut().set_read_timeout(Some(wait));
                let mut first = true;
                let closed = loop {
                    match ws.read() {
                        Ok(Message::Binary(b)) => self.inbox.push_back(b.to_vec()),
                        Ok(Message::Close(_)) => break Some("closed by the broker".to_string()),
                        Ok(_) => {}
                        Err(tungstenite::Error::Io(e))
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            break None
                        }
                        Err(e) => break Some(e.to_string()),
                    }
                    if first {
                        first = false;
                        let _ = ws.get_mut().set_nonblocking(true);
                    }
                };
                if let Some(ws) = self.ws.as_mut() {
                    let _ = ws.get_mut().set_nonblocking(false);
                }
                // Frames that arrived before the close (a last PUBACK, a 5.0 DISCONNECT)
                // are handled first, as a browser's event order would have them.
                self.feed_inbox();
                if let Some(why) = closed {
                    self.closed(&why);
                }
            }
            None => std::thread::sleep(wait),
        }
        self.feed_inbox();
        let now = self.now();
        if self.session.poll_timeout().is_some_and(|at| at <= now) {
            self.session.handle_timeout(now);
        }
        self.pump();
    }

    fn feed_inbox(&mut self) {
        while let Some(bytes) = self.inbox.pop_front() {
            let now = self.now();
            self.session.handle_bytes(now, &bytes);
            self.pump();
        }
    }

    fn closed(&mut self, why: &str) {
        self.ws = None;
        let now = self.now();
        self.session.handle_transport_closed(now, why);
    }

    /// Steps until `done` holds; false on timeout.
    pub fn run_until(&mut self, timeout: Duration, mut done: impl FnMut(&Client) -> bool) -> bool {
        let end = Instant::now() + timeout;
        while !done(self) {
            if Instant::now() >= end {
                return false;
            }
            self.step(Duration::from_millis(20));
        }
        true
    }

    pub fn is_connected(&self) -> bool {
        self.session.status() == Status::Connected
    }

    /// Payloads of the application messages received, in order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Message(p) => Some(p.payload.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn done_count(&self) -> usize {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::PublishDone { .. }))
            .count()
    }

    pub fn connected_count(&self) -> usize {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Connected { .. }))
            .count()
    }

    pub fn subscribed_count(&self) -> usize {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Subscribed { .. }))
            .count()
    }

    pub fn disconnects(&self) -> Vec<(u64, ConnectionError)> {
        self.events
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Disconnected { error, .. } => Some((*t, error.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn last_session_present(&self) -> Option<bool> {
        self.events.iter().rev().find_map(|(_, e)| match e {
            Event::Connected { session_present } => Some(*session_present),
            _ => None,
        })
    }
}

/// Opens a WebSocket with subprotocol `mqtt`; a stopped broker accepts TCP but never
/// answers the upgrade, so the handshake has a deadline.
fn open(url: &str) -> Result<WebSocket<TcpStream>, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    let host = request.uri().host().unwrap_or("127.0.0.1").to_string();
    let port = request.uri().port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (ws, _) = tungstenite::client(request, stream).map_err(|e| e.to_string())?;
    Ok(ws)
}

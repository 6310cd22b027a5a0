//! The MQTT session as a sans-IO state machine.
//!
//! The session never touches a socket, a timer or a clock. Its driver (the wasm shell, or a
//! test harness over tungstenite) feeds it inputs and carries out its outputs:
//!
//! * inputs: [`Session::connect`], [`Session::handle_credentials`],
//!   [`Session::handle_transport_open`], [`Session::handle_bytes`],
//!   [`Session::handle_transport_closed`], [`Session::handle_timeout`], [`Session::wake`],
//!   and the application's [`Session::publish`], [`Session::subscribe`],
//!   [`Session::unsubscribe`], [`Session::disconnect`]. Each takes `now_ms`, a monotonic
//!   clock in milliseconds.
//! * outputs: after every input, drain [`Session::poll_output`] until `None` and carry out
//!   each [`Output`] in order (ask for credentials, open the transport, write bytes, close,
//!   deliver events); then arm one timer for [`Session::poll_timeout`] and call
//!   [`Session::handle_timeout`] when it fires. An early or spurious wake-up does nothing;
//!   a late one never causes a false disconnect.
//!
//! What survives a reconnection of a persistent session: the queue of publishes not yet
//! sent, the in-flight window (resent with DUP, in order, pipelined up to the broker's
//! receive maximum), the incoming QoS 2 identifiers (so a redelivered QoS 2 message is not
//! delivered twice), and the subscriptions (renewed when the broker lost the session).
//!
//! Keepalive judges liveness from when packets were really sent and received: a PINGREQ
//! goes out once either direction has been quiet for the keepalive, and the connection is
//! declared dead only when its answer is overdue on a timer that fired on time. A timer
//! that fired late (a throttled background tab, a frozen phone) sends a fresh PINGREQ and
//! waits again instead — twice in a row at most: if a third late check still finds nothing
//! received since the first ping, the connection is declared dead, so a tab whose timers
//! always fire late (and whose socket events are not throttled) still finds a dead broker.

mod backoff;
mod config;
mod events;
mod outgoing;
mod outputs;
#[cfg(test)]
mod tests;

use crate::collections::{Gather, VecMap};

pub use config::{Credentials, ReconnectPolicy, SessionConfig};
pub use events::{ConnectionError, Event, Output, PublishId, RequestId, SessionError, Status};

use crate::mqtt::{
    Ack, ConnAck, Connect, DecodeError, Disconnect, Packet, Properties, ProtocolVersion, Publish,
    QoS, ReasonCode, StreamDecoder, SubAck, Subscribe, SubscribeFilter, UnsubAck, Unsubscribe,
};
use backoff::Backoff;
#[cfg(feature = "chat")]
pub(crate) use backoff::Rng;
use outgoing::{Outgoing, Queued, Stage};
use outputs::Outputs;

/// Packets queued for one write are joined up to this size, so a resend of a thousand
/// messages leaves in a handful of frames instead of a thousand.
const TRANSMIT_COALESCE_BYTES: usize = 64 * 1024;
/// Lateness beyond which a timer is judged to have fired late (at least this, or half the
/// ping timeout).
const MIN_LATE_SLACK_MS: u64 = 1_000;
/// Fresh PINGREQs sent after late wake-ups before an unanswered ping counts as dead anyway.
const MAX_LATE_REPINGS: u8 = 2;

#[derive(Debug)]
enum State {
    /// Not started, or stopped by the application.
    Idle,
    /// Stopped after a failure, with reconnecting off.
    Offline,
    /// Backing off until `until`.
    Waiting {
        until: u64,
    },
    /// Waiting for the driver's credentials.
    Credentials {
        since: u64,
    },
    /// Waiting for the transport to open.
    Opening {
        since: u64,
        credentials: Credentials,
    },
    /// CONNECT written, CONNACK awaited.
    Handshake {
        since: u64,
    },
    Connected(Link),
}

/// What one accepted connection knows.
#[derive(Debug)]
struct Link {
    since: u64,
    keep_alive_ms: u64,
    last_sent: u64,
    last_received: u64,
    ping: Option<Ping>,
    /// How many QoS 1/2 publishes may be unacknowledged at once.
    send_quota: usize,
    max_packet_size: Option<u32>,
    max_qos: QoS,
    /// Incoming topic aliases (5.0), valid for this connection only.
    aliases: VecMap<u16, String>,
}

#[derive(Debug, Clone, Copy)]
struct Ping {
    sent_at: u64,
    late_repings: u8,
}

#[derive(Debug, Clone)]
enum RequestKind {
    Subscribe(Vec<SubscribeFilter>),
    Unsubscribe(Vec<String>),
}

#[derive(Debug, Clone)]
struct Request {
    kind: RequestKind,
    /// Set while written on the current connection and unacknowledged.
    packet_id: Option<u16>,
}

/// An MQTT client session. See the module documentation for the driver contract.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    status: Status,
    backoff: Backoff,
    outgoing: Outgoing,
    /// Incoming QoS 2 packet identifiers delivered and awaiting PUBREL.
    incoming_qos2: VecMap<u16, ()>,
    /// The subscriptions the application wants, renewed when the broker lost the session.
    subscriptions: Vec<SubscribeFilter>,
    requests: VecMap<RequestId, Request>,
    decoder: StreamDecoder<true>,
    outputs: Outputs,
    next_token: u64,
    /// Some in-flight entries were not written on the current connection.
    resend_pending: bool,
    /// Index into `config.urls` of the broker of the current (or next) attempt.
    url_index: usize,
}

impl Session {
    /// A session that does nothing until [`Session::connect`].
    pub fn new(config: SessionConfig) -> Self {
        let decoder = StreamDecoder::from_server(config.protocol, config.max_packet_size as usize);
        Session {
            backoff: Backoff::new(config.rng_seed),
            config,
            state: State::Idle,
            status: Status::Idle,
            outgoing: Outgoing::default(),
            incoming_qos2: VecMap::new(),
            subscriptions: Vec::new(),
            requests: VecMap::new(),
            decoder,
            outputs: Outputs::default(),
            next_token: 1,
            resend_pending: false,
            url_index: 0,
        }
    }

    /// Replaces the broker list (the chat backend names it in every conn-config answer).
    /// The rotation carries on where it was when the list is the same; a different list
    /// starts from its first broker. Takes effect at the next [`Output::Open`].
    pub fn set_urls(&mut self, urls: Vec<String>) {
        if urls != self.config.urls {
            self.config.urls = urls;
            self.url_index = 0;
        }
    }

    /// The broker of the current attempt or connection (empty when none was given).
    pub fn url(&self) -> &str {
        self.config
            .urls
            .get(self.url_index)
            .map_or("", String::as_str)
    }

    /// The session's configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The current connection status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// QoS 1/2 publishes written and awaiting acknowledgement (or awaiting a resend).
    pub fn inflight_len(&self) -> usize {
        self.outgoing.inflight_len()
    }

    /// Publishes accepted but not yet written.
    pub fn queued_len(&self) -> usize {
        self.outgoing.queue.len()
    }

    /// The next output to carry out, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop()
    }

    /// When [`Session::handle_timeout`] must next be called (same clock as `now_ms`).
    pub fn poll_timeout(&self) -> Option<u64> {
        let timeout = self.config.connect_timeout_ms;
        match &self.state {
            State::Idle | State::Offline => None,
            State::Waiting { until } => Some(*until),
            State::Credentials { since }
            | State::Opening { since, .. }
            | State::Handshake { since } => Some(since.saturating_add(timeout)),
            State::Connected(link) => {
                if link.keep_alive_ms == 0 {
                    return None;
                }
                Some(match link.ping {
                    Some(ping) => ping.sent_at.saturating_add(self.ping_timeout(link)),
                    None => link
                        .last_sent
                        .min(link.last_received)
                        .saturating_add(link.keep_alive_ms),
                })
            }
        }
    }

    /// Starts connecting (from idle or offline); does nothing if already under way.
    pub fn connect(&mut self, now_ms: u64) {
        if matches!(self.state, State::Idle | State::Offline) {
            self.backoff.reset();
            self.begin_attempt(now_ms);
        }
    }

    /// Answers [`Output::NeedCredentials`]. An `Err` fails the attempt (and backs off).
    pub fn handle_credentials(&mut self, now_ms: u64, credentials: Result<Credentials, String>) {
        if !matches!(self.state, State::Credentials { .. }) {
            return;
        }
        match credentials {
            Ok(credentials) => {
                self.set_state(State::Opening {
                    since: now_ms,
                    credentials,
                });
                let url = self.url().to_string();
                self.outputs.push(Output::Open { url });
            }
            Err(why) => self.fail(now_ms, ConnectionError::Credentials(why), false),
        }
    }

    /// The transport asked for by [`Output::Open`] is open: CONNECT goes out.
    pub fn handle_transport_open(&mut self, now_ms: u64) {
        let State::Opening { credentials, .. } = &self.state else {
            return;
        };
        let connect = self.connect_packet(credentials.clone());
        self.decoder.reset(self.config.protocol);
        self.set_state(State::Handshake { since: now_ms });
        if self.send(now_ms, &Packet::Connect(connect)).is_err() {
            // Only an unencodable will, client id or credentials get here: retrying cannot help.
            self.outputs.push(Output::Close);
            self.set_state(State::Offline);
            self.emit(Event::Disconnected {
                error: ConnectionError::Protocol("CONNECT cannot be encoded"),
                reconnect_at: None,
            });
        }
    }

    /// The transport closed or failed (whatever the side that closed it).
    pub fn handle_transport_closed(&mut self, now_ms: u64, why: &str) {
        if matches!(
            self.state,
            State::Opening { .. } | State::Handshake { .. } | State::Connected(_)
        ) {
            self.fail(
                now_ms,
                ConnectionError::TransportClosed(why.to_string()),
                false,
            );
        }
    }

    /// Bytes read from the transport: any split of the stream is fine.
    pub fn handle_bytes(&mut self, now_ms: u64, bytes: &[u8]) {
        if !matches!(self.state, State::Handshake { .. } | State::Connected(_)) {
            return;
        }
        if let State::Connected(link) = &mut self.state {
            link.last_received = now_ms;
            link.ping = None;
        }
        self.decoder.push(bytes);
        loop {
            if !matches!(self.state, State::Handshake { .. } | State::Connected(_)) {
                return;
            }
            match self.decoder.next_packet() {
                Ok(Some(packet)) => self.on_packet(now_ms, packet),
                Ok(None) => return,
                // Refused by the decoder unparsed (Packet::decode_from_server): the same
                // protocol error as if it had been decoded and given to on_packet.
                Err(DecodeError::ClientOnlyPacket(_)) => {
                    self.unexpected_packet(now_ms);
                    return;
                }
                Err(e) => {
                    self.send_disconnect(now_ms, ReasonCode::MalformedPacket);
                    self.fail(now_ms, ConnectionError::Malformed(e), true);
                    return;
                }
            }
        }
    }

    /// The timer armed for [`Session::poll_timeout`] fired (early, on time or late).
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let deadline = match self.poll_timeout() {
            Some(d) if now_ms >= d => d,
            _ => return,
        };
        match &self.state {
            State::Idle | State::Offline => {}
            State::Waiting { .. } => self.begin_attempt(now_ms),
            State::Credentials { .. } => self.fail(
                now_ms,
                ConnectionError::ConnectTimeout("credentials"),
                false,
            ),
            State::Opening { .. } => {
                self.fail(now_ms, ConnectionError::ConnectTimeout("transport"), true)
            }
            State::Handshake { .. } => {
                self.fail(now_ms, ConnectionError::ConnectTimeout("CONNACK"), true)
            }
            State::Connected(_) => self.keepalive(now_ms, deadline),
        }
    }

    /// The network is back or the page is visible again: skip the backoff wait, or check a
    /// connection that may have died unnoticed with an immediate PINGREQ.
    pub fn wake(&mut self, now_ms: u64) {
        match &self.state {
            State::Waiting { .. } => self.begin_attempt(now_ms),
            State::Connected(link) if link.ping.is_none() => self.send_ping(now_ms, 0),
            _ => {}
        }
    }

    /// Ends the connection on the application's request (DISCONNECT, so no last will) and
    /// stays idle. Queued and in-flight publishes are kept for the next [`Session::connect`].
    pub fn disconnect(&mut self, now_ms: u64) {
        match self.state {
            State::Connected(_) => {
                self.send_disconnect(now_ms, ReasonCode::NORMAL_DISCONNECTION);
                self.outputs.push(Output::Close);
            }
            State::Opening { .. } | State::Handshake { .. } => self.outputs.push(Output::Close),
            State::Idle | State::Offline => return,
            State::Waiting { .. } | State::Credentials { .. } => {}
        }
        self.forget_connection();
        self.set_state(State::Idle);
        self.emit(Event::Disconnected {
            error: ConnectionError::Requested,
            reconnect_at: None,
        });
    }

    /// Publishes `payload` on `topic`. Written at once when connected and the in-flight
    /// window allows; otherwise queued (in order) until it does.
    pub fn publish(
        &mut self,
        now_ms: u64,
        topic: &str,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishId, SessionError> {
        self.publish_message(
            now_ms,
            Publish {
                dup: false,
                qos,
                retain,
                topic: topic.to_string(),
                packet_id: None,
                properties: Properties::default(),
                payload,
            },
        )
    }

    /// [`Session::publish`] with 5.0 properties (message expiry, content type, …).
    pub fn publish_message(
        &mut self,
        now_ms: u64,
        mut publish: Publish,
    ) -> Result<PublishId, SessionError> {
        if !valid_topic_name(&publish.topic) {
            return Err(SessionError::InvalidTopic(publish.topic));
        }
        if self.config.protocol == ProtocolVersion::V311 {
            publish.properties = Properties::default();
        }
        if let State::Connected(link) = &self.state {
            if let Some(max) = link.max_packet_size {
                let mut probe = Vec::new();
                let mut sized = publish.clone();
                sized.packet_id = (sized.qos != QoS::AtMostOnce).then_some(1);
                Packet::Publish(sized).encode_to_server(self.config.protocol, &mut probe)?;
                if probe.len() > max as usize {
                    return Err(SessionError::PacketTooLarge {
                        size: probe.len(),
                        max,
                    });
                }
            }
        }
        if self.outgoing.queue.len() >= self.config.offline_queue_limit {
            return Err(SessionError::QueueFull {
                limit: self.config.offline_queue_limit,
            });
        }
        let id = PublishId(self.token());
        self.outgoing.queue.push_back(Queued { id, publish });
        self.pump(now_ms);
        Ok(id)
    }

    /// Subscribes to `filters`; renewed by itself whenever the broker lost the session.
    pub fn subscribe(
        &mut self,
        now_ms: u64,
        filters: Vec<SubscribeFilter>,
    ) -> Result<RequestId, SessionError> {
        if filters.is_empty() {
            return Err(SessionError::NoFilters);
        }
        if let Some(bad) = filters.iter().find(|f| !valid_topic_filter(&f.filter)) {
            return Err(SessionError::InvalidFilter(bad.filter.clone()));
        }
        for f in &filters {
            self.subscriptions.retain(|s| s.filter != f.filter);
            self.subscriptions.push(f.clone());
        }
        Ok(self.request(now_ms, RequestKind::Subscribe(filters)))
    }

    /// Unsubscribes from `filters`.
    pub fn unsubscribe(
        &mut self,
        now_ms: u64,
        filters: Vec<String>,
    ) -> Result<RequestId, SessionError> {
        if filters.is_empty() {
            return Err(SessionError::NoFilters);
        }
        if let Some(bad) = filters.iter().find(|f| !valid_topic_filter(f)) {
            return Err(SessionError::InvalidFilter(bad.clone()));
        }
        self.subscriptions.retain(|s| !filters.contains(&s.filter));
        Ok(self.request(now_ms, RequestKind::Unsubscribe(filters)))
    }

    // ---- connection lifecycle -----------------------------------------------------------

    fn begin_attempt(&mut self, now_ms: u64) {
        let attempt = self.backoff.attempt();
        self.set_state(State::Credentials { since: now_ms });
        self.outputs.push(Output::NeedCredentials { attempt });
    }

    fn connect_packet(&self, credentials: Credentials) -> Connect {
        let cfg = &self.config;
        let mut properties = Properties::default();
        if cfg.protocol == ProtocolVersion::V5 {
            if !cfg.clean_start && cfg.session_expiry_secs > 0 {
                properties.session_expiry_interval = Some(cfg.session_expiry_secs);
            }
            properties.receive_maximum = Some(cfg.receive_maximum.max(1));
            properties.maximum_packet_size = Some(cfg.max_packet_size.max(1));
            if cfg.topic_alias_maximum > 0 {
                properties.topic_alias_maximum = Some(cfg.topic_alias_maximum);
            }
        }
        let mut will = cfg.will.clone();
        if let (Some(w), ProtocolVersion::V311) = (will.as_mut(), cfg.protocol) {
            w.properties = Properties::default();
        }
        Connect {
            protocol: cfg.protocol,
            clean_start: cfg.clean_start,
            keep_alive: cfg.keep_alive_secs,
            client_id: cfg.client_id.clone(),
            will,
            username: credentials.username,
            password: credentials.password,
            properties,
        }
    }

    fn on_connack(&mut self, now_ms: u64, connack: ConnAck) {
        if connack.reason.is_error() {
            self.fail(now_ms, ConnectionError::Refused(connack.reason), true);
            return;
        }
        if connack.session_present && self.config.clean_start {
            self.protocol_error(now_ms, "session present after a clean start");
            return;
        }
        let props = &connack.properties;
        let keep_alive_ms = props
            .server_keep_alive
            .map_or(self.config.keep_alive_ms(), |s| u64::from(s) * 1000);
        let server_receive_max = props.receive_maximum.unwrap_or(u16::MAX);
        let send_quota = usize::from(server_receive_max.min(self.config.max_inflight).max(1));
        let max_qos = match props.maximum_qos {
            Some(0) => QoS::AtMostOnce,
            Some(1) => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        let session_present = connack.session_present;
        self.set_state(State::Connected(Link {
            since: now_ms,
            keep_alive_ms,
            last_sent: now_ms,
            last_received: now_ms,
            ping: None,
            send_quota,
            max_packet_size: props.maximum_packet_size,
            max_qos,
            aliases: VecMap::new(),
        }));
        self.emit(Event::Connected { session_present });

        if !session_present {
            // The broker has no state for us: nothing of the old session can be resumed,
            // so unacknowledged publishes start over as new ones and subscriptions are renewed.
            self.incoming_qos2.clear();
            for id in self.outgoing.drop_released() {
                self.emit(Event::PublishDone {
                    id,
                    reason: ReasonCode::Success,
                });
            }
            for f in self.outgoing.iter_mut() {
                f.sent_before = false;
            }
            // Filters a pending request is about to (re)subscribe need no second SUBSCRIBE.
            let pending: Vec<&str> = self
                .requests
                .values()
                .filter_map(|r| match &r.kind {
                    RequestKind::Subscribe(filters) => Some(filters),
                    RequestKind::Unsubscribe(_) => None,
                })
                .flatten()
                .map(|f| f.filter.as_str())
                .gather();
            let renew: Vec<SubscribeFilter> = self
                .subscriptions
                .iter()
                .filter(|s| !pending.contains(&s.filter.as_str()))
                .cloned()
                .gather();
            if !renew.is_empty() {
                let token = RequestId(self.token());
                self.requests.insert(
                    token,
                    Request {
                        kind: RequestKind::Subscribe(renew),
                        packet_id: None,
                    },
                );
            }
        }
        // Publishes in flight at a QoS this broker refuses go out again as new ones.
        self.outgoing.requeue_above(max_qos);
        self.send_requests(now_ms);
        self.pump(now_ms);
    }

    /// Ends the current connection or attempt after a failure and schedules the next.
    fn fail(&mut self, now_ms: u64, error: ConnectionError, close: bool) {
        let handshake = matches!(self.state, State::Handshake { .. });
        let reached_broker =
            handshake || matches!(self.state, State::Opening { .. } | State::Connected(_));
        if handshake && self.config.protocol == ProtocolVersion::V5 && refuses_v5(&error) {
            // Same broker again, in 3.1.1: it answered, it only does not speak 5.0.
            self.config.protocol = ProtocolVersion::V311;
            self.emit(Event::ProtocolFallback {
                error: error.clone(),
            });
        } else if reached_broker && !self.config.urls.is_empty() {
            self.url_index = (self.url_index + 1) % self.config.urls.len();
        }
        if let State::Connected(link) = &self.state {
            if now_ms.saturating_sub(link.since) >= self.config.reconnect.stable_after_ms {
                self.backoff.reset();
            }
        }
        if close {
            self.outputs.push(Output::Close);
        }
        self.forget_connection();
        let reconnect = self.config.reconnect.enabled
            && error != ConnectionError::ServerDisconnect(ReasonCode::SessionTakenOver);
        let reconnect_at = if reconnect {
            let until = now_ms.saturating_add(self.backoff.next_delay(&self.config.reconnect));
            self.set_state(State::Waiting { until });
            Some(until)
        } else {
            self.set_state(State::Offline);
            None
        };
        self.emit(Event::Disconnected {
            error,
            reconnect_at,
        });
    }

    /// Marks everything written on the connection that ended as needing a resend.
    fn forget_connection(&mut self) {
        self.decoder.reset(self.config.protocol);
        for f in self.outgoing.iter_mut() {
            f.sent = false;
        }
        self.resend_pending = self.outgoing.inflight_len() > 0;
        for r in self.requests.values_mut() {
            if let Some(pid) = r.packet_id.take() {
                self.outgoing.request_ids.remove(&pid);
            }
        }
    }

    fn protocol_error(&mut self, now_ms: u64, what: &'static str) {
        self.send_disconnect(now_ms, ReasonCode::ProtocolError);
        self.fail(now_ms, ConnectionError::Protocol(what), true);
    }

    /// A packet the server may not send now: anything but CONNACK during the handshake, a
    /// client-only packet after it.
    fn unexpected_packet(&mut self, now_ms: u64) {
        let what = match self.state {
            State::Handshake { .. } => "a packet before CONNACK",
            _ => "a client-only packet",
        };
        self.protocol_error(now_ms, what);
    }

    // ---- incoming packets ---------------------------------------------------------------

    fn on_packet(&mut self, now_ms: u64, packet: Packet) {
        if matches!(self.state, State::Handshake { .. }) {
            match packet {
                Packet::ConnAck(c) => self.on_connack(now_ms, c),
                _ => self.unexpected_packet(now_ms),
            }
            return;
        }
        match packet {
            Packet::Publish(p) => self.on_publish(now_ms, p),
            Packet::PubAck(ack) => self.on_puback(now_ms, ack),
            Packet::PubRec(ack) => self.on_pubrec(now_ms, ack),
            Packet::PubComp(ack) => self.on_pubcomp(now_ms, ack),
            Packet::PubRel(ack) => self.on_pubrel(now_ms, ack),
            Packet::SubAck(ack) => self.on_suback(ack),
            Packet::UnsubAck(ack) => self.on_unsuback(ack),
            Packet::PingResp => {}
            Packet::Disconnect(d) => {
                self.fail(now_ms, ConnectionError::ServerDisconnect(d.reason), true)
            }
            Packet::ConnAck(_) => self.protocol_error(now_ms, "a second CONNACK"),
            Packet::Auth(_) => self.protocol_error(now_ms, "AUTH without enhanced authentication"),
            Packet::Connect(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq => self.unexpected_packet(now_ms),
        }
    }

    fn on_publish(&mut self, now_ms: u64, mut publish: Publish) {
        if let Some(alias) = publish.properties.topic_alias {
            if alias == 0 || alias > self.config.topic_alias_maximum {
                self.send_disconnect(now_ms, ReasonCode::TopicAliasInvalid);
                self.fail(
                    now_ms,
                    ConnectionError::Protocol("invalid topic alias"),
                    true,
                );
                return;
            }
            let State::Connected(link) = &mut self.state else {
                return;
            };
            if publish.topic.is_empty() {
                match link.aliases.get(&alias) {
                    Some(topic) => publish.topic = topic.clone(),
                    None => {
                        self.send_disconnect(now_ms, ReasonCode::ProtocolError);
                        self.fail(
                            now_ms,
                            ConnectionError::Protocol("unknown topic alias"),
                            true,
                        );
                        return;
                    }
                }
            } else {
                link.aliases.insert(alias, publish.topic.clone());
            }
        } else if publish.topic.is_empty() {
            self.protocol_error(now_ms, "PUBLISH without a topic");
            return;
        }
        match (publish.qos, publish.packet_id) {
            (QoS::AtMostOnce, _) => self.emit(Event::Message(Box::new(publish))),
            (QoS::AtLeastOnce, Some(pid)) => {
                self.emit(Event::Message(Box::new(publish)));
                self.send_ack(now_ms, Packet::PubAck, pid, ReasonCode::Success);
            }
            (QoS::ExactlyOnce, Some(pid)) => {
                if !self.incoming_qos2.contains_key(&pid) {
                    if self.config.protocol == ProtocolVersion::V5
                        && self.incoming_qos2.len() >= usize::from(self.config.receive_maximum)
                    {
                        self.send_disconnect(now_ms, ReasonCode::ReceiveMaximumExceeded);
                        self.fail(
                            now_ms,
                            ConnectionError::Protocol("receive maximum exceeded"),
                            true,
                        );
                        return;
                    }
                    self.incoming_qos2.insert(pid, ());
                    self.emit(Event::Message(Box::new(publish)));
                }
                self.send_ack(now_ms, Packet::PubRec, pid, ReasonCode::Success);
            }
            (_, None) => self.protocol_error(now_ms, "QoS 1/2 PUBLISH without packet id"),
        }
    }

    fn on_puback(&mut self, now_ms: u64, ack: Ack) {
        let matches = self
            .outgoing
            .get_mut(ack.packet_id)
            .is_some_and(|f| f.stage == Stage::Qos1Sent);
        if matches {
            self.complete(now_ms, ack.packet_id, ack.reason);
        }
    }

    fn on_pubrec(&mut self, now_ms: u64, ack: Ack) {
        let stage = self.outgoing.get_mut(ack.packet_id).map(|f| f.stage);
        match stage {
            Some(Stage::Qos2Sent) if ack.reason.is_error() => {
                self.complete(now_ms, ack.packet_id, ack.reason)
            }
            Some(Stage::Qos2Sent) | Some(Stage::Released) => {
                if let Some(f) = self.outgoing.get_mut(ack.packet_id) {
                    f.stage = Stage::Released;
                }
                self.send_ack(now_ms, Packet::PubRel, ack.packet_id, ReasonCode::Success);
            }
            Some(Stage::Qos1Sent) => {}
            None => {
                let reason = self.v5_or_success(ReasonCode::PacketIdentifierNotFound);
                self.send_ack(now_ms, Packet::PubRel, ack.packet_id, reason);
            }
        }
    }

    fn on_pubcomp(&mut self, now_ms: u64, ack: Ack) {
        let matches = self
            .outgoing
            .get_mut(ack.packet_id)
            .is_some_and(|f| f.stage == Stage::Released);
        if matches {
            self.complete(now_ms, ack.packet_id, ack.reason);
        }
    }

    fn on_pubrel(&mut self, now_ms: u64, ack: Ack) {
        let reason = if self.incoming_qos2.remove(&ack.packet_id).is_some() {
            ReasonCode::Success
        } else {
            self.v5_or_success(ReasonCode::PacketIdentifierNotFound)
        };
        self.send_ack(now_ms, Packet::PubComp, ack.packet_id, reason);
    }

    fn on_suback(&mut self, ack: SubAck) {
        if let Some(id) = self.take_request(ack.packet_id) {
            self.emit(Event::Subscribed {
                id,
                reasons: ack.reasons,
            });
        }
    }

    fn on_unsuback(&mut self, ack: UnsubAck) {
        if let Some(id) = self.take_request(ack.packet_id) {
            self.emit(Event::Unsubscribed {
                id,
                reasons: ack.reasons,
            });
        }
    }

    fn take_request(&mut self, packet_id: u16) -> Option<RequestId> {
        let id = self
            .requests
            .iter()
            .find(|(_, r)| r.packet_id == Some(packet_id))
            .map(|(id, _)| *id)?;
        self.requests.remove(&id);
        self.outgoing.request_ids.remove(&packet_id);
        Some(id)
    }

    fn complete(&mut self, now_ms: u64, packet_id: u16, reason: ReasonCode) {
        if let Some(done) = self.outgoing.finish(packet_id) {
            self.emit(Event::PublishDone {
                id: done.id,
                reason,
            });
        }
        self.pump(now_ms);
    }

    // ---- outgoing -------------------------------------------------------------------------

    /// Writes what the window allows: first in-flight entries awaiting a resend (in their
    /// original order, DUP set where the broker may have seen them), then the queue.
    fn pump(&mut self, now_ms: u64) {
        let (quota, max_qos) = match &self.state {
            State::Connected(link) => (link.send_quota, link.max_qos),
            _ => return,
        };
        if self.resend_pending {
            self.resend(now_ms, quota);
        }
        while let Some(front) = self.outgoing.queue.front() {
            let qos = front.publish.qos.min(max_qos);
            if qos != QoS::AtMostOnce && self.outgoing.inflight_len() >= quota {
                return;
            }
            let Some(Queued { id, mut publish }) = self.outgoing.queue.pop_front() else {
                return;
            };
            publish.qos = qos;
            if qos == QoS::AtMostOnce {
                publish.packet_id = None;
                let reason = match self.send(now_ms, &Packet::Publish(publish)) {
                    Ok(()) => ReasonCode::Success,
                    Err(e) => e,
                };
                self.emit(Event::PublishDone { id, reason });
                continue;
            }
            let Some(pid) = self.outgoing.allocate_packet_id() else {
                // Cannot happen below 65535 in flight; put it back rather than lose it.
                self.outgoing.queue.push_front(Queued { id, publish });
                return;
            };
            self.outgoing.start(id, publish, pid);
            self.write_inflight(now_ms, pid);
        }
    }

    fn resend(&mut self, now_ms: u64, quota: usize) {
        let written = self.outgoing.iter_mut().filter(|f| f.sent).count();
        let waiting: Vec<u16> = self
            .outgoing
            .iter_mut()
            .filter(|f| !f.sent)
            .filter_map(|f| f.publish.packet_id)
            .take(quota.saturating_sub(written))
            .gather();
        let all = waiting.len() + written >= self.outgoing.inflight_len();
        for pid in waiting {
            self.write_inflight(now_ms, pid);
        }
        self.resend_pending = !all;
    }

    /// Writes (or rewrites) the in-flight entry `pid` as its stage requires.
    fn write_inflight(&mut self, now_ms: u64, pid: u16) {
        let Some(f) = self.outgoing.get_mut(pid) else {
            return;
        };
        let packet = match f.stage {
            Stage::Released => Packet::PubRel(Ack {
                packet_id: pid,
                reason: ReasonCode::Success,
                properties: Properties::default(),
            }),
            Stage::Qos1Sent | Stage::Qos2Sent => {
                let mut p = f.publish.clone();
                p.dup = f.sent_before;
                Packet::Publish(p)
            }
        };
        f.sent = true;
        f.sent_before = true;
        if let Err(reason) = self.send(now_ms, &packet) {
            if let Some(done) = self.outgoing.finish(pid) {
                self.emit(Event::PublishDone {
                    id: done.id,
                    reason,
                });
            }
        }
    }

    fn request(&mut self, now_ms: u64, kind: RequestKind) -> RequestId {
        let id = RequestId(self.token());
        self.requests.insert(
            id,
            Request {
                kind,
                packet_id: None,
            },
        );
        self.send_requests(now_ms);
        id
    }

    /// Writes every subscribe / unsubscribe request not yet written on this connection.
    fn send_requests(&mut self, now_ms: u64) {
        if !matches!(self.state, State::Connected(_)) {
            return;
        }
        let unsent: Vec<RequestId> = self
            .requests
            .iter()
            .filter(|(_, r)| r.packet_id.is_none())
            .map(|(id, _)| *id)
            .gather();
        for id in unsent {
            let Some(pid) = self.outgoing.allocate_packet_id() else {
                return;
            };
            let Some(req) = self.requests.get_mut(&id) else {
                continue;
            };
            req.packet_id = Some(pid);
            self.outgoing.request_ids.insert(pid, ());
            let packet = match &req.kind {
                RequestKind::Subscribe(filters) => Packet::Subscribe(Subscribe {
                    packet_id: pid,
                    filters: filters.clone(),
                    properties: Properties::default(),
                }),
                RequestKind::Unsubscribe(filters) => Packet::Unsubscribe(Unsubscribe {
                    packet_id: pid,
                    filters: filters.clone(),
                    properties: Properties::default(),
                }),
            };
            if self.send(now_ms, &packet).is_err() {
                // Filters were validated on entry; an unencodable request is dropped, not retried forever.
                self.requests.remove(&id);
                self.outgoing.request_ids.remove(&pid);
            }
        }
    }

    fn keepalive(&mut self, now_ms: u64, deadline: u64) {
        let State::Connected(link) = &self.state else {
            return;
        };
        let Some(ping) = link.ping else {
            self.send_ping(now_ms, 0);
            return;
        };
        let timeout = self.ping_timeout(link);
        let slack = (timeout / 2).max(MIN_LATE_SLACK_MS);
        let late = now_ms.saturating_sub(deadline) > slack;
        if late && ping.late_repings < MAX_LATE_REPINGS {
            // We cannot tell a dead broker from our own sleep: ask again, judge on time.
            self.send_ping(now_ms, ping.late_repings + 1);
        } else {
            self.fail(now_ms, ConnectionError::KeepAliveTimeout, true);
        }
    }

    fn send_ping(&mut self, now_ms: u64, late_repings: u8) {
        if self.send(now_ms, &Packet::PingReq).is_err() {
            // Only a broker whose maximum packet size is below 2 bytes gets here; without
            // pings a dead connection could never be found.
            self.protocol_error(now_ms, "the broker's maximum packet size forbids PINGREQ");
            return;
        }
        if let State::Connected(link) = &mut self.state {
            link.ping = Some(Ping {
                sent_at: now_ms,
                late_repings,
            });
        }
    }

    fn ping_timeout(&self, link: &Link) -> u64 {
        self.config
            .ping_timeout_ms
            .unwrap_or(link.keep_alive_ms * 2 / 5)
    }

    fn send_ack(
        &mut self,
        now_ms: u64,
        kind: fn(Ack) -> Packet,
        packet_id: u16,
        reason: ReasonCode,
    ) {
        let ack = Ack {
            packet_id,
            reason,
            properties: Properties::default(),
        };
        // An ack always encodes; a failure here would only mean a broken codec.
        let _ = self.send(now_ms, &kind(ack));
    }

    /// DISCONNECT before closing: always for the application's own disconnect; on an error
    /// only in 5.0, where it carries the reason (3.1.1 has none, and its DISCONNECT would
    /// also cancel the last will).
    fn send_disconnect(&mut self, now_ms: u64, reason: ReasonCode) {
        if !matches!(self.state, State::Connected(_) | State::Handshake { .. }) {
            return;
        }
        if self.config.protocol == ProtocolVersion::V5 || reason == ReasonCode::NORMAL_DISCONNECTION
        {
            let _ = self.send(
                now_ms,
                &Packet::Disconnect(Disconnect {
                    reason,
                    properties: Properties::default(),
                }),
            );
        }
    }

    fn v5_or_success(&self, reason: ReasonCode) -> ReasonCode {
        match self.config.protocol {
            ProtocolVersion::V5 => reason,
            ProtocolVersion::V311 => ReasonCode::Success,
        }
    }

    /// Encodes `packet` onto the pending write, coalescing with packets already queued.
    /// Refuses (with the reason code to report) a packet larger than the broker accepts.
    fn send(&mut self, now_ms: u64, packet: &Packet) -> Result<(), ReasonCode> {
        let max = match &self.state {
            State::Connected(link) => link.max_packet_size.map(|m| m as usize),
            _ => None,
        };
        let protocol = self.config.protocol;
        let result = self.outputs.write(TRANSMIT_COALESCE_BYTES, |buf| {
            let start = buf.len();
            match packet.encode_to_server(protocol, buf) {
                Ok(()) if max.is_some_and(|m| buf.len().saturating_sub(start) > m) => {
                    buf.truncate(start);
                    Err(ReasonCode::PacketTooLarge)
                }
                Ok(()) => Ok(()),
                Err(_) => Err(ReasonCode::ImplementationSpecificError),
            }
        });
        if result.is_ok() {
            if let State::Connected(link) = &mut self.state {
                link.last_sent = now_ms;
            }
        }
        result
    }

    // ---- small helpers --------------------------------------------------------------------

    fn set_state(&mut self, state: State) {
        let status = match &state {
            State::Idle => Status::Idle,
            State::Offline => Status::Offline,
            State::Waiting { .. } => Status::Reconnecting,
            State::Credentials { .. } => Status::FetchingCredentials,
            State::Opening { .. } | State::Handshake { .. } => Status::Connecting,
            State::Connected(_) => Status::Connected,
        };
        self.state = state;
        if status != self.status {
            self.status = status;
            self.emit(Event::Status(status));
        }
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push(Output::Event(event));
    }

    fn token(&mut self) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        t
    }
}

/// A topic name one may publish to: non-empty, no wildcards, no NUL, fits a UTF-8 string.
pub fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty() && topic.len() <= usize::from(u16::MAX) && !topic.contains(['+', '#', '\0'])
}

/// A topic filter: non-empty, no NUL, `#` only as the last whole level, `+` only as a whole level.
pub fn valid_topic_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.len() > usize::from(u16::MAX) || filter.contains('\0') {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').gather();
    let last = levels.len().saturating_sub(1);
    levels.iter().enumerate().all(|(i, level)| {
        if level.contains('#') {
            *level == "#" && i == last
        } else if level.contains('+') {
            *level == "+"
        } else {
            true
        }
    })
}

/// Whether an attempt that ended this way, after a 5.0 CONNECT and before any CONNACK was
/// accepted, says the broker does not speak 5.0: its CONNACK says so, or it hung up (a
/// 3.1.1-only broker such as RabbitMQ 3.10 closes the socket on a level-5 CONNECT), or it
/// answered in a shape a 5.0 decoder cannot read (a 3.1.1 CONNACK).
fn refuses_v5(error: &ConnectionError) -> bool {
    matches!(
        error,
        ConnectionError::Refused(ReasonCode::UnsupportedProtocolVersion)
            | ConnectionError::TransportClosed(_)
            | ConnectionError::Malformed(_)
    )
}

//! `MqttSession`: the sans-IO [`Session`] handed to JS as it is, for the `MqttClient` class
//! of `mqtt_client.js` (this folder), which is the shell of the MQTT-only module and of
//! the mini-program's.
//!
//! Why the class is JS and not Rust: its shell (options, WebSocket or transport factory,
//! timer, listeners, promises, credentials) cost 16 KB gzip -9 of wasm and wasm-bindgen
//! glue, against 3.8 KB as plain JS; the MQTT-only module with its JS went from 48,276 to
//! 37,047 B gzip -9 (`make size`).
//! The rules stay here: the session decides, checks every topic, filter and QoS, and words
//! every error; the JS shell moves bytes and values only.
//!
//! The interface is made for a small glue: numbers, strings and byte arrays, no JS objects.
//! Every input takes `now`, monotonic milliseconds. [`MqttSession::poll`] returns the next
//! output's [`Out`] kind and leaves its fields to the getters [`MqttSession::num`],
//! [`MqttSession::code`], [`MqttSession::text`] and [`MqttSession::data`]; so does a
//! request ([`MqttSession::publish`], …): `Out::Accepted` with its completion key, or
//! `Out::Failed`. (Measured against returning each output as one byte record read in JS:
//! the getters made the module and its JS 100 B gzip -9 smaller.)

use wasm_bindgen::prelude::*;

use super::error::Code;
use crate::mqtt::{Properties, ProtocolVersion, QoS, ReasonCode, SubscribeFilter, Will};
use crate::session::{
    valid_topic_name, ConnectionError, Credentials, Event, Output, PublishId, RequestId, Session,
    SessionConfig, SessionError,
};

/// What [`MqttSession::poll`] or a request returned, and which of the fields (`num`,
/// `code`, `text`, `data`) it set.
#[wasm_bindgen]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// Nothing more to do now; `num` is when to send `Input.Timeout` (monotonic ms), -1 if
    /// nothing is due.
    None = 0,
    /// Get the credentials of the next attempt and answer with `credentials`.
    Credentials = 1,
    /// Open a new transport to `text` (closing any other); report it with `Input.Opened`,
    /// `bytes` and `closed`.
    Open = 2,
    /// Write `data` to the transport.
    Transmit = 3,
    /// Close the transport; ignore what it reports afterwards.
    Close = 4,
    /// The status is now `text`.
    Status = 5,
    /// Connected to the broker `text`; `num` is 1 if the broker had the session.
    Connected = 6,
    /// A failure that is no promise's: `code` and `text`.
    Error = 7,
    /// The connection or attempt ended: why in `text`, the next attempt at `num` (monotonic
    /// ms; -1 if none); `code` is set when it ended in failure (refused, bad credentials, a
    /// protocol error), not in an ordinary loss of the link.
    Disconnected = 8,
    /// A message: topic `text`, payload `data`, `num` = QoS + 4 if retained.
    Message = 9,
    /// Request `num` is done; a subscribe's granted QoS (or refusal) per filter in `data`.
    Done = 10,
    /// Request `num` failed, or a request or the options were refused: `code` and `text`.
    Failed = 11,
    /// The request was taken; its completion will have key `num`.
    Accepted = 12,
}

/// The inputs without arguments beside `now`.
#[wasm_bindgen]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Start connecting (from idle or offline).
    Connect = 0,
    /// End the connection with DISCONNECT and stay idle.
    Disconnect = 1,
    /// Reconnect now if waiting, or check the connection.
    Wake = 2,
    /// The transport is open.
    Opened = 3,
    /// The deadline of the last `Out.None` has come.
    Timeout = 4,
}

/// The session and the fields of its last output.
#[wasm_bindgen]
pub struct MqttSession {
    session: Session,
    /// The options' error, until the first `poll` gives it.
    invalid: Option<String>,
    num: f64,
    code: &'static str,
    text: String,
    data: Vec<u8>,
}

/// The completion key of a publish: publish and request ids come from one counter of the
/// session, so the ids themselves tell every pending request apart.
fn publish_key(id: PublishId) -> f64 {
    id.0 as f64
}

fn request_key(id: RequestId) -> f64 {
    id.0 as f64
}

fn qos_of(value: u8) -> Option<QoS> {
    QoS::from_u8(value).ok()
}

/// The `error` code that goes with a connection that ended in failure, not in an ordinary
/// loss of the link.
fn failure_code(error: &ConnectionError) -> Option<Code> {
    match error {
        ConnectionError::Refused(_) => Some(Code::ConnectRefused),
        ConnectionError::Credentials(_) => Some(Code::Credentials),
        ConnectionError::Malformed(_) | ConnectionError::Protocol(_) => Some(Code::Protocol),
        ConnectionError::ServerDisconnect(_)
        | ConnectionError::KeepAliveTimeout
        | ConnectionError::ConnectTimeout(_)
        | ConnectionError::TransportClosed(_)
        | ConnectionError::Requested => None,
    }
}

fn session_code(error: &SessionError) -> Code {
    match error {
        SessionError::QueueFull { .. } => Code::QueueFull,
        SessionError::InvalidTopic(_) => Code::InvalidTopic,
        SessionError::InvalidFilter(_) | SessionError::NoFilters => Code::InvalidFilter,
        SessionError::PacketIdsExhausted => Code::PacketIdsExhausted,
        SessionError::PacketTooLarge { .. } => Code::PacketTooLarge,
        SessionError::Encode(_) => Code::EncodeFailed,
    }
}

fn refusal(what: &str, reason: ReasonCode) -> String {
    format!("{what}: {reason:?} (reason code 0x{:02x})", reason.as_u8())
}

#[wasm_bindgen]
impl MqttSession {
    /// A session (not connecting yet). `urls` are the brokers, one per line; `seed` seeds
    /// the reconnect jitter; what is left out keeps [`SessionConfig`]'s default. A will
    /// topic that is not a valid topic name, or a will QoS other than 0, 1 or 2, leaves
    /// `INVALID_OPTIONS`: the first `poll` gives it (`Out.Failed`).
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(constructor)]
    pub fn new(
        client_id: String,
        urls: &str,
        v5: bool,
        keep_alive_secs: Option<u16>,
        clean: Option<bool>,
        offline_queue_limit: Option<f64>,
        reconnect: Option<bool>,
        initial_delay_ms: Option<f64>,
        max_delay_ms: Option<f64>,
        seed: f64,
        will_topic: Option<String>,
        will_payload: Vec<u8>,
        will_qos: u8,
        will_retain: bool,
    ) -> MqttSession {
        let mut config = SessionConfig::new(client_id);
        config.urls = urls.split('\n').map(String::from).collect();
        if v5 {
            config.protocol = ProtocolVersion::V5;
        }
        // `as` saturates; the shell has checked the ranges.
        if let Some(secs) = keep_alive_secs {
            config.keep_alive_secs = secs;
        }
        if let Some(clean) = clean {
            config.clean_start = clean;
        }
        if let Some(limit) = offline_queue_limit {
            config.offline_queue_limit = limit as usize;
        }
        if let Some(enabled) = reconnect {
            config.reconnect.enabled = enabled;
        }
        if let Some(ms) = initial_delay_ms {
            config.reconnect.initial_delay_ms = ms as u64;
        }
        if let Some(ms) = max_delay_ms {
            config.reconnect.max_delay_ms = ms as u64;
        }
        config.rng_seed = seed as u64;
        let mut error = None;
        if let Some(topic) = will_topic {
            match qos_of(will_qos) {
                _ if !valid_topic_name(&topic) => {
                    error = Some(format!("will.topic '{topic}' is not a valid topic name"))
                }
                None => error = Some(format!("will.{QOS_RANGE}")),
                Some(qos) => {
                    config.will = Some(Will {
                        topic,
                        payload: will_payload,
                        qos,
                        retain: will_retain,
                        properties: Properties::default(),
                    })
                }
            }
        }
        MqttSession {
            session: Session::new(config),
            invalid: error,
            num: 0.0,
            code: "",
            text: String::new(),
            data: Vec::new(),
        }
    }

    /// One of the inputs without arguments.
    pub fn input(&mut self, now: f64, input: Input) {
        let now = now as u64;
        let session = &mut self.session;
        match input {
            Input::Connect => session.connect(now),
            Input::Disconnect => session.disconnect(now),
            Input::Wake => session.wake(now),
            Input::Opened => session.handle_transport_open(now),
            Input::Timeout => session.handle_timeout(now),
        }
    }

    /// Bytes the transport received.
    pub fn bytes(&mut self, now: f64, bytes: &[u8]) {
        self.session.handle_bytes(now as u64, bytes)
    }

    /// The transport closed or failed, `why`.
    pub fn closed(&mut self, now: f64, why: &str) {
        self.session.handle_transport_closed(now as u64, why)
    }

    /// The answer to [`Out::Credentials`]: `error` if there are none (the attempt fails
    /// with it), else the username and password (either may be left out).
    pub fn credentials(
        &mut self,
        now: f64,
        username: Option<String>,
        password: Option<String>,
        error: Option<String>,
    ) {
        let answer = match error {
            Some(e) => Err(e),
            None => Ok(Credentials {
                username,
                password: password.map(String::into_bytes),
            }),
        };
        self.session.handle_credentials(now as u64, answer)
    }

    /// Publishes `payload` on `topic`: `Out.Accepted` with the completion key, or
    /// `Out.Failed`.
    pub fn publish(
        &mut self,
        now: f64,
        topic: &str,
        payload: Vec<u8>,
        qos: u8,
        retain: bool,
    ) -> Out {
        let Some(qos) = qos_of(qos) else {
            return self.set(
                Out::Failed,
                0.0,
                Code::InvalidQos.as_str(),
                QOS_RANGE.into(),
            );
        };
        let result = self
            .session
            .publish(now as u64, topic, payload, qos, retain);
        self.accepted(result.map(publish_key))
    }

    /// Subscribes to `filter` at `qos`: `Out.Accepted` with the completion key, or
    /// `Out.Failed`.
    pub fn subscribe(&mut self, now: f64, filter: String, qos: u8) -> Out {
        let Some(qos) = qos_of(qos) else {
            return self.set(
                Out::Failed,
                0.0,
                Code::InvalidQos.as_str(),
                QOS_RANGE.into(),
            );
        };
        let filters = vec![SubscribeFilter::new(filter, qos)];
        let result = self.session.subscribe(now as u64, filters);
        self.accepted(result.map(request_key))
    }

    /// Unsubscribes from `filter`: `Out.Accepted` with the completion key, or `Out.Failed`.
    pub fn unsubscribe(&mut self, now: f64, filter: String) -> Out {
        let result = self.session.unsubscribe(now as u64, vec![filter]);
        self.accepted(result.map(request_key))
    }

    /// The next output's kind (`Out.None` when there is none); its fields are read with
    /// the getters below.
    pub fn poll(&mut self) -> Out {
        if let Some(message) = self.invalid.take() {
            return self.set(Out::Failed, 0.0, Code::InvalidOptions.as_str(), message);
        }
        match self.session.poll_output() {
            None => {
                let deadline = self.session.poll_timeout().map_or(-1.0, |at| at as f64);
                self.set(Out::None, deadline, "", String::new())
            }
            Some(Output::NeedCredentials { .. }) => {
                self.set(Out::Credentials, 0.0, "", String::new())
            }
            Some(Output::Open { url }) => self.set(Out::Open, 0.0, "", url),
            Some(Output::Transmit(bytes)) => {
                let kind = self.set(Out::Transmit, 0.0, "", String::new());
                self.data = bytes;
                kind
            }
            Some(Output::Close) => self.set(Out::Close, 0.0, "", String::new()),
            Some(Output::Event(event)) => self.event(event),
        }
    }

    /// The last output's number.
    pub fn num(&self) -> f64 {
        self.num
    }

    /// The status's name ("idle", "connecting", …), as it is now (its `Out.Status` may be
    /// still to come).
    pub fn status(&self) -> String {
        self.session.status().name().to_string()
    }

    /// The last output's stable error code (`MqttErrorCode`), or "".
    pub fn code(&self) -> String {
        self.code.to_string()
    }

    /// The last output's text (taken: a second call returns "").
    pub fn text(&mut self) -> String {
        std::mem::take(&mut self.text)
    }

    /// The last output's bytes (taken).
    pub fn data(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.data)
    }
}

const QOS_RANGE: &str = "qos must be 0, 1 or 2";

impl MqttSession {
    /// Sets the fields of an output, its bytes empty (an output with bytes sets them
    /// after), and returns its kind: no field keeps what an earlier output left.
    fn set(&mut self, kind: Out, num: f64, code: &'static str, text: String) -> Out {
        self.num = num;
        self.code = code;
        self.text = text;
        self.data.clear();
        kind
    }

    fn accepted(&mut self, result: Result<f64, SessionError>) -> Out {
        match result {
            Ok(key) => self.set(Out::Accepted, key, "", String::new()),
            Err(e) => self.set(Out::Failed, 0.0, session_code(&e).as_str(), e.to_string()),
        }
    }

    fn event(&mut self, event: Event) -> Out {
        match event {
            Event::Status(status) => self.set(Out::Status, 0.0, "", status.name().to_string()),
            Event::Connected { session_present } => {
                let present = f64::from(u8::from(session_present));
                let url = self.session.url().to_string();
                self.set(Out::Connected, present, "", url)
            }
            Event::ProtocolFallback { error } => {
                let message = format!("the broker refused MQTT 5.0 ({error}): using MQTT 3.1.1");
                self.set(Out::Error, 0.0, Code::ProtocolFallback.as_str(), message)
            }
            Event::Disconnected {
                error,
                reconnect_at,
            } => {
                let at = reconnect_at.map_or(-1.0, |at| at as f64);
                let code = failure_code(&error).map_or("", Code::as_str);
                self.set(Out::Disconnected, at, code, error.to_string())
            }
            Event::Message(publish) => {
                // QoS's discriminants are its wire values, as the codec writes them.
                let flags = f64::from(publish.qos as u8 + 4 * u8::from(publish.retain));
                let kind = self.set(Out::Message, flags, "", publish.topic);
                self.data = publish.payload;
                kind
            }
            Event::PublishDone { id, reason } => {
                let key = publish_key(id);
                if reason.is_error() {
                    let text = refusal("publish failed", reason);
                    return self.set(Out::Failed, key, Code::PublishRefused.as_str(), text);
                }
                self.set(Out::Done, key, "", String::new())
            }
            Event::Subscribed { id, reasons } => {
                let kind = self.set(Out::Done, request_key(id), "", String::new());
                self.data = reasons.iter().map(|r| r.as_u8()).collect();
                kind
            }
            Event::Unsubscribed { id, reasons } => {
                let key = request_key(id);
                if let Some(reason) = reasons.into_iter().find(|r| r.is_error()) {
                    let text = refusal("unsubscribe refused", reason);
                    return self.set(Out::Failed, key, Code::UnsubscribeRefused.as_str(), text);
                }
                self.set(Out::Done, key, "", String::new())
            }
        }
    }
}

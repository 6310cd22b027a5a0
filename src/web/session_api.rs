//! The sans-IO [`Session`] handed to JS as it is, for the `MqttClient` class of
//! `mqtt_client.js` (this folder), which is the shell of the MQTT-only module and of the
//! mini-program's: a C ABI of numbers and bytes, with no wasm-bindgen.
//!
//! Why JS for the class: its shell (options, WebSocket or transport factory, timer,
//! listeners, promises, credentials) cost 16 KB gzip -9 of wasm and wasm-bindgen glue,
//! against 3.8 KB as plain JS; the MQTT-only module with its JS went from 48,276 to
//! 37,043 B gzip -9 (`make size`).
//! Why no wasm-bindgen (a design-card crate) here: an interface of numbers and bytes needs
//! none of what it brings (JS objects, closures, the externref table), and its glue was
//! 2.4 KB gzip -9 of the 37 KB; the class loads the module itself in ~0.5 KB. Measured on
//! the whole entry, wasm + JS (`make size`): 37,043 -> 34,393 B gzip -9, of which the wasm
//! 30,838 -> 29,993 B. The mini-program's module carries these exports beside
//! wasm-bindgen's, and its `MqttClient` is the same class over them.
//! The rules stay here: the session decides, checks every topic, filter and QoS, and words
//! every error; the JS shell moves bytes and values only.
//!
//! # The interface
//!
//! A session is a handle, the index of its slot here (so no pointer ever crosses the
//! boundary into Rust). Bytes and strings go both ways through one scratch buffer,
//! [`mqtt_buf`]: JS writes a call's strings and byte arrays into it one after the other
//! and passes their lengths (-1 for one left out); a getter that returns bytes moves them
//! into it and returns their length, and JS reads them there. Strings are UTF-8.
//! Numbers that may be left out are `f64`s, NaN when absent (what JS's `undefined`
//! becomes); booleans are `i32`s (or `f64`s where they may be left out).
//!
//! Every input takes `now`, monotonic milliseconds. [`mqtt_poll`] returns the next output's
//! [`Out`] kind and leaves its fields to the getters [`mqtt_num`], [`mqtt_code`],
//! [`mqtt_text`] and [`mqtt_data`]; so does a request ([`mqtt_publish`], …):
//! `Out::Accepted` with its completion key, or `Out::Failed`. The numbers of [`Out`] and
//! [`Input`] are the class's too: scripts/build-wasm.sh checks that its constants match.
//!
//! A handle that is not (or no longer) a session's is ignored: its calls do nothing and
//! return zeros. Nothing here panics on what JS passes.

use std::cell::RefCell;

use super::error::Code;
use crate::mqtt::{Properties, ProtocolVersion, QoS, ReasonCode, SubscribeFilter, Will};
use crate::session::{
    valid_topic_name, ConnectionError, Credentials, Event, Output, PublishId, RequestId, Session,
    SessionConfig, SessionError,
};

/// What [`mqtt_poll`] or a request returned, and which of the fields (`num`, `code`,
/// `text`, `data`) it set.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// Nothing more to do now; `num` is when to send `Input::Timeout` (monotonic ms), -1 if
    /// nothing is due.
    #[default]
    None = 0,
    /// Get the credentials of the next attempt and answer with [`mqtt_credentials`].
    Credentials = 1,
    /// Open a new transport to `text` (closing any other); report it with `Input::Opened`,
    /// [`mqtt_bytes`] and [`mqtt_closed`].
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

/// The inputs without arguments beside `now` ([`mqtt_input`]).
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
    /// The deadline of the last `Out::None` has come.
    Timeout = 4,
}

/// A session and the fields of its last output.
struct MqttSession {
    session: Session,
    /// The options' error, until the first `poll` gives it.
    invalid: Option<String>,
    num: f64,
    code: &'static str,
    text: String,
    data: Vec<u8>,
}

/// The sessions by handle (a freed one leaves its slot empty for the next) and the scratch
/// buffer. One per module: wasm32 here has one thread, and no call runs JS, so nothing
/// re-enters. A call that trapped (out of memory) leaves it borrowed: every call after it
/// traps too, which JS sees as a `RuntimeError` each time, instead of going on from a
/// half-done change.
struct Ffi {
    sessions: Vec<Option<MqttSession>>,
    buf: Vec<u8>,
}

thread_local! {
    static FFI: RefCell<Ffi> = const {
        RefCell::new(Ffi { sessions: Vec::new(), buf: Vec::new() })
    };
}

/// Runs `f` on the state.
fn with_ffi<R>(f: impl FnOnce(&mut Ffi) -> R) -> R {
    FFI.with(|cell| f(&mut cell.borrow_mut()))
}

/// Runs `f` on session `handle` with the arguments JS wrote into the buffer; `R::default()`
/// if there is no such session.
fn with_session<R: Default>(handle: u32, f: impl FnOnce(&mut MqttSession, Args) -> R) -> R {
    with_ffi(|ffi| match slot(&mut ffi.sessions, handle) {
        Some(Some(session)) => f(session, Args(&ffi.buf)),
        _ => R::default(),
    })
}

/// The slot of `handle`: handles count from 1, so that 0 (and so a JS value that is
/// falsy) is never a session.
fn slot(sessions: &mut [Option<MqttSession>], handle: u32) -> Option<&mut Option<MqttSession>> {
    sessions.get_mut((handle as usize).wrapping_sub(1))
}

/// Runs getter `f` of session `handle` and moves the bytes it gives into the buffer for JS
/// to read; returns their length (0 if there is no such session).
fn give(handle: u32, f: impl FnOnce(&mut MqttSession) -> Vec<u8>) -> u32 {
    with_ffi(|ffi| match slot(&mut ffi.sessions, handle) {
        Some(Some(session)) => {
            ffi.buf = f(session);
            ffi.buf.len() as u32
        }
        _ => 0,
    })
}

/// The arguments JS wrote into the buffer, taken in order by their lengths.
struct Args<'a>(&'a [u8]);

impl<'a> Args<'a> {
    /// The next `len` bytes (fewer if JS wrote fewer).
    fn bytes(&mut self, len: i32) -> &'a [u8] {
        let (head, rest) = self.0.split_at((len.max(0) as usize).min(self.0.len()));
        self.0 = rest;
        head
    }

    /// The next string (JS's TextEncoder writes UTF-8; anything else is replaced, not
    /// refused).
    fn text(&mut self, len: i32) -> String {
        String::from_utf8_lossy(self.bytes(len)).into_owned()
    }

    /// The next string, `None` if JS left it out (length -1).
    fn opt_text(&mut self, len: i32) -> Option<String> {
        (len >= 0).then(|| self.text(len))
    }
}

/// A number JS may leave out (NaN).
fn given(value: f64) -> Option<f64> {
    (!value.is_nan()).then_some(value)
}

/// The completion key of a publish: publish and request ids come from one counter of the
/// session, so the ids themselves tell every pending request apart.
fn publish_key(id: PublishId) -> f64 {
    id.0 as f64
}

fn request_key(id: RequestId) -> f64 {
    id.0 as f64
}

fn qos_of(value: i32) -> Option<QoS> {
    u8::try_from(value).ok().and_then(|q| QoS::from_u8(q).ok())
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

const QOS_RANGE: &str = "qos must be 0, 1 or 2";

/// The scratch buffer, made `len` bytes long (what it holds is kept if it is that long
/// already), and its address: JS writes a call's arguments there, and reads there what a
/// getter gave (calling this with the length the getter returned). 0 if the memory cannot
/// hold `len` bytes: JS refuses the call, and the module goes on (a failed allocation would
/// trap).
#[no_mangle]
pub extern "C" fn mqtt_buf(len: u32) -> usize {
    with_ffi(|ffi| {
        let buf = &mut ffi.buf;
        let more = (len as usize).saturating_sub(buf.len());
        if buf.try_reserve_exact(more).is_err() {
            return 0;
        }
        buf.resize(len as usize, 0);
        buf.as_mut_ptr() as usize
    })
}

/// A new session (not connecting yet); returns its handle (never 0). The buffer holds the
/// client id, the broker URLs (one per line), the will's topic (length -1: no will) and
/// payload.
/// `seed` seeds the reconnect jitter; what is left out (NaN) keeps [`SessionConfig`]'s
/// default. A will topic that is not a valid topic name, or a will QoS other than 0, 1
/// or 2, leaves `INVALID_OPTIONS`: the first poll gives it (`Out::Failed`).
#[allow(clippy::too_many_arguments)]
#[no_mangle]
pub extern "C" fn mqtt_new(
    client_id_len: i32,
    urls_len: i32,
    will_topic_len: i32,
    will_payload_len: i32,
    v5: i32,
    keep_alive_secs: f64,
    clean: f64,
    offline_queue_limit: f64,
    reconnect: f64,
    initial_delay_ms: f64,
    max_delay_ms: f64,
    seed: f64,
    will_qos: i32,
    will_retain: i32,
) -> u32 {
    with_ffi(|ffi| {
        let mut args = Args(&ffi.buf);
        let mut config = SessionConfig::new(args.text(client_id_len));
        config.urls = args.text(urls_len).split('\n').map(String::from).collect();
        let will_topic = args.opt_text(will_topic_len);
        let will_payload = args.bytes(will_payload_len).to_vec();
        if v5 != 0 {
            config.protocol = ProtocolVersion::V5;
        }
        // `as` saturates; the shell has checked the ranges.
        if let Some(secs) = given(keep_alive_secs) {
            config.keep_alive_secs = secs as u16;
        }
        if let Some(clean) = given(clean) {
            config.clean_start = clean != 0.0;
        }
        if let Some(limit) = given(offline_queue_limit) {
            config.offline_queue_limit = limit as usize;
        }
        if let Some(enabled) = given(reconnect) {
            config.reconnect.enabled = enabled != 0.0;
        }
        if let Some(ms) = given(initial_delay_ms) {
            config.reconnect.initial_delay_ms = ms as u64;
        }
        if let Some(ms) = given(max_delay_ms) {
            config.reconnect.max_delay_ms = ms as u64;
        }
        config.rng_seed = seed as u64;
        let mut invalid = None;
        if let Some(topic) = will_topic {
            match qos_of(will_qos) {
                _ if !valid_topic_name(&topic) => {
                    invalid = Some(format!("will.topic '{topic}' is not a valid topic name"))
                }
                None => invalid = Some(format!("will.{QOS_RANGE}")),
                Some(qos) => {
                    config.will = Some(Will {
                        topic,
                        payload: will_payload,
                        qos,
                        retain: will_retain != 0,
                        properties: Properties::default(),
                    })
                }
            }
        }
        let session = MqttSession {
            session: Session::new(config),
            invalid,
            num: 0.0,
            code: "",
            text: String::new(),
            data: Vec::new(),
        };
        let sessions = &mut ffi.sessions;
        let at = sessions
            .iter()
            .position(Option::is_none)
            .unwrap_or(sessions.len());
        match sessions.get_mut(at) {
            Some(free) => *free = Some(session),
            None => sessions.push(Some(session)),
        }
        at as u32 + 1
    })
}

/// Drops session `handle`; the handle may be given to a new one.
#[no_mangle]
pub extern "C" fn mqtt_free(handle: u32) {
    with_ffi(|ffi| {
        if let Some(session) = slot(&mut ffi.sessions, handle) {
            *session = None;
        }
    })
}

/// One of the inputs without arguments ([`Input`]'s numbers; others are ignored).
#[no_mangle]
pub extern "C" fn mqtt_input(handle: u32, now: f64, input: i32) {
    use Input::*;
    let input = [Connect, Disconnect, Wake, Opened, Timeout]
        .into_iter()
        .find(|i| *i as i32 == input);
    with_session(handle, |s, _| {
        let now = now as u64;
        let session = &mut s.session;
        match input {
            Some(Connect) => session.connect(now),
            Some(Disconnect) => session.disconnect(now),
            Some(Wake) => session.wake(now),
            Some(Opened) => session.handle_transport_open(now),
            Some(Timeout) => session.handle_timeout(now),
            None => {}
        }
    })
}

/// Bytes the transport received (in the buffer, `len` long).
#[no_mangle]
pub extern "C" fn mqtt_bytes(handle: u32, now: f64, len: i32) {
    with_session(handle, |s, mut args| {
        s.session.handle_bytes(now as u64, args.bytes(len))
    })
}

/// The transport closed or failed: why, in the buffer.
#[no_mangle]
pub extern "C" fn mqtt_closed(handle: u32, now: f64, why_len: i32) {
    with_session(handle, |s, mut args| {
        s.session
            .handle_transport_closed(now as u64, &args.text(why_len))
    })
}

/// The answer to [`Out::Credentials`]; the buffer holds the username, the password and an
/// error (each -1 if left out). With an error there are none: the attempt fails with it.
#[no_mangle]
pub extern "C" fn mqtt_credentials(
    handle: u32,
    now: f64,
    username_len: i32,
    password_len: i32,
    error_len: i32,
) {
    with_session(handle, |s, mut args| {
        let username = args.opt_text(username_len);
        let password = args.opt_text(password_len);
        let answer = match args.opt_text(error_len) {
            Some(e) => Err(e),
            None => Ok(Credentials {
                username,
                password: password.map(String::into_bytes),
            }),
        };
        s.session.handle_credentials(now as u64, answer)
    })
}

/// Publishes the payload on the topic (both in the buffer): `Out::Accepted` with the
/// completion key, or `Out::Failed`.
#[no_mangle]
pub extern "C" fn mqtt_publish(
    handle: u32,
    now: f64,
    topic_len: i32,
    payload_len: i32,
    qos: i32,
    retain: i32,
) -> u32 {
    with_session(handle, |s, mut args| {
        let topic = args.text(topic_len);
        let payload = args.bytes(payload_len).to_vec();
        let Some(qos) = qos_of(qos) else {
            return s.invalid_qos();
        };
        let result = s
            .session
            .publish(now as u64, &topic, payload, qos, retain != 0);
        s.accepted(result.map(publish_key))
    }) as u32
}

/// Subscribes to the filter (in the buffer) at `qos`: `Out::Accepted` with the completion
/// key, or `Out::Failed`.
#[no_mangle]
pub extern "C" fn mqtt_subscribe(handle: u32, now: f64, filter_len: i32, qos: i32) -> u32 {
    with_session(handle, |s, mut args| {
        let filter = args.text(filter_len);
        let Some(qos) = qos_of(qos) else {
            return s.invalid_qos();
        };
        let result = s
            .session
            .subscribe(now as u64, vec![SubscribeFilter::new(filter, qos)]);
        s.accepted(result.map(request_key))
    }) as u32
}

/// Unsubscribes from the filter (in the buffer): `Out::Accepted` with the completion key,
/// or `Out::Failed`.
#[no_mangle]
pub extern "C" fn mqtt_unsubscribe(handle: u32, now: f64, filter_len: i32) -> u32 {
    with_session(handle, |s, mut args| {
        let result = s
            .session
            .unsubscribe(now as u64, vec![args.text(filter_len)]);
        s.accepted(result.map(request_key))
    }) as u32
}

/// The next output's kind (`Out::None` when there is none); its fields are read with the
/// getters below.
#[no_mangle]
pub extern "C" fn mqtt_poll(handle: u32) -> u32 {
    with_session(handle, |s, _| s.poll()) as u32
}

/// The last output's number.
#[no_mangle]
pub extern "C" fn mqtt_num(handle: u32) -> f64 {
    with_session(handle, |s, _| s.num)
}

/// The status's name ("idle", "connecting", …) as it is now (its `Out::Status` may be
/// still to come), into the buffer; returns its length.
#[no_mangle]
pub extern "C" fn mqtt_status(handle: u32) -> u32 {
    give(handle, |s| s.session.status().name().into())
}

/// The last output's stable error code (`MqttErrorCode`) or nothing, into the buffer;
/// returns its length.
#[no_mangle]
pub extern "C" fn mqtt_code(handle: u32) -> u32 {
    give(handle, |s| s.code.into())
}

/// The last output's text, moved into the buffer (a second call gives nothing); returns
/// its length.
#[no_mangle]
pub extern "C" fn mqtt_text(handle: u32) -> u32 {
    give(handle, |s| std::mem::take(&mut s.text).into_bytes())
}

/// The last output's bytes, moved into the buffer; returns their length.
#[no_mangle]
pub extern "C" fn mqtt_data(handle: u32) -> u32 {
    give(handle, |s| std::mem::take(&mut s.data))
}

impl MqttSession {
    fn poll(&mut self) -> Out {
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

    /// Sets the fields of an output, its bytes empty (an output with bytes sets them
    /// after), and returns its kind: no field keeps what an earlier output left.
    fn set(&mut self, kind: Out, num: f64, code: &'static str, text: String) -> Out {
        self.num = num;
        self.code = code;
        self.text = text;
        self.data.clear();
        kind
    }

    fn invalid_qos(&mut self) -> Out {
        self.set(
            Out::Failed,
            0.0,
            Code::InvalidQos.as_str(),
            QOS_RANGE.into(),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    const NAN: f64 = f64::NAN;

    /// Writes the arguments into the buffer as the class does (`put`): their lengths.
    fn put(parts: &[Option<&[u8]>]) -> Vec<i32> {
        let total: usize = parts.iter().flatten().map(|p| p.len()).sum();
        mqtt_buf(total as u32);
        with_ffi(|ffi| {
            ffi.buf.clear();
            let mut lengths = Vec::new();
            for part in parts {
                lengths.push(part.map_or(-1, |p| {
                    ffi.buf.extend_from_slice(p);
                    p.len() as i32
                }));
            }
            lengths
        })
    }

    /// What a getter that returned `len` left in the buffer, as the class reads it.
    fn read(len: u32) -> Vec<u8> {
        mqtt_buf(len);
        with_ffi(|ffi| ffi.buf.clone())
    }

    fn text(len: u32) -> String {
        String::from_utf8_lossy(&read(len)).into_owned()
    }

    /// A session for `urls` without reconnecting, with a will `(topic, qos)` if given.
    fn session(urls: &str, will: Option<(&str, i32)>) -> u32 {
        let topic = will.map(|(t, _)| t.as_bytes());
        let l = put(&[Some(b"abi"), Some(urls.as_bytes()), topic, Some(b"bye")]);
        let qos = will.map_or(0, |(_, q)| q);
        mqtt_new(
            l[0], l[1], l[2], l[3], 0, NAN, NAN, NAN, 0.0, NAN, NAN, 7.0, qos, 0,
        )
    }

    /// Polls until `Out::None`: each output's kind, number, code, text and bytes.
    fn drain(h: u32) -> Vec<(Out, f64, String, String, Vec<u8>)> {
        let mut outs = Vec::new();
        loop {
            let kind = mqtt_poll(h);
            let out = [
                Out::Credentials,
                Out::Open,
                Out::Transmit,
                Out::Close,
                Out::Status,
            ]
            .into_iter()
            .chain([Out::Connected, Out::Error, Out::Disconnected, Out::Message])
            .chain([Out::Done, Out::Failed, Out::Accepted])
            .find(|o| *o as u32 == kind);
            let Some(out) = out else {
                assert_eq!(kind, Out::None as u32);
                return outs;
            };
            let num = mqtt_num(h);
            let code = text(mqtt_code(h));
            outs.push((out, num, code, text(mqtt_text(h)), read(mqtt_data(h))));
        }
    }

    fn kinds(outs: &[(Out, f64, String, String, Vec<u8>)]) -> Vec<Out> {
        outs.iter().map(|o| o.0).collect()
    }

    /// The bytes of the first `Out::Transmit` until `Out::None` (empty if none).
    fn transmitted(h: u32) -> Vec<u8> {
        let sent = drain(h).into_iter().find(|o| o.0 == Out::Transmit);
        sent.map(|o| o.4).unwrap_or_default()
    }

    #[wasm_bindgen_test]
    fn a_session_connects_publishes_and_is_freed_through_the_abi() {
        let h = session("ws://a/mqtt\nws://b/mqtt", None);
        assert_ne!(h, 0, "0 is never a handle");
        assert_eq!(mqtt_poll(h), Out::None as u32);
        assert_eq!(mqtt_num(h), -1.0, "nothing is due while idle");
        assert_eq!(text(mqtt_status(h)), "idle");

        mqtt_input(h, 1000.0, Input::Connect as i32);
        assert!(kinds(&drain(h)).contains(&Out::Credentials));
        let l = put(&[Some(b"user"), Some(b"secret"), None]);
        mqtt_credentials(h, 1001.0, l[0], l[1], l[2]);
        let outs = drain(h);
        let open = outs.iter().find(|o| o.0 == Out::Open).map(|o| o.3.clone());
        assert_eq!(
            open.as_deref(),
            Some("ws://a/mqtt"),
            "the first URL: {outs:?}"
        );

        mqtt_input(h, 1002.0, Input::Opened as i32);
        let connect = transmitted(h);
        assert_eq!(connect.first(), Some(&0x10), "CONNECT");
        assert!(
            connect.windows(6).any(|w| w == b"secret"),
            "with the password"
        );

        let l = put(&[Some(&[0x20, 2, 0, 0])]);
        mqtt_bytes(h, 1003.0, l[0]);
        let outs = drain(h);
        let connected = outs.iter().find(|o| o.0 == Out::Connected);
        assert_eq!(
            connected.map(|o| (o.1, o.3.as_str())),
            Some((0.0, "ws://a/mqtt"))
        );
        assert_eq!(text(mqtt_status(h)), "connected");

        let l = put(&[Some(b"a/b"), Some(b"hi")]);
        assert_eq!(
            mqtt_publish(h, 1004.0, l[0], l[1], 3, 0),
            Out::Failed as u32
        );
        assert_eq!(
            (text(mqtt_code(h)), text(mqtt_text(h))),
            ("INVALID_QOS".into(), QOS_RANGE.into())
        );
        let l = put(&[Some(b"a/#"), Some(b"hi")]);
        assert_eq!(
            mqtt_publish(h, 1004.0, l[0], l[1], 1, 0),
            Out::Failed as u32
        );
        assert_eq!(text(mqtt_code(h)), "INVALID_TOPIC");

        let l = put(&[Some(b"a/b"), Some(b"hi")]);
        assert_eq!(
            mqtt_publish(h, 1005.0, l[0], l[1], 1, 0),
            Out::Accepted as u32
        );
        let key = mqtt_num(h);
        let publish = transmitted(h);
        assert_eq!(publish.first(), Some(&0x32), "PUBLISH at QoS 1");
        assert!(publish.ends_with(b"hi"));
        // The packet id follows the topic: 0x32, length, 0, 3, "a/b".
        let id = publish.get(7..9).unwrap_or_default().to_vec();
        let l = put(&[Some(&[[0x40, 2].as_slice(), &id].concat())]);
        mqtt_bytes(h, 1006.0, l[0]);
        let done = drain(h).into_iter().find(|o| o.0 == Out::Done).map(|o| o.1);
        assert_eq!(done, Some(key), "the PUBACK completes the publish's key");

        mqtt_free(h);
        assert_eq!(
            mqtt_poll(h),
            Out::None as u32,
            "a freed handle does nothing"
        );
        assert_eq!((mqtt_num(h), mqtt_text(h), mqtt_status(h)), (0.0, 0, 0));
        assert_eq!(session("ws://c/mqtt", None), h, "the slot is taken again");
        mqtt_free(h);
    }

    #[wasm_bindgen_test]
    fn bad_options_handles_and_arguments_are_refused_without_a_panic() {
        let h = session("ws://a/mqtt", Some(("a/#", 1)));
        assert_eq!(
            mqtt_poll(h),
            Out::Failed as u32,
            "the will's topic is refused"
        );
        assert_eq!(text(mqtt_code(h)), "INVALID_OPTIONS");
        assert_eq!(
            text(mqtt_text(h)),
            "will.topic 'a/#' is not a valid topic name"
        );
        assert_eq!(mqtt_poll(h), Out::None as u32, "once");
        mqtt_free(h);
        let h = session("ws://a/mqtt", Some(("a/b", 3)));
        assert_eq!(mqtt_poll(h), Out::Failed as u32);
        assert_eq!(text(mqtt_text(h)), "will.qos must be 0, 1 or 2");
        mqtt_free(h);

        for stranger in [0, 9999, u32::MAX] {
            mqtt_input(stranger, 1.0, Input::Connect as i32);
            let l = put(&[Some(b"x")]);
            mqtt_bytes(stranger, 1.0, l[0]);
            assert_eq!(mqtt_poll(stranger), Out::None as u32);
            assert_eq!(mqtt_subscribe(stranger, 1.0, l[0], 0), Out::None as u32);
            assert_eq!((mqtt_text(stranger), mqtt_code(stranger)), (0, 0));
            mqtt_free(stranger);
        }
        let h = session("ws://a/mqtt", None);
        mqtt_input(h, 1.0, 99);
        assert_eq!(
            mqtt_poll(h),
            Out::None as u32,
            "an unknown input is ignored"
        );
        mqtt_free(h);

        assert_eq!(
            mqtt_buf(u32::MAX),
            0,
            "more than the memory can hold: 0, no trap"
        );
        assert_ne!(mqtt_buf(3), 0, "and the buffer goes on");

        let mut args = Args(&[0xff, b'a', b'b', b'c']);
        assert_eq!(args.text(2), "\u{fffd}a", "not UTF-8: replaced");
        assert_eq!(args.opt_text(-1), None);
        assert_eq!(args.bytes(-5), b"");
        assert_eq!(args.bytes(100), b"bc", "longer than what was written: cut");
        assert_eq!(args.text(1), "");
    }
}

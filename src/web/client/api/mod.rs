//! The `MqttClient` class as JS sees it: its constructor (the options parsed), methods whose
//! promises settle with the session's completions, and `on` / `off` for its events.
//!
//! Compiled where the class is exported: the MQTT-only module (`imcore/mqtt`, the crate
//! without `chat`) and, with the `mqtt-client` feature, beside `ChatClient` (the
//! mini-program's one module). The web module (`imcore`) leaves it out: its ChatClient
//! drives the same client from Rust ([`MqttClient::build`]), and a page that wants MQTT
//! alone loads `imcore/mqtt`. Measured on the web module: 4.4 KB gzip -9 less.

mod events;
mod options;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use events::Pending;
pub(super) use events::{notify_all, JsSide, Kind};

use super::{with_inner, CredentialSource, MqttClient};
use crate::mqtt::{QoS, SubscribeFilter};
use crate::session::{Session, SessionError};
use crate::web::clock::random_seed;
use crate::web::error::{js_error, Code};
use crate::web::task::promise;
use options::{payload_bytes, qos_of};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Connection status, as a UI shows it. */
export type Status = "idle" | "fetching-config" | "connecting" | "connected" | "reconnecting" | "offline";

/** MQTT quality of service. */
export type QoS = 0 | 1 | 2;

/** The last will, published by the broker if the connection drops without DISCONNECT. */
export interface MqttWill {
  topic: string;
  payload: string | Uint8Array;
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
}

export interface MqttClientOptions {
  /**
   * Broker WebSocket URL, e.g. "wss://example.com/mqtt", or several (the nodes of a
   * cluster): each attempt after a refused or lost connection goes to the next one, with
   * the same backoff; the persistent session and the offline queue carry over.
   */
  url: string | string[];
  clientId: string;
  /**
   * 4 = MQTT 3.1.1 (default), 5 = MQTT 5.0. A broker that refuses 5.0 (CONNACK
   * "unsupported protocol version", or a socket closed after CONNECT) makes the client fall
   * back to 3.1.1 once, for good, with an `error` event of code `PROTOCOL_FALLBACK`.
   */
  protocolVersion?: 4 | 5;
  /** Seconds; default 60; 0 turns keepalive off. */
  keepAlive?: number;
  /** Clean session / clean start; default false (a persistent session). */
  clean?: boolean;
  username?: string;
  password?: string;
  /**
   * Called before every connection attempt (the chat backend issues a fresh password each
   * time); fields it leaves out fall back to `username` / `password`.
   */
  credentials?: () => Promise<MqttCredentials>;
  will?: MqttWill;
  reconnect?: MqttReconnectOptions;
  /** Publishes accepted but not yet written, at most; default 1000. */
  offlineQueueLimit?: number;
  /** Default: the browser `WebSocket` with subprotocol "mqtt". */
  transport?: TransportFactory;
}

/** An application message received on a subscription. */
export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
}

export interface MqttConnectInfo {
  sessionPresent: boolean;
  /** The broker this connection went to (one of `MqttClientOptions.url`). */
  url: string;
}

export interface MqttDisconnectInfo {
  /** Why the connection (or the attempt) ended. */
  reason: string;
  /** When the next attempt starts, in ms since the epoch like `Date.now()`; null if none. */
  reconnectAt: number | null;
}

/** Stable error codes (of thrown / rejected `MqttError`s and of `error` events). */
export type MqttErrorCode =
  | "INVALID_OPTIONS" | "INVALID_ARGUMENT" | "INVALID_TOPIC" | "INVALID_FILTER"
  | "INVALID_QOS" | "INVALID_PAYLOAD" | "QUEUE_FULL" | "PACKET_TOO_LARGE" | "ENCODE_FAILED"
  | "PACKET_IDS_EXHAUSTED" | "PUBLISH_REFUSED" | "UNSUBSCRIBE_REFUSED" | "DISCONNECTED"
  | "CONNECT_REFUSED" | "CREDENTIALS" | "PROTOCOL" | "PROTOCOL_FALLBACK" | "TRANSPORT";

/** What the constructor throws and the promises reject with. */
export interface MqttError extends Error {
  name: "MqttError";
  code: MqttErrorCode;
}

/** The payload of an `error` event: a failure not tied to a promise. */
export interface MqttErrorInfo {
  code: MqttErrorCode;
  message: string;
}

/** Event names and the value each listener receives. */
export interface MqttClientEventMap {
  status: Status;
  message: MqttMessage;
  connect: MqttConnectInfo;
  disconnect: MqttDisconnectInfo;
  error: MqttErrorInfo;
}

export interface MqttClient {
  on(event: "status", cb: (status: Status) => void): void;
  on(event: "message", cb: (message: MqttMessage) => void): void;
  on(event: "connect", cb: (info: MqttConnectInfo) => void): void;
  on(event: "disconnect", cb: (info: MqttDisconnectInfo) => void): void;
  on(event: "error", cb: (error: MqttErrorInfo) => void): void;
  /** Removes a listener added with `on` (the same function). */
  off<K extends keyof MqttClientEventMap>(event: K, cb: (value: MqttClientEventMap[K]) => void): void;
}
"#;

fn rejected(error: JsValue) -> Promise {
    Promise::reject(&error)
}

#[wasm_bindgen]
impl MqttClient {
    /// Checks the options (throws an `MqttError` with code `INVALID_OPTIONS` naming the bad
    /// field); does not connect yet.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "MqttClientOptions")] options: JsValue,
    ) -> Result<MqttClient, JsValue> {
        let options::Options {
            config,
            credentials,
            credentials_fn,
            transport,
        } = options::parse(&options, random_seed())?;
        Ok(MqttClient::build(
            config,
            credentials,
            credentials_fn.map(CredentialSource::Js),
            transport,
            None,
        ))
    }

    /// Starts connecting (from `idle` or `offline`); does nothing if already under way.
    pub fn connect(&self) {
        self.start();
    }

    /// Ends the connection (DISCONNECT, so no last will) and stays `idle` until `connect()`.
    /// Publishes not yet acknowledged are kept for then (their promises stay pending).
    pub fn disconnect(&self) {
        self.stop();
    }

    /// Reconnects at once if waiting to reconnect, or checks a connection that may have
    /// died unnoticed (an immediate PINGREQ). Called by itself on the browser's `online`
    /// event and when the page becomes visible; hosts without those (a mini-program) call it
    /// from their own signal, such as `wx.onAppShow`.
    pub fn wake(&self) {
        self.nudge();
    }

    /// The connection status.
    #[wasm_bindgen(getter, unchecked_return_type = "Status")]
    pub fn status(&self) -> String {
        with_inner(&self.inner, |inner| inner.session.status().name())
            .unwrap_or("idle")
            .to_string()
    }

    /// Subscribes to `filter` at `qos` (default 0). Resolves with the broker's answer:
    /// the granted QoS, or a reason code of 0x80 or more if refused. Renewed by itself
    /// whenever the broker lost the session.
    #[wasm_bindgen(unchecked_return_type = "Promise<number[]>")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] filter: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "QoS")] qos: JsValue,
    ) -> Promise {
        let filter = match topic_filter(&filter) {
            Ok(filter) => filter,
            Err(e) => return rejected(e),
        };
        let qos = match optional_qos(&qos) {
            Ok(qos) => qos,
            Err(e) => return rejected(e),
        };
        self.request(
            |session, now| session.subscribe(now, vec![SubscribeFilter::new(filter, qos)]),
            Pending::Subscribe,
        )
    }

    /// Unsubscribes from `filter`. Rejects with `UNSUBSCRIBE_REFUSED` if an MQTT 5 broker
    /// refuses.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn unsubscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] filter: JsValue,
    ) -> Promise {
        let filter = match topic_filter(&filter) {
            Ok(filter) => filter,
            Err(e) => return rejected(e),
        };
        self.request(
            |session, now| session.unsubscribe(now, vec![filter]),
            Pending::Unsubscribe,
        )
    }

    /// Publishes `payload` (a string is sent as UTF-8) on `topic` at `qos` (default 0).
    /// Resolves when done: QoS 0 when written, QoS 1 on PUBACK, QoS 2 on PUBCOMP; while
    /// offline it waits in the queue. Rejects with `PUBLISH_REFUSED` (the broker refused),
    /// `QUEUE_FULL`, `INVALID_TOPIC`, `INVALID_PAYLOAD`, `INVALID_QOS` or `PACKET_TOO_LARGE`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn publish(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] topic: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] payload: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "QoS")] qos: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "boolean")] retain: JsValue,
    ) -> Promise {
        let Some(topic) = topic.as_string() else {
            return rejected(js_error(Code::InvalidTopic, "the topic must be a string"));
        };
        let Some(payload) = payload_bytes(&payload) else {
            return rejected(js_error(
                Code::InvalidPayload,
                "the payload must be a string or a Uint8Array",
            ));
        };
        let qos = match optional_qos(&qos) {
            Ok(qos) => qos,
            Err(e) => return rejected(e),
        };
        let retain = match (retain.is_undefined() || retain.is_null(), retain.as_bool()) {
            (true, _) => false,
            (false, Some(retain)) => retain,
            (false, None) => {
                return rejected(js_error(Code::InvalidArgument, "retain must be a boolean"))
            }
        };
        self.request(
            |session, now| session.publish(now, &topic, payload, qos, retain),
            Pending::Publish,
        )
    }

    /// Adds a listener for `event` (typed by the overloads in the `.d.ts`).
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: JsValue, callback: JsValue) -> Result<(), JsValue> {
        let kind = Kind::parse(&event)?;
        let callback = callback
            .dyn_into::<Function>()
            .map_err(|_| js_error(Code::InvalidArgument, "the listener must be a function"))?;
        with_inner(&self.inner, |inner| {
            inner.js.listeners.of(kind).push(callback)
        });
        Ok(())
    }

    /// Removes a listener added with `on`.
    #[wasm_bindgen(skip_typescript)]
    pub fn off(&self, event: JsValue, callback: JsValue) -> Result<(), JsValue> {
        let kind = Kind::parse(&event)?;
        with_inner(&self.inner, |inner| {
            let listeners = inner.js.listeners.of(kind);
            if let Some(at) = listeners.iter().position(|f| JsValue::from(f) == callback) {
                listeners.remove(at);
            }
        });
        Ok(())
    }
}

impl MqttClient {
    /// Makes a request of the session and keeps its promise as `pending(id)`, under the id
    /// the session gave it, before the driver loop runs ([`MqttClient::call`]): the
    /// completion (a QoS 0 publish is done as soon as it is written) is only delivered
    /// then.
    fn request<Id>(
        &self,
        call: impl FnOnce(&mut Session, u64) -> Result<Id, SessionError>,
        pending: impl FnOnce(Id) -> Pending,
    ) -> Promise {
        let Some((promise, settle)) = promise() else {
            return rejected(js_error(Code::InvalidArgument, "cannot create a Promise"));
        };
        let register = |id| {
            with_inner(&self.inner, |inner| {
                inner.js.pending.insert(pending(id), settle);
            });
        };
        match self.call(call, register) {
            Some(Ok(())) => promise,
            Some(Err(e)) => rejected(session_error(&e)),
            None => rejected(js_error(Code::InvalidArgument, "re-entrant call ignored")),
        }
    }
}

/// The topic filter argument of `subscribe` and `unsubscribe`.
fn topic_filter(value: &JsValue) -> Result<String, JsValue> {
    value
        .as_string()
        .ok_or_else(|| js_error(Code::InvalidFilter, "the topic filter must be a string"))
}

/// A QoS argument that may be left out (0).
fn optional_qos(value: &JsValue) -> Result<QoS, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(QoS::AtMostOnce);
    }
    qos_of(value).ok_or_else(|| js_error(Code::InvalidQos, "qos must be 0, 1 or 2"))
}

/// The JS error for a call the session refused.
pub(crate) fn session_error(error: &SessionError) -> JsValue {
    let code = match error {
        SessionError::QueueFull { .. } => Code::QueueFull,
        SessionError::InvalidTopic(_) => Code::InvalidTopic,
        SessionError::InvalidFilter(_) | SessionError::NoFilters => Code::InvalidFilter,
        SessionError::PacketIdsExhausted => Code::PacketIdsExhausted,
        SessionError::PacketTooLarge { .. } => Code::PacketTooLarge,
        SessionError::Encode(_) => Code::EncodeFailed,
    };
    js_error(code, &error.to_string())
}

//! The class's events as JS sees them: its listeners (`on` / `off`), the promises of its
//! requests, and the session's events turned into the values they receive.

use js_sys::{Array, Function, Uint8Array};
use wasm_bindgen::JsValue;

use super::super::{Action, Inner};
use crate::collections::VecMap;
use crate::mqtt::Publish;
use crate::session::{ConnectionError, Event, PublishId, RequestId};
use crate::web::clock::wall_ms;
use crate::web::error::{js_error, Code};
use crate::web::js::object;
use crate::web::task::Settle;

/// A request whose promise is pending, by the id the session gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(in crate::web::client) enum Pending {
    Publish(PublishId),
    Subscribe(RequestId),
    Unsubscribe(RequestId),
}

/// The events a listener can be added for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::web::client) enum Kind {
    Status,
    Message,
    Connect,
    Disconnect,
    Error,
}

impl Kind {
    pub(super) fn parse(name: &JsValue) -> Result<Kind, JsValue> {
        match name.as_string().as_deref() {
            Some("status") => Ok(Kind::Status),
            Some("message") => Ok(Kind::Message),
            Some("connect") => Ok(Kind::Connect),
            Some("disconnect") => Ok(Kind::Disconnect),
            Some("error") => Ok(Kind::Error),
            _ => Err(js_error(
                Code::InvalidArgument,
                "unknown event: expected 'status', 'message', 'connect', 'disconnect' or 'error'",
            )),
        }
    }
}

/// The listeners added with `on`, by event.
#[derive(Default)]
pub(super) struct Listeners {
    status: Vec<Function>,
    message: Vec<Function>,
    connect: Vec<Function>,
    disconnect: Vec<Function>,
    error: Vec<Function>,
}

impl Listeners {
    pub(super) fn of(&mut self, kind: Kind) -> &mut Vec<Function> {
        match kind {
            Kind::Status => &mut self.status,
            Kind::Message => &mut self.message,
            Kind::Connect => &mut self.connect,
            Kind::Disconnect => &mut self.disconnect,
            Kind::Error => &mut self.error,
        }
    }
}

/// The listeners and the promises still pending, in the client's state.
#[derive(Default)]
pub(in crate::web::client) struct JsSide {
    pub(super) listeners: Listeners,
    /// The promises of requests the session has not finished yet.
    pub(super) pending: VecMap<Pending, Settle>,
}

impl JsSide {
    /// The client is being freed: no listener hears anything more, and every pending
    /// promise is rejected (by an action in `left`).
    pub(in crate::web::client) fn shut_down(&mut self, left: &mut Vec<Action>) {
        self.listeners = Listeners::default();
        for settle in std::mem::take(&mut self.pending).into_values() {
            left.push(Action::Settle {
                callback: settle.reject,
                value: js_error(Code::Disconnected, "the MqttClient was freed"),
            });
        }
    }
}

impl Inner {
    pub(in crate::web::client) fn notify(&mut self, kind: Kind, value: impl FnOnce() -> JsValue) {
        let listeners = self.js.listeners.of(kind);
        if !listeners.is_empty() {
            let listeners = listeners.clone();
            self.actions.push_back(Action::Notify {
                listeners,
                value: value(),
            });
        }
    }

    fn settle(&mut self, callback: Function, value: JsValue) {
        self.actions.push_back(Action::Settle { callback, value });
    }

    /// A transport that failed: an `error` event (then the session's `disconnect`).
    pub(in crate::web::client) fn transport_error(&mut self, why: &str) {
        self.notify(Kind::Error, || error_info(Code::Transport, why));
    }

    /// A session event for the listeners and pending promises (no hook is set).
    pub(in crate::web::client) fn tell_listeners(&mut self, event: Event) {
        match event {
            Event::Status(status) => self.notify(Kind::Status, || status.name().into()),
            Event::Connected { session_present } => {
                let url = self.session.url().to_string();
                self.notify(Kind::Connect, || {
                    object(&[
                        ("sessionPresent", session_present.into()),
                        ("url", url.into()),
                    ])
                })
            }
            Event::ProtocolFallback { error } => self.notify(Kind::Error, || {
                let message = format!("the broker refused MQTT 5.0 ({error}): using MQTT 3.1.1");
                error_info(Code::ProtocolFallback, &message)
            }),
            Event::Disconnected {
                error,
                reconnect_at,
            } => {
                let reason = error.to_string();
                if let Some(code) = connection_error_code(&error) {
                    self.notify(Kind::Error, || error_info(code, &reason));
                }
                let reconnect_at = reconnect_at.map_or(JsValue::NULL, |at| {
                    let now = self.clock.now_ms();
                    JsValue::from(wall_ms() + at.saturating_sub(now) as f64)
                });
                self.notify(Kind::Disconnect, || {
                    object(&[("reason", reason.into()), ("reconnectAt", reconnect_at)])
                });
            }
            Event::Message(publish) => self.notify(Kind::Message, || message(&publish)),
            Event::PublishDone { id, reason } => {
                if let Some(settle) = self.js.pending.remove(&Pending::Publish(id)) {
                    if reason.is_error() {
                        let message = format!(
                            "publish failed: {reason:?} (reason code 0x{:02x})",
                            reason.as_u8()
                        );
                        self.settle(settle.reject, js_error(Code::PublishRefused, &message));
                    } else {
                        self.settle(settle.resolve, JsValue::UNDEFINED);
                    }
                }
            }
            Event::Subscribed { id, reasons } => {
                if let Some(settle) = self.js.pending.remove(&Pending::Subscribe(id)) {
                    let codes: Array = reasons.iter().map(|r| JsValue::from(r.as_u8())).collect();
                    self.settle(settle.resolve, codes.into());
                }
            }
            Event::Unsubscribed { id, reasons } => {
                if let Some(settle) = self.js.pending.remove(&Pending::Unsubscribe(id)) {
                    match reasons.iter().find(|r| r.is_error()) {
                        Some(reason) => {
                            let message = format!(
                                "unsubscribe refused: {reason:?} (reason code 0x{:02x})",
                                reason.as_u8()
                            );
                            self.settle(
                                settle.reject,
                                js_error(Code::UnsubscribeRefused, &message),
                            );
                        }
                        None => self.settle(settle.resolve, JsValue::UNDEFINED),
                    }
                }
            }
        }
    }
}

/// Calls every listener with `value`; one that throws is logged, the others still run.
pub(in crate::web::client) fn notify_all(listeners: &[Function], value: &JsValue) {
    for listener in listeners {
        if let Err(e) = listener.call1(&JsValue::UNDEFINED, value) {
            web_sys::console::error_2(&"imcore: an MqttClient listener threw".into(), &e);
        }
    }
}

fn message(publish: &Publish) -> JsValue {
    // QoS's discriminants are its wire values, as the codec writes them.
    let qos = publish.qos as u8;
    object(&[
        ("topic", publish.topic.as_str().into()),
        (
            "payload",
            Uint8Array::from(publish.payload.as_slice()).into(),
        ),
        ("qos", qos.into()),
        ("retain", publish.retain.into()),
    ])
}

/// The plain `{ code, message }` object of an `error` event.
pub(crate) fn error_info(code: Code, message: &str) -> JsValue {
    object(&[("code", code.as_str().into()), ("message", message.into())])
}

/// The code of the `error` event that accompanies a `disconnect`, for the endings that are
/// failures rather than ordinary losses of the link.
pub(crate) fn connection_error_code(error: &ConnectionError) -> Option<Code> {
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

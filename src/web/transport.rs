//! Transports: how MQTT bytes reach the broker.
//!
//! The session only needs a duplex byte pipe that reports open / data / closed. Two kinds
//! are built in:
//!
//! * the default, a browser [`WebSocket`] with subprotocol `mqtt` and
//!   `binaryType = "arraybuffer"`;
//! * a plain JS object made by the `transport` factory of the options, for hosts without a
//!   browser `WebSocket` (the WeChat mini-program's `wx.connectSocket`):
//!
//!   ```ts
//!   (url: string, protocols: string[]) => {
//!     send(data: ArrayBuffer): void; close(): void;
//!     onopen, onmessage(data: ArrayBuffer), onclose(reason), onerror(error) // assigned by the shell
//!   }
//!   ```
//!
//! The shell assigns the four `on*` callbacks right after the factory returns, so the object
//! must report `onopen` asynchronously. `onmessage` also accepts a `Uint8Array` (any
//! `ArrayBufferView`) or a `{ data }` object; `onerror` counts as the end of the transport.
//!
//! A [`Transport`] owns its callbacks. [`Transport::close`] (or dropping it) first unhooks
//! them from the socket, then closes it, so a socket that is going away can never feed the
//! session again; the client additionally tags every transport with a generation number and
//! ignores reports from any but the current one.

use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, WebSocket};

use super::error::describe;

/// The WebSocket subprotocol of MQTT.
pub(crate) const SUBPROTOCOL: &str = "mqtt";

const HANDLERS: [&str; 4] = ["onopen", "onmessage", "onclose", "onerror"];

/// What a transport reports.
#[derive(Debug)]
pub(crate) enum TransportEvent {
    /// Open: the session may write.
    Open,
    /// Bytes from the broker (any split of the stream).
    Data(Vec<u8>),
    /// Closed by either side, failed, or misbehaved (an error report, a text frame): the
    /// transport is done, for the reason given.
    Closed(String),
}

/// Where a transport reports to.
pub(crate) type Sink = Rc<dyn Fn(TransportEvent)>;

type Handler = Closure<dyn Fn(JsValue)>;

/// The part of a transport needed to write to it; cheap to clone, so the client can write
/// without holding its own state borrowed (a JS transport may call back synchronously).
#[derive(Debug, Clone)]
pub(crate) enum Link {
    WebSocket(WebSocket),
    Js {
        object: Object,
        send: Function,
        close: Function,
    },
}

impl Link {
    /// Writes one binary message.
    pub(crate) fn send(&self, bytes: &[u8]) -> Result<(), String> {
        match self {
            Link::WebSocket(ws) => ws
                .send_with_u8_array(bytes)
                .map_err(|e| format!("WebSocket send failed: {}", describe(&e))),
            Link::Js { object, send, .. } => {
                // A fresh ArrayBuffer the receiver may keep (a view into wasm memory is not).
                let buffer = Uint8Array::from(bytes).buffer();
                send.call1(object, &buffer)
                    .map(drop)
                    .map_err(|e| format!("transport send failed: {}", describe(&e)))
            }
        }
    }

    fn unhook(&self) {
        match self {
            Link::WebSocket(ws) => {
                ws.set_onopen(None);
                ws.set_onmessage(None);
                ws.set_onclose(None);
                ws.set_onerror(None);
            }
            Link::Js { object, .. } => {
                for name in HANDLERS {
                    let _ = Reflect::set(object, &name.into(), &JsValue::NULL);
                }
            }
        }
    }

    fn close(&self) {
        match self {
            Link::WebSocket(ws) => {
                let _ = ws.close();
            }
            Link::Js { object, close, .. } => {
                if let Err(e) = close.call0(object) {
                    web_sys::console::warn_2(&"imcore: transport close() threw".into(), &e);
                }
            }
        }
    }
}

/// One transport and the callbacks it was given.
pub(crate) struct Transport {
    link: Link,
    handlers: Vec<Handler>,
    open: bool,
}

impl Transport {
    /// Opens a transport to `url`: the browser WebSocket, or `factory(url, ["mqtt"])`.
    /// Calls into JS (the factory), so the caller must not hold state a callback may need.
    pub(crate) fn open(url: &str, factory: Option<&Function>, sink: Sink) -> Result<Self, String> {
        match factory {
            None => Self::websocket(url, sink),
            Some(factory) => Self::js(url, factory, sink),
        }
    }

    fn websocket(url: &str, sink: Sink) -> Result<Self, String> {
        let protocols = Array::of1(&SUBPROTOCOL.into());
        let ws = WebSocket::new_with_str_sequence(url, &protocols)
            .map_err(|e| format!("cannot open a WebSocket to {url}: {}", describe(&e)))?;
        ws.set_binary_type(BinaryType::Arraybuffer);

        let s = sink.clone();
        let onopen = Handler::new(move |_: JsValue| s(TransportEvent::Open));
        let s = sink.clone();
        let onmessage = Handler::new(move |event: JsValue| {
            // Read `data` by name, not `instanceof MessageEvent`: Node's WebSocket (undici)
            // delivers its own event class.
            let data = Reflect::get(&event, &"data".into()).unwrap_or(JsValue::UNDEFINED);
            match data.dyn_ref::<ArrayBuffer>() {
                Some(buffer) => s(TransportEvent::Data(Uint8Array::new(buffer).to_vec())),
                None => s(TransportEvent::Closed(
                    "the broker sent a text WebSocket frame; MQTT needs binary frames".into(),
                )),
            }
        });
        let s = sink.clone();
        let onclose = Handler::new(move |event: JsValue| {
            let get = |k: &str| Reflect::get(&event, &k.into()).unwrap_or(JsValue::UNDEFINED);
            let (code, reason) = (get("code").as_f64(), get("reason").as_string());
            let why = match (code, reason) {
                (Some(c), Some(r)) if !r.is_empty() => {
                    format!("WebSocket closed (code {}: {r})", c as u16)
                }
                (Some(c), _) => format!("WebSocket closed (code {})", c as u16),
                _ => "WebSocket closed".to_string(),
            };
            s(TransportEvent::Closed(why))
        });
        // A WebSocket `error` is always followed by `close`, which carries the code: the close
        // handler reports it. Hooked anyway, so the browser does not log it as unhandled.
        let onerror = Handler::new(move |_: JsValue| {});

        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        ws.set_onerror(Some(onerror.as_ref().unchecked_ref()));
        Ok(Transport {
            link: Link::WebSocket(ws),
            handlers: vec![onopen, onmessage, onclose, onerror],
            open: true,
        })
    }

    fn js(url: &str, factory: &Function, sink: Sink) -> Result<Self, String> {
        let protocols = Array::of1(&SUBPROTOCOL.into());
        let object = factory
            .call2(&JsValue::UNDEFINED, &url.into(), &protocols)
            .map_err(|e| format!("the transport factory threw: {}", describe(&e)))?;
        if !object.is_object() {
            return Err("the transport factory did not return an object".to_string());
        }
        let object = object.unchecked_into::<Object>();
        let method = |name: &str| {
            Reflect::get(&object, &name.into())
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
                .ok_or_else(|| format!("the transport object has no {name}() method"))
        };
        let send = method("send")?;
        let close = method("close")?;

        let s = sink.clone();
        let onopen = Handler::new(move |_: JsValue| s(TransportEvent::Open));
        let s = sink.clone();
        let onmessage = Handler::new(move |data: JsValue| match bytes_of(&data) {
            Some(bytes) => s(TransportEvent::Data(bytes)),
            None => s(TransportEvent::Closed(
                "the transport delivered something other than an ArrayBuffer".into(),
            )),
        });
        let s = sink.clone();
        let onclose = Handler::new(move |reason: JsValue| {
            s(TransportEvent::Closed(format!(
                "transport closed: {}",
                describe(&reason)
            )))
        });
        let s = sink;
        let onerror = Handler::new(move |error: JsValue| {
            s(TransportEvent::Closed(format!(
                "transport error: {}",
                describe(&error)
            )))
        });

        let link = Link::Js {
            object: object.clone(),
            send,
            close,
        };
        let handlers = vec![onopen, onmessage, onclose, onerror];
        for (name, handler) in HANDLERS.iter().zip(&handlers) {
            if Reflect::set(&object, &(*name).into(), handler.as_ref()).is_err() {
                // A frozen object or a throwing setter: it cannot report to us. Handlers
                // already set would outlive their closures: take them off first.
                link.unhook();
                link.close();
                return Err(format!("cannot set {name} on the transport object"));
            }
        }
        Ok(Transport {
            link,
            handlers,
            open: true,
        })
    }

    /// A handle to write with.
    pub(crate) fn link(&self) -> Link {
        self.link.clone()
    }

    /// Unhooks the callbacks, then closes the socket. Idempotent; also done on drop.
    pub(crate) fn close(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        self.link.unhook();
        self.link.close();
        self.handlers.clear();
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("link", &self.link)
            .field("open", &self.open)
            .finish()
    }
}

/// The bytes of an `ArrayBuffer`, an `ArrayBufferView` or a `{ data }` wrapping either.
fn bytes_of(value: &JsValue) -> Option<Vec<u8>> {
    if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
        return Some(Uint8Array::new(buffer).to_vec());
    }
    if ArrayBuffer::is_view(value) {
        let buffer = Reflect::get(value, &"buffer".into()).ok()?;
        let offset = Reflect::get(value, &"byteOffset".into()).ok()?.as_f64()?;
        let length = Reflect::get(value, &"byteLength".into()).ok()?.as_f64()?;
        // Through Reflect so that a detached buffer or odd getters are an error, not an
        // exception thrown through wasm.
        let constructor = Object::from(Uint8Array::new_with_length(0)).constructor();
        let args = Array::of3(&buffer, &offset.into(), &length.into());
        let view = Reflect::construct(&constructor, &args)
            .ok()?
            .dyn_into::<Uint8Array>()
            .ok()?;
        return Some(view.to_vec());
    }
    if value.is_object() {
        let data = Reflect::get(value, &"data".into()).ok()?;
        // Only one level: `{ data: { data } }` is not a message.
        if data.dyn_ref::<ArrayBuffer>().is_some() || ArrayBuffer::is_view(&data) {
            return bytes_of(&data);
        }
    }
    None
}

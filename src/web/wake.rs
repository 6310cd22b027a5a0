//! Browser signals that the network may be usable again: the window's `online` event and
//! the document becoming visible. Each calls back so the client can [`Session::wake`]: skip
//! the backoff wait, or check a connection that may have died unnoticed.
//!
//! [`Session::wake`]: crate::session::Session::wake

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{EventTarget, VisibilityState};

use crate::collections::Gather;

type Listener = Closure<dyn Fn(JsValue)>;

/// The listeners registered; removed again on drop.
pub(crate) struct WakeListeners {
    registered: Vec<(EventTarget, &'static str, Listener)>,
}

impl WakeListeners {
    /// Listens where the host has a `window` (none in a worker or a mini-program: the host's
    /// glue calls the client's `wake()` itself there, for instance from `wx.onAppShow`).
    pub(crate) fn install(wake: impl Fn() + Clone + 'static) -> WakeListeners {
        let mut listeners = WakeListeners {
            registered: Vec::new(),
        };
        let Some(window) = web_sys::window() else {
            return listeners;
        };
        let on_online = wake.clone();
        listeners.add(
            window.clone().into(),
            "online",
            Closure::new(move |_: JsValue| on_online()),
        );
        if let Some(document) = window.document() {
            let doc = document.clone();
            listeners.add(
                document.into(),
                "visibilitychange",
                Closure::new(move |_: JsValue| {
                    if doc.visibility_state() == VisibilityState::Visible {
                        wake();
                    }
                }),
            );
        }
        listeners
    }

    fn add(&mut self, target: EventTarget, event: &'static str, handler: Listener) {
        if target
            .add_event_listener_with_callback(event, handler.as_ref().unchecked_ref())
            .is_ok()
        {
            self.registered.push((target, event, handler));
        }
    }
}

impl Drop for WakeListeners {
    fn drop(&mut self) {
        for (target, event, handler) in self.registered.drain(..) {
            let _ =
                target.remove_event_listener_with_callback(event, handler.as_ref().unchecked_ref());
        }
    }
}

impl std::fmt::Debug for WakeListeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let events: Vec<&str> = self.registered.iter().map(|(_, e, _)| *e).gather();
        f.debug_struct("WakeListeners")
            .field("events", &events)
            .finish()
    }
}

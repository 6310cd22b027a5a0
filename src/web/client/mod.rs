//! `MqttDriver`: ChatClient's MQTT connection — the session, a transport, one timer and the
//! JS callbacks, wired together; every session event goes to the chat engine (the hook).
//!
//! The `MqttClient` class of `imcore/mqtt` and of the mini-program is not this: it is the
//! JS shell `mqtt_client.js` over the session's C ABI (`session_api`), which carries the
//! same wiring in 4.4 KB of JS instead of 16 KB of wasm. Both drive the same session and
//! follow the same steps (a transport per attempt numbered so stale reports are dropped,
//! one timer for the next deadline, the credentials of the newest request only).
//!
//! Why ChatClient keeps this driver rather than running on that JS shell too: here the
//! session's events go straight to the chat engine, with nothing converted for JS and no
//! public API to serve. Measured on the web module (gzip -9), this driver with its
//! transport, option readers and wake-ups costs about 7.1 KB (leave-one-out, as `make
//! size` measures its modules, per submodule), while the JS shell would cost the session's
//! C ABI (5.0 KB: the web module built with `mqtt-client`, 177,797 -> 182,843 B with one
//! wasm-opt pass) plus the class (4.4 KB): the web package would grow by some 2.3 KB. Only
//! the mini-program, which ships the ABI and the class for its `MqttClient` already, would
//! shed this driver's ~7 KB; running ChatClient on the JS shell in that build alone would
//! make two ChatClient MQTT paths, one per build, for that one gain.
//!
//! All state lives in one `Rc<RefCell<Inner>>`. The JS callbacks the shell registers (socket
//! handlers, the timer, the `online` / `visibilitychange` listeners, the credentials promise)
//! hold only a `Weak` to it, so freeing the `MqttDriver` frees everything, and they never
//! call into JS while it is borrowed: a step of the driver loop borrows the state, turns
//! the session's next [`Output`] into an [`Action`], releases the borrow, and only then
//! carries the action out. A JS callback that re-enters (a listener that publishes, a
//! transport that reports synchronously from `send`) therefore finds the state free, and
//! its own outputs join the same queue, in order.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use super::task::spawn_local;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::clock::Clock;
use super::error::describe;
use super::options::parse_credentials;
use super::timer::DeadlineTimer;
use super::transport::{Link, Sink, Transport, TransportEvent};
use super::wake::WakeListeners;
use crate::collections::{Fifo, Gather};
use crate::session::{Credentials, Event, Output, Session, SessionConfig, SessionError};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Username and password for one connection attempt. */
export interface MqttCredentials {
  username?: string;
  password?: string;
}

/** Reconnecting after a lost connection: capped exponential backoff with full jitter. */
export interface MqttReconnectOptions {
  /** Default true. */
  enabled?: boolean;
  /** Ceiling of the first delay in ms; default 1000. */
  initialDelayMs?: number;
  /** Ceiling of every delay in ms; default 30000. */
  maxDelayMs?: number;
}

/**
 * A transport made by a `transport` option: a binary duplex pipe (the WeChat
 * mini-program's `wx.connectSocket`, a test double…). The client assigns the four `on*`
 * callbacks right after the factory returns; report `onopen` asynchronously. `onerror`
 * ends the transport like `onclose`.
 */
export interface MqttTransport {
  send(data: ArrayBuffer): void;
  close(): void;
  onopen: (() => void) | null;
  onmessage: ((data: ArrayBuffer) => void) | null;
  onclose: ((reason?: string) => void) | null;
  onerror: ((error?: unknown) => void) | null;
}

/** Makes a transport to `url`; `protocols` is `["mqtt"]`. */
export type TransportFactory = (url: string, protocols: string[]) => MqttTransport;
"#;

/// Where the credentials of each attempt come from when they are not static.
#[derive(Clone)]
pub(crate) enum CredentialSource {
    /// The `credentials` option: a JS function returning a promise.
    Js(Function),
    /// A Rust future (the chat client's conn-config fetch).
    Rust(Rc<dyn Fn() -> CredentialsFuture>),
}

/// What a `CredentialSource::Rust` returns.
pub(crate) type CredentialsFuture = Pin<Box<dyn Future<Output = Result<Credentials, String>>>>;

/// Receives every session event (the chat client's engine); the events that came out of
/// one input together (a frame of messages) in one call.
pub(crate) type EventHook = Rc<dyn Fn(Vec<Event>)>;

/// Something to do in JS, decided while the state was borrowed, done after releasing it.
enum Action {
    /// Ask the credential source and answer attempt `seq` with what it gives.
    Credentials { seq: u64, source: CredentialSource },
    /// Open transport number `generation`.
    Open {
        generation: u64,
        url: String,
        factory: Option<Function>,
    },
    /// Write to transport number `generation`.
    Send {
        generation: u64,
        link: Link,
        bytes: Vec<u8>,
    },
    /// Unhook and close a transport.
    Close(Transport),
    /// Hand session events to the Rust owner.
    Hook(EventHook, Vec<Event>),
}

impl Action {
    /// Whether it is still carried out when the client is freed: writes and closes still
    /// matter; nobody listens any more, and nothing new is opened.
    fn outlives_free(&self) -> bool {
        matches!(self, Action::Send { .. } | Action::Close(_))
    }
}

struct Inner {
    session: Session,
    clock: Clock,
    factory: Option<Function>,
    credentials: Credentials,
    credentials_fn: Option<CredentialSource>,
    /// The owner (the chat client): every session event goes there.
    hook: EventHook,
    /// The current transport; `None` while none is open (or while one is being created).
    transport: Option<Transport>,
    /// Number of the newest transport; reports from older ones are ignored.
    generation: u64,
    /// Number of the newest credentials request; older answers are ignored.
    credentials_seq: u64,
    timer: DeadlineTimer,
    actions: Fifo<Action>,
    wake: Option<WakeListeners>,
    freed: bool,
}

impl Inner {
    /// The next thing to do in JS, converting the session's outputs until there is one.
    fn next_action(&mut self) -> Option<Action> {
        loop {
            if let Some(mut action) = self.actions.pop_front() {
                if let Action::Hook(_, events) = &mut action {
                    self.gather_events(events);
                }
                return Some(action);
            }
            if self.freed {
                return None;
            }
            let output = self.session.poll_output()?;
            self.carry_out(output);
        }
    }

    /// Adds to a hook call the events the session has next, up to its first other output
    /// (carried out, to come after the call): the chat engine then takes a frame of fifty
    /// messages as one input, not fifty.
    fn gather_events(&mut self, events: &mut Vec<Event>) {
        while self.actions.is_empty() && !self.freed {
            match self.session.poll_output() {
                Some(Output::Event(event)) => events.push(event),
                Some(output) => self.carry_out(output),
                None => return,
            }
        }
    }

    fn carry_out(&mut self, output: Output) {
        match output {
            Output::NeedCredentials { .. } => {
                self.credentials_seq += 1;
                match &self.credentials_fn {
                    Some(source) => self.actions.push_back(Action::Credentials {
                        seq: self.credentials_seq,
                        source: source.clone(),
                    }),
                    None => {
                        let credentials = self.credentials.clone();
                        let now = self.clock.now_ms();
                        self.session.handle_credentials(now, Ok(credentials));
                    }
                }
            }
            Output::Open { url } => {
                self.drop_transport();
                self.generation += 1;
                self.actions.push_back(Action::Open {
                    generation: self.generation,
                    url,
                    factory: self.factory.clone(),
                });
            }
            Output::Transmit(bytes) => {
                if let Some(transport) = &self.transport {
                    self.actions.push_back(Action::Send {
                        generation: self.generation,
                        link: transport.link(),
                        bytes,
                    });
                }
            }
            Output::Close => self.drop_transport(),
            Output::Event(event) => self.on_event(event),
        }
    }

    /// Detaches the current transport; it is closed (in JS) by the driver loop.
    fn drop_transport(&mut self) {
        // A new generation also turns away a transport whose factory is still running
        // (a disconnect() from inside the factory): it arrives stale and is closed.
        self.generation += 1;
        if let Some(transport) = self.transport.take() {
            self.actions.push_back(Action::Close(transport));
        }
    }

    fn on_event(&mut self, event: Event) {
        self.actions
            .push_back(Action::Hook(self.hook.clone(), vec![event]));
    }

    /// Stops everything for good (the owner is being freed): DISCONNECT if connected, close
    /// the transport, cancel the timer, remove the wake-up listeners. Returns what is left
    /// to do in JS.
    fn shut_down(&mut self) -> Vec<Action> {
        let now = self.clock.now_ms();
        self.freed = true;
        self.session.disconnect(now);
        let mut left: Vec<Action> = self.actions.drain().filter(Action::outlives_free).gather();
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Transmit(bytes) => {
                    if let Some(transport) = &self.transport {
                        left.push(Action::Send {
                            generation: self.generation,
                            link: transport.link(),
                            bytes,
                        });
                    }
                }
                Output::Close => {
                    if let Some(transport) = self.transport.take() {
                        left.push(Action::Close(transport));
                    }
                }
                Output::Event(_) | Output::NeedCredentials { .. } | Output::Open { .. } => {}
            }
        }
        if let Some(transport) = self.transport.take() {
            left.push(Action::Close(transport));
        }
        self.timer.cancel();
        self.wake = None;
        left
    }
}

/// Runs `f` on the borrowed state; `None` if it is already borrowed (a bug: never with the
/// driver loop's discipline, but a panic would kill the whole wasm instance).
fn with_inner<R>(rc: &Rc<RefCell<Inner>>, f: impl FnOnce(&mut Inner) -> R) -> Option<R> {
    let mut inner = borrow_inner(rc)?;
    Some(f(&mut inner))
}

/// The non-generic half of [`with_inner`] (instantiated for every closure), once.
#[inline(never)]
fn borrow_inner(rc: &Rc<RefCell<Inner>>) -> Option<std::cell::RefMut<'_, Inner>> {
    match rc.try_borrow_mut() {
        Ok(inner) => Some(inner),
        Err(_) => {
            web_sys::console::error_1(&"imcore: re-entrant call into MqttDriver ignored".into());
            None
        }
    }
}

/// The driver loop: carry out the session's outputs in order, then arm the timer for its
/// next deadline.
fn drive(rc: &Rc<RefCell<Inner>>) {
    while let Some(action) = with_inner(rc, Inner::next_action).flatten() {
        run(rc, action);
    }
    let weak = Rc::downgrade(rc);
    with_inner(rc, |inner| {
        if inner.freed {
            inner.timer.cancel();
            return;
        }
        let deadline = inner.session.poll_timeout();
        let clock = &inner.clock;
        inner
            .timer
            .schedule(deadline, || clock.now_ms(), move |seq| on_timer(&weak, seq));
    });
}

fn on_timer(weak: &Weak<RefCell<Inner>>, seq: u64) {
    let Some(rc) = weak.upgrade() else {
        return;
    };
    with_inner(&rc, |inner| {
        inner.timer.fired(seq);
        if !inner.freed {
            let now = inner.clock.now_ms();
            inner.session.handle_timeout(now);
        }
    });
    drive(&rc);
}

/// Carries out one action; the state is not borrowed here.
fn run(rc: &Rc<RefCell<Inner>>, action: Action) {
    match action {
        Action::Credentials { seq, source } => {
            // The source's answer as a future: a Rust source's, or what a JS
            // `credentials()` returned, a promise or a value. A late answer (the client
            // freed, or a newer request made) finds that out and is dropped.
            let answer: Pin<Box<dyn Future<Output = Result<Answer, String>>>> = match source {
                CredentialSource::Rust(make) => {
                    let future = make();
                    Box::pin(async move { future.await.map(Answer::Ready) })
                }
                CredentialSource::Js(callback) => match callback.call0(&JsValue::UNDEFINED) {
                    Err(e) => {
                        let why = format!("credentials() threw: {}", describe(&e));
                        return answer_credentials(rc, seq, Err(why));
                    }
                    Ok(value) => {
                        let promise = JsFuture::from(Promise::resolve(&value));
                        Box::pin(async move {
                            let rejected = |e| format!("credentials() rejected: {}", describe(&e));
                            promise.await.map(Answer::Js).map_err(rejected)
                        })
                    }
                },
            };
            let weak = Rc::downgrade(rc);
            spawn_local(async move {
                let answer = answer.await;
                if let Some(rc) = weak.upgrade() {
                    answer_credentials(&rc, seq, answer);
                }
            });
        }
        Action::Open {
            generation,
            url,
            factory,
        } => {
            let weak = Rc::downgrade(rc);
            let sink: Sink = Rc::new(move |event| {
                if let Some(rc) = weak.upgrade() {
                    on_transport_event(&rc, generation, event);
                }
            });
            let opened = Transport::open(&url, factory.as_ref(), sink);
            let stale = with_inner(rc, |inner| {
                let current = !inner.freed && inner.generation == generation;
                match opened {
                    Ok(transport) if current && inner.transport.is_none() => {
                        inner.transport = Some(transport);
                        None
                    }
                    Ok(transport) => Some(transport),
                    Err(why) => {
                        if current {
                            let now = inner.clock.now_ms();
                            inner.session.handle_transport_closed(now, &why);
                        }
                        None
                    }
                }
            });
            // Closed here, outside the borrow: a JS transport's close() may call back.
            drop(stale);
        }
        Action::Send {
            generation,
            link,
            bytes,
        } => {
            if let Err(why) = link.send(&bytes) {
                on_transport_event(rc, generation, TransportEvent::Closed(why));
            }
        }
        Action::Close(mut transport) => transport.close(),
        Action::Hook(hook, events) => hook(events),
    }
}

/// An answer of a credential source.
enum Answer {
    /// What a JS `credentials()` resolved to, to be read.
    Js(JsValue),
    /// What a Rust source gave.
    Ready(Credentials),
}

fn answer_credentials(rc: &Rc<RefCell<Inner>>, seq: u64, answer: Result<Answer, String>) {
    let current = |inner: &Inner| !inner.freed && seq == inner.credentials_seq;
    let Some(Some(fallback)) = with_inner(rc, |inner| {
        current(inner).then(|| inner.credentials.clone())
    }) else {
        return;
    };
    // Outside the borrow: reading the answer's fields may run the application's getters.
    let credentials = answer.and_then(|a| match a {
        Answer::Js(v) => parse_credentials(&v, &fallback),
        Answer::Ready(c) => Ok(c),
    });
    with_inner(rc, |inner| {
        if current(inner) {
            let now = inner.clock.now_ms();
            inner.session.handle_credentials(now, credentials);
        }
    });
    drive(rc);
}

fn on_transport_event(rc: &Rc<RefCell<Inner>>, generation: u64, event: TransportEvent) {
    let acted = with_inner(rc, |inner| {
        if inner.freed || inner.generation != generation || inner.transport.is_none() {
            return false;
        }
        let now = inner.clock.now_ms();
        match event {
            TransportEvent::Open => inner.session.handle_transport_open(now),
            TransportEvent::Data(bytes) => inner.session.handle_bytes(now, &bytes),
            TransportEvent::Closed(why) => {
                inner.drop_transport();
                inner.session.handle_transport_closed(now, &why);
            }
        }
        true
    });
    if acted == Some(true) {
        drive(rc);
    }
}

/// ChatClient's MQTT connection over WebSocket (or a transport of its options), driven by
/// imcore's session: it reconnects by itself (with backoff; at once when the browser comes
/// back online or the page becomes visible), keeps publishes made while offline and renews
/// subscriptions the broker lost. Dropping it ends the connection.
pub struct MqttDriver {
    inner: Rc<RefCell<Inner>>,
}

impl MqttDriver {
    /// A connection for the chat client: `hook` receives every session event (outside any
    /// borrow, so it may call back in).
    pub(crate) fn build(
        config: SessionConfig,
        credentials: Credentials,
        credentials_fn: Option<CredentialSource>,
        factory: Option<Function>,
        hook: EventHook,
    ) -> MqttDriver {
        let inner = Rc::new(RefCell::new(Inner {
            session: Session::new(config),
            clock: Clock::new(),
            factory,
            credentials,
            credentials_fn,
            hook,
            transport: None,
            generation: 0,
            credentials_seq: 0,
            timer: DeadlineTimer::default(),
            actions: Fifo::new(),
            wake: None,
            freed: false,
        }));
        let weak = Rc::downgrade(&inner);
        let wake = WakeListeners::install(move || {
            if let Some(rc) = weak.upgrade() {
                wake(&rc);
            }
        });
        with_inner(&inner, |i| i.wake = Some(wake));
        MqttDriver { inner }
    }

    /// The brokers of the next connection attempts (the chat backend's conn-config names
    /// them; set them before answering the credentials request).
    pub(crate) fn set_urls(&self, urls: Vec<String>) {
        with_inner(&self.inner, |inner| inner.session.set_urls(urls));
    }

    /// The session's status.
    pub(crate) fn session_status(&self) -> crate::session::Status {
        with_inner(&self.inner, |inner| inner.session.status())
            .unwrap_or(crate::session::Status::Idle)
    }

    /// Calls the session (publish, subscribe, …) and hands the id it gave to `register`
    /// before the driver loop runs, so the completion cannot arrive before the caller knows
    /// the id (`register` runs outside the borrow of the state: it may call in again).
    /// `None` if the state was borrowed (a re-entrant call, ignored; see [`with_inner`]).
    pub(crate) fn call<Id>(
        &self,
        call: impl FnOnce(&mut Session, u64) -> Result<Id, SessionError>,
        register: impl FnOnce(Id),
    ) -> Option<Result<(), SessionError>> {
        let outcome = with_inner(&self.inner, |inner| {
            let now = inner.clock.now_ms();
            call(&mut inner.session, now)
        });
        let result = outcome.map(|called| called.map(register));
        drive(&self.inner);
        result
    }

    /// Starts connecting (from `idle` or `offline`); does nothing if already under way.
    pub(crate) fn start(&self) {
        self.input(|session, now| session.connect(now));
    }

    /// Ends the connection (DISCONNECT, so no last will) and stays `idle` until `start`.
    pub(crate) fn stop(&self) {
        self.input(|session, now| session.disconnect(now));
    }

    /// Reconnects at once if waiting to reconnect, or checks a connection that may have
    /// died unnoticed (an immediate PINGREQ).
    pub(crate) fn nudge(&self) {
        wake(&self.inner);
    }

    /// Feeds one input to the session, then runs the driver loop.
    fn input(&self, f: impl FnOnce(&mut Session, u64)) {
        with_inner(&self.inner, |inner| {
            if !inner.freed {
                let now = inner.clock.now_ms();
                f(&mut inner.session, now);
            }
        });
        drive(&self.inner);
    }
}

impl Drop for MqttDriver {
    fn drop(&mut self) {
        let left = with_inner(&self.inner, Inner::shut_down).unwrap_or_default();
        for action in left {
            run(&self.inner, action);
        }
    }
}

fn wake(rc: &Rc<RefCell<Inner>>) {
    with_inner(rc, |inner| {
        if !inner.freed {
            let now = inner.clock.now_ms();
            inner.session.wake(now);
        }
    });
    drive(rc);
}

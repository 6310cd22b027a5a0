//! The driver loop: feeds inputs to the [`ChatEngine`] and carries out what it asks, in
//! order — MQTT calls on the session, `fetch`, storage reads and writes, listener calls,
//! promise settlements, console lines, and one timer.
//!
//! The engine is borrowed only to hand it an input or to take its next output; every JS
//! call happens after the borrow is released, so listeners may call back in. A call that
//! arrives while the loop runs (a session event raised by an MQTT call, a listener that
//! sends) queues its outputs behind the current ones, and the running loop carries them
//! out: order is kept and nothing recurses.

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Function, Promise};
use wasm_bindgen::JsValue;

use super::convert;
use super::http::{self, Backend};
use crate::client::{
    Accepted, ChatEngine, ChatError, ChatEvent, CommandId, LogLevel, MqttCommand, Now, Output,
    Reply, StorageAnswer, StorageOp,
};
use crate::collections::{Gather, VecMap};
use crate::storage::Storage;
use crate::web::client::MqttDriver;
use crate::web::clock::{wall_ms, Clock as MonoClock};
use crate::web::persist::Persister;
use crate::web::task::{promise, spawn_local, Settle};
use crate::web::timer::DeadlineTimer;
use gloo_timers::callback::Timeout;

pub(super) struct Shared {
    pub(super) engine: RefCell<ChatEngine>,
    pub(super) mqtt: OnceCell<MqttDriver>,
    pub(super) persister: Persister,
    pub(super) backend: Option<Backend>,
    pub(super) log: LogLevel,
    mono: MonoClock,
    /// By event name. Shared (`Rc`) so an event takes the list with a count, not a copy of
    /// every function (an event per message of a backlog); a change makes a new list.
    listeners: RefCell<VecMap<&'static str, Rc<Vec<Function>>>>,
    calls: RefCell<VecMap<CommandId, Settle>>,
    next_command: Cell<CommandId>,
    pumping: Cell<bool>,
    /// A `conversations` event is due (see [`emit`]).
    conversations_due: Cell<bool>,
    /// When the last `conversations` event went out (monotonic ms).
    conversations_at: Cell<Option<u64>>,
    /// The timer of a `conversations` event held back (see [`emit`]).
    conversations_timer: RefCell<Option<Timeout>>,
    timer: RefCell<DeadlineTimer>,
}

impl Shared {
    pub(super) fn new(
        engine: ChatEngine,
        persister: Persister,
        backend: Option<Backend>,
        log: LogLevel,
    ) -> Shared {
        Shared {
            engine: RefCell::new(engine),
            mqtt: OnceCell::new(),
            persister,
            backend,
            log,
            mono: MonoClock::new(),
            listeners: RefCell::new(VecMap::new()),
            calls: RefCell::new(VecMap::new()),
            next_command: Cell::new(0),
            pumping: Cell::new(false),
            conversations_due: Cell::new(false),
            conversations_at: Cell::new(None),
            conversations_timer: RefCell::new(None),
            timer: RefCell::new(DeadlineTimer::default()),
        }
    }

    pub(super) fn now(&self) -> Now {
        Now {
            mono_ms: self.mono.now_ms(),
            wall_ms: wall_ms() as u64,
        }
    }

    /// A promise and the command id the engine settles it under.
    pub(super) fn command(&self) -> Result<(CommandId, Promise), JsValue> {
        let (promise, settle) = promise().ok_or_else(|| {
            convert::error(&ChatError::new(
                crate::client::ErrorCode::InvalidArgument,
                "cannot create a Promise",
            ))
        })?;
        let id = self.next_command.get().wrapping_add(1);
        self.next_command.set(id);
        self.calls.borrow_mut().insert(id, settle);
        Ok((id, promise))
    }

    /// Forgets a command the engine refused at once (its promise is never handed out).
    pub(super) fn forget(&self, command: CommandId) {
        self.calls.borrow_mut().remove(&command);
    }

    pub(super) fn add_listener(&self, name: &'static str, listener: Function) {
        let mut all = self.listeners.borrow_mut();
        match all.get_mut(name) {
            Some(list) => Rc::make_mut(list).push(listener),
            None => {
                all.insert(name, Rc::new(vec![listener]));
            }
        }
    }

    pub(super) fn remove_listener(&self, name: &'static str, listener: &Function) {
        if let Some(list) = self.listeners.borrow_mut().get_mut(name) {
            if let Some(at) = list.iter().position(|f| f == listener) {
                Rc::make_mut(list).remove(at);
            }
        }
    }

    pub(super) fn log_line(&self, level: LogLevel, message: &str) {
        if level > self.log || self.log == LogLevel::Silent {
            return;
        }
        let prefix = JsValue::from("[imcore]");
        let message = JsValue::from(message);
        match level {
            LogLevel::Error => web_sys::console::error_2(&prefix, &message),
            LogLevel::Warn => web_sys::console::warn_2(&prefix, &message),
            LogLevel::Info => web_sys::console::info_2(&prefix, &message),
            LogLevel::Debug | LogLevel::Silent => web_sys::console::debug_2(&prefix, &message),
        }
    }
}

/// Hands the engine an input (with the time), then carries out what it asked.
pub(super) fn input<R>(sh: &Rc<Shared>, f: impl FnOnce(&mut ChatEngine, Now) -> R) -> Option<R> {
    let r = {
        let now = sh.now();
        let mut engine = borrow(sh)?;
        f(&mut engine, now)
    };
    pump(sh);
    Some(r)
}

/// Reads the engine; `None` if it is borrowed (never with this module's discipline, but a
/// panic would kill the whole wasm instance).
pub(super) fn read<R>(sh: &Shared, f: impl FnOnce(&ChatEngine) -> R) -> Option<R> {
    let engine = borrow(sh)?;
    Some(f(&engine))
}

#[inline(never)]
fn borrow(sh: &Shared) -> Option<std::cell::RefMut<'_, ChatEngine>> {
    match sh.engine.try_borrow_mut() {
        Ok(e) => Some(e),
        Err(_) => {
            web_sys::console::error_1(&"[imcore] re-entrant call into ChatClient ignored".into());
            None
        }
    }
}

/// Carries out the engine's outputs until there are none, then arms the timer.
#[inline(never)]
pub(super) fn pump(sh: &Rc<Shared>) {
    if sh.pumping.replace(true) {
        return;
    }
    // An output taken from the engine after a run of message events, not yet carried out.
    let mut held = None;
    while let Some(output) = held
        .take()
        .or_else(|| borrow(sh).and_then(|mut e| e.poll_output()))
    {
        match output {
            Output::Event(event) => held = emit_run(sh, event),
            other => execute(sh, other),
        }
    }
    sh.pumping.set(false);
    arm_timer(sh);
}

fn arm_timer(sh: &Rc<Shared>) {
    let Some(deadline) = read(sh, |e| e.poll_timeout()) else {
        return;
    };
    let weak = Rc::downgrade(sh);
    sh.timer.borrow_mut().schedule(
        deadline,
        || sh.mono.now_ms(),
        move |seq| {
            if let Some(sh) = weak.upgrade() {
                if sh.timer.borrow_mut().fired(seq) {
                    input(&sh, |e, now| e.handle_timeout(now));
                }
            }
        },
    );
}

fn execute(sh: &Rc<Shared>, output: Output) {
    match output {
        Output::Mqtt(command) => mqtt(sh, command),
        Output::Http { id, request } => {
            let sh = sh.clone();
            spawn_local(async move {
                let answer = match &sh.backend {
                    Some(backend) => http::run(backend, &request).await,
                    None => Err(crate::chat::api::ApiError::Network(
                        "no backend in direct mode".into(),
                    )),
                };
                input(&sh, |e, now| e.handle_http(now, id, answer));
            });
        }
        Output::Storage { id, op } => {
            let sh = sh.clone();
            spawn_local(async move {
                let answer = run_storage(&sh, op).await;
                input(&sh, |e, now| e.handle_storage(now, id, answer));
            });
        }
        Output::Persist(batch) => sh.persister.push(*batch),
        Output::Event(event) => emit(sh, event),
        Output::Done { command, result } => {
            let Some(settle) = sh.calls.borrow_mut().remove(&command) else {
                return;
            };
            let (f, value) = match result {
                Ok(Reply::Unit) => (settle.resolve, JsValue::UNDEFINED),
                Ok(Reply::Message(m)) => (
                    settle.resolve,
                    m.and_then(|m| read(sh, |e| convert::message(&m, e)))
                        .unwrap_or(JsValue::NULL),
                ),
                Ok(Reply::Messages(list)) => (
                    settle.resolve,
                    read(sh, |e| convert::messages(&list, e))
                        .unwrap_or_else(|| Array::new().into()),
                ),
                Err(e) => (settle.reject, convert::error(&e)),
            };
            let _ = f.call1(&JsValue::UNDEFINED, &value);
        }
        Output::Log { level, message } => sh.log_line(level, &message),
    }
}

async fn run_storage(
    sh: &Shared,
    op: StorageOp,
) -> Result<StorageAnswer, crate::storage::StorageError> {
    let storage = sh.persister.storage();
    match op {
        StorageOp::Messages {
            conversation,
            page,
            limit,
        } => storage
            .messages(conversation, page, limit)
            .await
            .map(StorageAnswer::Messages),
        StorageOp::MessageByServerId(id) => storage
            .message_by_server_id(id)
            .await
            .map(StorageAnswer::Message),
        StorageOp::Wipe => {
            sh.persister.flush().await;
            sh.persister
                .storage()
                .wipe()
                .await
                .map(|()| StorageAnswer::Wiped)
        }
    }
}

fn mqtt(sh: &Rc<Shared>, command: MqttCommand) {
    let tag = match &command {
        MqttCommand::Connect | MqttCommand::Disconnect => None,
        MqttCommand::Publish { tag, .. }
        | MqttCommand::Subscribe { tag, .. }
        | MqttCommand::Unsubscribe { tag, .. } => Some(*tag),
    };
    let Some(client) = sh.mqtt.get() else {
        if let Some(tag) = tag {
            input(sh, |e, now| e.handle_mqtt_unavailable(now, tag));
        }
        return;
    };
    let result = match command {
        MqttCommand::Connect => return client.start(),
        MqttCommand::Disconnect => return client.stop(),
        MqttCommand::Publish {
            tag,
            topic,
            payload,
            qos,
            retain,
        } => client.call(
            |s, now| s.publish(now, &topic, payload, qos, retain),
            |id| accepted(sh, tag, Accepted::Publish(id)),
        ),
        MqttCommand::Subscribe { tag, filters } => client.call(
            |s, now| s.subscribe(now, filters),
            |id| accepted(sh, tag, Accepted::Request(id)),
        ),
        MqttCommand::Unsubscribe { tag, topics } => client.call(
            |s, now| s.unsubscribe(now, topics),
            |id| accepted(sh, tag, Accepted::Request(id)),
        ),
    };
    let Some(tag) = tag else {
        return;
    };
    match result {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            input(sh, |engine, now| engine.handle_mqtt_refused(now, tag, e));
        }
        // The client was busy (a re-entrant call) and dropped the call.
        None => {
            input(sh, |engine, now| engine.handle_mqtt_unavailable(now, tag));
        }
    }
}

fn accepted(sh: &Rc<Shared>, tag: crate::client::MqttTag, accepted: Accepted) {
    input(sh, |e, now| e.handle_mqtt_accepted(now, tag, accepted));
}

/// Calls the listeners of an event (the value is made only when someone listens).
///
/// `conversations` carries the whole list, so it is sent once per task, in a microtask
/// after the task's other events, however many changes the task made: a WebSocket frame
/// of a backlog holds dozens of messages, each of which changes the list, and making the
/// list once per message made a 10,000-message backlog quadratic in the number of
/// conversations (`make bench`). And at most once per [`CONVERSATIONS_EVERY_MS`]: a
/// backlog is hundreds of frames in a row, and a list per frame was still a quarter of
/// its cost (100 conversations, each with its last message, 200 times); a change within
/// that time of the last list goes out in a timer at its end. The list sent is the state
/// at that moment.
fn emit(sh: &Rc<Shared>, event: ChatEvent) {
    if !matches!(event, ChatEvent::Conversations) {
        emit_now(sh, event);
        return;
    }
    if sh.conversations_due.replace(true) {
        return;
    }
    let now = sh.mono.now_ms();
    let wait = sh.conversations_at.get().map_or(0, |at| {
        at.saturating_add(CONVERSATIONS_EVERY_MS)
            .saturating_sub(now)
    });
    if wait == 0 {
        let sh = sh.clone();
        spawn_local(async move { emit_conversations(&sh) });
        return;
    }
    let weak = Rc::downgrade(sh);
    // Fits: below CONVERSATIONS_EVERY_MS.
    let wait = u32::try_from(wait).unwrap_or(0);
    *sh.conversations_timer.borrow_mut() = Some(Timeout::new(wait, move || {
        if let Some(sh) = weak.upgrade() {
            emit_conversations(&sh);
        }
    }));
}

/// The shortest time between two `conversations` events: about a frame at 60 Hz.
const CONVERSATIONS_EVERY_MS: u64 = 16;

fn emit_conversations(sh: &Rc<Shared>) {
    sh.conversations_due.set(false);
    sh.conversations_at.set(Some(sh.mono.now_ms()));
    emit_now(sh, ChatEvent::Conversations);
}

fn emit_now(sh: &Rc<Shared>, event: ChatEvent) {
    let name = convert::event_name(&event);
    if !heard(sh, name) {
        return;
    }
    let value = match &event {
        ChatEvent::Conversations => read(sh, |e| convert::conversations(&e.conversations(), e))
            .unwrap_or_else(|| Array::new().into()),
        other => read(sh, |e| convert::event(other, e)).unwrap_or(JsValue::NULL),
    };
    call_listeners(sh, name, &value);
}

/// Someone listens to event `name`.
fn heard(sh: &Shared, name: &str) -> bool {
    sh.listeners
        .borrow()
        .get(name)
        .is_some_and(|l| !l.is_empty())
}

/// Calls the listeners of event `name` (those of the moment: an earlier one may have
/// added or removed some).
fn call_listeners(sh: &Shared, name: &str, value: &JsValue) {
    let listeners = sh.listeners.borrow().get(name).cloned().unwrap_or_default();
    for listener in listeners.iter() {
        if let Err(e) = listener.call1(&JsValue::UNDEFINED, value) {
            web_sys::console::error_2(&"[imcore] a ChatClient listener threw".into(), &e);
        }
    }
}

fn is_message_event(event: &ChatEvent) -> bool {
    matches!(
        event,
        ChatEvent::Message { .. } | ChatEvent::MessageUpdated { .. }
    )
}

/// Emits `first` and the events right behind it in the engine's outputs. A frame of a
/// backlog makes dozens of `message` events, with `unreadTotal` and `conversations`
/// events between them: the values of the run's `message` / `messageUpdated` events are
/// made together, one tape (`tape`), instead of one tape per message. Returns the output
/// that ended the run, to be carried out next.
///
/// The order is the same as one by one: the listeners are called event by event, and
/// what they call in queues its outputs behind the one returned, as it would behind the
/// rest of the run. A message event nobody listened to when the run was taken, but
/// someone does by its turn (an earlier listener added one), is made on its own then.
fn emit_run(sh: &Rc<Shared>, first: ChatEvent) -> Option<Output> {
    let mut run = vec![first];
    let after = loop {
        match borrow(sh).and_then(|mut e| e.poll_output()) {
            Some(Output::Event(event)) => run.push(event),
            other => break other,
        }
    };
    // Which events go on the tape: the message events someone listens to.
    let taped: Vec<bool> = run
        .iter()
        .map(|event| is_message_event(event) && heard(sh, convert::event_name(event)))
        .gather();
    let events: Vec<&ChatEvent> = run
        .iter()
        .zip(&taped)
        .filter(|(_, t)| **t)
        .map(|(e, _)| e)
        .gather();
    let values = if events.is_empty() {
        None
    } else {
        read(sh, |e| convert::message_events(&events, e))
    };
    // The tape's records, in order: one per taped event.
    let mut record = 0;
    for (event, taped) in run.into_iter().zip(taped) {
        if taped {
            let value = values.as_ref().map_or(JsValue::NULL, |v| v.get(record));
            record += 1;
            call_listeners(sh, convert::event_name(&event), &value);
        } else {
            emit(sh, event);
        }
    }
    after
}

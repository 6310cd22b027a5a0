//! Browser tests of the wasm shell: `MqttClient` in headless Chromium against a real
//! Mosquitto (started by tools/broker-control.mjs).
//!
//! Run them through the broker control script, which exports the control URL this file
//! reads at compile time (the code runs inside Chromium, which has no environment):
//!
//! ```text
//! CHROMEDRIVER=/usr/bin/chromedriver \
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//! scripts/with-broker-control.sh cargo test --target wasm32-unknown-unknown --test web_mqtt
//! ```
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use imcore::web::MqttClient;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{RequestInit, Response};

wasm_bindgen_test_configure!(run_in_browser);

/// The broker-control URL, fixed when this file was compiled.
const BROKER_CONTROL: Option<&str> = option_env!("IMCORE_BROKER_CONTROL");

fn broker_control() -> &'static str {
    match BROKER_CONTROL {
        Some(url) if !url.is_empty() => url,
        _ => panic!(
            "IMCORE_BROKER_CONTROL was not set when tests/web_mqtt.rs was compiled: run the \
             browser tests through scripts/with-broker-control.sh, which starts Mosquitto and \
             exports it (see the Makefile)"
        ),
    }
}

// ---- small async helpers ------------------------------------------------------------------

fn window() -> web_sys::Window {
    web_sys::window().expect("browser tests run in a window")
}

/// A promise that resolves after `ms` milliseconds.
fn delay(ms: i32) -> Promise {
    Promise::new(&mut |resolve, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .expect("setTimeout");
    })
}

async fn sleep(ms: i32) {
    JsFuture::from(delay(ms)).await.expect("sleep");
}

/// Awaits `promise`, failing after `ms` milliseconds.
async fn within(ms: i32, what: &str, promise: Promise) -> Result<JsValue, JsValue> {
    let message = format!("timed out after {ms} ms: {what}");
    let timeout = Promise::new(&mut |_, reject| {
        let message = message.clone();
        let reject_later = Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::UNDEFINED, &JsValue::from_str(&message));
        });
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(reject_later.unchecked_ref(), ms)
            .expect("setTimeout");
    });
    JsFuture::from(Promise::race(&Array::of2(&promise, &timeout))).await
}

/// Polls `done` every 20 ms; panics with `what` after `ms` milliseconds.
async fn wait_until(ms: f64, what: &str, done: impl Fn() -> bool) {
    let start = js_sys::Date::now();
    while !done() {
        if js_sys::Date::now() - start > ms {
            panic!("timed out after {ms} ms waiting for {what}");
        }
        sleep(20).await;
    }
}

async fn fetch_json(method: &str, path: &str) -> JsValue {
    let url = format!("{}{path}", broker_control());
    let init = RequestInit::new();
    init.set_method(method);
    let what = format!("{method} {url}");
    let response = within(30_000, &what, window().fetch_with_str_and_init(&url, &init))
        .await
        .unwrap_or_else(|e| panic!("{what} failed: {e:?}"));
    let response: Response = response.dyn_into().expect("a Response");
    assert!(response.ok(), "{what}: HTTP {}", response.status());
    within(10_000, &what, response.json().expect("json()"))
        .await
        .unwrap_or_else(|e| panic!("{what}: bad JSON: {e:?}"))
}

async fn ws_url() -> String {
    let info = fetch_json("GET", "/info").await;
    get(&info, "ws_url")
        .as_string()
        .expect("/info has a ws_url string")
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn set(object: &JsValue, key: &str, value: impl Into<JsValue>) {
    Reflect::set(object, &key.into(), &value.into()).expect("set a property");
}

/// A short random suffix, so runs and tests never share client ids or topics.
fn unique() -> String {
    format!("{:x}", (js_sys::Math::random() * 4_294_967_296.0) as u64)
}

// ---- a client and what it reported --------------------------------------------------------

#[derive(Default)]
struct Log {
    statuses: Vec<String>,
    /// (topic, payload, qos)
    messages: Vec<(String, Vec<u8>, u8)>,
    disconnects: Vec<String>,
    errors: Vec<String>,
}

type Record = Box<dyn Fn(&mut Log, JsValue)>;

struct Probe {
    client: MqttClient,
    log: Rc<RefCell<Log>>,
    _listeners: Vec<Closure<dyn Fn(JsValue)>>,
}

impl Probe {
    fn new(options: &Object) -> Probe {
        let client = MqttClient::new(options.into()).expect("valid options");
        let log = Rc::new(RefCell::new(Log::default()));
        let mut listeners = Vec::new();
        let mut listen = |event: &str, f: Record| {
            let log = log.clone();
            let closure =
                Closure::<dyn Fn(JsValue)>::new(move |v: JsValue| f(&mut log.borrow_mut(), v));
            client
                .on(event.into(), closure.as_ref().clone())
                .expect("known event");
            listeners.push(closure);
        };
        listen(
            "status",
            Box::new(|log, v| log.statuses.push(v.as_string().unwrap_or_default())),
        );
        listen(
            "message",
            Box::new(|log, m| {
                let payload = get(&m, "payload")
                    .dyn_into::<Uint8Array>()
                    .expect("payload is a Uint8Array")
                    .to_vec();
                log.messages.push((
                    get(&m, "topic").as_string().unwrap_or_default(),
                    payload,
                    get(&m, "qos").as_f64().unwrap_or(-1.0) as u8,
                ));
            }),
        );
        listen(
            "disconnect",
            Box::new(|log, d| {
                log.disconnects
                    .push(get(&d, "reason").as_string().unwrap_or_default())
            }),
        );
        listen(
            "error",
            Box::new(|log, e| {
                log.errors
                    .push(get(&e, "code").as_string().unwrap_or_default())
            }),
        );
        Probe {
            client,
            log,
            _listeners: listeners,
        }
    }

    async fn connected(&self, ms: f64) {
        self.client.connect();
        wait_until(ms, "status 'connected'", || {
            self.client.status() == "connected"
        })
        .await;
    }

    fn received(&self, payload: &[u8]) -> bool {
        self.log
            .borrow()
            .messages
            .iter()
            .any(|(_, p, _)| p == payload)
    }
}

fn options(url: &str, client_id: &str) -> Object {
    let o = Object::new();
    set(&o, "url", url);
    set(&o, "clientId", client_id);
    set(&o, "keepAlive", 30);
    let reconnect = Object::new();
    set(&reconnect, "initialDelayMs", 100);
    set(&reconnect, "maxDelayMs", 1_000);
    set(&o, "reconnect", reconnect);
    o
}

async fn publish_qos1(client: &MqttClient, topic: &str, payload: JsValue) {
    let done = client.publish(topic.into(), payload, JsValue::from(1), JsValue::UNDEFINED);
    within(10_000, "QoS 1 publish (PUBACK)", done)
        .await
        .unwrap_or_else(|e| panic!("publish rejected: {e:?}"));
}

async fn subscribe_qos1(client: &MqttClient, filter: &str) {
    let granted = within(
        10_000,
        "SUBACK",
        client.subscribe(filter.into(), JsValue::from(1)),
    )
    .await
    .unwrap_or_else(|e| panic!("subscribe rejected: {e:?}"));
    let granted: Vec<f64> = Array::from(&granted)
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    assert_eq!(granted, [1.0], "granted QoS");
}

// ---- the tests ------------------------------------------------------------------------------

/// QoS 1 publish → broker → subscriber, through the browser WebSocket transport.
#[wasm_bindgen_test]
async fn qos1_round_trip_through_the_websocket_transport() {
    let url = ws_url().await;
    let id = unique();
    let topic = format!("imcore/web-test/{id}/round-trip");

    let subscriber = Probe::new(&options(&url, &format!("web-sub-{id}")));
    subscriber.connected(10_000.0).await;
    subscribe_qos1(&subscriber.client, &topic).await;

    let publisher = Probe::new(&options(&url, &format!("web-pub-{id}")));
    publisher.connected(10_000.0).await;
    publish_qos1(&publisher.client, &topic, "hello over QoS 1".into()).await;
    let binary: Vec<u8> = vec![0, 1, 2, 0x7f, 0x80, 0xfe, 0xff];
    publish_qos1(
        &publisher.client,
        &topic,
        Uint8Array::from(binary.as_slice()).into(),
    )
    .await;

    wait_until(10_000.0, "both messages at the subscriber", || {
        subscriber.received(b"hello over QoS 1") && subscriber.received(&binary)
    })
    .await;
    {
        let log = subscriber.log.borrow();
        assert!(log.messages.iter().all(|(t, _, q)| *t == topic && *q == 1));
        assert_eq!(
            log.statuses,
            ["fetching-config", "connecting", "connected"],
            "status sequence"
        );
        assert!(log.errors.is_empty(), "errors: {:?}", log.errors);
    }

    subscriber.client.disconnect();
    publisher.client.disconnect();
    assert_eq!(subscriber.client.status(), "idle");
    assert_eq!(
        subscriber.log.borrow().disconnects,
        ["disconnected by the application"]
    );
}

/// The broker is killed and restarted: the client notices, reconnects by itself (asking
/// for fresh credentials), renews its subscription and round-trips QoS 1 again.
#[wasm_bindgen_test]
async fn reconnects_by_itself_after_the_broker_restarts() {
    let url = ws_url().await;
    let id = unique();
    let topic = format!("imcore/web-test/{id}/restart");

    let options = options(&url, &format!("web-restart-{id}"));
    let calls = Rc::new(RefCell::new(0u32));
    let counter = calls.clone();
    let credentials = Closure::<dyn Fn() -> JsValue>::new(move || {
        *counter.borrow_mut() += 1;
        let creds = Object::new();
        set(&creds, "username", "web-test");
        Promise::resolve(&creds).into()
    });
    set(&options, "credentials", credentials.as_ref().clone());
    let probe = Probe::new(&options);
    probe.connected(10_000.0).await;
    subscribe_qos1(&probe.client, &topic).await;
    publish_qos1(&probe.client, &topic, "before the restart".into()).await;
    wait_until(10_000.0, "the message before the restart", || {
        probe.received(b"before the restart")
    })
    .await;
    assert_eq!(*calls.borrow(), 1, "credentials() before the first attempt");

    let mark = probe.log.borrow().statuses.len();
    fetch_json("POST", "/restart").await;
    wait_until(15_000.0, "status 'reconnecting' after the restart", || {
        probe.log.borrow().statuses[mark..]
            .iter()
            .any(|s| s == "reconnecting")
    })
    .await;
    wait_until(20_000.0, "status 'connected' again, by itself", || {
        let log = probe.log.borrow();
        let after = &log.statuses[mark..];
        after
            .iter()
            .position(|s| s == "reconnecting")
            .is_some_and(|i| after[i..].iter().any(|s| s == "connected"))
            && probe.client.status() == "connected"
    })
    .await;
    assert!(
        *calls.borrow() >= 2,
        "credentials() is called before every attempt"
    );

    // Mosquitto runs without persistence: the subscription was renewed by the session.
    publish_qos1(&probe.client, &topic, "after the restart".into()).await;
    wait_until(10_000.0, "the message after the restart", || {
        probe.received(b"after the restart")
    })
    .await;
    probe.client.disconnect();
}

/// A plain JS object as the transport (what the mini-program's `wx.connectSocket` glue
/// provides), here wrapping a browser WebSocket.
#[wasm_bindgen_test]
async fn qos1_round_trip_through_a_js_object_transport() {
    let url = ws_url().await;
    let id = unique();
    let topic = format!("imcore/web-test/{id}/js-transport");
    let factory = Function::new_with_args(
        "url, protocols",
        r#"
        globalThis.__imcoreFactoryCalls = (globalThis.__imcoreFactoryCalls || 0) + 1;
        const ws = new WebSocket(url, protocols);
        ws.binaryType = "arraybuffer";
        const t = {
          send(data) {
            if (!(data instanceof ArrayBuffer)) throw new Error("send() got a non-ArrayBuffer");
            ws.send(data);
          },
          close() { ws.close(); },
          onopen: null, onmessage: null, onclose: null, onerror: null,
        };
        ws.onopen = () => t.onopen && t.onopen();
        ws.onmessage = (e) => t.onmessage && t.onmessage(e.data);
        ws.onclose = (e) => t.onclose && t.onclose("closed with code " + e.code);
        return t;
        "#,
    );
    let options = options(&url, &format!("web-js-{id}"));
    set(&options, "transport", factory);
    let probe = Probe::new(&options);
    probe.connected(10_000.0).await;
    subscribe_qos1(&probe.client, &topic).await;
    publish_qos1(&probe.client, &topic, "through a JS transport".into()).await;
    wait_until(10_000.0, "the message", || {
        probe.received(b"through a JS transport")
    })
    .await;
    let calls = get(&js_sys::global(), "__imcoreFactoryCalls")
        .as_f64()
        .unwrap_or(0.0);
    assert_eq!(calls, 1.0, "the factory opened the only connection");
    probe.client.disconnect();
}

/// Bad input is a typed error (thrown by the constructor, rejected by the promises), and
/// freeing the client rejects what is still pending.
#[wasm_bindgen_test]
async fn errors_carry_stable_codes() {
    fn code(error: &JsValue) -> String {
        get(error, "code").as_string().unwrap_or_default()
    }
    let no_url = Object::new();
    set(&no_url, "clientId", "x");
    let error = MqttClient::new(no_url.into())
        .err()
        .expect("url is required");
    assert_eq!(code(&error), "INVALID_OPTIONS");
    assert!(error.is_instance_of::<js_sys::Error>());

    let bad_qos = options("ws://127.0.0.1:9/mqtt", "x");
    let will = Object::new();
    set(&will, "topic", "a/b");
    set(&will, "qos", 3);
    set(&bad_qos, "will", will);
    let error = MqttClient::new(bad_qos.into()).err().expect("will.qos 3");
    assert_eq!(code(&error), "INVALID_OPTIONS");
    assert!(MqttClient::new(JsValue::from(5)).is_err());

    let limited = options("ws://127.0.0.1:9/mqtt", "x");
    set(&limited, "offlineQueueLimit", 1);
    let client = MqttClient::new(limited.into()).expect("valid options");
    let rejection =
        |p: Promise| async move { within(2_000, "a rejection", p).await.expect_err("rejected") };
    let wildcard = client.publish(
        "a/+".into(),
        "x".into(),
        JsValue::UNDEFINED,
        JsValue::UNDEFINED,
    );
    assert_eq!(code(&rejection(wildcard).await), "INVALID_TOPIC");
    let qos = client.publish("a".into(), "x".into(), JsValue::from(7), JsValue::UNDEFINED);
    assert_eq!(code(&rejection(qos).await), "INVALID_QOS");
    let payload = client.publish(
        "a".into(),
        JsValue::from(1),
        JsValue::UNDEFINED,
        JsValue::UNDEFINED,
    );
    assert_eq!(code(&rejection(payload).await), "INVALID_PAYLOAD");
    let filter = client.subscribe("a/#/b".into(), JsValue::UNDEFINED);
    assert_eq!(code(&rejection(filter).await), "INVALID_FILTER");
    assert!(client
        .on("nope".into(), Function::new_no_args("").into())
        .is_err());

    // Idle: the first publish waits in the queue, the second finds it full.
    let queued = client.publish("a".into(), "1".into(), JsValue::from(1), JsValue::UNDEFINED);
    let full = client.publish("a".into(), "2".into(), JsValue::from(1), JsValue::UNDEFINED);
    assert_eq!(code(&rejection(full).await), "QUEUE_FULL");
    drop(client); // what free() does
    assert_eq!(code(&rejection(queued).await), "DISCONNECTED");
}

/// While waiting to reconnect (here: a long backoff to a port nobody listens on), the
/// browser's `online` event and the page becoming visible start the next attempt at once.
#[wasm_bindgen_test]
async fn online_and_visibility_skip_the_backoff_wait() {
    let options = options("ws://127.0.0.1:9/mqtt", &format!("web-wake-{}", unique()));
    let reconnect = Object::new();
    // Full jitter over [0, 10 min]: the wait is practically never under the test's seconds.
    set(&reconnect, "initialDelayMs", 600_000);
    set(&reconnect, "maxDelayMs", 600_000);
    set(&options, "reconnect", reconnect);
    let attempts = Rc::new(RefCell::new(0u32));
    let counter = attempts.clone();
    let credentials = Closure::<dyn Fn() -> JsValue>::new(move || {
        *counter.borrow_mut() += 1;
        Promise::resolve(&JsValue::UNDEFINED).into()
    });
    set(&options, "credentials", credentials.as_ref().clone());
    let probe = Probe::new(&options);

    let reconnect_at = Rc::new(RefCell::new(Vec::<JsValue>::new()));
    let at = reconnect_at.clone();
    let on_disconnect = Closure::<dyn Fn(JsValue)>::new(move |d: JsValue| {
        at.borrow_mut().push(get(&d, "reconnectAt"))
    });
    probe
        .client
        .on("disconnect".into(), on_disconnect.as_ref().clone())
        .expect("known event");

    probe.client.connect();
    let waiting = |n: u32| {
        let attempts = attempts.clone();
        let client = &probe.client;
        move || *attempts.borrow() == n && client.status() == "reconnecting"
    };
    wait_until(10_000.0, "the first attempt to fail", waiting(1)).await;
    let next = reconnect_at.borrow()[0]
        .as_f64()
        .expect("reconnectAt is a number");
    assert!(
        next >= js_sys::Date::now() - 1_000.0,
        "reconnectAt is a Date.now() time"
    );

    let online = web_sys::Event::new("online").expect("an Event");
    window().dispatch_event(&online).expect("dispatch online");
    wait_until(
        10_000.0,
        "a second attempt right after `online`",
        waiting(2),
    )
    .await;

    let visible = web_sys::Event::new("visibilitychange").expect("an Event");
    let document = window().document().expect("a document");
    assert_eq!(
        document.visibility_state(),
        web_sys::VisibilityState::Visible
    );
    document
        .dispatch_event(&visible)
        .expect("dispatch visibilitychange");
    wait_until(10_000.0, "a third attempt once visible", waiting(3)).await;

    probe.client.wake();
    wait_until(10_000.0, "a fourth attempt on wake()", waiting(4)).await;
    assert!(
        probe.log.borrow().errors.is_empty(),
        "a refused socket is no error event"
    );
    probe.client.disconnect();
    assert_eq!(probe.client.status(), "idle");
}

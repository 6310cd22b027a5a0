// MqttClient: the JS shell of the MQTT-only module (`imcore/mqtt`) and of the mini-program's
// `MqttClient`, over the session's C ABI in src/web/session_api.rs (`mqtt_*` exports).
//
// Why JS: the same shell in Rust (options, transport, timer, listeners, promises,
// credentials) was 16 KB gzip -9 of wasm and glue; here it is 4.4 KB with its loader. The
// rules stay in Rust: the session decides what to send, when to reconnect and what every
// error says, and it judges topics, filters, QoS values and the will. This file judges JS
// values (types, the ranges of the options), carries bytes between the session and a
// socket, keeps one timer for the session's next deadline, and turns outputs into events
// and promises.
//
// The driver loop: every input (a method call, a socket event, the timer, credentials)
// goes to the session with the monotonic time, then `_run` takes the session's outputs in
// order (`mqtt_poll`) and arms the timer for its deadline. A listener or transport that
// calls back in while an input or the loop is under way (`_step`) only adds to the
// session's outputs: the loop takes them, in order. The client runs until `free()`: its
// timer, socket and window listeners hold it.
//
// scripts/build-wasm.sh ships this file as pkg/mqtt/imcore.js (ES module, beside the module
// imcore_bg.wasm, which `init` loads: no other glue) and, as CommonJS, as
// pkg/miniprogram/mqtt_client.js: the loader section below is replaced by `use(exports)`,
// which the mini-program's index.js calls with the exports of its one module, and the
// `export` words go. Keep the section's marker lines as they are (the build checks).

const isObject = (v) => typeof v === "object" && v !== null;
const absent = (v) => v === undefined || v === null;

// ---- loader: the web's; the mini-program's build replaces it ----
// The module's exports (`mqtt_*`, `memory`), once loaded. The module imports nothing.
let w;

// A plain object: init's { module_or_path } or initSync's { module } (wasm-bindgen's forms).
const plain = (v) => isObject(v) && Object.getPrototypeOf(v) === Object.prototype;

/**
 * Loads the module (imcore_bg.wasm beside this file, unless told otherwise), once: a later
 * call resolves with what the first loaded. (The module is 70 KB: it is compiled once
 * downloaded, not while it streams.)
 */
export default async function init(input) {
  if (w) return w;
  input = await input;
  if (plain(input)) input = await input.module_or_path;
  if (input === undefined) input = new URL("imcore_bg.wasm", import.meta.url);
  if (typeof input === "string" || input instanceof URL
    || (typeof Request === "function" && input instanceof Request)) input = await fetch(input);
  if (typeof Response === "function" && input instanceof Response) {
    input = await input.arrayBuffer();
  }
  const made = await WebAssembly.instantiate(input, {});
  return (w = w || (made.instance || made).exports);
}

/** Loads the module from its bytes or a compiled `WebAssembly.Module`, once. */
export function initSync(input) {
  if (w) return w;
  if (plain(input)) input = input.module;
  if (!(input instanceof WebAssembly.Module)) input = new WebAssembly.Module(input);
  return (w = w || new WebAssembly.Instance(input, {}).exports);
}
// ---- end of the loader ----

// A readable description of whatever JS threw or reported: an Error's message, a string, a
// mini-program style { errMsg } / { reason } / { message }, or its type.
function describe(v) {
  try {
    if (v instanceof Error) return v.message;
    if (typeof v === "string") return v;
    if (isObject(v)) {
      for (const key of ["message", "errMsg", "reason"]) {
        if (typeof v[key] === "string" && v[key]) return v[key];
      }
      if (typeof v.code === "number") return `code ${Math.trunc(v.code)}`;
    }
  } catch (e) {
    // A throwing getter (or a revoked Proxy) describes nothing.
  }
  return absent(v) ? "no details" : `a ${typeof v}`;
}

function mqttError(code, message) {
  const e = new Error(message);
  e.name = "MqttError";
  e.code = code;
  return e;
}

const invalid = (message) => mqttError("INVALID_OPTIONS", message);
const rejected = (code, message) => Promise.reject(mqttError(code, message));
const freed = () => mqttError("DISCONNECTED", "the MqttClient was freed");

// Monotonic milliseconds: performance.now() where the host has it, else Date.now() kept
// from running backwards.
let last = 0;
const clock =
  typeof performance === "object" && typeof performance.now === "function"
    ? () => performance.now()
    : Date.now;
const now = () => (last = Math.max(last, clock()));

// 53 random bits for the reconnect jitter.
function seed() {
  const words = new Uint32Array(2);
  if (typeof crypto === "object" && crypto.getRandomValues) crypto.getRandomValues(words);
  else words.forEach((_, i) => (words[i] = Math.random() * 2 ** 32));
  return (words[0] >>> 11) * 2 ** 32 + words[1];
}

// A payload as bytes: a string as UTF-8, a Uint8Array as it is; null for anything else. One
// encoder, made at first use (a mini-program installs its TextEncoder before this runs).
let encoder;
const bytesOf = (p) =>
  typeof p === "string"
    ? (encoder = encoder || new TextEncoder()).encode(p)
    : p instanceof Uint8Array ? p : null;

// The module's scratch buffer (session_api.rs): `put` writes a call's arguments into it,
// each string as UTF-8 and each byte array as it is, one after the other, and returns their
// lengths (-1 for one left out) for the call; `view` is the `n` bytes a getter left there,
// which `readText` decodes and `readBytes` copies out. (mqtt_buf may grow the memory:
// views are made after it, and used before the next call into the module.) Arguments
// the memory cannot hold are a PACKET_TOO_LARGE error, and the module goes on. Text is
// decoded as it is, a leading U+FEFF kept (MQTT-1.5.4-3: a receiver must not strip it).
let decoder;
function put(...values) {
  const parts = values.map((v) => (absent(v) ? null : bytesOf(v)));
  const total = parts.reduce((n, p) => n + (p ? p.length : 0), 0);
  let at = total < 2 ** 32 ? w.mqtt_buf(total) >>> 0 : 0;
  if (!at) throw mqttError("PACKET_TOO_LARGE", `${total} bytes do not fit in the module's memory`);
  const memory = new Uint8Array(w.memory.buffer);
  return parts.map((p) => (p ? (memory.set(p, at), (at += p.length), p.length) : -1));
}
function view(n) {
  const at = w.mqtt_buf(n) >>> 0;
  return new Uint8Array(w.memory.buffer, at, n);
}
const readBytes = (n) => view(n).slice();
const readText = (n) =>
  (decoder = decoder || new TextDecoder("utf-8", { ignoreBOM: true })).decode(view(n));
// The last output's failure: { code, message }, and as an MqttError.
const fault = (s) => ({ code: readText(w.mqtt_code(s)), message: readText(w.mqtt_text(s)) });
function errorOf(s) {
  const { code, message } = fault(s);
  return mqttError(code, message);
}
// The answer to OUT_CREDENTIALS; credentials the module's memory cannot hold fail the
// attempt.
function credentialsTo(session, username, password, error) {
  try {
    w.mqtt_credentials(session, now(), ...put(username, password, error));
  } catch (e) {
    w.mqtt_credentials(session, now(), ...put(undefined, undefined, describe(e)));
  }
}

// The numbers of session_api.rs's `Out` (what a poll or a request gives) and `Input`
// (scripts/mqtt-abi.cjs checks that they match).
const OUT_NONE = 0, OUT_CREDENTIALS = 1, OUT_OPEN = 2, OUT_TRANSMIT = 3, OUT_CLOSE = 4,
  OUT_STATUS = 5, OUT_CONNECTED = 6, OUT_ERROR = 7, OUT_DISCONNECTED = 8, OUT_MESSAGE = 9,
  OUT_DONE = 10, OUT_FAILED = 11, OUT_ACCEPTED = 12;
const IN_CONNECT = 0, IN_DISCONNECT = 1, IN_WAKE = 2, IN_OPENED = 3, IN_TIMEOUT = 4;

// A QoS argument for the session, which judges it: left out is 0; anything that is not a
// small whole number becomes 255, which it refuses.
const qosOf = (q) => (absent(q) ? 0 : Number.isInteger(q) && q >= 0 && q < 256 ? q : 255);

// What a transport delivered, as bytes: an ArrayBuffer, a view of one, or an object with
// either as `data` (wx.onSocketMessage's); null for anything else (or what cannot be read).
function received(v) {
  try {
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    const data = isObject(v) ? v.data : null;
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return received(data);
  } catch (e) {
    // A detached buffer or a throwing getter: not bytes.
  }
  return null;
}

// The option readers: an absent field (undefined or null) is undefined; a field of the
// wrong type is an INVALID_OPTIONS error naming it.
function field(o, path, key) {
  let v;
  try {
    v = o[key];
  } catch (e) {
    throw invalid(`cannot read ${path}${key}: ${describe(e)}`);
  }
  return absent(v) ? undefined : v;
}

function typed(o, path, key, type) {
  const v = field(o, path, key);
  if (v !== undefined && typeof v !== type) {
    throw invalid(`${path}${key} must be a${type === "object" ? "n" : ""} ${type}`);
  }
  return v;
}

function whole(o, path, key, min, max) {
  const v = field(o, path, key);
  if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) {
    throw invalid(`${path}${key} must be a whole number from ${min} to ${max}`);
  }
  return v;
}

function urls(o) {
  const v = field(o, "", "url");
  if (v === undefined) throw invalid("url is required (a URL or a non-empty array of URLs)");
  // Array.from: a hole of a sparse array is an undefined URL, not skipped.
  const list = typeof v === "string" ? [v] : Array.isArray(v) ? Array.from(v) : [];
  // One URL per line to the session; a URL has no line break of its own.
  const url = (u) => typeof u === "string" && u && !u.includes("\n");
  if (!list.length || !list.every(url)) {
    throw invalid("url must be a URL or a non-empty array of URLs");
  }
  return list.join("\n");
}

// The sessions of clients collected without free(), freed (hosts without
// FinalizationRegistry keep them).
const sessions =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry((h) => w.mqtt_free(h))
    : null;

// setTimeout's longest delay: longer reconnect delays would fire at once.
const MAX_DELAY_MS = 2 ** 31 - 1;
const EVENTS = ["status", "message", "connect", "disconnect", "error"];
// An empty list of listeners for each event.
const noListeners = () => Object.fromEntries(EVENTS.map((event) => [event, []]));

/**
 * An MQTT client over WebSocket (or a transport of your own), driven by imcore's session.
 * Types and documentation: mqtt_client.d.ts.
 */
export class MqttClient {
  constructor(options) {
    if (!isObject(options)) {
      throw invalid("new MqttClient(options): options must be an object");
    }
    const o = options;
    const url = urls(o);
    const clientId = typed(o, "", "clientId", "string");
    if (clientId === undefined) throw invalid("clientId is required (a string)");
    const version = whole(o, "", "protocolVersion", 0, 255);
    if (version !== undefined && version !== 4 && version !== 5) {
      throw invalid("protocolVersion must be 4 or 5");
    }
    const keepAlive = whole(o, "", "keepAlive", 0, 65535);
    const clean = typed(o, "", "clean", "boolean");
    const queueLimit = whole(o, "", "offlineQueueLimit", 1, Number.MAX_SAFE_INTEGER);
    const r = typed(o, "", "reconnect", "object") || {};
    const enabled = typed(r, "reconnect.", "enabled", "boolean");
    const initialDelay = whole(r, "reconnect.", "initialDelayMs", 0, MAX_DELAY_MS);
    const maxDelay = whole(r, "reconnect.", "maxDelayMs", 0, MAX_DELAY_MS);
    const will = typed(o, "", "will", "object");
    let willTopic;
    let willPayload = new Uint8Array(0);
    let willQos = 0;
    let willRetain = false;
    if (will) {
      willTopic = typed(will, "will.", "topic", "string");
      if (willTopic === undefined) throw invalid("will.topic is required (a string)");
      const payload = field(will, "will.", "payload");
      if (payload !== undefined && !(willPayload = bytesOf(payload))) {
        throw invalid("will.payload must be a string or a Uint8Array");
      }
      willQos = qosOf(field(will, "will.", "qos"));
      willRetain = typed(will, "will.", "retain", "boolean") || false;
    }
    this._user = typed(o, "", "username", "string");
    this._password = typed(o, "", "password", "string");
    this._credentials = typed(o, "", "credentials", "function");
    this._factory = typed(o, "", "transport", "function");

    if (!w) {
      const load = "await init() (in a mini-program: loadImcore()) first";
      throw mqttError("NOT_LOADED", `the module is not loaded yet: ${load}`);
    }
    // What is left out (undefined: NaN to the module) takes the session's defaults
    // (SessionConfig). The session is a handle, never 0.
    const session = w.mqtt_new(...put(clientId, url, willTopic, willPayload), version === 5,
      keepAlive, clean, queueLimit, enabled, initialDelay, maxDelay, seed(), willQos,
      willRetain);
    // The will's topic and QoS are the session's to judge: a refusal is its first output.
    if (w.mqtt_poll(session) === OUT_FAILED) {
      const message = readText(w.mqtt_text(session));
      w.mqtt_free(session);
      throw invalid(message);
    }
    this._session = session;
    // A client dropped without free() (one no timer, socket or listener holds) gives its
    // session back when it is collected.
    if (sessions) sessions.register(this, session, this);
    this._listeners = noListeners();
    // Pending promises by completion key: [resolve, reject, is a subscribe].
    this._pending = new Map();
    // The number of the newest transport and of the newest credentials request: reports
    // and answers for older ones are ignored.
    this._generation = 0;
    this._attempt = 0;
    this._transport = null;
    this._timer = undefined;
    this._due = 0;
    this._running = false;

    // Reconnect (or check the connection) when the browser is back online or the page
    // becomes visible; a host without a window (a mini-program) calls wake() itself.
    if (typeof window === "object" && window.addEventListener && typeof document === "object") {
      const wake = () => this.wake();
      const visible = () => document.visibilityState === "visible" && this.wake();
      window.addEventListener("online", wake);
      document.addEventListener("visibilitychange", visible);
      this._unlisten = () => {
        window.removeEventListener("online", wake);
        document.removeEventListener("visibilitychange", visible);
      };
    }
  }

  /** Starts connecting (from `idle` or `offline`); does nothing if already under way. */
  connect() {
    this._input(IN_CONNECT);
  }

  /** Ends the connection (DISCONNECT) and stays `idle` until `connect()`. */
  disconnect() {
    this._input(IN_DISCONNECT);
  }

  /** Reconnects at once if waiting to, or checks the connection (an immediate PINGREQ). */
  wake() {
    this._input(IN_WAKE);
  }

  get status() {
    return this._session ? readText(w.mqtt_status(this._session)) : "idle";
  }

  subscribe(filter, qos) {
    if (typeof filter !== "string") {
      return rejected("INVALID_FILTER", "the topic filter must be a string");
    }
    return this._request(true, (s, t) => w.mqtt_subscribe(s, t, ...put(filter), qosOf(qos)));
  }

  unsubscribe(filter) {
    if (typeof filter !== "string") {
      return rejected("INVALID_FILTER", "the topic filter must be a string");
    }
    return this._request(false, (s, t) => w.mqtt_unsubscribe(s, t, ...put(filter)));
  }

  publish(topic, payload, qos, retain) {
    if (typeof topic !== "string") return rejected("INVALID_TOPIC", "the topic must be a string");
    const bytes = bytesOf(payload);
    if (!bytes) {
      return rejected("INVALID_PAYLOAD", "the payload must be a string or a Uint8Array");
    }
    if (!absent(retain) && typeof retain !== "boolean") {
      return rejected("INVALID_ARGUMENT", "retain must be a boolean");
    }
    return this._request(false, (s, t) =>
      w.mqtt_publish(s, t, ...put(topic, bytes), qosOf(qos), !!retain));
  }

  on(event, callback) {
    const listeners = this._listenersOf(event);
    if (typeof callback !== "function") {
      throw mqttError("INVALID_ARGUMENT", "the listener must be a function");
    }
    listeners.push(callback);
  }

  off(event, callback) {
    const listeners = this._listenersOf(event);
    const at = listeners.indexOf(callback);
    if (at >= 0) listeners.splice(at, 1);
  }

  /**
   * Stops for good: DISCONNECT if connected, the transport closed, the timer and the
   * window listeners removed, pending promises rejected (`DISCONNECTED`).
   */
  free() {
    const session = this._session;
    if (!session) return;
    // Nobody hears anything from here on, and nothing new starts.
    this._session = null;
    this._listeners = noListeners();
    if (this._unlisten) this._unlisten();
    clearTimeout(this._timer);
    // The DISCONNECT still goes out. A transport that fails now is closed, and nobody is
    // told: the session and the listeners are gone already.
    w.mqtt_input(session, now(), IN_DISCONNECT);
    for (let out; (out = w.mqtt_poll(session)) !== OUT_NONE; ) {
      if (out === OUT_TRANSMIT) this._send(readBytes(w.mqtt_data(session)));
      if (out === OUT_CLOSE) this._close();
    }
    this._close();
    if (sessions) sessions.unregister(this);
    w.mqtt_free(session);
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const [, reject] of pending) reject(freed());
  }

  _listenersOf(event) {
    if (!EVENTS.includes(event)) {
      throw mqttError("INVALID_ARGUMENT",
        "unknown event: expected 'status', 'message', 'connect', 'disconnect' or 'error'");
    }
    return this._listeners[event];
  }

  // A request of the session: its promise is kept under the completion key the session
  // gave, before the loop runs (a QoS 0 publish completes as soon as it is written).
  _request(subscribe, call) {
    const session = this._session;
    if (!session) return Promise.reject(freed());
    let out;
    try {
      out = call(session, now());
    } catch (e) {
      return Promise.reject(e); // arguments the module's memory cannot hold
    }
    if (out === OUT_FAILED) return Promise.reject(errorOf(session));
    const key = w.mqtt_num(session);
    const promise = new Promise((resolve, reject) => {
      this._pending.set(key, [resolve, reject, subscribe]);
    });
    this._run();
    return promise;
  }

  _input(input) {
    this._step((session) => w.mqtt_input(session, now(), input));
  }

  // One input: `report` tells the session (and may call listeners, which may call back in:
  // their inputs only join the session's outputs), then the loop runs unless it already is.
  _step(report) {
    if (!this._session) return;
    const running = this._running;
    this._running = true;
    try {
      report(this._session);
    } finally {
      this._running = running;
    }
    this._run();
  }

  _emit(event, value) {
    for (const listener of this._listeners[event].slice()) {
      try {
        listener(value);
      } catch (e) {
        console.error("imcore: an MqttClient listener threw", e);
      }
    }
  }

  // The driver loop: every output in order, then the timer for the next deadline.
  _run() {
    if (this._running) return;
    this._running = true;
    let session;
    try {
      for (let out; (session = this._session) && (out = w.mqtt_poll(session)) !== OUT_NONE; ) {
        this._carryOut(session, out);
      }
    } finally {
      this._running = false;
    }
    // One timer, replaced only when the deadline moves earlier: one that fires for a
    // deadline that moved later is a no-op for the session, and the loop arms the next.
    // (OUT_NONE's number is the deadline.)
    const deadline = session ? w.mqtt_num(session) : -1;
    if (deadline < 0) {
      clearTimeout(this._timer);
      this._timer = undefined;
    } else if (!(this._timer !== undefined && this._due <= deadline)) {
      clearTimeout(this._timer);
      this._due = deadline;
      const delay = Math.min(MAX_DELAY_MS, Math.max(0, deadline - now()));
      this._timer = setTimeout(() => {
        this._timer = undefined;
        this._input(IN_TIMEOUT);
      }, delay);
    }
  }

  _carryOut(session, out) {
    switch (out) {
      case OUT_CREDENTIALS:
        return this._askCredentials();
      case OUT_OPEN:
        return this._open(readText(w.mqtt_text(session)));
      case OUT_TRANSMIT:
        return this._send(readBytes(w.mqtt_data(session)));
      case OUT_CLOSE:
        return this._close();
      case OUT_STATUS:
        return this._emit("status", readText(w.mqtt_text(session)));
      case OUT_CONNECTED: {
        const url = readText(w.mqtt_text(session));
        return this._emit("connect", { sessionPresent: w.mqtt_num(session) === 1, url });
      }
      case OUT_ERROR:
        return this._emit("error", fault(session));
      case OUT_DISCONNECTED: {
        const at = w.mqtt_num(session);
        const failure = fault(session);
        if (failure.code) this._emit("error", failure);
        const reconnectAt = at < 0 ? null : Date.now() + Math.max(0, at - now());
        return this._emit("disconnect", { reason: failure.message, reconnectAt });
      }
      case OUT_MESSAGE: {
        const flags = w.mqtt_num(session);
        const topic = readText(w.mqtt_text(session));
        const payload = readBytes(w.mqtt_data(session));
        const message = { topic, payload, qos: flags & 3, retain: flags > 3 };
        return this._emit("message", message);
      }
      case OUT_DONE:
      case OUT_FAILED: {
        const key = w.mqtt_num(session);
        const pending = this._pending.get(key);
        if (!pending) return;
        this._pending.delete(key);
        const [resolve, reject, subscribe] = pending;
        if (out === OUT_FAILED) return reject(errorOf(session));
        return resolve(subscribe ? [...view(w.mqtt_data(session))] : undefined);
      }
    }
  }

  // Credentials for the next attempt: the `credentials` callback's (fields it leaves out
  // fall back to username / password), or those two as they are.
  _askCredentials() {
    const attempt = ++this._attempt;
    const answer = (username, password, error) => {
      if (attempt === this._attempt) {
        this._step((session) => credentialsTo(session, username, password, error));
      }
    };
    const callback = this._credentials;
    if (!callback) return credentialsTo(this._session, this._user, this._password);
    let result;
    try {
      result = callback(); // as a plain function: `this` is not the client
    } catch (e) {
      return answer(undefined, undefined, `credentials() threw: ${describe(e)}`);
    }
    Promise.resolve(result).then(
      (v) => {
        if (absent(v)) return answer(this._user, this._password);
        if (!isObject(v)) {
          const why = "credentials() must resolve to { username?, password? }";
          return answer(undefined, undefined, why);
        }
        let username, password;
        try {
          [username, password] = [v.username, v.password];
        } catch (e) {
          return answer(undefined, undefined, describe(e));
        }
        for (const [key, value] of [["username", username], ["password", password]]) {
          if (!absent(value) && typeof value !== "string") {
            return answer(undefined, undefined, `credentials(): ${key} must be a string`);
          }
        }
        answer(absent(username) ? this._user : username,
          absent(password) ? this._password : password);
      },
      (e) => answer(undefined, undefined, `credentials() rejected: ${describe(e)}`),
    );
  }

  // A transport that failed: it is closed, the session hears of it, then the `error` event
  // goes out (before the session's own events of the loss, which the loop gives).
  _fail(why) {
    this._close();
    if (this._session) w.mqtt_closed(this._session, now(), ...put(why));
    this._emit("error", { code: "TRANSPORT", message: why });
  }

  // Opens transport number generation + 1: the browser WebSocket (subprotocol "mqtt",
  // binary frames as ArrayBuffer) or what the `transport` factory makes. Its reports count
  // only while it is the current one.
  _open(url) {
    this._close();
    const generation = ++this._generation;
    const ws = !this._factory;
    const mine = (report) => (value) => {
      if (generation === this._generation && this._transport) this._step(() => report(value));
    };
    const factory = this._factory;
    let t;
    try {
      if (ws) {
        t = new WebSocket(url, ["mqtt"]);
        t.binaryType = "arraybuffer";
      } else {
        t = factory(url, ["mqtt"]); // as a plain function: `this` is not the client
      }
    } catch (e) {
      const why = ws ? `cannot open a WebSocket to ${url}` : "the transport factory threw";
      return this._failOpen(generation, `${why}: ${describe(e)}`);
    }
    if (!ws) {
      if (!isObject(t)) {
        return this._failOpen(generation, "the transport factory did not return an object");
      }
      for (const method of ["send", "close"]) {
        let f;
        try {
          f = t[method];
        } catch (e) {
          // A throwing getter: no method.
        }
        if (typeof f !== "function") {
          return this._failOpen(generation, `the transport object has no ${method}() method`);
        }
      }
    }
    try {
      t.onopen = mine(() => w.mqtt_input(this._session, now(), IN_OPENED));
      t.onmessage = mine((m) => {
        const data = ws ? m.data : m;
        const bytes = ws && !(data instanceof ArrayBuffer) ? null : received(data);
        if (bytes) {
          try {
            w.mqtt_bytes(this._session, now(), ...put(bytes));
          } catch (e) {
            // Bytes the module's memory cannot hold: the stream cannot go on without them.
            this._fail(`the transport delivered ${bytes.length} bytes: ${describe(e)}`);
          }
        } else this._fail(ws
          ? "the broker sent a text WebSocket frame; MQTT needs binary frames"
          : "the transport delivered something other than an ArrayBuffer");
      });
      t.onclose = mine((e) => {
        const why = !ws ? `transport closed: ${describe(e)}`
          : e.code ? `WebSocket closed (code ${e.code}${e.reason ? `: ${e.reason}` : ""})`
            : "WebSocket closed";
        this._close();
        w.mqtt_closed(this._session, now(), ...put(why));
      });
      // A WebSocket's error is followed by its close, which reports it.
      t.onerror = ws ? null : mine((e) => this._fail(`transport error: ${describe(e)}`));
    } catch (e) {
      this._unhook(t);
      const why = `cannot set the handlers of the transport object: ${describe(e)}`;
      return this._failOpen(generation, why);
    }
    // A factory that called free() (or a transport that reported at once) made it stale.
    if (generation === this._generation && this._session) this._transport = t;
    else this._unhook(t);
  }

  // A transport that could not be opened, if it is still the one wanted.
  _failOpen(generation, why) {
    if (generation === this._generation) this._fail(why);
  }

  _send(bytes) {
    const t = this._transport;
    if (!t) return;
    try {
      t.send(this._factory ? bytes.buffer : bytes);
    } catch (e) {
      this._fail(`${this._factory ? "transport" : "WebSocket"} send failed: ${describe(e)}`);
    }
  }

  // Detaches and closes the current transport; whatever it reports later is ignored.
  _close() {
    this._generation++;
    const t = this._transport;
    this._transport = null;
    if (t) this._unhook(t);
  }

  // Unhooks (each handler on its own: a frozen object refuses them) and closes.
  _unhook(t) {
    for (const handler of ["onopen", "onmessage", "onclose", "onerror"]) {
      try {
        t[handler] = null;
      } catch (e) {
        // Its reports are ignored anyway: the generation moved on.
      }
    }
    try {
      t.close();
    } catch (e) {
      console.warn("imcore: transport close() threw", e);
    }
  }
}

// `using client = new MqttClient(…)` frees it at the end of the block, as wasm-bindgen's
// classes do.
if (typeof Symbol.dispose === "symbol") {
  MqttClient.prototype[Symbol.dispose] = MqttClient.prototype.free;
}

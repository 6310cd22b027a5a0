// The MqttClient class of `imcore/mqtt` (src/web/mqtt_client.js, shipped as
// pkg/mqtt/imcore.js) in Node over the release module, with scripted transports: the
// failure, re-entrancy and free() paths a real broker does not produce on demand. (The
// broker paths are tests/browser/mqtt.test.mjs's, in Chromium against Mosquitto.)
//
// Run by `make test` after the release build: node --test tests/mqtt-shell/ (PKG_DIR, default
// pkg/).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { before, test } from "node:test";

const pkg = resolve(process.env.PKG_DIR || "pkg");
let MqttClient;

before(async () => {
  const entry = await import(`${pkg}/mqtt/imcore.js`);
  entry.initSync({ module: readFileSync(`${pkg}/mqtt/imcore_bg.wasm`) });
  MqttClient = entry.MqttClient;
});

const tick = () => new Promise((r) => setTimeout(r, 0));

/** A transport factory whose transports the test drives; `made` lists them. */
function scripted(extra = {}) {
  const made = [];
  const factory = function (url, protocols) {
    const t = {
      url,
      protocols,
      sent: [],
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
      send(data) {
        if (extra.sendThrows) throw new Error("send refused");
        this.sent.push(new Uint8Array(data));
      },
      close() {
        entry.closed = true;
      },
    };
    const entry = { t, self: this, closed: false };
    made.push(entry);
    return extra.wrap ? extra.wrap(t) : t;
  };
  return { factory, made };
}

function client(options, log = []) {
  const c = new MqttClient({ url: "ws://127.0.0.1:9/mqtt", clientId: "shell", ...options });
  for (const event of ["status", "error", "disconnect", "connect"]) {
    c.on(event, (v) => log.push([event, event === "status" ? v : v.code || v.reason || v.url]));
  }
  return c;
}

test("a transport that fails, with an error listener that reconnects: the new attempt lives", async () => {
  const { factory, made } = scripted();
  const log = [];
  const c = client({ transport: factory, reconnect: { initialDelayMs: 600_000 } }, log);
  let reconnected = false;
  c.on("error", () => {
    if (!reconnected) {
      reconnected = true;
      c.disconnect();
      c.connect();
    }
  });
  c.connect();
  await tick();
  assert.equal(made.length, 1);
  made[0].t.onerror("boom");
  await tick();
  assert.equal(made.length, 2, "a second transport for the new attempt");
  assert.ok(made[0].closed, "the failed one closed");
  assert.ok(!made[1].closed, "the new one still open");
  assert.equal(made[0].self, undefined, "the factory is called as a plain function");
  assert.equal(c.status, "connecting");
  assert.deepEqual(log[0 + log.findIndex(([e]) => e === "error")], ["error", "TRANSPORT"]);
  c.free();
});

test("free(): a send that fails while freeing tells nobody; pending promises reject", async () => {
  const { factory, made } = scripted({ sendThrows: true });
  const log = [];
  const c = client({ transport: factory }, log);
  c.connect();
  await tick();
  const pending = c.publish("a/b", "x", 1);
  const before = log.length;
  c.free();
  assert.equal(log.length, before, "no event after free()");
  await assert.rejects(pending, { name: "MqttError", code: "DISCONNECTED" });
  assert.ok(made[0].closed);
  assert.equal(c.status, "idle");
  await assert.rejects(c.publish("a/b", "x"), { code: "DISCONNECTED" });
});

test("hostile transport objects are TRANSPORT errors, never exceptions out of connect()", async () => {
  const getter = scripted({
    wrap: (t) =>
      Object.defineProperty(t, "send", {
        get() {
          throw new Error("no");
        },
      }),
  });
  const log = [];
  const c = client({ transport: getter.factory, reconnect: { initialDelayMs: 600_000 } }, log);
  c.connect();
  await tick();
  assert.deepEqual(log.filter(([e]) => e === "error"), [["error", "TRANSPORT"]]);
  assert.equal(c.status, "reconnecting");
  c.free();

  const frozen = scripted({ wrap: (t) => Object.freeze(t) });
  const log2 = [];
  const c2 = client({ transport: frozen.factory, reconnect: { initialDelayMs: 600_000 } }, log2);
  c2.connect();
  await tick();
  assert.deepEqual(log2.filter(([e]) => e === "error"), [["error", "TRANSPORT"]]);
  assert.ok(frozen.made[0].closed, "a frozen transport is closed all the same");
  c2.free();
});

test("bytes that cannot be read (a detached buffer) fail the transport, not the caller", async () => {
  const { factory, made } = scripted();
  const log = [];
  const c = client({ transport: factory, reconnect: { initialDelayMs: 600_000 } }, log);
  c.connect();
  await tick();
  made[0].t.onopen();
  const buffer = new ArrayBuffer(4);
  structuredClone(buffer, { transfer: [buffer] }); // detaches it
  assert.doesNotThrow(() => made[0].t.onmessage(buffer));
  assert.deepEqual(log.filter(([e]) => e === "error"), [["error", "TRANSPORT"]]);
  c.free();
});

test("credentials() is called as a plain function; status is live inside a listener", async () => {
  const { factory } = scripted();
  let credentialsThis = "unset";
  const c = client({
    transport: factory,
    credentials() {
      credentialsThis = this;
      return Promise.resolve({ username: "u" });
    },
  });
  let inside;
  c.on("status", (s) => {
    if (s === "connecting" && inside === undefined) {
      c.disconnect();
      inside = c.status;
    }
  });
  c.connect();
  await tick();
  await tick();
  assert.equal(credentialsThis, undefined);
  assert.equal(inside, "idle", "the status as it is now, not the last one told");
  c.free();
});

test("options: a sparse url array and wrong types are INVALID_OPTIONS", () => {
  // eslint-disable-next-line no-sparse-arrays
  const sparse = [, "ws://127.0.0.1:9/mqtt"];
  assert.throws(() => new MqttClient({ url: sparse, clientId: "x" }), { code: "INVALID_OPTIONS" });
  assert.throws(() => new MqttClient({ url: "ws://a", clientId: 1 }), { code: "INVALID_OPTIONS" });
  assert.throws(() => new MqttClient({ url: "ws://a", clientId: "x", keepAlive: 1.5 }), {
    code: "INVALID_OPTIONS",
  });
  assert.throws(() => new MqttClient({ url: "ws://a", clientId: "x", will: { topic: "a/#" } }), {
    code: "INVALID_OPTIONS",
    message: /not a valid topic name/,
  });
});

test("the loader: a client before it is NOT_LOADED; a second init() or initSync() is the first's", async () => {
  const fresh = await import(`${pkg}/mqtt/imcore.js?fresh`);
  assert.throws(() => new fresh.MqttClient({ url: "ws://a", clientId: "x" }), {
    name: "MqttError",
    code: "NOT_LOADED",
  });
  const loaded = fresh.initSync({ module: readFileSync(`${pkg}/mqtt/imcore_bg.wasm`) });
  assert.equal(fresh.initSync(undefined), loaded, "initSync once loaded");
  assert.equal(await fresh.default("not a URL"), loaded, "init once loaded");
  new fresh.MqttClient({ url: "ws://a", clientId: "x" }).free();
});

/** A client connected over a scripted transport (CONNACK delivered). */
async function connected(log) {
  const { factory, made } = scripted();
  const c = client({ transport: factory }, log);
  c.connect();
  await tick();
  made[0].t.onopen();
  made[0].t.onmessage(new Uint8Array([0x20, 2, 0, 0]).buffer);
  assert.equal(c.status, "connected");
  return { c, t: made[0].t };
}

test("a topic that starts with U+FEFF arrives with it (MQTT-1.5.4-3: not stripped)", async () => {
  const { c, t } = await connected();
  const messages = [];
  c.on("message", (m) => messages.push(m));
  // PUBLISH, QoS 0: topic "\uFEFFa/b" (EF BB BF 61 2F 62), payload "x".
  t.onmessage(new Uint8Array([0x30, 9, 0, 6, 0xef, 0xbb, 0xbf, 0x61, 0x2f, 0x62, 0x78]).buffer);
  assert.deepEqual(messages.map((m) => [m.topic, [...m.payload]]), [["\uFEFFa/b", [0x78]]]);
  c.free();
});

test("a payload the module's memory cannot hold is PACKET_TOO_LARGE, and the client goes on", async () => {
  const { c, t } = await connected();
  await assert.rejects(c.publish("a/b", new Uint8Array(2 ** 31)), { code: "PACKET_TOO_LARGE" });
  const sent = t.sent.length;
  await c.publish("a/b", "small", 0);
  assert.equal(t.sent.length, sent + 1, "the next publish is written");
  c.free();
});

test("received bytes the module's memory cannot hold fail the transport, not the caller", async () => {
  const log = [];
  const { c, t } = await connected(log);
  t.onmessage(new Uint8Array(2 ** 31).buffer);
  assert.notEqual(c.status, "connected", "the stream cannot go on without those bytes");
  assert.ok(log.some(([e, v]) => e === "error" && v === "TRANSPORT"), JSON.stringify(log));
  c.free();
});

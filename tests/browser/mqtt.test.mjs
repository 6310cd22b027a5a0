// Acceptance tests of the MQTT-only entry (`imcore/mqtt`: pkg/mqtt/, the crate built without
// its `chat` feature) through its public JS API: headless Chromium (playwright-core driving
// Debian's /usr/bin/chromium) and the real broker of tools/broker-control.mjs. One page
// (tests/browser/mqtt.html) holds every client; the tests run in order.
//
// scripts/test-browser.sh runs this file twice: against Mosquitto 2.0, then against a
// RabbitMQ 3.10 node (IMCORE_BROKER=rabbitmq), which speaks MQTT 3.1.1 only: there the
// 5.0 variants give way to a test of the fall back from 5.0 to 3.1.1.
//
// Run by scripts/test-browser.sh (see tests/browser/chat.test.mjs for the environment).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { closedPort, launchBrowser } from "../chromium.mjs";
import { CONTROL, control } from "./control.mjs";

const BASE = process.env.IMCORE_TEST_BASE_URL;
const WAIT_MS = 15_000;
const RUN = Math.floor(Math.random() * 2 ** 32).toString(16);
const RABBIT = process.env.IMCORE_BROKER === "rabbitmq";
const VERSIONS = RABBIT ? [4] : [4, 5];
// A broker URL where nothing listens (connecting is refused at once), set in before().
let DEAD_URL;

let closeBrowser;
let browser;
let page;
let brokerUrl;

const log = (msg) => process.stderr.write(`${msg}\n`);

const evalIn = (fn, arg) => page.evaluate(fn, arg);

/** Waits until `fn(arg)` is truthy in the page; on timeout says what and shows the logs. */
async function until(what, fn, arg, ms = WAIT_MS) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
    return await handle.jsonValue();
  } catch (e) {
    let logs = "";
    try {
      logs = await evalIn(() =>
        JSON.stringify(
          Object.fromEntries(
            Object.entries(window.logs).map(([k, l]) => [
              k,
              { statuses: l.statuses, errors: l.errors, disconnects: l.disconnects, messages: l.messages.length },
            ]),
          ),
        ),
      );
    } catch {}
    throw new Error(`timed out waiting for ${what}\n  logs: ${logs}\n  (${e.message.split("\n")[0]})`);
  }
}

function options(clientId, extra = {}) {
  return {
    url: brokerUrl,
    clientId: `${clientId}-${RUN}`,
    keepAlive: 30,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
    ...extra,
  };
}

const make = (name, o, flags = {}) => evalIn(([n, o, f]) => window.make(n, o, f), [name, o, flags]);

async function connected(name) {
  await evalIn((n) => window.clients[n].connect(), name);
  await until(`${name} connected`, (n) => window.clients[n].status === "connected", name);
}

/** Subscribes `name` to `filter` at QoS 1; returns the granted QoS list. */
const subscribe = (name, filter) =>
  evalIn(async ([n, f]) => Array.from(await window.clients[n].subscribe(f, 1)), [name, filter]);

/** Publishes at QoS 1 and waits for the PUBACK. */
const publish = (name, topic, payload) =>
  evalIn(async ([n, t, p]) => {
    await window.clients[n].publish(t, p, 1);
  }, [name, topic, payload]);

const received = (name, text) => evalIn(([n, t]) => window.logs[n].messages.some((m) => m.text === t), [name, text]);

before(async () => {
  assert.ok(CONTROL && BASE, "run through scripts/test-browser.sh (IMCORE_BROKER_CONTROL, IMCORE_TEST_BASE_URL)");
  brokerUrl = (await control("/info", "GET")).ws_url;
  DEAD_URL = `ws://127.0.0.1:${await closedPort()}/mqtt`;
  ({ browser, close: closeBrowser } = await launchBrowser());
  page = await (await browser.newContext()).newPage();
  page.on("console", (m) => {
    // Connection refused is expected while the test has the broker down.
    if ((m.type() === "error" || m.type() === "warning") && !m.text().includes("ERR_CONNECTION_REFUSED")) {
      log(`  [page] console.${m.type()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => log(`  [page] pageerror: ${e.stack || e}`));
  await page.goto(`${BASE}/mqtt.html`);
  await page.waitForFunction(() => window.ready || window.loadError, null, { timeout: 60_000 });
  const error = await evalIn(() => window.loadError);
  if (error) throw new Error(`imcore/mqtt did not load: ${error}`);
});

after(async () => {
  await closeBrowser?.();
});

test("the entry exports MqttClient and the loaders, nothing of the chat", async () => {
  assert.deepEqual(await evalIn(() => window.entry), ["MqttClient", "default", "initSync"]);
  // The module imports nothing (the codec and the session need no JS), and the entry, the
  // class that loads it, reaches no IndexedDB, web storage or tab channel.
  const { imports, entry } = await evalIn(async () => {
    const bytes = await (await fetch("/pkg/mqtt/imcore_bg.wasm")).arrayBuffer();
    return {
      imports: WebAssembly.Module.imports(new WebAssembly.Module(bytes)),
      entry: await (await fetch("/pkg/mqtt/imcore.js")).text(),
    };
  });
  assert.deepEqual(imports, [], "the MQTT-only module's imports");
  const chatty = entry.match(/indexedDB|\bIDB[A-Z]\w*|localStorage|sessionStorage|BroadcastChannel/g) || [];
  assert.deepEqual(chatty, [], "the chat layer in the MQTT-only entry");
});

test("bad input is a typed MqttError: thrown by the constructor, rejected by the promises; free() rejects what is pending", async () => {
  const got = await evalIn(async ([dead]) => {
    const { MqttClient } = window.entryModule;
    const thrown = (o) => {
      try {
        new MqttClient(o);
        return "none";
      } catch (e) {
        return `${e instanceof Error && e.name}:${e.code}`;
      }
    };
    const codeOf = (p) => p.then(() => "resolved", (e) => `${e instanceof Error && e.name}:${e.code}`);
    const out = {
      noUrl: thrown({ clientId: "x" }),
      willQos: thrown({ url: dead, clientId: "x", will: { topic: "a/b", qos: 3 } }),
      willTopic: thrown({ url: dead, clientId: "x", will: { topic: "a/+" } }),
      keepAlive: thrown({ url: dead, clientId: "x", keepAlive: 70000 }),
      notObject: thrown(5),
    };
    const client = new MqttClient({ url: dead, clientId: "x", offlineQueueLimit: 1 });
    out.wildcard = await codeOf(client.publish("a/+", "x"));
    out.qos = await codeOf(client.publish("a", "x", 7));
    out.payload = await codeOf(client.publish("a", 1));
    out.retain = await codeOf(client.publish("a", "x", 0, "yes"));
    out.filter = await codeOf(client.subscribe("a/#/b"));
    out.subscribeQos = await codeOf(client.subscribe("a", 1.5));
    try {
      client.on("nope", () => {});
      out.on = "none";
    } catch (e) {
      out.on = e.code;
    }
    // Idle: the first publish waits in the queue, the second finds it full.
    const queued = codeOf(client.publish("a", "1", 1));
    out.full = await codeOf(client.publish("a", "2", 1));
    client.free();
    out.freed = await queued;
    out.afterFree = await codeOf(client.publish("a", "3", 1));
    out.status = client.status;
    return out;
  }, [DEAD_URL]);
  assert.deepEqual(got, {
    noUrl: "MqttError:INVALID_OPTIONS",
    willQos: "MqttError:INVALID_OPTIONS",
    willTopic: "MqttError:INVALID_OPTIONS",
    keepAlive: "MqttError:INVALID_OPTIONS",
    notObject: "MqttError:INVALID_OPTIONS",
    wildcard: "MqttError:INVALID_TOPIC",
    qos: "MqttError:INVALID_QOS",
    payload: "MqttError:INVALID_PAYLOAD",
    retain: "MqttError:INVALID_ARGUMENT",
    filter: "MqttError:INVALID_FILTER",
    subscribeQos: "MqttError:INVALID_QOS",
    on: "INVALID_ARGUMENT",
    full: "MqttError:QUEUE_FULL",
    freed: "MqttError:DISCONNECTED",
    afterFree: "MqttError:DISCONNECTED",
    status: "idle",
  });
});

test("while waiting to reconnect, the browser's online event, the page becoming visible and wake() start the next attempt at once", async () => {
  // Full jitter over [0, 10 min]: the wait is practically never under the test's seconds.
  await evalIn(([o]) => {
    window.wakeAttempts = 0;
    window.make("wake", {
      ...o,
      reconnect: { initialDelayMs: 600_000, maxDelayMs: 600_000 },
      credentials: async () => {
        window.wakeAttempts++;
      },
    });
    window.wakeAt = [];
    window.clients.wake.on("disconnect", (d) => window.wakeAt.push(d.reconnectAt));
    window.clients.wake.connect();
  }, [options("wake", { url: DEAD_URL })]);
  const waiting = (n) =>
    until(`attempt ${n} to fail`, (k) => window.wakeAttempts === k && window.clients.wake.status === "reconnecting", n);
  await waiting(1);
  const next = await evalIn(() => window.wakeAt[0]);
  assert.equal(typeof next, "number");
  assert.ok(next >= Date.now() - 60_000, "reconnectAt is a Date.now() time");
  await evalIn(() => window.dispatchEvent(new Event("online")));
  await waiting(2);
  assert.equal(await evalIn(() => document.visibilityState), "visible");
  await evalIn(() => document.dispatchEvent(new Event("visibilitychange")));
  await waiting(3);
  await evalIn(() => window.clients.wake.wake());
  await waiting(4);
  // A refused connection is an ordinary loss of the link, not an `error`.
  assert.deepEqual(await evalIn(() => window.logs.wake.errors), []);
  await evalIn(() => window.clients.wake.free());
});

for (const version of VERSIONS) {
  test(`QoS 1 round trip, MQTT ${version === 4 ? "3.1.1" : "5.0"}`, async () => {
    const topic = `imcore/mqtt-entry/${RUN}/round-trip/${version}`;
    const sub = `sub-${version}`;
    const pub = `pub-${version}`;
    assert.equal(await make(sub, options(sub, { protocolVersion: version })), "idle");
    await make(pub, options(pub, { protocolVersion: version }));
    await connected(sub);
    assert.deepEqual(await subscribe(sub, topic), [1], "granted QoS");
    await connected(pub);
    await publish(pub, topic, "hello over QoS 1");
    await until("the message at the subscriber", ([n]) => window.logs[n].messages.length >= 1, [sub]);
    const got = await evalIn(([n]) => ({ ...window.logs[n] }), [sub]);
    assert.deepEqual(got.messages, [{ topic, text: "hello over QoS 1", qos: 1 }]);
    assert.deepEqual(got.statuses, ["fetching-config", "connecting", "connected"], "status sequence");
    assert.deepEqual(got.errors, []);
    await evalIn(([a, b]) => {
      window.clients[a].disconnect();
      window.clients[b].disconnect();
    }, [sub, pub]);
    assert.equal(await evalIn((n) => window.clients[n].status, sub), "idle");
  });
}

for (const version of VERSIONS) {
  test(`QoS 0 round trip, MQTT ${version === 4 ? "3.1.1" : "5.0"}`, async () => {
    const topic = `imcore/mqtt-entry/${RUN}/qos0/${version}`;
    const [sub, pub] = [`q0-sub-${version}`, `q0-pub-${version}`];
    await make(sub, options(sub, { protocolVersion: version }));
    await make(pub, options(pub, { protocolVersion: version }));
    await connected(sub);
    assert.deepEqual(await evalIn(async ([n, t]) => Array.from(await window.clients[n].subscribe(t, 0)), [sub, topic]), [0]);
    await connected(pub);
    // QoS 0 resolves once written; the message may be the only one in flight.
    await evalIn(async ([n, t]) => window.clients[n].publish(t, "at most once", 0), [pub, topic]);
    await until("the QoS 0 message", ([n]) => window.logs[n].messages.length >= 1, [sub]);
    assert.deepEqual(await evalIn(([n]) => window.logs[n].messages, [sub]), [{ topic, text: "at most once", qos: 0 }]);
    await evalIn(([a, b]) => {
      window.clients[a].disconnect();
      window.clients[b].disconnect();
    }, [sub, pub]);
  });
}

test("a persistent session: what was published while the subscriber was away arrives when it is back", async () => {
  const topic = `imcore/mqtt-entry/${RUN}/persistent`;
  await make("away", options("away", { clean: false }));
  await make("sender", options("sender"));
  await connected("away");
  assert.deepEqual(await subscribe("away", topic), [1]);
  await evalIn(() => window.clients.away.disconnect());
  await connected("sender");
  for (const text of ["while away 1", "while away 2", "while away 3"]) await publish("sender", topic, text);
  await connected("away");
  await until("the three messages", () => window.logs.away.messages.length >= 3);
  const got = await evalIn(() => ({ ...window.logs.away }));
  assert.deepEqual(got.sessions, [false, true], "the broker resumed the session");
  assert.deepEqual(got.messages.map((m) => m.text), ["while away 1", "while away 2", "while away 3"]);
  await evalIn(() => {
    window.clients.away.disconnect();
    window.clients.sender.disconnect();
  });
});

test("several URLs: a broker that refuses the connection is skipped, the next one takes it", async () => {
  const topic = `imcore/mqtt-entry/${RUN}/failover`;
  await make("failover", options("failover", { url: [DEAD_URL, brokerUrl] }));
  await connected("failover");
  const log1 = await evalIn(() => ({ ...window.logs.failover }));
  assert.deepEqual(log1.connects, [brokerUrl], "connected to the second URL");
  assert.equal(log1.disconnects.length, 1, "one refused attempt before");
  assert.deepEqual(await subscribe("failover", topic), [1]);
  await publish("failover", topic, "over the second broker");
  await until("the message", ([t]) => window.logs.failover.messages.some((m) => m.text === t), ["over the second broker"]);
  await evalIn(() => window.clients.failover.disconnect());
});

if (RABBIT) {
  test("asked for MQTT 5.0, RabbitMQ 3.10 hangs up: one PROTOCOL_FALLBACK, then 3.1.1 works", async () => {
    const topic = `imcore/mqtt-entry/${RUN}/fallback`;
    await make("fallback", options("fallback", { protocolVersion: 5 }));
    await connected("fallback");
    assert.deepEqual(await subscribe("fallback", topic), [1]);
    await publish("fallback", topic, "over 3.1.1");
    await until("the message", ([t]) => window.logs.fallback.messages.some((m) => m.text === t), ["over 3.1.1"]);
    const got = await evalIn(() => ({ ...window.logs.fallback }));
    // (The hang-up may also show as a TRANSPORT error, as a WebSocket closed abnormally does.)
    assert.deepEqual(got.errors.filter((e) => e !== "TRANSPORT"), ["PROTOCOL_FALLBACK"], "said once, not looped");
    assert.equal(got.disconnects.length, 1, "one attempt in 5.0");
    assert.deepEqual(got.connects, [brokerUrl], "the same broker, in 3.1.1");
    await evalIn(() => window.clients.fallback.disconnect());
  });
}

test("reconnects by itself after the broker restarts, asking for fresh credentials", async () => {
  const topic = `imcore/mqtt-entry/${RUN}/restart`;
  await evalIn(() => {
    window.credentialCalls = 0;
  });
  // `credentials` is a function: made in the page.
  await evalIn(([o]) => {
    window.make("restart", {
      ...o,
      credentials: async () => {
        window.credentialCalls++;
        return { username: "web-test", password: "web-test" };
      },
    });
  }, [options("restart")]);
  await connected("restart");
  assert.deepEqual(await subscribe("restart", topic), [1]);
  await publish("restart", topic, "before the restart");
  await until("the message before the restart", ([t]) => window.logs.restart.messages.some((m) => m.text === t), [
    "before the restart",
  ]);
  assert.equal(await evalIn(() => window.credentialCalls), 1);

  const mark = await evalIn(() => window.logs.restart.statuses.length);
  await control("/restart");
  await until(
    "reconnecting, then connected again",
    (m) => {
      const after = window.logs.restart.statuses.slice(m);
      const i = after.indexOf("reconnecting");
      return i >= 0 && after.slice(i).includes("connected") && window.clients.restart.status === "connected";
    },
    mark,
    30_000,
  );
  assert.ok((await evalIn(() => window.credentialCalls)) >= 2, "credentials() before every attempt");
  // Mosquitto runs without persistence: the session renewed the subscription (RabbitMQ's
  // durable queue kept it).
  await publish("restart", topic, "after the restart");
  await until("the message after the restart", ([t]) => window.logs.restart.messages.some((m) => m.text === t), [
    "after the restart",
  ]);
  assert.ok(await received("restart", "before the restart"));
  await evalIn(() => window.clients.restart.disconnect());
});

for (const version of VERSIONS) {
  test(`1,000 QoS 1 publishes written to a frozen broker are ${
    RABBIT ? "sent again after the reconnect" : "replayed with DUP"
  } and all arrive, MQTT ${version === 4 ? "3.1.1" : "5.0"}`, async () => {
    const N = 1000;
    const topic = `imcore/mqtt-entry/${RUN}/replay/${version}`;
    const sub = `replay-sub-${version}`;
    const pub = `replay-pub-${version}`;
    // The subscriber outlives the freeze (keepalive 60 s); the publisher declares the
    // frozen connection dead within 1.5 keepalives (3 s) and reconnects.
    await make(sub, options(sub, { protocolVersion: version, keepAlive: 60 }));
    await make(pub, options(pub, { protocolVersion: version, keepAlive: 2 }), { spy: true });
    await connected(sub);
    assert.deepEqual(await subscribe(sub, topic), [1]);
    await connected(pub);

    await control("/freeze");
    let thawed = false;
    try {
      await evalIn(([n, t, count]) => {
        window.acked = 0;
        window.rejected = [];
        for (let i = 0; i < count; i++) {
          window.clients[n].publish(t, `${i}`, 1).then(
            () => window.acked++,
            (e) => window.rejected.push(String(e && e.code)),
          );
        }
      }, [pub, topic, N]);
      await until("the publisher to find the frozen connection dead", (n) => window.logs[n].statuses.includes("reconnecting"), pub);
      assert.equal(await evalIn(() => window.acked), 0, "nothing acknowledged while frozen");
      await control("/thaw");
      thawed = true;
    } finally {
      if (!thawed) await control("/thaw");
    }

    await until("every publish acknowledged", ([count]) => window.acked + window.rejected.length >= count, [N], 60_000);
    assert.deepEqual(await evalIn(() => window.rejected), [], "rejected publishes");
    await until(
      "every message at the subscriber",
      ([n, count]) => new Set(window.logs[n].messages.map((m) => m.text)).size >= count,
      [sub, N],
      60_000,
    );
    const { distinct, qos } = await evalIn(([n]) => {
      const m = window.logs[n].messages;
      return { distinct: [...new Set(m.map((x) => x.text))].sort((a, b) => a - b), qos: [...new Set(m.map((x) => x.qos))] };
    }, [sub]);
    assert.deepEqual(distinct, Array.from({ length: N }, (_, i) => `${i}`));
    assert.deepEqual(qos, [1]);

    // What went over the wire: PUBLISH is packet type 3.
    const wire = await evalIn((n) => window.wire[n], pub);
    const publishes = (c) => c.filter((p) => p.type === 3);
    const first = publishes(wire[0]);
    assert.ok(first.length > 0 && first.every((p) => !p.dup && p.qos === 1), "first sends: QoS 1, no DUP");
    if (version === 4) assert.equal(first.length, N, "3.1.1: all written before the link died");
    const later = wire.slice(1).flatMap(publishes);
    // Whether the broker resumed the publisher's session when it came back.
    const resumed = (await evalIn((n) => window.logs[n].sessions, pub)).slice(1);
    if (RABBIT) {
      // RabbitMQ 3.10 keeps a session only as a client's subscription queue: a publisher
      // that never subscribed comes back to none (CONNACK session present 0), and then the
      // session sends what was unacknowledged again as new publishes (DUP only marks a
      // redelivery within a resumed session).
      assert.ok(resumed.length > 0 && resumed.every((p) => p === false), `RabbitMQ kept no publisher session: ${resumed}`);
      assert.equal(later.filter((p) => p.dup).length, 0, "no DUP on a fresh session");
      assert.equal(later.length, N, "every unacknowledged publish sent again, once");
      log(`  MQTT ${version}: ${first.length} written to the frozen broker, sent again as new over ${wire.length - 1} later connection(s)`);
    } else {
      assert.ok(resumed.length > 0 && resumed.every((p) => p === true), `Mosquitto resumed the session: ${resumed}`);
      assert.equal(later.filter((p) => p.dup).length, first.length, "every unacknowledged publish resent with DUP");
      assert.equal(later.length, N, "the others sent once after the reconnect");
      log(`  MQTT ${version}: ${first.length} written to the frozen broker, resent with DUP over ${wire.length - 1} later connection(s)`);
    }

    await evalIn(([a, b]) => {
      window.clients[a].disconnect();
      window.clients[b].disconnect();
    }, [sub, pub]);
  });
}

// End-to-end security, against the broker directly: MQTT over WebSocket from Node (the
// `mqtt` package) with credentials from the server's GET /mqtt/conn-config. Run on Mosquitto
// (the server owns its password and ACL files) and on the RabbitMQ cluster (the server
// answers its HTTP auth calls); the brokers refuse differently (Mosquitto may grant a denied
// SUBACK and drop what would match it; RabbitMQ closes the connection), so the tests check
// what matters: nothing forbidden gets through.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import mqtt from "mqtt";
import { BROKER, checkEnv, connConfig, http, login, resetBackend, waitFor, WS_URL } from "./support.mjs";

let clients = [];

beforeEach(async () => {
  checkEnv();
  assert.ok(WS_URL, "WS_URL of the stack");
  await resetBackend();
});
afterEach(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  clients = [];
});

/** A clean-session MQTT 3.1.1 client as `cfg`'s user; every message it gets is in `.got`. */
async function connect(cfg, password = cfg.password) {
  const client = await mqtt.connectAsync(WS_URL, {
    clientId: `${cfg.client_id}-e2e-${Math.random().toString(16).slice(2, 8)}`,
    username: String(cfg.user_id),
    password,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    protocolVersion: 4,
  });
  client.got = [];
  client.on("message", (topic, payload) => client.got.push({ topic, payload: payload.toString() }));
  clients.push(client);
  return client;
}

/**
 * Connecting must fail: the CONNACK refusal's code (4 bad user name or password, 5 not
 * authorized), or "closed" when the broker hangs up without a CONNACK (RabbitMQ 3.10's Web
 * MQTT closes the WebSocket with 1002 "unauthenticated").
 */
async function refused(cfg, password, username = String(cfg.user_id)) {
  const c = mqtt.connect(WS_URL, {
    clientId: `e2e-refused-${Math.random().toString(16).slice(2, 8)}`,
    username,
    password,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    protocolVersion: 4,
  });
  clients.push(c);
  const outcome = await new Promise((resolve) => {
    c.once("connect", () => resolve("connected"));
    c.once("error", (e) => resolve(e.code));
    c.once("close", () => resolve("closed"));
  });
  assert.notEqual(outcome, "connected", `user ${username} connected with a password that should be refused`);
  return outcome;
}

/** How this broker refuses a login (see `refused`). */
const REFUSALS = BROKER === "rabbitmq" ? [4, 5, "closed"] : [4, 5];

async function sendAs(token, receiver, text) {
  const { json } = await http("POST", "/messages", {
    token,
    body: { receiver_id: receiver, msg_type: 1, msg_content: { content: text }, weight: Date.now() },
  });
  assert.equal(json.code, 0, JSON.stringify(json));
  return json.data;
}

const texts = (client, topic) =>
  client.got.filter((m) => m.topic === topic).map((m) => {
    try {
      return JSON.parse(m.payload).msg_content?.content ?? m.payload;
    } catch {
      return m.payload;
    }
  });

/** What became of an MQTT call that the broker may refuse: its answer, or how it failed. */
async function outcome(promise) {
  const timeout = new Promise((resolve) => setTimeout(() => resolve("no answer in 3 s"), 3_000));
  return Promise.race([promise.then((v) => ({ answered: v }), (e) => ({ failed: String(e.message || e) })), timeout]);
}

test("user 2's credentials cannot read chat_1", async () => {
  const [t2, t3] = [await login("2"), await login("3")];
  const cfg = await connConfig(t2);
  const bob = await connect(cfg);
  await bob.subscribeAsync({ chat_2: { qos: 1 } });
  // A second connection of user 2 (same password: a new conn-config would retire it) tries
  // chat_1: Mosquitto 2.0 may grant the SUBACK of a denied filter, RabbitMQ closes the
  // connection; either way nothing may arrive on it.
  const spy = await connect(cfg);
  const tried = await outcome(spy.subscribeAsync({ chat_1: { qos: 1 } }).then((g) => g.map((x) => [x.topic, x.qos])));
  process.stderr.write(`  user 2 subscribing to chat_1: ${JSON.stringify(tried)}\n`);

  // Carol writes to Alice (published on chat_1), then to Bob (chat_2). One connection from
  // the server publishes both in that order: once Bob has the second, the first would have
  // come before it.
  await sendAs(t3, 1, "for alice's eyes only");
  await sendAs(t3, 2, "for bob");
  await waitFor(() => texts(bob, "chat_2"), (t) => t.includes("for bob"), "bob: his own message on chat_2");
  for (const c of [bob, spy]) {
    assert.deepEqual(texts(c, "chat_1"), [], "nothing of chat_1 reached user 2");
    assert.ok(!c.got.some((m) => m.payload.includes("for alice's eyes only")), "alice's message never reached user 2");
  }
});

test("user 2's credentials cannot publish to chat_1", async () => {
  const [t1, t2, t3] = [await login("1"), await login("2"), await login("3")];
  const alice = await connect(await connConfig(t1));
  await alice.subscribeAsync("chat_1", { qos: 1 });
  const bob = await connect(await connConfig(t2));
  const forged = JSON.stringify({
    id: 4242, conversation_id: "1_3", sender_id: 3, receiver_id: 1, msg_type: 1,
    msg_content: { content: "forged by user 2" }, create_time: "2024-06-01 12:00:00", is_read: 0, weight: Date.now(),
  });
  // Mosquitto acknowledges and drops it; RabbitMQ closes the connection.
  const tried = await outcome(bob.publishAsync("chat_1", forged, { qos: 1 }));
  process.stderr.write(`  user 2 publishing to chat_1: ${JSON.stringify(tried)}\n`);
  // The server's own message after it: once it is in, the forged one would have been too.
  await sendAs(t3, 1, "the real carol");
  await waitFor(() => texts(alice, "chat_1"), (t) => t.includes("the real carol"), "alice: carol's message");
  assert.deepEqual(texts(alice, "chat_1"), ["the real carol"], "the forged publish was dropped");
});

test("a password made stale by a newer conn-config is refused; the newest works", async () => {
  const t2 = await login("2");
  const older = await connConfig(t2);
  const newer = await connConfig(t2);
  assert.equal(older.password.length, 32);
  assert.equal(newer.password.length, 32);
  assert.notEqual(older.password, newer.password, "a new password on every call");
  assert.ok(REFUSALS.includes(await refused(older, older.password)), "the stale password is refused");
  // Someone else's current password does not work either.
  const t1 = await login("1");
  const alices = await connConfig(t1);
  assert.ok(REFUSALS.includes(await refused(newer, alices.password)), "user 1's password as user 2 is refused");
  assert.ok(REFUSALS.includes(await refused(newer, newer.password, "1")), "user 2's password as user 1 is refused");
  const bob = await connect(newer);
  assert.ok(bob.connected, "the newest password connects");
});

// Acceptance tests of ChatClient through its JS API only: headless Chromium (playwright-core
// driving Debian's /usr/bin/chromium), a real Mosquitto (tools/broker-control.mjs) and real
// IndexedDB. One browser context per user, so each has its own IndexedDB.
//
// Run by scripts/test-browser.sh, which provides:
//   IMCORE_BROKER_CONTROL     http://127.0.0.1:<port> of tools/broker-control.mjs
//   IMCORE_TEST_BASE_URL      http://127.0.0.1:<port> of tests/browser/server.mjs
//   IMCORE_CHROMIUM_PID_FILE  (optional) where to write Chromium's PID, so the script can
//                             stop it if this process dies
//   CHROMIUM                  (optional) the browser binary; default /usr/bin/chromium
//
// The tests share one scenario and run in order (node:test runs a file's tests serially).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { closedPort, launchBrowser } from "../chromium.mjs";
import { CONTROL, control } from "./control.mjs";

const BASE = process.env.IMCORE_TEST_BASE_URL;
const WAIT_MS = 15_000;

let closeBrowser;
let browser;
let brokerUrl;
/** userId -> { context, page, options } */
const users = {};

const log = (msg) => process.stderr.write(`${msg}\n`);

// A broker URL where nothing listens (connecting is refused at once), set in before().
let DEAD_URL;

function optionsOf(userId, contacts) {
  // User 3 is given two brokers, the first one dead: every attempt after a refusal goes to
  // the next URL, so it runs on the second one (direct mode's broker failover).
  const url = userId === "3" ? [DEAD_URL, brokerUrl] : brokerUrl;
  return { userId, direct: { url }, contacts, logLevel: "warn" };
}

async function load(page) {
  await page.goto(`${BASE}/page.html`);
  await page.waitForFunction(() => window.ready || window.loadError, null, { timeout: 60_000 });
  const error = await page.evaluate(() => window.loadError);
  if (error) throw new Error(`the package did not load: ${error}`);
}

async function openUser(userId, contacts, { killable = false } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("console", (m) => {
    // Connection refused is expected while the test has the broker stopped.
    if ((m.type() === "error" || m.type() === "warning") && !m.text().includes("ERR_CONNECTION_REFUSED")) {
      log(`  [user ${userId}] console.${m.type()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => log(`  [user ${userId}] pageerror: ${e.stack || e}`));
  await load(page);
  const options = optionsOf(userId, contacts);
  await page.evaluate(([o, k]) => window.start(o, { killable: k }), [options, killable]);
  users[userId] = { context, page, options, killable };
  return page;
}

const page = (userId) => users[userId].page;

/** Waits until `fn(arg)` is truthy in the page; on timeout says what and shows the events. */
async function until(userId, what, fn, arg) {
  try {
    const handle = await page(userId).waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 50 });
    return await handle.jsonValue();
  } catch (e) {
    let tail = "";
    try {
      tail = await page(userId).evaluate(() =>
        JSON.stringify(window.events.slice(-15).map((e) => [e.event, e.payload])),
      );
    } catch {}
    throw new Error(`user ${userId}: timed out waiting for ${what}\n  last events: ${tail}\n  (${e.message.split("\n")[0]})`);
  }
}

const evalIn = (userId, fn, arg) => page(userId).evaluate(fn, arg);

/** What the tests compare of a message (not `key`: only promised stable within a run). */
const project = (m) => ({
  id: m.id,
  conversationId: m.conversationId,
  senderId: m.senderId,
  kind: m.kind,
  text: m.text,
  url: m.url,
  cover: m.cover,
  weight: m.weight,
  status: m.status,
  revoked: m.revoked,
});

const loaded = (userId, conversationId) =>
  evalIn(userId, (c) => window.client.loadedMessages(c), conversationId);
const conversations = (userId) => evalIn(userId, () => window.client.conversations());
const unreadTotal = (userId) => evalIn(userId, () => window.client.unreadTotal());
const unreadOf = async (userId, conversationId) =>
  (await conversations(userId)).find((c) => c.id === conversationId)?.unread;

function assertAscending(messages, who) {
  for (let i = 1; i < messages.length; i++) {
    assert.ok(
      messages[i - 1].weight < messages[i].weight,
      `${who}: messages not in ascending weight order at ${i}: ${messages[i - 1].weight} >= ${messages[i].weight}`,
    );
  }
}

before(async () => {
  assert.ok(CONTROL && BASE, "run through scripts/test-browser.sh (IMCORE_BROKER_CONTROL, IMCORE_TEST_BASE_URL)");
  brokerUrl = (await control("/info", "GET")).ws_url;
  DEAD_URL = `ws://127.0.0.1:${await closedPort()}/mqtt`;
  ({ browser, close: closeBrowser } = await launchBrowser());
  await openUser("1", ["2", "3"]);
  await openUser("2", ["1"], { killable: true });
  await openUser("3", ["2"]);
  for (const id of ["1", "2", "3"]) {
    await until(id, "status connected", () => window.client.status() === "connected");
  }
});

after(async () => {
  await closeBrowser?.();
});

test("the web entry exports ChatClient, not the MqttClient class (that is imcore/mqtt's)", async () => {
  const names = await evalIn("1", () => window.entry);
  assert.ok(names.includes("ChatClient"), `ChatClient in ${names}`);
  assert.ok(!names.includes("MqttClient"), `MqttClient in ${names}`);
});

test("conversationIdOf, invalid options and a bad event name", async () => {
  const r = await evalIn(
    "1",
    async (url) => {
      const describe = (e) => ({ isError: e instanceof Error, name: e.name, code: e.code });
      // Runs f; tells whether it threw synchronously, rejected, or succeeded.
      const outcome = async (f) => {
        let p;
        try {
          p = f();
        } catch (e) {
          return { sync: true, ...describe(e) };
        }
        try {
          await p;
          return { ok: true };
        } catch (e) {
          return { sync: false, ...describe(e) };
        }
      };
      const C = window.ChatClient;
      return {
        ab: C.conversationIdOf("1", "2"),
        ba: C.conversationIdOf("2", "1"),
        numeric: C.conversationIdOf("10", "9"),
        badUserId: await outcome(() => C.create({ userId: "abc", direct: { url } })),
        noMode: await outcome(() => C.create({ userId: "5" })),
        bothModes: await outcome(() =>
          C.create({ userId: "5", direct: { url }, backend: { baseUrl: "http://127.0.0.1:9" } }),
        ),
        badLogLevel: await outcome(() => C.create({ userId: "5", direct: { url }, logLevel: "loud" })),
        notAnObject: await outcome(() => C.create(42)),
        // A KeyValueStore is the mini-program build's storage, not this one's.
        kvStore: await C.create({
          userId: "5",
          direct: { url },
          storage: { get() {}, set() {}, remove() {}, keys: () => [] },
        }).then(
          () => "created",
          (e) => ({ ...describe(e), message: e.message }),
        ),
        badEvent: await outcome(() => window.client.on("nope", () => {})),
        badEventOff: await outcome(() => window.client.off("nope", () => {})),
        badIds: await outcome(() => C.conversationIdOf("x", "2")),
      };
    },
    brokerUrl,
  );
  assert.equal(r.ab, "1_2");
  assert.equal(r.ba, "1_2");
  assert.equal(r.numeric, "9_10", "ids are compared as numbers");
  const invalidOptions = { sync: false, isError: true, name: "ChatError", code: "invalid-options" };
  assert.deepEqual(r.badUserId, invalidOptions, "userId 'abc'");
  assert.deepEqual(r.noMode, invalidOptions, "neither direct nor backend");
  assert.deepEqual(r.bothModes, invalidOptions, "both direct and backend");
  assert.deepEqual(r.badLogLevel, invalidOptions, "logLevel 'loud'");
  assert.deepEqual(r.notAnObject, invalidOptions, "options 42");
  const { message: kvMessage, ...kvStore } = r.kvStore;
  assert.deepEqual(kvStore, { isError: true, name: "ChatError", code: "invalid-options" }, "storage: a KeyValueStore");
  assert.match(kvMessage, /mini-program build/, "the error names the build that has a KeyValueStore");
  const invalidArgument = { sync: true, isError: true, name: "ChatError", code: "invalid-argument" };
  assert.deepEqual(r.badEvent, invalidArgument, "on('nope')");
  assert.deepEqual(r.badEventOff, invalidArgument, "off('nope')");
  assert.deepEqual(r.badIds, invalidArgument, "conversationIdOf('x', '2')");
});

test("direct mode's credentials(): asked before the attempt; a rejection or a throw is an mqtt error", async () => {
  const r = await evalIn(
    "1",
    async (url) => {
      const C = window.ChatClient;
      const until = async (what, f) => {
        const end = Date.now() + 15_000;
        while (!f()) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      // A client of a user of its own (memory storage, no presence), freed at the end.
      const run = async (userId, credentials, done) => {
        const client = await C.create({
          userId,
          storage: "memory",
          presence: false,
          direct: { url, username: "static", credentials },
        });
        const errors = [];
        client.on("error", (e) => errors.push({ name: e.name, code: e.code, message: e.message }));
        client.connect();
        try {
          await until(`user ${userId}: ${done.name}`, () => done(client, errors));
          return { status: client.status(), errors };
        } finally {
          client.free();
        }
      };
      let asked = 0;
      const connected = (client) => client.status() === "connected";
      const failed = (_, errors) => errors.length > 0;
      return {
        resolves: await run("8", async () => ({ username: `user-${++asked}` }), connected),
        asked,
        rejects: await run("9", () => Promise.reject(new Error("no token")), failed),
        throws: await run("10", () => { throw new Error("token store gone"); }, failed),
      };
    },
    brokerUrl,
  );
  assert.deepEqual(r.resolves, { status: "connected", errors: [] }, "credentials() resolving");
  assert.equal(r.asked, 1, "asked once, before the one attempt");
  for (const [key, why] of [["rejects", /credentials\(\) rejected: no token/], ["throws", /credentials\(\) threw: token store gone/]]) {
    const [first] = r[key].errors;
    assert.equal(first?.code, "mqtt", `${key}: ${JSON.stringify(r[key])}`);
    assert.equal(first.name, "ChatError");
    assert.match(first.message, why, key);
    assert.notEqual(r[key].status, "connected", key);
  }
});

test("presence: user 1 sees user 2 online", async () => {
  await until("1", "presence {userId: '2', online: true}", () =>
    window.events.some((e) => e.event === "presence" && e.payload.userId === "2" && e.payload.online === true),
  );
});

test("unread counts while closed, not while open; conversation order; read receipts", async () => {
  // User 1 sends three messages to user 2, who has not opened the conversation.
  const sent = await evalIn("1", async () => {
    const c = window.client;
    const handles = [
      c.sendText("1_2", "one"),
      c.sendText("1_2", "two"),
      c.sendImage("1_2", "https://example.com/a.png", "https://example.com/a-cover.png"),
    ];
    const initial = handles.map((h) => ({ status: h.message.status, key: h.message.key, mine: h.message.mine }));
    const done = await Promise.all(handles.map((h) => h.done));
    return { initial, done };
  });
  assert.deepEqual(sent.initial.map((m) => m.status), ["sending", "sending", "sending"]);
  assert.ok(sent.initial.every((m) => m.mine));
  assert.deepEqual(sent.done.map((m) => m.status), ["sent", "sent", "sent"]);
  assert.deepEqual(sent.done.map((m) => m.key), sent.initial.map((m) => m.key), "done keeps the key");
  assert.ok(sent.done.every((m) => typeof m.id === "string" && /^\d+$/.test(m.id)), "sent messages have ids");

  await until("2", "3 messages in 1_2", () => window.client.loadedMessages("1_2").length === 3);
  assert.equal(await unreadTotal("2"), 3);
  assert.equal(await unreadOf("2", "1_2"), 3);
  const unreadEvents = await evalIn("2", () =>
    window.events.filter((e) => e.event === "unreadTotal").map((e) => e.payload),
  );
  assert.equal(unreadEvents.at(-1), 3, `unreadTotal events ${JSON.stringify(unreadEvents)}`);

  // A second conversation: user 3 writes to user 2; it becomes the most recent.
  const three = await evalIn("3", () => window.client.sendText("2_3", "from three").done);
  assert.equal(three.status, "sent");
  await until("2", "1 message in 2_3", () => window.client.loadedMessages("2_3").length === 1);
  assert.equal(await unreadTotal("2"), 4);
  assert.equal(await unreadOf("2", "2_3"), 1);
  let convs = await conversations("2");
  assert.deepEqual(convs.map((c) => c.id), ["2_3", "1_2"], "most recent first");
  assert.deepEqual(
    convs.map((c) => [c.kind, c.peerId]),
    [["direct", "3"], ["direct", "1"]],
  );
  assert.equal(convs[0].lastMessage?.text, "from three");
  const convEvent = await evalIn("2", () =>
    window.events.filter((e) => e.event === "conversations").at(-1)?.payload.map((c) => c.id),
  );
  assert.deepEqual(convEvent, ["2_3", "1_2"], "the last `conversations` event");

  // Opening 1_2 reads it.
  await evalIn("2", () => window.client.openConversation("1_2"));
  assert.equal(await unreadOf("2", "1_2"), 0);
  assert.equal(await unreadTotal("2"), 1);
  await until("2", "unreadTotal event 1", () =>
    window.events.filter((e) => e.event === "unreadTotal").at(-1)?.payload === 1,
  );

  // A message arriving while it is open does not count; 1_2 becomes the most recent.
  await evalIn("1", () => window.client.sendText("1_2", "while open").done);
  await until("2", "4 messages in 1_2", () => window.client.loadedMessages("1_2").length === 4);
  assert.equal(await unreadOf("2", "1_2"), 0);
  assert.equal(await unreadTotal("2"), 1);
  convs = await conversations("2");
  assert.deepEqual(convs.map((c) => c.id), ["1_2", "2_3"], "most recent first after a new message");
  assert.equal(convs[0].lastMessage?.text, "while open");

  // Read receipt: user 1 learns that user 2 read its first three messages.
  const read = await until("1", "a read event for 1_2 from 2", () =>
    window.events.find((e) => e.event === "read" && e.payload.conversationId === "1_2")?.payload,
  );
  assert.equal(read.readerId, "2");
  const mine = await loaded("1", "1_2");
  const first3 = mine.filter((m) => sent.done.some((d) => d.key === m.key));
  assert.equal(first3.length, 3);
  assert.ok(read.upToWeight >= Math.max(...first3.map((m) => m.weight)), `upToWeight ${read.upToWeight}`);
  await until("1", "read: true on the first three", (keys) =>
    window.client.loadedMessages("1_2").filter((m) => keys.includes(m.key)).every((m) => m.read === true),
    sent.done.map((m) => m.key),
  );
});

test("text, image and video messages both ways, same order on both sides", async () => {
  const fromTwo = await evalIn("2", async () => {
    const c = window.client;
    const a = c.sendText("1_2", "reply from 2");
    const b = c.sendVideo("1_2", "https://example.com/v.mp4", "https://example.com/v-cover.jpg");
    const d = c.sendImage("1_2", "https://example.com/b.png");
    return Promise.all([a.done, b.done, d.done]);
  });
  assert.deepEqual(fromTwo.map((m) => m.status), ["sent", "sent", "sent"]);
  const fromOne = await evalIn("1", async () => {
    const c = window.client;
    return Promise.all([c.sendVideo("1_2", "https://example.com/w.mp4").done, c.sendText("1_2", "last").done]);
  });
  assert.deepEqual(fromOne.map((m) => m.status), ["sent", "sent"]);

  for (const id of ["1", "2"]) {
    await until(id, "9 messages in 1_2", () => window.client.loadedMessages("1_2").length === 9);
  }
  const one = await loaded("1", "1_2");
  const two = await loaded("2", "1_2");
  assertAscending(one, "user 1");
  assertAscending(two, "user 2");
  assert.deepEqual(two.map(project), one.map(project), "both sides list the same messages in the same order");
  assert.deepEqual(
    one.map((m) => [m.senderId, m.kind, m.text, m.url, m.cover]),
    [
      ["1", "text", "one", null, null],
      ["1", "text", "two", null, null],
      ["1", "image", null, "https://example.com/a.png", "https://example.com/a-cover.png"],
      ["1", "text", "while open", null, null],
      ["2", "text", "reply from 2", null, null],
      ["2", "video", null, "https://example.com/v.mp4", "https://example.com/v-cover.jpg"],
      ["2", "image", null, "https://example.com/b.png", null],
      ["1", "video", null, "https://example.com/w.mp4", null],
      ["1", "text", "last", null, null],
    ],
  );
  assert.deepEqual(one.map((m) => m.msgType), [1, 1, 2, 1, 1, 3, 2, 3, 1]);
  assert.deepEqual(one.map((m) => m.mine), one.map((m) => m.senderId === "1"));
  assert.deepEqual(two.map((m) => m.mine), two.map((m) => m.senderId === "2"));
  assert.ok(one.every((m) => m.status === "sent" && m.receiverId === (m.senderId === "1" ? "2" : "1")));
  // messages() (one page from storage / memory) agrees with loadedMessages().
  const paged = await evalIn("2", () => window.client.messages("1_2"));
  assert.deepEqual(paged.map(project), two.map(project));
  const older = await evalIn("2", (key) => window.client.messages("1_2", { before: key, limit: 2 }), two[4].key);
  assert.deepEqual(older.map(project), two.slice(2, 4).map(project), "messages({before, limit})");
  // User 1 never opened 1_2: user 2's three messages are unread there.
  assert.equal(await unreadOf("1", "1_2"), 3);
  assert.equal(await unreadTotal("1"), 3);
  // `message` events carried the index in ascending order.
  const ev = await evalIn("2", () => {
    const e = window.events.filter((x) => x.event === "message" && x.payload.conversationId === "1_2").at(-1).payload;
    return { index: e.index, text: e.message.text };
  });
  assert.deepEqual(ev, { index: 8, text: "last" });
});

// Messages and conversations cross from wasm as tapes read by the glue (src/web/chat/
// tape.rs): every field in the order of chat_client.d.ts, and strings sliced by UTF-16
// length, so text beyond ASCII (CJK, an emoji's surrogate pair) and the fields after it
// come out whole.
test("message and conversation objects: exact fields, non-ASCII text", async () => {
  const text = "你好, 世界 👋🏽 — ok";
  // In 1_3, which no other test counts.
  const sent = await evalIn("3", (t) => window.client.sendText("1_3", t).done, text);
  assert.equal(sent.text, text);
  const ev = await until("1", "the message event of the non-ASCII text", (t) => {
    const e = window.events.find((x) => x.event === "message" && x.payload.message.text === t);
    return e && e.payload;
  }, text);
  assert.deepEqual(Object.keys(ev), ["conversationId", "index", "message"]);
  assert.deepEqual(Object.keys(ev.message), [
    "key", "id", "localId", "conversationId", "senderId", "receiverId", "kind", "msgType", "text",
    "url", "cover", "raw", "weight", "status", "mine", "read", "revoked", "senderName",
    "senderAvatar", "readBy",
  ]);
  const m = ev.message;
  assert.deepEqual(
    [m.key, m.localId, m.conversationId, m.senderId, m.receiverId, m.kind, m.msgType, m.text, m.url, m.cover, m.raw],
    [sent.id, null, "1_3", "3", "1", "text", 1, text, null, null, null],
  );
  assert.deepEqual([m.id, m.weight, m.status, m.mine, m.revoked, m.readBy], [sent.id, sent.weight, "sent", false, false, []]);
  assert.deepEqual(await loaded("1", "1_3").then((l) => l.at(-1)), m, "loadedMessages() gives the same object");
  const conv = await evalIn("1", () => window.client.conversations().find((c) => c.id === "1_3"));
  assert.deepEqual(Object.keys(conv), ["id", "kind", "peerId", "lastMessage", "lastActivity", "unread", "members"]);
  assert.deepEqual([conv.kind, conv.peerId, conv.lastMessage, conv.lastActivity], ["direct", "3", m, m.weight]);
});

test("revoke within 2 minutes: revoked on both sides, with a revoke event", async () => {
  const before = await loaded("1", "1_2");
  const two = before.find((m) => m.text === "two");
  const image = before.find((m) => m.url === "https://example.com/a.png");
  await evalIn("1", (keys) => Promise.all(keys.map((k) => window.client.revoke(k))), [two.key, image.key]);
  for (const id of ["1", "2"]) {
    await until(id, "revoke events for both", (ids) => {
      const got = window.events.filter((e) => e.event === "revoke").map((e) => e.payload);
      return ids.every((i) => got.some((p) => p.id === i && p.conversationId === "1_2"));
    }, [two.id, image.id]);
    await until(id, "both messages revoked", (ids) =>
      window.client.loadedMessages("1_2").filter((m) => ids.includes(m.id)).every((m) => m.status === "revoked"),
      [two.id, image.id],
    );
    const after = await loaded(id, "1_2");
    assert.equal(after.length, 9, `user ${id}: revoked messages stay listed`);
    for (const rid of [two.id, image.id]) {
      const m = after.find((x) => x.id === rid);
      assert.equal(m.status, "revoked", `user ${id}`);
      assert.equal(m.revoked, true, `user ${id}`);
      assert.equal(m.text, null, `user ${id}`);
      assert.equal(m.url, null, `user ${id}`);
    }
    assert.deepEqual(after.map((m) => m.id), before.map((m) => m.id), `user ${id}: order unchanged`);
  }
  // Someone else's message cannot be revoked.
  const theirs = before.find((m) => m.text === "reply from 2");
  const err = await evalIn("1", (k) => window.client.revoke(k).then(() => null, (e) => ({ name: e.name, code: e.code })), theirs.key);
  assert.equal(err?.name, "ChatError");
});

test("a room: joinRoom, messages arrive, the room leads the list", async () => {
  await evalIn("1", () => window.client.joinRoom("7"));
  await evalIn("2", () => window.client.joinRoom("7"));
  await new Promise((r) => setTimeout(r, 500)); // SUBSCRIBEs reach the broker
  const m = await evalIn("1", () => window.client.sendText("room_7", "hello room").done);
  assert.equal(m.status, "sent");
  assert.equal(m.conversationId, "room_7");
  await until("2", "the room message", () => window.client.loadedMessages("room_7").length === 1);
  const convs = await conversations("2");
  assert.deepEqual(convs.map((c) => c.id), ["room_7", "1_2", "2_3"]);
  assert.deepEqual([convs[0].kind, convs[0].peerId, convs[0].unread], ["room", "7", 1]);
  const got = (await loaded("2", "room_7"))[0];
  assert.deepEqual([got.senderId, got.receiverId, got.text, got.mine], ["1", "7", "hello room", false]);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await loaded("1", "room_7")).length, 1, "user 1's own room message is not duplicated");
});

test("room read receipts: my message shows who of the 2 other members read it (0, then 1, then 2)", async () => {
  await evalIn("3", () => window.client.joinRoom("7"));
  await new Promise((r) => setTimeout(r, 500)); // the SUBSCRIBE reaches the broker
  const sent = await evalIn("1", () => window.client.sendText("room_7", "who reads this?").done);
  assert.equal(sent.status, "sent");
  assert.deepEqual(sent.readBy, []);
  const has = (id) => window.client.loadedMessages("room_7").some((m) => m.id === id);
  await until("2", "the room message at user 2", has, sent.id);
  await until("3", "the room message at user 3", has, sent.id);
  const readers = (id) => window.client.loadedMessages("room_7").find((m) => m.id === id)?.readBy;
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await evalIn("1", readers, sent.id), [], "read by nobody yet");
  assert.equal((await evalIn("1", (id) => window.client.loadedMessages("room_7").find((m) => m.id === id), sent.id)).read, false);

  const mark = await evalIn("1", () => window.events.length);
  await evalIn("2", () => window.client.markRead("room_7"));
  await until("1", "read by user 2", (id) => {
    const m = window.client.loadedMessages("room_7").find((m) => m.id === id);
    return m && m.readBy.length === 1;
  }, sent.id);
  const afterOne = await evalIn("1", (id) => window.client.loadedMessages("room_7").find((m) => m.id === id), sent.id);
  assert.deepEqual([afterOne.readBy, afterOne.read], [["2"], true]);
  const events = await evalIn("1", (from) => window.events.slice(from), mark);
  assert.ok(
    events.some((e) => e.event === "read" && e.payload.conversationId === "room_7" && e.payload.readerId === "2"),
    "a read event names the reader",
  );
  assert.ok(
    events.some((e) => e.event === "messageUpdated" && e.payload.message.id === sent.id && e.payload.message.readBy.length === 1),
    "a messageUpdated event carries the new reader",
  );

  await evalIn("3", () => window.client.markRead("room_7"));
  await until("1", "read by users 2 and 3", (id) => {
    const m = window.client.loadedMessages("room_7").find((m) => m.id === id);
    return m && m.readBy.length === 2;
  }, sent.id);
  assert.deepEqual(await evalIn("1", readers, sent.id), ["2", "3"]);
  // Receipts of others are about my messages only: user 2 sees no readers on user 1's message.
  assert.deepEqual(await evalIn("2", readers, sent.id), []);
});

test("presence: user 2's socket dies without DISCONNECT, user 1 gets the last will", async () => {
  const mark = await evalIn("1", () => window.events.length);
  const killed = await evalIn("2", () => {
    window.blockNetwork = true;
    return window.killSockets();
  });
  assert.ok(killed >= 1, "user 2 had an open socket");
  await until("1", "presence {userId: '2', online: false}", (from) =>
    window.events.slice(from).some((e) => e.event === "presence" && e.payload.userId === "2" && e.payload.online === false),
    mark,
  );
  await until("2", "status not connected", () => window.client.status() !== "connected");
  // Back online: user 2 reconnects, user 1 sees it online again.
  const mark2 = await evalIn("1", () => window.events.length);
  await evalIn("2", () => {
    window.blockNetwork = false;
    window.client.wake();
  });
  await until("2", "status connected again", () => window.client.status() === "connected");
  await until("1", "presence {userId: '2', online: true} again", (from) =>
    window.events.slice(from).some((e) => e.event === "presence" && e.payload.userId === "2" && e.payload.online === true),
    mark2,
  );
});

test("reload with the broker down: conversations and history come from IndexedDB", async () => {
  const snapshot = {
    conversations: (await conversations("2")).map((c) => ({ id: c.id, kind: c.kind, unread: c.unread, last: c.lastMessage?.id ?? null })),
    direct: await loaded("2", "1_2"),
    three: await loaded("2", "2_3"),
    room: await loaded("2", "room_7"),
    unreadTotal: await unreadTotal("2"),
  };
  assert.equal(snapshot.direct.length, 9);
  await control("/stop");
  await until("2", "status not connected after the broker stopped", () => window.client.status() !== "connected");
  await new Promise((r) => setTimeout(r, 1000)); // let pending IndexedDB writes finish

  const p = page("2");
  await p.reload();
  await p.waitForFunction(() => window.ready || window.loadError, null, { timeout: 60_000 });
  assert.equal(await p.evaluate(() => window.loadError ?? null), null);
  const status = await p.evaluate((o) => window.start(o, { connect: false }), users["2"].options);
  assert.equal(status, "idle", "create() does not connect");

  const convs = (await conversations("2")).map((c) => ({ id: c.id, kind: c.kind, unread: c.unread, last: c.lastMessage?.id ?? null }));
  assert.deepEqual(convs, snapshot.conversations, "conversations after reload");
  assert.equal(await unreadTotal("2"), snapshot.unreadTotal, "unreadTotal after reload");
  const history = await evalIn("2", () => window.client.messages("1_2"));
  assert.deepEqual(history.map(project), snapshot.direct.map(project), "1_2 history after reload");
  assert.deepEqual(
    history.filter((m) => m.revoked).map((m) => [m.status, m.text, m.url]),
    [["revoked", null, null], ["revoked", null, null]],
    "revoked stays revoked",
  );
  assert.deepEqual(history.map((m) => m.mine), history.map((m) => m.senderId === "2"));
  assert.deepEqual((await evalIn("2", () => window.client.messages("2_3"))).map(project), snapshot.three.map(project));
  assert.deepEqual((await evalIn("2", () => window.client.messages("room_7"))).map(project), snapshot.room.map(project));

  // connect() with the broker down: no crash, not connected; then the broker comes back.
  await evalIn("2", () => window.client.connect());
  await new Promise((r) => setTimeout(r, 500));
  assert.notEqual(await evalIn("2", () => window.client.status()), "connected");
  await control("/start");
  await evalIn("2", () => window.client.wake());
  await until("2", "connected after the broker restarted", () => window.client.status() === "connected");
  assert.deepEqual((await loaded("2", "1_2")).map(project), snapshot.direct.map(project));
});

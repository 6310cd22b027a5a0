// The mini-program glue (pkg/miniprogram/) in a simulated mini-program: a `wx` and a
// `WXWebAssembly` that keep to the platform's limits (wx-mock.cjs), and no WebAssembly,
// fetch, TextEncoder, TextDecoder or WebSocket globals while the glue loads and runs.
// Needs a real broker: IMCORE_MQTT_WS_URL (ws://127.0.0.1:PORT), and the built package:
// IMCORE_PKG_DIR. Run by scripts/test-miniprogram.sh.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createWx, createWXWebAssembly } = require('./wx-mock.cjs');

const WS_URL = process.env.IMCORE_MQTT_WS_URL;
const PKG_DIR = path.resolve(process.env.IMCORE_PKG_DIR || 'pkg');
if (!WS_URL) throw new Error('set IMCORE_MQTT_WS_URL (scripts/test-miniprogram.sh does)');

const real = {
  WebAssembly: globalThis.WebAssembly,
  WebSocket: globalThis.WebSocket,
  fetch: globalThis.fetch,
  TextEncoder: globalThis.TextEncoder,
  TextDecoder: globalThis.TextDecoder,
};
const HIDDEN = ['WebAssembly', 'WebSocket', 'fetch', 'TextEncoder', 'TextDecoder'];
const utf8Bytes = (s) => Buffer.byteLength(s, 'utf8');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let imcore; // the glue, required from the simulated miniprogram_npm/imcore/
let wx;
let codePackage; // the simulated code package (a temporary directory)

// Resolves when `pred()` is truthy; rejects after `ms` with `what`.
async function until(pred, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// Waits until no setStorage happened for `quietMs` (the client persists asynchronously).
async function storageSettled(quietMs = 300) {
  let last = -1;
  await until(async () => {
    const now = [...wx.__storage.entries()].map(([k, v]) => k + v.size).join();
    if (now === last) return true;
    last = now;
    await sleep(quietMs);
    return false;
  }, 'storage to settle', 20000);
}

before(async () => {
  assert.ok(typeof real.WebSocket === 'function', 'run node with --experimental-websocket');
  // Node's WebSocket compiles its HTTP parser with the global WebAssembly on first use
  // (and keeps it): open one connection before that global goes away.
  await new Promise((resolve, reject) => {
    const ws = new real.WebSocket(WS_URL, ['mqtt']);
    ws.onopen = () => ws.close();
    ws.onclose = resolve;
    ws.onerror = (e) => reject(new Error(`no broker at ${WS_URL}: ${e.message}`));
  });

  // What the devtools' "build npm" does with package.json's "miniprogram" field: copy the
  // directory to miniprogram_npm/imcore/ in the code package (no package.json around it,
  // so .js files are CommonJS, as in a mini-program).
  const miniprogram = path.join(PKG_DIR, 'miniprogram');
  assert.ok(fs.existsSync(path.join(miniprogram, 'imcore_wx.js')), `${miniprogram} is not built`);
  codePackage = fs.mkdtempSync(path.join(os.tmpdir(), 'imcore-mp-'));
  fs.cpSync(miniprogram, path.join(codePackage, 'miniprogram_npm', 'imcore'), { recursive: true });

  for (const name of HIDDEN) delete globalThis[name];
  wx = globalThis.wx = createWx(real);
  globalThis.WXWebAssembly = createWXWebAssembly(real.WebAssembly, codePackage);
  imcore = require(path.join(codePackage, 'miniprogram_npm', 'imcore', 'index.js'));
});

after(() => {
  if (wx) wx.__closeAllSockets();
  if (codePackage) fs.rmSync(codePackage, { recursive: true, force: true });
});

test('the host globals stay hidden, and the glue installed its own TextEncoder/TextDecoder', () => {
  for (const name of ['WebAssembly', 'WebSocket', 'fetch']) assert.equal(typeof globalThis[name], 'undefined', name);
  assert.notEqual(globalThis.TextEncoder, real.TextEncoder);
  assert.notEqual(globalThis.TextDecoder, real.TextDecoder);
  assert.equal(new globalThis.TextDecoder().decode(new globalThis.TextEncoder().encode('a😀é')), 'a😀é');
});

test('wxs:// and wx:// map to wss:// and ws:// for wx.connectSocket', () => {
  assert.equal(imcore.wxSocketUrl('wxs://im.example.com:8084/mqtt'), 'wss://im.example.com:8084/mqtt');
  assert.equal(imcore.wxSocketUrl('wx://127.0.0.1:9001/mqtt'), 'ws://127.0.0.1:9001/mqtt');
  assert.equal(imcore.wxSocketUrl('wss://a/mqtt'), 'wss://a/mqtt');
  assert.equal(imcore.wxSocketUrl('ws://a/mqtt'), 'ws://a/mqtt');
  // An unreachable wss:// url: what reaches wx.connectSocket, then a single end report.
  const t = imcore.wxTransport('wxs://127.0.0.1:1/mqtt', ['mqtt']);
  assert.equal(wx.__stats.socketUrls.at(-1), 'wss://127.0.0.1:1/mqtt');
  let ends = 0;
  t.onclose = t.onerror = () => ends++;
  return until(() => ends > 0, 'the failed socket to report').then(() => sleep(100)).then(() => assert.equal(ends, 1));
});

test('a load from a missing path rejects, and a later load may succeed', async () => {
  await assert.rejects(imcore.loadImcore({ wasmPath: '/nowhere/imcore_bg.wasm.br' }), /no file/);
});

test('MqttClient over wx.connectSocket: connect, subscribe, QoS 1 publish, receive', { timeout: 30000 }, async () => {
  const { MqttClient } = await imcore.loadImcore(); // default path: /miniprogram_npm/imcore/imcore_bg.wasm.br
  assert.equal(imcore.MqttClient, MqttClient);
  const client = new MqttClient({
    url: WS_URL,
    clientId: `mp-test-${process.pid}`,
    clean: true,
    keepAlive: 30,
    transport: imcore.wxTransport,
  });
  const errors = [];
  client.on('error', (e) => errors.push(e));
  const received = [];
  client.on('message', (m) => received.push(m));
  client.connect();
  await until(() => client.status === 'connected', 'CONNACK');

  const topic = 'mp/测试/😀';
  const granted = await client.subscribe('mp/#', 1);
  assert.deepEqual(granted, [1]);
  const text = 'hello 你好 😀 \u00e9';
  await client.publish(topic, text, 1); // resolves on PUBACK
  await client.publish(topic, new Uint8Array([0, 1, 2, 255]), 1);
  await until(() => received.length >= 2, 'the two messages back');
  assert.equal(received[0].topic, topic);
  assert.equal(received[0].qos, 1);
  assert.equal(new TextDecoder().decode(received[0].payload), text);
  assert.deepEqual([...received[1].payload], [0, 1, 2, 255]);

  // wx.onAppShow -> wake(): the connection stays usable.
  const stop = imcore.wakeOnAppShow(client);
  wx.__showApp();
  await client.publish(topic, 'after show', 1);
  await until(() => received.length >= 3, 'the message after wake');
  stop();

  client.disconnect();
  await until(() => client.status === 'idle' || client.status === 'offline', 'the disconnect');
  client.free();
  assert.deepEqual(errors, []);
  assert.ok(wx.__stats.maxSendsInFlight <= 1, 'one SocketTask.send in flight at a time');
});

// ---- ChatClient (src/web/chat_client.d.ts) ------------------------------------------------

const chatSkip = () => (imcore.ChatClient ? false : 'ChatClient is not in this build yet');

// A KeyValueStore that checks every write against its own declared limits.
function checkedStore(store) {
  const violations = [];
  let largest = 0;
  return {
    store: {
      maxValueBytes: store.maxValueBytes,
      maxTotalBytes: store.maxTotalBytes,
      get: (k) => store.get(k),
      remove: (k) => store.remove(k),
      keys: () => store.keys(),
      set(k, v) {
        const n = utf8Bytes(v);
        largest = Math.max(largest, n);
        if (n > store.maxValueBytes) violations.push(`${k}: ${n} bytes`);
        return store.set(k, v);
      },
    },
    violations,
    largest: () => largest,
  };
}

function connected(client) {
  return until(() => client.status() === 'connected', `user ${client.__user} to connect`, 15000);
}

// Limits far below wx's, so a test crosses them quickly.
const SMALL_LIMITS = { maxValueBytes: 64 * 1024, maxTotalBytes: 256 * 1024 };

// A connected direct-mode client for `userId` on a checked wx store with SMALL_LIMITS under
// `prefix`, and the errors it reports.
async function smallStoreClient(prefix, userId) {
  const limits = SMALL_LIMITS;
  const checked = checkedStore(imcore.wxKeyValueStore(prefix, limits));
  const c = await imcore.createChatClient({ userId, direct: { url: WS_URL }, storage: checked.store, presence: false });
  c.__user = userId;
  const errors = [];
  c.on('error', (e) => errors.push(e));
  c.connect();
  await connected(c);
  return { limits, checked, c, errors };
}

// UTF-8 bytes of the values the simulated wx storage holds under `prefix`.
function storedBytes(prefix) {
  return [...wx.__storage.entries()]
    .filter(([k]) => k.startsWith(prefix))
    .reduce((n, [, e]) => n + utf8Bytes(JSON.parse(e.json)), 0);
}

test('two ChatClients (direct mode) chat over wx; history persists in wx storage', { timeout: 60000 }, async (t) => {
  if (chatSkip()) return t.skip(chatSkip());
  const { ChatClient } = imcore;
  const conv = ChatClient.conversationIdOf('1', '2');
  assert.equal(conv, '1_2');
  const keysBefore = new Set(wx.__storage.keys());

  // User 1 through createChatClient's defaults (wx transport, wxKeyValueStore()); user 2
  // with a store of its own prefix, as another device would have.
  const a = await imcore.createChatClient({ userId: '1', direct: { url: WS_URL } });
  const b = await imcore.createChatClient({ userId: '2', direct: { url: WS_URL }, storage: imcore.wxKeyValueStore('peer2/') });
  a.__user = '1';
  b.__user = '2';
  const errors = [];
  a.on('error', (e) => errors.push(e));
  b.on('error', (e) => errors.push(e));
  const unread = [];
  b.on('unreadTotal', (n) => unread.push(n));
  const atB = [];
  b.on('message', (e) => atB.push(e.message));
  const atA = [];
  a.on('message', (e) => atA.push(e.message));

  a.connect();
  b.connect();
  await connected(a);
  await connected(b);

  const first = a.sendText(conv, 'hello 你好 😀');
  assert.equal(first.message.status, 'sending');
  assert.equal((await first.done).status, 'sent');
  await until(() => atB.some((m) => m.text === 'hello 你好 😀'), 'user 2 to get the first message');
  assert.equal(b.unreadTotal(), 1);
  assert.equal((await a.sendText(conv, 'second').done).status, 'sent');
  await until(() => b.unreadTotal() === 2, 'unread to reach 2');
  assert.ok(unread.includes(1) && unread.includes(2), `unreadTotal events: ${unread}`);
  const fromA = atB.find((m) => m.text === 'second');
  assert.equal(fromA.senderId, '1');
  assert.equal(fromA.mine, false);

  assert.equal((await b.sendText(conv, 'reply from 2').done).status, 'sent');
  await until(() => atA.some((m) => m.text === 'reply from 2' && !m.mine), 'user 1 to get the reply');

  await a.disconnect();
  await b.disconnect();
  await storageSettled();

  // The wx key-value store took the history, within wx's limits.
  const written = [...wx.__storage.keys()].filter((k) => !keysBefore.has(k));
  assert.ok(written.some((k) => !k.startsWith('peer2/')), `user 1 wrote no keys: ${written}`);
  assert.ok(written.some((k) => k.startsWith('peer2/')), `user 2 wrote no keys under its prefix: ${written}`);
  assert.deepEqual(wx.__stats.storageFailures, []);
  assert.ok(wx.__stats.largestValue <= 1024 * 1024);

  // User 1 again, over the same wx storage: the history is there before any connection.
  const a2 = await imcore.createChatClient({ userId: '1', direct: { url: WS_URL } });
  assert.equal(a2.status(), 'idle');
  const page = await a2.messages(conv);
  const texts = page.map((m) => m.text);
  for (const want of ['hello 你好 😀', 'second', 'reply from 2']) assert.ok(texts.includes(want), `history lacks ${want}: ${texts}`);
  assert.ok(a2.conversations().some((c) => c.id === conv));
  assert.deepEqual(errors, []);
  for (const c of [a, b, a2]) if (typeof c.free === 'function') c.free();
});

test('more than 1 MB of messages through a small KeyValueStore stays within its limits', { timeout: 120000 }, async (t) => {
  if (chatSkip()) return t.skip(chatSkip());
  const { ChatClient } = imcore;
  const { limits, checked, c, errors } = await smallStoreClient('small3/', '3');
  const conv = ChatClient.conversationIdOf('3', '4');
  const body = 'x'.repeat(3000) + ' ünïcödé 😀 ';
  const count = Math.ceil((1.2 * 1024 * 1024) / utf8Bytes(body));
  // In waves of 8: the unsent messages (the outbox, which is never trimmed) stay far
  // below the budget, while the history that passes through is five times the budget.
  // (A burst whose outbox alone exceeds the budget is the next test.)
  for (let i = 0; i < count; i += 8) {
    const wave = [];
    for (let j = i; j < Math.min(count, i + 8); j++) wave.push(c.sendText(conv, `${j} ${body}`));
    const done = await Promise.all(wave.map((h) => h.done));
    assert.ok(done.every((m) => m.status === 'sent'));
  }
  await c.disconnect();
  await storageSettled();

  assert.deepEqual(checked.violations, [], 'values above maxValueBytes');
  const total = storedBytes('small3/');
  assert.ok(total <= limits.maxTotalBytes, `the store holds ${total} bytes, above maxTotalBytes`);
  assert.ok(total > 0, 'nothing was stored');
  assert.deepEqual(wx.__stats.storageFailures, []);

  // What was kept is the newest: a new client for user 3 finds the last message.
  const again = await imcore.createChatClient({ userId: '3', direct: { url: WS_URL }, storage: checked.store, presence: false });
  const page = await again.messages(conv);
  assert.ok(page.length > 0);
  assert.equal(page.at(-1).text, `${count - 1} ${body}`);
  assert.deepEqual(errors, []);
  for (const x of [c, again]) if (typeof x.free === 'function') x.free();
});

test('a burst whose unsent messages exceed the whole budget: a typed storage error, every message still sent, no limit broken', { timeout: 120000 }, async (t) => {
  if (chatSkip()) return t.skip(chatSkip());
  const { ChatClient } = imcore;
  const { limits, checked, c, errors } = await smallStoreClient('burst5/', '5');
  const conv = ChatClient.conversationIdOf('5', '6');
  const body = 'y'.repeat(3000);
  const count = Math.ceil((1.2 * 1024 * 1024) / body.length);
  const handles = [];
  for (let i = 0; i < count; i++) handles.push(c.sendText(conv, `${i} ${body}`));
  const done = await Promise.all(handles.map((h) => h.done));
  assert.ok(done.every((m) => m.status === 'sent'), 'storage trouble does not stop sending');
  await c.disconnect();
  await storageSettled();

  assert.deepEqual(checked.violations, [], 'values above maxValueBytes');
  const total = storedBytes('burst5/');
  assert.ok(total <= limits.maxTotalBytes, `the store holds ${total} bytes, above maxTotalBytes`);
  assert.deepEqual(wx.__stats.storageFailures, []);
  // Whether the burst outgrew the budget depends on how many sends were still unanswered
  // when a write started; if it did, the client said so with a typed error.
  for (const e of errors) {
    assert.equal(e.name, 'ChatError');
    assert.equal(e.code, 'storage');
    assert.match(e.message, /quota/);
  }
  // Every message is in the client's memory, in order.
  const texts = (await c.messages(conv, { limit: count })).map((m) => m.text);
  assert.equal(texts.length, count);
  assert.equal(texts.at(-1), `${count - 1} ${body}`);
  if (typeof c.free === 'function') c.free();
});

test('the module has no IndexedDB: none imported, and storage "indexeddb" is an invalid-options error', async (t) => {
  // The imports' names are short (scripts/short-imports.cjs): the glue that provides them
  // says what they do (the web entry's names IDBDatabase, IDBKeyRange and others).
  const glue = fs.readFileSync(path.join(PKG_DIR, 'miniprogram', 'imcore_wx.js'), 'utf8');
  const idb = glue.match(/indexedDB|\bIDB[A-Z]\w*/g) || [];
  assert.deepEqual(idb, [], 'IndexedDB imports in the mini-program glue');
  const m = await imcore.loadImcore();
  if (!m.ChatClient) return t.skip('ChatClient is not in this build');
  await assert.rejects(
    m.ChatClient.create({ userId: '9', direct: { url: WS_URL }, storage: 'indexeddb' }),
    (e) => e.name === 'ChatError' && e.code === 'invalid-options' && /web build/.test(e.message),
  );
});

// In-page benchmarks, each beside its plain-JS baseline, driven by bench/browser/run.mjs
// through page.evaluate (one fresh page load per benchmark). Served at /:
//   /pkg/        the release package (scripts/build-wasm.sh release): ChatClient
//   /bench-pkg/  the web module with the bench-only exports (scripts/build-wasm.sh bench)
//   /mqtt-packet.js  mqtt-packet (MQTT.js's codec) bundled for the browser by esbuild
import { parser as mqttParser, generate as mqttGenerate, Buffer } from "/mqtt-packet.js";

const enc = new TextEncoder();

// ---- MQTT 3.1.1 encoding (what a broker writes) ------------------------------------------

function remainingLength(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function publishPacket(topic, payload, qos, id) {
  const t = enc.encode(topic);
  const body = 2 + t.length + (qos > 0 ? 2 : 0) + payload.length;
  const head = [0x30 | (qos << 1), ...remainingLength(body)];
  const out = new Uint8Array(head.length + body);
  out.set(head, 0);
  let o = head.length;
  out[o++] = t.length >> 8;
  out[o++] = t.length & 0xff;
  out.set(t, o);
  o += t.length;
  if (qos > 0) {
    out[o++] = id >> 8;
    out[o++] = id & 0xff;
  }
  out.set(payload, o);
  return out;
}

const pubackPacket = (id) => Uint8Array.of(0x40, 2, id >> 8, id & 0xff);

// The packets laid end to end, cut into `chunk`-byte ArrayBuffers (one per WebSocket
// message, as a broker streaming into one socket delivers them).
function chunked(packets, chunk) {
  const total = packets.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of packets) {
    all.set(p, o);
    o += p.length;
  }
  const out = [];
  for (let i = 0; i < total; i += chunk) out.push(all.slice(i, Math.min(i + chunk, total)).buffer);
  return { chunks: out, bytes: total };
}

// Deterministic PRNG (mulberry32), so every run decodes the same stream.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- 1. MQTT decoder throughput ----------------------------------------------------------

// A mixed stream as a chat client receives it: 80% PUBLISH (half QoS 0, half QoS 1) with
// payloads of 20 B - 2 KB (uniform; JSON-like text) on chat topics, 20% PUBACK.
function mixedStream(packets, chunk) {
  const r = rng(14);
  const list = [];
  const alphabet = enc.encode('{"id":1234567,"msg_content":{"content":"hello world, abcdefghijklmnopqrstuvwxyz"}} ');
  for (let i = 0; i < packets; i++) {
    const id = (i % 65535) + 1;
    const x = r();
    if (x < 0.2) {
      list.push(pubackPacket(id));
      continue;
    }
    const size = 20 + Math.floor(r() * (2048 - 20 + 1));
    const payload = new Uint8Array(size);
    for (let j = 0; j < size; j++) payload[j] = alphabet[(j + i) % alphabet.length];
    list.push(publishPacket(`chat_${1 + (i % 50)}`, payload, x < 0.6 ? 0 : 1, id));
  }
  return { ...chunked(list, chunk), packets };
}

// Feeds the stream to `feed` again and again for at least `ms`; returns packets and bytes
// decoded and the elapsed time.
function timeDecoder(stream, feed, ms) {
  let packets = 0;
  let bytes = 0;
  const start = performance.now();
  let now = start;
  do {
    for (const c of stream.chunks) packets += feed(c);
    bytes += stream.bytes;
    now = performance.now();
  } while (now - start < ms);
  return { packets, bytes, ms: now - start };
}

window.benchDecoder = async ({ packets = 20000, chunk = 16384, ms = 1500, rounds = 3 } = {}) => {
  const { default: init, BenchDecoder } = await import("/bench-pkg/imcore.js");
  await init();
  const stream = mixedStream(packets, chunk);

  const imcore = new BenchDecoder();
  const imcoreFeed = (ab) => imcore.feed(new Uint8Array(ab));
  // MQTT.js: Buffer.from(websocket data) into mqtt-packet's parser, a 'packet' event each.
  const parser = mqttParser({ protocolVersion: 4 });
  let parsed = 0;
  let parsedPayload = 0;
  parser.on("packet", (p) => {
    parsed++;
    if (p.payload) parsedPayload += p.payload.length;
  });
  parser.on("error", (e) => {
    throw e;
  });
  const baseFeed = (ab) => {
    const before = parsed;
    parser.parse(Buffer.from(ab));
    return parsed - before;
  };
  // Both decode the whole stream once, untimed (JIT warm-up), and must agree.
  const a = timeDecoder(stream, imcoreFeed, 0);
  const b = timeDecoder(stream, baseFeed, 0);
  if (a.packets !== packets || b.packets !== packets || imcore.payloadBytes !== parsedPayload) {
    throw new Error(`decoders disagree: imcore ${a.packets} packets / ${imcore.payloadBytes} B, mqtt-packet ${b.packets} / ${parsedPayload} B`);
  }
  const sum = { imcore: { packets: 0, bytes: 0, ms: 0 }, base: { packets: 0, bytes: 0, ms: 0 } };
  for (let i = 0; i < rounds; i++) {
    for (const [k, f] of [["imcore", imcoreFeed], ["base", baseFeed]]) {
      const t = timeDecoder(stream, f, ms);
      sum[k].packets += t.packets;
      sum[k].bytes += t.bytes;
      sum[k].ms += t.ms;
    }
  }
  imcore.free();
  return { streamPackets: packets, streamBytes: stream.bytes, chunks: stream.chunks.length, chunk, ...sum };
};

// ---- memory ------------------------------------------------------------------------------

// The JS heap after a full collection (Chromium runs with --js-flags=--expose-gc and
// --enable-precise-memory-info, bench/browser/run.mjs).
async function jsHeap() {
  if (window.gc) window.gc();
  await new Promise((r) => setTimeout(r, 0));
  if (window.gc) window.gc();
  return performance.memory ? performance.memory.usedJSHeapSize : NaN;
}
const storageUsage = async () => (await navigator.storage.estimate()).usage;

// ---- 2. the 10,000-message backlog -------------------------------------------------------

const ME = 1;
const PEERS = 100;
const T0 = 1717214400000;

function chatPayload(i) {
  const peer = 2 + (i % PEERS);
  return JSON.stringify({
    id: i + 1, conversation_id: `${ME}_${peer}`, sender_id: peer, receiver_id: ME, msg_type: 1,
    msg_content: { content: `message number ${i} of the backlog, sent while you were away` },
    create_time: "2024-06-01 12:00:00", is_read: 0, weight: T0 + i * 10,
    avatar: `https://example.com/avatar/${peer}.png`, nick_name: `user ${peer}`,
  });
}

function backlogStream(count, chunk) {
  const list = [];
  for (let i = 0; i < count; i++) list.push(publishPacket(`chat_${ME}`, enc.encode(chatPayload(i)), 1, (i % 65535) + 1));
  return chunked(list, chunk);
}

// Each chunk in its own task, as WebSocket messages arrive (a MessageChannel message: no
// setTimeout clamping).
function deliverEach(chunks, deliver) {
  const ch = new MessageChannel();
  let i = 0;
  ch.port1.onmessage = () => {
    deliver(chunks[i++]);
    if (i < chunks.length) ch.port2.postMessage(0);
    else ch.port1.close();
  };
  ch.port2.postMessage(0);
}

const idbDone = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});
const dropDb = (name) => new Promise((resolve) => {
  const req = indexedDB.deleteDatabase(name);
  req.onsuccess = req.onerror = req.onblocked = () => resolve();
});

// A TransportFactory playing the broker: CONNACK for CONNECT, SUBACK (QoS 1 granted) for
// SUBSCRIBE, PINGRESP for PINGREQ; `onSubscribed(deliver)` once the first SUBACK is out.
// Counts the PUBACKs the client sends.
function brokerTransport(state, onSubscribed) {
  return () => {
    const t = { onopen: null, onmessage: null, onclose: null, onerror: null };
    const reply = (bytes) => setTimeout(() => t.onmessage && t.onmessage(Uint8Array.from(bytes).buffer), 0);
    t.send = (data) => {
      const b = data instanceof Uint8Array ? data : new Uint8Array(data);
      let o = 0;
      while (o < b.length) {
        const type = b[o] >> 4;
        let len = 0, mul = 1, k = o + 1;
        for (;;) {
          const x = b[k++];
          len += (x & 0x7f) * mul;
          mul *= 128;
          if (!(x & 0x80)) break;
        }
        const body = b.subarray(k, k + len);
        if (type === 1) reply([0x20, 2, 0, 0]);
        else if (type === 8) {
          let filters = 0;
          for (let p = 2; p < body.length; p += 2 + ((body[p] << 8) | body[p + 1]) + 1) filters++;
          reply([0x90, 2 + filters, body[0], body[1], ...new Array(filters).fill(1)]);
          if (!state.subscribed) {
            state.subscribed = true;
            setTimeout(() => onSubscribed((ab) => t.onmessage(ab)), 0);
          }
        } else if (type === 12) reply([0xd0, 0]);
        else if (type === 4) state.pubacks++;
        o = k + len;
      }
    };
    t.close = () => setTimeout(() => t.onclose && t.onclose("closed"), 0);
    setTimeout(() => t.onopen && t.onopen(), 0);
    return t;
  };
}

// Resolves when imcore's IndexedDB holds `count` messages: a readonly count() waits for the
// readwrite transactions created before it, so it sees what has been committed. Polled from
// when the last `message` event reached the page.
async function waitPersisted(dbName, count) {
  const db = await idbDone(indexedDB.open(dbName));
  try {
    for (;;) {
      // One entry per stored message in the blocks' multi-entry server id index.
      const n = await idbDone(db.transaction("blocks").objectStore("blocks").index("server_id").count());
      if (n >= count) return performance.now();
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    db.close();
  }
}

window.benchBacklogImcore = async ({ count = 10000, chunk = 16384 } = {}) => {
  const { default: init, ChatClient } = await import("/pkg/index.js");
  const wasm = await init();
  await dropDb(`imcore-${ME}`);
  const { chunks, bytes } = backlogStream(count, chunk);
  const state = { subscribed: false, pubacks: 0 };
  let start = 0;
  let received = 0;
  let toPage;
  const allReceived = new Promise((resolve) => { toPage = resolve; });
  const transport = brokerTransport(state, (deliver) => {
    start = performance.now();
    deliverEach(chunks, deliver);
  });
  const client = await ChatClient.create({
    userId: String(ME), direct: { url: "ws://127.0.0.1:9/mqtt" }, transport, presence: false,
    storage: "indexeddb", logLevel: "warn",
  });
  client.on("message", () => {
    if (++received === count) toPage(performance.now());
  });
  const heapBefore = await jsHeap();
  const wasmBefore = wasm.memory.buffer.byteLength;
  client.connect();
  const pageAt = await allReceived;
  const persistedAt = await waitPersisted(`imcore-${ME}`, count);
  const conversations = client.conversations().length;
  // Memory the client holds for the 10,000 loaded messages: wasm linear memory growth
  // (it never shrinks: the high-water mark) plus the JS heap's.
  const loadedBytes = wasm.memory.buffer.byteLength - wasmBefore + ((await jsHeap()) - heapBefore);
  await client.disconnect();
  return { toPage: pageAt - start, persisted: persistedAt - start, bytes, chunks: chunks.length, conversations, pubacks: state.pubacks, loadedBytes };
};

// Plain JS: what an MQTT.js app's on('message') does: mqtt-packet parses, a PUBACK is
// generated, the payload is JSON.parsed and handed to a (DOM-free) callback, then put into
// IndexedDB in a transaction of its own.
window.benchBacklogPlain = async ({ count = 10000, chunk = 16384 } = {}) => {
  const name = "plain-backlog";
  await dropDb(name);
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      const s = req.result.createObjectStore("messages", { keyPath: "id" });
      s.createIndex("order", ["conversation_id", "weight"]);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const { chunks, bytes } = backlogStream(count, chunk);
  const parser = mqttParser({ protocolVersion: 4 });
  let received = 0;
  let toPage;
  const allReceived = new Promise((resolve) => { toPage = resolve; });
  const writes = [];
  let ui = 0;
  const kept = [];
  const onChatMessage = (m) => {
    ui += m.id;
    kept.push(m);
  };
  const heapBefore = await jsHeap();
  parser.on("packet", (p) => {
    if (p.cmd !== "publish") return;
    if (p.qos === 1) mqttGenerate({ cmd: "puback", messageId: p.messageId });
    const m = JSON.parse(p.payload.toString());
    onChatMessage(m);
    if (++received === count) toPage(performance.now());
    const tx = db.transaction("messages", "readwrite");
    tx.objectStore("messages").put(m);
    writes.push(new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); }));
  });
  const start = performance.now();
  deliverEach(chunks, (ab) => parser.parse(Buffer.from(ab)));
  const pageAt = await allReceived;
  await Promise.all(writes);
  const persistedAt = performance.now();
  writes.length = 0;
  // What the app's state (the parsed messages it keeps) holds on the JS heap.
  const loadedBytes = (await jsHeap()) - heapBefore;
  db.close();
  await dropDb(name);
  return { toPage: pageAt - start, persisted: persistedAt - start, bytes, checksum: ui, kept: kept.length, loadedBytes };
};

// ---- 3. cold start ----------------------------------------------------------------------

const COLD_USER = 7;

// Seeds both layouts, untimed: imcore's through its store and IndexedDB backend
// (benchSeed), plain JS's as one record per message plus one per conversation (what the
// list shows: peer, last message, last activity, unread), in transactions of 10,000.
window.seedColdStart = async ({ conversations = 1000, perConversation = 100 } = {}) => {
  const { default: init, benchSeed } = await import("/bench-pkg/imcore.js");
  await init();
  await dropDb(`imcore-${COLD_USER}`);
  await dropDb("plain-cold");
  const usage0 = await storageUsage();
  const t = performance.now();
  await benchSeed(COLD_USER, conversations, perConversation);
  const imcoreMs = performance.now() - t;
  const usage1 = await storageUsage();
  const name = "plain-cold";
  await dropDb(name);
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      const m = req.result.createObjectStore("messages", { keyPath: "id" });
      m.createIndex("order", ["conversation_id", "weight"]);
      const c = req.result.createObjectStore("conversations", { keyPath: "conversation_id" });
      c.createIndex("last_activity", "last_activity");
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const total = conversations * perConversation;
  const last = new Map();
  for (let base = 0; base < total; base += 10000) {
    const tx = db.transaction(["messages", "conversations"], "readwrite");
    const ms = tx.objectStore("messages");
    for (let i = base; i < Math.min(base + 10000, total); i++) {
      const peer = COLD_USER + 1 + (i % conversations);
      const m = {
        id: i + 1, conversation_id: `${COLD_USER}_${peer}`, sender_id: peer, receiver_id: COLD_USER,
        msg_type: 1, msg_content: { content: `message number ${i} of the history` },
        weight: T0 + i * 10, is_read: 0, status: 1,
      };
      ms.put(m);
      const c = last.get(m.conversation_id) || { conversation_id: m.conversation_id, peer_id: peer, unread: 0 };
      c.last_message = m;
      c.last_activity = m.weight;
      c.unread++;
      last.set(m.conversation_id, c);
    }
    if (base + 10000 >= total) for (const c of last.values()) tx.objectStore("conversations").put(c);
    await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
  }
  db.close();
  const plainMs = performance.now() - t - imcoreMs;
  const usage2 = await storageUsage();
  return { imcoreMs, plainMs, imcoreStoredBytes: usage1 - usage0, plainStoredBytes: usage2 - usage1, messages: total };
};

// In a freshly loaded page: the package's wasm fetched and instantiated (init), then
// ChatClient.create to the conversation list: the first `conversations` event, or create
// resolving with the list already there (whichever the page sees first).
window.coldStartImcore = async ({ conversations = 1000 } = {}) => {
  const t0 = performance.now();
  const { default: init, ChatClient } = await import("/pkg/index.js");
  await init();
  const t1 = performance.now();
  let eventAt = null;
  let eventLength = 0;
  let created;
  const client = await ChatClient.create({
    userId: String(COLD_USER), direct: { url: "ws://127.0.0.1:9/mqtt" }, presence: false, logLevel: "warn",
  });
  created = performance.now();
  const atCreate = client.conversations().length;
  client.on("conversations", (list) => {
    if (eventAt === null) {
      eventAt = performance.now();
      eventLength = list.length;
    }
  });
  if (atCreate < conversations) {
    const deadline = performance.now() + 10000;
    while (eventAt === null && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  }
  const listAt = atCreate >= conversations ? created : eventAt;
  const length = atCreate >= conversations ? atCreate : eventLength;
  await client.disconnect();
  return { instantiate: t1 - t0, toList: listAt - t1, total: listAt - t0, length, atCreate, createMs: created - t1 };
};

// Plain JS: open its database and read the conversation list, most recent first.
window.coldStartPlain = async () => {
  const t0 = performance.now();
  const db = await idbDone(indexedDB.open("plain-cold"));
  const rows = await idbDone(db.transaction("conversations").objectStore("conversations").index("last_activity").getAll());
  rows.reverse();
  const ms = performance.now() - t0;
  db.close();
  return { toList: ms, length: rows.length };
};

window.ready = true;

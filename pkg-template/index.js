// The package's web entry: the wasm module (imcore.js), with a ChatClient that every tab of
// a user shares.
//
// One tab per user and browser profile holds the connection and writes local history: the
// leader, elected with the Web Locks API (the browser releases the lock when the tab
// closes, reloads or crashes). Every other tab is a follower and a full client to its
// page: it keeps a mirror of the leader's state (a snapshot when it starts, then every
// event, in order, over a BroadcastChannel), draws its own drafts (local id and weight, by
// the engine's rules in its own wasm client, which never connects) and sends its calls to
// the leader, which settles them. When the leader goes, a follower takes the lock, opens
// the history, takes in what its mirror holds that the history lacks, connects (the broker
// resumes the persistent session) and carries out the calls still open.
//
// Every rule (what is read, what is sent once, what a draft looks like) is the engine's,
// in the wasm module; this file only moves calls, events and state between tabs.
// Where there is no Web Locks or BroadcastChannel (an old WebView), ChatClient is the wasm
// one: one connected client per user in this JS context.
import init, * as wasm from "./imcore.js";

export * from "./imcore.js";
export default init;

const Wasm = wasm.ChatClient;
const EVENTS = [
  "status", "message", "messageUpdated", "messageRemoved", "conversations",
  "unreadTotal", "revoke", "read", "presence", "error",
];
const TABS =
  typeof navigator !== "undefined" && !!navigator.locks && typeof BroadcastChannel === "function";
/** How often a follower asks for the leader's state until it answers. */
const HELLO_MS = 250;
/** How often the leader forgets the views of tabs that went away without a word. */
const SWEEP_MS = 2000;

const randomId = () => {
  const a = new Uint32Array(2);
  crypto.getRandomValues(a);
  return a[0].toString(36) + a[1].toString(36);
};

/** A plain copy of an error (structured clone keeps no `code`). */
const errorData = (e) => ({
  name: (e && e.name) || "ChatError",
  message: String((e && e.message) || e),
  code: e && e.code,
  backendCode: e && e.backendCode,
});

function errorOf(d) {
  const e = new Error(d.message);
  e.name = d.name || "ChatError";
  if (d.code !== undefined) e.code = d.code;
  if (d.backendCode !== undefined) e.backendCode = d.backendCode;
  return e;
}

/** The calls a follower sends to the leader, and how the leader carries each out. */
const REMOTE = {
  sendDraft: (c, draft) => c.sendDraft(draft).done,
  resend: (c, key) => c.resend(key).done,
  revoke: (c, key) => c.revoke(key),
  markRead: (c, id) => c.markRead(id),
  messages: (c, id, options) => c.messages(id, options),
  joinRoom: (c, id) => c.joinRoom(id),
  leaveRoom: (c, id) => c.leaveRoom(id),
  deleteMessage: (c, key) => c.deleteMessage(key),
  deleteConversation: (c, id) => c.deleteConversation(id),
  logout: (c) => c.logout(),
  connect: (c) => {
    if (c.status() === "idle") c.connect();
  },
};

export class ChatClient {
  /** The conversation id of two users' 1:1 chat ("1_2"). */
  static conversationIdOf(a, b) {
    return Wasm.conversationIdOf(a, b);
  }

  /** How long after sending a message its sender may revoke it, in ms of server time. */
  static revokeWindowMs() {
    return Wasm.revokeWindowMs();
  }

  /** Opens the client; in a browser it joins the other tabs of the user (see above). */
  static async create(options) {
    if (!TABS || !options || typeof options !== "object") return Wasm.create(options);
    const user = options && options.userId;
    const tab = new Tabs(options, String(user));
    await tab.start();
    return tab.client;
  }
}

/** The tab's side of the sharing: its role, the channel, the mirror, the open calls. */
class Tabs {
  constructor(options, user) {
    this.options = options;
    this.user = user;
    this.id = randomId();
    this.lockName = `imcore:leader:${user}`;
    this.channel = new BroadcastChannel(`imcore:${user}`);
    this.listeners = new Map(EVENTS.map((n) => [n, []]));
    this.inner = null; // a follower's draft client; the real one once leader
    this.role = "follower";
    this.stale = false; // the mirror is the old leader's, a new one's state is on its way
    this.wantConnect = false;
    this.view = null; // the conversation this tab shows
    this.visible = typeof document === "undefined" || document.visibilityState !== "hidden";
    this.closed = false;
    // Follower: the leader's state, and the events that came before it.
    this.mirror = null;
    this.early = [];
    this.calls = new Map(); // id -> { method, args, resolve, reject }
    this.seq = 0;
    // Leader: the tabs that follow it (they said hello, called or sent a view; gone on bye
    // or when their tab lock is). With none, events are not posted: a tab that comes later
    // starts from a snapshot, which holds everything before it.
    this.followers = new Set();
    // Leader: the events the real client hands this tab. Only those its page listens to,
    // or all once a follower is there: the client converts an event for JS only when
    // someone listens (a page without a conversation list pays nothing for one).
    this.subscribed = new Set();
    this.client = new SharedClient(this);
    this.channel.onmessage = (e) => this.onMessage(e.data);
  }

  async start() {
    const leader = await new Promise((resolve) => {
      navigator.locks.request(this.lockName, { ifAvailable: true }, (lock) => {
        if (!lock) return resolve(false);
        resolve(true);
        return this.holdLock();
      });
    });
    try {
      if (leader) {
        // The first tab opens the real client at once, with no draft client before it:
        // start-up is what the page waits for. Its errors (invalid options) are create()'s.
        await this.lead(true);
      } else {
        // A follower's draft client validates the options and draws this tab's drafts. It
        // keeps them in memory, but a storage other than IndexedDB goes through as given,
        // so one this build lacks (a KeyValueStore: the mini-program's) is rejected here
        // with `invalid-options`, not later when this tab takes over.
        const storage = this.options.storage;
        this.inner = await Wasm.create({
          ...this.options,
          storage: storage === undefined || storage === null || storage === "indexeddb" ? "memory" : storage,
        });
      }
    } catch (e) {
      this.closed = true;
      this.channel.close();
      throw e;
    }
    // This tab's own lock: held while it lives, so the leader can tell it went away.
    navigator.locks.request(`imcore:tab:${this.user}:${this.id}`, () => new Promise((release) => {
      this.releaseTabLock = release;
    }));
    if (typeof document !== "undefined") {
      document.addEventListener("visibilitychange", () => {
        this.visible = document.visibilityState !== "hidden";
        this.sendView();
      });
    }
    if (typeof addEventListener === "function") {
      addEventListener("pagehide", () => {
        // The leader stops taking messages first: one acknowledged to the broker now might
        // never reach the other tabs (the page is going), while one left unacknowledged
        // comes again to the next leader. The session stays at the broker.
        if (this.role === "leader" && this.inner && !this.closed) this.inner.disconnect();
        this.post({ t: "bye", tab: this.id });
      });
    }
    if (leader) return;
    // In line for the lock (it is granted when the leader goes), and the leader's state
    // before the page gets the client.
    const ready = this.awaitSnapshot();
    navigator.locks.request(this.lockName, async () => {
      if (this.closed) return;
      await this.lead();
      if (this.snapshotReady) {
        const done = this.snapshotReady;
        this.snapshotReady = null;
        done();
      }
      return this.holdLock();
    });
    await ready;
  }

  holdLock() {
    return new Promise((release) => {
      this.releaseLock = release;
    });
  }

  post(message) {
    try {
      this.channel.postMessage(message);
    } catch (e) {
      console.error("[imcore] tab channel:", e);
    }
  }

  // ---- the leader ------------------------------------------------------------------------

  /**
   * Becomes the leader: the real client over the history, with what the mirror holds that
   * the history lacks (the old leader may have gone mid-write), the same loaded pages, and
   * the page told what changed. The draft client serves until then.
   */
  async lead(first = false) {
    let inner;
    try {
      inner = await Wasm.create(this.options);
    } catch (e) {
      if (this.releaseLock) this.releaseLock();
      if (first) throw e;
      console.error("[imcore] this tab could not take over:", e);
      return;
    }
    const mirror = this.mirror;
    if (mirror) {
      inner.adopt(this.recordsOfMirror());
      await Promise.all(
        [...mirror.loaded].map(([id, list]) =>
          list.length ? inner.messages(id, { limit: list.length }).catch(() => []) : null,
        ),
      );
      // Events the old leader sent just before it went reached the mirror meanwhile.
      inner.adopt(this.recordsOfMirror());
    }
    const probe = this.inner;
    this.inner = inner;
    this.role = "leader";
    this.mirror = null;
    this.stale = false;
    if (probe) probe.free();
    if (mirror) this.reconcile(mirror, (id) => inner.loadedMessages(id), inner.conversations(), inner.unreadTotal());
    this.subscribed = new Set();
    for (const name of EVENTS) {
      if (this.followers.size || this.listeners.get(name).length) this.listen(name);
    }
    inner.setView("", this.view, this.visible);
    this.emit("status", inner.statusEvent());
    // Followers hear of the new leader before any of its events.
    this.post({ t: "leader", tab: this.id });
    if (this.wantConnect) inner.connect();
    // Calls the old leader left open are this tab's now.
    for (const [id, call] of this.calls) {
      this.calls.delete(id);
      this.run(call.method, call.args).then(call.resolve, call.reject);
    }
    this.sweep = setInterval(() => this.sweepViews(), SWEEP_MS);
  }

  /** As the leader, hears the real client's `name` events from now on. */
  listen(name) {
    if (this.role !== "leader" || !this.inner || this.subscribed.has(name)) return;
    this.subscribed.add(name);
    this.inner.on(name, (payload) => this.leaderEvent(name, payload));
  }

  leaderEvent(name, payload) {
    this.emit(name, name === "status" ? { ...payload, role: "leader" } : payload);
    const seq = ++this.seq;
    if (this.followers.size === 0) return;
    const message = { t: "event", seq, name, payload };
    if ((name === "message" || name === "messageUpdated") && payload.message) {
      message.record = this.inner.recordOf(payload.message.key);
    }
    this.post(message);
  }

  /**
   * Tells the page how its lists become the new ones (a hand-over): removals, then
   * insertions and updates, each at its index, as the events would have.
   */
  reconcile(old, listOf, conversations, unreadTotal) {
    for (const [id, before] of old.loaded) {
      const after = listOf(id);
      const keep = new Set(after.map((m) => m.key));
      const cur = before.slice();
      for (let i = cur.length - 1; i >= 0; i--) {
        if (!keep.has(cur[i].key)) {
          const [m] = cur.splice(i, 1);
          this.emit("messageRemoved", { conversationId: id, index: i, key: m.key });
        }
      }
      after.forEach((m, i) => {
        const j = cur.findIndex((x) => x.key === m.key);
        if (j === i) {
          if (JSON.stringify(cur[i]) !== JSON.stringify(m)) {
            cur[i] = m;
            this.emit("messageUpdated", { conversationId: id, index: i, message: m });
          }
          return;
        }
        if (j > i) {
          cur.splice(j, 1);
          this.emit("messageRemoved", { conversationId: id, index: j, key: m.key });
        }
        cur.splice(i, 0, m);
        this.emit("message", { conversationId: id, index: i, message: m });
      });
    }
    if (JSON.stringify(old.conversations) !== JSON.stringify(conversations)) this.emit("conversations", conversations);
    if (old.unreadTotal !== unreadTotal) this.emit("unreadTotal", unreadTotal);
  }

  snapshot() {
    const c = this.inner;
    const loaded = [];
    const records = [];
    for (const conv of c.conversations()) {
      const list = c.loadedMessages(conv.id);
      loaded.push([conv.id, list]);
      for (const m of list) records.push([m.key, c.recordOf(m.key)]);
    }
    return {
      seq: this.seq,
      conversations: c.conversations(),
      unreadTotal: c.unreadTotal(),
      status: c.statusEvent(),
      clockOffset: c.clockOffset(),
      loaded,
      records,
    };
  }

  run(method, args) {
    const f = REMOTE[method];
    if (!f) return Promise.reject(errorOf({ code: "invalid-argument", message: `no call ${method}` }));
    try {
      return Promise.resolve(f(this.inner, ...args));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async sweepViews() {
    if (!this.inner) return;
    const held = new Set(((await navigator.locks.query()).held || []).map((l) => l.name));
    const gone = (tab) => !held.has(`imcore:tab:${this.user}:${tab}`);
    for (const tab of this.inner.viewTabs()) {
      if (gone(tab)) this.inner.setView(tab, null, false);
    }
    for (const tab of this.followers) if (gone(tab)) this.followers.delete(tab);
  }

  // ---- the channel -----------------------------------------------------------------------

  onMessage(m) {
    if (!m || typeof m !== "object") return;
    if (this.role === "leader") {
      if (!this.inner) return;
      if (m.t === "hello" || m.t === "call" || m.t === "view") {
        this.followers.add(m.tab);
        for (const name of EVENTS) this.listen(name);
      }
      switch (m.t) {
        case "event":
          // The old leader's last words, after this tab took over: keep what it had.
          if (m.record) this.inner.adopt([m.record]);
          return;
        case "hello":
          return this.post({ t: "snapshot", to: m.tab, ...this.snapshot() });
        case "call":
          return this.run(m.method, m.args).then(
            (value) => this.post({ t: "done", to: m.tab, id: m.id, ok: true, value }),
            (e) => this.post({ t: "done", to: m.tab, id: m.id, ok: false, error: errorData(e) }),
          );
        case "view":
          return this.inner.setView(m.tab, m.open, m.visible);
        case "bye":
          this.followers.delete(m.tab);
          return this.inner.setView(m.tab, null, false);
        default:
          return;
      }
    }
    switch (m.t) {
      case "snapshot":
        if (m.to === this.id) this.takeSnapshot(m);
        return;
      case "event":
        if (!this.mirror || this.stale) this.early.push(m);
        else if (m.seq > this.mirror.seq) this.apply(m);
        return;
      case "done": {
        const call = m.to === this.id && this.calls.get(m.id);
        if (!call) return;
        this.calls.delete(m.id);
        if (m.ok) call.resolve(m.value);
        else call.reject(errorOf(m.error));
        return;
      }
      case "leader":
        // A new leader: its state will replace the mirror (kept meanwhile, so the page
        // still reads something); open calls go to it.
        this.stale = !!this.mirror;
        this.early = [];
        this.hello();
        for (const [id, call] of this.calls) this.post({ t: "call", tab: this.id, id, method: call.method, args: call.args });
        return;
      default:
        return;
    }
  }

  // ---- a follower ------------------------------------------------------------------------

  hello() {
    this.post({ t: "hello", tab: this.id });
    this.sendView();
  }

  awaitSnapshot() {
    return new Promise((resolve) => {
      this.snapshotReady = resolve;
      this.hello();
      this.helloTimer = setInterval(() => {
        if (this.mirror || this.role === "leader") {
          clearInterval(this.helloTimer);
        } else {
          this.hello();
        }
      }, HELLO_MS);
    });
  }

  takeSnapshot(s) {
    if (this.mirror && !this.stale) return; // an answer to an earlier hello
    const first = !this.mirror && this.snapshotReady;
    const old = this.stale ? this.mirror : null;
    this.stale = false;
    this.mirror = {
      seq: s.seq,
      conversations: s.conversations,
      unreadTotal: s.unreadTotal,
      status: s.status,
      clockOffset: s.clockOffset,
      loaded: new Map(s.loaded),
      records: new Map(s.records),
    };
    if (s.clockOffset !== null && s.clockOffset !== undefined && this.inner) this.inner.assumeClockOffset(s.clockOffset);
    for (const m of this.early) if (m.seq > s.seq) this.apply(m);
    this.early = [];
    if (first) {
      const ready = this.snapshotReady;
      this.snapshotReady = null;
      ready();
      // After create() resolved: the page's listeners hear this tab's status and role.
      setTimeout(() => this.mirror && this.role === "follower" && this.emit("status", { ...this.mirror.status, role: "follower" }), 0);
    } else if (old) {
      // A new leader's state: the page hears what changed.
      this.reconcile(old, (id) => this.mirror.loaded.get(id) || [], this.mirror.conversations, this.mirror.unreadTotal);
      this.emit("status", { ...this.mirror.status, role: "follower" });
    }
  }

  apply(m) {
    const mirror = this.mirror;
    mirror.seq = m.seq;
    const p = m.payload;
    const list = (id) => {
      let l = mirror.loaded.get(id);
      if (!l) mirror.loaded.set(id, (l = []));
      return l;
    };
    switch (m.name) {
      case "message":
        list(p.conversationId).splice(p.index, 0, p.message);
        break;
      case "messageUpdated":
        list(p.conversationId)[p.index] = p.message;
        break;
      case "messageRemoved":
        list(p.conversationId).splice(p.index, 1);
        mirror.records.delete(p.key);
        break;
      case "conversations":
        mirror.conversations = p;
        break;
      case "unreadTotal":
        mirror.unreadTotal = p;
        break;
      case "status":
        mirror.status = p;
        break;
      default:
        break;
    }
    if (m.record && p.message) mirror.records.set(p.message.key, m.record);
    this.emit(m.name, m.name === "status" ? { ...p, role: "follower" } : p);
  }

  recordsOfMirror() {
    return this.mirror ? [...this.mirror.records.values()].filter((r) => typeof r === "string") : [];
  }

  /** A call carried out by the leader (this tab's own client once it leads). */
  call(method, ...args) {
    if (this.role === "leader") return this.run(method, args);
    return new Promise((resolve, reject) => {
      const id = randomId();
      this.calls.set(id, { method, args, resolve, reject });
      this.post({ t: "call", tab: this.id, id, method, args });
    });
  }

  sendView() {
    if (this.role === "leader") {
      if (this.inner) this.inner.setView("", this.view, this.visible);
    } else {
      this.post({ t: "view", tab: this.id, open: this.view, visible: this.visible });
    }
  }

  emit(name, payload) {
    for (const f of [...(this.listeners.get(name) || [])]) {
      try {
        f(payload);
      } catch (e) {
        console.error("[imcore] a ChatClient listener threw", e);
      }
    }
  }
}

/** What the page holds: the same methods in every tab, whatever its role. */
class SharedClient {
  #t;

  constructor(tabs) {
    this.#t = tabs;
  }

  /** "leader" or "follower". */
  role() {
    return this.#t.role;
  }

  connect() {
    const t = this.#t;
    t.wantConnect = true;
    if (t.role === "leader") t.inner.connect();
    else t.call("connect").catch(() => {});
  }

  wake() {
    if (this.#t.role === "leader") this.#t.inner.wake();
  }

  /** Leader: says goodbye and disconnects. Follower: this tab leaves; the connection stays. */
  async disconnect() {
    const t = this.#t;
    t.wantConnect = false;
    if (t.role === "leader") return t.inner.disconnect();
    t.post({ t: "bye", tab: t.id });
  }

  logout() {
    return this.#t.call("logout");
  }

  status() {
    const t = this.#t;
    if (t.role === "leader") return t.inner.status();
    return t.mirror ? t.mirror.status.status : "idle";
  }

  sendText(conversationId, text) {
    return this.#send(conversationId, "text", text);
  }

  sendImage(conversationId, url, cover) {
    return this.#send(conversationId, "image", url, cover);
  }

  sendVideo(conversationId, url, cover) {
    return this.#send(conversationId, "video", url, cover);
  }

  #send(conversationId, kind, main, cover) {
    const t = this.#t;
    if (t.role === "leader") {
      const m = { text: "sendText", image: "sendImage", video: "sendVideo" }[kind];
      return t.inner[m](conversationId, main, cover);
    }
    const message = t.inner.draft(conversationId, kind, main, cover);
    return { message, done: t.call("sendDraft", message) };
  }

  resend(key) {
    const t = this.#t;
    if (t.role === "leader") return t.inner.resend(key);
    const held = this.#find(key);
    if (!held) throw errorOf({ code: "not-found", message: `no message with key ${key}` });
    return { message: { ...held, status: "sending" }, done: t.call("resend", key) };
  }

  revoke(key) {
    return this.#t.call("revoke", key);
  }

  markRead(conversationId) {
    return this.#t.call("markRead", conversationId);
  }

  openConversation(conversationId) {
    this.#t.view = conversationId;
    this.#t.sendView();
  }

  closeConversation() {
    this.#t.view = null;
    this.#t.sendView();
  }

  conversations() {
    const t = this.#t;
    if (t.role === "leader") return t.inner.conversations();
    return t.mirror ? t.mirror.conversations : [];
  }

  unreadTotal() {
    const t = this.#t;
    if (t.role === "leader") return t.inner.unreadTotal();
    return t.mirror ? t.mirror.unreadTotal : 0;
  }

  loadedMessages(conversationId) {
    const t = this.#t;
    if (t.role === "leader") return t.inner.loadedMessages(conversationId);
    return t.mirror ? [...(t.mirror.loaded.get(conversationId) || [])] : [];
  }

  messages(conversationId, options) {
    return this.#t.call("messages", conversationId, options);
  }

  joinRoom(roomId) {
    return this.#t.call("joinRoom", roomId);
  }

  leaveRoom(roomId) {
    return this.#t.call("leaveRoom", roomId);
  }

  deleteMessage(key) {
    return this.#t.call("deleteMessage", key);
  }

  deleteConversation(conversationId) {
    return this.#t.call("deleteConversation", conversationId);
  }

  clockOffset() {
    const t = this.#t;
    if (t.role === "leader") return t.inner.clockOffset();
    return t.mirror ? t.mirror.clockOffset : null;
  }

  on(event, listener) {
    const list = this.#t.listeners.get(event);
    if (!list) throw errorOf({ code: "invalid-argument", message: `unknown event: ${event}` });
    if (typeof listener !== "function") {
      throw errorOf({ code: "invalid-argument", message: "a listener is a function" });
    }
    list.push(listener);
    this.#t.listen(event);
    return () => this.off(event, listener);
  }

  off(event, listener) {
    const list = this.#t.listeners.get(event);
    if (!list) throw errorOf({ code: "invalid-argument", message: `unknown event: ${event}` });
    const at = list.indexOf(listener);
    if (at >= 0) list.splice(at, 1);
  }

  #find(key) {
    for (const list of this.#t.mirror ? this.#t.mirror.loaded.values() : []) {
      const m = list.find((x) => x.key === key || x.id === key);
      if (m) return m;
    }
    return null;
  }

  /** Frees this tab's client: it leaves the other tabs (a leader lets another take over). */
  free() {
    const t = this.#t;
    t.closed = true;
    clearInterval(t.sweep);
    clearInterval(t.helloTimer);
    t.post({ t: "bye", tab: t.id });
    if (t.inner) t.inner.free();
    t.inner = null;
    if (t.releaseLock) t.releaseLock();
    if (t.releaseTabLock) t.releaseTabLock();
    t.channel.close();
  }
}

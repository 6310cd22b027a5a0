// Shared pieces of the end-to-end tests: the stack (from scripts/test-e2e.sh's environment),
// Chromium through playwright-core, and the demo page driven as a person would (clicks and
// typing), with assertions on what it displays.
//
// Environment (RUNDIR/stack.env of scripts/stack.sh, exported by scripts/test-e2e.sh):
//   HTTP_URL   the server, which also serves the built page (www/dist)
//   RUNDIR     the stack's folder, for scripts/stack.sh restart-broker / stop-server / …
//   WS_URL     the broker's WebSocket listener (on a cluster: the first node's)
//   WS_URLS    on a cluster (scripts/stack.sh --broker rabbitmq): every node's, comma-separated
//   BROKER     mosquitto | rabbitmq
//   CHROMIUM   (optional) default /usr/bin/chromium
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, beforeEach } from "node:test";
import { promisify } from "node:util";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../chromium.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BASE = process.env.HTTP_URL;
export const RUNDIR = process.env.RUNDIR;
export const WS_URL = process.env.WS_URL;
/** Every broker node's WebSocket URL (one for Mosquitto). */
export const WS_URLS = (process.env.WS_URLS || WS_URL || "").split(",").filter(Boolean);
export const BROKER = process.env.BROKER || "mosquitto";
export const SHOTS = path.join(ROOT, "build", "e2e-screenshots");
/** How long any awaited condition may take. */
export const WAIT_MS = 15_000;


const log = (msg) => process.stderr.write(`${msg}\n`);

export function checkEnv() {
  assert.ok(BASE && RUNDIR, "run through scripts/test-e2e.sh (HTTP_URL and RUNDIR of a stack started with --test-hooks --www www/dist)");
}

/**
 * One Chromium per test file (a fresh temporary profile; each context is fresh too).
 * playwright-core closes it if this process gets SIGINT / SIGTERM / SIGHUP.
 */
export async function launch() {
  checkEnv();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
  return browser;
}

// ---- the backend ------------------------------------------------------------------------

export async function http(method, route, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(BASE + route, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  return { status: res.status, json };
}

async function ok(method, route, opts) {
  const { status, json } = await http(method, route, opts);
  assert.equal(json.code, 0, `${method} ${route}: HTTP ${status} ${JSON.stringify(json)}`);
  return json.data;
}

export const login = async (userId) => (await ok("POST", "/login", { body: { user_id: userId } })).token;
export const connConfig = (token) => ok("GET", "/mqtt/conn-config", { token });
export const advanceServerClock = (ms) => ok("POST", "/test/clock", { body: { advance_ms: ms } });

/**
 * A clean slate: the server forgets messages, conversations and memberships and resets its
 * clock, and the broker forgets the persistent sessions of users 1–3 (a clean-session
 * connect as chat_N drops whatever an earlier test left queued for N).
 */
export async function resetBackend() {
  await ok("POST", "/test/reset");
  const mqtt = (await import("mqtt")).default;
  for (const user of ["1", "2", "3"]) {
    const cfg = await connConfig(await login(user));
    // The first node that answers (a cluster test may have killed one).
    let last;
    for (const url of WS_URLS) {
      try {
        const client = await mqtt.connectAsync(url, {
          clientId: cfg.client_id,
          username: String(cfg.user_id),
          password: cfg.password,
          clean: true,
          reconnectPeriod: 0,
          connectTimeout: 5_000,
          protocolVersion: 4,
        });
        await client.endAsync();
        last = null;
        break;
      } catch (e) {
        last = e;
      }
    }
    if (last) throw last;
  }
}

const pexec = promisify(execFile);

/**
 * `scripts/stack.sh CMD RUNDIR [ARGS…]`: restart-broker, stop-server, start-server, status,
 * kill-node N (a cluster's node N, SIGKILL).
 */
export async function stack(cmd, ...args) {
  const { stdout } = await pexec(path.join(ROOT, "scripts", "stack.sh"), [cmd, RUNDIR, ...args], {
    cwd: ROOT,
    timeout: 60_000,
  });
  return stdout;
}

// ---- the page, as a user ------------------------------------------------------------------

/**
 * Records every status the page displays (data-status of the status line), so a test can
 * tell that a status was shown even if only for a moment.
 */
function recordStatuses() {
  window.__statuses = [];
  const seen = (el) => {
    const s = el.getAttribute("data-status");
    if (s && window.__statuses.at(-1) !== s) window.__statuses.push(s);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.target instanceof Element && r.target.matches('[data-testid="status"]')) seen(r.target);
      for (const n of r.addedNodes) {
        if (n instanceof Element) n.querySelectorAll('[data-testid="status"]').forEach(seen);
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"] });
}

export class User {
  constructor(id, context, page) {
    this.id = id;
    this.context = context;
    this.page = page;
    this.errors = [];
    this.dialogs = [];
    /** Passwords from each GET /mqtt/conn-config answer, in order. */
    this.passwords = [];
  }

  /**
   * A fresh browser context (its own IndexedDB) at the login screen, logged in as `id` by
   * clicking the user's button. `init` is an extra init script (e.g. a skewed clock).
   */
  static async open(browser, id, { init, viewport = { width: 1100, height: 720 } } = {}) {
    const context = await browser.newContext({ viewport });
    if (init) await context.addInitScript(init);
    await context.addInitScript(recordStatuses);
    return User.login(id, context);
  }

  /** Another tab of this user in the same browser profile, logged in as the same user. */
  openTab() {
    return User.login(this.id, this.context);
  }

  /** A new page of `context`, logged in as `id`. */
  static async login(id, context) {
    const page = await context.newPage();
    const user = new User(id, context, page);
    page.on("console", (m) => {
      const text = m.text();
      // Failed fetches and sockets are expected while a test has the backend or broker down.
      if (m.type() === "error" && !/ERR_CONNECTION_REFUSED|ERR_FAILED|Failed to load resource|WebSocket connection/.test(text)) {
        user.errors.push(text);
        log(`  [user ${id}] console.error: ${text}`);
      }
    });
    page.on("pageerror", (e) => {
      user.errors.push(String(e));
      log(`  [user ${id}] pageerror: ${e.stack || e}`);
    });
    page.on("dialog", (d) => {
      user.dialogs.push(d.message());
      void d.dismiss();
    });
    page.on("response", async (res) => {
      if (!res.url().includes("/mqtt/conn-config")) return;
      try {
        const body = await res.json();
        if (body.code === 0) user.passwords.push(body.data.password);
      } catch {
        /* the page went away */
      }
    });
    await page.goto(`${BASE}/`);
    await page.locator(`[data-testid="login-user"][data-user-id="${id}"]`).click();
    await user.waitConnected();
    return user;
  }

  async waitConnected() {
    await this.page.locator('[data-testid="status"][data-status="connected"]').waitFor({ timeout: WAIT_MS });
  }

  /** What the status line shows: data-status. */
  status() {
    return this.page.getByTestId("status").getAttribute("data-status");
  }

  statusHistory() {
    return this.page.evaluate(() => window.__statuses.slice());
  }

  conversation(id) {
    return this.page.locator(`[data-testid="conversation"][data-id="${id}"]`);
  }

  /** The unread badge of a conversation in the list: its number, or 0 when there is none. */
  async badge(id) {
    const badge = this.conversation(id).getByTestId("unread");
    return (await badge.count()) === 0 ? 0 : Number(await badge.textContent());
  }

  async waitBadge(id, n) {
    await waitFor(() => this.badge(id), (v) => v === n, `user ${this.id}: badge of ${id} = ${n}`);
  }

  /** Opens the 1:1 chat with `peer`: from the list if it is there, else through "+". */
  async openChatWith(peer) {
    const cid = [Number(this.id), Number(peer)].sort((a, b) => a - b).join("_");
    const item = this.conversation(cid);
    if ((await item.count()) > 0) {
      await item.click();
    } else {
      await this.page.getByTestId("new-chat").click();
      await this.page.locator(`[data-testid="user-option"][data-user-id="${peer}"]`).click();
    }
    await this.page.locator(`[data-testid="conversation"][data-id="${cid}"].active`).waitFor({ timeout: WAIT_MS });
    return cid;
  }

  /** Types `text` into the composer and presses Enter. */
  async send(text) {
    const input = this.page.getByTestId("composer-input");
    await input.fill(text);
    await input.press("Enter");
  }

  /**
   * The open conversation as displayed, in order: {text, status, read, mine, revoked, kind,
   * id, key, url, cover}.
   */
  messages() {
    return this.page.$$eval('[data-testid="message"]', (els) =>
      els.map((el) => {
        const text = el.querySelector('[data-testid="message-text"]');
        const notice = el.querySelector('[data-testid="revoked-notice"]');
        const mark = el.querySelector('[data-testid="status-mark"]');
        const img = el.querySelector('[data-testid="message-image"]');
        const video = el.querySelector('[data-testid="message-video"]');
        return {
          text: text ? text.textContent : null,
          notice: notice ? notice.textContent : null,
          status: el.getAttribute("data-status"),
          read: el.getAttribute("data-read") === "true",
          mark: mark ? mark.getAttribute("title") : null,
          mine: el.getAttribute("data-mine") === "true",
          kind: el.getAttribute("data-kind"),
          id: el.getAttribute("data-id"),
          key: el.getAttribute("data-key"),
          weight: Number(el.getAttribute("data-weight")),
          url: img ? img.getAttribute("src") : video ? video.getAttribute("src") : null,
          cover: video ? video.getAttribute("poster") : null,
          revocable: el.querySelector('[data-testid="revoke"]') !== null,
          resendable: el.querySelector('[data-testid="resend"]') !== null,
        };
      }),
    );
  }

  async texts() {
    return (await this.messages()).map((m) => m.text ?? m.notice);
  }

  /** Waits until the open conversation shows exactly `texts` (message text or notice), in order. */
  async waitTexts(texts, what = "") {
    await waitFor(
      () => this.texts(),
      (shown) => JSON.stringify(shown) === JSON.stringify(texts),
      `user ${this.id}: messages ${JSON.stringify(texts)} ${what}`,
    );
  }

  /** The message row whose text is `text`. */
  row(text) {
    return this.page
      .getByTestId("message")
      .filter({ has: this.page.getByTestId("message-text").getByText(text, { exact: true }) });
  }

  async shot(name) {
    fs.mkdirSync(SHOTS, { recursive: true });
    await this.page.screenshot({ path: path.join(SHOTS, `${name}-user${this.id}.png`) });
  }

  async close() {
    await this.context.close();
  }
}

/** Screenshots of every user's page, named `name-userN.png`. */
export async function shots(name, ...users) {
  for (const u of users) await u.shot(name);
}

/**
 * Polls `read()` until `check(value)` holds (50 ms apart, WAIT_MS at most); on timeout the
 * error says what was awaited and the last value seen.
 */
export async function waitFor(read, check, what, timeout = WAIT_MS) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await read();
    if (check(last)) return last;
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** No console errors or uncaught exceptions on any page, no dialog opened. */
export function assertClean(...users) {
  for (const u of users) {
    assert.deepEqual(u.errors, [], `user ${u.id}: console errors / page errors`);
    assert.deepEqual(u.dialogs, [], `user ${u.id}: dialogs opened`);
  }
}

export function assertAscending(messages, who) {
  for (let i = 1; i < messages.length; i++) {
    assert.ok(
      messages[i - 1].weight < messages[i].weight,
      `${who}: not in weight order at ${i}: ${JSON.stringify(messages.map((m) => [m.text, m.weight]))}`,
    );
  }
}

/**
 * The hooks of every test file: one browser for the file, a reset backend before each test,
 * and the users a test opened closed after it. Returns `user(id, options)`, which opens a
 * user in a fresh context (see `User.open`).
 */
export function suite() {
  let browser;
  let open = [];
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    await resetBackend();
  });
  afterEach(async () => {
    for (const u of open) await u.close().catch(() => {});
    open = [];
  });
  return async function user(id, options) {
    const u = await User.open(browser, id, options);
    open.push(u);
    return u;
  };
}

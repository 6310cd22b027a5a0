// One connection per browser: every tab of a user shares one ChatClient. Headless Chromium
// (playwright-core, Debian's /usr/bin/chromium), a real Mosquitto (tools/broker-control.mjs),
// real IndexedDB, through the package's JS API only. Run by scripts/test-browser.sh.
//
// User A ("21") has three tabs in one browser context (one profile), user B ("22") one tab in
// another. The tests share one scenario and run in order.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchBrowser } from "../chromium.mjs";
import { CONTROL, control, controlText } from "./control.mjs";

const BASE = process.env.IMCORE_TEST_BASE_URL;
const WAIT_MS = 15_000;
const A = "21";
const B = "22";
const C = "23";
const AB = "21_22";

let closeBrowser;
let browser;
let brokerUrl;
let profileA;
let profileB;
/** The tabs of user A, in opening order (closed ones are removed). */
const tabsA = [];
let tabB;

const log = (msg) => process.stderr.write(`${msg}\n`);

/** How many times the broker accepted a connection from `clientId`, and how many it kicked. */
async function brokerConnections(clientId) {
  const text = await controlText("/log/all", "GET");
  const lines = text.split("\n");
  return {
    connects: lines.filter((l) => l.includes("New client connected") && l.includes(` as ${clientId} `)).length,
    takeovers: lines.filter((l) => l.includes(`Client ${clientId} already connected`)).length,
  };
}

const options = (userId, contacts) => ({ userId, direct: { url: brokerUrl }, contacts, logLevel: "warn" });

async function openTab(context, userId, contacts, name) {
  const page = await context.newPage();
  page.on("console", (m) => {
    if ((m.type() === "error" || m.type() === "warning") && !m.text().includes("ERR_CONNECTION_REFUSED")) {
      log(`  [${name}] console.${m.type()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => log(`  [${name}] pageerror: ${e.stack || e}`));
  page.name = name;
  await page.goto(`${BASE}/page.html`);
  await page.waitForFunction(() => window.ready || window.loadError, null, { timeout: 60_000 });
  const error = await page.evaluate(() => window.loadError);
  if (error) throw new Error(`the package did not load: ${error}`);
  await page.evaluate((o) => window.start(o), options(userId, contacts));
  return page;
}

async function until(page, what, fn, arg) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 50 });
    return await handle.jsonValue();
  } catch (e) {
    let tail = "";
    try {
      tail = await page.evaluate(() => JSON.stringify(window.events.slice(-10).map((e) => [e.event, e.payload])));
    } catch {}
    throw new Error(`${page.name}: timed out waiting for ${what}\n  last events: ${tail}\n  (${e.message.split("\n")[0]})`);
  }
}

const role = (page) => page.evaluate(() => window.client.role());
const texts = (page, conv) =>
  page.evaluate((c) => window.client.loadedMessages(c).map((m) => m.text), conv);
const unreadOf = (page, conv) =>
  page.evaluate((c) => window.client.conversations().find((x) => x.id === c)?.unread ?? null, conv);
/** The statuses a tab's page was told, in order. */
const statuses = (page) =>
  page.evaluate(() => window.events.filter((e) => e.event === "status").map((e) => e.payload.status));

function assertOnceInOrder(got, want, who) {
  const seen = got.filter((t) => want.includes(t));
  assert.deepEqual(seen, want, `${who}: each message once, in order`);
}

before(async () => {
  assert.ok(CONTROL && BASE, "run through scripts/test-browser.sh (IMCORE_BROKER_CONTROL, IMCORE_TEST_BASE_URL)");
  brokerUrl = (await control("/info", "GET")).ws_url;
  ({ browser, close: closeBrowser } = await launchBrowser());
  profileA = await browser.newContext();
  profileB = await browser.newContext();
  tabB = await openTab(profileB, B, [A], "B");
  for (let i = 1; i <= 3; i++) tabsA.push(await openTab(profileA, A, [B], `A${i}`));
  for (const page of [tabB, ...tabsA]) await until(page, "status connected", () => window.client.status() === "connected");
});

after(async () => {
  await closeBrowser?.();
});

test("three tabs of one user: one leader, one connection at the broker, nobody leaves connected", async () => {
  assert.deepEqual(await Promise.all(tabsA.map(role)), ["leader", "follower", "follower"]);
  for (const page of tabsA) {
    const last = await page.evaluate(() => window.events.filter((e) => e.event === "status").at(-1).payload);
    assert.equal(last.role, await role(page), `${page.name}: the status event says its role`);
  }
  const before = await Promise.all(tabsA.map(statuses));
  await new Promise((r) => setTimeout(r, 10_000));
  const afterIdle = await Promise.all(tabsA.map(statuses));
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(afterIdle[i], before[i], `A${i + 1}: no status change while idle`);
    assert.equal(await tabsA[i].evaluate(() => window.client.status()), "connected");
  }
  assert.deepEqual(await brokerConnections(`chat_${A}`), { connects: 1, takeovers: 0 }, "one connection for A");
});

test("B sends 30: every tab of A shows them once, in order; A's tab 2 sends 10, each done in tab 2", async () => {
  const fromB = Array.from({ length: 30 }, (_, i) => `b${i + 1}`);
  for (const text of fromB) await tabB.evaluate(([c, t]) => window.client.sendText(c, t).done, [AB, text]);
  for (const page of tabsA) {
    await until(page, "30 messages from B", (n) => window.client.loadedMessages("21_22").filter((m) => m.senderId === "22").length >= n, 30);
    assertOnceInOrder(await texts(page, AB), fromB, page.name);
  }

  const fromA2 = Array.from({ length: 10 }, (_, i) => `a2-${i + 1}`);
  const done = await tabsA[1].evaluate(
    async ([c, list]) => {
      const handles = list.map((t) => window.client.sendText(c, t));
      const first = handles[0].message;
      const settled = await Promise.all(handles.map((h) => h.done));
      return { first: { status: first.status, mine: first.mine, text: first.text }, settled: settled.map((m) => [m.text, m.status]) };
    },
    [AB, fromA2],
  );
  assert.deepEqual(done.first, { status: "sending", mine: true, text: "a2-1" }, "the local copy at once");
  assert.deepEqual(done.settled, fromA2.map((t) => [t, "sent"]));
  for (const page of [tabsA[0], tabsA[2], tabB]) {
    await until(page, "A2's 10 messages", (n) => window.client.loadedMessages("21_22").filter((m) => m.text?.startsWith("a2-")).length >= n, 10);
    assertOnceInOrder(await texts(page, AB), fromA2, page.name);
  }
  assertOnceInOrder(await texts(tabsA[1], AB), fromA2, "A2");
});

test("unread counts are the same in every tab; opening the chat in tab 3 clears them in all three", async () => {
  const counts = await Promise.all(tabsA.map((p) => unreadOf(p, AB)));
  assert.ok(counts[0] >= 30, `A counts B's 30 messages unread: ${counts}`);
  assert.deepEqual(counts, [counts[0], counts[0], counts[0]], "the same count in every tab");
  assert.equal(await tabsA[2].evaluate(() => document.visibilityState), "visible");
  await tabsA[2].evaluate((c) => window.client.openConversation(c), AB);
  for (const page of tabsA) {
    await until(page, "unread 0", (c) => window.client.conversations().find((x) => x.id === c)?.unread === 0, AB);
    assert.equal(await page.evaluate(() => window.client.unreadTotal()), 0);
  }
  // Open in tab 3: what arrives now is read at once, in every tab.
  await tabB.evaluate((c) => window.client.sendText(c, "while open").done, AB);
  for (const page of tabsA) await until(page, "the new message", (c) => window.client.loadedMessages(c).some((m) => m.text === "while open"), AB);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await Promise.all(tabsA.map((p) => unreadOf(p, AB))), [0, 0, 0]);
});

test("the leader closes during a burst of 50: the others show all 50 once, one leads within 2 s, a send during the hand-over is delivered once", async () => {
  const burst = Array.from({ length: 50 }, (_, i) => `burst ${i + 1}`);
  const sending = tabB.evaluate(
    async ([c, list]) => {
      const out = [];
      for (const t of list) {
        out.push(window.client.sendText(c, t).done);
        await new Promise((r) => setTimeout(r, 20));
      }
      return (await Promise.all(out)).map((m) => m.status);
    },
    [AB, burst],
  );
  await until(tabsA[1], "the burst under way", () => window.client.loadedMessages("21_22").some((m) => m.text === "burst 10"));
  const leader = tabsA.shift();
  const closedAt = Date.now();
  await leader.close();
  // A follower sends while the hand-over happens.
  const during = tabsA[1].evaluate((c) => window.client.sendText(c, "during hand-over").done.then((m) => m.status), AB);
  let newLeader = null;
  while (!newLeader && Date.now() - closedAt < 5_000) {
    const roles = await Promise.all(tabsA.map(role));
    const at = roles.indexOf("leader");
    if (at >= 0) newLeader = { page: tabsA[at], after: Date.now() - closedAt };
    else await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(newLeader, "a tab took over");
  const seenAtClose = await texts(newLeader.page, AB).then((t) => t.filter((x) => x.startsWith("burst ")).length);
  log(`  hand-over: ${newLeader.page.name} leads ${newLeader.after} ms after the leader closed (${seenAtClose} of the 50 there by then)`);
  assert.ok(newLeader.after <= 2_000, `a tab leads ${newLeader.after} ms after the leader closed`);
  assert.deepEqual(await sending, burst.map(() => "sent"));
  assert.equal(await during, "sent");
  for (const page of tabsA) {
    await until(page, "all 50", (n) => window.client.loadedMessages("21_22").filter((m) => m.text?.startsWith("burst ")).length >= n, 50);
    assertOnceInOrder(await texts(page, AB), burst, page.name);
  }
  for (const page of [...tabsA, tabB]) {
    await until(page, "the message sent during the hand-over", (c) => window.client.loadedMessages(c).some((m) => m.text === "during hand-over"), AB);
    const n = (await texts(page, AB)).filter((t) => t === "during hand-over").length;
    assert.equal(n, 1, `${page.name}: the message sent during the hand-over, once`);
  }
  await until(newLeader.page, "connected", () => window.client.status() === "connected");
  const c = await brokerConnections(`chat_${A}`);
  assert.equal(c.connects, 2, "the first leader's connection, then the new leader's");
});

test("a tab opened after the leader reloads starts from IndexedDB and the leader's state", async () => {
  const leader = (await Promise.all(tabsA.map(role))).indexOf("leader");
  const page = tabsA[leader];
  await page.reload();
  await page.waitForFunction(() => window.ready || window.loadError, null, { timeout: 60_000 });
  await page.evaluate((o) => window.start(o), options(A, [B]));
  // The reloaded tab and a new one list the chat at once, with its history.
  const fresh = await openTab(profileA, A, [B], "A-new");
  tabsA.push(fresh);
  for (const p of [page, fresh]) {
    const list = await p.evaluate(() => window.client.conversations().map((c) => c.id));
    assert.ok(list.includes(AB), `${p.name}: the conversation is listed right after create (${list})`);
    const loaded = await texts(p, AB);
    assert.ok(loaded.includes("burst 50"), `${p.name}: its newest messages are there`);
  }
  assert.equal((await Promise.all(tabsA.map(role))).filter((r) => r === "leader").length, 1, "one leader");
});

test("two users in tabs of one browser profile: each its own leader, database and connection", async () => {
  const other = await openTab(profileA, C, [A], "C");
  assert.equal(await role(other), "leader");
  await until(other, "connected", () => window.client.status() === "connected");
  const sent = await other.evaluate(() => window.client.sendText("21_23", "from C").done.then((m) => m.status));
  assert.equal(sent, "sent");
  for (const page of tabsA) await until(page, "C's message", () => window.client.loadedMessages("21_23").some((m) => m.text === "from C"));
  assert.deepEqual(await other.evaluate(() => window.client.conversations().map((c) => c.id)), ["21_23"]);
  assert.deepEqual(await brokerConnections(`chat_${C}`), { connects: 1, takeovers: 0 });
  assert.equal((await Promise.all(tabsA.map(role))).filter((r) => r === "leader").length, 1, "A still has one leader");
});

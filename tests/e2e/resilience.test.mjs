// End-to-end: what the chat survives — a reload with the history endpoint blocked (local
// history from IndexedDB), a clock an hour off, and the broker killed with SIGKILL in the
// middle of a conversation.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertAscending, assertClean, shots, stack, suite, WAIT_MS, waitFor } from "./support.mjs";

const user = suite();

/** Each line is sent after the previous one arrived on the other side. */
async function converse(alice, bob, lines) {
  const shown = await alice.texts();
  for (const [who, text] of lines) {
    await (who === "alice" ? alice : bob).send(text);
    shown.push(text);
    await alice.waitTexts(shown);
    await bob.waitTexts(shown);
  }
  return shown;
}

test("after a reload, history and conversations come from IndexedDB while the history endpoint is blocked", async () => {
  const alice = await user("1");
  const bob = await user("2");
  await alice.openChatWith("2");
  await bob.openChatWith("1");
  const lines = await converse(alice, bob, [
    ["alice", "Did you get the report?"],
    ["bob", "Yes, reading it now."],
    ["alice", "Page 3 has the numbers."],
    ["bob", "Got it, thanks!"],
  ]);
  await waitFor(() => alice.messages(), (ms) => ms.filter((m) => m.mine).every((m) => m.mark === "read"), "alice: read marks");
  const before = await alice.messages();

  // From now on Alice's browser cannot reach the history (GET /messages) nor the
  // conversation list (GET /conversations) of the backend.
  const blocked = [];
  await alice.context.route(
    (url) => url.pathname === "/messages" || url.pathname === "/conversations",
    async (route) => {
      if (route.request().method() !== "GET") return route.fallback();
      blocked.push(new URL(route.request().url()).pathname);
      await route.abort("connectionrefused");
    },
  );
  await alice.page.reload();
  await alice.waitConnected();
  // The list is there before anything is opened, with the last message and no badge.
  const item = alice.conversation("1_2");
  await item.waitFor({ timeout: WAIT_MS });
  assert.equal(await item.getByTestId("last-message").textContent(), "Got it, thanks!");
  assert.equal(await alice.badge("1_2"), 0);
  await alice.openChatWith("2");
  await alice.waitTexts(lines);
  const after = await alice.messages();
  assert.deepEqual(
    after.map((m) => [m.id, m.text, m.mine, m.mark]),
    before.map((m) => [m.id, m.text, m.mine, m.mark]),
    "the same messages, order and marks as before the reload",
  );
  assert.ok(blocked.includes("/messages"), `the page did ask the backend for history (blocked: ${JSON.stringify(blocked)})`);
  await shots("07-reload-from-indexeddb", alice, bob);

  // Live messages still arrive, and the chat goes on.
  await converse(alice, bob, [["bob", "Still there after the reload?"], ["alice", "Yes!"]]);
  assertClean(alice, bob);
});

test("clock skew: with one clock an hour ahead, interleaved messages keep their true order on both sides", async () => {
  const alice = await user("1");
  // Bob's Date.now() runs one hour ahead.
  const bob = await user("2", {
    init: () => {
      const realNow = Date.now.bind(Date);
      Date.now = () => realNow() + 3_600_000;
    },
  });
  // The pages show their calibrated offset (local minus server clock).
  const offsetOf = async (u) => Number(await u.page.getByTestId("clock-offset").getAttribute("data-offset"));
  const bobOffset = await waitFor(() => offsetOf(bob), (o) => Math.abs(o - 3_600_000) < 5_000, "bob: clock offset ~ +1 h");
  assert.ok(Math.abs(await offsetOf(alice)) < 5_000, "alice: clock offset ~ 0");
  assert.match(await bob.page.getByTestId("clock-offset").textContent(), new RegExp(`${Math.round(bobOffset)} ms`));

  await alice.openChatWith("2");
  await bob.openChatWith("1");
  const lines = await converse(alice, bob, [
    ["alice", "1 (alice)"],
    ["bob", "2 (bob, +1 h)"],
    ["alice", "3 (alice)"],
    ["bob", "4 (bob, +1 h)"],
    ["alice", "5 (alice)"],
    ["bob", "6 (bob, +1 h)"],
  ]);
  const [a, b] = [await alice.messages(), await bob.messages()];
  assert.deepEqual(a.map((m) => m.text), lines);
  assert.deepEqual(b.map((m) => m.text), lines);
  assertAscending(a, "alice");
  assertAscending(b, "bob");
  // The weights are on the server's clock: Bob's are not an hour ahead.
  const spread = a.at(-1).weight - a[0].weight;
  assert.ok(spread < 60_000, `all six within a minute on the server clock (spread ${spread} ms)`);
  await shots("08-clock-skew", alice, bob);
  assertClean(alice, bob);
});

test("broker SIGKILL and restart: both reconnect with fresh passwords, nothing lost or duplicated", async () => {
  const alice = await user("1");
  const bob = await user("2");
  await alice.openChatWith("2");
  await bob.openChatWith("1");
  const lines = await converse(alice, bob, [
    ["alice", "before the crash (alice)"],
    ["bob", "before the crash (bob)"],
  ]);
  const passwords = { alice: alice.passwords.slice(), bob: bob.passwords.slice() };
  assert.ok(passwords.alice.length >= 1 && passwords.bob.length >= 1, "each page fetched a conn-config");
  const historyLength = { alice: (await alice.statusHistory()).length, bob: (await bob.statusHistory()).length };

  // kill -9 the broker and start it again; both sides write while they are cut off. (The
  // restarted Mosquitto often drops what the server publishes to a restored session before
  // its client is back: the client's catch-up after the reconnect must fill that in.)
  const restart = stack("restart-broker");
  for (const u of [alice, bob]) {
    await waitFor(() => u.status(), (s) => s !== "connected", `user ${u.id}: the status shows the connection lost`);
  }
  await alice.send("during the crash (alice)");
  await waitFor(() => alice.messages(), (ms) => ms.at(-1)?.status === "sent", "alice: the backend took it");
  await bob.send("during the crash (bob)");
  await waitFor(() => bob.messages(), (ms) => ms.at(-1)?.status === "sent", "bob: the backend took it");
  lines.push("during the crash (alice)", "during the crash (bob)");
  await restart;

  for (const [name, u] of [["alice", alice], ["bob", bob]]) {
    // The status line left "connected" and came back.
    await waitFor(
      async () => (await u.statusHistory()).slice(historyLength[name] - 1),
      (h) => h.length >= 3 && h[0] === "connected" && h.at(-1) === "connected" && h.some((s) => s !== "connected"),
      `${name}: status left connected and came back`,
    );
    // Each reconnect fetched a new password, and the old one was not reused.
    assert.ok(u.passwords.length > passwords[name].length, `${name}: a conn-config per reconnect`);
    const fresh = u.passwords.slice(passwords[name].length);
    assert.ok(fresh.every((p) => !passwords[name].includes(p)), `${name}: fresh passwords`);
    assert.equal(new Set(u.passwords).size, u.passwords.length, `${name}: every password differs`);
  }
  const statuses = { alice: await alice.statusHistory(), bob: await bob.statusHistory() };
  await alice.waitTexts(lines, "(after the restart)");
  await bob.waitTexts(lines, "(after the restart)");
  await shots("09-broker-restart", alice, bob);

  // And the chat goes on over the new connections; still nothing twice.
  const all = await converse(alice, bob, [
    ["alice", "after the crash (alice)"],
    ["bob", "after the crash (bob)"],
  ]);
  const [a, b] = [await alice.messages(), await bob.messages()];
  assert.deepEqual(a.map((m) => m.text), all);
  assert.deepEqual(b.map((m) => m.text), all);
  assert.equal(new Set(a.map((m) => m.id)).size, all.length, "alice: no id twice");
  assert.deepEqual(a.map((m) => m.id), b.map((m) => m.id));
  assertAscending(a, "alice");
  assertAscending(b, "bob");
  process.stderr.write(`  status shown: alice ${statuses.alice.join(" > ")}; bob ${statuses.bob.join(" > ")}\n`);
  assertClean(alice, bob);
});

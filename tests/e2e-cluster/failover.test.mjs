// End-to-end on a two-node RabbitMQ cluster (scripts/test-e2e.sh with E2E_BROKER=rabbitmq:
// scripts/stack.sh start --broker rabbitmq): node 1 is killed with SIGKILL in the middle of
// a burst, and the chat carries on through node 2. The demo page, the real server, real
// RabbitMQ nodes, headless Chromium.
//
// conn-config lists every node, starting with the user's own (user N begins at node
// ((N - 1) mod 2) + 1), so user 1 (Alice) runs on node 1 and user 2 (Bob) on node 2.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertAscending, assertClean, BROKER, shots, stack, suite, waitFor, WS_URLS } from "../e2e/support.mjs";

const user = suite();

/** How soon after the kill Alice must be connected again (through node 2). */
const MOVE_WITHIN_MS = 5_000;
const BURST = 50;

test("node 1 killed while Bob sends 50: Alice moves to node 2 within 5 s and shows all 50 once, in order", async () => {
  assert.equal(BROKER, "rabbitmq", "run on the RabbitMQ cluster of scripts/test-e2e.sh (E2E_BROKER=rabbitmq)");
  assert.equal(WS_URLS.length, 2, "two nodes");
  const alice = await user("1");
  const bob = await user("2");
  const cid = await alice.openChatWith("2");
  await bob.openChatWith("1");
  await bob.send("before the kill");
  await alice.waitTexts(["before the kill"]);

  const texts = Array.from({ length: BURST }, (_, i) => `burst ${i + 1}`);
  const aliceStatuses = [];
  const bobStatuses = [];
  let killedAt = 0;
  let killing;
  for (const [i, text] of texts.entries()) {
    await bob.send(text);
    if (i === 9) {
      killedAt = Date.now();
      killing = stack("kill-node", "1");
      // Watch both status lines from the kill on (what the page shows, every 20 ms).
      void (async () => {
        while (Date.now() - killedAt < MOVE_WITHIN_MS * 4) {
          const [a, b] = await Promise.all([alice.status(), bob.status()]);
          const t = Date.now() - killedAt;
          if (aliceStatuses.at(-1)?.[0] !== a) aliceStatuses.push([a, t]);
          if (bobStatuses.at(-1)?.[0] !== b) bobStatuses.push([b, t]);
          if (aliceStatuses.length > 1 && a === "connected") break;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
    }
  }
  await killing;

  // Alice was on node 1: she lost it and is back, on node 2, within 5 s of the kill.
  await waitFor(
    () => aliceStatuses,
    (s) => s.length > 1 && s.at(-1)[0] === "connected",
    "alice: connected again after the kill",
    MOVE_WITHIN_MS * 4,
  );
  const back = aliceStatuses.at(-1)[1];
  process.stderr.write(`  alice: ${JSON.stringify(aliceStatuses)} (status, ms after the kill)\n`);
  assert.ok(back <= MOVE_WITHIN_MS, `alice connected again ${back} ms after the kill (at most ${MOVE_WITHIN_MS})`);
  // Bob was on node 2 all along.
  assert.ok(bobStatuses.every(([s]) => s === "connected"), `bob stayed connected: ${JSON.stringify(bobStatuses)}`);

  // Every message once, in order, on both sides; all of Bob's sent.
  const all = ["before the kill", ...texts];
  await alice.waitTexts(all, "after the kill");
  await bob.waitTexts(all);
  await waitFor(() => bob.messages(), (ms) => ms.length === all.length && ms.every((m) => m.status === "sent"), "bob: all sent");
  const [a, b] = [await alice.messages(), await bob.messages()];
  assertAscending(a, "alice");
  assert.deepEqual(a.map((m) => m.id), b.map((m) => m.id), "the same messages (ids) in the same order");
  assert.equal(await alice.badge(cid), 0, "the chat is open: no badge");
  await shots("cluster-01-node-killed", alice, bob);
  assertClean(alice, bob);
});

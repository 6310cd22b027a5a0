// End-to-end: two people chatting on the demo page (www/dist served by imcore-server), each
// in a fresh Chromium context, against a real Mosquitto and the real server. Everything is
// done through the page (clicks, typing) and checked on what it displays.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  advanceServerClock,
  assertAscending,
  assertClean,
  shots,
  stack,
  suite,
  WAIT_MS,
  waitFor,
} from "./support.mjs";

const user = suite();

async function users(...ids) {
  const list = [];
  for (const id of ids) list.push(await user(id));
  return list;
}

test("messages both ways in order, unread badges while closed, cleared on open, read marks", async () => {
  const [alice, bob] = await users("1", "2");

  // Alice writes three messages; Bob has not opened the chat: his badge counts 1, 2, 3.
  const cid = await alice.openChatWith("2");
  assert.equal(cid, "1_2");
  for (const [i, text] of ["Hi Bob!", "Are you there?", "Lunch at noon?"].entries()) {
    await alice.send(text);
    await bob.waitBadge(cid, i + 1);
  }
  await alice.waitTexts(["Hi Bob!", "Are you there?", "Lunch at noon?"]);
  // Sent, not read yet: one tick each.
  await waitFor(() => alice.messages(), (ms) => ms.every((m) => m.mark === "sent"), "alice: three sent marks");
  await assert.doesNotReject(bob.conversation(cid).getByText("Lunch at noon?").waitFor({ timeout: WAIT_MS }));
  await shots("01-unread-badge", alice, bob);

  // Bob opens the chat: the badge goes, the messages are there in order, Alice sees them read.
  await bob.openChatWith("1");
  await bob.waitTexts(["Hi Bob!", "Are you there?", "Lunch at noon?"]);
  await bob.waitBadge(cid, 0);
  await waitFor(() => alice.messages(), (ms) => ms.length === 3 && ms.every((m) => m.read && m.mark === "read"), "alice: three read marks");

  // Replies both ways, each after the previous one arrived: the same order on both sides.
  const convo = ["Hi Bob!", "Are you there?", "Lunch at noon?"];
  const turns = [
    [bob, "Yes! Noon is fine."],
    [alice, "Great, the usual place?"],
    [bob, "Sure, see you there."],
    [alice, "→ <b>bold</b> & more"],
  ];
  for (const [who, text] of turns) {
    await who.send(text);
    convo.push(text);
    await alice.waitTexts(convo);
    await bob.waitTexts(convo);
  }
  const [a, b] = [await alice.messages(), await bob.messages()];
  assertAscending(a, "alice");
  assertAscending(b, "bob");
  assert.deepEqual(a.map((m) => m.id), b.map((m) => m.id), "the same messages (ids) in the same order");
  assert.deepEqual(a.map((m) => m.mine), [true, true, true, false, true, false, true]);
  assert.deepEqual(b.map((m) => m.mine), [false, false, false, true, false, true, false]);
  // Both have the chat open: every message ends up read on the sender's side.
  await waitFor(() => alice.messages(), (ms) => ms.filter((m) => m.mine).every((m) => m.mark === "read"), "alice: all read");
  await waitFor(() => bob.messages(), (ms) => ms.filter((m) => m.mine).every((m) => m.mark === "read"), "bob: all read");
  // A message arriving in the open chat raises no badge.
  assert.equal(await bob.badge(cid), 0);
  assert.equal(await alice.badge(cid), 0);
  // The list shows the last message on both sides.
  for (const u of [alice, bob]) {
    assert.equal(await u.conversation(cid).getByTestId("last-message").textContent(), "→ <b>bold</b> & more");
  }
  await shots("02-conversation-read", alice, bob);
  assertClean(alice, bob);
});

test("revoke within 2 minutes removes the content on both sides; after 2 minutes it is refused", async () => {
  const [alice, bob] = await users("1", "2");
  await alice.openChatWith("2");
  await alice.send("a secret I regret");
  await bob.waitBadge("1_2", 1);
  await bob.openChatWith("1");
  await bob.waitTexts(["a secret I regret"]);
  await alice.send("this one stays");
  await bob.waitTexts(["a secret I regret", "this one stays"]);

  // Within the window: Revoke is offered on Alice's side only; it works on both sides.
  const regret = alice.row("a secret I regret");
  await regret.getByTestId("revoke").click();
  await alice.waitTexts(["You: message revoked", "this one stays"]);
  await bob.waitTexts(["alice: message revoked", "this one stays"]);
  for (const u of [alice, bob]) {
    assert.equal(await u.page.getByText("a secret I regret").count(), 0, `user ${u.id}: the revoked text is gone from the page`);
  }
  assert.equal((await bob.messages()).some((m) => m.revocable), false, "only the sender may revoke");

  // The server's clock moves 3 minutes on (no sleeping): the backend refuses the revoke.
  await advanceServerClock(3 * 60_000);
  const stays = alice.row("this one stays");
  await stays.getByTestId("revoke").click();
  const toast = alice.page.getByTestId("toast").filter({ hasText: "Revoke failed" });
  await toast.waitFor({ timeout: WAIT_MS });
  assert.match(await toast.textContent(), /revoke-expired/);
  await shots("03-revoke", alice, bob);
  // Nothing changed on either side.
  await alice.waitTexts(["You: message revoked", "this one stays"]);
  await bob.waitTexts(["alice: message revoked", "this one stays"]);
  assert.equal((await alice.messages())[1].status, "sent");
  assertClean(alice, bob);
});

test("a send while the backend is down shows failed; resend succeeds once it is back", async () => {
  const [alice, bob] = await users("1", "2");
  await alice.openChatWith("2");
  await alice.send("before the outage");
  await bob.waitBadge("1_2", 1);
  await bob.openChatWith("1");
  await bob.waitTexts(["before the outage"]);

  await stack("stop-server");
  try {
    await alice.send("during the outage");
    await waitFor(() => alice.messages(), (ms) => ms[1]?.status === "failed" && ms[1].mark === "failed" && ms[1].resendable, "alice: failed mark and Resend");
    await shots("04-send-failed", alice, bob);
  } finally {
    await stack("start-server");
  }
  // Bob never got it.
  assert.deepEqual(await bob.texts(), ["before the outage"]);

  await alice.row("during the outage").getByTestId("resend").click();
  await waitFor(() => alice.messages(), (ms) => ms[1]?.text === "during the outage" && ms[1].status === "sent", "alice: resent");
  await bob.waitTexts(["before the outage", "during the outage"]);
  await waitFor(() => alice.messages(), (ms) => ms.every((m) => m.mark === "read"), "alice: both read");
  assert.equal((await alice.messages()).some((m) => m.resendable), false, "no Resend left");
  await shots("05-resent", alice, bob);
  assertClean(alice, bob);
});

test("message text with HTML is shown as text, never run", async () => {
  const [alice, bob] = await users("1", "2");
  const evil = `<img src=x onerror="window.__pwned=1;alert('xss')"><script>window.__pwned=2</script>`;
  await alice.openChatWith("2");
  await alice.send(evil);
  await bob.waitBadge("1_2", 1);
  assert.equal(await bob.conversation("1_2").getByTestId("last-message").textContent(), evil, "the list preview shows the text");
  await bob.openChatWith("1");
  await bob.waitTexts([evil]);
  await alice.waitTexts([evil]);
  for (const u of [alice, bob]) {
    const inMessages = await u.page.locator('[data-testid="message"] img:not(.avatar), [data-testid="message"] script').count();
    assert.equal(inMessages, 0, `user ${u.id}: no element was made from the text`);
    assert.equal(await u.page.evaluate(() => window.__pwned), undefined, `user ${u.id}: the handler never ran`);
  }
  await shots("06-html-as-text", alice, bob);
  assertClean(alice, bob);
});

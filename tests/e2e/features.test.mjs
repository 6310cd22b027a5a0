// End-to-end: the rest of what the demo page offers — image and video messages, a group
// room, and scrolling back through a long history.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertAscending, assertClean, http, login, shots, suite, WAIT_MS, waitFor } from "./support.mjs";

const user = suite();

test("image and video messages show their URL and cover on both sides", async () => {
  const alice = await user("1");
  const bob = await user("2");
  await alice.openChatWith("2");
  await bob.openChatWith("1");
  const base = new URL(alice.page.url()).origin;

  // The "#1" sample fills the URL and cover fields.
  await alice.page.getByRole("button", { name: "#1", exact: true }).click();
  assert.equal(await alice.page.getByTestId("media-url").inputValue(), `${base}/sample-1.png`);
  await alice.page.getByTestId("send-image").click();
  await alice.page.getByTestId("media-url").fill(`${base}/clip.mp4`);
  await alice.page.getByTestId("media-cover").fill(`${base}/sample-2.png`);
  await alice.page.getByTestId("send-video").click();

  for (const u of [alice, bob]) {
    const ms = await waitFor(() => u.messages(), (ms) => ms.length === 2 && ms.every((m) => m.status === "sent"), `user ${u.id}: two media messages`);
    assert.deepEqual(
      ms.map((m) => [m.kind, m.url, m.cover]),
      [
        ["image", `${base}/sample-1.png`, null],
        ["video", `${base}/clip.mp4`, `${base}/sample-2.png`],
      ],
    );
    // The picture really loads.
    await waitFor(
      () => u.page.getByTestId("message-image").evaluate((img) => img.complete && img.naturalWidth),
      (w) => w > 0,
      `user ${u.id}: the image loaded`,
    );
  }
  assert.equal(await bob.conversation("1_2").getByTestId("last-message").textContent(), "[Video]");
  await shots("10-image-video", alice, bob);
  assertClean(alice, bob);
});

test("a group room: join, messages with sender names, everyone in order", async () => {
  const alice = await user("1");
  const bob = await user("2");
  const carol = await user("3");
  for (const u of [alice, bob, carol]) {
    await u.page.locator('[data-testid="join-room"][data-room-id="1"]').click();
    await u.page.locator('[data-testid="conversation"][data-id="room_1"].active').waitFor({ timeout: WAIT_MS });
  }
  // Carol joined last: she sees all three members.
  await waitFor(() => carol.page.locator(".pane-sub").textContent(), (t) => t.includes("3 members"), "carol: 3 members");

  const said = [];
  for (const [u, text] of [[alice, "Welcome to General!"], [bob, "Hi all"], [carol, "Hello from carol"], [alice, "Let's start"]]) {
    await u.send(text);
    said.push(text);
    for (const v of [alice, bob, carol]) {
      await waitFor(
        async () => (await v.messages()).filter((m) => m.kind !== "system").map((m) => m.text),
        (t) => JSON.stringify(t) === JSON.stringify(said),
        `user ${v.id}: room messages ${JSON.stringify(said)}`,
      );
    }
  }
  // Others' messages carry the sender's name.
  const names = await bob.page.locator('[data-testid="message"].theirs .sender').allTextContents();
  assert.deepEqual(names, ["alice", "carol", "alice"]);
  for (const u of [alice, bob, carol]) assertAscending(await u.messages(), `user ${u.id}`);
  // Group read receipts: the room is open on every page, so each of Alice's messages ends
  // up read by both other members, and her page says so.
  await waitFor(
    () => alice.page.locator('[data-testid="message"].mine [data-testid="read-by"]').allTextContents(),
    (t) => t.length === 2 && t.every((s) => s === "Read by 2"),
    "alice: both her room messages read by 2",
  );
  await shots("11-room", alice, bob);
  assertClean(alice, bob, carol);
});

test("a new device lists conversations from the backend; scrolling up loads older history page by page", async () => {
  // 75 messages from Alice to Bob, straight through the API (ascending weights), while Bob
  // has never opened the page.
  const token = await login("1");
  const start = Date.now() - 200_000;
  const N = 75;
  for (let i = 1; i <= N; i++) {
    const { json } = await http("POST", "/messages", {
      token,
      body: { receiver_id: 2, msg_type: 1, msg_content: { content: `history ${i}` }, weight: start + i * 1000 },
    });
    assert.equal(json.code, 0);
  }
  const all = Array.from({ length: N }, (_, i) => `history ${i + 1}`);

  // Bob's first device: the chat is listed with all 75 unread; he reads it there.
  const first = await user("2");
  await first.waitBadge("1_2", N);
  assert.equal(await first.conversation("1_2").getByTestId("last-message").textContent(), `history ${N}`);
  await first.openChatWith("1");
  await first.waitTexts(all);
  await first.waitBadge("1_2", 0);
  await first.close();

  // His second device: listed, nothing unread (read on the first), the newest page shown.
  const bob = await user("2");
  await bob.conversation("1_2").waitFor({ timeout: WAIT_MS });
  // As it appears, it has its last message and no badge (not even for a moment).
  assert.equal(await bob.conversation("1_2").getByTestId("last-message").textContent(), `history ${N}`);
  assert.equal(await bob.badge("1_2"), 0);
  await bob.openChatWith("1");
  await bob.waitTexts(all.slice(-30));
  const scroller = bob.page.locator(".messages");
  for (const shown of [60, 75]) {
    await scroller.hover();
    // Wheel up to the top: the page asks for the next older page.
    await waitFor(
      async () => {
        await bob.page.mouse.wheel(0, -3000);
        return (await bob.texts()).length;
      },
      (n) => n >= shown,
      `bob: ${shown} messages after scrolling up`,
    );
  }
  await bob.waitTexts(all);
  await waitFor(() => bob.page.getByTestId("load-earlier").textContent(), (t) => t === "No earlier messages", "bob: the end of history");
  assertAscending(await bob.messages(), "bob");
  await shots("12-history-top", bob);
  assertClean(first, bob);
});

test("the demo in two tabs of one user: one leader, both tabs show the chat, a send from the second reaches everyone once", async () => {
  const alice = await user("1");
  const alice2 = await alice.openTab();
  const bob = await user("2");
  const role = (u) => u.page.getByTestId("status").getAttribute("data-role");
  assert.equal(await role(alice), "leader");
  assert.equal(await role(alice2), "follower");
  assert.match(await alice2.page.getByTestId("status").textContent(), /· shared$/);
  await alice.openChatWith("2");
  await alice2.openChatWith("2");
  await bob.openChatWith("1");
  await bob.send("hello, both of your tabs");
  for (const u of [alice, alice2]) await u.waitTexts(["hello, both of your tabs"]);
  await alice2.send("from the second tab");
  for (const u of [alice, alice2, bob]) await u.waitTexts(["hello, both of your tabs", "from the second tab"]);
  // The second tab's message is sent (by the first tab's connection) and read by bob.
  await waitFor(
    async () => (await alice2.messages()).find((m) => m.text === "from the second tab")?.read,
    (read) => read === true,
    "alice's second tab: her message read by bob",
  );
  await alice.shot("13-two-tabs-first");
  await alice2.shot("13-two-tabs-second");
  assertClean(alice, alice2, bob);
});

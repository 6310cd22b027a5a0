// A Vite app using the installed `imcore` tarball with strict types: ChatClient from
// `imcore` and MqttClient from `imcore/mqtt`. `tsc --noEmit` proves the declarations type
// real usage exactly (the type-level checks below fail to compile if a type is `any` or
// wrong); `vite build` proves the package bundles, both modules included;
// scripts/test-package.sh then loads the built app in Chromium with the URL of a real
// Mosquitto as `?broker=`, and reads `window.__imcoreResult`.
import init, {
  ChatClient,
  type ChatClientOptions,
  type ChatConversation,
  type ChatError,
  type ChatErrorCode,
  type ChatEventMap,
  type ChatEventName,
  type ChatMessage,
  type ChatRole,
  type ChatStatus,
  type KeyValueStore,
  type MessageEvent,
  type MessageKind,
  type OutgoingContent,
  type PresenceEvent,
  type ReadEvent,
  type RevokeEvent,
  type SendHandle,
  type StatusEvent,
  type TransportFactory,
} from "imcore";
import initMqtt, { MqttClient, type MqttMessage } from "imcore/mqtt";

// ---- type-level checks -------------------------------------------------------------------
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type IsAny<T> = 0 extends 1 & T ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

expectType<Equal<ReturnType<typeof ChatClient.create>, Promise<ChatClient>>>();
expectType<Equal<ReturnType<ChatClient["sendText"]>, SendHandle>>();
expectType<Equal<ReturnType<ChatClient["sendImage"]>, SendHandle>>();
expectType<Equal<SendHandle["done"], Promise<ChatMessage>>>();
expectType<Equal<ReturnType<ChatClient["conversations"]>, ChatConversation[]>>();
expectType<Equal<ReturnType<ChatClient["loadedMessages"]>, ChatMessage[]>>();
expectType<Equal<ReturnType<ChatClient["messages"]>, Promise<ChatMessage[]>>>();
expectType<Equal<ReturnType<ChatClient["status"]>, ChatStatus>>();
expectType<Equal<ReturnType<ChatClient["unreadTotal"]>, number>>();
expectType<Equal<ReturnType<ChatClient["revoke"]>, Promise<void>>>();
expectType<Equal<ReturnType<typeof ChatClient.conversationIdOf>, string>>();
expectType<Equal<ReturnType<ChatClient["role"]>, ChatRole>>();
expectType<Equal<StatusEvent["role"], "leader" | "follower">>();
expectType<Equal<ReturnType<typeof ChatClient.revokeWindowMs>, number>>();
expectType<Equal<ChatMessage["text"], string | null>>();
expectType<Equal<ChatMessage["kind"], MessageKind>>();
expectType<Equal<ChatEventMap["message"], MessageEvent>>();
expectType<Equal<ChatEventMap["presence"], PresenceEvent>>();
expectType<Equal<ChatEventMap["conversations"], ChatConversation[]>>();
expectType<Equal<ChatEventMap["error"], ChatError>>();
expectType<Equal<ChatError["name"], "ChatError">>();
expectType<Equal<IsAny<ChatMessage>, false>>();
expectType<Equal<IsAny<Parameters<ChatClient["on"]>[1]>, false>>();
expectType<Equal<Extract<ChatEventName, "nope">, never>>();
expectType<Equal<Extract<ChatErrorCode, "invalid-options" | "invalid-argument">, "invalid-options" | "invalid-argument">>();

// Options: what must be rejected at compile time.
const url = "ws://127.0.0.1:9/mqtt";
// @ts-expect-error userId is required
const noUser: ChatClientOptions = { direct: { url } };
// @ts-expect-error protocolVersion is 4 or 5
const badVersion: ChatClientOptions = { userId: "1", direct: { url }, protocolVersion: 3 };
// @ts-expect-error logLevel is a union of names
const badLevel: ChatClientOptions = { userId: "1", direct: { url }, logLevel: "loud" };
// @ts-expect-error outgoing content needs its fields
const badContent: OutgoingContent = { kind: "image" };
void [noUser, badVersion, badLevel, badContent];

// A key-value store and a transport factory, typed by the package.
const memoryKv = (): KeyValueStore => {
  const m = new Map<string, string>();
  return {
    get: (k) => m.get(k) ?? null,
    set: (k, v) => void m.set(k, v),
    remove: (k) => void m.delete(k),
    keys: () => [...m.keys()],
    maxValueBytes: 1 << 20,
  };
};
const wsTransport: TransportFactory = (u, protocols) => {
  const ws = new WebSocket(u, protocols);
  ws.binaryType = "arraybuffer";
  const t: ReturnType<TransportFactory> = {
    send: (data) => ws.send(data),
    close: () => ws.close(),
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  ws.onopen = () => t.onopen?.();
  ws.onmessage = (e: globalThis.MessageEvent<ArrayBuffer>) => t.onmessage?.(e.data);
  ws.onclose = (e) => t.onclose?.(e.reason);
  ws.onerror = () => t.onerror?.("websocket error");
  return t;
};

function isChatError(e: unknown): e is ChatError {
  return e instanceof Error && e.name === "ChatError";
}

function render(list: readonly ChatConversation[]): void {
  const ul = document.getElementById("conversations");
  if (!ul) return;
  ul.replaceChildren(
    ...list.map((c) => {
      const li = document.createElement("li");
      const last: ChatMessage | null = c.lastMessage;
      li.textContent = `${c.id} (${c.kind}, ${c.unread}) ${last?.text ?? last?.url ?? ""}`;
      return li;
    }),
  );
}

// This run's own client ids and topic: the built app and the dev server's run against one
// broker, and neither may see the other's session.
const run = Math.random().toString(36).slice(2, 10);

/** `p`, or an error naming `what` if it has not settled within `ms`. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  const late = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]);
}

// A QoS 1 message through the broker and back, with imcore/mqtt: its payload as text.
async function mqttRoundTrip(broker: string): Promise<string> {
  await initMqtt();
  const clientId = `vite-check-mqtt-${run}`;
  const client = new MqttClient({ url: broker, clientId, protocolVersion: 5, clean: true });
  const topic = `vite/check/${run}`;
  try {
    const received = new Promise<string>((resolve) => {
      client.on("message", (m: MqttMessage) => resolve(new TextDecoder().decode(m.payload)));
    });
    client.connect();
    const granted: number[] = await within(10_000, client.subscribe(topic, 1), "imcore/mqtt subscribe");
    if (granted[0] !== 1) throw new Error(`subscribe granted ${JSON.stringify(granted)}`);
    await within(10_000, client.publish(topic, "hello from imcore/mqtt", 1), "imcore/mqtt publish");
    return await within(10_000, received, "imcore/mqtt message back");
  } finally {
    client.free();
  }
}

// ---- the app -----------------------------------------------------------------------------
async function main(): Promise<Record<string, unknown>> {
  const broker = new URLSearchParams(location.search).get("broker");
  if (!broker) throw new Error("the page needs ?broker=<the broker's WebSocket URL>");
  await init();
  const options: ChatClientOptions = {
    userId: "1",
    direct: { url: broker, clientId: `vite-check-1-${run}` },
    contacts: ["2"],
    storage: "memory",
    logLevel: "silent",
    transport: wsTransport,
    reconnect: { enabled: false },
  };
  const client: ChatClient = await ChatClient.create(options);
  const seen: string[] = [];
  const offMessage = client.on("message", (e) => {
    const text: string | null = e.message.text; // typed, not any
    const index: number = e.index;
    // @ts-expect-error no such field on ChatMessage
    void e.message.nope;
    seen.push(`${e.conversationId}#${index}:${text ?? e.message.kind}`);
  });
  client.on("conversations", (list) => render(list));
  client.on("unreadTotal", (n) => seen.push(`unread ${n.toFixed(0)}`));
  client.on("status", (s: StatusEvent) => seen.push(`status ${s.status}/${s.code}`));
  client.on("presence", ({ userId, online }) => seen.push(`${userId} ${online ? "on" : "off"}`));
  client.on("revoke", (r: RevokeEvent) => seen.push(`revoked ${r.id}`));
  client.on("read", (r: ReadEvent) => seen.push(`read ${r.upToWeight}`));
  client.on("error", (e) => seen.push(`error ${e.code}`));
  // @ts-expect-error not an event name
  void (() => client.on("nope", () => {}));
  // @ts-expect-error the listener's payload is the event's type
  void (() => client.on("unreadTotal", (s: string) => s));

  const conversation = ChatClient.conversationIdOf("1", "2");
  const handle: SendHandle = client.sendText(conversation, "hello from vite");
  const sending: ChatMessage = handle.message;
  void handle.done.then((m) => seen.push(`settled ${m.status}`));
  const page: ChatMessage[] = await client.messages(conversation, { limit: 10 });

  let badEvent: ChatErrorCode | null = null;
  try {
    (client.on as (e: string, l: () => void) => void)("nope", () => {});
  } catch (e) {
    if (isChatError(e)) badEvent = e.code;
  }
  let badOptions: ChatErrorCode | null = null;
  await ChatClient.create({ userId: "not a number", direct: { url } }).catch((e: unknown) => {
    if (isChatError(e)) badOptions = e.code;
  });
  // Then online: the text goes out through the broker.
  const status = client.status();
  client.connect();
  const settled: ChatMessage = await within(10_000, handle.done, "ChatClient send");
  const statusAfter = client.status();
  offMessage();
  void memoryKv;
  return {
    conversation,
    status,
    settled: settled.status,
    statusAfter,
    mqtt: await mqttRoundTrip(broker),
    sendingStatus: sending.status,
    mine: sending.mine,
    pageTexts: page.map((m) => m.text),
    conversations: client.conversations().map((c) => c.id),
    unreadTotal: client.unreadTotal(),
    badEvent,
    badOptions,
    seen,
  };
}

declare global {
  interface Window {
    __imcoreResult?: Record<string, unknown>;
  }
}

main().then(
  (result) => {
    window.__imcoreResult = result;
  },
  (e: unknown) => {
    window.__imcoreResult = { failed: String(e instanceof Error ? e.stack : e) };
  },
);

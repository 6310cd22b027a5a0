// Types of the mini-program entry (index.js); the client types live in ../imcore.d.ts
// (ChatClient) and ../mqtt/imcore.d.ts (MqttClient).
import type {
  ChatClient,
  ChatClientOptions,
  FetchLike,
  KeyValueStore,
  TransportFactory,
} from "../imcore";

export { ChatClient } from "../imcore";
// The same class (same source, same types) as the MQTT-only entry's.
export { MqttClient } from "../mqtt/imcore";

/** What `loadImcore` resolves with: the module's classes and this entry's helpers. */
export type Imcore = typeof import("./index");

/** Instantiates the module once with `WXWebAssembly` (default path
 * `/miniprogram_npm/imcore/imcore_bg.wasm.br`); later calls return the same promise. */
export function loadImcore(options?: { wasmPath?: string }): Promise<Imcore>;

/** `ChatClient.create` with `transport: wxTransport`, `storage: wxKeyValueStore()` and
 * (backend mode) `fetch: wxFetch` filled in; `wasmPath` as for `loadImcore`. */
export function createChatClient(options: ChatClientOptions & { wasmPath?: string }): Promise<ChatClient>;

/** Calls `client.wake()` on every `wx.onAppShow`; returns a function that stops it. */
export function wakeOnAppShow(client: { wake(): void }): () => void;

/** A `TransportFactory` on `wx.connectSocket`; accepts ws://, wss://, wx:// and wxs:// URLs. */
export const wxTransport: TransportFactory;

/** `wxs://` -> `wss://`, `wx://` -> `ws://`; other URLs unchanged. */
export function wxSocketUrl(url: string): string;

/** A `KeyValueStore` on `wx.setStorage` & co. `prefix` goes before every key. Default limits:
 * 768 KB per value and 7 MB in all (wx allows 1 MB and 10 MB, measured on its own encoding). */
export function wxKeyValueStore(
  prefix?: string,
  limits?: { maxValueBytes?: number; maxTotalBytes?: number },
): KeyValueStore & { maxValueBytes: number; maxTotalBytes: number };

/** A `FetchLike` on `wx.request`. */
export const wxFetch: FetchLike;

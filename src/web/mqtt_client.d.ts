// Types of the MQTT-only entry `imcore/mqtt` (mqtt_client.js, shipped as mqtt/imcore.js) and
// of the mini-program's MqttClient. The transport and credential types are ChatClient's too:
// they live with it in ../imcore.d.ts (src/web/client/mod.rs) and are re-exported here.
import type {
  MqttCredentials,
  MqttReconnectOptions,
  MqttTransport,
  TransportFactory,
} from "../imcore.js";

export type { MqttCredentials, MqttReconnectOptions, MqttTransport, TransportFactory };

/** What `init` loads the module from: its URL (or a request for it), a response, its bytes or the compiled module. */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;
/** What `initSync` loads the module from: its bytes or the compiled module. */
export type SyncInitInput = BufferSource | WebAssembly.Module;
/** The module's raw exports, for this file's class only: not an API. */
export type InitOutput = WebAssembly.Exports;

/**
 * Loads the module, once: from `imcore_bg.wasm` beside this file (through `fetch`) unless
 * told otherwise. Call it, and wait, before the first `new MqttClient`. A second call
 * resolves at once.
 */
export default function init(
  module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>,
): Promise<InitOutput>;

/** Loads the module at once from its bytes or the compiled module (Node, workers), once. */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/** Connection status, as a UI shows it. */
export type Status =
  | "idle" | "fetching-config" | "connecting" | "connected" | "reconnecting" | "offline";

/** MQTT quality of service. */
export type QoS = 0 | 1 | 2;

/** The last will, published by the broker if the connection drops without DISCONNECT. */
export interface MqttWill {
  topic: string;
  payload: string | Uint8Array;
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
}

export interface MqttClientOptions {
  /**
   * Broker WebSocket URL, e.g. "wss://example.com/mqtt", or several (the nodes of a
   * cluster): each attempt after a refused or lost connection goes to the next one, with
   * the same backoff; the persistent session and the offline queue carry over.
   */
  url: string | string[];
  clientId: string;
  /**
   * 4 = MQTT 3.1.1 (default), 5 = MQTT 5.0. A broker that refuses 5.0 (CONNACK
   * "unsupported protocol version", or a socket closed after CONNECT) makes the client fall
   * back to 3.1.1 once, for good, with an `error` event of code `PROTOCOL_FALLBACK`.
   */
  protocolVersion?: 4 | 5;
  /** Seconds; default 60; 0 turns keepalive off. */
  keepAlive?: number;
  /** Clean session / clean start; default false (a persistent session). */
  clean?: boolean;
  username?: string;
  password?: string;
  /**
   * Called before every connection attempt (the chat backend issues a fresh password each
   * time); fields it leaves out fall back to `username` / `password`.
   */
  credentials?: () => Promise<MqttCredentials>;
  will?: MqttWill;
  reconnect?: MqttReconnectOptions;
  /** Publishes accepted but not yet written, at most; default 1000. */
  offlineQueueLimit?: number;
  /** Default: the browser `WebSocket` with subprotocol "mqtt". */
  transport?: TransportFactory;
}

/** An application message received on a subscription. */
export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
}

export interface MqttConnectInfo {
  sessionPresent: boolean;
  /** The broker this connection went to (one of `MqttClientOptions.url`). */
  url: string;
}

export interface MqttDisconnectInfo {
  /** Why the connection (or the attempt) ended. */
  reason: string;
  /** When the next attempt starts, in ms since the epoch like `Date.now()`; null if none. */
  reconnectAt: number | null;
}

/** Stable error codes (of thrown / rejected `MqttError`s and of `error` events). */
export type MqttErrorCode =
  | "INVALID_OPTIONS" | "INVALID_ARGUMENT" | "INVALID_TOPIC" | "INVALID_FILTER"
  | "INVALID_QOS" | "INVALID_PAYLOAD" | "QUEUE_FULL" | "PACKET_TOO_LARGE" | "ENCODE_FAILED"
  | "PACKET_IDS_EXHAUSTED" | "PUBLISH_REFUSED" | "UNSUBSCRIBE_REFUSED" | "DISCONNECTED"
  | "CONNECT_REFUSED" | "CREDENTIALS" | "PROTOCOL" | "PROTOCOL_FALLBACK" | "TRANSPORT"
  | "NOT_LOADED";

/** What the constructor throws and the promises reject with. */
export interface MqttError extends Error {
  name: "MqttError";
  code: MqttErrorCode;
}

/** The payload of an `error` event: a failure not tied to a promise. */
export interface MqttErrorInfo {
  code: MqttErrorCode;
  message: string;
}

/** Event names and the value each listener receives. */
export interface MqttClientEventMap {
  status: Status;
  message: MqttMessage;
  connect: MqttConnectInfo;
  disconnect: MqttDisconnectInfo;
  error: MqttErrorInfo;
}

/**
 * An MQTT client over WebSocket (or a transport of your own), driven by imcore's session.
 *
 * Create it, add listeners with `on`, then `connect()`. It reconnects by itself (with
 * backoff; at once when the browser comes back online or the page becomes visible), keeps
 * publishes made while offline (up to `offlineQueueLimit`) and renews subscriptions the
 * broker lost. It runs until `free()`: its timer, socket and window listeners hold it.
 */
export class MqttClient {
  /**
   * Checks the options (throws an `MqttError` with code `INVALID_OPTIONS` naming the bad
   * field; `NOT_LOADED` before `init()` has loaded the module; `PACKET_TOO_LARGE` for a
   * will the module's memory cannot hold); does not connect yet.
   */
  constructor(options: MqttClientOptions);
  /** Starts connecting (from `idle` or `offline`); does nothing if already under way. */
  connect(): void;
  /**
   * Ends the connection (DISCONNECT, so no last will) and stays `idle` until `connect()`.
   * Publishes not yet acknowledged are kept for then (their promises stay pending).
   */
  disconnect(): void;
  /**
   * Reconnects at once if waiting to reconnect, or checks a connection that may have died
   * unnoticed (an immediate PINGREQ). Called by itself on the browser's `online` event and
   * when the page becomes visible; hosts without those (a mini-program) call it from their
   * own signal, such as `wx.onAppShow`.
   */
  wake(): void;
  /** The connection status. */
  readonly status: Status;
  /**
   * Subscribes to `filter` at `qos` (default 0). Resolves with the broker's answer: the
   * granted QoS, or a reason code of 0x80 or more if refused. Renewed by itself whenever
   * the broker lost the session.
   */
  subscribe(filter: string, qos?: QoS): Promise<number[]>;
  /** Unsubscribes from `filter`. Rejects with `UNSUBSCRIBE_REFUSED` if an MQTT 5 broker refuses. */
  unsubscribe(filter: string): Promise<void>;
  /**
   * Publishes `payload` (a string is sent as UTF-8) on `topic` at `qos` (default 0).
   * Resolves when done: QoS 0 when written, QoS 1 on PUBACK, QoS 2 on PUBCOMP; while
   * offline it waits in the queue. Rejects with `PUBLISH_REFUSED` (the broker refused),
   * `QUEUE_FULL`, `INVALID_TOPIC`, `INVALID_PAYLOAD`, `INVALID_QOS` or `PACKET_TOO_LARGE`.
   */
  publish(topic: string, payload: string | Uint8Array, qos?: QoS, retain?: boolean): Promise<void>;
  on(event: "status", cb: (status: Status) => void): void;
  on(event: "message", cb: (message: MqttMessage) => void): void;
  on(event: "connect", cb: (info: MqttConnectInfo) => void): void;
  on(event: "disconnect", cb: (info: MqttDisconnectInfo) => void): void;
  on(event: "error", cb: (error: MqttErrorInfo) => void): void;
  /** Removes a listener added with `on` (the same function). */
  off<K extends keyof MqttClientEventMap>(
    event: K,
    cb: (value: MqttClientEventMap[K]) => void,
  ): void;
  /**
   * Stops for good: DISCONNECT if connected (so no last will), the transport closed,
   * listeners removed, pending promises rejected with `DISCONNECTED`.
   */
  free(): void;
  [Symbol.dispose](): void;
}

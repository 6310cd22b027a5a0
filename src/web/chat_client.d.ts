/* ---- ChatClient: the chat product behind one object ------------------------------------ */

/** Console verbosity of the client; default "silent" (nothing is printed). */
export type LogLevel = "silent" | "error" | "warn" | "info" | "debug";

/** Connection status names of the chat client. */
export type ChatStatus =
  | "idle"
  | "fetching-config"
  | "connecting"
  | "connected"
  | "reconnecting"
  | "offline"
  | "closed";

/** The seed's numeric status codes: 0 not connected, 1 config fetched, 10 connected, 20 offline. */
export type StatusCode = 0 | 1 | 10 | 20;

/**
 * Whether this tab holds the user's connection ("leader") or is served by the tab that
 * does ("follower"). In a browser every tab of a user shares one connection: one tab,
 * elected with the Web Locks API, holds it and writes local history; the others send their
 * calls to it over a `BroadcastChannel` and get its events. When the leader tab closes,
 * another takes over.
 */
export type ChatRole = "leader" | "follower";

/** What `status` listeners receive. */
export interface StatusEvent {
  status: ChatStatus;
  code: StatusCode;
  /** This tab's role; a new `status` event follows when it changes. */
  role: ChatRole;
}

/** Where a message stands. */
export type MessageStatus = "sending" | "sent" | "failed" | "revoked";

/** What a message holds. */
export type MessageKind = "text" | "image" | "video" | "system" | "custom";

/** A message as the UI shows it. Ids are decimal strings (64-bit safe). */
export interface ChatMessage {
  /** Stable UI key: the local id while sending, kept after the server id arrives. */
  key: string;
  /** The server id; null until the server (or, in direct mode, the broker) has it. */
  id: string | null;
  /** The id this client generated when sending; null for messages from elsewhere. */
  localId: string | null;
  conversationId: string;
  senderId: string;
  /** The peer of a 1:1 message, or the room id. */
  receiverId: string;
  kind: MessageKind;
  /** The wire `msg_type` (1 text, 2 image, 3 video, 7 system, other: custom). */
  msgType: number;
  /** Text of a text or system message; null otherwise and once revoked. */
  text: string | null;
  /** Image / video URL; null otherwise and once revoked. */
  url: string | null;
  /** Image / video cover URL, when given. */
  cover: string | null;
  /** Raw `msg_content` JSON of a custom message. */
  raw: string | null;
  /** Calibrated Unix ms of the send: the order of the conversation. */
  weight: number;
  status: MessageStatus;
  /** Sent by this user. */
  mine: boolean;
  /** Mine and read by the peer (in a room: by at least one other member). */
  read: boolean;
  revoked: boolean;
  senderName: string | null;
  senderAvatar: string | null;
  /**
   * Mine in a room: the other members who have read it (user ids, ascending); its length is
   * the read count. Empty for everything else.
   */
  readBy: string[];
}

/** A conversation as the list shows it. */
export interface ChatConversation {
  /** "1_2" for a 1:1 chat, "room_7" for a room. */
  id: string;
  kind: "direct" | "room";
  /** The other user of a 1:1 chat, or the room id. */
  peerId: string;
  lastMessage: ChatMessage | null;
  /** Weight of the newest message, or when the conversation was created. */
  lastActivity: number;
  unread: number;
  /** Room members, when known. */
  members: string[];
}

/** `messageUpdated` / `message` payload: where in the conversation the message sits. */
export interface MessageEvent {
  conversationId: string;
  /** Index in the loaded part of the conversation, ascending weight order. */
  index: number;
  message: ChatMessage;
}

/** `messageRemoved` payload. */
export interface MessageRemovedEvent {
  conversationId: string;
  index: number;
  /** The removed message's `key`. */
  key: string;
}

/** `revoke` payload: a message was revoked (by me or by its sender). */
export interface RevokeEvent {
  conversationId: string;
  id: string;
}

/**
 * `read` payload: `readerId` read my messages of a conversation up to `upToWeight` (the
 * peer of a 1:1 chat, or a member of a room).
 */
export interface ReadEvent {
  conversationId: string;
  readerId: string;
  upToWeight: number;
}

/** `presence` payload: a contact's retained presence changed. */
export interface PresenceEvent {
  userId: string;
  online: boolean;
}

/** Stable error codes of the chat client. */
export type ChatErrorCode =
  | "invalid-options"
  | "invalid-argument"
  | "not-connected"
  | "closed"
  | "in-use"
  | "http"
  | "backend"
  | "payload"
  | "mqtt"
  | "storage"
  | "revoke-expired"
  | "not-found"
  | "self-message";

/** What `error` listeners receive, and what rejected promises reject with (an `Error`). */
export interface ChatError extends Error {
  name: "ChatError";
  code: ChatErrorCode;
  /** The backend's non-zero `code`, for code "backend". */
  backendCode?: number;
}

/** Event names and what their listeners receive. */
export interface ChatEventMap {
  status: StatusEvent;
  /** A message was inserted into a loaded conversation (new, from history, or mine). */
  message: MessageEvent;
  messageUpdated: MessageEvent;
  messageRemoved: MessageRemovedEvent;
  /**
   * The whole conversation list, most recent first, after any change: once per task at
   * most (after the task's other events), and during a burst (a backlog) at most every
   * 16 ms, the list as it is then.
   */
  conversations: ChatConversation[];
  unreadTotal: number;
  revoke: RevokeEvent;
  read: ReadEvent;
  presence: PresenceEvent;
  error: ChatError;
}

export type ChatEventName = keyof ChatEventMap;

/**
 * A key-value store the client persists into when there is no IndexedDB (the WeChat
 * mini-program's `wx.setStorage`). Values are strings; each call may return a promise.
 * `maxValueBytes` / `maxTotalBytes` are the limits the client stays within (UTF-8 bytes).
 */
export interface KeyValueStore {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
  /** Every key this store holds (the client only reads its own prefix). */
  keys(): string[] | Promise<string[]>;
  maxValueBytes?: number;
  maxTotalBytes?: number;
}

/**
 * Where local history lives; default "indexeddb" (memory when IndexedDB is unavailable). Each
 * build carries only its own backend beside memory: the web build (`imcore`) "indexeddb", the
 * mini-program build (`imcore/miniprogram`) a KeyValueStore, and defaults to memory there (its
 * `createChatClient` passes `wxKeyValueStore()`). Naming the other build's backend is a
 * ChatError with code "invalid-options" saying which build has it.
 */
export type StorageOption = "indexeddb" | "memory" | KeyValueStore;

/** A `fetch`-compatible function (the mini-program glue passes one built on `wx.request`). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; text(): Promise<string> }>;

/** Backend mode: the HTTP contract of PROTOCOL.md. */
export interface BackendOptions {
  /** Base URL, e.g. "https://chat.example.com/api" (no trailing slash needed). */
  baseUrl: string;
  /** Bearer token, or a function returning one (called before every request). */
  token?: string | (() => string | Promise<string>);
  /** Default: the global `fetch`. */
  fetch?: FetchLike;
  /**
   * The broker URL, or the URLs of a cluster's nodes; default conn-config's `urls` when it
   * names several, else built from its `server` and `port` as `ws://server:port/mqtt`
   * (`wss://` when the page is https). Each attempt after a refused or lost connection
   * goes to the next one.
   */
  mqttUrl?: string | string[];
}

/** Direct mode: straight to the broker, no backend. */
export interface DirectOptions {
  /**
   * Broker WebSocket URL ("ws://", "wss://", or "wxs://" in a mini-program), or the URLs
   * of a cluster's nodes: each attempt after a refused or lost connection goes to the next
   * one (with the reconnect backoff); the persistent session and the outbox carry over.
   */
  url: string | string[];
  username?: string;
  password?: string;
  /** Called before every connection attempt; its fields override username / password. */
  credentials?: () => Promise<MqttCredentials>;
  /** Default `chat_{userId}`. */
  clientId?: string;
  /** Default `["chat_{userId}"]`; joined rooms are added. */
  topics?: string[];
}

export interface ChatClientOptions {
  /** This user's id (decimal string). */
  userId: string;
  /** Exactly one of `backend` and `direct`. */
  backend?: BackendOptions;
  direct?: DirectOptions;
  /**
   * 4 = MQTT 3.1.1 (default), 5 = MQTT 5.0. A broker that refuses 5.0 makes the client
   * fall back to 3.1.1 once, for good, with an `error` event (code "mqtt") saying so.
   */
  protocolVersion?: 4 | 5;
  /** Seconds; default 60. */
  keepAlive?: number;
  reconnect?: MqttReconnectOptions;
  /** Default: the browser `WebSocket`. The mini-program glue passes `wx.connectSocket`. */
  transport?: TransportFactory;
  /** Payload encoding on MQTT; default "json". */
  payloadFormat?: "json" | "protobuf";
  storage?: StorageOption;
  /** Publish my presence and watch `contacts`; default true. */
  presence?: boolean;
  /** User ids whose presence to watch. */
  contacts?: string[];
  /** Messages per page loaded from storage or the backend; default 30. */
  pageSize?: number;
  /** My display name and avatar, sent with my messages in direct mode. */
  nickName?: string;
  avatar?: string;
  logLevel?: LogLevel;
}

/** Content of `send`. */
export type OutgoingContent =
  | { kind: "text"; text: string }
  | { kind: "image"; url: string; cover?: string }
  | { kind: "video"; url: string; cover?: string };

/** A message being sent: the local copy at once, and when it is settled. */
export interface SendHandle {
  /** The local copy, status "sending", already in the conversation. */
  message: ChatMessage;
  /** Resolves with the sent message (status "sent") or the failed one (status "failed"). */
  done: Promise<ChatMessage>;
}

/** `messages()` paging. */
export interface PageOptions {
  /** The `key` of the oldest message the caller has; omitted: the newest page. */
  before?: string;
  /** Default `pageSize`. */
  limit?: number;
}

/*
 * The class `ChatClient` (generated) has these methods; `on` / `off` are declared here by
 * interface merging because they are generic over the event name.
 *
 *   static create(options: ChatClientOptions): Promise<ChatClient>   // opens storage, loads local history; no network
 *   connect(): void                                  // starts the session (backend: conn-config first; after
 *                                                    // each connect, GET /conversations fills in what is missing)
 *   disconnect(): Promise<void>                      // clean DISCONNECT; presence goes offline
 *   wake(): void                                     // reconnect now (wx.onAppShow); automatic on online / visible
 *   logout(): Promise<void>                          // disconnect and wipe local data
 *   status(): ChatStatus
 *   sendText(conversationId: string, text: string): SendHandle
 *   sendImage(conversationId: string, url: string, cover?: string): SendHandle
 *   sendVideo(conversationId: string, url: string, cover?: string): SendHandle
 *   resend(key: string): SendHandle                  // a failed message of mine, by its key
 *   revoke(key: string): Promise<void>               // rejects "revoke-expired" after 2 minutes
 *   markRead(conversationId: string): Promise<void>
 *   openConversation(conversationId: string): void   // unread stays 0 while open
 *   closeConversation(): void
 *   conversations(): ChatConversation[]              // most recent first
 *   unreadTotal(): number
 *   loadedMessages(conversationId: string): ChatMessage[]             // what is in memory, ascending
 *   messages(conversationId: string, options?: PageOptions): Promise<ChatMessage[]>
 *                                                    // one page, ascending: local first, the backend when local runs out
 *   joinRoom(roomId: string): Promise<void>
 *   leaveRoom(roomId: string): Promise<void>
 *   deleteMessage(key: string): Promise<void>        // local only
 *   deleteConversation(conversationId: string): Promise<void>  // local only
 *   clockOffset(): number | undefined                // local - server, ms; undefined until calibrated
 *   static conversationIdOf(userA: string, userB: string): string      // "1_2"
 */
export interface ChatClient {
  /** Adds a listener; returns a function that removes it. */
  on<K extends ChatEventName>(event: K, listener: (payload: ChatEventMap[K]) => void): () => void;
  /** Removes a listener added with `on`. */
  off<K extends ChatEventName>(event: K, listener: (payload: ChatEventMap[K]) => void): void;
}
